"""``scrape_10k``: rendering ``/metrics`` for a workspace of 10,000 agents.

Timed: ``generate_latest`` of a registry holding the exporter's collector, which builds the
metric families from the state and renders them. Floor: ``generate_latest`` of a registry
whose collector yields the very same families, made beforehand (and only for that run),
so the difference is what the collector adds to prometheus_client's own rendering.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from benchmarks.report import Result, interleaved, wall
from benchmarks.workload import METRICS, START
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.state import ExporterState, WorkspaceState

AGENTS = 10_000
TARGET = 1.3
REPETITIONS = 15


class ReadyMade(Collector):
    """Yields families built once, as a collector with nothing to compute would."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def busy_workspace(agents: int) -> WorkspaceState:
    """A workspace where every agent logged in once and every other one logged out again."""
    workspace = WorkspaceState("bench", METRICS.session_duration_buckets)
    sessions = workspace.sessions
    sessions.start_counting(START - 86400)
    names = [f"agent-{index:05d}@example.com" for index in range(agents)]
    logins = [Record(name, START - 3600 + index % 1800, LOGIN) for index, name in enumerate(names)]
    logouts = [Record(name, START - 600, LOGOUT) for name in names[::2]]
    sessions.apply(logins)
    sessions.apply(logouts)
    sessions.advance(START)
    return workspace


def scrape_10k() -> Result:
    state = ExporterState()
    state.add(busy_workspace(AGENTS))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LogioCollector(state))
    body = generate_latest(registry)
    if body != generate_latest(_ready_made(registry)):
        raise RuntimeError("the floor must render the same exposition")
    value, floor = interleaved(
        lambda: wall(lambda: generate_latest(registry)),
        lambda: _floor(registry),
        REPETITIONS,
    )
    samples = sum(len(family.samples) for family in registry.collect())
    extra = {
        "median_ms": f"{value * 1000:.1f}",
        "floor_ms": f"{floor * 1000:.1f}",
        "agents": str(AGENTS),
        "samples": str(samples),
        "bytes": str(len(body)),
        "repetitions": str(REPETITIONS),
    }
    return Result("scrape_10k", value, floor, TARGET, "s", "ratio", extra)


def _ready_made(registry: CollectorRegistry) -> CollectorRegistry:
    """A registry holding, ready-made, the families ``registry`` yields now."""
    ready = CollectorRegistry(auto_describe=False)
    ready.register(ReadyMade(registry.collect()))
    return ready


def _floor(registry: CollectorRegistry) -> float:
    """Seconds to render the same families made beforehand. They exist only for this run,
    as the exporter's process holds no such copy while it renders."""
    ready = _ready_made(registry)
    gc.collect()
    return wall(lambda: generate_latest(ready))
