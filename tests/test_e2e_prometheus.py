"""The dashboard and the alerts, proven on a real Prometheus and Alertmanager.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run on loopback ports with a copy of
the shipped configuration: the same rules, scraping and evaluating every second, with every
``for:`` sixty times shorter. They watch the real exporter polling two simulated workspaces
of a center in Stockholm: ``demo``, whose every dashboard panel must show data, and
``north``, whose token is swapped for one the simulator rejects, so that its 401 answers
must bring the authentication alert to Alertmanager. Before Prometheus starts, ``backfill``
writes demo's last two days into its storage, as an operator would, so that the bars of past
days have something to show.

The dashboard, built for Europe/Stockholm, is queried as Grafana queries it
(tests/grafana_request.py): range panels as range queries over the panel's time range, start
and end rounded down to the step at Stockholm midnight, with the step Grafana derives from
the panel's interval and width; table and stat panels as instant queries.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from grafana_request import Request, Viewer, requests
from harness import ExporterProcess, free_port, run_exporter, value, write_config

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Scenario, SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "prometheus"
BUILDER = ROOT / "grafana" / "build_dashboard.py"
DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
TOKEN = "e2e-token-5b7e"
REQUESTS = "cention_logio_requests_total"
POLLED = 'cention_logio_last_success_timestamp_seconds{workspace="demo"}'
FORGOTTEN = "Fredrik Glömsk"
"""An agent who logged in 13 hours ago and never logged out."""
SHORT = "Ebba Kort"
"""An agent who logged in half an hour ago and logs out during the test."""

ZONE = "Europe/Stockholm"
SCHEDULE = {
    "timezone": ZONE,
    "hours": {"mon-fri": ["08:00-17:00"], "sat": ["10:00-14:00"]},
    "closed": ["2026-12-24", "2026-12-25"],
    "staffing": {"mon-fri": {"08:00-12:00": 5, "12:00-17:00": 3}, "sat": {"10:00-14:00": 2}},
}
"""The center's schedule, as the issue's example: the staffing panel's plan and hours."""
DAY = 86400
HISTORY = 2 * DAY
"""Seconds of demo's past that backfill writes before Prometheus starts."""
VARIABLES = {"$workspace": "demo", "$agent": ".*"}
"""The dashboard's variables: workspace demo, all agents."""


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


def panel_requests(dashboard: dict[str, Any], title: str | None = None) -> list[Request]:
    """What Grafana sends now for every panel (or the one titled ``title``), in order."""
    scrape = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))["datasources"][0]
    viewer = Viewer(
        time.time(), ZoneInfo(ZONE), VARIABLES, scrape_interval=scrape["jsonData"]["timeInterval"]
    )
    return [
        request
        for panel in dashboard["panels"]
        if panel["type"] != "row" and title in (None, panel["title"])
        for request in requests(dashboard, panel, viewer)
    ]


class Daemon:
    """A Prometheus or Alertmanager subprocess on a loopback port; its log in ``log_path``."""

    def __init__(self, command: list[str], port: int, log_path: Path) -> None:
        self.url, self.log_path = f"http://127.0.0.1:{port}", log_path
        self.scraping_since = math.inf
        """When Prometheus first had the exporter's samples (set by its fixture)."""
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


def send(prometheus: Daemon, request: Request) -> list[dict[str, Any]]:
    """The result of a request as Grafana sends it; fails on any error Prometheus reports."""
    answer = prometheus.get(request.path, **request.params())
    kind = "vector" if request.instant else "matrix"
    assert (answer["status"], answer["data"]["resultType"]) == ("success", kind), request
    return list(answer["data"]["result"])


def has_data(series: list[dict[str, Any]]) -> bool:
    """At least one finite sample in an instant vector or a range matrix."""
    samples = [sample for s in series for sample in s.get("values", [s.get("value")])]
    return any(math.isfinite(float(sample[1])) for sample in samples)


def start_prometheus(config: Path, directory: Path, data: Path | None = None) -> Daemon:
    """Prometheus with ``config`` on a free loopback port, its log in ``directory`` and its
    data there too unless ``data`` (a TSDB directory) is given, once ready."""
    port = free_port()
    daemon = Daemon(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data or directory / 'data'}",
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


@pytest.fixture(name="start", scope="module")
def _start() -> int:
    """When the simulated history ends and the live part begins."""
    return int(time.time())


@pytest.fixture(name="demo", scope="module")
def _demo(start: int) -> Iterator[SimulatorServer]:
    scenario = Scenario(start=start, agents=30, seed=11)
    scenario.inject(Record(FORGOTTEN, start - 13 * 3600, LOGIN))
    scenario.inject(Record(SHORT, start - 1800, LOGIN))  # logs out during the test
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
    directory = tmp_path_factory.mktemp("exporter")
    config = write_config(directory / "config.yaml", workspaces, schedule=SCHEDULE)
    config.chmod(0o600)
    with run_exporter(config, env={"CENTION_TOKEN": TOKEN}) as exporter:
        yield exporter


@pytest.fixture(name="dashboard", scope="module")
def _dashboard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dashboard as a center in Stockholm builds it: --timezone Europe/Stockholm."""
    output = tmp_path_factory.mktemp("dashboard") / "cention-logio.json"
    built = subprocess.run(
        [sys.executable, str(BUILDER), "--timezone", ZONE, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (built.returncode, built.stderr) == (0, "")
    return dict(json.loads(output.read_text(encoding="utf-8")))


@pytest.fixture(name="history", scope="module")
def _history(
    demo: SimulatorServer, exporter: ExporterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A TSDB directory holding demo's last two days, backfilled as the README says.

    The series carry the labels the live scrape adds, so they continue the live ones.
    """
    directory = tmp_path_factory.mktemp("history")
    workspaces = [{"workspace": "demo", "api_url": demo.url, "token": TOKEN}]
    config = write_config(directory / "config.yaml", workspaces)
    output, now = directory / "history.om", int(time.time())
    backfilled = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "backfill",
            f"--config.file={config}",
            f"--from={now - HISTORY}",
            f"--to={now - 60}",
            "--step=5m",
            "--label=job=cention-logio",
            f"--label=instance=127.0.0.1:{exporter.port}",
            f"--output={output}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert backfilled.returncode == 0, backfilled.stderr
    blocks = subprocess.run(
        [
            binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(output),
            str(directory / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert blocks.returncode == 0, blocks.stderr
    return directory / "data"


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
    exporter: ExporterProcess,
    alertmanager: Daemon,
    history: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Daemon]:
    directory = tmp_path_factory.mktemp("prometheus")
    config = write_test_config(
        directory, f"127.0.0.1:{exporter.port}", alertmanager.url.removeprefix("http://")
    )
    daemon = start_prometheus(config, directory, history)
    try:
        daemon.wait_for(
            lambda: query(daemon, 'up{job="cention-logio"} == 1') != [], "the exporter scraped"
        )
        daemon.scraping_since = time.time()
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
    """Every panel of the dashboard, queried as Grafana queries it, answered by Prometheus."""

    def test_every_panel_shows_data(self, prometheus, demo, dashboard):
        """Each query of each panel returns at least one finite sample.

        Grafana rounds a range's end down to the step, so a panel of live-only series (the
        exporter's health) has its newest point up to one step before now: it shows data
        once Prometheus has scraped for a step. The wait allows for the longest step under
        an hour; the panels of longer steps read the backfilled history or look ahead.
        """
        demo.scenario.inject(Record(SHORT, int(time.time()), LOGOUT))  # a completed session
        made = panel_requests(dashboard)
        assert len(made) == 28
        longest = max(r.step for r in made if not r.instant and r.step < 3600)

        def empty() -> list[tuple[str, str]]:
            return [
                (request.title, request.ref)
                for request in panel_requests(dashboard)
                if not has_data(send(prometheus, request))
            ]

        deadline = max(time.time() + 30, prometheus.scraping_since + longest + 15)
        while empty() and time.time() < deadline:
            time.sleep(2)
        assert empty() == []

    def test_yesterday_has_its_bar(self, prometheus, dashboard):
        """The newest per-day bar stands at the last Stockholm midnight and shows yesterday."""
        (request,) = panel_requests(dashboard, "Logged-in hours per agent per day")
        series = send(prometheus, request)
        times = {float(t) for s in series for t, _ in s["values"]}
        assert max(times) == request.end
        assert {(request.end - t) % DAY for t in times} == {0}
        yesterday = [float(v) for s in series for t, v in s["values"] if float(t) == request.end]
        assert sum(yesterday) > 0

    def test_forgotten_logout_is_in_the_table(self, prometheus, dashboard, start):
        """The 12-hour table lists the agent who never logged out, open since 13 hours
        before the test began, and only that agent."""
        (request,) = panel_requests(dashboard, "Sessions open longer than 12 h")
        rows = send(prometheus, request)
        assert [row["metric"] for row in rows] == [{"workspace": "demo", "agent": FORGOTTEN}]
        evaluated = float(request.params()["time"])
        assert float(rows[0]["value"][1]) == pytest.approx(evaluated - (start - 13 * 3600))

    def test_hours_today_equal_the_report(self, prometheus, exporter, dashboard):
        """The *Hours logged in today* table equals `report --by day` for today, per agent.

        The table is as of the exporter's last poll and the report as of its own run, so an
        agent logged out in both counts the same seconds, and an agent logged in counts in
        the report at most the seconds since that poll more. A record arriving between
        the table's reading and the report's shows as a changed table: then it tries again.
        """
        requests = {r.ref: r for r in panel_requests(dashboard, "Hours logged in today")}
        config = exporter.log_path.with_suffix(".yaml")

        def table() -> tuple[dict[str, float], set[str], float]:
            seconds = {
                row["metric"]["agent"]: float(row["value"][1])
                for row in send(prometheus, requests["A"])
                if row["metric"]["workspace"] == "demo"
            }
            now = {
                row["metric"]["agent"]
                for row in send(prometheus, requests["E"])
                if row["metric"]["workspace"] == "demo" and float(row["value"][1]) == 1
            }
            (polled,) = query(prometheus, POLLED)
            return seconds, now, float(polled["value"][1])

        for _ in range(5):
            before = table()
            today = datetime.now(ZoneInfo(ZONE)).date().isoformat()
            command = [sys.executable, "-m", "exporter", "report", f"--config.file={config}"]
            options = ["--workspace=demo", f"--from={today}", f"--to={today}", "--output=json"]
            reported = subprocess.run(
                [*command, *options],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={**os.environ, "CENTION_TOKEN": TOKEN},
            )
            ended = time.time()
            assert (reported.returncode, reported.stderr) == (0, "")
            prometheus.wait_for(lambda e=ended: table()[2] > e, "a poll after the report")
            seconds, now, polled = before
            closed = {agent: s for agent, s in seconds.items() if agent not in now}
            after = table()
            if {a: s for a, s in after[0].items() if a not in after[1]} == closed and (
                after[1] == now
            ):
                break
        else:
            pytest.fail("the table changed during each of five reports")
        rows = {row["agent"]: row for row in json.loads(reported.stdout)}
        assert {row["date"] for row in rows.values()} <= {today}
        assert {a for a, s in seconds.items() if s > 0} == set(rows)
        assert FORGOTTEN in now  # logged in since yesterday: today counts from midnight
        for agent in rows.keys() & closed.keys():
            assert rows[agent]["logged_in_seconds"] == closed[agent], agent
        for agent in now:
            extra = rows[agent]["logged_in_seconds"] - seconds[agent]
            assert 0 <= extra <= ended - polled + 1, agent


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
