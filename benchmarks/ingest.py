"""``ingest_csv`` and ``ingest_json``: the initial lookback of a week of 5,000 agents.

Timed from the first request to the state fully applied, against the floor of fetching
the same bytes and parsing them with the standard library (``benchmarks.workload``):
``json.loads``, or ``csv.reader`` plus ``int``. The exporter parses, checks, deduplicates
and rebuilds sessions on top, yet JSON must take no longer than ``json.loads`` alone.
"""

from __future__ import annotations

from benchmarks.report import Result, interleaved
from benchmarks.workload import AGENTS, exporter_ingest, floor_ingest, initial_windows
from exporter.core.records import Format

TARGETS: dict[Format, float] = {"csv": 1.3, "json": 1.0}
"""The highest ratio to the floor each format may reach."""
REPETITIONS = 7


def ingest(url: str, fmt: Format) -> Result:
    """One ``ingest_<fmt>`` line; a first untimed round warms the server's cache."""
    windows = initial_windows()
    exporter_ingest(url, fmt)
    rows = floor_ingest(url, fmt, windows)[1]
    value, floor = interleaved(
        lambda: exporter_ingest(url, fmt),
        lambda: floor_ingest(url, fmt, windows)[0],
        REPETITIONS,
    )
    extra = {
        "records": str(rows),
        "records_per_s": f"{rows / value:.0f}",
        "floor_records_per_s": f"{rows / floor:.0f}",
        "agents": str(AGENTS),
        "windows": str(len(windows)),
        "repetitions": str(REPETITIONS),
    }
    return Result(f"ingest_{fmt}", value, floor, TARGETS[fmt], "s", "ratio", extra)
