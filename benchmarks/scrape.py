"""``scrape_10k``, ``scrape_50k``, ``scrape_concurrent``: ``/metrics`` as Prometheus asks.

A workspace where every agent logged in within the hour and every other one logged out
again. Before each scrape a poll brings 10 records for 10 agents and moves the state's
clock, as between two real scrapes. The scrapes come from another process
(``benchmarks.scrapers``) over loopback HTTP with Prometheus' headers (OpenMetrics, gzip),
timed there from the request to the answer's last byte, against ``ExporterServer``:

- value: rendering through ``Exposition``, as ``run`` serves ``/metrics``;
- floor: rendering through prometheus_client (``negotiate``, gzip included) the same
  samples as families made beforehand: what these samples cost without the kept lines.

``scrape_concurrent``: 20 scrapers at once, each in a loop, with 3 connections open that
never send a request and a poll every 50 ms; value: the p99 latency, floor: the median of
the same scrape alone, each after a poll.
"""

from __future__ import annotations

import gzip
import http.client
import json
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import IO

from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from benchmarks.report import Result, interleaved
from benchmarks.scrapers import HEADERS
from benchmarks.workload import METRICS, START
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.exposition import Exposition
from exporter.state import ExporterState, WorkspaceState
from exporter.web.server import ExporterServer

CHANGED = 10
TARGETS = {10_000: 0.040, 50_000: 0.250}
"""Seconds a scrape may take, by agents."""
RATIO = 0.1
REPETITIONS = {10_000: 15, 50_000: 7}
CONCURRENT = 20
IDLE = 3
ROUNDS = 10
POLL_EVERY = 0.05
CONCURRENT_TARGET = 3.0


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


class Polls:
    """Polls of ``workspace``, each bringing a record for ``CHANGED`` agents, 15 s apart."""

    def __init__(self, workspace: WorkspaceState, agents: int) -> None:
        self.workspace, self.agents, self.now, self.count = workspace, agents, START, 0

    def poll(self) -> None:
        self.now += 15
        records = []
        for _ in range(CHANGED):
            self.count += 1
            name = f"agent-{self.count * 7919 % self.agents:05d}@example.com"
            records.append(Record(name, self.now, LOGIN if self.count % 2 else LOGOUT))
        with self.workspace.lock:
            self.workspace.sessions.apply(records)
            self.workspace.sessions.advance(self.now)


class Scrapers:
    """``python -m benchmarks.scrapers``, spoken to over its stdin and stdout."""

    def __init__(self) -> None:
        command = [sys.executable, "-m", "benchmarks.scrapers"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, *command: object) -> dict[str, object]:
        stdin, stdout = self._pipes()
        stdin.write(" ".join(map(str, command)) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError("the scrapers' process ended early")
        answer: dict[str, object] = json.loads(line)
        return answer

    def scrape(self, port: int) -> float:
        seconds = self.ask("scrape", port)["seconds"]
        assert isinstance(seconds, float)
        return seconds

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def close(self) -> None:
        self._pipes()[0].close()
        self.process.wait(timeout=30)


class Served:
    """A workspace of ``agents`` served as ``run`` serves it, and its floor's server."""

    def __init__(self, agents: int) -> None:
        self.agents = agents
        self.workspace = busy_workspace(agents)
        self.polls = Polls(self.workspace, agents)
        state = ExporterState()
        state.add(self.workspace)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LogioCollector(state))
        exposition = Exposition(LogioCollector(state))
        self.server = ExporterServer("127.0.0.1:0", self.registry, render=exposition.render)
        self.ready = ReadyMade(())
        ready = CollectorRegistry(auto_describe=False)
        ready.register(self.ready)
        self.floor = ExporterServer("127.0.0.1:0", ready)
        for server in (self.server, self.floor):
            server.start()

    def check(self) -> tuple[int, int, int]:
        """Make the floor's families of the state now; both servers must answer what
        prometheus_client renders of it. Its samples and bytes, and the exporter's
        gzipped bytes."""
        self.ready.families = list(self.registry.collect())
        expected = generate_latest(self.registry)
        bodies = []
        for server in (self.server, self.floor):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            connection.request("GET", "/metrics", headers=HEADERS)
            bodies.append(connection.getresponse().read())
            connection.close()
            if gzip.decompress(bodies[-1]) != expected:
                raise RuntimeError("the exposition differs from prometheus_client's")
        samples = sum(1 for line in expected.splitlines() if not line.startswith(b"#"))
        return samples, len(expected), len(bodies[0])

    def close(self) -> None:
        for server in (self.server, self.floor):
            server.shutdown()
            server.server_close()


def scrape(scrapers: Scrapers, agents: int) -> Result:
    """``scrape_10k`` or ``scrape_50k``."""
    served = Served(agents)
    try:
        scrapers.scrape(served.server.port)  # the first scrape renders every line
        served.polls.poll()
        samples, size, gzipped = served.check()

        def exporter() -> float:
            served.polls.poll()
            return scrapers.scrape(served.server.port)

        repetitions = REPETITIONS[agents]
        value, floor = interleaved(
            exporter, lambda: scrapers.scrape(served.floor.port), repetitions
        )
    finally:
        served.close()
    extra = {
        "median_ms": f"{value * 1000:.1f}",
        "floor_ms": f"{floor * 1000:.1f}",
        "agents": str(agents),
        "changed": str(CHANGED),
        "samples": str(samples),
        "bytes": str(size),
        "gzip_bytes": str(gzipped),
        "repetitions": str(repetitions),
    }
    checks = {f"ratio_le_{RATIO}": value <= RATIO * floor}
    name = f"scrape_{agents // 1000}k"
    return Result(name, value, floor, TARGETS[agents], "s", "value", extra, checks)


def scrape_concurrent(scrapers: Scrapers, agents: int = 10_000) -> Result:
    """``CONCURRENT`` scrapers and ``IDLE`` silent connections, polls going on."""
    served = Served(agents)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(POLL_EVERY):
            served.polls.poll()

    poller = threading.Thread(target=poll, daemon=True)
    try:
        scrapers.scrape(served.server.port)
        alone = []
        for _ in range(REPETITIONS[agents]):
            served.polls.poll()
            alone.append(scrapers.scrape(served.server.port))
        poller.start()
        answer = scrapers.ask("together", served.server.port, CONCURRENT, IDLE, ROUNDS)
    finally:
        stop.set()
        poller.join()
        served.close()
    latencies = answer["seconds"]
    assert isinstance(latencies, list)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    lone = statistics.median(alone)
    extra = {
        "p99_ms": f"{p99 * 1000:.1f}",
        "median_ms": f"{statistics.median(latencies) * 1000:.1f}",
        "alone_ms": f"{lone * 1000:.1f}",
        "max_ms": f"{max(latencies) * 1000:.1f}",
        "scrapers": str(CONCURRENT),
        "idle": str(IDLE),
        "scrapes": str(len(latencies)),
        "agents": str(agents),
    }
    return Result("scrape_concurrent", p99, lone, CONCURRENT_TARGET, "s", "ratio", extra)
