"""A real Prometheus scraping 10,000 agents served from the kept lines.

Debian's ``prometheus`` scrapes an ``ExporterServer`` on loopback every 2 s while polls
change agents between scrapes, as they would in production; then the polls stop and two
more scrapes come. Every scrape must have succeeded, the last one must have read exactly
the samples the exporter renders, and every agent's name must arrive as it was.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, CollectorRegistry
from test_e2e_prometheus import Daemon, query, start_prometheus
from test_exposition import ODD, PROMETHEUS

from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.exposition import Exposition
from exporter.state import ExporterState, WorkspaceState
from exporter.web.server import ExporterServer

AGENTS = 10_000
START = 1_767_272_400
NAMES = [f"agent-{index:05d}@example.com" for index in range(AGENTS - len(ODD) + 1)]
NAMES += [name for name in ODD if "\x00" not in name]
"""10,000 agents, a few with odd names."""


class Polling:
    """A workspace of ``NAMES``, all logged in and every other one out again, and polls
    that bring 10 records every 0.2 s: logins of agents already in, which change their
    values but not which samples they have."""

    def __init__(self) -> None:
        self.workspace = WorkspaceState("big", (60.0, 3600.0))
        sessions, self.now = self.workspace.sessions, START
        sessions.start_counting(START - 86400)
        sessions.apply([Record(name, START - 3600, LOGIN) for name in NAMES])
        sessions.apply([Record(name, START - 600, LOGOUT) for name in NAMES[::2]])
        sessions.advance(START)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        still_in, polls = NAMES[1::2], 0
        while not self.stop.wait(0.2):
            polls += 1
            self.now += 15
            chosen = [still_in[(polls * 10 + k) % len(still_in)] for k in range(10)]
            with self.workspace.lock:
                self.workspace.sessions.apply([Record(n, self.now, LOGIN) for n in chosen])
                self.workspace.sessions.advance(self.now)


@pytest.fixture(name="served")
def fixture_served() -> Iterator[tuple[ExporterServer, Exposition, Polling]]:
    polling = Polling()
    state = ExporterState()
    state.add(polling.workspace)
    collector, others = LogioCollector(state), (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)
    registry = CollectorRegistry(auto_describe=True)
    for each in (collector, *others):
        registry.register(each)
    exposition = Exposition(collector, others)  # as the daemon wires them
    exposition.render(PROMETHEUS, gzipped=True)  # the first render makes every line
    server = ExporterServer("127.0.0.1:0", registry, render=exposition.render)
    server.start()
    polling.thread.start()
    yield server, exposition, polling
    polling.stop.set()
    polling.thread.join()
    server.shutdown()
    server.server_close()


def scrapes(prometheus: Daemon) -> int:
    """How many scrapes of the exporter Prometheus has recorded in the last 5 minutes."""
    found = query(prometheus, 'count_over_time(up{job="cention"}[5m])')
    return int(found[0]["value"][1]) if found else 0


def test_prometheus_reads_every_sample(
    served: tuple[ExporterServer, Exposition, Polling], tmp_path: Path
) -> None:
    """Prometheus scrapes without an error and reads the samples rendered, every name."""
    server, exposition, polling = served
    config = {
        "global": {"scrape_interval": "2s", "scrape_timeout": "2s"},
        "scrape_configs": [
            {"job_name": "cention", "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus = start_prometheus(tmp_path / "prometheus.yml", tmp_path)
    try:
        prometheus.wait_for(lambda: scrapes(prometheus) >= 3, "three scrapes while polling")
        polling.stop.set()
        polling.thread.join()
        settled = scrapes(prometheus)
        prometheus.wait_for(lambda: scrapes(prometheus) >= settled + 2, "two more scrapes")
        body, _ = exposition.render(PROMETHEUS, gzipped=True)
        rendered = [line for line in gzip.decompress(body).splitlines() if line[:1] != b"#"]
        assert query(prometheus, 'min_over_time(up{job="cention"}[5m])')[0]["value"][1] == "1"
        (target,) = prometheus.get("/api/v1/targets")["data"]["activeTargets"]
        assert (target["health"], target["lastError"]) == ("up", "")
        samples = query(prometheus, 'scrape_samples_scraped{job="cention"}')
        assert samples[0]["value"][1] == str(len(rendered))
        series = query(prometheus, 'cention_agent_logins_total{workspace="big"}')
        assert sorted(s["metric"]["agent"] for s in series) == sorted(NAMES)
    finally:
        prometheus.stop()
