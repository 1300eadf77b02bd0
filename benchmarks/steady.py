"""``steady_poll``: a poll with the week loaded that brings 10 new records.

The week is loaded by the initial lookback, then polls follow every ``interval`` (30 s of
the simulated clock), each after 10 records were added to the simulator. A poll re-reads
the ``overlap`` (10 minutes) it has already seen; once 20 polls have passed, that overlap
holds what 10 records a poll leave in it, which is the steady state measured. The first
polls re-read the busiest hour of the history instead (1,600 records at 5,000 agents in
the first one): the median of the first three is reported too, as ``peak_ms_cpu``.

CPU time of this process is measured, so waiting on the simulator (another process) is
left out. The floor fetches the same window with ``http.client`` and parses it with
``csv.reader`` plus ``int``. Each poll must ask for a window no wider than ``overlap`` +
2 x ``interval`` and apply exactly the 10 new records.
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

from benchmarks.report import Result, cpu
from benchmarks.simserver import RemoteSimulator
from benchmarks.workload import POLL, START, Exporter, FloorClient, floor_parse
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.logio import Fetcher

NEW_RECORDS = 10
SETTLE = int(POLL.overlap // POLL.interval)
POLLS = 30
TARGET_MS = 5.0


class Figures(NamedTuple):
    """One poll: CPU seconds of the exporter and of the floor, window width, rows re-read."""

    cpu: float
    floor: float
    width: int
    reread: int


class Recording:
    """A ``Fetcher`` that notes each window asked for, then asks the real client."""

    def __init__(self, client: Fetcher) -> None:
        self.client = client
        self.windows: list[tuple[int, int]] = []

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        self.windows.append((frm, to))
        return self.client.fetch(frm, to, name)


class Steady:
    """An exporter with the week loaded, the simulator it polls and a floor client."""

    def __init__(self, sim: RemoteSimulator) -> None:
        self.sim, self.now = sim, float(START)
        self.recorder: Recording | None = None
        self.exporter = Exporter(sim.url, "csv", clock=lambda: self.now, wrap=self._record)
        self.floor = FloorClient(sim.url, "csv")
        self.exporter.poll()
        self.names = list(self.exporter.state.sessions.agents)
        self.polls = 0

    def poll(self) -> Figures:
        """Add the new records, move the clock on by an interval and poll."""
        self._add_records()
        self.now += POLL.interval
        sessions = self.exporter.state.sessions
        before = sum(sessions.records_total.values())
        seconds = cpu(self.exporter.poll)
        if sum(sessions.records_total.values()) - before != NEW_RECORDS:
            raise RuntimeError("a steady poll must apply exactly the new records")
        assert self.recorder is not None
        frm, to = self.recorder.windows[-1]
        rows: list[object] = []
        floor = cpu(lambda: rows.extend(floor_parse(self.floor.fetch(frm, to), "csv")))
        return Figures(seconds, floor, to - frm, len(rows) - NEW_RECORDS)

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


def steady_poll(sim: RemoteSimulator) -> Result:
    """Load the week, let the overlap settle, then measure ``POLLS`` polls."""
    steady = Steady(sim)
    try:
        settling = [steady.poll() for _ in range(SETTLE)]
        measured = [steady.poll() for _ in range(POLLS)]
    finally:
        steady.close()
    return _result(settling, measured)


def _result(settling: list[Figures], measured: list[Figures]) -> Result:
    limit = int(POLL.overlap + 2 * POLL.interval)
    widest = max(figures.width for figures in [*settling, *measured])
    peak = settling[:3]
    value = statistics.median(figures.cpu for figures in measured) * 1000
    floor = statistics.median(figures.floor for figures in measured) * 1000
    extra = {
        "max_ms_cpu": f"{max(figures.cpu for figures in measured) * 1000:.2f}",
        "reread": str(measured[-1].reread),
        "peak_ms_cpu": f"{statistics.median(figures.cpu for figures in peak) * 1000:.2f}",
        "peak_reread": str(peak[0].reread),
        "window_s": str(widest),
        "window_limit_s": str(limit),
        "new_records": str(NEW_RECORDS),
        "polls": str(POLLS),
    }
    checks = {"window_ok": widest <= limit}
    return Result("steady_poll", value, floor, TARGET_MS, "ms_cpu", "value", extra, checks)
