"""Exactly once, whatever the fetch pattern: the poller against a small reference model.

Records fall exactly on window edges (a poll's time, ``poll time - overlap``, the seam of
two ``max_window`` windows) or anywhere, and show up to ``overlap`` late, which reorders
one agent's records. Answers may be too large for the reader, which then reads their
window again in smaller pieces. The reference reads what each request of the poller saw, applies
each record the first time a request shows it, by the documented session rules, and
keeps the logged-in seconds as the running maximum of their exact figure; it shares no
code with the exporter's dedup or sessions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from unittest import mock

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logio_fake import FakeLogio

from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.logio import LogioClient
from exporter.poller import Poller
from exporter.reader import ANSWER_BYTES
from exporter.state import WorkspaceState

T0 = 1_700_000_000
OVERLAP = 600
BOUNDS = (60.0, 3600.0)


@dataclass
class Agent:
    start: int | None = None
    logins: int = 0
    logouts: int = 0
    closed: float = 0.0
    peak: float = 0.0
    """The most that was reportable before the latest record."""
    last_login: int | None = None
    last_logout: int | None = None
    last_record: int = 0


@dataclass
class Reference:
    """The session rules of the README, once counting started at ``since``."""

    since: int
    as_of: int
    agents: dict[str, Agent] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=lambda: {"login": 0, "logout": 0})
    anomalies: dict[str, int] = field(
        default_factory=lambda: {"logout_without_login": 0, "login_while_logged_in": 0}
    )
    durations: list[int] = field(default_factory=list)

    def exact(self, agent: Agent) -> float:
        open_part = 0 if agent.start is None else max(0, self.as_of - max(agent.start, self.since))
        return agent.closed + open_part

    def seconds(self, agent: Agent) -> float:
        return max(agent.peak, self.exact(agent))

    def apply(self, name: str, timestamp: int, action: str) -> None:
        agent = self.agents.setdefault(name, Agent())
        agent.peak = self.seconds(agent)
        agent.last_record = max(agent.last_record, timestamp)
        if action == LOGIN:
            agent.logins += 1
            self.records["login"] += 1
            agent.last_login = max(timestamp, agent.last_login or 0)
            if agent.start is None:
                agent.start = timestamp
            else:
                self.anomalies["login_while_logged_in"] += 1
            return
        agent.logouts += 1
        self.records["logout"] += 1
        agent.last_logout = max(timestamp, agent.last_logout or 0)
        if agent.start is None:
            self.anomalies["logout_without_login"] += 1
            return
        self.durations.append(max(0, timestamp - agent.start))
        agent.closed += max(0, timestamp - max(agent.start, self.since))
        agent.start = None

    def cumulative(self) -> list[tuple[str, int]]:
        counts = [sum(d <= bound for d in self.durations) for bound in BOUNDS]
        return [*zip(map(str, BOUNDS), counts, strict=True), ("+Inf", len(self.durations))]


@dataclass(frozen=True)
class Case:
    polls: list[int]
    """The times of the polls after the first, at ``T0``."""
    entries: list[tuple[Record, int]]
    """Each record and when it becomes visible, in the order they were written, which is
    the order the API lists records of the same second in."""
    max_window: int
    answer_bytes: int = ANSWER_BYTES
    """Answers larger than this are read again in pieces: 100 bytes are four CSV rows."""


@st.composite
def cases(draw: st.DrawFn) -> Case:
    gaps = draw(st.lists(st.integers(1, 1500), min_size=1, max_size=30))
    polls = [T0 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    max_window = draw(st.integers(60, 3000))
    edges = (0, -OVERLAP, max_window - OVERLAP)
    entries = []
    for _ in range(draw(st.integers(0, 50))):
        anchor = draw(st.sampled_from(polls))
        offset = draw(st.one_of(st.sampled_from(edges), st.integers(-1500, 1500)))
        timestamp = max(T0 + 1, anchor + offset)
        late = draw(st.one_of(st.sampled_from((0, OVERLAP)), st.integers(0, OVERLAP)))
        record = Record(
            draw(st.sampled_from(["ann", "bob", "c d"])),
            timestamp,
            draw(st.sampled_from([LOGIN, LOGOUT])),
        )
        entries.append((record, timestamp + late))
    answer_bytes = draw(st.sampled_from([ANSWER_BYTES, 300, 100]))
    return Case(polls, sorted(entries, key=lambda entry: entry[1]), max_window, answer_bytes)


def run(case: Case, fmt: str) -> tuple[WorkspaceState, list[tuple[int, list[tuple[int, int]]]]]:
    """Poll at ``T0``, at each time of ``case`` and once every record is visible; the
    state, and the windows each poll asked for with the API's clock at that poll."""
    api = FakeLogio(now=T0)
    for record, visible in case.entries:
        api.add(record, visible)
    workspace = WorkspaceConfig(
        "demo",
        "https://cention.test",
        Secret("tok"),
        fmt,
        insecure_skip_verify=True,  # type: ignore[arg-type]
    )
    poll = PollConfig(interval=30, overlap=OVERLAP, lookback=3600, max_window=case.max_window)
    state = WorkspaceState("demo", BOUNDS)
    client = LogioClient(
        workspace, timeout=5, max_response_bytes=1 << 20, transport=httpx.MockTransport(api.handler)
    )
    poller = Poller(
        workspace, poll, MetricsConfig(), state, client, clock=api.clock, rng=random.Random(1)
    )
    last = max([case.polls[-1], *(visible for _, visible in case.entries)]) + 1
    reads = []
    with mock.patch("exporter.reader.ANSWER_BYTES", case.answer_bytes):
        for now in [T0, *case.polls, last]:
            api.now, asked = now, len(api.requests)
            assert poller.poll_once() == 30
            reads.append((now, api.windows()[asked:]))
    client.close()
    return state, reads


def replay(case: Case, reads: list[tuple[int, list[tuple[int, int]]]]) -> Reference:
    """Each record applied the first time a request shows it, in the API's order; the
    clock of open sessions moves on to the end of each window, never back. A request
    followed by one from the same second was an answer too large, read again in pieces."""
    reference = Reference(since=T0, as_of=T0)
    applied: set[int] = set()
    for now, windows in reads[1:]:
        for (frm, to), following in zip(windows, [*windows[1:], None], strict=True):
            if following is not None and following[0] == frm:
                continue
            shown = [
                (record.timestamp, index)
                for index, (record, visible) in enumerate(case.entries)
                if frm <= record.timestamp <= to and visible <= now and index not in applied
            ]
            for _, index in sorted(shown):
                reference.apply(*case.entries[index][0])
                applied.add(index)
            reference.as_of = max(reference.as_of, to)
    assert len(applied) == len(case.entries)  # every record was shown to some request
    return reference


class TestExactlyOnce:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases(), fmt=st.sampled_from(["csv", "json"]))
    def test_counts_and_seconds_equal_the_reference(self, case: Case, fmt: str) -> None:
        """Every counter, every open session and every agent's logged-in seconds equal
        the reference's, whatever the windows, edges and lateness."""
        state, reads = run(case, fmt)
        reference = replay(case, reads)
        got = state.sessions
        assert got.records_total == reference.records
        assert got.anomalies == reference.anomalies
        assert got.durations.cumulative() == reference.cumulative()
        assert got.durations.sum == sum(reference.durations)
        assert {
            name: (
                a.session_start,
                a.logins,
                a.logouts,
                a.closed_seconds,
                got.logged_in_seconds(a),
                a.last_login,
                a.last_logout,
                a.last_record,
            )
            for name, a in got.agents.items()
        } == {
            name: (
                a.start,
                a.logins,
                a.logouts,
                a.closed,
                reference.seconds(a),
                a.last_login,
                a.last_logout,
                a.last_record,
            )
            for name, a in reference.agents.items()
        }
        assert got.logged_in_count == sum(a.start is not None for a in reference.agents.values())

    def test_a_record_on_the_reread_edge_counts_once(self) -> None:
        """A Login stamped exactly ``overlap`` before the second poll's end, visible at
        once, is read by the second and the third poll and counted once."""
        login = Record("ann", T0 + 700 - OVERLAP, LOGIN)
        case = Case([T0 + 700, T0 + 730], [(login, login.timestamp)], 86400)
        state, reads = run(case, "csv")
        assert [windows for _, windows in reads[1:]] == [
            [(T0 - OVERLAP, T0 + 700)],
            [(T0 + 700 - OVERLAP, T0 + 730)],
            [(T0 + 730 - OVERLAP, T0 + 731)],
        ]
        assert state.sessions.records_total == {"login": 1, "logout": 0}
        assert state.sessions.logged_in_seconds(state.sessions.agents["ann"]) == 631
