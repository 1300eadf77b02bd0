"""Build grafana/cention-logio.json, the Grafana dashboard for cention-logio-exporter.

This script (with panels.py) is the dashboard's source; the JSON next to it is its output,
committed so that Grafana can import or provision it as is. After changing a panel here::

    python grafana/build_dashboard.py           # rewrite grafana/cention-logio.json
    python grafana/build_dashboard.py --check   # exit 1 if the JSON is out of date

Every query goes through the `datasource` variable (no data source uid is written down) and
is filtered by the `workspace` and `agent` variables. The figures are as of the exporter's
last successful poll of the logio API.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from panels import (
    LAST_VALUE,
    Json,
    Row,
    bars,
    columns,
    datasource_variable,
    label_variable,
    override,
    panel,
    place,
    states,
    target,
    thresholds,
    unit,
)

OUTPUT = Path(__file__).with_name("cention-logio.json")
WS = 'workspace=~"$workspace"'
AGENT = 'workspace=~"$workspace", agent=~"$agent"'
SESSION_START = (
    f"max by (workspace, agent) (cention_agent_session_start_timestamp_seconds{{{AGENT}}})"
)
TWELVE_HOURS = 43200


def staffing() -> list[Json]:
    now = panel(
        "stat",
        "Agents logged in now",
        "All agents logged in to the selected workspaces, with the trend of the time range.",
        [target(f"sum(cention_agents_logged_in{{{WS}}})", "agents")],
        options={"graphMode": "area", "colorMode": "value", "reduceOptions": LAST_VALUE},
    )
    over_time = panel(
        "timeseries",
        "Agents logged in",
        "Agents logged in per workspace; dashed: the agents the staffing plan requires now "
        "(the config's schedule), which the CentionStaffingLow alert compares with.",
        [
            target(f"sum by (workspace) (cention_agents_logged_in{{{WS}}})", "{{workspace}}"),
            target(
                f"max by (workspace) (cention_staffing_required_agents{{{WS}}})",
                "{{workspace}} required",
            ),
        ],
    )
    dashed = {"fill": "dash", "dash": [10, 10]}
    over_time["fieldConfig"]["overrides"] = [
        override("byFrameRefID", "B", **{"custom.lineStyle": dashed, "color": _fixed("orange")})
    ]
    logged_in = panel(
        "state-timeline",
        "Agents logged in and out",
        "One row per agent, green while logged in.",
        [
            target(
                f"max by (workspace, agent) (cention_agent_logged_in{{{AGENT}}})",
                "{{agent}} ({{workspace}})",
            )
        ],
        options={"mergeValues": True, "showValue": "never", "rowHeight": 0.8},
    )
    logged_in["fieldConfig"]["defaults"]["mappings"] = states(
        {0: ("logged out", "transparent"), 1: ("logged in", "green")}
    )
    return [
        unit(now, "short", thresholds=thresholds((None, "red"), (1, "green"))),
        unit(over_time, "short", min=0),
        who_is_logged_in(),
        logged_in,
    ]


def who_is_logged_in() -> Json:
    p = panel(
        "table",
        "Who is logged in now",
        "Agents with an open session, when they logged in and how long ago that was. Sessions "
        "of more than 12 hours are red: most likely a forgotten logout.",
        [
            target(f"{SESSION_START} * 1000", instant=True, table=True),
            target(f"time() - {SESSION_START}", instant=True, table=True),
        ],
        transformations=[
            {"id": "merge", "options": {}},
            columns(
                {
                    "workspace": "Workspace",
                    "agent": "Agent",
                    "Value #A": "Logged in since",
                    "Value #B": "Session length",
                }
            ),
        ],
        options={"sortBy": [{"displayName": "Session length", "desc": True}]},
    )
    p["fieldConfig"]["overrides"] = [
        override("byName", "Logged in since", unit="dateTimeAsIso"),
        override(
            "byName",
            "Session length",
            unit="dtdurations",
            thresholds=thresholds((None, "green"), (TWELVE_HOURS, "red")),
            **{"custom.cellOptions": {"type": "color-text"}},
        ),
    ]
    return p


def activity() -> list[Json]:
    per_hour = panel(
        "timeseries",
        "Logins and logouts per hour",
        "New login and logout records per hour, in the selected workspaces.",
        [
            target(
                f"sum by (action) (increase(cention_logio_records_total{{{WS}}}[1h]))",
                "{{action}}",
            )
        ],
        interval="1h",
    )
    per_day = panel(
        "timeseries",
        "Logged-in hours per agent per day",
        "Hours each agent spent logged in per (UTC) day, stacked: a bar is the day's agent-hours.",
        [
            target(
                f"sum by (agent) (increase(cention_agent_logged_in_seconds_total{{{AGENT}}}[1d]))"
                " / 3600",
                "{{agent}}",
            )
        ],
        interval="1d",
    )
    return [unit(bars(per_hour), "short"), unit(bars(per_day, stacking="normal"), "h")]


def sessions() -> list[Json]:
    buckets = f"cention_session_duration_seconds_bucket{{{WS}}}"
    heatmap = panel(
        "heatmap",
        "Session length distribution",
        "Completed sessions (login to logout) per hour, by length.",
        [target(f"sum by (le) (increase({buckets}[$__interval]))", "{{le}}")],
        interval="1h",
        options={
            "calculate": False,
            "yAxis": {"unit": "s"},
            "rowsFrame": {"layout": "le"},
            "color": {"mode": "scheme", "scheme": "Blues", "steps": 64},
            "cellGap": 1,
        },
    )
    heatmap["targets"][0]["format"] = "heatmap"

    def quantile(q: float) -> str:
        return f"histogram_quantile({q}, sum by (le) (increase({buckets}[$__range])))"

    quantiles = panel(
        "stat",
        "Median and p90 session length",
        "Of the sessions completed in the time range.",
        [
            target(quantile(0.5), "median", instant=True),
            target(quantile(0.9), "p90", instant=True),
        ],
        options={"graphMode": "none", "colorMode": "none", "reduceOptions": LAST_VALUE},
    )
    long_open = panel(
        "table",
        "Sessions open longer than 12 h",
        "Agents logged in for more than 12 hours: most likely forgotten logouts, which the "
        "CentionAgentSessionTooLong alert reports.",
        [target(f"time() - {SESSION_START} > {TWELVE_HOURS}", instant=True, table=True)],
        transformations=[
            columns({"workspace": "Workspace", "agent": "Agent", "Value": "Open for"})
        ],
    )
    long_open["fieldConfig"]["overrides"] = [override("byName", "Open for", unit="dtdurations")]
    anomalies = panel(
        "timeseries",
        "Session anomalies and skipped rows per hour",
        "Logouts without a login and logins while already logged in, and malformed rows the "
        "exporter skipped. A few are normal (a forgotten logout); many point at lost records.",
        [
            target(
                f"sum by (kind) (increase(cention_session_anomalies_total{{{WS}}}[1h]))",
                "{{kind}}",
            ),
            target(
                f"sum(increase(cention_logio_invalid_records_total{{{WS}}}[1h]))",
                "malformed rows skipped",
            ),
        ],
        interval="1h",
    )
    return [heatmap, unit(quantiles, "s"), long_open, unit(bars(anomalies), "short")]


def exporter_health() -> list[Json]:
    up = panel(
        "state-timeline",
        "logio API polls",
        "cention_up: whether the last poll of each workspace succeeded.",
        [target(f"cention_up{{{WS}}}", "{{workspace}} ({{instance}})")],
        options={"mergeValues": True, "showValue": "auto", "rowHeight": 0.8},
    )
    up["fieldConfig"]["defaults"]["mappings"] = states({0: ("failing", "red"), 1: ("ok", "green")})

    def age(metric: str) -> str:
        return f"time() - (max by (workspace) ({metric}{{{WS}}}) > 0)"

    freshness = panel(
        "timeseries",
        "Data freshness",
        "Time since the last successful poll (the CentionDataStale alert fires above 10 "
        "minutes) and since the newest login or logout record.",
        [
            target(
                age("cention_logio_last_success_timestamp_seconds"),
                "{{workspace}} last successful poll",
            ),
            target(
                age("cention_logio_last_record_timestamp_seconds"), "{{workspace}} newest record"
            ),
        ],
    )
    requests = panel(
        "timeseries",
        "Requests by status code",
        "Requests to the logio API per minute, by HTTP status; `error` when none came back.",
        [target(_per_minute("code", "cention_logio_requests_total"), "{{code}}")],
    )
    errors = panel(
        "timeseries",
        "Errors by reason",
        "Failed requests per minute: auth (token rejected), rate_limited, server, client, "
        "timeout, network, invalid_response.",
        [target(_per_minute("reason", "cention_logio_errors_total"), "{{reason}}")],
    )
    buckets = f"cention_logio_request_duration_seconds_bucket{{{WS}}}"

    def latency(q: float) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({buckets}[$__rate_interval])))"

    latencies = panel(
        "timeseries",
        "Request latency",
        "How long the logio API takes to answer.",
        [target(latency(0.5), "median"), target(latency(0.9), "p90"), target(latency(0.99), "p99")],
    )
    stale = thresholds((None, "green"), (600, "red"))
    return [
        up,
        unit(freshness, "s", thresholds=stale, custom={"thresholdsStyle": {"mode": "line"}}),
        unit(requests, "reqpm"),
        unit(errors, "reqpm"),
        unit(latencies, "s"),
    ]


def _per_minute(by: str, counter: str) -> str:
    return f"sum by ({by}) (rate({counter}{{{WS}}}[$__rate_interval])) * 60"


def _fixed(color: str) -> Json:
    return {"mode": "fixed", "fixedColor": color}


LAYOUT: tuple[Row, ...] = (
    ("Staffing", staffing, (6, 18, 10, 14), (8, 8, 10, 10)),
    ("Activity", activity, (12, 12), (8, 8)),
    ("Sessions", sessions, (12, 6, 6, 24), (9, 9, 9, 7)),
    ("Exporter health", exporter_health, (12, 12, 8, 8, 8), (6, 6, 8, 8, 8)),
)


def build() -> Json:
    """The whole dashboard as a JSON-ready dict."""
    return {
        "uid": "cention-logio",
        "title": "Cention logio",
        "description": "Who is logged in to Cention Contact Center, from cention-logio-exporter. "
        "Figures are as of the exporter's last successful poll of the logio API.",
        "tags": ["cention", "contact-center", "prometheus"],
        "id": None,
        "version": 1,
        "schemaVersion": 39,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                datasource_variable(),
                label_variable("workspace", "Workspace", "label_values(cention_up, workspace)"),
                label_variable(
                    "agent",
                    "Agent",
                    'label_values(cention_agent_logged_in{workspace=~"$workspace"}, agent)',
                ),
            ]
        },
        "annotations": {"list": []},
        "links": [],
        "panels": place(LAYOUT),
    }


def render() -> str:
    """The dashboard as the text of cention-logio.json."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Cention logio Grafana dashboard.")
    parser.add_argument("--check", action="store_true", help="only check that OUTPUT is current")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    text = render()
    if not args.check:
        args.output.write_text(text, encoding="utf-8")
    elif args.output.read_text(encoding="utf-8") != text:
        print(
            f"{args.output} is out of date: run python grafana/build_dashboard.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
