"""The Activity, Agent timeline, Sessions and Exporter health rows."""

from __future__ import annotations

from panels import (
    LAST_VALUE,
    Json,
    bars,
    columns,
    override,
    panel,
    states,
    target,
    thresholds,
    unit,
)
from staffing import AGENT, SESSION_START, TWELVE_HOURS, WS, Days

AHEAD = "[$__interval] offset -$__interval"
"""A window one step ahead of the sample: the newest bar is the interval still running."""
TIMELINE_AGENTS = 30
"""Rows of the state timeline: more than fit its height legibly are left out."""


def activity(days: Days) -> list[Json]:
    records = f"increase(cention_logio_records_total{{{WS}}}{AHEAD})"
    per_hour = panel(
        "timeseries",
        "Logins and logouts per hour",
        "New login and logout records in the selected workspaces per hour, each bar from its "
        "hour's start, the newest one the hour still running; over long time ranges a bar "
        "counts a longer step.",
        [target(f"round(sum by (action) (max by (workspace, action) ({records})))", "{{action}}")],
        interval="1h",
    )
    seconds = f"increase(cention_agent_logged_in_seconds_total{{{AGENT}}}[$__interval])"
    per_day = panel(
        "timeseries",
        "Logged-in hours per agent per day",
        "Hours each agent spent logged in on each of the last 7 days, stacked: a bar is the "
        f"day's agent-hours, drawn over the day it counts, midnight to midnight in {days.zone}. "
        "Today is still running: see Hours logged in today. Grafana places every day with "
        "the zone's UTC offset of now, so in the week after a daylight saving change the days "
        "before it run an hour off, and increase() may be off by seconds: exact figures per "
        "day come from `cention-logio-exporter report`.",
        [target(f"sum by (agent) (max by (workspace, agent) ({seconds})) / 3600", "{{agent}}")],
        interval="1d",
        timeFrom="now-7d/d",
    )
    return [
        unit(bars(per_hour, ahead=True), "short", decimals=0),
        unit(bars(per_day, stacking="normal"), "h", decimals=1),
    ]


def timeline() -> list[Json]:
    logged_in = f"max by (workspace, agent) (cention_agent_logged_in{{{AGENT}}})"
    seconds = f"cention_agent_logged_in_seconds_total{{{AGENT}}}[$__range] @ end()"
    most = f"topk({TIMELINE_AGENTS}, max by (workspace, agent) (increase({seconds})))"
    p = panel(
        "state-timeline",
        "Agents logged in and out",
        f"One row per agent, green while logged in: the {TIMELINE_AGENTS} agents with the most "
        "time logged in over the time range, so that each row stays readable in a large "
        "center. Narrow the Agent variable to see others.",
        [target(f"{logged_in} and on (workspace, agent) {most}", "{{agent}} ({{workspace}})")],
        options={
            "mergeValues": True,
            "showValue": "never",
            "rowHeight": 0.8,
            "legend": {"showLegend": False},
        },
    )
    p["fieldConfig"]["defaults"]["mappings"] = states(
        {0: ("logged out", "transparent"), 1: ("logged in", "green")}
    )
    return [p]


def sessions() -> list[Json]:
    buckets = f"cention_session_duration_seconds_bucket{{{WS}}}"

    def per_le(window: str) -> str:
        return f"sum by (le) (max by (workspace, le) (increase({buckets}[{window}])))"

    heatmap = panel(
        "heatmap",
        "Session length distribution",
        "Completed sessions (login to logout) per hour, by length.",
        [target(f"round({per_le('$__interval')})", "{{le}}")],
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
    quantiles = panel(
        "stat",
        "Median and p90 session length",
        "Of the sessions completed in the time range.",
        [
            target(f"histogram_quantile(0.5, {per_le('$__range')})", "median", instant=True),
            target(f"histogram_quantile(0.9, {per_le('$__range')})", "p90", instant=True),
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
    return [heatmap, unit(quantiles, "s"), long_open, anomalies()]


def anomalies() -> Json:
    kinds = f"increase(cention_session_anomalies_total{{{WS}}}{AHEAD})"
    invalid = f"increase(cention_logio_invalid_records_total{{{WS}}}{AHEAD})"
    p = panel(
        "timeseries",
        "Session anomalies and skipped rows per hour",
        "Logouts without a login and logins while already logged in, and malformed rows the "
        "exporter skipped, per hour, the newest bar the hour still running. A few are normal "
        "(a forgotten logout); many point at lost records.",
        [
            target(f"round(sum by (kind) (max by (workspace, kind) ({kinds})))", "{{kind}}"),
            target(f"round(sum(max by (workspace) ({invalid})))", "malformed rows skipped"),
        ],
        interval="1h",
    )
    return unit(bars(p, ahead=True), "short", decimals=0)


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
        "Requests to the logio API per minute, by HTTP status; `error` when none came back. "
        "Every replica of the exporter polls on its own, so these add up across instances.",
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
