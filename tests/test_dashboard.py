"""grafana/: the dashboard, the script it is built from, and the provisioning files.

Without a Grafana server, the dashboard is checked for what an import needs (schema fields,
variables, data source references), for queries that name only metrics the exporter
exposes, and for the requests Grafana makes of them (tests/grafana_request.py, a model of
Grafana's step, range and alignment); tests/test_e2e_prometheus.py sends those requests to a
real Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from grafana_request import (
    Viewer,
    date_math,
    format_interval,
    go_duration,
    requests,
    round_interval,
)

from exporter.metrics import BY_SAMPLE

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"
DASHBOARD = GRAFANA / "cention-logio.json"
BUILDER = GRAFANA / "build_dashboard.py"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOK = "https://runbooks.example.com/cention-logio-exporter/runbook.md"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
COUNTERS = (
    "cention_logio_records_total",
    "cention_session_anomalies_total",
    "cention_logio_invalid_records_total",
    "cention_agent_logins_total",
    "cention_session_duration_seconds_bucket",
)
"""Counts of records, anomalies, logins and sessions: whole numbers."""

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
KEYWORDS |= {"unless", "bool", "offset"}


def recording_rules() -> set[str]:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


def allowed_metrics() -> set[str]:
    """The names of the exporter's samples, and the recording rules."""
    return set(BY_SAMPLE) | recording_rules()


def selectors(expr: str) -> set[str]:
    """Metric names used as selectors, `name{...}`."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def bare_names(expr: str) -> set[str]:
    """Identifiers that are not selectors, functions, keywords, grouping labels or variables."""
    expr = re.sub(r'[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\$\w+', " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr)
    return {name for name, call in names if not call and name not in KEYWORDS}


AGGREGATION = re.compile(r"\b(sum|max|min|avg|count|topk|bottomk)\b(?:\s+by\s*\(([^)]*)\))?\s*\(")


def closing(expr: str, opening: int) -> int:
    """The index of the parenthesis that closes the one at ``opening``."""
    depth = 0
    for index in range(opening, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[index], 0)
        if depth == 0:
            return index
    raise AssertionError(f"unbalanced: {expr}")


def innermost_aggregations(expr: str) -> list[tuple[str, str]]:
    """(metric, the innermost aggregation around it) for every selector, "" outside any."""
    scopes = [
        (m.end() - 1, closing(expr, m.end() - 1), m[1] if m[2] is None else f"{m[1]} by ({m[2]})")
        for m in AGGREGATION.finditer(expr)
    ]
    found = []
    for selector in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr):
        around = [scope for scope in scopes if scope[0] < selector.start() < scope[1]]
        inner = max(around, default=(0, 0, ""))
        found.append((selector[1], inner[2]))
    return found


def rows(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The panels under each row, by the row's title."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for p in dashboard["panels"]:
        if p["type"] == "row":
            current = grouped.setdefault(p["title"], [])
        else:
            current.append(p)
    return grouped


def titled(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [p for p in dashboard["panels"] if p["title"] == title]
    return found


def at(text: str) -> float:
    """Unix seconds of an ISO 8601 time with its offset."""
    return datetime.fromisoformat(text).timestamp()


def viewer(now: str, zone: ZoneInfo = STOCKHOLM) -> Viewer:
    """Grafana with the shipped data source (scrape interval 30s), workspace demo, all agents."""
    return Viewer(at(now), zone, {"$workspace": "demo", "$agent": ".*"}, scrape_interval="30s")


def build(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    output = tmp_path / "dashboard.json"
    return subprocess.run(
        [sys.executable, str(BUILDER), "--output", str(output), *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


@pytest.fixture(name="dashboard", scope="module")
def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(name="panels", scope="module")
def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that show data: every panel but the rows."""
    return [p for p in dashboard["panels"] if p["type"] != "row"]


@pytest.fixture(name="stockholm", scope="module")
def _stockholm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dashboard built with --timezone Europe/Stockholm."""
    directory = tmp_path_factory.mktemp("stockholm")
    result = build(directory, "--timezone", "Europe/Stockholm")
    assert (result.returncode, result.stderr) == (0, "")
    return json.loads((directory / "dashboard.json").read_text(encoding="utf-8"))


@pytest.fixture(name="exprs", scope="module")
def _exprs(panels: list[dict[str, Any]]) -> list[str]:
    """The PromQL of every panel query."""
    return [t["expr"] for p in panels for t in p["targets"]]


class TestDashboard:
    """grafana/cention-logio.json as Grafana imports it."""

    def test_identity_and_defaults(self, dashboard):
        """Stable uid, no instance id, schema 39, last 24 hours, refreshed every 30 seconds."""
        fields = ("uid", "id", "title", "schemaVersion", "time", "refresh", "editable")
        assert {field: dashboard[field] for field in (*fields, "timezone")} == {
            "uid": "cention-logio",
            "id": None,
            "title": "Cention logio",
            "schemaVersion": 39,
            "time": {"from": "now-24h", "to": "now"},
            "refresh": "30s",
            "editable": True,
            "timezone": "browser",
        }

    def test_variables(self, dashboard):
        """A Prometheus data source variable, then workspace and agent filled by label_values."""
        variables = dashboard["templating"]["list"]
        assert [(v["name"], v["type"], v["query"]) for v in variables] == [
            ("datasource", "datasource", "prometheus"),
            ("workspace", "query", "label_values(cention_up, workspace)"),
            (
                "agent",
                "query",
                'label_values(cention_agent_logged_in{workspace=~"$workspace"}, agent)',
            ),
        ]
        for variable in variables[1:]:
            metric = re.fullmatch(r"label_values\(([a-z_]+)[^,]*, [a-z]+\)", variable["query"])
            assert metric is not None
            assert metric[1] in BY_SAMPLE
            assert variable["datasource"] == DATASOURCE
            assert variable["definition"] == variable["query"]
            assert (variable["multi"], variable["includeAll"], variable["allValue"]) == (
                True,
                True,
                ".*",
            )

    def test_every_datasource_is_the_variable(self, dashboard, panels):
        """Every data source reference is the `datasource` variable; no uid is hard-coded."""
        datasources = [value for key, value in walk(dashboard) if key == "datasource"]
        # One per panel, one per query, one per query variable.
        assert (len(panels), sum(len(p["targets"]) for p in panels)) == (16, 28)
        assert len(datasources) == 16 + 28 + 2
        assert [d for d in datasources if d != DATASOURCE] == []
        uids = {value for key, value in walk(dashboard) if key == "uid"}
        assert uids == {"cention-logio", "${datasource}"}

    def test_panel_titles(self, dashboard):
        """The rows and panels, top to bottom."""
        assert [(p["type"], p["title"]) for p in dashboard["panels"]] == [
            ("row", "Staffing"),
            ("stat", "Agents logged in now"),
            ("timeseries", "Agents logged in against the staffing plan"),
            ("table", "Who is logged in now"),
            ("table", "Hours logged in today"),
            ("row", "Activity"),
            ("timeseries", "Logins and logouts per hour"),
            ("timeseries", "Logged-in hours per agent per day"),
            ("row", "Agent timeline"),
            ("state-timeline", "Agents logged in and out"),
            ("row", "Sessions"),
            ("heatmap", "Session length distribution"),
            ("stat", "Median and p90 session length"),
            ("table", "Sessions open longer than 12 h"),
            ("timeseries", "Session anomalies and skipped rows per hour"),
            ("row", "Exporter health"),
            ("state-timeline", "logio API polls"),
            ("timeseries", "Data freshness"),
            ("timeseries", "Requests by status code"),
            ("timeseries", "Errors by reason"),
            ("timeseries", "Request latency"),
        ]

    def test_every_panel_has_queries(self, panels):
        """Each panel has targets A, B, ... with a non-empty expression and a description."""
        for p in panels:
            refs = [t["refId"] for t in p["targets"]]
            assert refs == [chr(ord("A") + i) for i in range(len(refs))], p["title"]
            assert [t for t in p["targets"] if not t["expr"].strip()] == [], p["title"]
            assert p["description"] != "", p["title"]

    def test_queries_name_only_exposed_metrics(self, exprs):
        """Every metric a query selects is the exporter's or a recording rule of rules.yml."""
        used = set().union(*(selectors(expr) for expr in exprs))
        assert sorted(used - allowed_metrics()) == []
        assert sorted(used) == [
            "cention_agent_last_login_timestamp_seconds",
            "cention_agent_last_logout_timestamp_seconds",
            "cention_agent_logged_in",
            "cention_agent_logged_in_seconds_total",
            "cention_agent_logged_in_today_seconds",
            "cention_agent_logins_total",
            "cention_agent_session_start_timestamp_seconds",
            "cention_agents_logged_in",
            "cention_business_hours",
            "cention_logio_errors_total",
            "cention_logio_invalid_records_total",
            "cention_logio_last_record_timestamp_seconds",
            "cention_logio_last_success_timestamp_seconds",
            "cention_logio_records_total",
            "cention_logio_request_duration_seconds_bucket",
            "cention_logio_requests_total",
            "cention_session_anomalies_total",
            "cention_session_duration_seconds_bucket",
            "cention_staffing_required_agents",
            "cention_up",
        ]

    def test_every_metric_is_selected_with_labels(self, exprs):
        """No query names a metric without a label matcher, which the check above would miss."""
        assert [(expr, bare_names(expr)) for expr in exprs if bare_names(expr)] == []

    def test_every_series_query_filters_by_workspace(self, exprs):
        """Each selector honours the workspace variable."""
        matchers = re.findall(r"\{([^}]*)\}", " ".join(exprs))
        assert [m for m in matchers if 'workspace=~"$workspace"' not in m] == []

    def test_panels_do_not_overlap(self, dashboard):
        """Grid positions fit the 24 columns and no two panels share a cell."""
        cells: set[tuple[int, int]] = set()
        for p in dashboard["panels"]:
            grid = p["gridPos"]
            assert grid["x"] + grid["w"] <= 24, p["title"]
            area = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert cells & area == set(), p["title"]
            cells |= area

    def test_panel_ids_are_unique(self, dashboard):
        """Panel ids run 1, 2, 3, ... in order."""
        ids = [p["id"] for p in dashboard["panels"]]
        assert ids == list(range(1, len(ids) + 1))

    def test_runbook_link(self, dashboard):
        """The header links to the runbook, the page the alerts' runbook URLs point into."""
        (link,) = dashboard["links"]
        assert (link["title"], link["type"], link["url"], link["targetBlank"]) == (
            "Runbook",
            "link",
            RUNBOOK,
            True,
        )
        alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
        pages = {
            rule["annotations"]["runbook_url"].partition("#")[0]
            for group in alerts["groups"]
            for rule in group["rules"]
        }
        assert pages == {RUNBOOK}

    def test_windows_follow_the_step_or_the_range(self, exprs):
        """No query counts over a fixed window such as [1h]: bars tile whatever the step."""
        windows = {window for expr in exprs for window in re.findall(r"\[([^\]]+)\]", expr)}
        assert windows == {"$__interval", "$__rate_interval", "$__range"}

    def test_bars_cover_what_they_count(self, panels):
        """A bar ends at its sample when the query counts (t - step, t], starts at it when
        the query looks one step ahead and counts (t, t + step]: the hour still running."""
        drawn = {
            p["title"]: (
                p["fieldConfig"]["defaults"]["custom"]["barAlignment"],
                {
                    re.search(r"\[\$__interval\]( offset -\$__interval)?", t["expr"])[0]
                    for t in p["targets"]
                },
            )
            for p in panels
            if p["fieldConfig"]["defaults"].get("custom", {}).get("drawStyle") == "bars"
        }
        ahead = "[$__interval] offset -$__interval"
        assert drawn == {
            "Logins and logouts per hour": (1, {ahead}),
            "Logged-in hours per agent per day": (-1, {"[$__interval]"}),
            "Session anomalies and skipped rows per hour": (1, {ahead}),
        }

    def test_counts_are_whole_numbers(self, panels):
        """Every increase() of a count is rounded, and count panels show no decimals."""
        unrounded = [
            (p["title"], t["refId"])
            for p in panels
            for t in p["targets"]
            if any(f"{counter}{{" in t["expr"] for counter in COUNTERS)
            and not t["expr"].startswith(("round(", "histogram_quantile("))
        ]
        assert unrounded == []
        decimals = {
            p["title"]: p["fieldConfig"]["defaults"].get("decimals")
            for p in panels
            if p["fieldConfig"]["defaults"].get("unit") == "short"
        }
        assert decimals == {
            "Agents logged in now": 0,
            "Agents logged in against the staffing plan": 0,
            "Logins and logouts per hour": 0,
            "Session anomalies and skipped rows per hour": 0,
        }

    def test_replicas_do_not_double_totals(self, dashboard):
        """Outside Exporter health, each series is folded by max per workspace, then summed."""
        unfolded = [
            (p["title"], t["refId"], metric, aggregation)
            for title, panels in rows(dashboard).items()
            if title != "Exporter health"
            for p in panels
            for t in p["targets"]
            for metric, aggregation in innermost_aggregations(t["expr"])
            if not re.fullmatch(r"max by \(workspace(, \w+)*\)", aggregation)
        ]
        assert unfolded == []

    def test_timeline_rows_stay_readable(self, dashboard):
        """The agent timeline draws the 30 agents with most time logged in, 17 pixels each."""
        p = titled(dashboard, "Agents logged in and out")
        (query,) = p["targets"]
        limit = re.search(r"topk\((\d+), .*\[\$__range\] @ end\(\)\)", query["expr"])
        assert limit is not None
        # Grid rows of 30 px with 8 px between them, less the title bar and the time axis.
        height = p["gridPos"]["h"] * 30 + (p["gridPos"]["h"] - 1) * 8 - 64
        assert (int(limit[1]), p["gridPos"]["w"], height, height // int(limit[1])) == (
            30,
            24,
            536,
            17,
        )


class TestAsGrafanaSendsIt:
    """The requests Grafana makes of the panels, by the model in tests/grafana_request.py."""

    def test_days_are_the_centers(self, stockholm):
        """Built for Stockholm, the per-day bars end at Stockholm midnights, the newest today."""
        panel = titled(stockholm, "Logged-in hours per agent per day")
        (request,) = requests(stockholm, panel, viewer("2026-01-15T10:00:00+01:00"))
        assert (request.instant, request.start, request.end, request.step) == (
            False,
            at("2026-01-08T00:00:00+01:00"),
            at("2026-01-15T00:00:00+01:00"),
            86400,
        )
        assert "[1d]" in request.expr

    def test_days_after_a_dst_change(self, stockholm):
        """After the clocks go forward, days before the change start at 23:00 local time."""
        panel = titled(stockholm, "Logged-in hours per agent per day")
        (request,) = requests(stockholm, panel, viewer("2026-03-31T10:00:00+02:00"))
        assert (request.start, request.end, request.step) == (
            at("2026-03-23T23:00:00+01:00"),
            at("2026-03-31T00:00:00+02:00"),
            86400,
        )

    def test_today_runs_from_the_centers_midnight(self, stockholm):
        """The today table's instant queries run now, logins counted since 00:00 Stockholm."""
        panel = titled(stockholm, "Hours logged in today")
        now = at("2026-01-15T10:00:00+01:00")
        made = requests(stockholm, panel, viewer("2026-01-15T10:00:00+01:00"))
        assert [(r.ref, r.instant, r.end) for r in made] == [(ref, True, now) for ref in "ABCDE"]
        assert "[36000s]" in made[1].expr

    def test_committed_days_are_the_viewers(self, dashboard):
        """The committed dashboard's day is the browser's: 09:00 in UTC is 9 hours of it."""
        panel = titled(dashboard, "Hours logged in today")
        made = requests(dashboard, panel, viewer("2026-01-15T09:00:00+00:00", UTC))
        assert "[32400s]" in made[1].expr

    def test_hourly_bars_follow_the_step(self, dashboard):
        """Logins per hour: 1 h bars over a day, 2 h bars over 90 days, each its own window."""
        panel = titled(dashboard, "Logins and logouts per hour")
        quarter = {**dashboard, "time": {"from": "now-90d", "to": "now"}}
        made = [
            *requests(dashboard, panel, viewer("2026-01-15T09:00:00+00:00", UTC)),
            *requests(quarter, panel, viewer("2026-01-15T09:00:00+00:00", UTC)),
        ]
        assert [(r.step, re.findall(r"\[(\w+)\]", r.expr)) for r in made] == [
            (3600, ["1h"]),
            (7200, ["2h"]),
        ]


class TestGrafanaModel:
    """tests/grafana_request.py against values worked out by hand from Grafana's code."""

    @pytest.mark.parametrize(
        ("seconds", "nice"),
        [
            (0.004, 0.001),
            (3.75, 5),
            (90, 60),
            (96, 120),
            (2700, 1800),
            (8100, 7200),
            (86400, 43200),
            (100_000, 86400),
            (700_000, 604800),
            (2_000_000, 2_592_000),
            (4_000_000, 31_536_000),
        ],
    )
    def test_round_interval(self, seconds, nice):
        """Ranges over max data points round to Grafana's nice intervals."""
        assert round_interval(seconds) == nice

    def test_formats(self):
        """$__interval is the largest whole unit; $__rate_interval is Go's duration text."""
        assert [format_interval(s) for s in (86400, 7200, 90, 0.5)] == ["1d", "2h", "1m", "500ms"]
        assert [go_duration(s) for s in (45, 120, 150, 3630)] == ["45s", "2m0s", "2m30s", "1h0m30s"]

    def test_date_math(self):
        """now-7d/d counts calendar days in the zone and rounds to its midnight."""
        now = at("2026-03-31T10:00:00+02:00")
        assert [date_math(text, now, STOCKHOLM) for text in ("now-7d/d", "now/d", "now-24h")] == [
            at("2026-03-24T00:00:00+01:00"),
            at("2026-03-31T00:00:00+02:00"),
            now - 86400,
        ]

    @pytest.mark.parametrize(
        ("extra", "step", "rate"),
        [
            ({}, 60, "2m0s"),
            ({"maxDataPoints": 100}, 900, "15m30s"),
            ({"interval": "1h"}, 3600, "1h0m30s"),
        ],
    )
    def test_step(self, extra, step, rate):
        """Over 24 h on a 960 px panel: 90 s rounds to 1 m; fewer points or a floor raise it."""
        panel = {
            "title": "x",
            "gridPos": {"w": 12},
            "targets": [{"refId": "A", "expr": "rate(x[$__rate_interval])[$__interval]"}],
            **extra,
        }
        dashboard = {"time": {"from": "now-24h", "to": "now"}}
        (request,) = requests(dashboard, panel, viewer("2026-01-15T09:00:00+00:00", UTC))
        assert (request.step, request.expr) == (
            step,
            f"rate(x[{rate}])[{format_interval(step)}]",
        )


class TestQueryParsing:
    """The helpers that find metric names in the dashboard's PromQL."""

    def test_selectors(self):
        """Names directly followed by a label matcher are selectors."""
        expr = 'sum by (le) (rate(a_bucket{workspace=~"x"}[5m])) / b:c:d{workspace="y"}'
        assert selectors(expr) == {"a_bucket", "b:c:d"}

    def test_bare_names(self):
        """A metric without matchers is found; functions, keywords and `by` labels are not."""
        expr = 'sum by (workspace) (rate(x{a="b"}[5m])) > bool 0 and on () lonely_metric'
        assert bare_names(expr) == {"lonely_metric"}

    def test_innermost_aggregations(self):
        """Each selector is paired with the closest aggregation around it, functions skipped."""
        expr = 'sum by (le) (max by (workspace, le) (increase(a{w="x"}[1m]))) + rate(b{w="y"}[1m])'
        assert innermost_aggregations(expr) == [("a", "max by (workspace, le)"), ("b", "")]


class TestBuilder:
    """grafana/build_dashboard.py, the dashboard's one source."""

    def test_committed_json_is_the_builders_output(self):
        """`build_dashboard.py --check` finds grafana/cention-logio.json up to date."""
        result = subprocess.run(
            [sys.executable, str(BUILDER), "--check"], capture_output=True, text=True, timeout=60
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    def test_check_reports_a_stale_file(self, tmp_path):
        """`--check` exits 1 and names the file when its content differs."""
        stale = tmp_path / "cention-logio.json"
        stale.write_text(DASHBOARD.read_text(encoding="utf-8").replace("now-24h", "now-6h"))
        result = subprocess.run(
            [sys.executable, str(BUILDER), "--check", "--output", str(stale)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stderr) == (
            1,
            f"{stale} is out of date: run python grafana/build_dashboard.py\n",
        )

    def test_writes_the_output(self, tmp_path):
        """Without --check, the builder writes the committed JSON to --output."""
        output = tmp_path / "dashboard.json"
        result = subprocess.run(
            [sys.executable, str(BUILDER), "--output", str(output)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        assert output.read_text(encoding="utf-8") == DASHBOARD.read_text(encoding="utf-8")


class TestTimeZone:
    """build_dashboard.py --timezone: a copy of the dashboard in the center's time zone."""

    def test_timezone_changes_only_the_zone_and_its_words(self, stockholm, dashboard):
        """The zone is the dashboard's; only the panels that speak of days change their text."""
        assert stockholm["timezone"] == "Europe/Stockholm"
        changed = [
            p["title"]
            for p, q in zip(stockholm["panels"], dashboard["panels"], strict=True)
            if p != q
        ]
        assert changed == ["Hours logged in today", "Logged-in hours per agent per day"]
        per_day = titled(stockholm, "Logged-in hours per agent per day")["description"]
        assert "midnight to midnight in Europe/Stockholm." in per_day
        assert stockholm["description"].endswith("Times and days are in Europe/Stockholm.")

        def without_words(d: dict[str, Any]) -> dict[str, Any]:
            panels = [{k: v for k, v in p.items() if k != "description"} for p in d["panels"]]
            return {**d, "timezone": None, "description": None, "panels": panels}

        assert without_words(stockholm) == without_words(dashboard)

    def test_unknown_zone_is_refused(self, tmp_path):
        """A misspelt zone stops the builder with a usage error naming it, writing nothing."""
        result = build(tmp_path, "--timezone", "Europe/Stokholm")
        assert (result.returncode, result.stderr.splitlines()[-1]) == (
            2,
            "build_dashboard.py: error: argument --timezone: unknown time zone "
            "'Europe/Stokholm': use browser, utc or an IANA name such as Europe/Stockholm",
        )
        assert not (tmp_path / "dashboard.json").exists()


class TestProvisioning:
    """grafana/provisioning/, mounted by the compose stack."""

    def test_datasource(self):
        """One Prometheus data source with a fixed uid, the stack's Prometheus, the default."""
        path = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        (datasource,) = config["datasources"]
        assert config["apiVersion"] == 1
        assert {key: datasource[key] for key in ("name", "type", "uid", "url", "isDefault")} == {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": "prometheus",
            "url": "http://prometheus:9090",
            "isDefault": True,
        }

    def test_dashboard_provider(self):
        """A file provider reads the folder where the stack mounts the dashboard JSON."""
        path = GRAFANA / "provisioning" / "dashboards" / "cention.yml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        (provider,) = config["providers"]
        assert config["apiVersion"] == 1
        assert (provider["type"], provider["folder"], provider["options"]["path"]) == (
            "file",
            "Cention",
            "/var/lib/grafana/dashboards",
        )
