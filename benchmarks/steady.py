"""``steady_poll``: a poll bringing 10 new records, the state file on, 50,000 agents.

The week of 5,000 agents is loaded by the initial lookback, and nine more workspaces hold
a copy of it, so the exporter holds 50,000 agents in 10 workspaces, all in one state file
(``Exporter.save_if_changed``, the daemon's own saving, in a folder on disk). Then polls
of the first workspace follow every ``interval`` (30 s of the simulated clock), each
after 10 records were added to the simulator, and each followed by the write the daemon's
saver makes. A poll re-reads the ``overlap`` (10 minutes) it has already seen; once 20
polls have passed, that overlap holds what 10 records a poll leave in it, which is the
steady state measured. The first polls re-read the busiest hour of the history instead
(1,600 records at 5,000 agents in the first one): the median of the first three is
reported too, as ``peak_ms_cpu``.

CPU time of this process is measured, poll and write, so waiting on the simulator
(another process) is left out, and the fsync's kernel time counts. Bytes written are what
the state file's two files grew by, or the snapshot's size where it was rewritten; with
``amortized_bytes``, each poll's share of the snapshot rewritten once the journal reaches
its limit. The floor fetches the same window with ``http.client`` and parses it with
``csv.reader`` plus ``int``. Each poll must ask for a window no wider than ``overlap`` +
2 x ``interval``, apply exactly the 10 new records and write at most ``TARGET_BYTES``;
and the state file, read back at the end as a restart would (``restart_s``), must give
every workspace exactly as it is.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from benchmarks.report import Result, cpu
from benchmarks.simserver import RemoteSimulator
from benchmarks.workload import METRICS, POLL, START, Exporter, FloorClient, floor_parse
from exporter import daemon, persist
from exporter.config import Config, Secret, StateConfig, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.logio import Fetcher
from exporter.state import WorkspaceState

NEW_RECORDS = 10
SETTLE = int(POLL.overlap // POLL.interval)
POLLS = 30
TARGET_MS = 5.0
TARGET_BYTES = 4096
WORKSPACES = 10


class Figures(NamedTuple):
    """One poll: CPU seconds of the exporter (poll and write) and of the floor, the
    write's CPU and wall seconds, bytes written, window width, rows re-read."""

    cpu: float
    floor: float
    write: float
    write_wall: float
    written: int
    width: int
    reread: int


class Whole(NamedTuple):
    """The agents of every workspace, the snapshot's size and seconds to write, a
    restart's seconds to read it and its journal back, and whether that was exact."""

    agents: int
    snapshot_bytes: int
    snapshot_seconds: float
    restart_seconds: float
    resumed: bool


class Recording:
    """A ``Fetcher`` that notes each window asked for, then asks the real client."""

    def __init__(self, client: Fetcher) -> None:
        self.client = client
        self.windows: list[tuple[int, int]] = []

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        self.windows.append((frm, to))
        return self.client.fetch(frm, to, name)


class Steady:
    """An exporter with the week loaded in ten workspaces and its state file, the
    simulator its first workspace polls and a floor client."""

    def __init__(self, sim: RemoteSimulator, folder: Path) -> None:
        self.sim, self.now = sim, float(START)
        self.recorder: Recording | None = None
        self.exporter = Exporter(sim.url, "csv", clock=lambda: self.now, wrap=self._record)
        self.floor = FloorClient(sim.url, "csv")
        self.exporter.poll()
        self.names = list(self.exporter.state.sessions.agents)
        self.polls = 0
        self.files = StateFiles(folder / "state.json")
        self.daemon = daemon.Exporter(_config(self.files.snapshot, sim.url))
        week = self.exporter.state
        self.daemon.state.add(week)
        for index in range(1, WORKSPACES):
            name = f"{week.name}-{index}"
            copy = WorkspaceState.from_dict(name, week.to_dict(), week.sessions.durations.bounds)
            self.daemon.state.add(copy)
        started = time.perf_counter()
        self.daemon.save_if_changed()
        self.snapshot_seconds = time.perf_counter() - started

    def poll(self) -> Figures:
        """Add the new records, move the clock on by an interval, poll and write."""
        self._add_records()
        self.now += POLL.interval
        sessions = self.exporter.state.sessions
        before = sum(sessions.records_total.values())
        seconds = cpu(self.exporter.poll)
        if sum(sessions.records_total.values()) - before != NEW_RECORDS:
            raise RuntimeError("a steady poll must apply exactly the new records")
        mark = self.files.mark()
        started = time.perf_counter()
        write = cpu(self.daemon.save_if_changed)
        write_wall = time.perf_counter() - started
        _, written = self.files.since(mark)
        assert self.recorder is not None
        frm, to = self.recorder.windows[-1]
        rows: list[object] = []
        floor = cpu(lambda: rows.extend(floor_parse(self.floor.fetch(frm, to), "csv")))
        reread = len(rows) - NEW_RECORDS
        return Figures(seconds + write, floor, write, write_wall, written, to - frm, reread)

    def whole(self) -> Whole:
        """The state file's figures, and a restart's: read back as a start does, it must
        give every workspace exactly as it is."""
        workspaces = {w.name: w.to_dict() for w in self.daemon.state.workspaces()}
        buckets = METRICS.session_duration_buckets
        started = time.perf_counter()
        loaded = persist.StateFile(self.files.snapshot).load(buckets)
        seconds = time.perf_counter() - started
        resumed = {name: w.to_dict() for name, w in loaded.items()} == workspaces
        agents = sum(len(w.sessions.agents) for w in self.daemon.state.workspaces())
        size = self.files.snapshot.stat().st_size
        return Whole(agents, size, self.snapshot_seconds, seconds, resumed)

    def close(self) -> None:
        self.exporter.close()
        self.floor.close()

    def _record(self, client: Fetcher) -> Fetcher:
        self.recorder = Recording(client)
        return self.recorder

    def _add_records(self) -> None:
        """Records timed within the coming interval, of agents the week already holds."""
        for index in range(NEW_RECORDS):
            name = self.names[(self.polls * NEW_RECORDS + index) % len(self.names)]
            action = LOGIN if index % 2 else LOGOUT
            self.sim.inject(Record(name, int(self.now) + 1 + index, action))
        self.polls += 1


Mark = tuple[tuple[int, int] | None, int]
"""Which file a snapshot is (inode, mtime), if any, and its journal's size."""


class StateFiles:
    """The snapshot and the journal of a state file, and what writes added to them."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        self.journal = snapshot.with_name(f"{snapshot.name}.journal")

    def mark(self) -> Mark:
        try:
            stat = self.snapshot.stat()
        except FileNotFoundError:
            return None, _size(self.journal)
        return (stat.st_ino, stat.st_mtime_ns), _size(self.journal)

    def since(self, mark: Mark) -> tuple[bool, int]:
        """Whether the snapshot was rewritten since ``mark``, and the bytes written: the
        journal's growth, or the new snapshot's size and the journal's whole size."""
        (snapshot, journal), now = mark, self.mark()
        if now[0] != snapshot:
            return True, _size(self.snapshot) + now[1]
        return False, now[1] - journal


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _config(state_file: Path, url: str) -> Config:
    names = ["bench", *(f"bench-{index}" for index in range(1, WORKSPACES))]
    workspaces = tuple(WorkspaceConfig(name, url, Secret("t")) for name in names)
    return Config(workspaces=workspaces, state=StateConfig(file=os.fspath(state_file)))


def steady_poll(sim: RemoteSimulator) -> Result:
    """Load the week, let the overlap settle, then measure ``POLLS`` polls."""
    with tempfile.TemporaryDirectory(prefix="steady-poll-") as folder:
        steady = Steady(sim, Path(folder))
        try:
            settling = [steady.poll() for _ in range(SETTLE)]
            measured = [steady.poll() for _ in range(POLLS)]
            whole = steady.whole()
        finally:
            steady.close()
    return _result(settling, measured, whole)


def _result(settling: list[Figures], measured: list[Figures], whole: Whole) -> Result:
    limit = int(POLL.overlap + 2 * POLL.interval)
    widest = max(figures.width for figures in [*settling, *measured])
    peak = settling[:3]
    value = statistics.median(figures.cpu for figures in measured) * 1000
    floor = statistics.median(figures.floor for figures in measured) * 1000
    written = statistics.median(figures.written for figures in measured)
    most = max(figures.written for figures in measured)
    journal_limit = max(whole.snapshot_bytes * persist.JOURNAL_SHARE, persist.JOURNAL_MIN)
    amortized = written * (1 + whole.snapshot_bytes / journal_limit)
    extra = {
        "max_ms_cpu": f"{max(figures.cpu for figures in measured) * 1000:.2f}",
        "write_ms_cpu": f"{statistics.median(f.write for f in measured) * 1000:.3f}",
        "write_ms_wall": f"{statistics.median(f.write_wall for f in measured) * 1000:.2f}",
        "bytes": f"{written:.0f}",
        "max_bytes": str(most),
        "amortized_bytes": f"{amortized:.0f}",
        "target_bytes": str(TARGET_BYTES),
        "snapshot_mb": f"{whole.snapshot_bytes / 1e6:.1f}",
        "snapshot_s": f"{whole.snapshot_seconds:.2f}",
        "restart_s": f"{whole.restart_seconds:.2f}",
        "agents": str(whole.agents),
        "workspaces": str(WORKSPACES),
        "reread": str(measured[-1].reread),
        "peak_ms_cpu": f"{statistics.median(figures.cpu for figures in peak) * 1000:.2f}",
        "peak_reread": str(peak[0].reread),
        "window_s": str(widest),
        "window_limit_s": str(limit),
        "new_records": str(NEW_RECORDS),
        "polls": str(POLLS),
    }
    checks = {
        "window_ok": widest <= limit,
        "bytes_ok": max(most, amortized) <= TARGET_BYTES,
        "resumed_ok": whole.resumed,
    }
    return Result("steady_poll", value, floor, TARGET_MS, "ms_cpu", "value", extra, checks)
