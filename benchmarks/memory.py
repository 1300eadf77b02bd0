"""``ingest_memory`` and ``state_memory``: what the week costs in memory, during and after.

``ingest_memory`` runs the initial lookback in a child process (``benchmarks.memchild``)
that reads its resident set size once idle, with everything imported and wired, resets
its high-water mark and reads that mark after the ingest: the peak above idle. Its floor
is the same child fetching and parsing the same bytes the floor way. Each format is run,
and the worse one is the value.

``state_memory`` is the memory a workspace holds once the week is applied, per agent,
traced with ``tracemalloc``: its state and its poller, with the poller's shared names,
and its client. Its floor is the same per-agent facts held in the plainest form Python
has, a dict of tuples.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import TypeVar

from benchmarks.report import Result
from benchmarks.workload import AGENTS, Exporter, FloorClient, initial_windows
from exporter.core.records import Format
from exporter.core.sessions import Agent

MB = 1_000_000
INGEST_TARGET_MB = 300.0
STATE_TARGET_BYTES = 2048.0
REPETITIONS = 3
FORMATS: tuple[Format, ...] = ("csv", "json")
SIDES = ("exporter", "floor")
T = TypeVar("T")


def ingest_memory(url: str) -> Result:
    """Peak resident memory above idle while ingesting the week, exporter and floor."""
    runs = {(fmt, side): _children(url, fmt, side) for fmt in FORMATS for side in SIDES}
    peaks = {key: statistics.median(peak for peak, _ in found) / MB for key, found in runs.items()}
    extra = {f"{fmt}_mb": f"{peaks[fmt, 'exporter']:.1f}" for fmt in FORMATS}
    extra |= {f"floor_{fmt}_mb": f"{peaks[fmt, 'floor']:.1f}" for fmt in FORMATS}
    reset = all(reset for found in runs.values() for _, reset in found)
    extra |= {"peak_reset": "yes" if reset else "no", "repetitions": str(REPETITIONS)}
    value = max(peaks[fmt, "exporter"] for fmt in FORMATS)
    floor = max(peaks[fmt, "floor"] for fmt in FORMATS)
    return Result("ingest_memory", value, floor, INGEST_TARGET_MB, "MB", "value", extra)


def _children(url: str, fmt: Format, side: str) -> list[tuple[int, bool]]:
    """Peak bytes above idle, and whether the peak was reset, of fresh child processes."""
    return [_child(url, fmt, side) for _ in range(REPETITIONS)]


def _child(url: str, fmt: Format, side: str) -> tuple[int, bool]:
    command = [sys.executable, "-m", "benchmarks.memchild", url, fmt, side]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, check=True, timeout=600
    )
    figures = json.loads(done.stdout)
    return int(figures["peak"]) - int(figures["idle"]), bool(figures["reset"])


def state_memory(url: str) -> Result:
    """Bytes per agent that a workspace holds once the week is applied."""
    bodies = _week(url)
    _loaded(bodies)  # once untraced: what the first use of a module sets up is not state
    exporter, held = _traced(lambda: _loaded(bodies))
    state = exporter.state
    agents = len(state.sessions.agents)
    _, plain = _traced(lambda: _plain_facts(state.sessions.agents))
    extra = {
        "agents": str(agents),
        "remembered_records": str(len(state.overlap.records)),
        "total_mb": f"{held / MB:.2f}",
    }
    value, floor = held / agents, plain / agents
    return Result("state_memory", value, floor, STATE_TARGET_BYTES, "B", "value", extra)


def _week(url: str) -> list[bytes]:
    """The week's CSV answers, read before tracing starts."""
    client = FloorClient(url, "csv")
    try:
        return [client.fetch(frm, to) for frm, to in initial_windows()]
    finally:
        client.close()


def _traced(build: Callable[[], T]) -> tuple[T, int]:
    """What ``build`` returns, and the bytes still allocated for it once it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        gc.collect()
        return built, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _loaded(bodies: list[bytes]) -> Exporter:
    """A workspace after the initial lookback through the real poller, from ``bodies``."""
    answers = iter(bodies)
    exporter = Exporter("http://127.0.0.1:9", "csv", wrap=lambda client: _Replay(answers))
    exporter.poll()
    exporter.close()
    if len(exporter.state.sessions.agents) < AGENTS * 0.9:
        raise RuntimeError("the week should hold nearly every agent")
    return exporter


class _Replay:
    """A ``Fetcher`` answering each request with the next body."""

    def __init__(self, answers: Iterator[bytes]) -> None:
        self.answers = answers

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        return next(self.answers)


def _plain_facts(agents: dict[str, Agent]) -> dict[str, tuple[object, ...]]:
    """Each agent's facts as a tuple under a copy of its name, with copies of the values:
    the least plain Python holds the same information in."""
    return {
        name.encode().decode(): tuple(_copy(value) for value in _facts(agent))
        for name, agent in agents.items()
    }


def _facts(agent: Agent) -> tuple[object, ...]:
    return (
        agent.session_start,
        agent.logins,
        agent.logouts,
        agent.closed_seconds,
        agent.floor_seconds,
        agent.last_login,
        agent.last_logout,
        agent.last_record,
    )


def _copy(value: object) -> object:
    """An object equal to ``value`` of the floor's own, as a plain program would hold it:
    new, except where CPython shares one (small ints, None, a literal 0.0)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(str(value))
    if isinstance(value, float):
        return float(repr(value)) if value else value
    return value
