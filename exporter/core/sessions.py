"""The session state machine of one workspace: records in, who is logged in out.

Pure: no clock and no I/O, so every rule is tested by example. The rules:

- records apply in (timestamp, order within the response) order;
- Login while logged out opens a session; Login while logged in is counted, is anomaly
  ``login_while_logged_in``, and keeps the session's start;
- Logout while logged in closes the session and observes its duration; Logout otherwise
  is counted and is anomaly ``logout_without_login``, except as an agent's first record
  of the initial lookback, whose session simply began before the window;
- records applied before ``start_counting`` rebuild the state but count nothing.

Logged-in seconds are a counter that must never decrease, yet a late Logout can reveal
that a session ended before time already reported. Each agent therefore keeps a floor:
what was reportable just before a record changed it. The exposed value is the larger of
the floor and the exact figure, so it stalls rather than falls, and the exact figure
catches up as the agent works on.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.core.records import LOGIN, Row

LOGIN_WHILE_LOGGED_IN = "login_while_logged_in"
LOGOUT_WITHOUT_LOGIN = "logout_without_login"
ANOMALY_KINDS = (LOGOUT_WITHOUT_LOGIN, LOGIN_WHILE_LOGGED_IN)


@dataclass(slots=True)
class Agent:
    """What is known of one agent; timestamps are the API's unix seconds."""

    session_start: int | None = None
    logins: int = 0
    logouts: int = 0
    closed_seconds: float = 0.0
    floor_seconds: float = 0.0
    last_login: int | None = None
    last_logout: int | None = None
    last_record: int = 0
    fresh: bool = False

    @property
    def logged_in(self) -> bool:
        return self.session_start is not None


class Histogram:
    """Cumulative-on-read histogram of completed sessions, Prometheus style."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``[("60.0", n), ..., ("+Inf", total)]`` as the exposition wants it."""
        out, running = [], 0
        for bound, n in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class Sessions:
    """All agents of one workspace and the workspace's totals."""

    def __init__(self, buckets: Iterable[float]) -> None:
        self.agents: dict[str, Agent] = {}
        self.durations = Histogram(buckets)
        self.records_total = {"login": 0, "logout": 0}
        self.anomalies = dict.fromkeys(ANOMALY_KINDS, 0)
        self.logged_in_count = 0
        self.counting_since: float | None = None
        self.window_open = True
        self.as_of = 0.0
        self.last_record: int | None = None
        self.changed: set[str] = set()
        """Agents a record touched since ``take_changed``: the exposition renders their
        series again, and only theirs (open sessions follow ``as_of``). One forgotten
        leaves the set as it leaves ``agents``, which tells by its size, so the set never
        holds more than ``agents`` even when nothing takes it."""

    @property
    def counting(self) -> bool:
        return self.counting_since is not None

    def take_changed(self) -> set[str]:
        """The agents changed since the last call, which starts a new set."""
        changed, self.changed = self.changed, set()
        return changed

    def start_counting(self, at: float, *, close_window: bool = True) -> None:
        """End the initial lookback: from here on every record is counted.

        ``close_window=False`` keeps treating an agent's first record as the start of
        the window (a backfill counts from its first record on).
        """
        if self.counting_since is None:
            self.counting_since = at
            self.window_open = not close_window
            self.advance(at)

    def advance(self, as_of: float) -> None:
        """The state is now known up to ``as_of``; open sessions accrue time to it."""
        self.as_of = max(self.as_of, as_of)

    def apply(self, records: Iterable[Row]) -> None:
        """Apply records already deduplicated and in application order.

        Any ``(name, timestamp, action)`` tuples will do, such as the rows of a ``Batch``.
        """
        if self.counting:
            self._apply_counted(records)
        else:
            self._rebuild(records)

    def _rebuild(self, records: Iterable[Row]) -> None:
        """``apply`` before counting starts: the initial lookback, up to a million records.

        Nothing is counted yet, so all a record can change is who is logged in since when
        and the latest times; this loop does only that, inline, with the outcome the
        counting rules would have without their counters. ``fresh`` matters only while
        counting, and after its first record an agent is never fresh, so new agents start
        with it false. ``x > (last or x - 1)`` decides as ``max(last or x, x)`` in the rules.
        """
        agents = self.agents
        newest: float = -math.inf if self.last_record is None else self.last_record
        opened = 0
        for name, timestamp, action in records:
            agent = agents.get(name)
            if agent is None:
                agent = agents[name] = Agent()
            if action == LOGIN:
                if timestamp > (agent.last_login or timestamp - 1):
                    agent.last_login = timestamp
                if agent.session_start is None:
                    agent.session_start = timestamp
                    opened += 1
            else:
                if timestamp > (agent.last_logout or timestamp - 1):
                    agent.last_logout = timestamp
                if agent.session_start is not None:
                    agent.session_start = None
                    opened -= 1
            if timestamp > agent.last_record:
                agent.last_record = timestamp
            if timestamp > newest:
                newest = timestamp
        self.logged_in_count += opened
        self.last_record = None if newest == -math.inf else int(newest)
        self.changed.update(agents)  # all of them: cheaper than one set insertion per record

    def _apply_counted(self, records: Iterable[Row]) -> None:
        for name, timestamp, action in records:
            agent = self.agents.get(name)
            if agent is None:
                agent = self.agents[name] = Agent(fresh=self.window_open)
            if self.counting:
                agent.floor_seconds = self.logged_in_seconds(agent)
            if action == LOGIN:
                self._login(agent, timestamp)
            else:
                self._logout(agent, timestamp)
            agent.fresh = False
            agent.last_record = max(agent.last_record, timestamp)
            self.changed.add(name)
            if self.last_record is None or timestamp > self.last_record:
                self.last_record = timestamp

    def logged_in_seconds(self, agent: Agent) -> float:
        """Counted seconds logged in as of ``as_of``; never less than reported before."""
        exact = agent.closed_seconds
        if agent.session_start is not None and self.counting_since is not None:
            exact += max(0.0, self.as_of - max(agent.session_start, self.counting_since))
        return max(agent.floor_seconds, exact)

    def forget(self, before: float) -> list[str]:
        """Drop agents whose last record is older than ``before``; return their names."""
        gone = [name for name, agent in self.agents.items() if agent.last_record < before]
        for name in gone:
            if self.agents.pop(name).logged_in:
                self.logged_in_count -= 1
        self.changed.difference_update(gone)
        return gone

    def _login(self, agent: Agent, timestamp: int) -> None:
        agent.last_login = max(agent.last_login or timestamp, timestamp)
        if self.counting:
            agent.logins += 1
            self.records_total["login"] += 1
        if agent.session_start is None:
            agent.session_start = timestamp
            self.logged_in_count += 1
        elif self.counting:
            self.anomalies[LOGIN_WHILE_LOGGED_IN] += 1

    def _logout(self, agent: Agent, timestamp: int) -> None:
        agent.last_logout = max(agent.last_logout or timestamp, timestamp)
        if self.counting:
            agent.logouts += 1
            self.records_total["logout"] += 1
        start = agent.session_start
        if start is None:
            if self.counting and not agent.fresh:
                self.anomalies[LOGOUT_WITHOUT_LOGIN] += 1
            return
        agent.session_start = None
        self.logged_in_count -= 1
        if self.counting_since is not None:
            self.durations.observe(max(0, timestamp - start))
            agent.closed_seconds += max(0.0, timestamp - max(start, self.counting_since))
