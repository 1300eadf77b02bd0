"""Exact logged-in time per agent and local day, or per session, from a range's records.

Pure: records in, rows out; the zone and the range's end are passed in. The sessions are
the live exporter's own: each record goes through ``Sessions.apply`` and its agent's
session start is read before and after it, so a login while logged in keeps its session,
a logout without login closes none, and a session whose login lies before the first
record read is not seen (``report`` reads ``poll.lookback`` before the range for that).

A day is a local calendar day of the zone (``day_bounds``): 23 h or 25 h on DST days.

- A session counts on every day it has a second in, its seconds split at local midnight;
  one of no length (login and logout in the same second) counts on the day it happened.
- A session still open when the records end runs to the range's end.
- ``logins`` and ``logouts`` count the records stamped that day, as the live counters do,
  a login while logged in and a logout without login included; ``first_login`` and
  ``last_logout`` are the day's first Login and last Logout record.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from exporter.core.localtime import day_bounds
from exporter.core.records import LOGIN, Row
from exporter.core.sessions import Sessions


@dataclass(frozen=True)
class Days:
    """Consecutive local days: ``bounds[i]`` starts day ``i``, the last bound ends the range."""

    zone: ZoneInfo
    first: date
    bounds: tuple[int, ...]

    @classmethod
    def between(cls, zone: ZoneInfo, first: date, last: date, until: int | None = None) -> Days:
        """``first`` to ``last``, both included; ``until`` (now) ends the range if sooner."""
        dates = [first + timedelta(days=i) for i in range((last - first).days + 2)]
        bounds = [day_bounds(zone, day)[0] for day in dates]
        return cls(zone, first, tuple(bounds if until is None else (min(b, until) for b in bounds)))

    @property
    def start(self) -> int:
        return self.bounds[0]

    @property
    def end(self) -> int:
        return self.bounds[-1]

    def date(self, index: int) -> date:
        return self.first + timedelta(days=index)

    def index(self, instant: int) -> int:
        """The day ``instant`` falls in, for ``start <= instant < end``."""
        return bisect_right(self.bounds, instant) - 1

    def local(self, instant: int) -> datetime:
        return datetime.fromtimestamp(instant, self.zone)

    def local_or_none(self, instant: int | None) -> datetime | None:
        return None if instant is None else self.local(instant)

    def split(self, login: int, logout: int) -> list[tuple[int, int]]:
        """Each day ``[login, logout)`` has a second in, with how many; a session of no
        length counts on its day, with 0.

        >>> days = Days(ZoneInfo("UTC"), date(2026, 1, 1), (0, 100, 300))
        >>> days.split(50, 150), days.split(120, 120), days.split(-9, 0)
        ([(0, 50), (1, 50)], [(1, 0)], [])
        """
        bounds = self.bounds
        low, high = max(login, bounds[0]), min(logout, bounds[-1])
        if low > high or (low == high and (login < logout or high == bounds[-1])):
            return []
        day, parts = self.index(low), []
        while bounds[day + 1] < high:
            parts.append((day, bounds[day + 1] - low))
            low, day = bounds[day + 1], day + 1
        parts.append((day, high - low))
        return parts


class Session(NamedTuple):
    """One session of one agent, in unix seconds."""

    agent: str
    login: int
    logout: int | None
    """None: still open when the records end."""


@dataclass(slots=True)
class Tally:
    """One agent's records stamped on one day."""

    logins: int = 0
    logouts: int = 0
    first_login: int | None = None
    last_logout: int | None = None


_NONE = Tally()


class Ledger:
    """Records in application order -> the sessions they make and each day's records."""

    def __init__(self, days: Days) -> None:
        self.days = days
        self.rules = Sessions(())
        self.closed: list[Session] = []
        self.tallies: dict[tuple[str, int], Tally] = {}

    def feed(self, records: Iterable[Row]) -> None:
        """Apply ``records``, deduplicated and in order; those from the range's end on are
        ignored, and sessions closed before its start are not kept."""
        start, end, agents = self.days.start, self.days.end, self.rules.agents
        for record in records:
            name, timestamp, action = record
            if timestamp >= end:
                continue
            agent = agents.get(name)
            began = None if agent is None else agent.session_start
            self.rules.apply((record,))
            if began is not None and agents[name].session_start is None and timestamp >= start:
                self.closed.append(Session(name, began, timestamp))
            if timestamp >= start:
                self._count(name, timestamp, action)

    def _count(self, name: str, timestamp: int, action: str) -> None:
        key = (name, self.days.index(timestamp))
        tally = self.tallies.get(key) or self.tallies.setdefault(key, Tally())
        if action == LOGIN:
            tally.logins += 1
            if tally.first_login is None or timestamp < tally.first_login:
                tally.first_login = timestamp
        else:
            tally.logouts += 1
            if tally.last_logout is None or timestamp > tally.last_logout:
                tally.last_logout = timestamp

    def sessions(self) -> list[Session]:
        """The sessions closed in the range, in the order they closed, then the open ones."""
        agents = self.rules.agents.items()
        opened = [
            Session(n, a.session_start, None) for n, a in agents if a.session_start is not None
        ]
        return self.closed + opened

    def parts(self, session: Session) -> list[tuple[int, int]]:
        """``Days.split`` of ``session``; an open one runs to the range's end."""
        logout = self.days.end if session.logout is None else session.logout
        return self.days.split(session.login, logout)


class DayRow(NamedTuple):
    """One agent's local day; ``sessions`` counts those with a second in it."""

    workspace: str
    agent: str
    date: date
    logged_in_seconds: int
    sessions: int
    logins: int
    logouts: int
    first_login: datetime | None
    last_logout: datetime | None


class SessionRow(NamedTuple):
    """One session; ``seconds`` counts its part within the range, so a range's session rows
    add up to its day rows. ``logout`` is None while the session is open at the end."""

    workspace: str
    agent: str
    login: datetime
    logout: datetime | None
    seconds: int
    began_before_range: bool
    open_at_end: bool


def by_day(workspace: str, ledger: Ledger) -> list[DayRow]:
    """A row per agent and day with a session or a record in it, by agent, then day."""
    seconds: Counter[tuple[str, int]] = Counter()
    sessions: Counter[tuple[str, int]] = Counter()
    for session in ledger.sessions():
        for day, part in ledger.parts(session):
            seconds[session.agent, day] += part
            sessions[session.agent, day] += 1
    days, rows = ledger.days, []
    for key in sorted(sessions.keys() | ledger.tallies.keys()):
        tally = ledger.tallies.get(key, _NONE)
        agent, day = key
        rows.append(
            DayRow(
                workspace,
                agent,
                days.date(day),
                seconds[key],
                sessions[key],
                tally.logins,
                tally.logouts,
                days.local_or_none(tally.first_login),
                days.local_or_none(tally.last_logout),
            )
        )
    return rows


def by_session(workspace: str, ledger: Ledger) -> list[SessionRow]:
    """A row per session with a second in the range, by agent, then login."""
    days, rows = ledger.days, []
    for session in sorted(ledger.sessions(), key=lambda s: (s.agent, s.login)):
        parts = ledger.parts(session)
        if parts:
            rows.append(
                SessionRow(
                    workspace,
                    session.agent,
                    days.local(session.login),
                    days.local_or_none(session.logout),
                    sum(part for _, part in parts),
                    session.login < days.start,
                    session.logout is None,
                )
            )
    return rows
