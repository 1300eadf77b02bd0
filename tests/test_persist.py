"""The state file: exact round trip, release 0.1.0's files, atomic writes, bad files set aside."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from harness import logged

from exporter.config import DEFAULT_BUCKETS
from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.core.sessions import Agent
from exporter.persist import SCHEMA, StateFile
from exporter.state import WorkspaceState

BUCKETS = (60.0, 3600.0)
FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_767_225_600
"""The ``T0`` of ``fixtures/make_state_v1.py``."""
SET_ASIDE = "state file cannot be used; moved aside, rebuilding from the lookback"


def busy_workspace(name: str = "demo", agents: int = 3) -> WorkspaceState:
    """A workspace past its lookback with sessions, anomalies, dedup memory and invalid rows."""
    workspace = WorkspaceState(name, BUCKETS)
    sessions = workspace.sessions
    sessions.apply([Record("ann", 900, LOGIN)])
    sessions.start_counting(1000)
    records = [Record(f'agent {i}, "x" ö', 1000 + i, LOGIN) for i in range(agents)]
    records += [Record("ann", 1100, LOGOUT), Record("bob", 1200, LOGOUT)]
    workspace.apply_window(Batch.of(Parsed(records, ['["x", "1a", "Login"]'])), 1300, 600)
    return workspace


def window(*records: Record) -> Batch:
    return Batch.of(Parsed(sorted(records, key=lambda r: r.timestamp), []))


class TestRoundTrip:
    def test_saved_state_loads_back_identical(self, tmp_path: Path) -> None:
        """Every persisted field reads back exactly as it was written."""
        state_file = StateFile(tmp_path / "state.json")
        original = busy_workspace()
        state_file.save([original])
        loaded = state_file.load(BUCKETS)
        assert list(loaded) == ["demo"]
        assert loaded["demo"].to_dict() == original.to_dict()
        assert loaded["demo"].sessions.logged_in_count == 3
        assert loaded["demo"].health.ready is True
        assert loaded["demo"].health.reason == "resumed from the state file"

    def test_each_agent_is_stored_by_field_name(self, tmp_path: Path) -> None:
        """The file holds an agent as an object of its fields, under the current schema."""
        path = tmp_path / "state.json"
        StateFile(path).save([busy_workspace(agents=0)])
        saved = json.loads(path.read_text(encoding="utf-8"))
        assert saved["schema"] == SCHEMA == 2
        assert saved["workspaces"]["demo"]["sessions"]["agents"]["ann"] == {
            "session_start": None,
            "logins": 0,
            "logouts": 1,
            "closed_seconds": 100.0,
            "floor_seconds": 0.0,
            "last_login": 900,
            "last_logout": 1100,
            "last_record": 1100,
            "fresh": False,
            "day_start": 0,
            "day_closed_seconds": 200.0,
        }

    def test_a_field_missing_or_unknown_breaks_nothing(self, tmp_path: Path) -> None:
        """An agent saved before a field existed gets its default; a field this version
        does not know (saved by a later one) is ignored."""
        path = tmp_path / "state.json"
        StateFile(path).save([busy_workspace(agents=0)])
        saved = json.loads(path.read_text(encoding="utf-8"))
        agents = saved["workspaces"]["demo"]["sessions"]["agents"]
        del agents["ann"]["floor_seconds"], agents["bob"]["fresh"]
        agents["bob"]["shift"] = "night"
        path.write_text(json.dumps(saved), encoding="utf-8")
        loaded = StateFile(path).load(BUCKETS)["demo"].sessions.agents
        assert loaded == {
            "ann": Agent(
                None, 0, 1, 100.0, 0.0, 900, 1100, 1100, day_start=0, day_closed_seconds=200.0
            ),
            "bob": Agent(None, 0, 1, 0.0, 0.0, None, 1200, 1200),
        }

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("logins", "3", "expected <class 'int'>, got '3'"),
            ("logins", True, "expected <class 'int'>, got True"),
            ("closed_seconds", None, "expected <class 'float'>, got None"),
            ("fresh", 0, "expected <class 'bool'>, got 0"),
        ],
    )
    def test_a_value_of_the_wrong_type_is_refused(
        self,
        tmp_path: Path,
        field: str,
        value: object,
        problem: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A field whose value is not of its type makes the file unusable, set aside."""
        path = tmp_path / "state.json"
        StateFile(path).save([busy_workspace(agents=0)])
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved["workspaces"]["demo"]["sessions"]["agents"]["ann"][field] = value
        path.write_text(json.dumps(saved), encoding="utf-8")
        assert StateFile(path).load(BUCKETS) == {}
        aside = list(tmp_path.iterdir())
        assert [p.name.split("-")[0] for p in aside] == ["state.json.corrupt"]
        assert logged(caplog.records, "path", "error", "moved_to") == [
            ("ERROR", SET_ASIDE, path, f"workspace 'demo': TypeError: {problem}", aside[0])
        ]

    def test_changed_buckets_reset_only_the_histogram(self, tmp_path: Path) -> None:
        """New bucket bounds start the histogram at zero and keep everything else."""
        state_file = StateFile(tmp_path / "state.json")
        state_file.save([busy_workspace()])
        loaded = state_file.load((30.0,))["demo"]
        assert (loaded.sessions.durations.count, loaded.sessions.durations.bounds) == (0, (30.0,))
        assert loaded.sessions.records_total == {"login": 3, "logout": 2}

    def test_missing_file_is_a_fresh_start(self, tmp_path: Path) -> None:
        """No file yet means no saved workspaces, and no error."""
        assert StateFile(tmp_path / "absent.json").load(BUCKETS) == {}


class TestFloor:
    def test_logged_in_seconds_never_fall_across_a_restart(self, tmp_path: Path) -> None:
        """A late logout holds the counter at what was reported (400 s, not the exact
        100 s); saved and loaded it still reads 400, stalls there while the exact figure
        catches up (350 s at 1750) and then grows with it (500 s at 1900)."""
        workspace = WorkspaceState("demo", BUCKETS)
        workspace.apply_window(window(Record("ann", 900, LOGIN)), 1000, 600)
        workspace.poll_succeeded(1000.0)
        workspace.apply_window(window(), 1400, 600)
        sessions = workspace.sessions
        assert sessions.logged_in_seconds(sessions.agents["ann"]) == 400
        workspace.apply_window(window(Record("ann", 1100, LOGOUT)), 1430, 600)
        assert sessions.logged_in_seconds(sessions.agents["ann"]) == 400
        state_file = StateFile(tmp_path / "state.json")
        state_file.save([workspace])
        loaded = state_file.load(BUCKETS)["demo"]
        ann = loaded.sessions.agents["ann"]
        assert (ann.closed_seconds, ann.floor_seconds) == (100.0, 400.0)
        assert loaded.sessions.logged_in_seconds(ann) == 400
        loaded.apply_window(window(Record("ann", 1500, LOGIN)), 1750, 600)
        assert loaded.sessions.logged_in_seconds(ann) == 400
        loaded.apply_window(window(), 1900, 600)
        assert loaded.sessions.logged_in_seconds(ann) == 500


class TestReleaseZeroOneFile:
    """``fixtures/state-v1.json``, written by release 0.1.0; values from the timeline in
    ``fixtures/make_state_v1.py``."""

    @pytest.fixture(name="loaded")
    def _loaded(self, tmp_path: Path) -> dict[str, WorkspaceState]:
        path = tmp_path / "state.json"
        path.write_bytes((FIXTURES / "state-v1.json").read_bytes())
        loaded = StateFile(path).load(DEFAULT_BUCKETS)
        assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
        return loaded

    def test_counters_and_sessions(self, loaded: dict[str, WorkspaceState]) -> None:
        """Both workspaces resume counting where they stopped, ready at once."""
        north, south = loaded["north"], loaded["south"]
        for workspace in (north, south):
            assert workspace.watermark == T0 + 480
            assert workspace.sessions.counting_since == T0
            assert (workspace.sessions.as_of, workspace.sessions.window_open) == (T0 + 480, False)
            assert workspace.health.invalid_records == 1
            assert (workspace.health.ready, workspace.health.up) == (True, False)
        assert north.sessions.records_total == {"login": 3, "logout": 3}
        assert north.sessions.anomalies == {"logout_without_login": 1, "login_while_logged_in": 1}
        assert north.sessions.last_record == T0 + 200
        assert south.sessions.records_total == {"login": 1, "logout": 1}
        assert south.sessions.anomalies == {"logout_without_login": 0, "login_while_logged_in": 0}
        assert south.sessions.last_record == T0 + 305

    def test_histograms(self, loaded: dict[str, WorkspaceState]) -> None:
        """dora's 60 s and ann's 2000 s sessions; Åsa's 1200 s one."""
        north, south = loaded["north"].sessions.durations, loaded["south"].sessions.durations
        assert (north.counts, north.sum, north.count) == ([1, 0, 0, 0, 1] + [0] * 6, 2060.0, 2)
        assert (south.counts, south.sum, south.count) == ([0, 0, 0, 1] + [0] * 7, 1200.0, 1)
        assert north.bounds == south.bounds == DEFAULT_BUCKETS

    def test_agents_open_sessions_and_floor(self, loaded: dict[str, WorkspaceState]) -> None:
        """Every agent field; ann's floor (420 s) stays above her exact 200 s."""
        north, south = loaded["north"].sessions, loaded["south"].sessions
        assert north.agents == {
            "bob": Agent(None, 0, 1, 0.0, 0.0, T0 - 3000, T0 + 40, T0 + 40),
            "ann": Agent(None, 0, 1, 200.0, 420.0, T0 - 1800, T0 + 200, T0 + 200),
            "carl": Agent(T0 - 600, 0, 0, 0.0, 0.0, T0 - 600, None, T0 - 600),
            "dora": Agent(T0 + 100, 3, 1, 60.0, 60.0, T0 + 100, T0 + 70, T0 + 100),
        }
        assert south.agents == {
            "Åsa Öberg": Agent(None, 0, 1, 300.0, 270.0, T0 - 900, T0 + 300, T0 + 300),
            'o\'neil, "p"': Agent(T0 + 305, 1, 0, 0.0, 0.0, T0 + 305, None, T0 + 305),
        }
        assert (north.logged_in_count, south.logged_in_count) == (2, 1)
        seconds = {name: north.logged_in_seconds(agent) for name, agent in north.agents.items()}
        assert seconds == {"bob": 0.0, "ann": 420.0, "carl": 480.0, "dora": 440.0}

    def test_dedup_memory(self, loaded: dict[str, WorkspaceState]) -> None:
        """The records of the overlap with their counts, dora's twin login twice, and
        the invalid rows with the end of the last window that held them."""
        north, south = loaded["north"].overlap, loaded["south"].overlap
        assert north.records == {
            Record("dora", T0 + 10, LOGIN): 1,
            Record("bob", T0 + 40, LOGOUT): 1,
            Record("dora", T0 + 70, LOGOUT): 1,
            Record("dora", T0 + 100, LOGIN): 2,
            Record("ann", T0 + 200, LOGOUT): 1,
        }
        assert north.rows == {f'["eve", "{T0 + 50}", "Pause"]': (1, T0 + 480)}
        assert south.records == {
            Record("Åsa Öberg", T0 + 300, LOGOUT): 1,
            Record('o\'neil, "p"', T0 + 305, LOGIN): 1,
        }
        name_empty = f'{{"action": "Login", "name": "", "timestamp": {T0 + 310}}}'
        assert south.rows == {name_empty: (1, T0 + 480)}

    def test_a_reread_overlap_counts_nothing_again(self, loaded: dict[str, WorkspaceState]) -> None:
        """The next window re-reads dora's records as often as remembered: nothing new."""
        north = loaded["north"]
        twins = [Record("dora", T0 + 100, LOGIN)] * 2
        batch = Batch.of(
            Parsed([*twins, Record("ann", T0 + 200, LOGOUT)], [f'["eve", "{T0 + 50}", "Pause"]'])
        )
        north.apply_window(batch, T0 + 510, 600)
        assert north.sessions.records_total == {"login": 3, "logout": 3}
        assert north.health.invalid_records == 1

    def test_it_is_saved_back_in_the_current_schema(
        self, loaded: dict[str, WorkspaceState], tmp_path: Path
    ) -> None:
        """The next save writes the current schema, which loads to the same state."""
        path = tmp_path / "again.json"
        StateFile(path).save(list(loaded.values()))
        assert json.loads(path.read_text(encoding="utf-8"))["schema"] == 2
        again = StateFile(path).load(DEFAULT_BUCKETS)
        assert {n: w.to_dict() for n, w in again.items()} == {
            n: w.to_dict() for n, w in loaded.items()
        }


class TestCorrupt:
    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            pytest.param(
                b'{"schema": 1, "workspa',
                "not valid JSON: Unterminated string starting at: line 1 column 15 (char 14)",
                id="truncated",
            ),
            pytest.param(
                b"\x00\x01garbage",
                "not valid JSON: 'utf-16-be' codec can't decode byte 0x65 in position 8: "
                "truncated data",
                id="binary",
            ),
            pytest.param(b"[2]", "a JSON list, not an object", id="list"),
            pytest.param(
                json.dumps({"schema": 99, "workspaces": {}}).encode(),
                "schema 99 is from a newer version of the exporter; this one reads schemas 1, 2",
                id="schema-99",
            ),
            pytest.param(
                json.dumps({"schema": True, "workspaces": {}}).encode(),
                "unknown schema True; this version reads schemas 1, 2",
                id="schema-true",
            ),
            pytest.param(
                json.dumps({"schema": SCHEMA, "workspaces": {"demo": {}}}).encode(),
                "workspace 'demo': KeyError: 'sessions'",
                id="fields-missing",
            ),
            pytest.param(
                json.dumps({"schema": 1, "workspaces": {"demo": {}}}).encode(),
                "workspace 'demo': KeyError: 'counting_since'",
                id="schema-1-fields-missing",
            ),
        ],
    )
    def test_unusable_file_is_moved_aside(
        self, tmp_path: Path, content: bytes, problem: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A corrupt or unknown-version file is renamed *.corrupt-<ts>, logged as an error
        that names the problem, and the exporter starts afresh."""
        path = tmp_path / "state.json"
        path.write_bytes(content)
        with caplog.at_level(logging.ERROR):
            assert StateFile(path).load(BUCKETS) == {}
        aside = list(tmp_path.glob("state.json.corrupt-*"))
        assert [p.read_bytes() for p in aside] == [content]
        assert not path.exists()
        assert logged(caplog.records, "path", "error", "moved_to") == [
            ("ERROR", SET_ASIDE, path, problem, aside[0])
        ]


CRASH = """
import os, sys
sys.path.insert(0, {tests!r})
from test_persist import busy_workspace
from exporter.persist import StateFile

step = {step!r}
real_fsync, real_replace, real_fdopen = os.fsync, os.replace, os.fdopen
fsyncs = []

def fsync(fd):
    fsyncs.append(fd)
    if (step, len(fsyncs)) in (("before the file's fsync", 1), ("before the folder's fsync", 2)):
        os._exit(3)
    real_fsync(fd)

def replace(source, target):
    if step == "before the rename":
        os._exit(3)
    real_replace(source, target)
    if step == "after the rename":
        os._exit(3)

def fdopen(fd, mode):
    out = real_fdopen(fd, mode)
    if step == "halfway through the write":
        def write(body):
            out.raw.write(body[: len(body) // 2])
            os._exit(3)
        out.write = write
    return out

os.fsync, os.replace, os.fdopen = fsync, replace, fdopen
StateFile({path!r}).save([busy_workspace(f"ws{{i}}", agents=40) for i in range(3)])
"""


class TestAtomicWrite:
    @pytest.mark.parametrize(
        ("step", "survivor"),
        [
            ("halfway through the write", "old"),
            ("before the file's fsync", "old"),
            ("before the rename", "old"),
            ("after the rename", "new"),
            ("before the folder's fsync", "new"),
        ],
    )
    def test_a_crash_at_each_step_leaves_the_old_file_or_the_new(
        self, tmp_path: Path, step: str, survivor: str
    ) -> None:
        """A writer that dies at ``step`` leaves a file that loads whole: the state before
        the write up to the rename, the new one from it on; never a mix, and no leftover."""
        path = tmp_path / "state.json"
        old = [busy_workspace(f"ws{i}", agents=2) for i in range(3)]
        new = [busy_workspace(f"ws{i}", agents=40) for i in range(3)]
        StateFile(path).save(old)
        script = CRASH.format(tests=str(Path(__file__).parent), step=step, path=str(path))
        crashed = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
        assert crashed.returncode == 3
        loaded = StateFile(path).load(BUCKETS)
        expected = {"old": old, "new": new}[survivor]
        assert {n: w.to_dict() for n, w in loaded.items()} == {
            w.name: w.to_dict() for w in expected
        }
        assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
