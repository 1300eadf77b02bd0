"""query: who is logged in now, since when; rendered, and run against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from harness import free_port, write_config

from exporter.commands.query import LoggedIn, logged_in, render_json, render_table
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.sessions import Sessions
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "query-token-81c4"
POLL = {"interval": "1s", "timeout": "5s", "overlap": "10m", "lookback": "8d", "max_window": "1d"}


class TestLoggedIn:
    def test_open_sessions_with_their_start(self) -> None:
        """Agents with an open session, by name, since its first login, for how long."""
        sessions = Sessions((60.0,))
        sessions.apply(
            [
                Record("zoe", 100, LOGIN),
                Record("al", 150, LOGIN),
                Record("zoe", 160, LOGIN),  # login while logged in: the start stays
                Record("bo", 170, LOGIN),
                Record("bo", 180, LOGOUT),
            ]
        )
        assert logged_in(sessions, "demo", 200) == [
            LoggedIn("demo", "al", 150, 50),
            LoggedIn("demo", "zoe", 100, 100),
        ]


ROWS = [
    LoggedIn("north", "anna.berg", 1767254400, 11525),
    LoggedIn("north", 'erik "the viking"', 1767168000, 97925),
]


class TestRender:
    def test_table(self) -> None:
        """Aligned columns, UTC times, durations as h:mm:ss or days then hh:mm:ss."""
        assert render_table(ROWS).splitlines() == [
            "WORKSPACE  AGENT              SINCE (UTC)          FOR",
            "north      anna.berg          2026-01-01 08:00:00  3:12:05",
            'north      erik "the viking"  2025-12-31 08:00:00  1d 03:12:05',
        ]

    def test_empty_table(self) -> None:
        """Nobody logged in is said in words."""
        assert render_table([]) == "No agent is logged in.\n"

    def test_json(self) -> None:
        """A list of objects with unix and ISO times and the seconds logged in."""
        assert json.loads(render_json(ROWS[:1])) == [
            {
                "workspace": "north",
                "agent": "anna.berg",
                "since": 1767254400,
                "since_iso": "2026-01-01T08:00:00Z",
                "seconds": 11525,
            }
        ]


@pytest.fixture(name="simulators", scope="module")
def _simulators() -> Iterator[dict[str, SimulatorServer]]:
    """Two workspaces whose history ends a minute ago; 45 agents include awkward names."""
    start = int(time.time()) - 60
    servers = {
        "north": SimulatorServer(
            Scenario(start=start, agents=45, seed=5, live=False), token=TOKEN, workspace="north"
        ),
        "south": SimulatorServer(
            Scenario(start=start, agents=12, seed=6, live=False), token=TOKEN, workspace="south"
        ),
    }
    north = servers["north"].scenario
    for name in north.agent_names():  # awkward names logged in whatever the hour
        if ('"' in name or " " in name) and name not in north.logged_in_at(start):
            north.inject(Record(name, start, LOGIN))
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def workspace(name: str, url: str, token: str = TOKEN, fmt: str = "csv") -> dict[str, object]:
    return {"workspace": name, "api_url": url, "token": token, "format": fmt}


@pytest.fixture(name="config")
def _config(simulators: dict[str, SimulatorServer], tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        [
            workspace("south", simulators["south"].url, fmt="json"),
            workspace("north", simulators["north"].url),
        ],
        poll=POLL,
    )


def truth(simulators: dict[str, SimulatorServer]) -> list[tuple[str, str, int]]:
    """(workspace, agent, since) of every open session, by a plain walk of the records."""
    rows = []
    for name, server in simulators.items():
        scenario = server.scenario
        opened: dict[str, int] = {}
        for record in scenario.records(0, scenario.start, now=scenario.start):
            if record.action == LOGIN:
                opened.setdefault(record.name, record.timestamp)
            else:
                opened.pop(record.name, None)
        assert set(opened) == scenario.logged_in_at(scenario.start)
        rows += [(name, agent, since) for agent, since in opened.items()]
    return sorted(rows)


def run_query(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "query", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestQuery:
    def test_json_lists_who_is_logged_in_since_when(
        self, config: Path, simulators: dict[str, SimulatorServer]
    ) -> None:
        """Exactly the agents logged in, each with its session's start, as of one instant."""
        before = int(time.time())
        result = run_query(f"--config.file={config}", "--output", "json")
        after = int(time.time())
        assert (result.returncode, result.stderr) == (0, "")
        rows = json.loads(result.stdout)
        assert [(r["workspace"], r["agent"], r["since"]) for r in rows] == truth(simulators)
        nows = {row["since"] + row["seconds"] for row in rows}
        assert len(nows) == 1
        assert before <= nows.pop() <= after
        for row in rows:
            assert row["since_iso"] == iso(row["since"])

    def test_table_lists_the_same(
        self, config: Path, simulators: dict[str, SimulatorServer]
    ) -> None:
        """The table holds the same agents and starts, by workspace then agent."""
        result = run_query(f"--config.file={config}")
        assert (result.returncode, result.stderr) == (0, "")
        header, *lines = result.stdout.splitlines()
        columns = [header.index(title) for title in ("AGENT", "SINCE (UTC)", "FOR")]
        rows = [
            (
                line[: columns[0]].strip(),
                line[columns[0] : columns[1]].strip(),
                line[columns[1] : columns[2]].strip(),
            )
            for line in lines
        ]
        expected = [
            (
                name,
                agent,
                datetime.fromtimestamp(since, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            )
            for name, agent, since in truth(simulators)
        ]
        assert rows == expected
        assert any('"' in agent or " " in agent for _, agent, _ in rows)  # awkward names survive

    def test_one_workspace(self, config: Path, simulators: dict[str, SimulatorServer]) -> None:
        """--workspace limits the answer to that workspace."""
        result = run_query(f"--config.file={config}", "--workspace", "south", "--output", "json")
        assert result.returncode == 0
        rows = [(r["workspace"], r["agent"], r["since"]) for r in json.loads(result.stdout)]
        assert rows == [row for row in truth(simulators) if row[0] == "south"]


class TestFailures:
    def test_wrong_token_names_the_auth_problem(
        self, simulators: dict[str, SimulatorServer], tmp_path: Path
    ) -> None:
        """A rejected token exits 1, says auth and 401, and shows the token nowhere."""
        secret = "not-the-token-5d2f"
        config = write_config(
            tmp_path / "config.yaml", [workspace("north", simulators["north"].url, secret)]
        )
        result = run_query(f"--config.file={config}")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith(
            "workspace=north: cannot read the logio API (auth): HTTP 401 from "
            "/s/north/capi/custom/logio: the token needs the 'Access to logio API' claim"
        )
        assert secret not in result.stdout + result.stderr

    def test_unreachable_api_names_the_network(self, tmp_path: Path) -> None:
        """Nothing listening exits 1 with the network named."""
        url = f"http://127.0.0.1:{free_port()}"
        config = write_config(tmp_path / "config.yaml", [workspace("north", url)])
        result = run_query(f"--config.file={config}", "--output", "json")
        assert (result.returncode, result.stdout) == (1, "")
        assert "workspace=north: cannot read the logio API (network)" in result.stderr
        assert TOKEN not in result.stderr

    def test_one_failing_workspace_still_shows_the_other(
        self, simulators: dict[str, SimulatorServer], tmp_path: Path
    ) -> None:
        """The workspaces that answer are printed; the one that fails is named; exit 1."""
        config = write_config(
            tmp_path / "config.yaml",
            [
                workspace("north", simulators["north"].url, "wrong"),
                workspace("south", simulators["south"].url),
            ],
            poll=POLL,
        )
        result = run_query(f"--config.file={config}", "--output", "json")
        assert result.returncode == 1
        rows = [(r["workspace"], r["agent"], r["since"]) for r in json.loads(result.stdout)]
        assert rows == [row for row in truth(simulators) if row[0] == "south"]
        assert "workspace=north: cannot read the logio API (auth)" in result.stderr

    def test_unknown_workspace(self, config: Path) -> None:
        """A --workspace not in the config is a usage error naming the known ones."""
        result = run_query(f"--config.file={config}", "--workspace", "east")
        assert result.returncode == 2
        assert "workspace east is not in the config (known: south, north)" in result.stderr


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
