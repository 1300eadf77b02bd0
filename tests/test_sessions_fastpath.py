"""Before counting starts, the rebuild loop leaves every agent as the counting rules would."""

from __future__ import annotations

from dataclasses import astuple

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.sessions import Sessions

BUCKETS = (60.0, 3600.0)

records = st.lists(
    st.builds(
        Record,
        st.sampled_from(["ann", "bob", "c d"]),
        st.integers(-3, 40),
        st.sampled_from([LOGIN, LOGOUT, "other"]),
    ),
    max_size=40,
)


def rules(batches: list[list[Record]]) -> Sessions:
    """The reference: each record through the per-record rules, which count nothing yet."""
    sessions = Sessions(BUCKETS)
    for batch in batches:
        sessions._apply_counted(batch)
    return sessions


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
        assert state(rebuilt) == state(rules(batches))

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
