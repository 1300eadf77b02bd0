"""Business hours and the staffing plan on /metrics, at fixed instants of the clock.

The exporter runs in this process with a fake clock, polling the simulator over loopback
HTTP, and /metrics is read from its server. The config is the issue's example schedule at
the top (Stockholm), and a workspace in Kuala Lumpur with a schedule of its own, which
replaces the top-level one whole: no staffing plan, no holidays. Expected values are
worked out by hand: Stockholm is UTC+1 in winter and UTC+2 from 2026-03-29 to 2026-10-25;
Kuala Lumpur is UTC+8 all year.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from instants import utc
from prometheus_client.parser import text_string_to_metric_families
from schedules import ISSUE_EXAMPLE

from exporter.config import load_config
from exporter.daemon import Exporter
from exporter.simulator import Scenario, SimulatorServer
from exporter.web.server import ExporterServer

TOKEN = "hours-token-7d2"
START = utc(2026, 1, 14, 5)

WORKSPACES = """\
poll: {{interval: 1h, lookback: 1h, overlap: 10m}}
workspaces:
  - workspace: stockholm
    api_url: {stockholm}
    token: {token}
  - workspace: kl
    api_url: {kl}
    token: {token}
    schedule:
      timezone: Asia/Kuala_Lumpur
      hours: {{sun-thu: ["09:00-18:00"]}}
"""
"""After the issue's schedule: two workspaces, kl with its own; ``format`` fills it in."""


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


class Running:
    """The exporter, its server and the clock they share with the simulators."""

    def __init__(self, exporter: Exporter, server: ExporterServer, clock: Clock) -> None:
        self.exporter, self.server, self.clock = exporter, server, clock

    def scrape(self, at: int) -> dict[tuple[str, str], float]:
        """``(metric, workspace) -> value`` of the schedule's gauges on /metrics at ``at``."""
        self.clock.now = at
        response = httpx.get(f"http://127.0.0.1:{self.server.port}/metrics", timeout=10)
        assert response.status_code == 200
        return {
            (sample.name, sample.labels["workspace"]): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if family.name in ("cention_business_hours", "cention_staffing_required_agents")
        }


@pytest.fixture(name="running", scope="module")
def _running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    clock = Clock(START)
    center = Scenario(start=START, agents=3, seed=4, lookback=3600)
    with (
        SimulatorServer(center, token=TOKEN, workspace="stockholm", clock=clock) as stockholm,
        SimulatorServer(center, token=TOKEN, workspace="kl", clock=clock) as kl,
    ):
        path: Path = tmp_path_factory.mktemp("hours") / "config.yaml"
        workspaces = WORKSPACES.format(stockholm=stockholm.url, kl=kl.url, token=TOKEN)
        path.write_text(ISSUE_EXAMPLE + workspaces)
        exporter = Exporter(load_config(path, {}), clock=clock)
        exporter.start()
        server = ExporterServer("127.0.0.1:0", exporter.registry)
        server.start()
        yield Running(exporter, server, clock)
        server.shutdown()
        server.server_close()
        exporter.stop()


def gauges(stockholm_open: int, required: int, kl_open: int) -> dict[tuple[str, str], float]:
    return {
        ("cention_business_hours", "stockholm"): stockholm_open,
        ("cention_staffing_required_agents", "stockholm"): required,
        ("cention_business_hours", "kl"): kl_open,
    }


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Winter, Wednesday 2026-01-14: Stockholm 08:00 is 07:00 UTC, Kuala Lumpur 15:00.
        pytest.param(utc(2026, 1, 14, 6, 59, 59), gauges(0, 0, 1), id="winter-07:59:59"),
        pytest.param(utc(2026, 1, 14, 7), gauges(1, 5, 1), id="winter-08:00"),
        pytest.param(utc(2026, 1, 14, 11), gauges(1, 3, 0), id="winter-12:00"),
        pytest.param(utc(2026, 1, 14, 15, 59, 59), gauges(1, 3, 0), id="winter-16:59:59"),
        pytest.param(utc(2026, 1, 14, 16), gauges(0, 0, 0), id="winter-17:00"),
        # Summer, Wednesday 2026-07-15: Stockholm 08:00 is 06:00 UTC, Kuala Lumpur 14:00.
        pytest.param(utc(2026, 7, 15, 5, 59, 59), gauges(0, 0, 1), id="summer-07:59:59"),
        pytest.param(utc(2026, 7, 15, 6), gauges(1, 5, 1), id="summer-08:00"),
        pytest.param(utc(2026, 7, 15, 10), gauges(1, 3, 0), id="summer-12:00"),
        pytest.param(utc(2026, 7, 15, 15), gauges(0, 0, 0), id="summer-17:00"),
        # Saturday 10:00 in Stockholm is open with its own plan; Kuala Lumpur is closed.
        pytest.param(utc(2026, 7, 18, 8), gauges(1, 2, 0), id="saturday-10:00"),
        # Sunday 11:59:59 in Stockholm, closed; 17:59:59 in Kuala Lumpur, open.
        pytest.param(utc(2026, 7, 19, 9, 59, 59), gauges(0, 0, 1), id="sunday"),
        # Christmas Eve, a Thursday: closed in Stockholm; Kuala Lumpur has no holidays.
        pytest.param(utc(2026, 12, 24, 9), gauges(0, 0, 1), id="holiday"),
    ],
)
def test_gauges_follow_the_local_clock(
    running: Running, at: int, expected: dict[tuple[str, str], float]
) -> None:
    """Each workspace's gauges at the scrape's instant, by its own schedule."""
    assert running.scrape(at) == expected
