"""One agent's working day as logio records: a shift with breaks, lunch and the odd slip.

Pure and deterministic: the random generator is passed in, seeded per (agent, day) by the
scenario, so any day of any agent can be generated alone, in any order, and always comes
out the same. A shift begins within its own UTC day; one that begins late runs past
midnight into the next day, never further.

Each agent has one day off a week. A working day is a Login, then 13 to 19 breaks (short
ones, two coffee breaks and lunch), each a Logout followed by a Login, then a final Logout:
28 to 40 records. Now and then an agent forgets to log out (the next Login comes while
logged in), sends a stray Logout while away, or double-clicks one (two identical records).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Callable
from typing import NamedTuple, cast

from exporter.core.records import LOGIN, LOGOUT, Record

Draw = Callable[[], float]
"""A seeded generator's ``random`` method: a float in ``[0, 1)`` per call."""

DAY = 86400
ABSENT = 0.03
"""Chance that an agent misses a working day: sick, on leave."""
FORGOT_END_LOGOUT = 0.03
FORGOT_BREAK_LOGOUT = 0.03
STRAY_LOGOUT = 0.02
DOUBLE_LOGOUT = 0.01
"""Chance of a second, identical Logout in the same second: a double click."""

_QUARTERS = 96
_PEAK_HOUR = 9.0


class Roster(NamedTuple):
    """When one agent works: a shift start after UTC midnight and a weekly day off."""

    shift_start: int
    rest_day: int
    """Days since the epoch modulo 7 on which the agent is off."""


def rosters(count: int, rng: random.Random) -> list[Roster]:
    """One roster per agent; shift starts spread over the whole day.

    Starts are quantiles of a density that peaks in the morning but never drops below a
    fifth of its mean, so every hour of the day is staffed, as in a 24/7 center.
    """
    cumulative = _cumulative_start_weights()
    starts = [_quantile(cumulative, (index + 0.5) / count) for index in range(count)]
    rng.shuffle(starts)
    return [Roster(start, rng.randrange(7)) for start in starts]


def _cumulative_start_weights() -> list[float]:
    total, out = 0.0, []
    for quarter in range(_QUARTERS):
        hours = quarter / 4 - _PEAK_HOUR
        total += 1.0 + 0.8 * math.cos(2 * math.pi * hours / 24)
        out.append(total)
    return [value / total for value in out]


def _quantile(cumulative: list[float], fraction: float) -> int:
    return bisect.bisect_left(cumulative, fraction) * 900


def day_records(name: str, day: int, roster: Roster, rng: random.Random) -> list[Record]:
    """The records of the shift that ``name`` starts on ``day`` (days since the epoch)."""
    draw = rng.random  # one bound method: this runs for every agent on every day
    if day % 7 == roster.rest_day or draw() < ABSENT:
        return []
    start = day * DAY + roster.shift_start + _between(draw, 0, 899)  # within its own day
    stamps = _shift_stamps(start, _between(draw, 8 * 3600, 9 * 3600 + 1800), draw)
    records = _as_records(name, stamps)
    _slip_up(records, draw)
    return records


def _shift_stamps(start: int, length: int, draw: Draw) -> list[int]:
    """Login, Logout, Login, ...: work spans of random weight alternating with breaks."""
    breaks = _breaks(draw)
    weights = [draw() + 0.5 for _ in range(len(breaks) + 1)]
    scale = (length - sum(breaks)) / sum(weights)
    spans: list[float] = [0.0] * (2 * len(breaks) + 1)
    spans[0::2] = [weight * scale for weight in weights]
    spans[1::2] = breaks
    return list(map(round, itertools.accumulate(spans, initial=start)))


def _breaks(draw: Draw) -> list[int]:
    """Break lengths in the order taken: short ones of 1 to 8 minutes, with coffee (10 to 20
    minutes) a quarter and three quarters in and lunch (30 to 60 minutes) midway."""
    breaks = [60 + int(draw() * 421) for _ in range(_between(draw, 10, 16))]
    quarter = len(breaks) // 4
    breaks.insert(3 * quarter, _between(draw, 600, 1200))  # from the back: indexes hold
    breaks.insert(2 * quarter, _between(draw, 1800, 3600))
    breaks.insert(quarter, _between(draw, 600, 1200))
    return breaks


def _as_records(name: str, stamps: list[int]) -> list[Record]:
    """``Record(name, stamp, action)`` for alternating actions, built without a Python call
    per record: the same ``tuple.__new__`` the NamedTuple's constructor ends in."""
    rows = zip(itertools.repeat(name), stamps, itertools.cycle((LOGIN, LOGOUT)))
    return cast(list[Record], list(map(tuple.__new__, itertools.repeat(Record), rows)))


def _slip_up(records: list[Record], draw: Draw) -> None:
    """Human error, in place: forgotten Logouts, a stray Logout, a double-clicked one."""
    if draw() < FORGOT_BREAK_LOGOUT:
        del records[2 * _between(draw, 0, len(records) // 2 - 2) + 1]
    if draw() < STRAY_LOGOUT:
        gaps = _breaks_taken(records)
        at = gaps[_between(draw, 0, len(gaps) - 1)]
        stamp = _between(draw, records[at].timestamp, records[at + 1].timestamp)
        records.insert(at + 1, records[at]._replace(timestamp=stamp))
    if draw() < FORGOT_END_LOGOUT:
        records.pop()
    elif draw() < DOUBLE_LOGOUT:
        records.append(records[-1])


def _breaks_taken(records: list[Record]) -> list[int]:
    """Indexes of the Logouts that a Login follows: the agent is away until the next."""
    pairs = itertools.pairwise(records)
    return [index for index, (a, b) in enumerate(pairs) if (a.action, b.action) == (LOGOUT, LOGIN)]


def _between(draw: Draw, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]``; ``randint`` costs several times more."""
    return low + int(draw() * (high - low + 1))
