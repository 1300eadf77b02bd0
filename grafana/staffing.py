"""The Staffing row: who is logged in, against the plan, and each agent's hours today.

Also the names every row shares: the variable filters, the runbook, and ``Days``, the
dashboard's time zone in the words of the panel descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from panels import (
    LAST_VALUE,
    Json,
    columns,
    override,
    panel,
    panel_link,
    states,
    target,
    thresholds,
    unit,
)

RUNBOOK = "https://runbooks.example.com/cention-logio-exporter/runbook.md"
WS = 'workspace=~"$workspace"'
AGENT = 'workspace=~"$workspace", agent=~"$agent"'
SESSION_START = (
    f"max by (workspace, agent) (cention_agent_session_start_timestamp_seconds{{{AGENT}}})"
)
STAFFING_RUNBOOK = f"{RUNBOOK}#business-hours-and-the-staffing-minimum"
TWELVE_HOURS = 43200
TABLE = {"instant": True, "table": True}
LOGGED_IN_NOW = {0: ("no", "transparent"), 1: ("yes", "green")}


@dataclass(frozen=True)
class Days:
    """The dashboard's time zone, in the words its descriptions use."""

    timezone: str

    @property
    def zone(self) -> str:
        if self.timezone == "browser":
            return "the viewer's browser time zone"
        return "UTC" if self.timezone == "utc" else self.timezone

    @property
    def sentence(self) -> str:
        if self.timezone == "browser":
            return (
                "Times and days are in each viewer's browser time zone; "
                "`python grafana/build_dashboard.py --timezone ZONE` builds a copy in the "
                "contact center's."
            )
        return f"Times and days are in {self.zone}."


def staffing(days: Days) -> list[Json]:
    now = panel(
        "stat",
        "Agents logged in now",
        "All agents logged in to the selected workspaces, with the trend of the time range.",
        [target(f"sum(max by (workspace) (cention_agents_logged_in{{{WS}}}))", "agents")],
        options={"graphMode": "area", "colorMode": "value", "reduceOptions": LAST_VALUE},
    )
    return [
        unit(now, "short", decimals=0, thresholds=thresholds((None, "red"), (1, "green"))),
        against_the_plan(),
        who_is_logged_in(),
        hours_today(days),
    ]


def against_the_plan() -> Json:
    p = panel(
        "timeseries",
        "Agents logged in against the staffing plan",
        "Agents logged in per workspace. Dashed: the agents the staffing plan requires now "
        "(the config's schedule: staffing:, cention_staffing_required_agents), which the "
        "CentionStaffingLow alert compares with; absent without a plan. Shaded: business hours "
        "(cention_business_hours), when CentionNoAgentsLoggedIn watches for an empty center.",
        [
            target(f"max by (workspace) (cention_agents_logged_in{{{WS}}})", "{{workspace}}"),
            target(
                f"max by (workspace) (cention_staffing_required_agents{{{WS}}})",
                "{{workspace}} required",
            ),
            target(f"max by (workspace) (cention_business_hours{{{WS}}})", "{{workspace}} open"),
        ],
        links=[panel_link("Runbook: business hours and staffing", STAFFING_RUNBOOK)],
    )
    band = {
        "custom.fillOpacity": 12,
        "custom.lineWidth": 0,
        "custom.axisPlacement": "hidden",
        "min": 0,
        "max": 1,
        "color": _fixed("blue"),
        "mappings": [
            {"type": "value", "options": {"0": {"text": "closed"}, "1": {"text": "open"}}}
        ],
    }
    dashed = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}, "color": _fixed("orange")}
    p["fieldConfig"]["overrides"] = [
        override("byFrameRefID", "B", **dashed),
        override("byFrameRefID", "C", **band),
    ]
    return unit(p, "short", decimals=0, min=0, custom={"lineInterpolation": "stepAfter"})


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


def hours_today(days: Days) -> Json:
    def per_agent(metric: str) -> str:
        return f"max by (workspace, agent) ({metric})"

    p = panel(
        "table",
        "Hours logged in today",
        "Each agent's time logged in since midnight in the contact center's time zone (the "
        "config's schedule), as of the exporter's last successful poll; a session over "
        "midnight counts from midnight. Logins today count from midnight in "
        f"{days.zone}, from the logins counter, rounded. Click a column to sort. Exact "
        "figures per day: `cention-logio-exporter report`.",
        [
            target(per_agent(f"cention_agent_logged_in_today_seconds{{{AGENT}}}"), **TABLE),
            target(
                f"round({per_agent(f'increase(cention_agent_logins_total{{{AGENT}}}[$__range])')})",
                **TABLE,
            ),
            target(
                per_agent(f"cention_agent_last_login_timestamp_seconds{{{AGENT}}} > 0") + " * 1000",
                **TABLE,
            ),
            target(
                per_agent(f"cention_agent_last_logout_timestamp_seconds{{{AGENT}}} > 0")
                + " * 1000",
                **TABLE,
            ),
            target(per_agent(f"cention_agent_logged_in{{{AGENT}}}"), **TABLE),
        ],
        timeFrom="now/d",
        transformations=[
            {"id": "merge", "options": {}},
            columns(
                {
                    "workspace": "Workspace",
                    "agent": "Agent",
                    "Value #A": "Logged in today",
                    "Value #B": "Logins today",
                    "Value #C": "Last login",
                    "Value #D": "Last logout",
                    "Value #E": "Logged in now",
                }
            ),
        ],
        options={"sortBy": [{"displayName": "Logged in today", "desc": True}]},
    )
    p["fieldConfig"]["overrides"] = [
        override("byName", "Logged in today", unit="dthms"),
        override("byName", "Logins today", unit="short", decimals=0),
        override("byName", "Last login", unit="dateTimeAsIso"),
        override("byName", "Last logout", unit="dateTimeAsIso"),
        override(
            "byName",
            "Logged in now",
            mappings=states(LOGGED_IN_NOW),
            **{"custom.cellOptions": {"type": "color-text"}},
        ),
    ]
    return p


def _fixed(color: str) -> Json:
    return {"mode": "fixed", "fixedColor": color}
