"""Which time windows to ask for, and which records of an answer are new.

Pure. The logio API has no stable record id (``id`` is a running number within one
response), so each poll re-reads ``overlap`` seconds it has already seen and a record is
recognised by ``(name, timestamp, action)``. Two identical records in one second are
possible, so the seen records are a multiset: an answer holding a record three times,
after two were seen, brings one new.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import compress, repeat
from operator import gt, itemgetter, lt
from typing import Any, NamedTuple

from exporter.core.records import Batch, Parsed, Record, Row

Window = tuple[int, int]

_timestamp = itemgetter(1)
"""A record's timestamp, or a row's: ``Record`` is a tuple."""


def reread_from(window_end: int, overlap: float) -> int:
    """The first second the window after one ending at ``window_end`` asks for again.

    A window is inclusive at both ends, so what is stamped exactly there is read twice:

    >>> reread_from(1000, 600)
    400
    """
    return window_end - int(overlap)


def plan_windows(
    watermark: int | None, now: float, *, overlap: float, lookback: float, max_window: float
) -> list[Window]:
    """Inclusive ``(from, to)`` windows from before the watermark up to ``now``.

    >>> plan_windows(None, 1000, overlap=10, lookback=250, max_window=100)
    [(750, 850), (850, 950), (950, 1000)]
    >>> plan_windows(990, 1000, overlap=10, lookback=250, max_window=100)
    [(980, 1000)]
    """
    to = int(now)
    start = to - int(lookback) if watermark is None else reread_from(watermark, overlap)
    start = max(0, min(start, to))
    step = max(1, int(max_window))
    windows = []
    while True:
        end = min(start + step, to)
        windows.append((start, end))
        if end >= to:
            return windows
        start = end


class Taken(NamedTuple):
    """What one window brings that no earlier window did."""

    records: Batch
    """The new records, in application order (time order), without invalid rows."""
    new: int
    """How many they are."""
    invalid: int
    """How many of its invalid rows are new."""


class Overlap:
    """What applied windows hold that a later window may return again.

    ``records``: each valid record with how often it was seen, until its timestamp falls
    before the next window. ``rows``: each invalid row's text (it has no timestamp to
    trust) with how often it was seen and the end of the last window that held it.

    A window ending at 1000 and the next, which reads again from 400:

    >>> overlap = Overlap()
    >>> first = Batch(["ann", "ann"], [399, 400], ["Login", "Logout"], ["bad row"])
    >>> new, count, invalid = overlap.take(first, 1000, 600)
    >>> list(new.rows()), count, invalid
    ([('ann', 399, 'Login'), ('ann', 400, 'Logout')], 2, 1)
    >>> overlap.records
    {Record(name='ann', timestamp=400, action='Logout'): 1}
    >>> second = Batch(["ann", "bob"], [400, 1010], ["Logout", "Login"], ["bad row"])
    >>> new, count, invalid = overlap.take(second, 1030, 600)
    >>> list(new.rows()), count, invalid
    ([('bob', 1010, 'Login')], 1, 0)
    """

    __slots__ = ("_records", "_tail", "rows")

    def __init__(
        self,
        records: Iterable[tuple[Record, int]] = (),
        rows: Iterable[tuple[str, int, int]] = (),
    ) -> None:
        self._records: dict[Record, int] = dict(records)
        self._tail: Batch | None = None
        """The last window's records from its ``keep_from`` on, not yet remembered: the
        next window remembers only those it may return again, so the initial lookback,
        whose pieces each start where the last ended, makes no record of the rest."""
        self.rows: dict[str, tuple[int, int]] = {row: (n, until) for row, n, until in rows}

    @property
    def records(self) -> dict[Record, int]:
        """Each record held with how often it was seen."""
        self._settle(0)
        return self._records

    def to_dict(self) -> dict[str, list[list[Any]]]:
        """``{"records": [[name, timestamp, action, count], ...], "rows": [[text, count,
        until], ...]}``: plain data for the state file."""
        return {
            "records": [[*record, n] for record, n in self.records.items()],
            "rows": [[row, n, until] for row, (n, until) in self.rows.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Iterable[Sequence[Any]]]) -> Overlap:
        records = ((Record(str(n), int(t), str(a)), int(c)) for n, t, a, c in data["records"])
        rows = ((str(row), int(n), int(until)) for row, n, until in data["rows"])
        return cls(records, rows)

    def take(self, batch: Batch, window_end: int, overlap: float) -> Taken:
        """What is new in one window's ``batch``, now remembered; and what no later window
        returns forgotten.

        ``batch`` holds every answer of the window in application order (time order).
        """
        keep_from = reread_from(window_end, overlap)
        head, split = self.new_records(batch, keep_from)
        invalid = self._new_rows(batch.invalid, window_end, keep_from)
        new = len(head) + len(batch.timestamps) - split
        return Taken(_joined(head, batch, split), new, invalid)

    def new_records(self, batch: Batch, keep_from: int) -> tuple[list[Record], int]:
        """The new records of ``batch[:split]`` and ``split``, for a batch in time order:
        every record from ``split`` on is new, as none is older than the newest remembered.

        That takes time proportional to what ``records`` may match rather than to the
        whole batch, which matters for a day of a large contact center; and a record
        older than ``keep_from`` is forgotten at once, so it is never remembered at all.
        """
        stamps = batch.timestamps
        self._settle(min(stamps[0], keep_from) if stamps else keep_from)
        seen = self._records
        newest = max(map(_timestamp, seen), default=None)
        split = 0 if newest is None else bisect_right(stamps, newest)
        fresh = self._fresh_head(batch, split)
        for key in list(compress(seen, map(lt, map(_timestamp, seen), repeat(keep_from)))):
            del seen[key]
        start = bisect_left(stamps, keep_from)
        self._tail = Batch(batch.names[start:], stamps[start:], batch.actions[start:], [])
        return fresh, split

    def _settle(self, since: int) -> None:
        """Remember the last window's records from ``since`` on; forget the rest of them,
        which no later window returns."""
        tail, self._tail = self._tail, None
        if tail is not None:
            self._remember(tail, bisect_left(tail.timestamps, since))

    def _fresh_head(self, batch: Batch, split: int) -> list[Record]:
        """The new records of ``batch[:split]``. A steady poll re-reads records seen as
        often, which counting its rows in C tells, so the records are only made and the
        record-by-record rule only runs when one of them is new."""
        if not split or not any(self._more_than_seen(Counter(batch.rows(0, split)))):
            return []
        seen, occurrences, fresh = self._records, Counter[Record](), []
        for record in batch.records(0, split):
            occurrences[record] += 1
            if occurrences[record] > seen.get(record, 0):
                fresh.append(record)
        return fresh

    def _remember(self, batch: Batch, start: int) -> None:
        """Hold the count of each record from ``start`` on where more than already held;
        only those become ``Record`` objects."""
        counts = Counter(batch.rows(start))
        more = compress(counts.items(), self._more_than_seen(counts))
        self._records.update((Record._make(row), count) for row, count in more)

    def _more_than_seen(self, counts: Counter[Row]) -> Iterator[bool]:
        """For each row counted, whether it was counted more often than seen.

        A row is a plain tuple, equal to the ``Record`` of the same values and of the
        same hash, so it finds that record in ``records``."""
        return map(gt, counts.values(), map(self._records.get, counts, repeat(0)))  # type: ignore[arg-type]

    def _new_rows(self, rows: list[str], window_end: int, keep_from: int) -> int:
        """How many of ``rows`` are new; each is now held until ``window_end``."""
        held, new = self.rows, 0
        for row, count in Counter(rows).items():
            seen = held.get(row, (0, 0))[0]
            new += max(0, count - seen)
            held[row] = (max(count, seen), window_end)
        for row in [row for row, (_, until) in held.items() if until < keep_from]:
            del held[row]
        return new


def _joined(head: list[Record], batch: Batch, split: int) -> Batch:
    """``head`` and ``batch[split:]`` as one batch; when no record of ``batch`` may have
    been seen before (``split`` 0), its own lists, none copied."""
    if not head and not split:
        return batch._replace(invalid=[])
    first = Batch.of(Parsed(head, []))
    return Batch(
        first.names + batch.names[split:],
        first.timestamps + batch.timestamps[split:],
        first.actions + batch.actions[split:],
        [],
    )
