"""Concurrent scrapes share renders: while one renders, those arriving meanwhile share the next.

Rendering the exposition is CPU work under the GIL, so twenty scrapes rendering at once
take about twenty times as long as one. Here a scrape that finds a render of its format
(content type and compression) under way waits for the next one, which starts as soon as
the running one ends and answers everyone who waited. A scrape therefore never gets state
older than its own arrival, waits at most two renders, and twenty scrapers cost about two
renders instead of twenty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


class RenderFailed(RuntimeError):
    """The shared render that this scrape waited for raised."""


@dataclass
class _Render:
    done: threading.Event = field(default_factory=threading.Event)
    body: bytes = b""
    error: BaseException | None = None
    waiting: int = 1

    def result(self) -> bytes:
        self.done.wait()
        if self.error is not None:
            raise RenderFailed(f"the shared render failed: {self.error!r}") from self.error
        return self.body


@dataclass
class _Lane:
    running: _Render | None = None
    queued: _Render | None = None


class SharedRenders:
    """Renders by key, one at a time per key, each answering every caller that waited for it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._lanes: dict[Hashable, _Lane] = {}

    def render(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """``make()``, or the bytes of the next render of ``key`` if one is under way."""
        render, leads = self._join(key)
        if not leads:
            return render.result()
        try:
            render.body = make()
        except BaseException as exc:
            render.error = exc
            raise
        finally:
            with self._changed:  # hand over to those queued meanwhile, before any newcomer
                lane = self._lanes[key]
                lane.running, lane.queued = lane.queued, None
                self._changed.notify_all()
            render.done.set()
        return render.body

    def waiting(self) -> int:
        """How many callers wait for a next render, of any key."""
        with self._changed:
            return sum(lane.queued.waiting for lane in self._lanes.values() if lane.queued)

    def _join(self, key: Hashable) -> tuple[_Render, bool]:
        """The render this caller gets, and whether it is the one to run it."""
        with self._changed:
            lane = self._lanes.setdefault(key, _Lane())
            if lane.running is None:
                lane.running = _Render()
                return lane.running, True
            if lane.queued is not None:
                lane.queued.waiting += 1
                return lane.queued, False
            render = lane.queued = _Render()
            while lane.running is not render:
                self._changed.wait()
            return render, True
