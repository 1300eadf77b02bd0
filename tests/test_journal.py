"""The state file's journal: a poll appends what it changed, a restart replays it exactly,
a torn last entry is dropped, damage sets the journal aside, and every crash leaves the
state before a write or the state after it."""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import persist
from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.core.window import reread_from
from exporter.persist import StateFile
from exporter.state import WorkspaceState

BUCKETS = (60.0, 3600.0)
OVERLAP = 600
T0 = 1_767_225_600
FIXTURES = Path(__file__).parent / "fixtures"


def window(records: list[Record], invalid: list[str] | None = None) -> Batch:
    return Batch.of(Parsed(sorted(records, key=lambda r: r.timestamp), invalid or []))


def counting(name: str = "demo", agents: int = 3) -> WorkspaceState:
    """A workspace past its initial lookback: ``agents`` logged in, one logged out."""
    workspace = WorkspaceState(name, BUCKETS)
    logins = [Record(f"agent {i}", T0 - 100 + i, LOGIN) for i in range(agents)]
    workspace.apply_window(window(logins), T0, OVERLAP)
    workspace.poll_succeeded(float(T0))
    return workspace


def later_windows(workspace: WorkspaceState, polls: range) -> None:
    """Polls every 30 s, each re-reading the overlap and bringing a login and a logout."""
    truth: list[Record] = []
    for poll in polls:
        end = T0 + 30 * (poll + 1)
        truth += [Record(f"new {poll}", end - 5, LOGIN), Record("agent 0", end - 2, LOGOUT)]
        frm = reread_from(end - 30, OVERLAP)
        workspace.apply_window(window([r for r in truth if frm <= r.timestamp]), end, OVERLAP)


def state_of(path: Path) -> dict[str, Any]:
    return {name: w.to_dict() for name, w in StateFile(path).load(BUCKETS).items()}


def frame(entry: dict[str, Any]) -> bytes:
    """A journal frame written out by hand: length, CRC-32, the JSON."""
    body = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
    return struct.pack(">II", len(body), zlib.crc32(body)) + body


def poll_entry(poll: int) -> dict[str, Any]:
    """The journal entry of poll ``poll`` of ``later_windows``, written out by hand."""
    end = T0 + 30 * (poll + 1)
    batch = {
        "names": [f"new {poll}", "agent 0"],
        "timestamps": [end - 5, end - 2],
        "actions": [LOGIN, LOGOUT],
        "invalid": [],
    }
    return {"demo": [{"apply_window": {"batch": batch, "window_end": end, "overlap": 600}}]}


@pytest.fixture(name="path")
def _path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


class TestAppend:
    def test_a_poll_appends_only_its_new_records(self, path: Path) -> None:
        """A window re-reading 20 records and bringing 2 appends one frame holding those
        2; the snapshot of 1,000 agents is not rewritten."""
        workspace = counting(agents=1000)
        state_file = StateFile(path)
        state_file.write([workspace])
        snapshot = path.read_bytes()
        later_windows(workspace, range(10))
        state_file.write([workspace])
        later_windows(workspace, range(10, 11))
        before = path.with_name("state.json.journal").stat().st_size
        state_file.write([workspace])
        journal = path.with_name("state.json.journal").read_bytes()
        assert journal[before:] == frame(poll_entry(10))
        assert len(journal) - before == 193
        assert path.read_bytes() == snapshot

    def test_the_first_append_starts_a_journal_naming_its_snapshot(self, path: Path) -> None:
        """The journal's first frame names the id the snapshot holds."""
        workspace = counting()
        state_file = StateFile(path)
        state_file.write([workspace])
        later_windows(workspace, range(1))
        state_file.write([workspace])
        snapshot_id = json.loads(path.read_text(encoding="utf-8"))["journal"]
        journal = path.with_name("state.json.journal").read_bytes()
        head = frame({"journal": 1, "follows": snapshot_id})
        assert journal.startswith(head)
        assert len(snapshot_id) == 16

    def test_nothing_is_written_while_nothing_changed(self, path: Path) -> None:
        """Windows that bring nothing leave both files as they were."""
        workspace = counting()
        state_file = StateFile(path)
        state_file.write([workspace])
        snapshot = path.read_bytes()
        for end in (T0 + 30, T0 + 60):
            workspace.apply_window(window([]), end, OVERLAP)
        assert state_file.write([workspace]) is False
        assert path.read_bytes() == snapshot
        assert not path.with_name("state.json.journal").exists()

    def test_a_workspace_that_did_not_change_waits_for_its_next_change(self, path: Path) -> None:
        """A write takes only the workspaces that changed: a quiet one's window that
        brought nothing goes in with its next change, before it."""
        north, south = counting("north"), counting("south")
        state_file = StateFile(path)
        state_file.write([north, south])
        north.apply_window(window([]), T0 + 30, OVERLAP)
        later_windows(south, range(1))
        state_file.write([north, south])
        north.apply_window(window([Record("ann", T0 + 40, LOGIN)]), T0 + 60, OVERLAP)
        state_file.write([north, south])
        frames = path.with_name("state.json.journal").read_bytes()
        entries = []
        while frames:
            (length,) = struct.unpack_from(">I", frames)
            entries.append(json.loads(frames[8 : 8 + length]))
            frames = frames[8 + length :]
        assert [
            {n: [t["apply_window"]["window_end"] for t in ts] for n, ts in e.items()}
            for e in entries[1:]
        ] == [
            {"south": [T0 + 30]},
            {"north": [T0 + 30, T0 + 60]},
        ]
        assert state_of(path) == {"north": north.to_dict(), "south": south.to_dict()}


class TestCompaction:
    def test_the_snapshot_is_rewritten_once_the_journal_outgrows_half_of_it(
        self, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no floor, writes append until the journal would pass half the snapshot's
        size; that write rewrites the snapshot and removes the journal."""
        monkeypatch.setattr(persist, "JOURNAL_MIN", 0)
        workspace = counting(agents=50)
        state_file = StateFile(path)
        state_file.write([workspace])
        half = path.stat().st_size / 2
        journal = path.with_name("state.json.journal")
        sizes = []
        for poll in range(40):
            later_windows(workspace, range(poll, poll + 1))
            state_file.write([workspace])
            sizes.append(journal.stat().st_size if journal.exists() else 0)
        first = sizes.index(0)
        assert sizes[first - 1] <= half < sizes[first - 1] + len(frame(poll_entry(first)))
        assert state_of(path) == {"demo": workspace.to_dict()}

    @pytest.mark.parametrize("change", ["added", "removed", "lookback"])
    def test_a_change_the_journal_cannot_tell_rewrites_the_snapshot(
        self, path: Path, change: str
    ) -> None:
        """A workspace added, one removed, or a window of an initial lookback (of a
        workspace saved before its lookback ended): the next write is a snapshot."""
        north, south = counting("north"), WorkspaceState("south", BUCKETS)
        south.apply_window(window([Record("ann", T0 - 50, LOGIN)]), T0 - 30, OVERLAP)
        state_file = StateFile(path)
        state_file.write([north, south])
        later_windows(north, range(2))
        state_file.write([north, south])
        workspaces = [north, south]
        if change == "added":
            workspaces.append(counting("east"))
        elif change == "removed":
            workspaces.remove(south)
        else:
            south.apply_window(window([Record("bob", T0 - 10, LOGIN)]), T0, OVERLAP)
        state_file.write(workspaces)
        assert not path.with_name("state.json.journal").exists()
        assert state_of(path) == {w.name: w.to_dict() for w in workspaces}

    def test_a_change_without_a_record_makes_the_next_write_a_snapshot(self, path: Path) -> None:
        """A transition that counts a change but records nothing (one added without
        its record) cannot be replayed: the next write is a snapshot, which holds it."""
        workspace = counting()
        state_file = StateFile(path)
        state_file.write([workspace])
        later_windows(workspace, range(1))
        state_file.write([workspace])
        workspace.sessions.agents["agent 1"].logins = 7
        workspace.changes += 1
        state_file.write([workspace])
        assert not path.with_name("state.json.journal").exists()
        assert StateFile(path).load(BUCKETS)["demo"].sessions.agents["agent 1"].logins == 7

    def test_a_failed_append_makes_the_next_write_a_snapshot(
        self, path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The transitions of an append that failed are not lost: the next write is a
        whole snapshot, holding them."""
        workspace = counting()
        state_file = StateFile(path)
        state_file.write([workspace])
        later_windows(workspace, range(1))

        def full(path: Path, frames: bytes, *, create: bool) -> None:
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(persist, "append", full)
            with pytest.raises(OSError, match="No space"):
                state_file.write([workspace])
        state_file.write([workspace])
        assert state_of(path) == {"demo": workspace.to_dict()}
        assert not path.with_name("state.json.journal").exists()


class Journaled:
    """A snapshot, then three appends of one poll each; the states after each."""

    def __init__(self, path: Path) -> None:
        workspace = counting()
        self.state_file = StateFile(path)
        self.state_file.write([workspace])
        self.states = [workspace.to_dict()]
        self.ends = [0]
        """Where the journal ends after each write: entry n is ``[ends[n-1]:ends[n]]``,
        the header before entry 1."""
        for poll in range(3):
            later_windows(workspace, range(poll, poll + 1))
            self.state_file.write([workspace])
            self.states.append(workspace.to_dict())
            self.ends.append(path.with_name("state.json.journal").stat().st_size)


class TestTornAndDamaged:
    @pytest.mark.parametrize("cut", [1, 7, 8, 9, 60, -1])
    def test_a_torn_last_entry_is_dropped(
        self, path: Path, cut: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A journal cut anywhere in its last frame loads as the state before that
        frame, with a warning; the journal stays where it is."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        data = journal.read_bytes()
        end = journaled.ends[2] + cut if cut > 0 else len(data) + cut
        journal.write_bytes(data[:end])
        with caplog.at_level(logging.WARNING):
            assert state_of(path) == {"demo": journaled.states[2]}
        where = "is cut short in its head" if 0 < cut < 8 else "is cut short"
        assert [(r.getMessage(), r.path, r.error, r.replayed) for r in caplog.records] == [
            (
                "the journal's last entry is torn, as a crash during a write leaves it: "
                "dropped; the entries before it replayed",
                journal,
                f"entry 3 {where}",
                2,
            )
        ]
        assert sorted(p.name for p in path.parent.iterdir()) == ["state.json", "state.json.journal"]

    def test_a_last_entry_failing_its_checksum_is_dropped(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A last frame whole in length but not in content was cut short too."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        data = bytearray(journal.read_bytes())
        data[-3] ^= 0xFF
        journal.write_bytes(bytes(data))
        assert state_of(path) == {"demo": journaled.states[2]}
        assert caplog.records[0].error.startswith("entry 3 fails its checksum")

    def test_damage_before_the_last_entry_sets_the_journal_aside(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bad checksum with frames after it is damage: the state is the snapshot and
        the entries before it, and the journal is moved aside, logged as an error."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        data = bytearray(journal.read_bytes())
        data[journaled.ends[1] + 20] ^= 0xFF
        journal.write_bytes(bytes(data))
        with caplog.at_level(logging.ERROR):
            assert state_of(path) == {"demo": journaled.states[1]}
        (aside,) = path.parent.glob("state.json.journal.corrupt-*")
        assert aside.read_bytes() == bytes(data)
        assert [
            (r.getMessage(), r.path, r.error, r.moved_to, r.replayed) for r in caplog.records
        ] == [
            (
                "state file cannot be used; moved aside, resuming from the snapshot and the "
                "entries before it",
                journal,
                "entry 2 fails its checksum",
                aside,
                1,
            )
        ]

    def test_an_entry_for_a_workspace_the_snapshot_lacks_is_damage(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An entry naming another workspace stops the replay before it."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        data = journal.read_bytes()
        entry = json.loads(data[journaled.ends[1] + 8 : journaled.ends[2]])
        entry = {"elsewhere": entry["demo"]}
        journal.write_bytes(data[: journaled.ends[1]] + frame(entry) + data[journaled.ends[2] :])
        assert state_of(path) == {"demo": journaled.states[1]}
        assert [r.error for r in caplog.records] == [
            "entry 2: workspace 'elsewhere' is not in the snapshot"
        ]

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"window_end": "1"}, "entry 2: apply_window: TypeError: expected an int, got '1'"),
            ({"overlap": True}, "entry 2: apply_window: TypeError: expected a number, got True"),
            ({"extra": 1}, "entry 2: unknown transition 'apply_window' or its arguments"),
        ],
    )
    def test_an_entry_of_the_wrong_shape_is_damage(
        self, path: Path, change: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An entry whose arguments are not of their types is refused, by name."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        data = journal.read_bytes()
        entry = json.loads(data[journaled.ends[1] + 8 : journaled.ends[2]])
        entry["demo"][0]["apply_window"].update(change)
        journal.write_bytes(data[: journaled.ends[1]] + frame(entry) + data[journaled.ends[2] :])
        assert state_of(path) == {"demo": journaled.states[1]}
        assert [r.error for r in caplog.records] == [problem]

    def test_a_journal_of_another_snapshot_is_ignored(self, path: Path) -> None:
        """A journal left by a crash between a snapshot and the journal's removal holds
        nothing the snapshot lacks: it is not replayed on it."""
        journaled = Journaled(path)
        journal = path.with_name("state.json.journal")
        old = journal.read_bytes()
        workspace = StateFile(path).load(BUCKETS)["demo"]
        journaled.state_file.save([workspace])
        journal.write_bytes(old)
        assert state_of(path) == {"demo": journaled.states[3]}

    def test_release_zero_one_files_ignore_a_journal(self, path: Path) -> None:
        """A schema 1 file names no journal: one beside it is not its own."""
        path.write_bytes((FIXTURES / "state-v1.json").read_bytes())
        expected = state_of(path)
        journaled_elsewhere = path.parent / "other" / "state.json"
        journaled_elsewhere.parent.mkdir()
        Journaled(journaled_elsewhere)
        journal = journaled_elsewhere.with_name("state.json.journal").read_bytes()
        path.with_name("state.json.journal").write_bytes(journal)
        assert state_of(path) == expected


NAMES = ("ann", 'o\'neil, "p"')
OFFSETS = (-601, -600, -599, -300, -30, -5, 0)
"""Where records fall before the poll's time: on and around the edge of the overlap,
so that windows re-read them, forget them and meet their twins."""


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Steps of a workspace's life: polls of windows over a growing history of records
    (twins, rows an answer leaves out, invalid rows, the clock going back, the overlap
    changed by a reload), successes that forget, writes and snapshots."""
    steps: list[tuple[str, Any]] = []
    kinds = ["poll"] * 4 + ["write"] * 2 + ["forget", "snapshot"]
    for _ in range(draw(st.integers(4, 25))):
        kind = draw(st.sampled_from(kinds))
        if kind == "poll":
            advance = draw(st.sampled_from([0, 5, 30, 30, 30, 300, 650, -20]))
            record = st.tuples(
                st.sampled_from(NAMES), st.sampled_from(OFFSETS), st.sampled_from([LOGIN, LOGOUT])
            )
            records = draw(st.lists(record, max_size=4))
            row = st.tuples(st.sampled_from("xy"), st.sampled_from([-600, -30, 0]))
            invalid = draw(st.lists(row, max_size=2))
            skip = draw(st.sampled_from([None, 0, 1, 2]))
            overlap = draw(st.sampled_from([OVERLAP, OVERLAP, OVERLAP, 300]))
            steps.append(("poll", (advance, records, invalid, skip, overlap)))
        elif kind == "forget":
            steps.append(("forget", draw(st.sampled_from([0, 30, 600, 900]))))
        else:
            steps.append((kind, None))
    return steps


class Life:
    """A workspace polling an API whose history grows; a twin that no state file
    watches makes the same polls, the reference for what replay must give."""

    def __init__(self, path: Path) -> None:
        self.live = WorkspaceState("demo", BUCKETS)
        self.twin = WorkspaceState("demo", BUCKETS)
        self.state_file = StateFile(path)
        self.now = T0
        self.history: list[Record] = []
        self.rows: list[tuple[str, int]] = []
        self.written: dict[str, Any] = {}
        """The state as of the last write that took it."""

    def step(self, kind: str, args: Any) -> None:
        if kind == "poll":
            self._poll(*args)
        elif kind == "forget":
            for workspace in (self.live, self.twin):
                workspace.poll_succeeded(float(self.now), float(self.now - args))
        else:
            if self.state_file.write([self.live], compact=kind == "snapshot"):
                self.written = {"demo": self.live.to_dict()}
            assert state_of(self.state_file.path) == self.written

    def _poll(
        self, advance: int, records: list[Any], invalid: list[Any], skip: int | None, overlap: int
    ) -> None:
        self.now += advance
        self.history += [Record(n, self.now + t, a) for n, t, a in records]
        self.rows += [(f"{text},{self.now + t}", self.now + t) for text, t in invalid]
        start = self.now - 3600
        if self.live.watermark is not None:
            start = max(0, min(reread_from(self.live.watermark, overlap), self.now))
        chosen = [r for r in self.history if start <= r.timestamp <= self.now]
        if skip is not None:
            del chosen[skip : skip + 1]  # an answer may leave out a row it gave before
        rows = [text for text, t in self.rows if start <= t <= self.now]
        batch = window(chosen, rows)
        for workspace in (self.live, self.twin):
            workspace.apply_window(batch, self.now, overlap)
            workspace.poll_succeeded(float(self.now))


class TestReplay:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=histories())
    def test_each_write_loads_back_as_the_state_it_wrote(
        self, steps: list[tuple[str, Any]]
    ) -> None:
        """Whatever the polls, after each write loading gives exactly the state as of
        the last write that took it (an append after a change, or a snapshot), and
        recording changes nothing in how the workspace counts."""
        with tempfile.TemporaryDirectory() as folder:
            life = Life(Path(folder) / "state.json")
            for kind, args in steps:
                life.step(kind, args)
            assert life.live.to_dict() == life.twin.to_dict()


CRASH = """
import os, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_journal import crash_run

step = {step!r}
real_fsync, real_replace, real_fdopen = os.fsync, os.replace, os.fdopen
real_write, real_unlink = os.write, os.unlink
fsyncs = []
armed = False

def fsync(fd):
    fsyncs.append(fd)
    if armed and len(fsyncs) == {before!r}:
        os._exit(3)
    real_fsync(fd)
    if armed and len(fsyncs) == {after!r}:
        os._exit(3)

def replace(source, target):
    if armed and step == "before the snapshot's rename":
        os._exit(3)
    real_replace(source, target)
    if armed and step == "after the snapshot's rename":
        os._exit(3)

def fdopen(fd, mode):
    out = real_fdopen(fd, mode)
    if armed and step == "halfway through the snapshot":
        def write(body):
            out.raw.write(body[: len(body) // 2])
            os._exit(3)
        out.write = write
    return out

def write(fd, body):
    if armed and step == "halfway through the append":
        real_write(fd, bytes(body[: len(body) // 2]))
        os._exit(3)
    return real_write(fd, body)

def unlink(path, *args, **kwargs):
    if armed and step == "before the journal's removal":
        os._exit(3)
    real_unlink(path, *args, **kwargs)
    if armed and step == "after the journal's removal":
        os._exit(3)

def arm():
    global armed
    fsyncs.clear()
    armed = True

os.fsync, os.replace, os.fdopen, os.write, os.unlink = fsync, replace, fdopen, write, unlink
crash_run(Path({path!r}), {write_kind!r}, arm)
"""


def crash_run(
    path: Path | None, kind: str, arm: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Two workspaces written as a snapshot, then two polls each appended (none for
    ``kind`` "first append"); then one more poll each, written as ``kind`` ("append",
    "first append", "snapshot") with ``arm`` called just before. Returns the states
    before and after that last write; with no path, writes nothing."""
    workspaces = [counting("north", agents=40), counting("south", agents=40)]
    state_file = None if path is None else StateFile(path)
    if state_file is not None:
        state_file.write(workspaces)
    polls = range(0 if kind == "first append" else 2)
    for workspace in workspaces:
        later_windows(workspace, polls)
    if state_file is not None and polls:
        state_file.write(workspaces)
    before = {w.name: w.to_dict() for w in workspaces}
    for workspace in workspaces:
        later_windows(workspace, range(len(polls), len(polls) + 1))
    after = {w.name: w.to_dict() for w in workspaces}
    if state_file is not None:
        if arm is not None:
            arm()
        state_file.write(workspaces, compact=kind == "snapshot")
    return [before, after]


class TestCrashPoints:
    @pytest.mark.parametrize(
        ("kind", "step", "survivor"),
        [
            ("append", "halfway through the append", "old"),
            ("append", "before the journal's fsync", "new"),
            ("append", "after the journal's fsync", "new"),
            ("first append", "halfway through the append", "old"),
            ("first append", "before the journal's fsync", "new"),
            ("first append", "before the folder's fsync", "new"),
            ("snapshot", "halfway through the snapshot", "old"),
            ("snapshot", "before the snapshot's fsync", "old"),
            ("snapshot", "before the snapshot's rename", "old"),
            ("snapshot", "after the snapshot's rename", "new"),
            ("snapshot", "before the folder's fsync", "new"),
            ("snapshot", "before the journal's removal", "new"),
            ("snapshot", "after the journal's removal", "new"),
        ],
    )
    def test_a_crash_at_each_step_leaves_the_state_before_or_after(
        self, tmp_path: Path, kind: str, step: str, survivor: str
    ) -> None:
        """A writer killed at ``step`` of an append or of a snapshot leaves files that
        load as the state before that write up to the point where it is durable, and
        the state after it from there on: never a mix, and no temporary file left."""
        before_fsync = {
            "before the journal's fsync": 1,
            "before the snapshot's fsync": 1,
            "before the folder's fsync": 2,
        }.get(step)
        after_fsync = 1 if step == "after the journal's fsync" else None
        path = tmp_path / "state.json"
        script = CRASH.format(
            tests=str(Path(__file__).parent),
            step=step,
            before=before_fsync,
            after=after_fsync,
            path=str(path),
            write_kind=kind,
        )
        crashed = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
        assert crashed.returncode == 3
        before, after = crash_run(None, kind)
        assert state_of(path) == {"old": before, "new": after}[survivor]
        assert not list(tmp_path.glob(".*.tmp"))
        assert not list(tmp_path.glob("*.corrupt-*"))
