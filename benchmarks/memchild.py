"""One ingest of the week in a fresh process, for ``ingest_memory``; prints JSON figures.

``python -m benchmarks.memchild URL FORMAT exporter|floor`` wires everything, reads its
resident set size (``VmRSS``) as the idle baseline, resets the high-water mark through
``/proc/self/clear_refs`` and runs the ingest; ``peak`` is then ``VmHWM``, in bytes.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.workload import Exporter, FloorClient, floor_parse, initial_windows
from exporter.core.records import Format

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


def ingest(url: str, fmt: Format, side: str) -> Callable[[], object]:
    """The ingest to run, with its client already made, so idle includes it."""
    if side == "exporter":
        exporter = Exporter(url, fmt)
        return exporter.poll
    client, windows = FloorClient(url, fmt), initial_windows()
    return lambda: [len(floor_parse(client.fetch(frm, to), fmt)) for frm, to in windows]


def main() -> None:
    url, fmt, side = sys.argv[1:4]
    run = ingest(url, "json" if fmt == "json" else "csv", side)
    gc.collect()
    idle = status_bytes("VmRSS")
    reset = reset_peak()
    run()
    print(json.dumps({"idle": idle, "peak": status_bytes("VmHWM"), "reset": reset}))


if __name__ == "__main__":
    main()
