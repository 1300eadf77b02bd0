"""The real ``run`` command, polling two simulated workspaces over loopback HTTP.

History before the simulator's start rebuilds who is logged in without being counted;
records injected after /ready are counted exactly once. Every value is compared with the
simulator's own ground truth.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    ExporterProcess,
    logged,
    promtool_findings,
    run_exporter,
    series,
    value,
    write_config,
)

from exporter import __version__
from exporter.build import current
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.metrics import BUILD_INFO
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "sim-token-6f1d2c"


@pytest.fixture(name="simulators", scope="module")
def _simulators() -> Iterator[dict[str, SimulatorServer]]:
    start = int(time.time())
    servers = {
        "north": SimulatorServer(
            Scenario(start=start, agents=40, seed=3, live=False), token=TOKEN, workspace="north"
        ),
        "south": SimulatorServer(
            Scenario(start=start, agents=25, seed=4, live=False), token=TOKEN, workspace="south"
        ),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(name="exporter", scope="module")
def _exporter(
    simulators: dict[str, SimulatorServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExporterProcess]:
    config = write_config(
        tmp_path_factory.mktemp("run") / "config.yaml",
        [
            {
                "workspace": "north",
                "api_url": simulators["north"].url,
                "token": "${CENTION_TOKEN}",
                "format": "csv",
            },
            {
                "workspace": "south",
                "api_url": simulators["south"].url,
                "token": "${CENTION_TOKEN}",
                "format": "json",
            },
        ],
    )
    with run_exporter(config, env={"CENTION_TOKEN": TOKEN}) as exporter:
        yield exporter


def inject_live_events(scenario: Scenario) -> dict[str, int]:
    """A hand-made burst of events on top of the history; returns expected counters.

    Only agents logged out now take part, so the expectations hold at any hour.
    """
    now = int(time.time())
    a, b, c = sorted(set(scenario.agent_names()) - scenario.logged_in_at(now))[:3]
    for record in [
        Record(a, now, LOGIN),  # opens a session
        Record(a, now, LOGIN),  # login while logged in
        Record(b, now, LOGOUT),  # logout without login
        Record(c, now, LOGIN),
        Record(c, now + 1, LOGOUT),  # a 1-second session
        Record(a, now + 2, LOGOUT),  # a 2-second session
    ]:
        scenario.inject(record)
    return {
        "login": 3,
        "logout": 3,
        "login_while_logged_in": 1,
        "logout_without_login": 1,
        "durations": 2,
    }


class TestRun:
    def test_lookback_rebuilds_who_is_logged_in(
        self, exporter: ExporterProcess, simulators: dict[str, SimulatorServer]
    ) -> None:
        """Before any live event, the gauges equal the simulator's truth and counters are 0."""
        samples = exporter.scrape()
        for name, simulator in simulators.items():
            truth = simulator.scenario.logged_in_at(time.time())
            agents = series(
                {k: v for k, v in samples.items() if ("workspace", name) in k[1]},
                "cention_agent_logged_in",
                "agent",
            )
            assert {a for a, v in agents.items() if v == 1} == truth
            assert set(agents) == set(simulator.scenario.agent_names())
            assert value(samples, "cention_agents_logged_in", workspace=name) == len(truth)
            assert value(samples, "cention_up", workspace=name) == 1
            for action in ("login", "logout"):
                assert (
                    value(samples, "cention_logio_records_total", workspace=name, action=action)
                    == 0
                )
        build = dict(zip(BUILD_INFO.labels, current().labels(), strict=True))
        assert (build["version"], value(samples, "cention_exporter_build_info", **build)) == (
            __version__,
            1,
        )

    def test_live_events_are_counted_exactly(
        self, exporter: ExporterProcess, simulators: dict[str, SimulatorServer]
    ) -> None:
        """Injected events show up once each, in counters, anomalies and the histogram."""
        expected = {name: inject_live_events(s.scenario) for name, s in simulators.items()}

        def caught_up() -> bool:
            samples = exporter.scrape()
            return all(
                value(samples, "cention_logio_records_total", workspace=name, action="logout")
                == want["logout"]
                for name, want in expected.items()
            )

        exporter.wait_for(caught_up, 20, "live events")
        time.sleep(2.5)  # two more polls re-read the same overlap: nothing may count twice
        samples = exporter.scrape()
        for name, simulator in simulators.items():
            want, scenario = expected[name], simulator.scenario
            ws = {"workspace": name}
            assert (
                value(samples, "cention_logio_records_total", action="login", **ws) == want["login"]
            )
            assert (
                value(samples, "cention_logio_records_total", action="logout", **ws)
                == want["logout"]
            )
            for kind in ("login_while_logged_in", "logout_without_login"):
                assert (
                    value(samples, "cention_session_anomalies_total", kind=kind, **ws) == want[kind]
                )
            assert (
                value(samples, "cention_session_duration_seconds_count", **ws) == want["durations"]
            )
            truth = scenario.logged_in_at(time.time())
            assert value(samples, "cention_agents_logged_in", **ws) == len(truth)
            now = int(time.time())
            logins = scenario.count_by_agent(LOGIN, scenario.start + 1, now + 5, now=now + 5)
            got = {
                a: v
                for (n, k), v in samples.items()
                if n == "cention_agent_logins_total" and ("workspace", name) in k
                for a in [dict(k)["agent"]]
                if v
            }
            assert got == dict(logins)
            assert value(samples, "cention_logio_invalid_records_total", **ws) == 0

    def test_promtool_finds_nothing_to_fix(self, exporter: ExporterProcess) -> None:
        """``promtool check metrics`` reports no problem on a real scrape."""
        assert promtool_findings(exporter.scrape_text()) == []

    def test_openmetrics_by_negotiation(self, exporter: ExporterProcess) -> None:
        """Asking for OpenMetrics gets it, ending with # EOF."""
        response = exporter.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.text.endswith("# EOF\n")

    def test_token_is_in_no_output(self, exporter: ExporterProcess) -> None:
        """The token appears neither in the scrape nor in the log."""
        assert TOKEN not in exporter.scrape_text()
        assert TOKEN not in exporter.log()


class TestCommands:
    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "exporter", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def test_version(self) -> None:
        """--version prints the block of the Prometheus exporters, with the package's version."""
        result = self.run_cli("--version")
        lines = result.stdout.splitlines()
        assert (result.returncode, len(lines)) == (0, 5)
        assert lines[0].startswith(f"cention-logio-exporter, version {__version__} (branch: ")
        assert [line.split(":")[0] for line in lines[1:]] == [
            "  build user",
            "  build date",
            "  python version",
            "  platform",
        ]

    def test_check_config_accepts_the_example(self) -> None:
        """The shipped config.example.yaml passes check-config when its variable is set."""
        example = Path(__file__).parent.parent / "config.example.yaml"
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "check-config", f"--config.file={example}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"CENTION_TOKEN": "x", "PATH": ""},
        )
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == f"{example}: OK (1 workspaces: demo)\n"

    def test_check_config_names_each_bad_key(self, tmp_path: Path) -> None:
        """A broken config exits 1 and names every bad key with its reason."""
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: nope\n    token: t\n"
            "poll:\n  interval: soon\n  colour: red\n"
        )
        result = self.run_cli("check-config", f"--config.file={bad}")
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"{bad}: invalid configuration:",
            "  poll.colour: unknown key (known: interval, timeout, overlap, lookback, "
            "max_window, max_response_bytes)",
            "  poll.interval: expected a duration like 500ms, 30s, 5m, 7d, got 'soon'",
            "  workspaces[0].api_url: expected an http(s) URL such as "
            "https://apid.cention.com, got 'nope'",
        ]

    def test_run_refuses_a_broken_config(self, tmp_path: Path) -> None:
        """run exits 1 on a config without workspaces, saying so."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("poll: {}\n")
        result = self.run_cli("run", f"--config.file={bad}")
        assert result.returncode == 1
        assert "workspaces: at least one workspace is required" in result.stderr


class TestInitialLookbackFailing:
    def test_a_refused_token_shows_on_ready_and_logs_one_error(self, tmp_path: Path) -> None:
        """With a token the API refuses, /ready names the reason exactly, and the failures
        are logged at ERROR once, then at debug level while they go on."""
        scenario = Scenario(start=int(time.time()), agents=5, seed=2, live=False)
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": "revoked-token-5a"}],
            )
            with run_exporter(config, "--log.level=debug", ready=False) as exporter:
                exporter.wait_for(lambda: len(poll_failures(exporter)) >= 3)
                ready = exporter.get("/ready")
                failures = poll_failures(exporter)
        assert (ready.status_code, ready.text) == (503, "demo: initial lookback failing: auth\n")
        refused = (
            "logio poll failed",
            "demo",
            "auth",
            "HTTP 401 from /s/demo/capi/custom/logio: the token needs the 'Access to logio API' "
            "claim",
        )
        assert failures[0] == ("error", *refused)
        assert set(failures[1:]) == {("debug", *refused)}


def poll_failures(exporter: ExporterProcess) -> list[tuple[object, ...]]:
    """Level, message, workspace, reason and error of each failed poll logged so far."""
    polls = logged(exporter.lines(), "workspace", "reason", "error")
    return [poll for poll in polls if poll[1] == "logio poll failed"]


class TestLoggedInSeconds:
    def test_the_counter_never_decreases_across_scrapes(self, tmp_path: Path) -> None:
        """Scraped again and again while sessions grow and a logout shows up 4 s late,
        no agent's logged-in seconds ever fall: the late agent's stall at what was
        reported (more than the exact 1 s) instead."""
        scenario = Scenario(start=int(time.time()), agents=10, seed=8, live=False)
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}],
            )
            with run_exporter(config) as exporter:
                now = int(time.time())
                late = sorted(set(scenario.agent_names()) - scenario.logged_in_at(now))[0]
                scenario.inject(Record(late, now, LOGIN))
                scenario.inject(Record(late, now + 1, LOGOUT), visible_at=now + 4)
                seen: dict[str, list[float]] = {}
                logouts = 0.0
                for _ in range(100):  # 0.1 s apart: about 10 s at most
                    samples = exporter.scrape()
                    for agent, seconds in series(
                        samples, "cention_agent_logged_in_seconds_total", "agent"
                    ).items():
                        seen.setdefault(agent, []).append(seconds)
                    logouts = (
                        value(samples, "cention_agent_logouts_total", workspace="demo", agent=late)
                        or 0.0
                    )
                    if logouts and len(seen[late]) > 3 and time.time() > now + 6:
                        break
                    time.sleep(0.1)
        assert logouts == 1
        assert {agent: values == sorted(values) for agent, values in seen.items()} == dict.fromkeys(
            scenario.agent_names(), True
        )
        assert seen[late][-1] > 1
