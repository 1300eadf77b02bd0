"""What the exporter knows, guarded by one lock per workspace.

The poller writes a workspace's state under its lock once per answer applied; the
collector reads it under the same lock at scrape time, so a scrape never sees half a
poll. Nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from exporter.core.sessions import Histogram, Sessions
from exporter.core.window import Overlap
from exporter.errors import ERROR_REASONS

REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Health:
    """How talking to the logio API of one workspace goes."""

    up: bool = False
    ready: bool = False
    reason: str = "initial lookback not finished"
    requests: Counter[str] = field(default_factory=Counter)
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))
    request_seconds: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS))
    invalid_records: int = 0
    last_success: float | None = None


class WorkspaceState:
    """Sessions, the overlap's memory, watermark and health of one workspace."""

    def __init__(self, name: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.sessions = Sessions(buckets)
        self.overlap = Overlap()
        self.watermark: int | None = None
        self.health = Health()

    def observe_request(self, code: str, seconds: float) -> None:
        with self.lock:
            self.health.requests[code] += 1
            self.health.request_seconds.observe(seconds)


class ExporterState:
    """The workspaces being exported; the set changes only on start and reload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workspaces: dict[str, WorkspaceState] = {}

    def add(self, workspace: WorkspaceState) -> None:
        with self._lock:
            self._workspaces[workspace.name] = workspace

    def remove(self, name: str) -> None:
        with self._lock:
            self._workspaces.pop(name, None)

    def get(self, name: str) -> WorkspaceState | None:
        with self._lock:
            return self._workspaces.get(name)

    def workspaces(self) -> list[WorkspaceState]:
        """A copy of the list, so callers iterate without holding the lock."""
        with self._lock:
            return list(self._workspaces.values())

    def not_ready(self) -> list[str]:
        """``["demo: initial lookback not finished"]`` for each workspace not ready yet."""
        return [f"{w.name}: {w.health.reason}" for w in self.workspaces() if not w.health.ready]
