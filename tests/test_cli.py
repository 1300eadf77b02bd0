"""The command line as users meet it: one loader for every command, flags, signals, demo.

Every test runs ``python -m exporter`` as a subprocess; the running ones poll the simulator
over loopback HTTP and are compared with its ground truth.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import yaml
from harness import (
    ExporterProcess,
    Samples,
    free_port,
    parse_samples,
    run_exporter,
    series,
    value,
    write_config,
)

from exporter.config import DEFAULT_BUCKETS
from exporter.core.records import LOGIN
from exporter.persist import StateFile
from exporter.simulator import Scenario, SimulatorServer
from exporter.simulator.shifts import DAY

TOKEN = "cli-token-4c1e9a"
USER, PASSWORD = "prometheus", "cli password"
BAD_FLAGS = [
    pytest.param(
        "--web.listen-address",
        "nonsense",
        "expected HOST:PORT such as :9863, got 'nonsense'",
        id="listen-address",
    ),
    pytest.param(
        "--web.telemetry-path",
        "metrics",
        "must start with / and not be /, /healthz, /ready, /-/healthy, /-/ready or /-/reload, "
        "got 'metrics'",
        id="telemetry-path",
    ),
    pytest.param(
        "--web.config.file", "missing.yml", "no such file missing.yml", id="web-config-file"
    ),
]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(name="scenario", scope="module")
def _scenario() -> Scenario:
    return Scenario(start=int(time.time()), agents=15, seed=7, live=False)


@pytest.fixture(name="simulator", scope="module")
def _simulator(scenario: Scenario) -> Iterator[SimulatorServer]:
    with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
        yield simulator


def offline_config(folder: Path, **sections: object) -> Path:
    """A valid config whose API nobody answers: for commands that only load it."""
    workspace = {"workspace": "demo", "api_url": "http://127.0.0.1:9", "token": "t"}
    return write_config(folder / "config.yaml", [workspace], **sections)


def config_for(path: Path, simulator: SimulatorServer, **sections: object) -> Path:
    workspace = {"workspace": "demo", "api_url": simulator.url, "token": TOKEN}
    return write_config(path, [workspace], **sections)


def logged_in(scenario: Scenario) -> int:
    return len(scenario.logged_in_at(scenario.start))


class TestCheckConfig:
    def test_a_missing_web_config_is_named(self, tmp_path: Path) -> None:
        """check-config refuses what run refuses: a web.config_file that does not exist."""
        config = offline_config(tmp_path, web={"config_file": "web.yml"})
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            f"{config}: invalid configuration:",
            f"  web.config_file: no such file {tmp_path}/web.yml",
        ]

    def test_the_web_config_is_checked_too(self, tmp_path: Path) -> None:
        """Problems inside the web config are listed under its own name."""
        (tmp_path / "web.yml").write_text("basic_auth_users: {prometheus: plain}\n")
        config = offline_config(tmp_path, web={"config_file": "web.yml"})
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            f"{tmp_path}/web.yml: invalid configuration:",
            "  basic_auth_users.prometheus: expected a bcrypt hash such as $2y$10$..., "
            "as printed by htpasswd -nBC 10 \"\" | tr -d ':\\n'",
        ]

    def test_a_good_web_config_is_reported(self, tmp_path: Path) -> None:
        """A valid pair gets one OK line each, the web one saying what it turns on."""
        web = tmp_path / "web.yml"
        web.write_text(yaml.safe_dump({"basic_auth_users": {USER: hashed(PASSWORD)}}))
        config = offline_config(tmp_path)
        result = cli("check-config", f"--config.file={config}", f"--web.config.file={web}")
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.splitlines() == [
            f"{config}: OK (1 workspaces: demo)",
            f"{web}: OK (plain HTTP, basic auth for {USER})",
        ]

    def test_an_impossible_date_is_no_traceback(self, tmp_path: Path) -> None:
        """``agents: [2026-02-30]`` is a login name like any other."""
        config = tmp_path / "config.yaml"
        config.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: http://127.0.0.1:9\n    token: t\n"
            "    agents: [2026-02-30]\n"
        )
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            f"{config}: OK (1 workspaces: demo)\n",
            "",
        )


class TestBadFlags:
    @pytest.mark.parametrize("command", ["run", "check-config"])
    @pytest.mark.parametrize(("flag", "text", "reason"), BAD_FLAGS)
    def test_a_bad_flag_is_one_line_naming_it(
        self, tmp_path: Path, command: str, flag: str, text: str, reason: str
    ) -> None:
        """Exit 1 and one line naming the flag: no traceback, no server without metrics."""
        config = offline_config(tmp_path)
        result = cli(command, f"--config.file={config}", flag, text, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            f"cention-logio-exporter {command}: error: argument {flag}: {reason}"
        ]


class TestRun:
    def test_telemetry_path_flag(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """--web.telemetry-path=/custom serves the metrics there, and /metrics is gone."""
        config = config_for(tmp_path / "config.yaml", simulator)
        with run_exporter(config, "--web.telemetry-path=/custom") as exporter:
            samples = parse_samples(exporter.get("/custom").text)
            assert exporter.get("/metrics").status_code == 404
        assert value(samples, "cention_up", workspace="demo") == 1
        assert value(samples, "cention_agents_logged_in", workspace="demo") == logged_in(scenario)

    def test_per_agent_off_reaches_the_scrape(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """metrics.per_agent: false in the file leaves only the workspace totals."""
        config = config_for(tmp_path / "config.yaml", simulator, metrics={"per_agent": False})
        with run_exporter(config) as exporter:
            samples = exporter.scrape()
        assert [name for name, _ in samples if name.startswith("cention_agent_")] == []
        assert value(samples, "cention_agents_logged_in", workspace="demo") == logged_in(scenario)

    def test_relative_paths_start_at_the_config_folder(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """Run from elsewhere, web.config_file and state.file are found beside the config.

        The web config turns basic auth on: no password, 401.
        """
        folder, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
        folder.mkdir()
        elsewhere.mkdir()
        (folder / "web.yml").write_text(
            yaml.safe_dump({"basic_auth_users": {USER: hashed(PASSWORD)}})
        )
        config = config_for(
            folder / "config.yaml",
            simulator,
            state={"file": "state.json"},
            web={"config_file": "web.yml"},
        )
        auth = (USER, PASSWORD)
        with run_exporter(config, cwd=elsewhere, ready=False) as exporter:
            exporter.wait_for(lambda: exporter.get("/ready", auth=auth).status_code == 200)
            assert exporter.get("/metrics").status_code == 401
            samples = parse_samples(exporter.get("/metrics", auth=auth).text)
        assert value(samples, "cention_agents_logged_in", workspace="demo") == logged_in(scenario)
        assert (folder / "state.json").is_file()
        assert list(elsewhere.iterdir()) == []


class TestSignals:
    def test_bursts_of_sighup_leave_it_reloading_and_stoppable(
        self, tmp_path: Path, simulator: SimulatorServer
    ) -> None:
        """Hundreds of SIGHUPs 0-10 ms apart: it still reloads, and one SIGTERM stops it.

        A handler that set a threading.Event could wait on the lock the interrupted main
        thread held, and the process hung.
        """
        start = int(time.time())
        other = Scenario(start=start, agents=4, seed=2, live=False)
        state = tmp_path / "state.json"
        config = config_for(tmp_path / "config.yaml", simulator, state={"file": str(state)})
        rhythm = random.Random(12)
        with (
            SimulatorServer(other, token=TOKEN, workspace="two") as second,
            run_exporter(config) as exporter,
        ):
            for _ in range(8):
                for _ in range(40):
                    exporter.process.send_signal(signal.SIGHUP)
                    time.sleep(rhythm.choice((0.0, rhythm.uniform(0, 0.01))))
                assert exporter.get("/healthz").status_code == 200
            two = {"workspace": "two", "api_url": second.url, "token": TOKEN}
            write_config(
                config,
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}, two],
                state={"file": str(state)},
            )
            exporter.process.send_signal(signal.SIGHUP)
            exporter.wait_for(lambda: value(exporter.scrape(), "cention_up", workspace="two") == 1)
            state.unlink()
            exporter.process.send_signal(signal.SIGTERM)
            assert stopped(exporter) == 0
        assert sorted(StateFile(state).load(DEFAULT_BUCKETS)) == ["demo", "two"]
        assert exporter.log().count("shutting down") == 1


class TestDemo:
    def test_serves_the_simulated_agents_and_stops_on_sigterm(self, tmp_path: Path) -> None:
        """The demo polls its own simulator: who is logged in is the scenario's truth."""
        port, sim_port = free_port(), free_port()
        log_path = tmp_path / "demo.log"
        command = [sys.executable, "-m", "exporter", "demo", "--agents=20", "--seed=3"]
        command += [f"--listen-address=127.0.0.1:{port}"]
        command += [f"--simulator.listen-address=127.0.0.1:{sim_port}"]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file)
        demo = ExporterProcess(process, port, log_path)
        try:
            demo.wait_for(lambda: demo.get("/ready").status_code == 200, 60, "/ready")
            samples = steady_scrape(demo)
            process.send_signal(signal.SIGTERM)
            assert stopped(demo) == 0
        finally:
            if process.poll() is None:
                process.kill()
            printed = process.communicate()[0].decode()
        assert printed.splitlines() == [
            f"Simulated logio API: http://127.0.0.1:{sim_port}/s/demo/capi/custom/logio",
            f"Exporter:            http://127.0.0.1:{port}/",
            f"Metrics:             http://127.0.0.1:{port}/metrics",
            "Agents log in and out as the simulated day goes on; Ctrl-C stops.",
        ]
        started = value(samples, "process_start_time_seconds")
        polled = value(samples, "cention_logio_last_success_timestamp_seconds", workspace="demo")
        assert started is not None
        assert polled is not None
        truth = last_actions(Scenario(start=0, agents=20, seed=3), int(started) - DAY, int(polled))
        agents = series(samples, "cention_agent_logged_in", "agent")
        assert agents == {name: float(action == LOGIN) for name, action in truth.items()}
        assert value(samples, "cention_agents_logged_in", workspace="demo") == sum(agents.values())


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def stopped(process: ExporterProcess) -> int:
    """The exit status within 15 s; a process that hangs is killed and the test fails."""
    try:
        return process.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.process.kill()
        process.process.wait()
        raise AssertionError(f"did not stop on SIGTERM; log:\n{process.log()}") from None


def steady_scrape(process: ExporterProcess) -> Samples:
    """A scrape whose last poll is the same as the one before it: no poll between them."""
    before = process.scrape()
    for _ in range(50):
        after = process.scrape()
        key = ("cention_logio_last_success_timestamp_seconds", frozenset({("workspace", "demo")}))
        if before.get(key) == after.get(key):
            return after
        before = after
    raise AssertionError("every scrape saw a new poll")


def last_actions(scenario: Scenario, frm: int, to: int) -> dict[str, str]:
    """Each agent's last action in ``[frm, to]``, from the scenario's records alone."""
    last: dict[str, str] = {}
    for record in scenario.records(frm, to, now=to):
        last[record.name] = record.action
    return last
