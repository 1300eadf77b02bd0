"""The catalogue: every metric family the exporter exposes, defined once.

Each entry is a contract with dashboards, alerts and recorded history, so a name, type,
label or HELP text changes here or nowhere. The collector builds its families from it, the
backfill writer its HELP and TYPE lines; the tests hold the README's table and the
dashboard's queries to it. ``FAMILIES`` is in exposition order::

    >>> RECORDS.samples, RECORDS.labels
    (('cention_logio_records_total',), ('workspace', 'action'))
    >>> print(RECORDS.text_header, end="")
    # HELP cention_logio_records_total New logio records applied, deduplicated.
    # TYPE cention_logio_records_total counter
    >>> print(RECORDS.openmetrics_header, end="")
    # HELP cention_logio_records New logio records applied, deduplicated.
    # TYPE cention_logio_records counter
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Type = Literal["gauge", "counter", "histogram"]

SUFFIXES: Mapping[Type, tuple[str, ...]] = MappingProxyType(
    {"gauge": ("",), "counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
)
"""What each type appends to the family name to name its samples, in exposition order."""

AS_OF = " As of the last successful poll of the logio API."


def escape(text: str) -> str:
    """A label value, or OpenMetrics HELP text, as the exposition formats escape it."""
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@dataclass(frozen=True)
class Family:
    """One metric family: its OpenMetrics name (a counter's without ``_total``), type,
    HELP text and label names in the order the collector passes their values. A
    histogram's bucket samples add ``le`` after these."""

    name: str
    type: Type
    help: str
    labels: tuple[str, ...]

    @property
    def samples(self) -> tuple[str, ...]:
        """The names its samples carry, e.g. ``cention_logio_records_total``."""
        return tuple(self.name + suffix for suffix in SUFFIXES[self.type])

    @property
    def text_name(self) -> str:
        """Its name in the text format's HELP and TYPE lines: a counter's ends in ``_total``."""
        return self.name + "_total" if self.type == "counter" else self.name

    @property
    def text_header(self) -> str:
        """Its ``# HELP`` and ``# TYPE`` lines in the text format (version 0.0.4)."""
        text = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.text_name} {text}\n# TYPE {self.text_name} {self.type}\n"

    @property
    def openmetrics_header(self) -> str:
        """Its ``# HELP`` and ``# TYPE`` lines in OpenMetrics, which also escapes quotes."""
        return f"# HELP {self.name} {escape(self.help)}\n# TYPE {self.name} {self.type}\n"


_W = ("workspace",)
_WA = ("workspace", "agent")

BUILD_INFO = Family(
    "cention_exporter_build_info",
    "gauge",
    "Version, revision, branch and Python version of the exporter; always 1.",
    ("version", "revision", "branch", "pythonversion"),
)

UP = Family("cention_up", "gauge", "1 if the last poll of the logio API succeeded.", _W)
AGENTS_LOGGED_IN = Family("cention_agents_logged_in", "gauge", "Agents logged in." + AS_OF, _W)
SESSION_DURATION = Family(
    "cention_session_duration_seconds", "histogram", "Length of completed sessions.", _W
)
RECORDS = Family(
    "cention_logio_records",
    "counter",
    "New logio records applied, deduplicated.",
    ("workspace", "action"),
)
INVALID_RECORDS = Family(
    "cention_logio_invalid_records",
    "counter",
    "Rows skipped: malformed, or of another agent than the name asked for.",
    _W,
)
REQUESTS = Family(
    "cention_logio_requests",
    "counter",
    "Requests to the logio API by HTTP status, or error.",
    ("workspace", "code"),
)
ERRORS = Family(
    "cention_logio_errors", "counter", "Failed logio requests by reason.", ("workspace", "reason")
)
REQUEST_DURATION = Family(
    "cention_logio_request_duration_seconds", "histogram", "Duration of logio requests.", _W
)
LAST_SUCCESS = Family(
    "cention_logio_last_success_timestamp_seconds",
    "gauge",
    "Time of the last successful poll.",
    _W,
)
LAST_RECORD = Family(
    "cention_logio_last_record_timestamp_seconds",
    "gauge",
    "Timestamp of the newest record seen.",
    _W,
)
ANOMALIES = Family(
    "cention_session_anomalies",
    "counter",
    "Records that break the login/logout sequence.",
    ("workspace", "kind"),
)
BUSINESS_HOURS = Family(
    "cention_business_hours",
    "gauge",
    "1 while the contact center is open by its schedule, 0 while closed; 1 without one.",
    _W,
)
STAFFING_REQUIRED = Family(
    "cention_staffing_required_agents",
    "gauge",
    "Agents the schedule's staffing plan requires now; 0 while closed. Absent without a plan.",
    _W,
)

AGENT_LOGGED_IN = Family(
    "cention_agent_logged_in", "gauge", "1 if the agent is logged in." + AS_OF, _WA
)
AGENT_LOGINS = Family("cention_agent_logins", "counter", "Logins of the agent.", _WA)
AGENT_LOGOUTS = Family("cention_agent_logouts", "counter", "Logouts of the agent.", _WA)
AGENT_LOGGED_IN_SECONDS = Family(
    "cention_agent_logged_in_seconds",
    "counter",
    "Time the agent spent logged in; never decreases." + AS_OF,
    _WA,
)
AGENT_LAST_LOGIN = Family(
    "cention_agent_last_login_timestamp_seconds", "gauge", "Time of the agent's last login.", _WA
)
AGENT_LAST_LOGOUT = Family(
    "cention_agent_last_logout_timestamp_seconds", "gauge", "Time of the agent's last logout.", _WA
)
AGENT_SESSION_START = Family(
    "cention_agent_session_start_timestamp_seconds",
    "gauge",
    "Start of the agent's current session, present while logged in." + AS_OF,
    _WA,
)
AGENT_LOGGED_IN_TODAY = Family(
    "cention_agent_logged_in_today_seconds",
    "gauge",
    "Time the agent spent logged in since the last midnight in the schedule's time zone." + AS_OF,
    _WA,
)

WORKSPACE_FAMILIES = (
    UP,
    AGENTS_LOGGED_IN,
    SESSION_DURATION,
    RECORDS,
    INVALID_RECORDS,
    REQUESTS,
    ERRORS,
    REQUEST_DURATION,
    LAST_SUCCESS,
    LAST_RECORD,
    ANOMALIES,
    BUSINESS_HOURS,
    STAFFING_REQUIRED,
)
"""One series set per workspace."""
AGENT_FAMILIES = (
    AGENT_LOGGED_IN,
    AGENT_LOGINS,
    AGENT_LOGOUTS,
    AGENT_LOGGED_IN_SECONDS,
    AGENT_LAST_LOGIN,
    AGENT_LAST_LOGOUT,
    AGENT_SESSION_START,
    AGENT_LOGGED_IN_TODAY,
)
"""One series per agent of each workspace; left out when ``metrics.per_agent`` is off."""
FAMILIES = (BUILD_INFO, *WORKSPACE_FAMILIES, *AGENT_FAMILIES)
"""Every family, in the order a scrape yields them."""

BY_NAME: Mapping[str, Family] = MappingProxyType({family.name: family for family in FAMILIES})
"""Each family by its name: ``BY_NAME["cention_logio_records"] is RECORDS``."""
BY_SAMPLE: Mapping[str, Family] = MappingProxyType(
    {sample: family for family in FAMILIES for sample in family.samples}
)
"""Each family by the name of its samples: ``BY_SAMPLE["cention_logio_records_total"]``."""
