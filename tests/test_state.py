"""WorkspaceState's transitions and Health's rules, one by example each."""

from __future__ import annotations

import pytest

from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.state import Health, WorkspaceState

BUCKETS = (60.0, 3600.0)


def window(records: list[Record], invalid: list[str] | None = None) -> Batch:
    return Batch.of(Parsed(records, invalid or []))


@pytest.fixture(name="state")
def _state() -> WorkspaceState:
    return WorkspaceState("demo", BUCKETS)


class TestApplyWindow:
    def test_a_record_exactly_overlap_before_the_end_counts_once(
        self, state: WorkspaceState
    ) -> None:
        """The next window starts at end - overlap, inclusive: a record stamped there is
        read twice and counted once; one a second earlier is not remembered, as no later
        window returns it."""
        state.apply_window(window([]), 1000, 600)
        state.poll_succeeded(1000.0)
        edge, before = Record("ann", 1400, LOGIN), Record("bob", 1399, LOGIN)
        state.apply_window(window([before, edge]), 2000, 600)
        assert state.overlap.records == {edge: 1}
        state.apply_window(window([edge]), 2030, 600)
        assert state.sessions.records_total == {"login": 2, "logout": 0}
        assert state.sessions.agents["ann"].logins == 1
        assert state.overlap.records == {}

    def test_the_watermark_and_clock_move_to_the_window_end(self, state: WorkspaceState) -> None:
        """After a window the state is known up to its end, even when it brought nothing."""
        state.apply_window(window([]), 1000, 600)
        assert (state.watermark, state.sessions.as_of) == (1000, 1000.0)

    def test_new_invalid_rows_are_counted(self, state: WorkspaceState) -> None:
        """An invalid row counts once, however often windows return it."""
        for end in (1000, 1030, 1060):
            state.apply_window(window([], ['["x", "1a", "Login"]']), end, 600)
        assert state.health.invalid_records == 1


class TestChanges:
    def test_what_changes_the_saved_state(self, state: WorkspaceState) -> None:
        """Records, invalid rows, counting started and agents forgotten each count as a
        change; a window that brings nothing new, a failure and a request do not."""
        seen = []
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
        seen.append(state.changes)
        state.poll_succeeded(1000.0)
        seen.append(state.changes)
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1030, 600)
        state.poll_succeeded(1030.0)
        state.poll_failed("server")
        state.observe_request("503", 0.1)
        seen.append(state.changes)
        state.apply_window(window([], ["bad"]), 1060, 600)
        seen.append(state.changes)
        state.apply_window(window([Record("ann", 1070, LOGOUT)]), 1090, 600)
        seen.append(state.changes)
        state.poll_succeeded(5000.0, forget_before=4000.0)
        seen.append(state.changes)
        state.poll_succeeded(5030.0, forget_before=4030.0)
        seen.append(state.changes)
        assert seen == [1, 2, 2, 3, 4, 5, 5]


class TestPollOutcomes:
    def test_the_first_success_ends_the_initial_lookback(self, state: WorkspaceState) -> None:
        """Counting starts at the watermark reached; the workspace is ready and up."""
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
        assert state.poll_succeeded(1005.0) == (True, [])
        assert state.sessions.counting_since == 1000
        assert (state.health.up, state.health.ready, state.health.reason) == (True, True, "ok")
        assert state.health.last_success == 1005.0
        assert state.sessions.records_total == {"login": 0, "logout": 0}

    def test_a_success_forgets_idle_agents(self, state: WorkspaceState) -> None:
        """Agents whose last record is before ``forget_before`` are dropped and named."""
        batch = window([Record("ann", 900, LOGIN), Record("bob", 990, LOGIN)])
        state.apply_window(batch, 1000, 600)
        assert state.poll_succeeded(1000.0, forget_before=950.0) == (True, ["ann"])
        assert (list(state.sessions.agents), state.sessions.logged_in_count) == (["bob"], 1)

    def test_a_broken_poll_takes_the_workspace_down(self, state: WorkspaceState) -> None:
        """A poll ended by a bug is down, with a reason of its own, counted nowhere."""
        state.poll_broke()
        assert (state.health.up, state.health.reason) == (
            False,
            "initial lookback failing: unexpected error",
        )
        assert sum(state.health.errors.values()) == 0


class TestHealth:
    @pytest.mark.parametrize(
        ("events", "reason"),
        [
            pytest.param([], "initial lookback not finished", id="fresh"),
            pytest.param(["timeout"], "initial lookback failing: timeout", id="lookback-failing"),
            pytest.param(["ok"], "ok", id="up"),
            pytest.param(["ok", "auth"], "auth", id="failing-once-ready"),
            pytest.param(["auth", "ok"], "ok", id="recovered"),
        ],
    )
    def test_reason(self, events: list[str], reason: str) -> None:
        """What /ready and the logs say, from the polls so far."""
        health = Health()
        for event in events:
            if event == "ok":
                health.succeeded(1.0)
            else:
                health.failed(event)
        assert health.reason == reason

    def test_a_change_of_state_is_a_new_reason_or_a_failure_after_success(self) -> None:
        """``failed`` says True for the first failure, another reason, or after a success."""
        health = Health()
        got = [health.failed(r) for r in ("auth", "auth", "server", "server")]
        health.succeeded(1.0)
        got.append(health.failed("server"))
        assert got == [True, False, True, False, True]
        assert (health.errors["auth"], health.errors["server"]) == (2, 3)
