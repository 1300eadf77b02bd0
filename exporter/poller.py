"""One workspace's poll loop: windows -> read -> ``state.apply_window``, with backoff.

A poll asks for every window from ``overlap`` before the watermark up to now, at most
``max_window`` wide each, and the reader reads each in pieces small enough to parse at
once. A piece is applied whole or not at all: all of its answers (one per agent when
``agents`` filters) are fetched and parsed before the state changes, and the watermark
moves to the piece's end only once it is applied. A failure leaves the watermark where
it was, so the next poll asks again from there and loses nothing. After a poll of
several pieces (the initial lookback, a catch-up) the heap's free pages go back to the
system.
What a poll's outcome changes is the state's to decide; here are the loop and the logs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from exporter import heap
from exporter.config import MetricsConfig, PollConfig, WorkspaceConfig
from exporter.core.window import plan_windows
from exporter.errors import LogioError, RateLimitedError
from exporter.logio import Fetcher
from exporter.logs import fields
from exporter.reader import Reader
from exporter.state import WorkspaceState

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 3600.0


class Poller:
    """Keeps one ``WorkspaceState`` up to date from the logio API."""

    def __init__(
        self,
        workspace: WorkspaceConfig,
        poll: PollConfig,
        metrics: MetricsConfig,
        state: WorkspaceState,
        client: Fetcher,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.workspace = workspace
        self.poll = poll
        self.metrics = metrics
        self.state = state
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random()
        self.failures = 0
        self.next_forget = 0.0
        self.halted = threading.Event()
        self.names: dict[str, str] = {}
        """Agent names accepted so far, shared by every parse: checked once, held once."""
        self.reader = Reader(workspace, self.names)

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; a failed poll never ends the loop."""
        self.halted = stop
        while not stop.is_set():
            try:
                delay = self.poll_once()
            except Exception:  # a boundary: one broken poll must not end the workspace
                log.exception(
                    "poll failed unexpectedly", extra=fields(workspace=self.workspace.workspace)
                )
                self.state.poll_broke()
                delay = self.poll.interval
            stop.wait(delay)

    def poll_once(self) -> float:
        """Catch up to now; return the seconds to wait before the next poll."""
        now = self.clock()
        try:
            caught_up = self._catch_up(now)
        except LogioError as exc:
            return self._failed(exc)
        return self._succeeded(now) if caught_up else 0.0

    def _catch_up(self, now: float) -> bool:
        """Apply each window up to ``now``; False if stopped or replaced by a reload
        meanwhile, and then the poll neither succeeded nor failed."""
        windows = plan_windows(
            self.state.watermark,
            now,
            overlap=self.poll.overlap,
            lookback=self.poll.lookback,
            max_window=self.poll.max_window,
        )
        self.state.lookback_until(now)
        applied = 0
        for window in windows:
            for end, batch in self.reader.pieces(self.client, window):
                if self.halted.is_set():
                    return False
                self.state.apply_window(batch, end, self.poll.overlap)
                del batch  # before the next piece is read
                applied += 1
        if applied > 1:
            heap.release()
        return True

    def _succeeded(self, now: float) -> float:
        recovered, forgotten = self.state.poll_succeeded(now, self._forget_before(now))
        for name in forgotten:
            self.names.pop(name, None)
        if forgotten:
            log.info(
                "forgot idle agents",
                extra=fields(workspace=self.workspace.workspace, agents=len(forgotten)),
            )
        if recovered:
            log.info("logio poll succeeded", extra=fields(workspace=self.workspace.workspace))
        self.failures = 0
        return self.poll.interval

    def _forget_before(self, now: float) -> float | None:
        """When idle agents are forgotten from: a scan of every agent, so at most once per
        tenth of ``forget_agent_after`` (and once an hour); None when not due."""
        if now < self.next_forget:
            return None
        limit = self.metrics.forget_agent_after
        self.next_forget = now + min(limit / 10, 3600.0)
        return now - limit

    def _failed(self, exc: LogioError) -> float:
        """Log at ERROR once per change of state (the first failure, another reason),
        and at DEBUG while the same failure goes on."""
        changed = self.state.poll_failed(exc.reason)
        self.failures += 1
        log.log(
            logging.ERROR if changed else logging.DEBUG,
            "logio poll failed",
            extra=fields(workspace=self.workspace.workspace, reason=exc.reason, error=str(exc)),
        )
        return self._delay(exc)

    def _delay(self, exc: LogioError) -> float:
        """Retry-After when the API gives one; else exponential backoff with jitter."""
        interval = self.poll.interval
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(max(exc.retry_after, interval), MAX_RETRY_AFTER)
        cap = max(interval, min(300.0, 10 * interval))
        backoff = min(cap, interval * 2 ** min(self.failures - 1, 16))
        return float(backoff * self.rng.uniform(0.8, 1.2))
