"""One workspace's poll loop: windows -> fetch -> parse -> apply, with backoff.

A poll asks for every window from ``overlap`` before the watermark up to now, at most
``max_window`` wide each. A window is applied whole or not at all: all of its answers
(one per agent when ``agents`` filters) are fetched and parsed before the state changes,
and the watermark moves to the window's end only once it is applied. A failure leaves
the watermark where it was, so the next poll asks again from there and loses nothing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from exporter.config import MetricsConfig, PollConfig, WorkspaceConfig
from exporter.core.records import Batch
from exporter.core.window import plan_windows
from exporter.errors import LogioError, RateLimitedError
from exporter.logio import Fetcher
from exporter.reader import read_window
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
        on_success: Callable[[], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.poll = poll
        self.metrics = metrics
        self.state = state
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_success = on_success
        self.failures = 0
        self.next_forget = 0.0
        self.halted = threading.Event()
        self.names: dict[str, str] = {}
        """Agent names accepted so far, shared by every parse: checked once, held once."""

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; a failed poll never ends the loop."""
        self.halted = stop
        while not stop.is_set():
            try:
                delay = self.poll_once()
            except Exception:  # a boundary: one broken poll must not end the workspace
                log.exception("workspace=%s poll failed unexpectedly", self.workspace.workspace)
                with self.state.lock:
                    self.state.health.up = False
                delay = self.poll.interval
            stop.wait(delay)

    def poll_once(self) -> float:
        """Catch up to now; return the seconds to wait before the next poll."""
        now = self.clock()
        try:
            self._catch_up(now)
        except LogioError as exc:
            return self._failed(exc)
        return self._succeeded(now)

    def _catch_up(self, now: float) -> None:
        windows = plan_windows(
            self.state.watermark,
            now,
            overlap=self.poll.overlap,
            lookback=self.poll.lookback,
            max_window=self.poll.max_window,
        )
        for window in windows:
            batch = read_window(self.client, self.workspace, window, self.names)
            if self.halted.is_set():  # stopped or replaced by a reload meanwhile
                return
            self._apply(batch, window[1])

    def _apply(self, batch: Batch, window_end: int) -> None:
        state = self.state
        with state.lock:
            new, invalid = state.overlap.take(batch, window_end, self.poll.overlap)
            state.sessions.apply(new)
            state.health.invalid_records += invalid
            state.watermark = window_end
            state.sessions.advance(window_end)

    def _succeeded(self, now: float) -> float:
        state = self.state
        with state.lock:
            if not state.sessions.counting and state.watermark is not None:
                state.sessions.start_counting(state.watermark)
            forgotten = self._forget(now)
            was_up = state.health.up
            state.health.up = state.health.ready = True
            state.health.reason = "ok"
            state.health.last_success = now
        if forgotten:
            log.info("workspace=%s forgot %d idle agents", self.workspace.workspace, len(forgotten))
        if not was_up:
            log.info("workspace=%s logio poll succeeded", self.workspace.workspace)
        self.failures = 0
        if self.on_success is not None:
            self.on_success()
        return self.poll.interval

    def _forget(self, now: float) -> list[str]:
        """Drop idle agents; a scan of every agent, so at most once per tenth of the limit."""
        if now < self.next_forget:
            return []
        limit = self.metrics.forget_agent_after
        self.next_forget = now + min(limit / 10, 3600.0)
        forgotten = self.state.sessions.forget(now - limit)
        for name in forgotten:
            self.names.pop(name, None)
        return forgotten

    def _failed(self, exc: LogioError) -> float:
        state = self.state
        with state.lock:
            state.health.errors[exc.reason] += 1
            was_up, last_reason = state.health.up, state.health.reason
            state.health.up = False
            if not state.health.ready:
                state.health.reason = f"initial lookback failing: {exc.reason}"
            else:
                state.health.reason = exc.reason
        self.failures += 1
        level = logging.ERROR if was_up or last_reason != exc.reason else logging.DEBUG
        log.log(
            level,
            "workspace=%s logio poll failed reason=%s: %s",
            self.workspace.workspace,
            exc.reason,
            exc,
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
