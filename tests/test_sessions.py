"""The session rules of the core issue, one by example each."""

from __future__ import annotations

import pytest

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.sessions import Histogram, Sessions

BUCKETS = (60.0, 300.0, 3600.0)


def r(name: str, ts: int, action: str) -> Record:
    return Record(name, ts, action)


@pytest.fixture(name="live")
def _live() -> Sessions:
    """Sessions past the initial lookback, counting from t=1000."""
    sessions = Sessions(BUCKETS)
    sessions.start_counting(1000)
    return sessions


class TestRules:
    def test_login_opens_session(self, live: Sessions) -> None:
        """A login while logged out opens a session at its timestamp."""
        live.apply([r("joe", 1010, LOGIN)])
        agent = live.agents["joe"]
        assert (agent.session_start, agent.logins, live.logged_in_count) == (1010, 1, 1)
        assert live.records_total == {"login": 1, "logout": 0}

    def test_login_while_logged_in_keeps_start(self, live: Sessions) -> None:
        """A second login is counted and an anomaly, and the session start stays."""
        live.apply([r("joe", 1010, LOGIN), r("joe", 1020, LOGIN)])
        agent = live.agents["joe"]
        assert (agent.session_start, agent.logins, agent.last_login) == (1010, 2, 1020)
        assert live.anomalies == {"logout_without_login": 0, "login_while_logged_in": 1}
        assert live.logged_in_count == 1

    def test_logout_closes_and_observes(self, live: Sessions) -> None:
        """A logout while logged in closes the session and observes its duration."""
        live.apply([r("joe", 1010, LOGIN), r("joe", 1130, LOGOUT)])
        agent = live.agents["joe"]
        assert (agent.session_start, agent.logouts, agent.last_logout) == (None, 1, 1130)
        assert live.durations.cumulative() == [
            ("60.0", 0),
            ("300.0", 1),
            ("3600.0", 1),
            ("+Inf", 1),
        ]
        assert (live.durations.sum, live.durations.count) == (120.0, 1)
        assert live.logged_in_count == 0

    def test_logout_while_logged_out_is_anomaly(self, live: Sessions) -> None:
        """A logout of an unknown agent counts, is an anomaly, and observes nothing."""
        live.apply([r("joe", 1010, LOGOUT)])
        assert live.agents["joe"].logouts == 1
        assert live.anomalies == {"logout_without_login": 1, "login_while_logged_in": 0}
        assert live.durations.count == 0

    def test_first_lookback_logout_is_not_anomaly(self) -> None:
        """An agent's first record of a window being a logout means the session began before."""
        backfill = Sessions(BUCKETS)
        backfill.start_counting(0, close_window=False)
        backfill.apply([r("joe", 10, LOGOUT), r("joe", 20, LOGOUT)])
        assert backfill.anomalies == {"logout_without_login": 1, "login_while_logged_in": 0}
        assert backfill.agents["joe"].logouts == 2

    def test_lookback_is_not_counted(self) -> None:
        """Records before counting starts rebuild who is logged in and count nothing."""
        sessions = Sessions(BUCKETS)
        sessions.apply(
            [
                r("a", 10, LOGIN),
                r("b", 20, LOGIN),
                r("b", 30, LOGOUT),
                r("c", 40, LOGOUT),
                r("a", 50, LOGIN),
            ]
        )
        sessions.start_counting(100)
        assert sessions.logged_in_count == 1
        assert sessions.agents["a"].session_start == 10
        assert (sessions.agents["a"].logins, sessions.agents["b"].logouts) == (0, 0)
        assert sessions.records_total == {"login": 0, "logout": 0}
        assert sessions.anomalies == {"logout_without_login": 0, "login_while_logged_in": 0}
        assert sessions.durations.count == 0
        assert sessions.agents["b"].last_logout == 30

    def test_session_across_counting_start_observes_whole_length(self) -> None:
        """A session opened in the lookback and closed later observes its full length."""
        sessions = Sessions(BUCKETS)
        sessions.apply([r("a", 900, LOGIN)])
        sessions.start_counting(1000)
        sessions.apply([r("a", 1100, LOGOUT)])
        assert (sessions.durations.sum, sessions.durations.count) == (200.0, 1)
        assert sessions.logged_in_seconds(sessions.agents["a"]) == 100.0


class TestLoggedInSeconds:
    def test_open_session_accrues_to_as_of(self, live: Sessions) -> None:
        """An open session counts the seconds up to the last poll, not more."""
        live.apply([r("joe", 1100, LOGIN)])
        live.advance(1400)
        assert live.logged_in_seconds(live.agents["joe"]) == 300.0

    def test_closed_sessions_add_up(self, live: Sessions) -> None:
        """Completed sessions add their counted length."""
        live.apply(
            [
                r("joe", 1100, LOGIN),
                r("joe", 1200, LOGOUT),
                r("joe", 1300, LOGIN),
                r("joe", 1350, LOGOUT),
            ]
        )
        live.advance(2000)
        assert live.logged_in_seconds(live.agents["joe"]) == 150.0

    def test_late_logout_never_decreases(self, live: Sessions) -> None:
        """A late logout revealing an earlier end stalls the counter instead of lowering it."""
        live.apply([r("joe", 1100, LOGIN)])
        live.advance(1500)
        assert live.logged_in_seconds(live.agents["joe"]) == 400.0
        live.apply([r("joe", 1200, LOGOUT)])
        live.advance(1600)
        assert live.logged_in_seconds(live.agents["joe"]) == 400.0
        live.apply([r("joe", 1600, LOGIN)])
        live.advance(2000)
        assert live.logged_in_seconds(live.agents["joe"]) == 500.0


class TestForget:
    def test_idle_agents_are_dropped(self, live: Sessions) -> None:
        """Agents without a record since the cut-off go, with their logged-in count."""
        live.apply([r("old", 1010, LOGIN), r("new", 5000, LOGIN)])
        assert live.forget(before=2000) == ["old"]
        assert list(live.agents) == ["new"]
        assert live.logged_in_count == 1


class TestChanged:
    def test_records_name_the_agents_they_touch(self, live: Sessions) -> None:
        """Counted records add their agents; taking them starts afresh."""
        live.take_changed()
        live.apply([r("ann", 1010, LOGIN), r("bob", 1020, LOGIN), r("ann", 1030, LOGOUT)])
        assert live.take_changed() == {"ann", "bob"}
        assert live.take_changed() == set()

    def test_a_forgotten_agent_leaves_them(self, live: Sessions) -> None:
        """What ``forget`` drops leaves the set too: untaken, it holds only agents known."""
        live.apply([r("ann", 1010, LOGIN), r("bob", 1020, LOGIN), r("ann", 1030, LOGOUT)])
        assert live.forget(before=1025) == ["bob"]
        assert live.changed == {"ann"}

    def test_the_initial_lookback_names_every_agent(self) -> None:
        """Before counting, a window names every agent known, touched by it or not."""
        sessions = Sessions(BUCKETS)
        sessions.apply([r("ann", 10, LOGIN)])
        sessions.take_changed()
        sessions.apply([r("bob", 20, LOGIN)])
        assert sessions.take_changed() == {"ann", "bob"}


class TestHistogram:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(60, [1, 1, 1, 1], id="on-a-bound-counts-in-it"),
            pytest.param(61, [0, 1, 1, 1], id="just-above"),
            pytest.param(10_000, [0, 0, 0, 1], id="above-all"),
        ],
    )
    def test_bucket_bounds_are_inclusive(self, value: float, expected: list[int]) -> None:
        """A value equal to a bound falls in that bucket, as Prometheus' le says."""
        hist = Histogram(BUCKETS)
        hist.observe(value)
        assert [n for _, n in hist.cumulative()] == expected
