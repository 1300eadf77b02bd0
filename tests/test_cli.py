"""The command line as users meet it: one loader for every command, flags, signals, demo.

Every test runs ``python -m exporter`` as a subprocess; the running ones poll the simulator
over loopback HTTP and are compared with its ground truth.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import pytest
import yaml
from certs import issue, write_pem
from harness import (
    ExporterProcess,
    Samples,
    first_answer,
    free_port,
    needs,
    parse_samples,
    run_exporter,
    series,
    value,
    write_config,
)

from exporter import __version__
from exporter.cli import parse_args
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


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
        env=env,
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

    @pytest.mark.parametrize(
        "extra",
        [
            pytest.param("    agents: [2026-02-30]\n", id="agent"),
            pytest.param("schedule: {closed: [2026-12-24, 2027-01-01]}\n", id="holidays"),
        ],
    )
    def test_yaml_dates_are_no_traceback(self, tmp_path: Path, extra: str) -> None:
        """``agents: [2026-02-30]`` is a login name like any other; holidays written as
        YAML dates are dates."""
        config = tmp_path / "config.yaml"
        config.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: http://127.0.0.1:9\n    token: t\n"
            + extra
        )
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            f"{config}: OK (1 workspaces: demo)\n",
            "",
        )

    def test_schedule_problems_are_listed_like_any_other(self, tmp_path: Path) -> None:
        """A bad schedule exits 1 with one line per problem under the file's name."""
        bad = {"timezone": "Mars/Olympus", "hours": {"mon-sun": ["09:00-09:00"]}}
        config = offline_config(tmp_path, schedule=bad)
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            f"{config}: invalid configuration:",
            "  schedule.timezone: unknown time zone 'Mars/Olympus' (an IANA name like "
            "Europe/Stockholm)",
            "  schedule.hours.mon-sun[0]: range 09:00-09:00 is empty",
        ]


class TestApiUrlWarning:
    def test_check_config_warns_and_exits_0(self, tmp_path: Path) -> None:
        """An api_url ending in the logio path: OK on stdout, the warning on stderr, exit 0."""
        url = "http://127.0.0.1:9864/s/demo/capi/custom/logio"
        workspace = {"workspace": "demo", "api_url": url, "token": "t"}
        config = write_config(tmp_path / "config.yaml", [workspace])
        result = cli("check-config", f"--config.file={config}")
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            f"{config}: OK (1 workspaces: demo)\n",
            f"{config}: warning: workspaces[0].api_url: {url} ends in /s/demo/capi/custom/logio, "
            "which the exporter appends itself; did you mean http://127.0.0.1:9864?\n",
        )

    def test_run_logs_the_same_warning(self, tmp_path: Path, simulator: SimulatorServer) -> None:
        """run starts (the poll fails with 404) and its log says what check-config says."""
        url = simulator.logio_url
        workspace = {"workspace": "demo", "api_url": url, "token": TOKEN}
        config = write_config(tmp_path / "config.yaml", [workspace])
        with run_exporter(config, "--log.format=json", ready=False) as exporter:
            lines = [json.loads(line) for line in exporter.log().splitlines()]
        warned = [(line["workspace"], line["problem"]) for line in lines if "problem" in line]
        assert warned == [
            (
                "demo",
                f"{url} ends in /s/demo/capi/custom/logio, which the exporter "
                f"appends itself; did you mean {simulator.url}?",
            )
        ]


class TestSimulate:
    def test_listens_where_demo_puts_its_simulator(self) -> None:
        """Port 9864 on loopback by default, for simulate and for demo's simulator alike."""
        assert parse_args(["simulate"]).listen_address == "127.0.0.1:9864"
        assert parse_args(["demo"]).sim_address == "127.0.0.1:9864"

    def test_prints_a_workspace_entry_that_polls_it(self, tmp_path: Path) -> None:
        """The printed entry, pasted into config.yaml, passes check-config and polls."""
        port, config = free_port(), tmp_path / "config.yaml"
        with simulating(tmp_path, f"--listen-address=127.0.0.1:{port}", "--token=s1m") as printed:
            config.write_text("\n".join(printed[3:]) + "\n")
            checked = cli("check-config", f"--config.file={config}")
            with run_exporter(config) as exporter:
                samples = exporter.scrape()
        assert printed == [
            f"logio simulator: http://127.0.0.1:{port}/s/demo/capi/custom/logio (5 agents)",
            "To poll it, put this in config.yaml:",
            "",
            "workspaces:",
            "  - workspace: demo",
            f"    api_url: http://127.0.0.1:{port}",
            "    token: s1m",
        ]
        assert (checked.returncode, checked.stderr) == (0, "")
        assert value(samples, "cention_up", workspace="demo") == 1

    def test_a_token_from_the_environment_is_named_not_printed(self, tmp_path: Path) -> None:
        """With $CENTION_TOKEN, the entry says ${CENTION_TOKEN}, which the exporter expands."""
        port = free_port()
        env = {"CENTION_TOKEN": "from-env-7c2f"}
        with simulating(tmp_path, f"--listen-address=127.0.0.1:{port}", env=env) as printed:
            pass
        assert printed[-1] == "    token: ${CENTION_TOKEN}"
        assert "from-env-7c2f" not in "\n".join(printed)


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

    def test_the_first_lines_name_the_version_then_the_addresses(
        self, tmp_path: Path, simulator: SimulatorServer
    ) -> None:
        """As other exporters do: the version first, the listen addresses second."""
        config = config_for(tmp_path / "config.yaml", simulator)
        config.chmod(0o600)  # no warning about a readable token in between
        with run_exporter(config, "--log.format=json") as exporter:
            first, second = [json.loads(line) for line in exporter.log().splitlines()[:2]]
        assert (first["msg"], first["version"], first["python_version"]) == (
            "starting cention-logio-exporter",
            __version__,
            ".".join(map(str, sys.version_info[:3])),
        )
        assert (second["msg"], second["address"], second["telemetry_path"]) == (
            "listening",
            f"127.0.0.1:{exporter.port}",
            "/metrics",
        )

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


class TestDefaultCommand:
    def test_flags_alone_are_runs(self) -> None:
        """With no command word, the flags are run's; nothing at all is run with defaults."""
        args = parse_args(["--web.listen-address=:9000", "--config.file", "x.yaml"])
        assert (args.command, args.listen_address, args.config_file) == ("run", [":9000"], "x.yaml")
        defaults = parse_args([])
        assert (defaults.command, defaults.config_file, defaults.max_requests) == (
            "run",
            "./config.yaml",
            40,
        )

    def test_an_exporter_started_with_flags_alone_serves(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """``cention-logio-exporter --config.file X --web.listen-address A`` polls and serves."""
        config = config_for(tmp_path / "config.yaml", simulator)
        with run_exporter(config, command=()) as exporter:
            samples = exporter.scrape()
        assert value(samples, "cention_agents_logged_in", workspace="demo") == logged_in(scenario)

    def test_help_and_version_stay_at_the_top(self) -> None:
        """--help lists the commands and --version prints the version, as before."""
        helped, version = cli("--help"), cli("--version")
        assert (helped.returncode, helped.stdout.splitlines()[0]) == (
            0,
            "usage: cention-logio-exporter [-h] [--version] COMMAND ...",
        )
        assert (version.returncode, __version__ in version.stdout) == (0, True)

    def test_an_unknown_command_word_is_an_error(self) -> None:
        """A word that is no command is refused, not taken for run's."""
        result = cli("bogus")
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.splitlines()[-1].startswith(
            "cention-logio-exporter: error: argument COMMAND: invalid choice: 'bogus'"
        )


class TestServing:
    def test_every_listen_address_answers(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """--web.listen-address given twice: both addresses serve the same exporter."""
        config = config_for(tmp_path / "config.yaml", simulator)
        second = free_port()
        with run_exporter(config, f"--web.listen-address=127.0.0.1:{second}") as exporter:
            answers = [
                exporter.scrape(),
                parse_samples(first_answer(f"http://127.0.0.1:{second}/metrics").text),
            ]
            log = exporter.log()
        assert [value(a, "cention_agents_logged_in", workspace="demo") for a in answers] == [
            logged_in(scenario)
        ] * 2
        listening = (
            f'msg=listening address="127.0.0.1:{exporter.port}, 127.0.0.1:{second}" '
            "telemetry_path=/metrics"
        )
        assert listening in log

    @needs("systemd-socket-activate")
    def test_socket_activation_serves_the_passed_sockets(
        self, tmp_path: Path, simulator: SimulatorServer, scenario: Scenario
    ) -> None:
        """Under systemd-socket-activate, --web.systemd-socket serves both sockets it passes."""
        config = config_for(tmp_path / "config.yaml", simulator)
        ports = [free_port(), free_port()]
        command = ["systemd-socket-activate", *(f"--listen=127.0.0.1:{p}" for p in ports)]
        command += [
            sys.executable,
            "-m",
            "exporter",
            "--web.systemd-socket",
            f"--config.file={config}",
        ]
        log_path = tmp_path / "activated.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        activated = ExporterProcess(process, ports[0], log_path)
        try:
            first_answer(f"http://127.0.0.1:{ports[0]}/healthz")
            activated.wait_ready()
            answers = [
                parse_samples(first_answer(f"http://127.0.0.1:{p}/metrics").text) for p in ports
            ]
            process.send_signal(signal.SIGTERM)
            assert stopped(activated) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert [value(a, "cention_agents_logged_in", workspace="demo") for a in answers] == [
            logged_in(scenario)
        ] * 2
        assert f'address="127.0.0.1:{ports[0]}, 127.0.0.1:{ports[1]}"' in activated.log()

    def test_socket_activation_without_sockets_is_a_usage_error(self, tmp_path: Path) -> None:
        """--web.systemd-socket outside a socket unit: exit 1 and one line saying why."""
        config = offline_config(tmp_path)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
        result = cli("--web.systemd-socket", f"--config.file={config}", env=environ)
        assert (result.returncode, result.stdout, result.stderr) == (
            1,
            "",
            "cention-logio-exporter run: error: argument --web.systemd-socket: LISTEN_PID and "
            "LISTEN_FDS are not set: start the exporter from a systemd .socket unit, or listen "
            "with --web.listen-address instead\n",
        )

    def test_max_requests_bounds_the_scrapes_under_way(self, tmp_path: Path) -> None:
        """--web.max-requests=1: while one answer is being sent, a scrape gets 503 at once.

        The held scrape is one whose client does not read: a body larger than the most the
        kernel buffers for a socket (tcp_wmem's maximum) keeps the exporter sending it. A
        histogram with that many buckets makes the body that large; probes still answer.
        """
        most_buffered = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        bounds = list(range(1, most_buffered * 5 // 4 // 70))  # a bucket's line: 70 bytes or more
        config = offline_config(tmp_path, metrics={"session_duration_buckets": bounds})
        with (
            run_exporter(config, "--web.max-requests=1", ready=False) as exporter,
            socket.socket() as held,
        ):
            held.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            held.connect(("127.0.0.1", exporter.port))
            held.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert received(held, 12) == b"HTTP/1.1 200"
            refused = [exporter.get("/metrics") for _ in range(3)]
            probe = exporter.get("/healthz")
        refusal = "limit of 1 concurrent scrapes reached, try again later\n"
        assert [(r.status_code, r.text) for r in refused] == [(503, refusal)] * 3
        assert probe.status_code == 200

    def test_a_bad_max_requests_is_a_usage_error(self, tmp_path: Path) -> None:
        """A negative --web.max-requests is refused by name before anything starts."""
        result = cli("run", f"--config.file={offline_config(tmp_path)}", "--web.max-requests=-1")
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.splitlines()[-1] == (
            "cention-logio-exporter run: error: argument --web.max-requests: "
            "expected a whole number, 0 or more, got '-1'"
        )


class TestWatchedWebConfig:
    def test_a_renewed_certificate_and_new_users_apply_without_restart(
        self, tmp_path: Path, simulator: SimulatorServer
    ) -> None:
        """Overwritten cert and key: new connections get the new certificate; a changed user
        list applies as well; the process is the same throughout, and healthcheck follows."""
        first, renewed = issue("exporter", serves=True), issue("exporter renewed", serves=True)
        pem = {
            name: write_pem(pair, tmp_path, name)[0]
            for name, pair in (("first", first), ("renewed", renewed))
        }
        write_pem(first, tmp_path, "server")
        web = tmp_path / "web.yml"
        web.write_text(yaml.safe_dump(web_config(hashed(PASSWORD))))
        config = config_for(tmp_path / "config.yaml", simulator, web={"config_file": "web.yml"})
        verify = ssl.create_default_context(
            cadata=pem["first"].read_text() + pem["renewed"].read_text()
        )
        auth = (USER, PASSWORD)
        with run_exporter(config, ready=False, verify=verify) as exporter:
            pid = exporter.process.pid
            assert served_certificate(exporter.port) == pem["first"].read_text()
            write_pem(renewed, tmp_path, "server")
            exporter.wait_for(
                lambda: served_certificate(exporter.port) == pem["renewed"].read_text()
            )
            checked = cli(
                "healthcheck",
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{exporter.port}",
            )
            assert exporter.get("/metrics", auth=auth).status_code == 200
            web.write_text(yaml.safe_dump(web_config(hashed("new password"))))
            exporter.wait_for(
                lambda: exporter.get("/metrics", auth=(USER, "new password")).status_code == 200
            )
            assert exporter.get("/metrics", auth=auth).status_code == 401
            assert exporter.process.pid == pid
        assert (checked.returncode, checked.stdout) == (
            0,
            f"healthy: https://127.0.0.1:{exporter.port}/healthz answered 200\n",
        )


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


@contextmanager
def simulating(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """A running ``simulate --agents=5``: what it printed at start, up to the whole entry."""
    command = [sys.executable, "-m", "exporter", "simulate", "--agents=5", *args]
    environ = {k: v for k, v in os.environ.items() if k != "CENTION_TOKEN"} | (env or {})
    with (
        (tmp_path / "simulate.log").open("wb") as log,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=environ) as process,
    ):
        try:
            yield printed_lines(process, 7)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()


def printed_lines(process: subprocess.Popen[bytes], count: int, timeout: float = 30) -> list[str]:
    """The first ``count`` lines ``process`` prints, within ``timeout`` seconds."""
    assert process.stdout is not None
    deadline, text = time.monotonic() + timeout, b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while text.count(b"\n") < count and time.monotonic() < deadline:
            if selector.select(deadline - time.monotonic()):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                text += chunk
    return text.decode().splitlines()[:count]


def received(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``sock`` (fewer only if it closes), within 30 s."""
    sock.settimeout(30)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def served_certificate(port: int) -> str:
    """The PEM certificate a new TLS connection to ``port`` is served."""
    return ssl.get_server_certificate(("127.0.0.1", port), timeout=10)


def web_config(hashed_password: str) -> dict[str, object]:
    """TLS with tmp_path's server.crt and server.key, and basic auth for USER."""
    return {
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {USER: hashed_password},
    }


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
