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
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from operator import gt, itemgetter, lt
from typing import Generic, TypeVar

from exporter.core.records import Batch, Record, Row

Window = tuple[int, int]
K = TypeVar("K")

_timestamp = itemgetter(1)
"""A record's timestamp, or a row's: ``Record`` is a tuple."""


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
    start = to - int(lookback) if watermark is None else watermark - int(overlap)
    start = max(0, min(start, to))
    step = max(1, int(max_window))
    windows = []
    while True:
        end = min(start + step, to)
        windows.append((start, end))
        if end >= to:
            return windows
        start = end


class Dedup(Generic[K]):
    """The multiset of keys already applied that a later window may read again."""

    def __init__(self, seen: Iterable[tuple[K, int]] = ()) -> None:
        self.seen: dict[K, int] = dict(seen)

    def fresh(self, keys: Iterable[K], window_end: int) -> list[K]:
        """The keys not seen before, in their order, now remembered as seen."""
        occurrences: dict[K, int] = {}
        out = []
        seen = self.seen
        for key in keys:
            n = occurrences.get(key, 0) + 1
            occurrences[key] = n
            if n > seen.get(key, 0):
                out.append(key)
        for key, n in occurrences.items():
            if n > seen.get(key, 0):
                seen[key] = n
        self._saw(occurrences, window_end)
        return out

    def trim(self, before: int) -> None:
        """Forget keys that no window starting at ``before`` or later can return."""
        for key in [key for key in self.seen if self._horizon(key) < before]:
            self._forget(key)

    def _saw(self, keys: Iterable[K], window_end: int) -> None:
        """Hook: remember where keys were seen, for keys that carry no timestamp."""

    def _horizon(self, key: K) -> int:
        raise NotImplementedError

    def _forget(self, key: K) -> None:
        del self.seen[key]


class RecordDedup(Dedup[Record]):
    """Valid records carry their timestamp, the latest a window must reach to return them."""

    def fresh_in_order(
        self, batch: Batch, window_end: int, keep_from: int
    ) -> tuple[list[Record], int]:
        """``fresh`` then ``trim(keep_from)``, for a batch in time order.

        Returns the new records of ``batch[:split]`` and ``split``: every record from
        there on is new, as none is older than the newest remembered one. That takes
        time proportional to what ``seen`` may match rather than to the whole batch,
        which matters for a day of a large contact center; and a record older than
        ``keep_from`` is forgotten at once, so it is never remembered at all.
        """
        stamps = batch.timestamps
        newest = max(map(_timestamp, self.seen), default=None)
        split = 0 if newest is None else bisect_right(stamps, newest)
        fresh = self._fresh_head(batch, split, window_end)
        self._remember(batch, bisect_left(stamps, keep_from))
        self.trim(keep_from)
        return fresh, split

    def trim(self, before: int) -> None:
        """As ``Dedup.trim``, without Python work for each record kept."""
        seen = self.seen
        for key in list(compress(seen, map(lt, map(_timestamp, seen), repeat(before)))):
            del seen[key]

    def _fresh_head(self, batch: Batch, split: int, window_end: int) -> list[Record]:
        """``fresh(batch.records(0, split))``. A steady poll re-reads records seen as
        often, which counting its rows in C tells, so the records are only made and the
        record-by-record rules only run when one of them is new."""
        if not split or not any(self._more_than_seen(Counter(batch.rows(0, split)))):
            return []
        return self.fresh(batch.records(0, split), window_end)

    def _remember(self, batch: Batch, start: int) -> None:
        """Hold the count of each record from ``start`` on, as ``fresh`` does, where more
        than already held; only those become ``Record`` objects."""
        counts = Counter(batch.rows(start))
        more = compress(counts.items(), self._more_than_seen(counts))
        self.seen.update((Record._make(row), count) for row, count in more)

    def _more_than_seen(self, counts: Counter[Row]) -> Iterator[bool]:
        """For each row counted, whether it was counted more often than seen.

        A row is a plain tuple, equal to the ``Record`` of the same values and of the
        same hash, so it finds that record in ``seen``."""
        return map(gt, counts.values(), map(self.seen.get, counts, repeat(0)))  # type: ignore[arg-type]

    def _horizon(self, key: Record) -> int:
        return key.timestamp


class RowDedup(Dedup[str]):
    """Invalid rows have no trusted timestamp; the end of the last window holding one bounds it."""

    def __init__(self, seen: Iterable[tuple[str, int]] = ()) -> None:
        super().__init__(seen)
        self.until: dict[str, int] = {}

    def _saw(self, keys: Iterable[str], window_end: int) -> None:
        for key in keys:
            self.until[key] = window_end

    def _horizon(self, key: str) -> int:
        return self.until.get(key, 0)

    def _forget(self, key: str) -> None:
        super()._forget(key)
        self.until.pop(key, None)
