"""Which time windows to ask for, and which records of an answer are new.

Pure. The logio API has no stable record id (``id`` is a running number within one
response), so each poll re-reads ``overlap`` seconds it has already seen and a record is
recognised by ``(name, timestamp, action)``. Two identical records in one second are
possible, so the seen records are a multiset: an answer holding a record three times,
after two were seen, brings one new.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from exporter.records import Record

Window = tuple[int, int]
K = TypeVar("K")


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
