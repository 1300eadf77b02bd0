"""State -> metric families at scrape time; reads one consistent snapshot, does no I/O.

Values are as of each workspace's last successful poll. A scrape yields, per workspace::

    cention_up{workspace="demo"} 1
    cention_agents_logged_in{workspace="demo"} 12
    cention_logio_records_total{action="login",workspace="demo"} 40
    cention_session_duration_seconds_bucket{le="60.0",workspace="demo"} 3
    ...
    cention_agent_logged_in{agent="anna",workspace="demo"} 1
    cention_agent_logins_total{agent="anna",workspace="demo"} 2
    cention_agent_logged_in_seconds_total{agent="anna",workspace="demo"} 5400
    cention_agent_session_start_timestamp_seconds{agent="anna",workspace="demo"} 1.7e9
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from exporter import __version__
from exporter.core.sessions import Histogram, Sessions
from exporter.state import ExporterState, Health, WorkspaceState

AS_OF = " As of the last successful poll of the logio API."
_new_sample = tuple.__new__
W = ["workspace"]
WA = ["workspace", "agent"]


class LogioCollector(Collector):
    """Exposes every workspace of an ``ExporterState``."""

    def __init__(self, state: ExporterState, *, per_agent: bool = True) -> None:
        self.state = state
        self.per_agent = per_agent

    def collect(self) -> Iterator[Metric]:
        families = _Families(self.per_agent)
        for workspace in self.state.workspaces():
            with workspace.lock:
                families.add_workspace(workspace)
        build = GaugeMetricFamily(
            "cention_exporter_build_info", "Version of the exporter; always 1.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build
        yield from families.all()


class _Families:
    """The metric families of one scrape, filled workspace by workspace."""

    def __init__(self, per_agent: bool) -> None:
        self.per_agent = per_agent
        g, c, h = GaugeMetricFamily, CounterMetricFamily, HistogramMetricFamily
        self.up = g("cention_up", "1 if the last poll of the logio API succeeded.", labels=W)
        self.logged_in = g("cention_agents_logged_in", "Agents logged in." + AS_OF, labels=W)
        self.durations = h(
            "cention_session_duration_seconds", "Length of completed sessions.", labels=W
        )
        self.records = c(
            "cention_logio_records",
            "New logio records applied, deduplicated.",
            labels=["workspace", "action"],
        )
        self.invalid = c("cention_logio_invalid_records", "Rows skipped as malformed.", labels=W)
        self.requests = c(
            "cention_logio_requests",
            "Requests to the logio API by HTTP status, or error.",
            labels=["workspace", "code"],
        )
        self.errors = c(
            "cention_logio_errors",
            "Failed logio requests by reason.",
            labels=["workspace", "reason"],
        )
        self.latency = h(
            "cention_logio_request_duration_seconds", "Duration of logio requests.", labels=W
        )
        self.last_success = g(
            "cention_logio_last_success_timestamp_seconds",
            "Time of the last successful poll.",
            labels=W,
        )
        self.last_record = g(
            "cention_logio_last_record_timestamp_seconds",
            "Timestamp of the newest record seen.",
            labels=W,
        )
        self.anomalies = c(
            "cention_session_anomalies",
            "Records that break the login/logout sequence.",
            labels=["workspace", "kind"],
        )
        self.agent = _AgentFamilies() if per_agent else None

    def add_workspace(self, workspace: WorkspaceState) -> None:
        name, sessions, health = workspace.name, workspace.sessions, workspace.health
        self.up.add_metric([name], 1 if health.up else 0)
        self.logged_in.add_metric([name], sessions.logged_in_count)
        _add_histogram(self.durations, [name], sessions.durations)
        for action, n in sessions.records_total.items():
            self.records.add_metric([name, action], n)
        self.invalid.add_metric([name], health.invalid_records)
        for kind, n in sessions.anomalies.items():
            self.anomalies.add_metric([name, kind], n)
        self._add_health(name, health, sessions.last_record)
        if self.agent is not None:
            self.agent.add(name, sessions)

    def _add_health(self, name: str, health: Health, last_record: int | None) -> None:
        for code, n in sorted(health.requests.items()):
            self.requests.add_metric([name, code], n)
        for reason, n in health.errors.items():
            self.errors.add_metric([name, reason], n)
        _add_histogram(self.latency, [name], health.request_seconds)
        if health.last_success is not None:
            self.last_success.add_metric([name], health.last_success)
        if last_record is not None:
            self.last_record.add_metric([name], last_record)

    def all(self) -> Iterable[Metric]:
        yield from (
            self.up,
            self.logged_in,
            self.durations,
            self.records,
            self.invalid,
            self.requests,
            self.errors,
            self.latency,
            self.last_success,
            self.last_record,
            self.anomalies,
        )
        if self.agent is not None:
            yield from self.agent.all()


class _AgentFamilies:
    """Per-agent series; the session start exists only while the agent is logged in."""

    def __init__(self) -> None:
        g, c = GaugeMetricFamily, CounterMetricFamily
        self.logged_in = g(
            "cention_agent_logged_in", "1 if the agent is logged in." + AS_OF, labels=WA
        )
        self.logins = c("cention_agent_logins", "Logins of the agent.", labels=WA)
        self.logouts = c("cention_agent_logouts", "Logouts of the agent.", labels=WA)
        self.seconds = c(
            "cention_agent_logged_in_seconds",
            "Time the agent spent logged in; never decreases." + AS_OF,
            labels=WA,
        )
        self.last_login = g(
            "cention_agent_last_login_timestamp_seconds",
            "Time of the agent's last login.",
            labels=WA,
        )
        self.last_logout = g(
            "cention_agent_last_logout_timestamp_seconds",
            "Time of the agent's last logout.",
            labels=WA,
        )
        self.session_start = g(
            "cention_agent_session_start_timestamp_seconds",
            "Start of the agent's current session, present while logged in." + AS_OF,
            labels=WA,
        )

    def add(self, workspace: str, sessions: Sessions) -> None:
        """The samples ``add_metric`` would give, built in bulk: at 10,000 agents a call
        and a label dict per sample would cost a fifth of rendering them. An agent's
        samples share one label dict, which the exposition only reads."""
        agents = list(sessions.agents.values())
        labels = [{"workspace": workspace, "agent": name} for name in sessions.agents]
        logged_in = [0 if agent.session_start is None else 1 for agent in agents]
        _extend(self.logged_in, labels, logged_in)
        _extend(self.logins, labels, [agent.logins for agent in agents])
        _extend(self.logouts, labels, [agent.logouts for agent in agents])
        _extend(self.seconds, labels, list(map(sessions.logged_in_seconds, agents)))
        _extend_known(self.last_login, labels, [agent.last_login for agent in agents])
        _extend_known(self.last_logout, labels, [agent.last_logout for agent in agents])
        _extend_known(self.session_start, labels, [agent.session_start for agent in agents])

    def all(self) -> Iterable[Metric]:
        yield from (
            self.logged_in,
            self.logins,
            self.logouts,
            self.seconds,
            self.last_login,
            self.last_logout,
            self.session_start,
        )


def _add_histogram(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    family.add_metric(labels, hist.cumulative(), hist.sum)


_SAMPLE_DEFAULTS = tuple(Sample._field_defaults[name] for name in Sample._fields[3:])
"""Timestamp, exemplar and what else a ``Sample`` holds after its value, all unset."""


def _extend(family: Metric, labels: list[dict[str, str]], values: Sequence[float]) -> None:
    """``family.add_metric(labels[i], values[i])`` for each i, without a call per sample."""
    name = family.name + "_total" if family.type == "counter" else family.name
    fields = zip(repeat(name), labels, values, *map(repeat, _SAMPLE_DEFAULTS), strict=False)
    family.samples.extend(map(_new_sample, repeat(Sample), fields))


def _extend_known(family: Metric, labels: list[dict[str, str]], values: list[int | None]) -> None:
    """``_extend`` for the values that are not None."""
    known = [value is not None for value in values]
    _extend(family, list(compress(labels, known)), [v for v in values if v is not None])
