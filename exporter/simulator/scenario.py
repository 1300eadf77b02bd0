"""A contact center's login and logout history, generated lazily and deterministically.

Pure: no sockets and no clock; every question carries the ``now`` it is asked at. Each
(agent, day) is generated on first use from its own seeded generator and cached, and the
records of each UTC day are merged once into a time-ordered bucket, so a window query is a
few slices of cached lists:

>>> scenario = Scenario(start=1_700_000_000, agents=5, live=False)
>>> len(scenario.records(1_699_900_000, 1_700_000_000, now=1_700_000_000)) > 0
True

Records after ``start`` exist only when the scenario is ``live``, and a record is visible
once ``timestamp <= now``. Tests add hand-made records with ``inject``. The ground-truth
helpers answer from the records alone, with deliberately simple logic of their own.
"""

from __future__ import annotations

import bisect
import math
import operator
import random
import threading
from collections import Counter
from typing import NamedTuple

from exporter.core.records import LOGIN, Record
from exporter.simulator.names import agent_names
from exporter.simulator.shifts import DAY, day_records, rosters

WEEK = 7 * DAY


class _Injected(NamedTuple):
    record: Record
    visible_at: float


_timestamp = operator.attrgetter("timestamp")


class Scenario:
    """The simulated logio history of ``agents`` agents, the same for the same ``seed``.

    History covers ``[start - lookback, start]``; a ``live`` scenario goes on after
    ``start`` as ``now`` advances. Safe to query from several threads at once.
    """

    def __init__(
        self,
        *,
        start: int,
        agents: int = 50,
        seed: int = 1,
        lookback: int = WEEK,
        live: bool = True,
    ) -> None:
        if agents < 0 or lookback < 0 or start < 0:
            raise ValueError("agents, lookback and start must not be negative")
        self.start, self.seed, self.lookback, self.live = start, seed, lookback, live
        self._names = agent_names(agents, seed)
        self._index = {name: index for index, name in enumerate(self._names)}
        self._rosters = rosters(agents, random.Random(seed))
        self._lock = threading.Lock()
        self._days: dict[tuple[int, int], list[Record]] = {}
        self._buckets: dict[int, list[Record]] = {}
        self._injected: list[_Injected] = []

    def agent_names(self) -> list[str]:
        """Every agent's login name, in generation order."""
        return list(self._names)

    def inject(self, record: Record, *, visible_at: float | None = None) -> None:
        """Add a hand-made record, visible from ``visible_at`` (default: its timestamp)."""
        shown = record.timestamp if visible_at is None else visible_at
        with self._lock:
            self._injected.append(_Injected(record, shown))

    def records(self, frm: int, to: int, now: float, name: str | None = None) -> list[Record]:
        """Records with ``frm <= timestamp <= to`` visible at ``now``, in the API's order.

        The order is (timestamp, generation order); injected records follow generated
        ones of the same second, in the order they were injected.
        """
        generated = self._generated(frm, to, now, name)
        extra = self._visible_injected(frm, to, now, name)
        if not extra:
            return generated
        return sorted(generated + extra, key=_timestamp)  # stable: keeps generation order

    # Ground truth, from the records alone.

    def logged_in_at(self, at: float) -> set[str]:
        """Agents whose last record at or before ``at`` is a Login."""
        last: dict[str, str] = {}
        for record in self.records(0, math.floor(at), now=at):
            last[record.name] = record.action
        return {name for name, action in last.items() if action == LOGIN}

    def count(
        self, action: str, frm: int, to: int, name: str | None = None, *, now: float | None = None
    ) -> int:
        """How many ``action`` records lie in ``[frm, to]``, as seen at ``now`` (default ``to``)."""
        seen = self.records(frm, to, to if now is None else now, name)
        return sum(1 for record in seen if record.action == action)

    def count_by_agent(
        self, action: str, frm: int, to: int, *, now: float | None = None
    ) -> Counter[str]:
        """Per agent, how many ``action`` records lie in ``[frm, to]``, as seen at ``now``."""
        seen = self.records(frm, to, to if now is None else now)
        return Counter(record.name for record in seen if record.action == action)

    # Generation and caching.

    def _generated(self, frm: int, to: int, now: float, name: str | None) -> list[Record]:
        """Generated records in the window, clipped to what exists and is visible."""
        low = max(frm, self.start - self.lookback, 0)
        high = min(to, math.floor(now), to if self.live else self.start)
        if low > high:
            return []
        if name is None:
            return self._all_agents(low, high)
        agent = self._index.get(name)
        return [] if agent is None else self._one_agent(agent, low, high)

    def _all_agents(self, low: int, high: int) -> list[Record]:
        first, last = low // DAY, high // DAY
        out: list[Record] = []
        for day in range(first, last + 1):
            bucket = self._bucket(day)
            begin = bisect.bisect_left(bucket, low, key=_timestamp) if day == first else 0
            end = bisect.bisect_right(bucket, high, key=_timestamp) if day == last else None
            out.extend(bucket[begin:end] if begin or end is not None else bucket)
        return out

    def _one_agent(self, agent: int, low: int, high: int) -> list[Record]:
        """An agent's shifts never overlap, so their concatenation is already in order."""
        with self._lock:
            shifts = [self._day(agent, day) for day in range(low // DAY - 1, high // DAY + 1)]
        merged = [record for shift in shifts for record in shift]
        begin = bisect.bisect_left(merged, low, key=_timestamp)
        return merged[begin : bisect.bisect_right(merged, high, key=_timestamp)]

    def _bucket(self, day: int) -> list[Record]:
        """All records timed within UTC ``day``: from shifts begun that day or the day before."""
        with self._lock:
            bucket = self._buckets.get(day)
            if bucket is None:
                bucket = self._buckets[day] = self._merge_day(day)
            return bucket

    def _merge_day(self, day: int) -> list[Record]:
        """Yesterday's shifts from midnight on, then today's up to midnight, by time."""
        midnight, next_midnight = day * DAY, (day + 1) * DAY
        records: list[Record] = []
        for agent in range(len(self._names)):
            late = self._day(agent, day - 1)
            records.extend(late[bisect.bisect_left(late, midnight, key=_timestamp) :])
        for agent in range(len(self._names)):
            shift = self._day(agent, day)
            records.extend(shift[: bisect.bisect_left(shift, next_midnight, key=_timestamp)])
        records.sort(key=_timestamp)
        return records

    def _day(self, agent: int, day: int) -> list[Record]:
        """The cached shift ``agent`` starts on ``day``; the caller holds the lock."""
        key = (agent, day)
        shift = self._days.get(key)
        if shift is None:
            rng = random.Random(_day_seed(self.seed, agent, day))
            shift = day_records(self._names[agent], day, self._rosters[agent], rng)
            self._days[key] = shift
        return shift

    def _visible_injected(self, frm: int, to: int, now: float, name: str | None) -> list[Record]:
        with self._lock:
            injected = list(self._injected)
        return [
            item.record
            for item in injected
            if frm <= item.record.timestamp <= to
            and item.visible_at <= now
            and (name is None or item.record.name == name)
        ]


def _day_seed(seed: int, agent: int, day: int) -> int:
    """One integer per (seed, agent, day): ``random.Random`` takes no tuples."""
    return ((seed & (2**64 - 1)) << 64) | ((agent & (2**32 - 1)) << 32) | (day & (2**32 - 1))
