"""``python -m benchmarks [NAME ...]``: run the benchmarks, one line each; exit 1 on a FAIL.

With names, only those run (``python -m benchmarks scrape_10k steady_poll``).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from contextlib import closing

from benchmarks.ingest import ingest
from benchmarks.memory import ingest_memory, state_memory
from benchmarks.report import Result
from benchmarks.scrape import Scrapers, scrape, scrape_concurrent
from benchmarks.simserver import RemoteSimulator
from benchmarks.state_save import state_save
from benchmarks.steady import steady_poll
from benchmarks.workload import AGENTS, START

SERVED: dict[str, Callable[[RemoteSimulator], Result]] = {
    "ingest_csv": lambda sim: ingest(sim.url, "csv"),
    "ingest_json": lambda sim: ingest(sim.url, "json"),
    "ingest_memory": lambda sim: ingest_memory(sim.url),
    "steady_poll": steady_poll,
    "state_memory": lambda sim: state_memory(sim.url),
}
"""The benchmarks that read the simulated week over HTTP."""
LOCAL: dict[str, Callable[[], Result]] = {"state_save": state_save}
"""The benchmarks that need no simulator."""
SCRAPES: dict[str, Callable[[Scrapers], Result]] = {
    "scrape_10k": lambda scrapers: scrape(scrapers, 10_000),
    "scrape_50k": lambda scrapers: scrape(scrapers, 50_000),
    "scrape_concurrent": scrape_concurrent,
}
"""The benchmarks that scrape ``/metrics`` from another process."""
NAMES = [*SERVED, *LOCAL, *SCRAPES]


def main(argv: list[str]) -> int:
    chosen = argv or NAMES
    unknown = sorted(set(chosen) - set(NAMES))
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
        return 2
    print(f"# {platform.python_implementation()} {platform.python_version()}", flush=True)
    started = time.perf_counter()
    results = _served([name for name in chosen if name in SERVED])
    results += [_report(LOCAL[name]()) for name in LOCAL if name in chosen]
    results += _scraped([name for name in chosen if name in SCRAPES])
    print(f"# {len(results)} benchmarks in {time.perf_counter() - started:.0f}s", flush=True)
    return 0 if all(result.ok for result in results) else 1


def _served(names: list[str]) -> list[Result]:
    """Run ``names`` against one simulator of the week, started only if needed."""
    if not names:
        return []
    with RemoteSimulator(agents=AGENTS, start=START) as sim:
        return [_report(SERVED[name](sim)) for name in names]


def _scraped(names: list[str]) -> list[Result]:
    """Run ``names`` with one process of scrapers, started only if needed."""
    if not names:
        return []
    with closing(Scrapers()) as scrapers:
        return [_report(SCRAPES[name](scrapers)) for name in names]


def _report(result: Result) -> Result:
    print(result.line(), flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
