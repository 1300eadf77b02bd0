"""``python -m benchmarks.sizing``: the memory table of ``docs/scaling.md``.

For each number of agents and days of lookback, a fresh child per format reads the
initial lookback from the simulated API (``benchmarks.memchild``) and tells its idle
resident set, its peak during the lookback, what stays resident after it, the peak of
the first two scrapes then (as served: the first renders every agent's lines and keeps
them) and what stays resident with the kept lines; the worse format's figures are
printed as a Markdown table. Not part of ``make bench``: the largest centers take
minutes each.
"""

from __future__ import annotations

import sys

from benchmarks.memory import FORMATS, MB, children
from benchmarks.simserver import RemoteSimulator
from benchmarks.workload import START

SIZES = ((1000, 7), (5000, 1), (5000, 7), (15_000, 7), (50_000, 1), (50_000, 7))
DAY = 86400


def main(argv: list[str]) -> None:
    sizes = [tuple(map(int, arg.split("x"))) for arg in argv] or SIZES
    print("| agents | days | idle | lookback peak | after lookback | scrape peak | steady |")
    print("|---|---|---|---|---|---|---|")
    for agents, days in sizes:
        with RemoteSimulator(agents=agents, start=START, lookback=days * DAY) as sim:
            found = [child for fmt in FORMATS for child in children(sim.url, fmt, 1)]
        idle = max(child.idle for child in found)
        peak = max(child.peak for child in found)
        after = max(child.retained for child in found)
        scrape = max(child.scrape_peak for child in found)
        steady = max(child.scraped for child in found)
        cells = [f"{figure / MB:.0f} MB" for figure in (idle, peak, after, scrape, steady)]
        print(f"| {agents:,} | {days} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
