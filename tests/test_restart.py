"""Restarts with state.file: records that happen while the exporter is down count once."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from harness import logged, run_exporter, value, write_config

from exporter.config import DEFAULT_BUCKETS
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.persist import StateFile
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "restart-token-91ab"


def burst(scenario: Scenario, agents: list[str]) -> None:
    """Each agent logs in now and out a second later."""
    now = int(time.time())
    for agent in agents:
        scenario.inject(Record(agent, now, LOGIN))
        scenario.inject(Record(agent, now + 1, LOGOUT))


def saved_logouts(path: Path) -> int | None:
    """``records_total["logout"]`` of workspace demo as a start would read it from the
    state file and its journal, if written yet: read from copies, so that reading
    disturbs nothing of the running exporter's files."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        for source in (path, path.with_name(f"{path.name}.journal")):
            with contextlib.suppress(FileNotFoundError):
                shutil.copyfile(source, copy.with_name(source.name))
        demo = StateFile(copy).load(DEFAULT_BUCKETS).get("demo")
    return None if demo is None else demo.sessions.records_total["logout"]


def snapshot(path: Path) -> dict[str, Any] | None:
    """Workspace demo in the snapshot alone, if written yet."""
    if not path.exists():
        return None
    workspace: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["workspaces"]["demo"]
    return workspace


class TestRestart:
    @pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
    def test_counts_continue_across_a_restart(
        self, tmp_path: Path, stop_signal: signal.Signals
    ) -> None:
        """Counters resume from the file and events during the downtime are counted once.

        SIGKILL allows no last write: the exporter resumes from the snapshot and the
        journal it appended to while running."""
        scenario = Scenario(start=int(time.time()), agents=12, seed=5, live=False)
        idle = sorted(set(scenario.agent_names()) - scenario.logged_in_at(time.time()))
        state = tmp_path / "state.json"
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}],
                state={"file": str(state)},
            )
            with run_exporter(config) as exporter:
                exporter.wait_for(
                    lambda: (snapshot(state) or {}).get("sessions", {}).get("counting_since"),
                    what="the snapshot of the initial lookback",
                )
                burst(scenario, idle[:2])
                exporter.wait_for(
                    lambda: (
                        value(
                            exporter.scrape(),
                            "cention_logio_records_total",
                            workspace="demo",
                            action="logout",
                        )
                        == 2
                    )
                )
                if stop_signal == signal.SIGKILL:
                    exporter.wait_for(lambda: saved_logouts(state) == 2, what="a write")
                    logouts = (snapshot(state) or {})["sessions"]["records_total"]["logout"]
                    assert logouts == 0  # the journal holds them
                exporter.process.send_signal(stop_signal)
                started = time.monotonic()
                killed = stop_signal == signal.SIGKILL
                assert exporter.process.wait(timeout=5) == (-signal.SIGKILL if killed else 0)
                assert time.monotonic() - started < 5
            assert saved_logouts(state) == 2
            burst(scenario, idle[2:5])  # while the exporter is down
            time.sleep(1.1)
            with run_exporter(config, ready=False) as exporter:
                assert exporter.get("/ready").status_code == 200
                exporter.wait_for(
                    lambda: (
                        value(
                            exporter.scrape(),
                            "cention_logio_records_total",
                            workspace="demo",
                            action="logout",
                        )
                        == 5
                    )
                )
                time.sleep(2.5)  # more polls over the same overlap must not count again
                samples = exporter.scrape()
        assert value(samples, "cention_logio_records_total", workspace="demo", action="login") == 5
        assert value(samples, "cention_logio_records_total", workspace="demo", action="logout") == 5
        assert value(samples, "cention_session_duration_seconds_count", workspace="demo") == 5
        assert value(samples, "cention_session_duration_seconds_sum", workspace="demo") == 5
        for agent in idle[:5]:
            assert value(samples, "cention_agent_logins_total", workspace="demo", agent=agent) == 1
            assert (
                value(
                    samples, "cention_agent_logged_in_seconds_total", workspace="demo", agent=agent
                )
                == 1
            )


class TestCorruptStateFile:
    def test_a_corrupt_file_is_set_aside_and_the_state_rebuilt(self, tmp_path: Path) -> None:
        """Started on a file cut short, the exporter logs it, moves it aside, rebuilds who
        is logged in from the lookback, serves, and writes a whole file again."""
        scenario = Scenario(start=int(time.time()), agents=12, seed=5, live=False)
        state = tmp_path / "state.json"
        broken = b'{"schema": 2, "saved_at": 1, "workspaces": {"demo": {"watermark": 17'
        state.write_bytes(broken)
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}],
                state={"file": str(state)},
            )
            with run_exporter(config) as exporter:
                samples = exporter.scrape()
                exporter.wait_for(state.exists, what="a new state file")
                lines = exporter.lines()
        aside = sorted(tmp_path.glob("state.json.corrupt-*"))
        assert [path.read_bytes() for path in aside] == [broken]
        problem = "not valid JSON: Expecting ',' delimiter: line 1 column 69 (char 68)"
        errors = [line for line in logged(lines, "path", "error", "moved_to") if line[0] == "error"]
        assert errors == [
            (
                "error",
                "state file cannot be used; moved aside, rebuilding from the lookback",
                str(state),
                problem,
                str(aside[0]),
            )
        ]
        truth = scenario.logged_in_at(scenario.start)
        assert value(samples, "cention_agents_logged_in", workspace="demo") == len(truth)
        assert value(samples, "cention_up", workspace="demo") == 1
        assert value(samples, "cention_logio_records_total", workspace="demo", action="login") == 0
        saved = json.loads(state.read_text(encoding="utf-8"))
        assert saved["schema"] == 2
        assert sorted(saved["workspaces"]["demo"]["sessions"]["agents"]) == sorted(
            scenario.agent_names()
        )
