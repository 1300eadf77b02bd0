"""The state file: exact round trip, atomic writes, and corrupt files set aside."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.persist import SCHEMA, StateFile, dump_workspace
from exporter.state import WorkspaceState

BUCKETS = (60.0, 3600.0)


def busy_workspace(name: str = "demo", agents: int = 3) -> WorkspaceState:
    """A workspace past its lookback with sessions, anomalies, dedup memory and invalid rows."""
    workspace = WorkspaceState(name, BUCKETS)
    sessions = workspace.sessions
    sessions.apply([Record("ann", 900, LOGIN)])
    sessions.start_counting(1000)
    records = [Record(f'agent {i}, "x" ö', 1000 + i, LOGIN) for i in range(agents)]
    records += [Record("ann", 1100, LOGOUT), Record("bob", 1200, LOGOUT)]
    batch = Batch.of(Parsed(records, ['["x", "1a", "Login"]']))
    new, invalid = workspace.overlap.take(batch, 1300, 600)
    sessions.apply(new)
    workspace.health.invalid_records = invalid
    workspace.watermark = 1300
    sessions.advance(1300)
    return workspace


class TestRoundTrip:
    def test_saved_state_loads_back_identical(self, tmp_path: Path) -> None:
        """Every persisted field reads back exactly as it was written."""
        state_file = StateFile(tmp_path / "state.json")
        original = busy_workspace()
        state_file.save([original])
        loaded = state_file.load(BUCKETS)
        assert list(loaded) == ["demo"]
        assert dump_workspace(loaded["demo"]) == dump_workspace(original)
        assert loaded["demo"].sessions.logged_in_count == 3
        assert loaded["demo"].health.ready is True

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


class TestCorrupt:
    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b'{"schema": 1, "workspa', id="truncated"),
            pytest.param(b"\x00\x01garbage", id="binary"),
            pytest.param(json.dumps({"schema": 99, "workspaces": {}}).encode(), id="schema-99"),
            pytest.param(
                json.dumps({"schema": SCHEMA, "workspaces": {"demo": {}}}).encode(),
                id="fields-missing",
            ),
        ],
    )
    def test_unusable_file_is_moved_aside(
        self, tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A corrupt or unknown-version file is renamed *.corrupt-<ts> and logged as an error."""
        path = tmp_path / "state.json"
        path.write_bytes(content)
        with caplog.at_level(logging.ERROR):
            assert StateFile(path).load(BUCKETS) == {}
        aside = list(tmp_path.glob("state.json.corrupt-*"))
        assert [p.read_bytes() for p in aside] == [content]
        assert not path.exists()
        assert [r.levelname for r in caplog.records] == ["ERROR"]


WRITER = """
import sys
sys.path.insert(0, {tests!r})
from test_persist import busy_workspace
from exporter.persist import StateFile
state_file = StateFile({path!r})
workspaces = [busy_workspace(f"ws{{i}}", agents=2000) for i in range(3)]
print("writing", flush=True)
while True:
    state_file.save(workspaces)
"""


class TestAtomicWrite:
    def test_kill_at_any_instant_leaves_a_whole_file(self, tmp_path: Path) -> None:
        """A writer killed with SIGKILL at random points always leaves a loadable file."""
        path = tmp_path / "state.json"
        script = WRITER.format(tests=str(Path(__file__).parent), path=str(path))
        rng = random.Random(7)
        StateFile(path).save([busy_workspace(f"ws{i}") for i in range(3)])
        for _ in range(12):
            writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"writing\n"
            time.sleep(rng.uniform(0.0, 0.4))
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
            loaded = StateFile(path).load(BUCKETS)
            assert sorted(loaded) == ["ws0", "ws1", "ws2"]
            assert len(loaded["ws2"].sessions.agents) in (5, 2002)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
