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

Seconds logged in *today* are state, not a count: every session closed builds them,
counted or not, so the initial lookback rebuilds them. "Today" is the local day of
``as_of`` in the workspace's time zone. Each agent keeps the start of the local day of
its last closed session and the closed seconds of that day; a session over midnight
counts its part after midnight. Where the day's closed sessions are not known (a state
saved before these figures existed, or a new time zone), the figure is unknown until the
next local midnight.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, get_args, get_type_hints
from zoneinfo import ZoneInfo

from exporter.core.localtime import UTC, LocalDays, zone_named
from exporter.core.records import LOGIN, Batch, Row

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
    day_start: int | None = None
    """The first second of the local day of the last session closed."""
    day_closed_seconds: float = 0.0
    """Seconds of the sessions closed that day, from its start on."""

    @property
    def logged_in(self) -> bool:
        return self.session_start is not None

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, as plain data."""
        return {name: getattr(self, name) for name in _AGENT_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Agent:
        """An agent from ``to_dict`` data, each value checked against its field's type.

        A field missing (written before the field existed) keeps its default, and one
        this version does not know is ignored, so adding a field breaks no saved state.
        """
        return cls(
            **{name: read(data[name]) for name, read in _AGENT_FIELDS.items() if name in data}
        )


def _reader(kind: Any) -> Callable[[object], Any]:
    """A check of one JSON value for a field of type ``kind``: int, float, bool, or one of
    them or None. An int is a float's value too; a bool is no number."""
    optional = type(None) in get_args(kind)
    base = next(arg for arg in get_args(kind) if arg is not type(None)) if optional else kind
    accepted = (int, float) if base is float else (base,)

    def read(value: object) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, accepted) and (base is bool or not isinstance(value, bool)):
            return base(value)
        raise TypeError(f"expected {kind}, got {value!r}")

    return read


_AGENT_FIELDS = {field.name: _reader(get_type_hints(Agent)[field.name]) for field in fields(Agent)}
"""Each field of ``Agent`` by name, with the check of its saved value."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "bounds": list(self.bounds),
            "counts": list(self.counts),
            "sum": self.sum,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """A histogram from ``to_dict`` data, with the bounds it was saved with."""
        histogram = cls(float(bound) for bound in data["bounds"])
        counts = [int(n) for n in data["counts"]]
        if len(counts) != len(histogram.counts):
            raise ValueError("histogram counts do not match its bounds")
        histogram.counts = counts
        histogram.sum = float(data["sum"])
        histogram.count = int(data["count"])
        return histogram

    def cumulative(self) -> list[tuple[str, int]]:
        """``[("60.0", n), ..., ("+Inf", total)]`` as the exposition wants it."""
        out, running = [], 0
        for bound, n in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class Sessions:
    """All agents of one workspace and the workspace's totals."""

    def __init__(self, buckets: Iterable[float], zone: ZoneInfo = UTC) -> None:
        self.agents: dict[str, Agent] = {}
        self.durations = Histogram(buckets)
        self.records_total = {"login": 0, "logout": 0}
        self.anomalies = dict.fromkeys(ANOMALY_KINDS, 0)
        self.logged_in_count = 0
        self.counting_since: float | None = None
        self.window_open = True
        self.as_of = 0.0
        self.last_record: int | None = None
        self.days = LocalDays(zone)
        """The workspace's local days, where "today" starts."""
        self.days_known_from: int | None = None
        """The first local midnight from which the closed sessions of each day are known;
        None: every day's are."""
        self.changed: set[str] = set()
        """Agents a record touched since ``take_changed``: the exposition renders their
        series again, and only theirs (open sessions follow ``as_of``). One forgotten
        leaves the set as it leaves ``agents``, which tells by its size, so the set never
        holds more than ``agents`` even when nothing takes it."""

    @property
    def zone(self) -> ZoneInfo:
        return self.days.zone

    @property
    def counting(self) -> bool:
        return self.counting_since is not None

    def to_dict(self) -> dict[str, Any]:
        """Everything a restart needs, as plain data by field name."""
        return {
            "counting_since": self.counting_since,
            "window_open": self.window_open,
            "as_of": self.as_of,
            "last_record": self.last_record,
            "records_total": dict(self.records_total),
            "anomalies": dict(self.anomalies),
            "durations": self.durations.to_dict(),
            "agents": {name: agent.to_dict() for name, agent in self.agents.items()},
            "timezone": self.zone.key,
            "days_known_from": self.days_known_from,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], durations: Histogram) -> Sessions:
        """Sessions from ``to_dict`` data, with ``durations`` as their histogram: the one
        saved, or a fresh one when the configured buckets changed. Data saved before the
        day's figures existed leaves today unknown until the next local midnight."""
        sessions = cls(durations.bounds, _saved_zone(data.get("timezone")))
        sessions.durations = durations
        since, last = data["counting_since"], data["last_record"]
        sessions.counting_since = None if since is None else float(since)
        sessions.window_open = bool(data["window_open"])
        sessions.as_of = float(data["as_of"])
        sessions.last_record = None if last is None else int(last)
        sessions.records_total = {k: int(data["records_total"][k]) for k in sessions.records_total}
        sessions.anomalies = {k: int(data["anomalies"][k]) for k in sessions.anomalies}
        sessions.agents = {str(n): Agent.from_dict(a) for n, a in data["agents"].items()}
        sessions.logged_in_count = sum(agent.logged_in for agent in sessions.agents.values())
        if "days_known_from" in data and sessions.zone.key == data.get("timezone"):
            known = data["days_known_from"]
            sessions.days_known_from = None if known is None else int(known)
        elif sessions.agents:
            sessions.forget_today()
        return sessions

    def set_zone(self, zone: ZoneInfo) -> bool:
        """Count days in ``zone`` from now on; True if that is another zone. The closed
        sessions of today in a zone of another name are not known: today is unknown until
        the next local midnight."""
        if zone.key == self.zone.key:
            return False
        self.days = LocalDays(zone)
        if self.agents:
            self.forget_today()
        return True

    def rebuild_until(self, until: float) -> None:
        """The initial lookback reads up to ``until``: only the sessions closed on its
        local day can make a today, so the rebuild keeps the day's figures of no other,
        and the days before it are unknown (a lookback resumed later moves it on)."""
        start = self.days.bounds(until)[0]
        known = self.days_known_from
        self.days_known_from = start if known is None else max(known, start)

    def forget_today(self) -> None:
        """Mark the closed sessions of ``as_of``'s local day unknown: from the next
        midnight on, the day's figures are exact again."""
        self.days_known_from = self.days.bounds(self.as_of)[1]

    def today(self) -> int | None:
        """The first second of ``as_of``'s local day, or None while that day is unknown."""
        start = self.days.bounds(self.as_of)[0]
        known = self.days_known_from
        return start if known is None or start >= known else None

    def today_seconds(self, agent: Agent, today: int) -> float:
        """Seconds ``agent`` was logged in from ``today`` (``today()``) up to ``as_of``."""
        seconds = agent.day_closed_seconds if agent.day_start == today else 0.0
        if agent.session_start is not None:
            seconds += max(0.0, self.as_of - max(agent.session_start, today))
        return seconds

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
        if self.counting_since is None:
            self._rebuild(records)
        else:
            self._apply_counted(records, self.counting_since)

    def apply_batch(self, batch: Batch) -> None:
        """``apply`` of a batch in time order, as ``Overlap.take`` gives one.

        In the initial lookback, the records of a batch that starts no earlier than any
        record applied before, up to the day ``rebuild_until`` names, take the rebuild's
        shortest loop (``_rebuild_before``): the days before the lookback's last hold most
        of a week's records.
        """
        stamps = batch.timestamps
        split = self._before_known(stamps)
        if split:
            self._rebuild_before(batch.rows(0, split))
            self.last_record = stamps[split - 1]
        if split < len(stamps):
            self.apply(batch.rows(split))

    def _before_known(self, stamps: list[int]) -> int:
        """How many of ``stamps``, in time order, ``_rebuild_before`` may take: in the
        initial lookback, those before ``days_known_from``, if the first is no earlier
        than any record applied before."""
        known, last = self.days_known_from, self.last_record
        if self.counting_since is not None or known is None or not stamps:
            return 0
        if last is not None and stamps[0] < last:
            return 0
        return bisect_left(stamps, known)

    def _rebuild_before(self, records: Iterable[Row]) -> None:
        """``_rebuild`` of records in time order, none earlier than a record applied
        before, all before ``days_known_from``: each time is the latest of its kind so
        far, so it is set without a comparison, and no close keeps a day's figures.
        ``self.last_record`` is the caller's to set."""
        agents = self.agents
        opened = 0
        for name, timestamp, action in records:
            try:
                agent = agents[name]
            except KeyError:  # once per new agent: cheaper than a lookup per record
                agent = agents[name] = Agent()
            agent.last_record = timestamp
            if action == LOGIN:
                agent.last_login = timestamp
                if agent.session_start is None:
                    agent.session_start = timestamp
                    opened += 1
            else:
                agent.last_logout = timestamp
                if agent.session_start is not None:
                    agent.session_start = None
                    opened -= 1
        self.logged_in_count += opened
        self._all_changed()

    def _all_changed(self) -> None:
        """Every agent changed: cheaper than one set insertion per record. ``changed``
        holds only agents, so when it is as large it holds them all already."""
        if len(self.changed) < len(self.agents):
            self.changed.update(self.agents)

    def _rebuild(self, records: Iterable[Row]) -> None:
        """``apply`` before counting starts: the initial lookback, up to a million records.

        Nothing is counted yet, so all a record can change is who is logged in since when,
        the latest times and the seconds of the day; this loop does only that, inline, with
        the outcome the counting rules would have without their counters. ``fresh`` matters
        only while counting, and after its first record an agent is never fresh, so new
        agents start with it false. ``x > (last or x - 1)`` decides as ``max(last or x, x)``
        in the rules. A session closed before the day ``rebuild_until`` names keeps no day's
        figures, and the day's bounds are looked up only when a close leaves the last day.
        """
        agents = self.agents
        newest: float = -math.inf if self.last_record is None else self.last_record
        opened = 0
        days = self.days
        day_start, day_end = days.start, days.end
        known = -1 if self.days_known_from is None else self.days_known_from  # times are >= 0
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
                start = agent.session_start
                if start is not None:
                    agent.session_start = None
                    opened -= 1
                    if timestamp < known:  # a day before the lookback's last: no today
                        pass
                    elif agent.day_start == day_start and day_start <= timestamp < day_end:
                        seconds = timestamp - (start if start > day_start else day_start)
                        if seconds > 0:
                            agent.day_closed_seconds += seconds
                    else:  # the agent's first close of the day, or another day
                        day_start, day_end = days.bounds(timestamp)
                        _add_to_day(agent, day_start, timestamp - max(start, day_start))
            if timestamp > agent.last_record:
                agent.last_record = timestamp
            if timestamp > newest:
                newest = timestamp
        self.logged_in_count += opened
        self.last_record = None if newest == -math.inf else int(newest)
        self._all_changed()

    def _apply_counted(self, records: Iterable[Row], since: float) -> None:
        """``apply`` once counting started at ``since``: every rule, every counter."""
        for name, timestamp, action in records:
            agent = self.agents.get(name)
            if agent is None:
                agent = self.agents[name] = Agent(fresh=self.window_open)
            agent.floor_seconds = self.logged_in_seconds(agent)
            if action == LOGIN:
                self._login(agent, timestamp)
            else:
                self._logout(agent, timestamp, since)
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
        agent.logins += 1
        self.records_total["login"] += 1
        if agent.session_start is None:
            agent.session_start = timestamp
            self.logged_in_count += 1
        else:
            self.anomalies[LOGIN_WHILE_LOGGED_IN] += 1

    def _logout(self, agent: Agent, timestamp: int, since: float) -> None:
        agent.last_logout = max(agent.last_logout or timestamp, timestamp)
        agent.logouts += 1
        self.records_total["logout"] += 1
        start = agent.session_start
        if start is None:
            if not agent.fresh:
                self.anomalies[LOGOUT_WITHOUT_LOGIN] += 1
            return
        agent.session_start = None
        self.logged_in_count -= 1
        self.durations.observe(max(0, timestamp - start))
        agent.closed_seconds += max(0.0, timestamp - max(start, since))
        day_start = self.days.bounds(timestamp)[0]
        _add_to_day(agent, day_start, timestamp - max(start, day_start))


def _add_to_day(agent: Agent, day_start: int, seconds: int) -> None:
    """A session closed on the local day from ``day_start``, ``seconds`` of it on that day
    (less than 0 for a Logout older than its Login: none). A later day than the agent's
    starts afresh; an earlier one (a late record) changes nothing."""
    kept = agent.day_start
    if kept is None or kept < day_start:
        agent.day_start, agent.day_closed_seconds = day_start, 0.0
    elif kept > day_start:
        return
    if seconds > 0:
        agent.day_closed_seconds += seconds


def _saved_zone(name: object) -> ZoneInfo:
    """The time zone a state was saved in; UTC if none or unknown here (then the name
    differs, and today is unknown)."""
    try:
        return zone_named(name) if isinstance(name, str) else UTC
    except ValueError:
        return UTC
