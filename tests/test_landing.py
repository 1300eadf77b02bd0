"""The landing page: its rendering, the status it reads from the state, and what a browser shows.

The browser tests load the page in Debian's headless chromium (scripts on) and read the
DOM it built; the table's values are checked against the simulator's ground truth.
"""

from __future__ import annotations

import calendar
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
from harness import needs, run_exporter, write_config
from prometheus_client import CollectorRegistry

from exporter import __version__
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Scenario, SimulatorServer
from exporter.state import ExporterState, WorkspaceState
from exporter.web.landing import NAMES_OPEN, NAMES_SHOWN, ago, landing_page
from exporter.web.server import ExporterServer
from exporter.web.status import WorkspaceStatus, workspace_status

NOW = calendar.timegm((2026, 11, 26, 8, 0, 0))
HEADERS = [
    "Workspace",
    "Polling",
    "Ready",
    "Agents logged in",
    "Last successful poll",
    "Newest record",
    "Reason",
]
TOKEN = "landing-token-5c1e"
SCRIPT = '<script>document.title="pwned"</script>'


class Page(HTMLParser):
    """What a reader sees of the page: title, links, the status table and the agent lists."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.title, self.version = "", ""
        self.links: list[tuple[str, str]] = []
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.agents: dict[str, list[str]] = {}
        self._text: list[str] | None = None
        self._href, self._summary = "", ""
        self._in: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)
        if tag == "tr" and "tbody" in self._in:
            self.rows.append([])
        if tag in ("title", "div", "th", "td", "a", "summary", "li"):
            self._text = []
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text or [])
        if tag == "title":
            self.title = text
        elif tag == "div" and text.startswith("Version: "):
            self.version = text
        elif tag == "a":
            self.links.append((self._href, text))
        elif tag == "th":
            self.headers.append(text)
        elif tag == "td":
            self.rows[-1].append(text)
        elif tag == "summary":
            self._summary = text.rpartition(": ")[0]
            self.agents[self._summary] = []
        elif tag == "li" and "details" in self._in:
            self.agents[self._summary].append(text)
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def row(self, workspace: str) -> dict[str, str]:
        """The table row of ``workspace``, by column header."""
        (cells,) = (r for r in self.rows if r[0] == workspace)
        return dict(zip(self.headers, cells, strict=True))


def status(name: str = "demo", **fields: object) -> WorkspaceStatus:
    values: dict[str, object] = {
        "up": True,
        "ready": True,
        "reason": "ok",
        "logged_in": 2,
        "last_success": NOW - 4,
        "newest_record": NOW - 125,
        "agents": ("anna.berg", "erik.holm"),
    }
    values.update(fields)
    return WorkspaceStatus(name, **values)  # type: ignore[arg-type]


def render(workspaces: list[WorkspaceStatus] | None, **options: str) -> Page:
    return Page(
        landing_page(
            version=options.get("version", "1.2.3"),
            telemetry_path=options.get("telemetry_path", "/metrics"),
            docs_url=options.get("docs_url"),
            workspaces=workspaces,
            now=NOW,
        )
    )


class TestAgo:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            pytest.param(0, "0 s ago", id="now"),
            pytest.param(59.9, "59 s ago", id="seconds"),
            pytest.param(60, "1 min ago", id="a-minute"),
            pytest.param(3 * 3600 + 59 * 60, "3 h ago", id="hours"),
            pytest.param(2 * 86400 + 5, "2 d ago", id="days"),
            pytest.param(-5, "ahead of this clock by 5 s", id="future"),
        ],
    )
    def test_ago(self, seconds: float, text: str) -> None:
        """How long ago, in the largest whole unit."""
        assert ago(seconds) == text


class TestLandingPage:
    def test_name_version_and_described_links(self) -> None:
        """The toolkit's parts: name as title, version line, every link with what it is."""
        page = render(None, telemetry_path="/probe", docs_url="https://docs.example/runbook")
        assert (page.title, page.version) == ("cention-logio-exporter", "Version: 1.2.3")
        assert page.links == [
            ("/probe", "Metrics"),
            ("/-/healthy", "Health"),
            ("/-/ready", "Readiness"),
            ("https://docs.example/runbook", "Documentation"),
        ]
        assert (page.headers, page.rows) == ([], [])

    def test_the_viewport_is_set(self) -> None:
        """Phones render the page at their width rather than zoomed out."""
        html = landing_page(version="1", telemetry_path="/metrics", now=NOW)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html

    def test_a_row_per_workspace(self) -> None:
        """Each workspace's state, times in UTC with how long ago."""
        down = status(
            "sales",
            up=False,
            ready=False,
            reason="initial lookback failing: auth",
            logged_in=0,
            last_success=None,
            newest_record=None,
            agents=(),
        )
        page = render([status(), down])
        assert page.headers == HEADERS
        assert page.rows == [
            [
                "demo",
                "up",
                "yes",
                "2",
                "2026-11-26 07:59:56 UTC 4 s ago",
                "2026-11-26 07:57:55 UTC 2 min ago",
                "ok",
            ],
            ["sales", "down", "no", "0", "never", "none yet", "initial lookback failing: auth"],
        ]
        assert page.agents == {"demo": ["anna.berg", "erik.holm"], "sales": []}

    def test_names_are_escaped(self) -> None:
        """Workspace and agent names and reasons are text, never markup."""
        odd = status(SCRIPT, reason="<b>bold</b>", logged_in=1, agents=(f"<i>{SCRIPT}</i>",))
        html = landing_page(version="<v>", telemetry_path="/m?a=1&b=<2>", workspaces=[odd], now=NOW)
        page = Page(html)
        assert (page.rows[0][0], page.rows[0][-1]) == (SCRIPT, "<b>bold</b>")
        assert page.agents == {SCRIPT: [f"<i>{SCRIPT}</i>"]}
        assert (page.version, page.links[0]) == ("Version: <v>", ("/m?a=1&b=<2>", "Metrics"))
        assert ("<script>" in html, "<b>" in html, "<i>" in html, "<v>" in html) == (
            False,
            False,
            False,
            False,
        )

    def test_long_lists_are_cut(self) -> None:
        """Past NAMES_SHOWN names the list says how many more there are."""
        names = tuple(f"agent-{i:05}" for i in range(NAMES_SHOWN + 2345))
        html = landing_page(
            version="1",
            telemetry_path="/metrics",
            workspaces=[status(logged_in=len(names), agents=names)],
            now=NOW,
        )
        page = Page(html)
        shown = page.agents["demo"]
        assert (len(shown), shown[0], shown[-2], shown[-1]) == (
            NAMES_SHOWN + 1,
            "agent-00000",
            f"agent-{NAMES_SHOWN - 1:05}",
            "and 2,345 more",
        )
        assert page.row("demo")["Agents logged in"] == f"{NAMES_SHOWN + 2345:,}"
        assert ("<details>" in html, "<details open>" in html) == (True, False)

    def test_short_lists_are_unfolded(self) -> None:
        """A list of up to NAMES_OPEN names shows without a click."""
        names = tuple(f"agent-{i:03}" for i in range(NAMES_OPEN))
        html = landing_page(
            version="1",
            telemetry_path="/metrics",
            workspaces=[status(logged_in=len(names), agents=names)],
            now=NOW,
        )
        assert ("<details>" in html, "<details open>" in html) == (False, True)

    def test_no_names_where_per_agent_series_are_off(self) -> None:
        """Without names (metrics.per_agent: false) only the count is shown."""
        page = render([status(agents=None)])
        assert (page.row("demo")["Agents logged in"], page.agents) == ("2", {})

    def test_no_workspace(self) -> None:
        """An empty status says so instead of showing an empty table."""
        html = landing_page(version="1", telemetry_path="/metrics", workspaces=[], now=NOW)
        assert "<p>No workspace is configured.</p>" in html
        assert Page(html).headers == []


class TestWorkspaceStatus:
    def test_read_from_the_state(self) -> None:
        """The status carries each workspace's health, count, times and logged-in names."""
        state = ExporterState()
        demo = WorkspaceState("demo", (60.0,))
        demo.sessions.start_counting(NOW - 3600)
        demo.sessions.apply(
            [
                ("erik.holm", NOW - 300, LOGIN),
                ("anna.berg", NOW - 200, LOGIN),
                ("lars.lund", NOW - 150, LOGIN),
                ("lars.lund", NOW - 100, LOGOUT),
            ]
        )
        demo.health.succeeded(NOW - 2.5)
        sales = WorkspaceState("sales", (60.0,))
        state.add(demo)
        state.add(sales)
        assert workspace_status(state) == [
            WorkspaceStatus(
                "demo", True, True, "ok", 2, NOW - 2.5, NOW - 100, ("anna.berg", "erik.holm")
            ),
            WorkspaceStatus(
                "sales", False, False, "initial lookback not finished", 0, None, None, ()
            ),
        ]
        assert [w.agents for w in workspace_status(state, agent_names=False)] == [None, None]


# --- in a browser -------------------------------------------------------------------------


def dump_dom(url: str, profile: Path) -> Page:
    """The DOM headless chromium built from ``url``, scripts and all, as a ``Page``."""
    chromium = shutil.which("chromium")
    assert chromium is not None
    result = subprocess.run(
        [
            *(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"),
            *("--no-first-run", "--disable-background-networking", "--disable-sync"),
            *("--disable-component-update", f"--user-data-dir={profile}", "--dump-dom", url),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return Page(result.stdout)


def utc(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


@needs("chromium")
class TestInABrowser:
    def test_the_table_shows_the_simulated_center(self, tmp_path: Path) -> None:
        """Against the simulator: up, ready, exactly the agents logged in, the newest record."""
        start = int(time.time())
        scenario = Scenario(start=start, agents=60, seed=7, live=False)
        scenario.inject(Record(SCRIPT, start - 30, LOGIN))
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            workspace = {"workspace": "demo", "api_url": simulator.url, "token": TOKEN}
            config = write_config(tmp_path / "config.yaml", [workspace])
            with run_exporter(config) as exporter:
                page = dump_dom(exporter.url + "/", tmp_path / "chromium")
        truth = scenario.logged_in_at(start)
        newest = max(r.timestamp for r in scenario.records(0, start, now=start))
        row = page.row("demo")
        polled = calendar.timegm(
            time.strptime(row["Last successful poll"][:19], "%Y-%m-%d %H:%M:%S")
        )
        assert page.title == "cention-logio-exporter"
        assert page.version == f"Version: {__version__}"
        assert {k: row[k] for k in ("Polling", "Ready", "Agents logged in", "Reason")} == {
            "Polling": "up",
            "Ready": "yes",
            "Agents logged in": f"{len(truth):,}",
            "Reason": "ok",
        }
        assert page.agents == {"demo": sorted(truth)}
        assert SCRIPT in truth
        assert row["Newest record"].startswith(f"{utc(newest)} ")
        assert start <= polled <= time.time()

    def test_a_script_in_a_workspace_name_does_not_run(self, tmp_path: Path) -> None:
        """A workspace name holding a script shows as text; the script never runs."""
        with serving([status(SCRIPT, agents=(SCRIPT,), logged_in=1)]) as url:
            page = dump_dom(url + "/", tmp_path / "chromium")
        assert page.title == "cention-logio-exporter"
        assert (page.rows[0][0], page.agents) == (SCRIPT, {SCRIPT: [SCRIPT]})


@contextmanager
def serving(workspaces: list[WorkspaceStatus]) -> Iterator[str]:
    server = ExporterServer("127.0.0.1:0", CollectorRegistry(), status=lambda: workspaces)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
