"""Reloading the config, by SIGHUP or POST /-/reload, without losing state."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
from harness import Samples, logged, run_exporter, series, value, write_config

from exporter.core.records import LOGIN, Record
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "reload-token-33"


def workspace(name: str, simulator: SimulatorServer) -> dict[str, object]:
    return {"workspace": name, "api_url": simulator.url, "token": TOKEN}


class TestReload:
    def test_workspaces_come_and_go_and_state_stays(self, tmp_path: Path) -> None:
        """An added workspace starts, a removed one stops, a kept one keeps its counters."""
        start = int(time.time())
        one = Scenario(start=start, agents=6, seed=1, live=False)
        two = Scenario(start=start, agents=4, seed=2, live=False)
        with (
            SimulatorServer(one, token=TOKEN, workspace="one") as sim_one,
            SimulatorServer(two, token=TOKEN, workspace="two") as sim_two,
        ):
            path = tmp_path / "config.yaml"
            write_config(path, [workspace("one", sim_one)])
            with run_exporter(path) as exporter:
                agent = sorted(set(one.agent_names()) - one.logged_in_at(time.time()))[0]
                one.inject(Record(agent, int(time.time()), LOGIN))
                exporter.wait_for(
                    lambda: (
                        value(
                            exporter.scrape(),
                            "cention_logio_records_total",
                            workspace="one",
                            action="login",
                        )
                        == 1
                    )
                )

                write_config(path, [workspace("one", sim_one), workspace("two", sim_two)])
                exporter.process.send_signal(signal.SIGHUP)
                exporter.wait_for(
                    lambda: value(exporter.scrape(), "cention_up", workspace="two") == 1
                )
                samples = exporter.scrape()
                assert series(samples, "cention_up", "workspace") == {"one": 1, "two": 1}
                assert (
                    value(samples, "cention_logio_records_total", workspace="one", action="login")
                    == 1
                )

                write_config(path, [workspace("two", sim_two)])
                response = httpx.post(exporter.url + "/-/reload", timeout=10)
                assert (response.status_code, response.text) == (200, "reloaded\n")
                samples = exporter.scrape()
                assert series(samples, "cention_up", "workspace") == {"two": 1}
                assert series(samples, "cention_agents_logged_in", "workspace") == {
                    "two": len(two.logged_in_at(time.time()))
                }

    def test_failed_reload_keeps_the_running_config(self, tmp_path: Path) -> None:
        """A reload of a broken file answers 500 naming the key and changes nothing."""
        scenario = Scenario(start=int(time.time()), agents=3, seed=1, live=False)
        with SimulatorServer(scenario, token=TOKEN, workspace="one") as simulator:
            path = write_config(tmp_path / "config.yaml", [workspace("one", simulator)])
            with run_exporter(path) as exporter:
                path.write_text("workspaces: []\npoll: {interval: never}\n")
                response = httpx.post(exporter.url + "/-/reload", timeout=10)
                problems = (
                    "poll.interval: expected a duration like 500ms, 30s, 5m, 7d, got 'never'; "
                    "workspaces: at least one workspace is required"
                )
                assert (response.status_code, response.text) == (
                    500,
                    f"reload failed: {problems}\n",
                )
                assert series(exporter.scrape(), "cention_up", "workspace") == {"one": 1}
                errors = [line for line in logged(exporter.lines(), "error") if line[0] == "error"]
                assert errors == [("error", "reload failed, keeping the running config", problems)]

    def test_a_changed_schedule_is_followed(self, tmp_path: Path) -> None:
        """A reload swaps the schedule: closed all week, then open all day with a plan of
        3 agents, then none at all (open, no plan)."""
        scenario = Scenario(start=int(time.time()), agents=3, seed=1, live=False)
        closed = {"timezone": "Europe/Stockholm", "hours": {}}
        planned = {"timezone": "Europe/Stockholm", "staffing": {"mon-sun": {"00:00-24:00": 3}}}
        with SimulatorServer(scenario, token=TOKEN, workspace="one") as simulator:
            path = tmp_path / "config.yaml"
            write_config(path, [workspace("one", simulator)], schedule=closed)
            with run_exporter(path) as exporter:
                shown = []
                for schedule in (planned, None):
                    shown.append(schedule_gauges(exporter.scrape()))
                    sections = {} if schedule is None else {"schedule": schedule}
                    write_config(path, [workspace("one", simulator)], **sections)
                    response = httpx.post(exporter.url + "/-/reload", timeout=10)
                    assert (response.status_code, response.text) == (200, "reloaded\n")
                shown.append(schedule_gauges(exporter.scrape()))
        assert shown == [(0, None), (1, 3), (1, None)]


def schedule_gauges(samples: Samples) -> tuple[float | None, float | None]:
    """Workspace one's business hours and required agents, None where absent."""
    return (
        value(samples, "cention_business_hours", workspace="one"),
        value(samples, "cention_staffing_required_agents", workspace="one"),
    )
