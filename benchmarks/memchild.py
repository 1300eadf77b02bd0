"""One initial lookback in a fresh process, for ``ingest_memory`` and ``state_memory``.

``python -m benchmarks.memchild URL FORMAT`` wires a workspace as the exporter does,
reads its resident set size (``VmRSS``) as the idle baseline, resets the high-water mark
through ``/proc/self/clear_refs`` and runs the initial lookback through the real poller;
then ``peak`` is ``VmHWM`` and ``retained`` the ``VmRSS`` left once it is over. Last it
renders ``/metrics`` once as Prometheus asks for it (OpenMetrics, gzip): ``scrape_peak``
is the high-water mark of that. All in bytes, printed as JSON with the agents held and
the requests made.
"""

from __future__ import annotations

import gc
import gzip
import json
import sys
from pathlib import Path

from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from benchmarks.workload import Exporter
from exporter.collector import LogioCollector
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
    scrape(exporter)
    figures = {
        "idle": idle,
        "peak": peak,
        "retained": retained,
        "scrape_peak": status_bytes("VmHWM"),
        "reset": reset,
        "agents": len(exporter.state.sessions.agents),
        "requests": exporter.poller.reader.requests,
    }
    print(json.dumps(figures))


def scrape(exporter: Exporter) -> int:
    """The bytes of one ``/metrics`` answer of the workspace, rendered as served."""
    state = ExporterState()
    state.add(exporter.state)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LogioCollector(state))
    return len(gzip.compress(generate_latest(registry), compresslevel=1))


if __name__ == "__main__":
    main()
