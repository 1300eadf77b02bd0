"""grafana/: the dashboard, the script it is built from, and the provisioning files.

Without a Grafana server, the dashboard is checked for what an import needs (schema fields,
variables, data source references) and for queries that name only metrics the exporter
exposes; tests/test_e2e_prometheus.py runs every query on a real Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"
DASHBOARD = GRAFANA / "cention-logio.json"
BUILDER = GRAFANA / "build_dashboard.py"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
EXPORTED = {
    "cention_up",
    "cention_agents_logged_in",
    "cention_session_duration_seconds",
    "cention_logio_records_total",
    "cention_logio_invalid_records_total",
    "cention_logio_requests_total",
    "cention_logio_errors_total",
    "cention_logio_request_duration_seconds",
    "cention_logio_last_success_timestamp_seconds",
    "cention_logio_last_record_timestamp_seconds",
    "cention_session_anomalies_total",
    "cention_agent_logged_in",
    "cention_agent_logins_total",
    "cention_agent_logouts_total",
    "cention_agent_logged_in_seconds_total",
    "cention_agent_last_login_timestamp_seconds",
    "cention_agent_last_logout_timestamp_seconds",
    "cention_agent_session_start_timestamp_seconds",
    "cention_exporter_build_info",
    "cention_business_hours",
    "cention_staffing_required_agents",
    "cention_agent_logged_in_today_seconds",
}
"""The metric names of the exporter (issues "Core exporter" and 10, sections Metrics)."""

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
KEYWORDS |= {"unless", "bool", "offset"}


def recording_rules() -> set[str]:
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


def allowed_metrics() -> set[str]:
    """Exported names, their histogram and _created series, and the recording rules."""
    suffixed = {f"{name}{suffix}" for name in EXPORTED for suffix in ("_bucket", "_sum", "_count")}
    created = {name.removesuffix("_total") + "_created" for name in EXPORTED}
    return EXPORTED | suffixed | created | recording_rules()


def selectors(expr: str) -> set[str]:
    """Metric names used as selectors, `name{...}`."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def bare_names(expr: str) -> set[str]:
    """Identifiers that are neither selectors, functions, keywords nor grouping labels."""
    expr = re.sub(r'[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr)
    return {name for name, call in names if not call and name not in KEYWORDS}


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


@pytest.fixture(name="exprs", scope="module")
def _exprs(panels: list[dict[str, Any]]) -> list[str]:
    """The PromQL of every panel query."""
    return [t["expr"] for p in panels for t in p["targets"]]


class TestDashboard:
    """grafana/cention-logio.json as Grafana imports it."""

    def test_identity_and_defaults(self, dashboard):
        """Stable uid, no instance id, schema 39, last 24 hours, refreshed every 30 seconds."""
        fields = ("uid", "id", "title", "schemaVersion", "time", "refresh", "editable")
        assert {field: dashboard[field] for field in fields} == {
            "uid": "cention-logio",
            "id": None,
            "title": "Cention logio",
            "schemaVersion": 39,
            "time": {"from": "now-24h", "to": "now"},
            "refresh": "30s",
            "editable": True,
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
            assert metric[1] in EXPORTED
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
        assert (len(panels), sum(len(p["targets"]) for p in panels)) == (15, 22)
        assert len(datasources) == 15 + 22 + 2
        assert [d for d in datasources if d != DATASOURCE] == []
        uids = {value for key, value in walk(dashboard) if key == "uid"}
        assert uids == {"cention-logio", "${datasource}"}

    def test_panel_titles(self, dashboard):
        """The rows and panels, top to bottom."""
        assert [(p["type"], p["title"]) for p in dashboard["panels"]] == [
            ("row", "Staffing"),
            ("stat", "Agents logged in now"),
            ("timeseries", "Agents logged in"),
            ("table", "Who is logged in now"),
            ("state-timeline", "Agents logged in and out"),
            ("row", "Activity"),
            ("timeseries", "Logins and logouts per hour"),
            ("timeseries", "Logged-in hours per agent per day"),
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
            "cention_agent_logged_in",
            "cention_agent_logged_in_seconds_total",
            "cention_agent_session_start_timestamp_seconds",
            "cention_agents_logged_in",
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
