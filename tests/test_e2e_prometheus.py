"""The dashboard and the alerts, proven on a real Prometheus and Alertmanager.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run on loopback ports with a copy of
the shipped configuration: the same rules, scraping and evaluating every second, with every
``for:`` sixty times shorter. They watch the real exporter polling two simulated workspaces:
``demo``, whose every dashboard query must return data, and ``north``, whose token is
swapped for one the simulator rejects, so that its 401 answers must bring the authentication
alert to Alertmanager.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from harness import ExporterProcess, free_port, run_exporter, value, write_config

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Scenario, SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "grafana" / "cention-logio.json"
TOKEN = "e2e-token-5b7e"
REQUESTS = "cention_logio_requests_total"
FORGOTTEN = "Fredrik Glömsk"
"""An agent who logged in 13 hours ago and never logged out."""
SHORT = "Ebba Kort"
"""An agent who logged in half an hour ago and logs out during the test."""

# Grafana's variables for the dashboard's default range, workspace demo, all agents.
VARIABLES = {
    "$workspace": "demo",
    "$agent": ".*",
    "$__rate_interval": "1m",
    "$__range": "1h",
}


def shortened(duration: str) -> str:
    """A rule's ``for:`` sixty times shorter: minutes become seconds."""
    match = re.fullmatch(r"(\d+)m", duration)
    assert match is not None, duration
    return f"{match[1]}s"


def write_test_config(directory: Path, exporter: str, alertmanager: str) -> Path:
    """prometheus.yml, rules.yml and alerts.yml as shipped, but fast and on loopback."""
    config = yaml.safe_load((SHIPPED / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["scrape_configs"][0]["static_configs"] = [{"targets": [exporter]}]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    for name in config["rule_files"]:
        rules = yaml.safe_load((SHIPPED / name).read_text(encoding="utf-8"))
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = shortened(rule["for"])
        (directory / name).write_text(yaml.safe_dump(rules, allow_unicode=True))
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL with the variables substituted) of every dashboard query."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__interval", panel.get("interval", "15s"))
            for variable, text in VARIABLES.items():
                expr = expr.replace(variable, text)
            queries.append((panel["title"], expr))
    return queries


class Daemon:
    """A Prometheus or Alertmanager subprocess on a loopback port; its log in ``log_path``."""

    def __init__(self, command: list[str], port: int, log_path: Path) -> None:
        self.url, self.log_path = f"http://127.0.0.1:{port}", log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Poll ``condition()`` until true; fail with this daemon's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}:\n{self.log()}")
            try:
                if condition():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; log:\n{self.log()}")

    def ready(self) -> bool:
        return httpx.get(self.url + "/-/ready", timeout=5).status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, (
        f"{name} is not installed (Debian: prometheus, prometheus-alertmanager)"
    )
    return path


def start_prometheus(config: Path, directory: Path) -> Daemon:
    """Prometheus with ``config`` on a free loopback port, its data and log in
    ``directory``, once ready."""
    port = free_port()
    daemon = Daemon(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port,
        directory / "prometheus.log",
    )
    try:
        daemon.wait_for(daemon.ready, "Prometheus /-/ready")
    except BaseException:
        daemon.stop()
        raise
    return daemon


def query(prometheus: Daemon, expr: str) -> list[dict[str, Any]]:
    """The instant vector of ``expr`` now; fails on any error Prometheus reports."""
    answer = prometheus.get("/api/v1/query", query=expr)
    assert (answer["status"], answer["data"]["resultType"]) == ("success", "vector"), expr
    return list(answer["data"]["result"])


def alerts(alertmanager: Daemon, name: str) -> list[dict[str, Any]]:
    """The alerts named ``name`` Alertmanager holds, active or suppressed."""
    return list(alertmanager.get("/api/v2/alerts", filter=f'alertname="{name}"'))


@pytest.fixture(name="demo", scope="module")
def _demo() -> Iterator[SimulatorServer]:
    now = int(time.time())
    scenario = Scenario(start=now, agents=30, seed=11)
    scenario.inject(Record(FORGOTTEN, now - 13 * 3600, LOGIN))
    scenario.inject(Record(SHORT, now - 1800, LOGIN))  # logs out during the test
    with SimulatorServer(scenario, token=TOKEN, workspace="demo") as server:
        yield server


@pytest.fixture(name="north", scope="module")
def _north() -> Iterator[SimulatorServer]:
    scenario = Scenario(start=int(time.time()), agents=10, seed=12)
    server = SimulatorServer(scenario, token=TOKEN, workspace="north")
    server.start()
    yield server
    server.stop()


@pytest.fixture(name="north_token", scope="module")
def _north_token(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The token file of workspace north, which the exporter reads again on reload."""
    path = tmp_path_factory.mktemp("secrets") / "north-token"
    path.write_text(TOKEN, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(name="exporter", scope="module")
def _exporter(
    demo: SimulatorServer,
    north: SimulatorServer,
    north_token: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ExporterProcess]:
    workspaces = [
        {"workspace": "demo", "api_url": demo.url, "token": "${CENTION_TOKEN}"},
        {"workspace": "north", "api_url": north.url, "token_file": str(north_token)},
    ]
    config = write_config(tmp_path_factory.mktemp("exporter") / "config.yaml", workspaces)
    config.chmod(0o600)
    with run_exporter(config, env={"CENTION_TOKEN": TOKEN}) as exporter:
        yield exporter


@pytest.fixture(name="alertmanager", scope="module")
def _alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("alertmanager")
    port = free_port()
    daemon = Daemon(
        [
            binary("prometheus-alertmanager"),
            f"--config.file={ROOT / 'deploy' / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        port,
        directory / "alertmanager.log",
    )
    try:
        daemon.wait_for(daemon.ready, "Alertmanager /-/ready")
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(name="prometheus", scope="module")
def _prometheus(
    exporter: ExporterProcess, alertmanager: Daemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("prometheus")
    config = write_test_config(
        directory, f"127.0.0.1:{exporter.port}", alertmanager.url.removeprefix("http://")
    )
    daemon = start_prometheus(config, directory)
    try:
        daemon.wait_for(
            lambda: query(daemon, 'up{job="cention-logio"} == 1') != [], "the exporter scraped"
        )
        yield daemon
    finally:
        daemon.stop()


class TestFastConfig:
    """The fast copy of the shipped Prometheus configuration."""

    def test_shortened(self):
        """Minutes of `for:` become as many seconds."""
        assert [shortened(d) for d in ("2m", "15m")] == ["2s", "15s"]

    def test_copy_keeps_the_rules(self, tmp_path):
        """The copy has the shipped rules, with only `for:` changed."""
        write_test_config(tmp_path, "127.0.0.1:1", "127.0.0.1:2")
        shipped = yaml.safe_load((SHIPPED / "alerts.yml").read_text(encoding="utf-8"))
        copy = yaml.safe_load((tmp_path / "alerts.yml").read_text(encoding="utf-8"))
        fors = [rule.get("for") for group in copy["groups"] for rule in group["rules"]]
        assert fors == ["2s", "5s", "2s", None, "10s", "15s", None, "15s"]
        for group in shipped["groups"] + copy["groups"]:
            for rule in group["rules"]:
                rule.pop("for", None)
        assert copy == shipped


class TestDashboardQueries:
    """Every query of grafana/cention-logio.json, run by Prometheus."""

    def test_every_panel_query_returns_data(self, prometheus, demo):
        """Each query, variables substituted, returns at least one finite sample."""
        demo.scenario.inject(Record(SHORT, int(time.time()), LOGOUT))  # a completed session
        queries = panel_queries()
        assert len(queries) == 22

        def empty() -> list[tuple[str, str]]:
            return [
                (title, expr)
                for title, expr in queries
                if not any(math.isfinite(float(s["value"][1])) for s in query(prometheus, expr))
            ]

        deadline = time.monotonic() + 60
        while empty() and time.monotonic() < deadline:
            time.sleep(1)
        assert empty() == []

    def test_forgotten_logout_is_in_the_table(self, prometheus):
        """The 12-hour table lists the agent who never logged out, and only that agent."""
        (expr,) = [e for title, e in panel_queries() if title == "Sessions open longer than 12 h"]
        rows = query(prometheus, expr)
        assert [row["metric"] for row in rows] == [{"workspace": "demo", "agent": FORGOTTEN}]
        assert 13 * 3600 <= float(rows[0]["value"][1]) < 13 * 3600 + 300


class TestAlerts:
    """The shipped alerts, evaluated by Prometheus and delivered to Alertmanager."""

    def test_auth_failure_reaches_alertmanager(
        self, prometheus, alertmanager, exporter, north_token
    ):
        """Answers of 401 fire CentionLogioAuthFailing, which Alertmanager holds as active."""
        north_token.write_text("a-revoked-token", encoding="utf-8")
        assert httpx.post(exporter.url + "/-/reload", timeout=10).status_code == 200
        exporter.wait_for(
            lambda: value(exporter.scrape(), REQUESTS, workspace="north", code="401"),
            what="the simulator answering 401",
        )

        def received() -> list[dict[str, Any]]:
            return alerts(alertmanager, "CentionLogioAuthFailing")

        alertmanager.wait_for(lambda: received() != [], "CentionLogioAuthFailing", 90)
        (alert,) = received()
        assert {k: v for k, v in alert["labels"].items() if k != "instance"} == {
            "alertname": "CentionLogioAuthFailing",
            "job": "cention-logio",
            "reason": "auth",
            "severity": "critical",
            "workspace": "north",
        }
        assert alert["status"]["state"] == "active"
        assert alert["annotations"]["summary"] == (
            "The Cention logio API rejects the token of workspace north."
        )
        assert alert["annotations"]["runbook_url"].endswith("runbook.md#centionlogioauthfailing")

        def inhibited() -> bool:
            down = alerts(alertmanager, "CentionLogioDown")
            states = [(a["labels"]["workspace"], a["status"]["state"]) for a in down]
            return states == [("north", "suppressed")]

        alertmanager.wait_for(inhibited, "CentionLogioDown held back by the auth alert", 60)

    def test_forgotten_logout_reaches_alertmanager(self, prometheus, alertmanager):
        """The agent logged in for 13 hours fires CentionAgentSessionTooLong."""

        def received() -> list[dict[str, Any]]:
            return [
                a["labels"]["agent"]
                for a in alerts(alertmanager, "CentionAgentSessionTooLong")
                if a["labels"]["workspace"] == "demo"
            ]

        alertmanager.wait_for(lambda: received() != [], "CentionAgentSessionTooLong", 60)
        assert received() == [FORGOTTEN]
