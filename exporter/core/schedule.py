"""The contact center's schedule: opening hours, holidays and staffing in its own time zone.

Pure: instants are unix seconds passed in, no clock is read. ``parse_schedule`` turns the
config's plain data into a ``Schedule`` and lists every problem, one line per key::

    schedule:
      timezone: Europe/Stockholm        # IANA name, default UTC
      hours: {mon-fri: ["08:00-17:00"], sat: ["10:00-14:00"]}
      closed: [2026-12-24, 2026-12-25]  # whole local days
      staffing: {mon-fri: {"08:00-12:00": 5, "12:00-17:00": 3}}

Hours are wall-clock times: the center is open while the local clock shows a time in a
range, so ``08:00-17:00`` opens at 08:00 local in summer and in winter. A range inside the
hour that a DST change skips does not open that day; one inside the hour it repeats opens
twice. Without ``hours:`` the center is open all day, every day but the ``closed`` ones.
Staffing counts only while open, so closing time and holidays require no agents; where no
staffing range matches, 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exporter.core.localtime import (
    DAY,
    day_bounds,
    offset_changes,
    utc_midnight,
    utc_offset,
    wall_clock,
)
from exporter.validate import get, mapping, string

T = TypeVar("T")

Range = tuple[int, int]
"""Seconds after local midnight: start included, end excluded; 86400 is 24:00."""
Shift = tuple[int, int, int]
"""A staffing range: start, end, agents required."""

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = ZoneInfo("UTC")
ALL_DAY: tuple[tuple[Range, ...], ...] = (((0, DAY),),) * 7
_KEYS = ("timezone", "hours", "closed", "staffing")
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


@dataclass(frozen=True)
class Schedule:
    """Opening hours and staffing per weekday, Monday first, in ``zone``'s wall time."""

    zone: ZoneInfo = UTC
    hours: tuple[tuple[Range, ...], ...] = ALL_DAY
    closed: frozenset[date] = frozenset()
    staffing: tuple[tuple[Shift, ...], ...] | None = None
    """``None`` without ``staffing:`` in the config: there is no plan to expose."""


class _Entry(NamedTuple):
    """One range of one day, with the day key that gave it, for the overlap check."""

    day: int
    shift: Shift
    key: str


def parse_schedule(data: object, key: str, problems: list[str]) -> Schedule | None:
    """Plain data under ``key`` -> a ``Schedule``; ``None`` if absent or on any problem."""
    if data is None:
        return None
    before = len(problems)
    section = mapping(data, f"{key}.", _KEYS, problems)
    zone = get(section, f"{key}.timezone", parse_zone, UTC, problems)
    hours = _weekly(section.get("hours"), f"{key}.hours", _hours, problems)
    closed = _closed(section.get("closed"), f"{key}.closed", problems)
    staffing = _weekly(section.get("staffing"), f"{key}.staffing", _shifts, problems)
    if len(problems) > before:
        return None
    spans = ALL_DAY if hours is None else tuple(tuple(s[:2] for s in day) for day in hours)
    return Schedule(zone=zone, hours=spans, closed=closed, staffing=staffing)


def parse_zone(value: object) -> ZoneInfo:
    """An IANA time zone by name, as the config and ``report --timezone`` give it."""
    name = string(value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name like Europe/Stockholm)"
        ) from None


def _check(convert: Callable[[Any], T], value: object, where: str, problems: list[str]) -> T | None:
    """``convert(value)``, or ``None`` with the reason as a problem naming ``where``."""
    try:
        return convert(value)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _weekly(
    value: object,
    name: str,
    shifts: Callable[[object, str, list[str]], list[Shift]],
    problems: list[str],
) -> tuple[tuple[Shift, ...], ...] | None:
    """Day keys -> each weekday's ranges, sorted; overlaps on any one day are problems."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(
            f"{name}: expected a mapping of days like mon-fri or sat,sun, got {value!r}"
        )
        return None
    entries: list[_Entry] = []
    for day_key, item in value.items():
        where = f"{name}.{day_key}"
        days = _check(_days, day_key, where, problems) or ()
        entries += [_Entry(d, s, str(day_key)) for s in shifts(item, where, problems) for d in days]
    _overlaps(entries, name, problems)
    return tuple(tuple(sorted(e.shift for e in entries if e.day == d)) for d in range(7))


def _days(key: object) -> tuple[int, ...]:
    """``"mon-fri"`` -> 0..4, ``"sat,sun"`` -> 5, 6; ``"sun-thu"`` wraps over the week's end."""
    if not isinstance(key, str):
        raise ValueError(f"expected days like mon-fri or sat,sun, got {key!r}")
    days: list[int] = []
    for part in key.split(","):
        first, dash, last = part.strip().lower().partition("-")
        start, end = _day(first), _day(last if dash else first)
        if dash and start == end:
            raise ValueError(f"a range of days needs two different days, got {part.strip()!r}")
        days += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    twice = [_DAYS[d] for d in range(7) if days.count(d) > 1]
    if twice:
        raise ValueError(f"{', '.join(twice)} listed twice")
    return tuple(days)


def _day(name: str) -> int:
    if name.strip() not in _DAYS:
        raise ValueError(f"unknown day {name.strip()!r} (known: {', '.join(_DAYS)})")
    return _DAYS.index(name.strip())


def _hours(value: object, where: str, problems: list[str]) -> list[Shift]:
    if not isinstance(value, list):
        problems.append(f'{where}: expected a list of ranges like ["08:00-17:00"], got {value!r}')
        return []
    spans = [_check(_range, text, f"{where}[{i}]", problems) for i, text in enumerate(value)]
    return [(*span, 0) for span in spans if span is not None]


def _shifts(value: object, where: str, problems: list[str]) -> list[Shift]:
    if not isinstance(value, dict):
        example = '{"08:00-12:00": 5}'
        problems.append(
            f"{where}: expected a mapping of ranges to agents like {example}, got {value!r}"
        )
        return []
    out = []
    for text, agents in value.items():
        span = _check(_range, text, f"{where}.{text}", problems)
        count = _check(_agents, agents, f"{where}.{text}", problems)
        if span is not None and count is not None:
            out.append((*span, count))
    return out


def _range(value: object) -> Range:
    """``"08:00-17:00"`` -> ``(28800, 61200)``; ``24:00`` ends a range at midnight."""
    match = _RANGE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a range like 08:00-17:00, got {value!r}")
    h1, m1, h2, m2 = map(int, match.groups())
    for hour, minute in ((h1, m1), (h2, m2)):
        if minute > 59 or hour > 24 or (hour == 24 and minute):
            raise ValueError(f"{hour:02}:{minute:02} is not a time of day (00:00 to 24:00)")
    start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
    if start == DAY:
        raise ValueError("24:00 can only end a range")
    if end == start:
        raise ValueError(f"range {_text(start, end)} is empty")
    if end < start:
        raise ValueError(
            f"range {_text(start, end)} ends before it starts; split one past midnight"
            f" at 24:00: {_text(start, DAY)} and {_text(0, end)} the next day"
        )
    return start, end


def _agents(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of agents, 0 or more, got {value!r}")
    return value


def _text(start: int, end: int) -> str:
    return "-".join(f"{t // 3600:02}:{t % 3600 // 60:02}" for t in (start, end))


def _overlaps(entries: list[_Entry], name: str, problems: list[str]) -> None:
    """One line per overlapping pair of ranges, naming the days where keys differ."""
    pairs: dict[tuple[str, Range, str, Range], list[str]] = {}
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            if a.day == b.day and a.shift[0] < b.shift[1] and b.shift[0] < a.shift[1]:
                pair = (a.key, a.shift[:2], b.key, b.shift[:2])
                pairs.setdefault(pair, []).append(_DAYS[a.day])
    for (key_a, span_a, key_b, span_b), days in pairs.items():
        first, second = _text(*span_a), _text(*span_b)
        if key_a == key_b:
            problems.append(f"{name}.{key_a}: ranges {first} and {second} overlap")
        else:
            problems.append(
                f"{name}.{key_b}: range {second} overlaps {first} of {key_a} on {', '.join(days)}"
            )


def _closed(value: object, name: str, problems: list[str]) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        problems.append(f"{name}: expected a list of dates like [2026-12-24], got {value!r}")
        return frozenset()
    days = [_check(parse_date, item, f"{name}[{i}]", problems) for i, item in enumerate(value)]
    return frozenset(d for d in days if d is not None)


def parse_date(value: object) -> date:
    """``"2026-12-24"`` as the config loader hands it, or a ``date`` as YAML reads it."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2026-12-24, got {value!r}")


def is_open(schedule: Schedule | None, instant: float) -> bool:
    """Whether the center is open at ``instant``; always without a schedule."""
    return _state(schedule, instant)[0]


def required_agents(schedule: Schedule | None, instant: float) -> int:
    """Agents the plan requires at ``instant``: 0 while closed or where no range matches."""
    return _state(schedule, instant)[1]


def _state(schedule: Schedule | None, instant: float) -> tuple[bool, int]:
    if schedule is None:
        return True, 0
    day, second = wall_clock(schedule.zone, instant)
    weekday = day.weekday()
    if day in schedule.closed or not any(s <= second < e for s, e in schedule.hours[weekday]):
        return False, 0
    return True, next((n for s, e, n in _plan(schedule, weekday) if s <= second < e), 0)


def _plan(schedule: Schedule, weekday: int) -> tuple[Shift, ...]:
    return () if schedule.staffing is None else schedule.staffing[weekday]


def next_change(schedule: Schedule | None, instant: float) -> int | None:
    """The first second after ``instant`` at which ``is_open`` or ``required_agents`` differ
    from their values at ``instant``; ``None`` if they never will (no schedule, or a plan
    that never changes)."""
    if schedule is None:
        return None
    now = _state(schedule, instant)
    day = wall_clock(schedule.zone, instant)[0]
    # After the last holiday the week repeats; two weeks see every weekday on a day that
    # has no DST change, whose skipped hour might hide a range.
    last = max([day, *schedule.closed]) + timedelta(days=14)
    while day <= last:
        for moment in _moments(schedule, day):
            if moment > instant and _state(schedule, moment) != now:
                return moment
        day += timedelta(days=1)
    return None


def _moments(schedule: Schedule, day: date) -> list[int]:
    """The seconds of local ``day`` at which the state may change, in order: the day's
    start, each change of UTC offset, and each range's start and end as the clock shows it."""
    zone, weekday = schedule.zone, day.weekday()
    marks = {t for span in schedule.hours[weekday] for t in span}
    marks.update(t for shift in _plan(schedule, weekday) for t in shift[:2])
    start, end = day_bounds(zone, day)
    cuts = [start, *offset_changes(zone, start, end), end]
    midnight = utc_midnight(day)
    moments = set(cuts[:-1])
    for a, b in pairwise(cuts):
        offset = utc_offset(zone, a)
        moments.update(m for t in marks if a <= (m := midnight + t - offset) < b)
    return sorted(moments)
