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
    cention_agent_logged_in_today_seconds{agent="anna",workspace="demo"} 3600

Business hours and the staffing plan are read off the workspace's schedule at the
instant of the scrape, which the clock given tells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, repeat
from typing import TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from exporter import metrics
from exporter.build import BuildInfo, current
from exporter.core.schedule import Schedule, is_open, required_agents
from exporter.core.sessions import Agent, Histogram, Sessions
from exporter.state import ExporterState, Health, WorkspaceState

F = TypeVar("F", GaugeMetricFamily, CounterMetricFamily, HistogramMetricFamily)
_new_sample = tuple.__new__


class LogioCollector(Collector):
    """Exposes every workspace of an ``ExporterState``, and ``build`` (this process's
    unless given) as ``cention_exporter_build_info``; ``clock`` tells the time of a scrape."""

    def __init__(
        self,
        state: ExporterState,
        *,
        per_agent: bool = True,
        build: BuildInfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.per_agent = per_agent
        self.build = build or current()
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        """Every family of the catalogue, without samples: what the registry learns at
        registration, without a scrape, whatever ``per_agent`` says now (a reload may
        change it)."""
        for family in metrics.FAMILIES:
            yield Metric(family.name, family.help, family.type)

    def collect(self) -> Iterator[Metric]:
        return self.scrape(self.per_agent)

    def scrape(
        self, per_agent: bool, copy: Callable[[WorkspaceState], object] | None = None
    ) -> Iterator[Metric]:
        """The families of one scrape, at the clock's instant; ``copy`` runs on each
        workspace under its lock, for a caller that renders the per-agent series itself
        from what it copies."""
        families = _Families(per_agent, self.clock())
        for workspace in self.state.workspaces():
            with workspace.lock:
                families.add_workspace(workspace)
                if copy is not None:
                    copy(workspace)
        build = _new(metrics.BUILD_INFO, GaugeMetricFamily)
        build.add_metric(self.build.labels(), 1)
        yield build
        yield from families.all()


class _Families:
    """The metric families of one scrape at ``now``, filled workspace by workspace."""

    def __init__(self, per_agent: bool, now: float) -> None:
        self.per_agent = per_agent
        self.now = now
        self.up = _new(metrics.UP, GaugeMetricFamily)
        self.logged_in = _new(metrics.AGENTS_LOGGED_IN, GaugeMetricFamily)
        self.durations = _new(metrics.SESSION_DURATION, HistogramMetricFamily)
        self.records = _new(metrics.RECORDS, CounterMetricFamily)
        self.invalid = _new(metrics.INVALID_RECORDS, CounterMetricFamily)
        self.requests = _new(metrics.REQUESTS, CounterMetricFamily)
        self.errors = _new(metrics.ERRORS, CounterMetricFamily)
        self.latency = _new(metrics.REQUEST_DURATION, HistogramMetricFamily)
        self.last_success = _new(metrics.LAST_SUCCESS, GaugeMetricFamily)
        self.last_record = _new(metrics.LAST_RECORD, GaugeMetricFamily)
        self.anomalies = _new(metrics.ANOMALIES, CounterMetricFamily)
        self.business_hours = _new(metrics.BUSINESS_HOURS, GaugeMetricFamily)
        self.staffing = _new(metrics.STAFFING_REQUIRED, GaugeMetricFamily)
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
        self._add_schedule(name, workspace.schedule)
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

    def _add_schedule(self, name: str, schedule: Schedule | None) -> None:
        self.business_hours.add_metric([name], 1 if is_open(schedule, self.now) else 0)
        if schedule is not None and schedule.staffing is not None:
            self.staffing.add_metric([name], required_agents(schedule, self.now))

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
            self.business_hours,
            self.staffing,
        )
        if self.agent is not None:
            yield from self.agent.all()


class _AgentFamilies:
    """Per-agent series; the session start exists only while the agent is logged in, the
    seconds of today only while today's closed sessions are known."""

    def __init__(self) -> None:
        self.logged_in = _new(metrics.AGENT_LOGGED_IN, GaugeMetricFamily)
        self.logins = _new(metrics.AGENT_LOGINS, CounterMetricFamily)
        self.logouts = _new(metrics.AGENT_LOGOUTS, CounterMetricFamily)
        self.seconds = _new(metrics.AGENT_LOGGED_IN_SECONDS, CounterMetricFamily)
        self.last_login = _new(metrics.AGENT_LAST_LOGIN, GaugeMetricFamily)
        self.last_logout = _new(metrics.AGENT_LAST_LOGOUT, GaugeMetricFamily)
        self.session_start = _new(metrics.AGENT_SESSION_START, GaugeMetricFamily)
        self.today = _new(metrics.AGENT_LOGGED_IN_TODAY, GaugeMetricFamily)

    def add(self, workspace: str, sessions: Sessions) -> None:
        """The samples ``add_metric`` would give, built in bulk: at 10,000 agents a call
        and a label dict per sample would cost a fifth of rendering them. An agent's
        samples share one label dict, which the exposition only reads."""
        labels = [{"workspace": workspace, "agent": name} for name in sessions.agents]
        today = sessions.today()
        rows = [agent_values(sessions, agent, today) for agent in sessions.agents.values()]
        columns = list(zip(*rows, strict=True)) or [()] * len(metrics.AGENT_FAMILIES)
        for family, values in zip(self.all(), columns, strict=True):
            _extend_known(family, labels, values)

    def all(self) -> Iterable[Metric]:
        yield from (
            self.logged_in,
            self.logins,
            self.logouts,
            self.seconds,
            self.last_login,
            self.last_logout,
            self.session_start,
            self.today,
        )


def _new(family: metrics.Family, cls: type[F]) -> F:
    """An empty ``family``; ``cls`` is the prometheus_client class of its type."""
    return cls(family.name, family.help, labels=family.labels)


def _add_histogram(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    family.add_metric(labels, hist.cumulative(), hist.sum)


_SAMPLE_DEFAULTS = tuple(Sample._field_defaults[name] for name in Sample._fields[3:])
"""Timestamp, exemplar and what else a ``Sample`` holds after its value, all unset."""


def _extend(family: Metric, labels: list[dict[str, str]], values: Sequence[float]) -> None:
    """``family.add_metric(labels[i], values[i])`` for each i, without a call per sample."""
    (name,) = metrics.BY_NAME[family.name].samples
    fields = zip(repeat(name), labels, values, *map(repeat, _SAMPLE_DEFAULTS), strict=False)
    family.samples.extend(map(_new_sample, repeat(Sample), fields))


def _extend_known(
    family: Metric, labels: list[dict[str, str]], values: Sequence[float | None]
) -> None:
    """``_extend`` for the values that are not None."""
    known = [value is not None for value in values]
    _extend(family, list(compress(labels, known)), [v for v in values if v is not None])


def agent_values(sessions: Sessions, agent: Agent, today: int | None) -> tuple[float | None, ...]:
    """The agent's value in each family of ``metrics.AGENT_FAMILIES``, None where it has
    no sample: the session start exists only while it is logged in, the seconds of today
    (from ``today``, ``sessions.today()``) only while the day is known."""
    return (
        0 if agent.session_start is None else 1,
        agent.logins,
        agent.logouts,
        sessions.logged_in_seconds(agent),
        agent.last_login,
        agent.last_logout,
        agent.session_start,
        None if today is None else sessions.today_seconds(agent, today),
    )
