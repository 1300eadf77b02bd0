"""``ingest_memory`` and ``state_memory``: what the initial lookback costs in memory, during
and after, as the system sees it: resident set sizes, not object sizes.

Each figure comes from a fresh child process (``benchmarks.memchild``) that wires a
workspace, reads its resident set size once idle, and runs the initial lookback (a week,
through the real poller and client) against the simulated API over loopback HTTP. The
floor of both lines is that idle process: the exporter with nothing loaded. Each format
is run ``REPETITIONS`` times at 5,000 agents (once at ``LARGE_AGENTS``: the simulator
alone takes minutes to serve that week); the median of a format counts, and the worse
format is the value.

- ``ingest_memory``: the peak above idle during the lookback (``VmHWM``), for 5,000
  agents and for ``LARGE_AGENTS``; the worse of the two sizes is the value. Its figures
  also tell what stays resident at ``LARGE_AGENTS`` and the peak of one scrape then.
- ``state_memory``: what stays resident once the lookback is over, per agent, for 5,000.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import NamedTuple

from benchmarks.report import Result
from benchmarks.simserver import RemoteSimulator
from benchmarks.workload import AGENTS, START
from exporter.core.records import Format

MB = 1_000_000
INGEST_TARGET_MB = 64.0
STATE_TARGET_BYTES = 2048.0
LARGE_AGENTS = 50_000
REPETITIONS = 3
LARGE_REPETITIONS = 1
FORMATS: tuple[Format, ...] = ("csv", "json")


class Child(NamedTuple):
    """The figures of one child's lookback, in bytes."""

    idle: int
    peak: int
    retained: int
    scrape_peak: int
    scraped: int
    reset: bool
    agents: int
    requests: int


def ingest_memory(url: str) -> Result:
    """Peak resident memory above idle during the lookback, 5,000 and 50,000 agents."""
    runs = {(AGENTS, fmt): children(url, fmt) for fmt in FORMATS}
    with RemoteSimulator(agents=LARGE_AGENTS, start=START) as large:
        runs |= {
            (LARGE_AGENTS, fmt): children(large.url, fmt, LARGE_REPETITIONS) for fmt in FORMATS
        }
    peaks = {key: _above_idle(found, "peak") / MB for key, found in runs.items()}
    extra = {f"{fmt}_{agents // 1000}k_mb": f"{peak:.1f}" for (agents, fmt), peak in peaks.items()}
    extra |= {
        f"requests_{agents // 1000}k_{fmt}": str(found[0].requests)
        for (agents, fmt), found in runs.items()
    }
    for figure in ("retained", "scrape_peak", "scraped"):
        worst = max(_above_idle(runs[LARGE_AGENTS, fmt], figure) for fmt in FORMATS)
        extra[f"{figure}_{LARGE_AGENTS // 1000}k_mb"] = f"{worst / MB:.1f}"
    extra |= _common(runs)
    idle = statistics.median(child.idle for found in runs.values() for child in found) / MB
    return Result(
        "ingest_memory", max(peaks.values()), idle, INGEST_TARGET_MB, "MB", "value", extra
    )


def state_memory(url: str) -> Result:
    """Resident bytes per agent that stay once the lookback of 5,000 agents is over."""
    runs = {(AGENTS, fmt): children(url, fmt) for fmt in FORMATS}
    held = {fmt: _above_idle(runs[AGENTS, fmt], "retained") for fmt in FORMATS}
    agents = runs[AGENTS, "csv"][0].agents
    idle = statistics.median(child.idle for found in runs.values() for child in found)
    extra = {f"{fmt}_mb": f"{held[fmt] / MB:.1f}" for fmt in FORMATS}
    extra |= {"agents": str(agents), "idle_mb": f"{idle / MB:.1f}"} | _common(runs)
    value = max(held.values()) / agents
    return Result("state_memory", value, idle / agents, STATE_TARGET_BYTES, "B", "value", extra)


def children(url: str, fmt: Format, repetitions: int = REPETITIONS) -> list[Child]:
    """The figures of fresh children reading the lookback in ``fmt``."""
    return [_child(url, fmt) for _ in range(repetitions)]


def _child(url: str, fmt: Format) -> Child:
    command = [sys.executable, "-m", "benchmarks.memchild", url, fmt]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, check=True, timeout=900
    )
    return Child(**json.loads(done.stdout))


def _above_idle(found: list[Child], figure: str) -> float:
    """The median of ``figure`` above each child's own idle."""
    return statistics.median(getattr(child, figure) - child.idle for child in found)


def _common(runs: dict[tuple[int, Format], list[Child]]) -> dict[str, str]:
    reset = all(child.reset for found in runs.values() for child in found)
    return {"peak_reset": "yes" if reset else "no", "repetitions": str(REPETITIONS)}
