"""WorkspaceState's transitions and Health's rules, one by example each."""

from __future__ import annotations

import pytest

from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.state import Health, Transition, WorkspaceState

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


@pytest.fixture(name="counting")
def _counting(state: WorkspaceState) -> WorkspaceState:
    """A workspace past its initial lookback, recording from here on."""
    state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
    state.poll_succeeded(1000.0)
    state.checkpoint()
    return state


class TestRecording:
    def test_nothing_is_recorded_before_a_checkpoint(self, state: WorkspaceState) -> None:
        """Without a state file that took a snapshot, no transition is kept in memory."""
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
        state.poll_succeeded(1000.0)
        state.apply_window(window([Record("ann", 1010, LOGOUT)]), 1030, 600)
        assert (state.recorded, state.take_recorded()) == (None, None)

    def test_a_window_is_recorded_as_the_rows_that_bring_something(
        self, counting: WorkspaceState
    ) -> None:
        """Re-read records are left out; a record with one new occurrence keeps all of
        them (ann's twin logout, seen once, now twice); invalid rows all stay."""
        reread = [Record("ann", 900, LOGIN), Record("ann", 990, LOGOUT)]
        counting.apply_window(window(reread, ["bad"]), 1030, 600)
        counting.take_recorded()
        rows = [
            Record("ann", 900, LOGIN),
            Record("ann", 990, LOGOUT),
            Record("ann", 990, LOGOUT),
            Record("bob", 1031, LOGIN),
        ]
        counting.apply_window(window(rows, ["bad", "worse"]), 1060, 600)
        batch = Batch(["ann", "ann", "bob"], [990, 990, 1031], [LOGOUT] * 2 + [LOGIN], [])
        batch.invalid.extend(["bad", "worse"])
        assert counting.take_recorded() == [
            Transition("apply_window", {"batch": batch, "window_end": 1060, "overlap": 600})
        ]
        assert counting.take_recorded() == []

    def test_windows_that_bring_nothing_are_kept_as_the_last(
        self, counting: WorkspaceState
    ) -> None:
        """A window with nothing new right after one that kept the same rows replaces it;
        one after a window with records, of another overlap, or ending earlier is kept
        beside."""
        nothing = Batch([], [], [], [])
        for end in (1030, 1060, 1090):
            counting.apply_window(window([Record("ann", 900, LOGIN)]), end, 600)
        counting.apply_window(window([Record("bob", 1100, LOGIN)]), 1120, 600)
        for end, overlap in ((1150, 600), (1180, 600), (1210, 300), (1200, 300)):
            counting.apply_window(window([]), end, overlap)
        new = Batch(["bob"], [1100], [LOGIN], [])
        assert [(t.args["batch"], t.args["window_end"]) for t in counting.recorded or []] == [
            (nothing, 1090),
            (new, 1120),
            (nothing, 1180),
            (nothing, 1210),
            (nothing, 1200),
        ]

    def test_a_window_of_a_new_invalid_row_replaced_still_counts_it(
        self, counting: WorkspaceState
    ) -> None:
        """A window whose only news is an invalid row is replaced by the next ones that
        re-read it; replayed alone, the last counts that row once, as live did."""
        fresh = WorkspaceState.from_dict("demo", counting.to_dict(), BUCKETS)
        for end in (1030, 1060, 1090):
            counting.apply_window(window([], ["bad"]), end, 600)
        recorded = counting.take_recorded() or []
        assert [t.args["window_end"] for t in recorded] == [1090]
        fresh.replay(recorded)
        assert fresh.health.invalid_records == counting.health.invalid_records == 1
        assert fresh.overlap.rows == {"bad": (1, 1090)}

    def test_a_window_that_brings_records_is_never_replaced(self, counting: WorkspaceState) -> None:
        """A record older than the overlap is applied and not remembered, so a window
        that returns it again applies it again: each of those windows is kept, even
        when they keep the same rows."""
        late = window([Record("cat", 300, LOGIN)])
        counting.apply_window(late, 1030, 600)
        counting.apply_window(late, 1030, 600)
        assert [t.args["batch"] for t in counting.recorded or []] == [late, late]
        assert counting.sessions.agents["cat"].logins == 2

    def test_the_initial_lookback_goes_unrecorded(self, state: WorkspaceState) -> None:
        """A window before counting starts leaves only a snapshot to tell the state."""
        state.checkpoint()
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
        state.poll_succeeded(1000.0)
        assert state.take_recorded() is None

    def test_polls_that_start_counting_or_forget_are_recorded(self, state: WorkspaceState) -> None:
        """Counting started and agents forgotten are recorded with the poll's arguments;
        a poll that changes neither is not."""
        state.apply_window(window([Record("ann", 900, LOGIN)]), 1000, 600)
        state.checkpoint()
        state.poll_succeeded(1000.0)
        state.poll_succeeded(1030.0, forget_before=100.0)
        state.poll_succeeded(5000.0, forget_before=4000.0)
        assert state.take_recorded() == [
            Transition("poll_succeeded", {"now": 1000.0, "forget_before": None}),
            Transition("poll_succeeded", {"now": 5000.0, "forget_before": 4000.0}),
        ]

    def test_a_replayed_state_is_resumed(self, counting: WorkspaceState) -> None:
        """Replaying a success leaves the workspace as read back: ready, not up, and
        no last success of this process."""
        fresh = WorkspaceState.from_dict("demo", counting.to_dict(), BUCKETS)
        fresh.replay([Transition("poll_succeeded", {"now": 2000.0, "forget_before": 0.0})])
        assert (fresh.health.up, fresh.health.ready, fresh.health.last_success) == (
            False,
            True,
            None,
        )
        assert fresh.health.reason == "resumed from the state file"
