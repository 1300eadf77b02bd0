"""Restarts with state.file: records that happen while the exporter is down count once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from harness import run_exporter, value, write_config

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "restart-token-91ab"


def burst(scenario: Scenario, agents: list[str]) -> None:
    """Each agent logs in now and out a second later."""
    now = int(time.time())
    for agent in agents:
        scenario.inject(Record(agent, now, LOGIN))
        scenario.inject(Record(agent, now + 1, LOGOUT))


class TestRestart:
    @pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
    def test_counts_continue_across_a_restart(
        self, tmp_path: Path, stop_signal: signal.Signals
    ) -> None:
        """Counters resume from the file and events during the downtime are counted once."""
        scenario = Scenario(start=int(time.time()), agents=12, seed=5, live=False)
        idle = sorted(set(scenario.agent_names()) - scenario.logged_in_at(time.time()))
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}],
                state={"file": str(tmp_path / "state.json")},
            )
            with run_exporter(config) as exporter:
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
                exporter.process.send_signal(stop_signal)
                started = time.monotonic()
                assert exporter.process.wait(timeout=5) == 0
                assert time.monotonic() - started < 5
            assert (tmp_path / "state.json").exists()
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
