"""Before counting starts, the rebuild loop leaves every agent as the session rules say."""

from __future__ import annotations

from dataclasses import astuple, dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.core.sessions import Sessions

BUCKETS = (60.0, 3600.0)
DAY = 86400

records = st.lists(
    st.builds(
        Record,
        st.sampled_from(["ann", "bob", "c d"]),
        # the row rule refuses a negative time; some cross the first UTC midnight
        st.integers(0, 40) | st.integers(DAY - 20, DAY + 20),
        st.sampled_from([LOGIN, LOGOUT, "other"]),
    ),
    max_size=40,
)


@dataclass
class Seen:
    session_start: int | None = None
    last_login: int | None = None
    last_logout: int | None = None
    last_record: int = 0
    day: int | None = None
    day_seconds: float = 0.0


def rules(batches: list[list[Record]]) -> tuple[object, ...]:
    """The reference, written plainly: before counting, a Login opens a session unless one
    is open, anything else closes it; the latest times move on; nothing is counted. A
    session closed adds its seconds after its UTC midnight to that day's, when the day is
    the agent's latest; a later day starts from nothing."""
    agents: dict[str, Seen] = {}
    newest = None
    for name, timestamp, action in (record for batch in batches for record in batch):
        agent = agents.setdefault(name, Seen())
        if action == LOGIN:
            agent.last_login = max(timestamp, agent.last_login or 0)
            if agent.session_start is None:
                agent.session_start = timestamp
        else:
            agent.last_logout = max(timestamp, agent.last_logout or 0)
            if agent.session_start is not None:
                midnight = timestamp // DAY * DAY
                if agent.day is None or midnight > agent.day:
                    agent.day, agent.day_seconds = midnight, 0.0
                if midnight == agent.day:
                    agent.day_seconds += max(0, timestamp - max(agent.session_start, midnight))
            agent.session_start = None
        agent.last_record = max(agent.last_record, timestamp)
        newest = timestamp if newest is None else max(newest, timestamp)
    rows = [
        (
            n,
            (
                a.session_start,
                0,
                0,
                0.0,
                0.0,
                a.last_login,
                a.last_logout,
                a.last_record,
                False,
                a.day,
                a.day_seconds,
            ),
        )
        for n, a in agents.items()
    ]
    logged_in = sum(a.session_start is not None for a in agents.values())
    zero = {"login": 0, "logout": 0}, {"logout_without_login": 0, "login_while_logged_in": 0}
    return (rows, logged_in, newest, *zero, [0] * (len(BUCKETS) + 1))


def _today_seconds(fields: tuple[object, ...], today: int, until: int) -> float:
    """Seconds logged in from ``today`` to ``until`` by the rules' figures of one agent:
    its latest day's closed seconds if that day is today, and its open session's part."""
    start, day, day_seconds = fields[0], fields[-2], fields[-1]
    seconds = float(day_seconds) if day == today else 0.0  # type: ignore[arg-type]
    if isinstance(start, int):
        seconds += max(0, until - max(start, today))
    return seconds


def state(sessions: Sessions) -> tuple[object, ...]:
    agents = [(name, astuple(agent)) for name, agent in sessions.agents.items()]
    return (
        agents,
        sessions.logged_in_count,
        sessions.last_record,
        sessions.records_total,
        sessions.anomalies,
        sessions.durations.counts,
    )


class TestRebuild:
    @settings(max_examples=400, deadline=None)
    @given(batches=st.lists(records, max_size=4))
    def test_rebuild_equals_the_rules(self, batches: list[list[Record]]) -> None:
        """Any records in any order, over several applies, end in the same state."""
        rebuilt = Sessions(BUCKETS)
        for batch in batches:
            rebuilt.apply(batch)
        assert state(rebuilt) == rules(batches)

    @settings(max_examples=300, deadline=None)
    @given(batches=st.lists(records, max_size=4), after=st.integers(0, 2 * DAY))
    def test_the_lookback_keeps_only_its_last_days_figures(
        self, batches: list[list[Record]], after: int
    ) -> None:
        """Told where the lookback ends, the rebuild skips the days before its last and
        shows the same seconds of today as one that kept every day's."""
        until = max((r.timestamp for batch in batches for r in batch), default=0) + after
        full, skipping = Sessions(BUCKETS), Sessions(BUCKETS)
        skipping.rebuild_until(until)
        for sessions in (full, skipping):
            for batch in batches:
                sessions.apply(batch)
            sessions.advance(until)
        today = full.today()
        assert today is not None
        assert skipping.today() == today == until // DAY * DAY
        assert [skipping.today_seconds(a, today) for a in skipping.agents.values()] == [
            full.today_seconds(a, today) for a in full.agents.values()
        ]

    @settings(max_examples=400, deadline=None)
    @given(batches=st.lists(records, max_size=4), after=st.integers(0, 2 * DAY))
    def test_batches_in_time_order_rebuild_as_the_rules(
        self, batches: list[list[Record]], after: int
    ) -> None:
        """Batches as the overlap gives them (each in time order, one after another or a
        later one first), applied in a lookback ending ``until``: every agent's state as
        the rules say, and the seconds of today too."""
        ordered = [sorted(batch, key=lambda r: r.timestamp) for batch in batches]
        until = max((r.timestamp for batch in batches for r in batch), default=0) + after
        rebuilt = Sessions(BUCKETS)
        rebuilt.rebuild_until(until)
        for batch in ordered:
            rebuilt.apply_batch(Batch.of(Parsed(batch, [])))
        rebuilt.advance(until)
        expected = rules(ordered)
        agents = [(name, astuple(agent)[:-2]) for name, agent in rebuilt.agents.items()]
        assert agents == [(name, fields[:-2]) for name, fields in expected[0]]  # days apart
        assert state(rebuilt)[1:] == expected[1:]
        today = until // DAY * DAY
        assert rebuilt.today() == today
        assert [rebuilt.today_seconds(a, today) for a in rebuilt.agents.values()] == [
            _today_seconds(fields, today, until) for _, fields in expected[0]
        ]

    def test_rebuild_keeps_the_first_login_of_a_session(self) -> None:
        """A Login while logged in keeps the start; a Logout then ends the session."""
        sessions = Sessions(BUCKETS)
        sessions.apply([Record("ann", 5, LOGIN), Record("ann", 9, LOGIN)])
        assert sessions.agents["ann"].session_start == 5
        sessions.apply([Record("ann", 12, LOGOUT)])
        assert sessions.agents["ann"].session_start is None
        assert sessions.logged_in_count == 0
        assert sessions.last_record == 12

    def test_counting_applies_the_rules(self) -> None:
        """Once counting, records go through the counting rules."""
        sessions = Sessions(BUCKETS)
        sessions.start_counting(0)
        sessions.apply([Record("ann", 5, LOGOUT)])
        assert sessions.anomalies["logout_without_login"] == 1
