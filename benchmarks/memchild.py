"""One initial lookback in a fresh process, for ``ingest_memory`` and ``state_memory``.

``python -m benchmarks.memchild URL FORMAT`` wires a workspace as the exporter does,
reads its resident set size (``VmRSS``) as the idle baseline, resets the high-water mark
through ``/proc/self/clear_refs`` and runs the initial lookback through the real poller;
then ``peak`` is ``VmHWM`` and ``retained`` the ``VmRSS`` left once it is over. Last it
renders ``/metrics`` twice as ``run`` serves it to Prometheus (OpenMetrics, gzip, the
per-agent lines kept from the first for the second): ``scrape_peak`` is the high-water
mark of that and ``scraped`` the ``VmRSS`` after, the state and the kept lines, what a
running exporter holds. All in bytes, printed as JSON with the agents held and the
requests made.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

from benchmarks.scrapers import HEADERS
from benchmarks.workload import Exporter
from exporter.collector import LogioCollector
from exporter.exposition import Exposition
from exporter.state import ExporterState

STATUS = Path("/proc/self/status")


def status_bytes(field: str) -> int:
    """A ``kB`` line of ``/proc/self/status`` in bytes."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from {STATUS}")


def reset_peak() -> bool:
    """Make ``VmHWM`` the current ``VmRSS`` (Linux 4.0 and later); False where refused,
    and then the peak may be one of start-up, which only overstates it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main() -> None:
    url, fmt = sys.argv[1:3]
    exporter = Exporter(url, "json" if fmt == "json" else "csv")
    gc.collect()
    idle = status_bytes("VmRSS")
    reset = reset_peak()
    exporter.poll()
    peak = status_bytes("VmHWM")
    gc.collect()
    retained = status_bytes("VmRSS")
    reset = reset_peak() and reset
    exposition = served(exporter)
    for _ in range(2):
        exposition.render(HEADERS["Accept"], gzipped=True)
    scrape_peak = status_bytes("VmHWM")
    gc.collect()
    figures = {
        "idle": idle,
        "peak": peak,
        "retained": retained,
        "scrape_peak": scrape_peak,
        "scraped": status_bytes("VmRSS"),
        "reset": reset,
        "agents": len(exporter.state.sessions.agents),
        "requests": exporter.poller.reader.requests,
    }
    print(json.dumps(figures))


def served(exporter: Exporter) -> Exposition:
    """``/metrics`` of the workspace as ``run`` serves it."""
    state = ExporterState()
    state.add(exporter.state)
    return Exposition(LogioCollector(state))


if __name__ == "__main__":
    main()
