"""Tools for the fault tests: a simulator that shows what it was asked, a background
scraper, and the counters the exporter must reach, computed from the scenario alone."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import httpx
from harness import ExporterProcess, Samples, parse_samples

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Scenario, SimRequest, SimulatorServer, logio_path, plan
from exporter.simulator.effects import Plan

FAR = 2**40
"""A time after every record of a test: ground truth "in the end"."""


class Seen(NamedTuple):
    """One logio request as the simulator planned it; ``status`` ``None`` is a reset."""

    at: float
    frm: int
    to: int
    status: int | None
    kinds: tuple[str, ...]
    body: bytes


class RecordingSimulator(SimulatorServer):
    """A ``SimulatorServer`` that remembers each logio request and may rewrite bodies.

    ``rewrite`` replaces byte strings in every answer, which is how a test sends bytes
    that a ``Record`` cannot hold, such as a name that is not UTF-8.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        token: str,
        workspace: str,
        rewrite: Mapping[bytes, bytes] | None = None,
    ) -> None:
        super().__init__(scenario, token=token, workspace=workspace)
        self.accepted_token = token
        self.rewrite = dict(rewrite or {})
        self.seen: list[Seen] = []
        self._seen_lock = threading.Lock()

    def _plan(self, request: SimRequest) -> Plan:
        # As the server plans it, but here the faults that shaped the answer are known.
        now = time.time()
        faults = self.faults.active(now)
        todo = plan(
            request,
            self.scenario,
            faults,
            token=self.accepted_token,
            workspace=self.workspace,
            now=now,
        )
        if todo.response is not None and self.rewrite:
            body = todo.response.body
            for old, new in self.rewrite.items():
                body = body.replace(old, new)
            todo = todo._replace(response=dataclasses.replace(todo.response, body=body))
        if request.path == logio_path(self.workspace):
            query = {key: values[0] for key, values in request.query.items()}
            status = None if todo.response is None else todo.response.status
            body = b"" if todo.response is None else todo.response.body
            seen = Seen(
                now,
                int(query.get("from", -1)),
                int(query.get("to", -1)),
                status,
                tuple(f.kind for f in faults),
                body,
            )
            with self._seen_lock:
                self.seen.append(seen)
        return todo

    def requests(self) -> list[Seen]:
        with self._seen_lock:
            return list(self.seen)


# What the exporter must show.


@dataclass(frozen=True)
class Counts:
    """Every counter of one workspace that must equal the ground truth exactly."""

    records: dict[str, float]
    anomalies: dict[str, float]
    durations: tuple[float, float]
    logins: dict[str, float]
    logouts: dict[str, float]
    logged_in: frozenset[str]


def truth(scenario: Scenario) -> Counts:
    """The counters once every record after ``scenario.start`` is applied exactly once.

    The history up to ``start`` only rebuilds who is logged in (the exporter's initial
    lookback); tests inject every later record. Records and per-agent counts come from
    the scenario's own ground truth, anomalies and durations from replaying the records
    by the documented session rules.
    """
    start = scenario.start
    logins = scenario.count_by_agent(LOGIN, start + 1, FAR, now=FAR)
    logouts = scenario.count_by_agent(LOGOUT, start + 1, FAR, now=FAR)
    anomalies, durations = _replay(
        scenario.records(0, start, now=start), scenario.records(start + 1, FAR, now=FAR)
    )
    return Counts(
        records={
            "login": scenario.count(LOGIN, start + 1, FAR, now=FAR),
            "logout": scenario.count(LOGOUT, start + 1, FAR, now=FAR),
        },
        anomalies=anomalies,
        durations=(len(durations), sum(durations)),
        logins=dict(logins),
        logouts=dict(logouts),
        logged_in=frozenset(scenario.logged_in_at(FAR)),
    )


def _replay(history: list[Record], live: list[Record]) -> tuple[dict[str, float], list[int]]:
    """History opens and closes sessions silently; live records count by the rules."""
    start = _sessions_after(history)
    anomalies = {"login_while_logged_in": 0.0, "logout_without_login": 0.0}
    durations: list[int] = []
    for name, timestamp, action in live:
        opened = start.get(name)
        if action == LOGIN:
            if opened is None:
                start[name] = timestamp
            else:
                anomalies["login_while_logged_in"] += 1
        elif opened is None:
            anomalies["logout_without_login"] += 1
        else:
            durations.append(max(0, timestamp - opened))
            start[name] = None
    return anomalies, durations


def _sessions_after(history: Iterable[Record]) -> dict[str, int | None]:
    """Each agent's open session start after ``history``; a Login while in keeps it."""
    start: dict[str, int | None] = {}
    for name, timestamp, action in history:
        if action == LOGOUT:
            start[name] = None
        elif start.get(name) is None:
            start[name] = timestamp
    return start


def observed(samples: Samples, workspace: str) -> Counts:
    """The same counters as the exporter shows them for ``workspace``."""

    def by(name: str, label: str, nonzero: bool = False) -> dict[str, float]:
        return {
            dict(labels)[label]: v
            for (n, labels), v in samples.items()
            if n == name and ("workspace", workspace) in labels and (v or not nonzero)
        }

    ws = ("workspace", workspace)
    return Counts(
        records=by("cention_logio_records_total", "action"),
        anomalies=by("cention_session_anomalies_total", "kind"),
        durations=(
            samples[("cention_session_duration_seconds_count", frozenset([ws]))],
            samples[("cention_session_duration_seconds_sum", frozenset([ws]))],
        ),
        logins=by("cention_agent_logins_total", "agent", nonzero=True),
        logouts=by("cention_agent_logouts_total", "agent", nonzero=True),
        logged_in=frozenset(
            agent for agent, v in by("cention_agent_logged_in", "agent").items() if v == 1
        ),
    )


def aggregates(samples: Samples, workspace: str) -> tuple[object, ...]:
    """The per-workspace totals of ``observed``, cheap enough to compare on every scrape."""
    counts = observed(samples, workspace)
    return counts.records, counts.anomalies, counts.durations


def expected_aggregates(scenario: Scenario) -> tuple[object, ...]:
    counts = truth(scenario)
    return counts.records, counts.anomalies, counts.durations


def errors(samples: Samples, workspace: str) -> dict[str, float]:
    """``cention_logio_errors_total`` of ``workspace`` by reason."""
    return {
        dict(labels)["reason"]: v
        for (n, labels), v in samples.items()
        if n == "cention_logio_errors_total" and ("workspace", workspace) in labels
    }


def metric(samples: Samples, name: str, workspace: str, **labels: str) -> float:
    """One sample of ``workspace``; 0 when the series does not exist (yet)."""
    key = frozenset({"workspace": workspace, **labels}.items())
    return samples.get((name, key), 0.0)


# Events.


def idle_agents(scenario: Scenario, prefix: str, count: int) -> list[str]:
    """``count`` agents logged out now: idle ones of the scenario, then made-up ones."""
    idle = sorted(set(scenario.agent_names()) - scenario.logged_in_at(time.time()))
    return (idle + [f"{prefix}.agent{n}" for n in range(count)])[:count]


def burst(scenario: Scenario, agents: list[str], at: int) -> None:
    """Three agents at ``at``: a double login, a stray logout and two short sessions.

    ``a`` logs in twice (one login_while_logged_in) and out 2 s later, ``b`` logs out
    without a login, ``c`` works for one second.
    """
    a, b, c = agents
    for record in (
        Record(a, at, LOGIN),
        Record(a, at, LOGIN),
        Record(b, at, LOGOUT),
        Record(c, at, LOGIN),
        Record(c, at + 1, LOGOUT),
        Record(a, at + 2, LOGOUT),
    ):
        scenario.inject(record)


# Scraping in the background.


class Snapshot(NamedTuple):
    """One scrape: when it was asked and answered, and what it said."""

    started: float
    ended: float
    samples: Samples


_KEPT = ("cention_up", "cention_logio_", "cention_session_")
"""Families each snapshot keeps; per-agent ones only in the latest, to bound memory."""


class Monitor:
    """Scrapes an exporter every ``period`` seconds from a thread and remembers it all.

    Each scrape's text is checked for ``secrets`` as it arrives; a scrape that does not
    answer 200 is remembered as a failure.
    """

    def __init__(
        self, exporter: ExporterProcess, secrets: Iterable[str] = (), period: float = 0.25
    ) -> None:
        self.exporter = exporter
        self.secrets = tuple(secrets)
        self.period = period
        self.history: list[Snapshot] = []
        self.latest: Snapshot | None = None
        self.failures: list[str] = []
        self.leaks: list[str] = []
        self.scrapes = 0
        self.slowest = 0.0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                self._scrape(client)
                self._stop.wait(self.period)

    def _scrape(self, client: httpx.Client) -> None:
        started = time.time()
        try:
            response = client.get(self.exporter.url + "/metrics")
            ended = time.time()
        except httpx.HTTPError as exc:
            self.failures.append(f"{started:.1f}: {type(exc).__name__}")
            return
        if response.status_code != 200:
            self.failures.append(f"{started:.1f}: HTTP {response.status_code}")
            return
        text = response.text
        self.leaks.extend(secret for secret in self.secrets if secret in text)
        samples = parse_samples(text)
        kept = {key: v for key, v in samples.items() if key[0].startswith(_KEPT)}
        with self._changed:
            self.scrapes += 1
            self.slowest = max(self.slowest, ended - started)
            self.history.append(Snapshot(started, ended, kept))
            self.latest = Snapshot(started, ended, samples)
            self._changed.notify_all()

    def wait(self, condition: Callable[[Samples], bool], timeout: float, what: str) -> Snapshot:
        """The first scrape begun from now on for which ``condition`` holds."""
        begun, deadline = time.time(), time.monotonic() + timeout
        with self._changed:
            while True:
                latest = self.latest
                if latest is not None and latest.started >= begun and condition(latest.samples):
                    return latest
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        tail = self.exporter.log()[-4000:]
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; log tail:\n{tail}")

    def next(self, after: float) -> Snapshot:
        """The first scrape begun at ``after`` or later."""
        sleep_until(after)
        return self.wait(lambda samples: True, 10, "a scrape")

    def between(self, begin: float, end: float) -> list[Snapshot]:
        """Scrapes asked at ``begin`` or later and answered by ``end``."""
        with self._changed:
            return [s for s in self.history if s.started >= begin and s.ended <= end]


def sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.time()))
