"""backfill: records -> timestamped samples, exactly; then the whole import through promtool.

The pure tests replay hand-made records on a four-sample grid and read the OpenMetrics
text back. The import tests run the real command against two simulated workspaces over
loopback, turn its output into TSDB blocks with ``promtool tsdb create-blocks-from
openmetrics``, dump the blocks and compare every sample with the simulator's records.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import log_lines, logged, write_config
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter.collector import LogioCollector
from exporter.commands.backfill import Replay, parse_label, parse_step, parse_time
from exporter.commands.openmetrics import AGENT_COLUMNS, Grid, History, exposition
from exporter.config import Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.sessions import Sessions
from exporter.errors import AuthError, ServerError
from exporter.logio import Patient
from exporter.reader import LogioReader
from exporter.simulator import Scenario, SimulatorServer, render_csv
from exporter.state import ExporterState, WorkspaceState

BUCKETS = (60.0, 300.0)
GRID = Grid(1000, 1300, 100)
TIMES = [1000, 1100, 1200, 1300]
DAY = 86400
TOKEN = "backfill-token-3e9a"

Series = dict[tuple[str, frozenset[tuple[str, str]]], dict[int, float]]


def replay(records: Iterable[Record], grid: Grid = GRID, *, per_agent: bool = True) -> History:
    run = Replay("demo", grid, BUCKETS, per_agent=per_agent)
    run.feed(records)
    return run.finish()


_SAMPLE = re.compile(r"(\w*)\{(.*)\} (\S+) (-?\d+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_openmetrics(text: str) -> Series:
    """Every sample line by name and labels, then timestamp; the text must end in # EOF.

    prometheus_client's parser keeps only the first line of a histogram point that has a
    timestamp, so the tests read the lines themselves.
    """
    assert text.endswith("\n# EOF\n")
    series: Series = defaultdict(dict)
    for line in text.splitlines():
        if not line.startswith("#"):
            name, labels, value, timestamp = sample_of(line)
            series[(name, labels)][timestamp] = value
    return series


def sample_of(line: str) -> tuple[str, frozenset[tuple[str, str]], float, int]:
    """``name{a="b",...} value timestamp``, label values unescaped."""
    match = _SAMPLE.fullmatch(line)
    assert match, line
    return match[1], labels_of(match[2]), float(match[3]), int(match[4])


@functools.cache
def labels_of(text: str) -> frozenset[tuple[str, str]]:
    return frozenset((k, json.loads(f'"{v}"')) for k, v in _LABEL.findall(text))


def values(series: Series, name: str, **labels: str) -> list[float]:
    """The values of one series at the grid's times, in order."""
    points = series[(name, frozenset({"workspace": "demo", **labels}.items()))]
    assert sorted(points) == TIMES
    return [points[t] for t in TIMES]


def text_of(history: History, grid: Grid = GRID, **kwargs: object) -> str:
    return "".join(exposition([history], grid, **kwargs))  # type: ignore[arg-type]


# anna logs in before --from, bo exactly at it: both logged in at 1000, neither counted.
STORY = [
    Record("anna", 900, LOGIN),
    Record("bo", 1000, LOGIN),
    Record("anna", 1050, LOGOUT),  # a 150 s session; 50 s of it after --from
    Record("bo", 1100, LOGOUT),  # a 100 s session, closed exactly at a sample
    Record("cy", 1150, LOGOUT),  # a logout without login, of an agent new at 1150
    Record("anna", 1210, LOGIN),
    Record("anna", 1210, LOGIN),  # an identical twin: a multiset, so counted twice
    Record("dan", 1301, LOGIN),  # after --to: not read
]


@pytest.fixture(name="story", scope="module")
def _story() -> Series:
    return parse_openmetrics(text_of(replay(STORY)))


class TestReplay:
    def test_agents_logged_in_at_every_sample(self, story: Series) -> None:
        """The gauge counts agents whose last record at or before each sample is a login."""
        assert values(story, "cention_agents_logged_in") == [2, 0, 0, 1]

    def test_records_before_and_at_from_are_not_counted(self, story: Series) -> None:
        """Counters are 0 at --from; records up to it only rebuild who is logged in."""
        assert values(story, "cention_logio_records_total", action="login") == [0, 0, 0, 2]
        assert values(story, "cention_logio_records_total", action="logout") == [0, 2, 3, 3]

    def test_each_agent_at_every_sample(self, story: Series) -> None:
        """Per-agent gauge and counters, each sample holding every record up to its time."""
        expected = {
            "anna": ([1, 0, 0, 1], [0, 0, 0, 2], [0, 1, 1, 1]),
            "bo": ([1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1]),
            "cy": ([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]),
        }
        for agent, (logged_in, logins, logouts) in expected.items():
            assert values(story, "cention_agent_logged_in", agent=agent) == logged_in
            assert values(story, "cention_agent_logins_total", agent=agent) == logins
            assert values(story, "cention_agent_logouts_total", agent=agent) == logouts

    def test_logged_in_seconds_count_from_from(self, story: Series) -> None:
        """Seconds start at --from, grow while logged in and include a session still open."""
        seconds = "cention_agent_logged_in_seconds_total"
        assert values(story, seconds, agent="anna") == [0, 50, 50, 140]
        assert values(story, seconds, agent="bo") == [0, 100, 100, 100]
        assert values(story, seconds, agent="cy") == [0, 0, 0, 0]

    def test_session_durations_histogram(self, story: Series) -> None:
        """Sessions closed after --from are observed with their whole length."""
        name = "cention_session_duration_seconds"
        assert values(story, f"{name}_bucket", le="60.0") == [0, 0, 0, 0]
        assert values(story, f"{name}_bucket", le="300.0") == [0, 2, 2, 2]
        assert values(story, f"{name}_bucket", le="+Inf") == [0, 2, 2, 2]
        assert values(story, f"{name}_count") == [0, 2, 2, 2]
        assert values(story, f"{name}_sum") == [0, 250, 250, 250]

    def test_records_after_to_are_ignored(self, story: Series) -> None:
        """A record past the last sample makes no series."""
        agents = {dict(labels).get("agent") for _, labels in story} - {None}
        assert agents == {"anna", "bo", "cy"}

    def test_without_per_agent_only_workspace_families(self) -> None:
        """metrics.per_agent: false leaves out every per-agent family, as the live exporter."""
        names = {name for name, _ in parse_openmetrics(text_of(replay(STORY), per_agent=False))}
        assert not any(name.startswith("cention_agent_") for name in names)
        assert "cention_agents_logged_in" in names

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "c"]),
                st.integers(700, 1500),
                st.sampled_from([LOGIN, LOGOUT]),
            ),
            max_size=40,
        ),
        st.integers(1, 150),
    )
    def test_changes_expand_to_what_sessions_say(
        self, rows: list[tuple[str, int, str]], step: int
    ) -> None:
        """Keeping only changes loses nothing: each sample equals a sessions snapshot."""
        records = sorted((Record(*row) for row in rows), key=lambda r: r.timestamp)
        grid = Grid(1000, 1000 + 4 * step + step // 2, step)
        series = parse_openmetrics(text_of(replay(records, grid), grid))
        agents = {dict(labels).get("agent") for _, labels in series} - {None}
        for t, expected in snapshots(records, grid):
            logged_in = series[("cention_agents_logged_in", frozenset({("workspace", "demo")}))]
            assert logged_in[t] == sum(want[0] for want in expected.values())
            for agent in agents:
                got = tuple(
                    series[
                        (family.samples[0], frozenset({("workspace", "demo"), ("agent", agent)}))
                    ][t]
                    for family, _ in AGENT_COLUMNS
                )
                assert got == expected.get(agent, (0.0, 0.0, 0.0, 0.0)), (agent, t)


def snapshots(
    records: list[Record], grid: Grid
) -> Iterator[tuple[int, dict[str, tuple[float, float, float, float]]]]:
    """A fresh ``Sessions`` stepped sample by sample: the state at each time, read directly."""
    sessions, pending = Sessions(BUCKETS), iter(records)
    record = next(pending, None)
    for index in range(len(grid)):
        t = grid.time(index)
        while record is not None and record.timestamp <= t:
            sessions.apply([record])
            record = next(pending, None)
        if index == 0:
            sessions.start_counting(t, close_window=False)
        sessions.advance(t)
        yield (
            t,
            {
                name: (
                    float(agent.logged_in),
                    float(agent.logins),
                    float(agent.logouts),
                    sessions.logged_in_seconds(agent),
                )
                for name, agent in sessions.agents.items()
            },
        )


class TestExposition:
    def test_exact_text(self) -> None:
        """HELP, TYPE, the extra labels last, integer values and unix-second timestamps."""
        grid = Grid(1000, 1100, 100)
        history = replay([Record('o"k\\', 1050, LOGIN)], grid)
        text = "".join(exposition([history], grid, labels={"job": "cention-logio"}))
        lines = text.splitlines()
        assert lines[:4] == [
            "# HELP cention_agents_logged_in Agents logged in. As of the last successful "
            "poll of the logio API.",
            "# TYPE cention_agents_logged_in gauge",
            'cention_agents_logged_in{workspace="demo",job="cention-logio"} 0 1000',
            'cention_agents_logged_in{workspace="demo",job="cention-logio"} 1 1100',
        ]
        assert (
            'cention_agent_logins_total{workspace="demo",agent="o\\"k\\\\",job="cention-logio"}'
            " 1 1100" in lines
        )
        assert lines[-1] == "# EOF"

    def test_families_are_the_live_exporters(self) -> None:
        """Names, TYPE, HELP and label names equal those of a live scrape."""
        state, workspace = ExporterState(), WorkspaceState("demo", BUCKETS)
        workspace.sessions.start_counting(0)
        workspace.sessions.apply([Record("anna", 10, LOGIN)])
        state.add(workspace)
        registry = CollectorRegistry()
        registry.register(LogioCollector(state))
        live = {
            f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
        }
        # One sample time: prometheus_client's parser reads one point per histogram.
        one = Grid(1300, 1300, 100)
        text = text_of(replay(STORY, one), one, labels={"job": "x"})
        for family in text_string_to_metric_families(text):
            twin = live[family.name]
            assert (family.type, family.documentation) == (twin.type, twin.documentation)
            assert shapes(family.samples, drop="job") == shapes(twin.samples)

    def test_headers_are_the_live_exporters(self) -> None:
        """Each family's HELP and TYPE lines are byte for byte those of a live scrape."""
        registry = CollectorRegistry()
        registry.register(LogioCollector(ExporterState()))
        written = {
            "cention_agents_logged_in",
            "cention_session_duration_seconds",
            "cention_logio_records",
            "cention_agent_logged_in",
            "cention_agent_logins",
            "cention_agent_logouts",
            "cention_agent_logged_in_seconds",
        }
        live = [
            line
            for line in generate_latest(registry).decode().splitlines()
            if line.startswith(("# HELP ", "# TYPE ")) and line.split()[2] in written
        ]
        headers = [line for line in text_of(replay(STORY)).splitlines() if line.startswith("# ")]
        assert headers == [*live, "# EOF"]
        assert len(live) == 2 * len(written)

    def test_every_metric_is_contiguous_and_in_time_order(self) -> None:
        """Each metric's lines come together, oldest first, as OpenMetrics requires."""
        lines = text_of(replay(STORY)).splitlines()
        points = [metric_point(line) for line in lines if not line.startswith("#")]
        runs = [key for i, (key, _) in enumerate(points) if i == 0 or points[i - 1][0] != key]
        assert len(runs) == len(set(runs)) == 1 + 1 + 2 + 4 * 3
        for key in runs:
            times = [t for k, t in points if k == key]
            assert times == sorted(times)


def metric_point(line: str) -> tuple[str, int]:
    """A sample line's metric (a histogram's without suffix and ``le``) and its timestamp."""
    head, _, timestamp = line.rsplit(" ", 2)
    name, _, labels = head.partition("{")
    if name.startswith("cention_session_duration_seconds"):
        name, labels = "cention_session_duration_seconds", re.sub(r',le="[^"]*"', "", labels)
    return f"{name}{{{labels}", int(timestamp)


def shapes(samples: Iterable[object], drop: str = "") -> set[tuple[str, frozenset[str]]]:
    return {
        (s.name, frozenset(set(s.labels) - {drop}))  # type: ignore[attr-defined]
        for s in samples
    }


class TestFlags:
    @pytest.mark.parametrize(
        ("text", "unix"),
        [
            pytest.param("2026-01-01", 1767225600, id="date"),
            pytest.param("2026-01-01T08:00:00Z", 1767254400, id="rfc3339-z"),
            pytest.param("2026-01-01t09:00:00.750+01:00", 1767254400, id="offset-fraction"),
            pytest.param("2025-12-31T20:30:00-11:30", 1767254400, id="negative-offset"),
            pytest.param("1767254400", 1767254400, id="unix"),
        ],
    )
    def test_times(self, text: str, unix: int) -> None:
        """Dates are UTC midnight; RFC 3339 times keep their offset; unix seconds as they are."""
        assert parse_time(text) == unix

    @pytest.mark.parametrize("text", ["2026-13-01", "2026-01-01T08:00:00", "yesterday", ""])
    def test_bad_times(self, text: str) -> None:
        """An impossible date, a time without its offset or a word is refused."""
        with pytest.raises(ValueError, match=r"time|expected"):
            parse_time(text)

    def test_step(self) -> None:
        """Durations as in the config; a step must be whole seconds, at least one."""
        assert (parse_step("1m"), parse_step("90s"), parse_step("1h")) == (60, 90, 3600)
        for bad in ("500ms", "1.5s", "0s"):
            with pytest.raises(ValueError, match="whole seconds"):
                parse_step(bad)

    def test_labels(self) -> None:
        """NAME=VALUE, a Prometheus label name, and none of the exporter's own."""
        assert parse_label("instance=host:9863") == ("instance", "host:9863")
        assert parse_label("code=x") == ("code", "x")  # a label of a family not written
        for bad in ("job", "job=", "1x=y", "__name__=x"):
            with pytest.raises(ValueError, match="NAME=VALUE"):
                parse_label(bad)
        for own in ("workspace", "agent", "action", "le"):
            with pytest.raises(ValueError, match=f"^{own} is a label of the exporter's own$"):
                parse_label(f"{own}=x")

    def test_grid(self) -> None:
        """A range ends after it starts and not in the future."""
        assert len(Grid.between(0, 3600, 60, now=3600)) == 61
        for start, stop in ((10, 10), (0, 7200)):
            with pytest.raises(ValueError, match="--to"):
                Grid.between(start, stop, 60, now=3600)


@dataclass
class FakeApi:
    """Answers each window with the records in it, as CSV; logs what it was asked."""

    records: list[Record]
    asked: list[tuple[int, int, str | None]]
    failures: list[Exception]

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        self.asked.append((frm, to, name))
        if self.failures:
            raise self.failures.pop(0)
        rows = [r for r in self.records if frm <= r.timestamp <= to and name in (None, r.name)]
        return render_csv(rows)


WORKSPACE = WorkspaceConfig("demo", "https://cention.test", Secret("t"))


class TestReading:
    def test_shared_window_ends_are_read_once(self) -> None:
        """A record at the end of one window and the start of the next is yielded once."""
        api = FakeApi(
            [Record("a", 100, LOGIN), Record("a", 100, LOGIN), Record("a", 150, LOGOUT)], [], []
        )
        reader = LogioReader(api, WORKSPACE, 600)
        assert list(reader.records([(0, 100), (100, 200)])) == api.records
        assert (reader.requests, reader.records_read) == (2, 3)

    def test_agents_filter_asks_per_name(self) -> None:
        """With agents listed, each window is asked once per name."""
        api = FakeApi([Record("a", 10, LOGIN), Record("z", 10, LOGIN)], [], [])
        workspace = WorkspaceConfig("demo", "https://x.test", Secret("t"), agents=("a", "b"))
        assert list(LogioReader(api, workspace, 600).records([(0, 20)])) == [Record("a", 10, LOGIN)]
        assert api.asked == [(0, 20, "a"), (0, 20, "b")]

    def test_passing_failures_are_retried(self) -> None:
        """A 5xx is retried after a pause; the answer that follows is used."""
        api = FakeApi([Record("a", 10, LOGIN)], [], [ServerError("HTTP 503")])
        pauses: list[float] = []
        assert Patient(api, sleep=pauses.append).fetch(0, 20) == render_csv(api.records)
        assert pauses == [2.0]

    def test_auth_failures_are_not_retried(self) -> None:
        """A 401 will not pass by waiting: it is raised at once."""
        api = FakeApi([], [], [AuthError("HTTP 401")])
        with pytest.raises(AuthError):
            Patient(api, sleep=lambda _: None).fetch(0, 20)
        assert len(api.asked) == 1


# The import, end to end.


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: install Debian's prometheus package"
    return found


@dataclass
class Import:
    scenarios: dict[str, Scenario]
    start: int
    stop: int
    step: int
    output: Path
    data: Path
    result: subprocess.CompletedProcess[str]
    served: dict[str, int]
    """Requests each workspace's simulator answered."""

    def times(self) -> range:
        return range(self.start, self.stop + 1, self.step)


@pytest.fixture(name="imported", scope="module")
def _imported(tmp_path_factory: pytest.TempPathFactory) -> Import:
    """``backfill`` over the last two simulated days of two workspaces, 5 min steps."""
    tmp = tmp_path_factory.mktemp("backfill")
    output, step = tmp / "history.om", 300
    stop = (int(time.time()) // DAY - 1) * DAY  # midnight before last, UTC: wholly past
    scenarios = {
        "north": Scenario(start=stop, agents=30, seed=3, live=False),
        "south": Scenario(start=stop, agents=20, seed=4, live=False),
    }
    servers = {
        name: SimulatorServer(s, token=TOKEN, workspace=name) for name, s in scenarios.items()
    }
    for server in servers.values():
        server.start()
    try:
        config = write_config(
            tmp / "config.yaml",
            [
                {
                    "workspace": "north",
                    "api_url": servers["north"].url,
                    "token": TOKEN,
                    "format": "csv",
                },
                {
                    "workspace": "south",
                    "api_url": servers["south"].url,
                    "token": TOKEN,
                    "format": "json",
                },
            ],
        )
        result = run_cli(
            "backfill",
            f"--config.file={config}",
            "--from",
            time.strftime("%Y-%m-%d", time.gmtime(stop - 2 * DAY)),
            "--to",
            str(stop),
            "--step",
            "5m",
            "--label",
            "job=cention-logio",
            "--output",
            str(output),
        )
    finally:
        for server in servers.values():
            server.stop()
    served = {name: server.answered for name, server in servers.items()}
    return Import(scenarios, stop - 2 * DAY, stop, step, output, tmp / "data", result, served)


@pytest.fixture(name="dump", scope="module")
def _dump(imported: Import) -> Series:
    """The samples of the blocks that promtool made of the output."""
    created = subprocess.run(
        [
            promtool(),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(imported.output),
            str(imported.data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    (imported.data / "wal").mkdir(exist_ok=True)  # promtool 2.42's dump wants one, even empty
    dumped = subprocess.run(
        [promtool(), "tsdb", "dump", str(imported.data)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return parse_dump(dumped.stdout)


def parse_dump(text: str) -> Series:
    """``{__name__="x", a="b"} 1 1700000000000`` lines -> series by name and labels."""
    series: Series = defaultdict(dict)
    for line in text.splitlines():
        _, labels, value, millis = sample_of(line)
        name = dict(labels)["__name__"]
        series[(name, labels - {("__name__", name)})][millis // 1000] = value
    return series


def at(series: Series, name: str, t: int, **labels: str) -> float:
    return series[(name, frozenset({"job": "cention-logio", **labels}.items()))][t]


class TestImport:
    def test_backfill_succeeds_and_logs_no_token(self, imported: Import) -> None:
        """The command exits 0, says what it read and wrote, and the token is nowhere."""
        result = imported.result
        assert result.returncode == 0, result.stderr
        first = imported.start - 7 * DAY  # the config's lookback before --from
        logger = "exporter.commands.backfill"
        read = [
            {
                "level": "info",
                "logger": logger,
                "msg": "history read",
                "workspace": name,
                "records": str(len(scenario.records(first, imported.stop, now=imported.stop))),
                "requests": str(imported.served[name]),  # as the API's side counted them
                "invalid": "0",
            }
            for name, scenario in imported.scenarios.items()
        ]
        written = {
            "level": "info",
            "logger": logger,
            "msg": "backfill written",
            "path": str(imported.output),
            "sample_times": str(len(imported.times())),
            "step": "300s",
        }
        lines = [line for line in log_lines(result.stderr) if line["logger"] == logger]
        assert [{k: v for k, v in line.items() if k != "ts"} for line in lines] == [*read, written]
        assert TOKEN not in result.stdout + result.stderr + imported.output.read_text()
        assert imported.output.read_text().endswith("# EOF\n")

    def test_promtool_imports_the_blocks(self, imported: Import, dump: Series) -> None:
        """Every line becomes a sample, and every series covers every sample time."""
        assert list(imported.data.glob("*/meta.json"))
        lines = imported.output.read_text(encoding="utf-8").splitlines()
        assert sum(map(len, dump.values())) == sum(1 for line in lines if line[0] != "#")
        times = set(imported.times())
        assert all(set(points) == times for points in dump.values())

    def test_agents_logged_in_at_every_sample(self, imported: Import, dump: Series) -> None:
        """The gauge equals the number of agents whose last record is a login, at every step."""
        for name, scenario in imported.scenarios.items():
            for t in imported.times():
                expected = len(scenario.logged_in_at(t))
                assert at(dump, "cention_agents_logged_in", t, workspace=name) == expected, t

    def test_each_agent_logged_in_at_every_sample(self, imported: Import, dump: Series) -> None:
        """Each agent's gauge is 1 exactly when the simulator says it is logged in."""
        scenario = imported.scenarios["south"]
        for t in imported.times()[::6]:
            truth = scenario.logged_in_at(t)
            for agent in scenario.agent_names():
                got = at(dump, "cention_agent_logged_in", t, workspace="south", agent=agent)
                assert got == (agent in truth), (agent, t)

    def test_logins_and_logouts_per_agent(self, imported: Import, dump: Series) -> None:
        """Per-agent counters start at 0 at --from and count every record after it."""
        for name, scenario in imported.scenarios.items():
            for t in (imported.start + 7 * 3600, imported.start + DAY, imported.stop):
                for action, family in ((LOGIN, "logins"), (LOGOUT, "logouts")):
                    truth = scenario.count_by_agent(action, imported.start + 1, t)
                    got = {
                        agent: at(
                            dump, f"cention_agent_{family}_total", t, workspace=name, agent=agent
                        )
                        for agent in scenario.agent_names()
                    }
                    assert {a: n for a, n in got.items() if n} == dict(truth)

    def test_records_total(self, imported: Import, dump: Series) -> None:
        """Workspace counters by action equal the records after --from, at each hour."""
        for name, scenario in imported.scenarios.items():
            for t in imported.times()[::12]:
                for action in (LOGIN, LOGOUT):
                    expected = scenario.count(action, imported.start + 1, t)
                    got = at(
                        dump,
                        "cention_logio_records_total",
                        t,
                        workspace=name,
                        action=action.lower(),
                    )
                    assert got == expected

    def test_sessions_and_seconds(self, imported: Import, dump: Series) -> None:
        """Histogram and logged-in seconds equal a plain walk through the records."""
        for name, scenario in imported.scenarios.items():
            for t in (imported.start + DAY + 3600, imported.stop):
                durations, seconds = walk(scenario.records(0, t, now=t), imported.start, t)
                ws = {"workspace": name}
                assert at(dump, "cention_session_duration_seconds_count", t, **ws) == len(durations)
                assert at(dump, "cention_session_duration_seconds_sum", t, **ws) == sum(durations)
                for le in ("300.0", "3600.0", "28800.0"):
                    within = sum(1 for d in durations if d <= float(le))
                    assert (
                        at(dump, "cention_session_duration_seconds_bucket", t, le=le, **ws)
                        == within
                    )
                for agent in scenario.agent_names():
                    got = at(dump, "cention_agent_logged_in_seconds_total", t, agent=agent, **ws)
                    assert got == seconds[agent], agent


def walk(records: list[Record], start: int, t: int) -> tuple[list[int], Counter[str]]:
    """Completed session lengths and logged-in seconds within ``(start, t]``, by hand.

    A login while logged out opens a session, a logout while logged in closes it.
    """
    opened: dict[str, int] = {}
    durations: list[int] = []
    seconds: Counter[str] = Counter()
    for record in records:
        begun = opened.get(record.name)
        if record.action == LOGIN and begun is None:
            opened[record.name] = record.timestamp
        elif record.action == LOGOUT and begun is not None:
            del opened[record.name]
            if record.timestamp > start:
                durations.append(record.timestamp - begun)
                seconds[record.name] += record.timestamp - max(begun, start)
    for name, begun in opened.items():
        seconds[name] += max(0, t - max(begun, start))
    return durations, seconds


class TestCommandErrors:
    def test_wrong_token_fails_naming_auth(self, tmp_path: Path) -> None:
        """A rejected token exits 1, names the auth problem, leaves no file and no token."""
        with SimulatorServer(Scenario(start=1_700_000_000, agents=3), token="right-one") as server:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": server.url, "token": "wrong-secret-77"}],
            )
            output = tmp_path / "history.om"
            result = run_cli(
                "backfill",
                f"--config.file={config}",
                "--from",
                "2023-11-13",
                "--to",
                "2023-11-14",
                "--output",
                str(output),
            )
        assert result.returncode == 1
        assert logged(log_lines(result.stderr), "error")[-1] == (
            "error",
            "backfill failed",
            "workspace=demo: the logio API failed (auth): HTTP 401 from /s/demo/capi/custom/logio: "
            "the token needs the 'Access to logio API' claim",
        )
        assert "wrong-secret-77" not in result.stdout + result.stderr
        assert list(tmp_path.iterdir()) == [config]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            pytest.param(
                ["--from", "2026-01-02", "--to", "2026-01-01"],
                "--to must be after --from",
                id="reversed",
            ),
            pytest.param(
                ["--from", "2026-01-01", "--to", "2999-01-01"], "--to is in the future", id="future"
            ),
            pytest.param(
                ["--from", "2026-01-01", "--to", "2026-01-02", "--workspace", "nope"],
                "workspace nope is not in the config",
                id="workspace",
            ),
            pytest.param(
                ["--from", "soon", "--to", "2026-01-02"],
                "argument --from: expected YYYY-MM-DD",
                id="time",
            ),
        ],
    )
    def test_usage_errors(self, tmp_path: Path, args: list[str], message: str) -> None:
        """A wrong range, workspace or time exits 2 with a message naming it."""
        config = write_config(
            tmp_path / "config.yaml",
            [{"workspace": "demo", "api_url": "http://127.0.0.1:9", "token": "t"}],
        )
        result = run_cli("backfill", f"--config.file={config}", *args, "--output", "-")
        assert result.returncode == 2
        assert message in result.stderr
