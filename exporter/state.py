"""What the exporter knows, guarded by one lock per workspace, and how it changes.

``WorkspaceState`` owns its transitions: a window applied, a poll that succeeded, failed
or broke, a request observed. Each takes the workspace's lock; the collector reads under
the same lock at scrape time, so a scrape never sees half a window. ``Health`` holds the
rules of ``up``, ``ready`` and the reason ``/ready`` gives. Nothing here does I/O.

Once the state file takes a snapshot (``checkpoint``), each transition that changes what a
saved state tells is recorded as a ``Transition``, the call to make again on that snapshot
to reach the same state: the state file's journal holds them, and a restart replays them
through the same methods (``replay``), so no rule is written twice.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from exporter.core.localtime import UTC, zone_named
from exporter.core.records import Batch
from exporter.core.schedule import Schedule
from exporter.core.sessions import Histogram, Sessions
from exporter.core.window import Overlap
from exporter.errors import ERROR_REASONS
from exporter.logs import fields

log = logging.getLogger(__name__)

REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UNEXPECTED = "unexpected error"
"""The reason of a poll that broke on something else than a failed request."""


@dataclass
class Health:
    """How talking to the logio API of one workspace goes.

    ``up``: the last poll succeeded. ``ready``: the initial lookback is applied, or was
    resumed from the state file. ``failing``: why the polls since the last success
    failed, or None.

    >>> health = Health()
    >>> health.failed("auth"), health.failed("auth"), health.reason
    (True, False, 'initial lookback failing: auth')
    >>> health.succeeded(1000.0), health.reason, health.failed("server"), health.reason
    (True, 'ok', True, 'server')
    """

    up: bool = False
    ready: bool = False
    failing: str | None = None
    requests: Counter[str] = field(default_factory=Counter)
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))
    request_seconds: Histogram = field(default_factory=lambda: Histogram(REQUEST_BUCKETS))
    invalid_records: int = 0
    last_success: float | None = None

    @property
    def reason(self) -> str:
        """What ``/ready`` says of a workspace: ``initial lookback failing: auth``."""
        if not self.ready:
            if self.failing is None:
                return "initial lookback not finished"
            return f"initial lookback failing: {self.failing}"
        if self.failing is not None:
            return self.failing
        return "ok" if self.up else "resumed from the state file"

    def succeeded(self, now: float) -> bool:
        """A poll caught up to ``now``; True if the last one had not succeeded."""
        recovered = not self.up
        self.up = self.ready = True
        self.failing, self.last_success = None, now
        return recovered

    def failed(self, reason: str) -> bool:
        """A poll failed for ``reason`` (a request counted under it); True when that
        changes the state: the first failure after a success, or one of another reason."""
        if reason in self.errors:
            self.errors[reason] += 1
        changed = self.failing != reason
        self.up, self.failing = False, reason
        return changed

    def to_dict(self) -> dict[str, int]:
        """What survives a restart: the counter of records; the rest is of this process."""
        return {"invalid_records": self.invalid_records}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Health:
        return cls(invalid_records=int(data["invalid_records"]))


class Succeeded(NamedTuple):
    """What a successful poll changed, for the log."""

    recovered: bool
    """The poll before it had not succeeded."""
    forgotten: list[str]
    """Agents dropped for being idle too long."""


class Transition(NamedTuple):
    """One call of a transition, recorded to be made again the same way on replay:
    ``getattr(workspace, name)(**args)``."""

    name: str
    args: dict[str, Any]


class WorkspaceState:
    """Sessions, the overlap's memory, watermark and health of one workspace, and the
    schedule its days and opening hours follow."""

    def __init__(
        self, name: str, buckets: tuple[float, ...], schedule: Schedule | None = None
    ) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.schedule = schedule
        self.sessions = Sessions(buckets, _zone(schedule))
        self.overlap = Overlap()
        self.watermark: int | None = None
        self.health = Health()
        self.changes = 0
        """Transitions so far that changed what a saved state would tell: records or
        invalid rows applied, counting started, agents forgotten, another time zone. A
        window that brings nothing new moves only the watermark, which a restart simply
        reads again."""
        self.recorded: list[Transition] | None = None
        """The transitions since the state file last took them, in order; None when one
        went unrecorded (before the first ``checkpoint``, and the initial lookback's
        windows, whose records a snapshot holds in less), and then only a snapshot tells
        the state."""

    def apply_window(self, batch: Batch, window_end: int, overlap: float) -> None:
        """Apply what is new in one window's ``batch``; the state is then known up to
        ``window_end``, and the next window starts ``overlap`` before it."""
        with self.lock:
            new, count, invalid = self.overlap.take(batch, window_end, overlap)
            if self.recorded is not None:
                self._record_window(batch, new, window_end, overlap, count or invalid)
            self.sessions.apply_batch(new)
            self.health.invalid_records += invalid
            self.watermark = window_end
            self.sessions.advance(window_end)
            if count or invalid:
                self.changes += 1

    def lookback_until(self, now: float) -> None:
        """A poll reads up to ``now``; in the initial lookback, only the sessions closed on
        its last local day can make a today (``Sessions.rebuild_until``)."""
        with self.lock:
            if not self.sessions.counting:
                self.sessions.rebuild_until(now)

    def poll_succeeded(self, now: float, forget_before: float | None = None) -> Succeeded:
        """Every window up to ``now`` is applied: the initial lookback ends here, if it has
        not yet, and agents without a record since ``forget_before`` are dropped."""
        with self.lock:
            sessions = self.sessions
            started = False
            if not sessions.counting and self.watermark is not None:
                sessions.start_counting(self.watermark)
                started = True
            forgotten = [] if forget_before is None else sessions.forget(forget_before)
            if started or forgotten:
                self.changes += 1
                if self.recorded is not None:
                    args = {"now": now, "forget_before": forget_before}
                    self.recorded.append(Transition("poll_succeeded", args))
            return Succeeded(self.health.succeeded(now), forgotten)

    def poll_failed(self, reason: str) -> bool:
        """A request of the poll failed for ``reason``; True if the state of health changed."""
        with self.lock:
            return self.health.failed(reason)

    def poll_broke(self) -> None:
        """A poll ended in an error that is not a failed request: a bug, logged apart."""
        with self.lock:
            self.health.failed(UNEXPECTED)

    def observe_request(self, code: str, seconds: float) -> None:
        with self.lock:
            self.health.requests[code] += 1
            self.health.request_seconds.observe(seconds)

    def set_schedule(self, schedule: Schedule | None) -> None:
        """Follow ``schedule`` (the config's, on start and reload) from now on."""
        with self.lock:
            self.schedule = schedule
            self._set_zone(_zone(schedule))

    def set_zone(self, timezone: str) -> None:
        """Count days in the zone named ``timezone`` from now on: a new schedule's zone,
        as the journal replays it (the schedule itself is the config's)."""
        with self.lock:
            self._set_zone(zone_named(timezone))

    def _set_zone(self, zone: ZoneInfo) -> None:
        if self.sessions.set_zone(zone):
            self.changes += 1
            if self.recorded is not None:
                self.recorded.append(Transition("set_zone", {"timezone": zone.key}))

    def resumed(self) -> None:
        """Read back from the state file: ready at once if its initial lookback was done."""
        with self.lock:
            if self.watermark is not None and self.sessions.counting:
                self.health.ready = True

    def replay(self, transitions: Iterable[Transition]) -> None:
        """Make recorded ``transitions`` again, in order, on this state just read back.
        What they tell of the requests of the process that made them (up, the last
        success) is not kept: the state is as resumed from the file."""
        for transition in transitions:
            getattr(self, transition.name)(**transition.args)
        with self.lock:
            self.health = Health.from_dict(self.health.to_dict())
        self.resumed()

    def to_dict(self) -> dict[str, Any]:
        """What a restart needs to continue exactly, as plain data by field name."""
        with self.lock:
            return self._to_dict()

    def checkpoint(self) -> dict[str, Any]:
        """``to_dict`` for a snapshot; each transition after this instant is recorded."""
        with self.lock:
            self.recorded = []
            return self._to_dict()

    def take_recorded(self) -> list[Transition] | None:
        """The transitions recorded since the last call, now the state file's to write;
        None if one went unrecorded since the last ``checkpoint``."""
        with self.lock:
            recorded = self.recorded
            if recorded is not None:
                self.recorded = []
            return recorded

    def _to_dict(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark,
            "sessions": self.sessions.to_dict(),
            "overlap": self.overlap.to_dict(),
            "health": self.health.to_dict(),
        }

    def _record_window(
        self, batch: Batch, new: Batch, window_end: int, overlap: float, changed: int
    ) -> None:
        """Record ``apply_window`` of the rows of ``batch`` that bring something: each row
        of a record with an occurrence that is ``new`` (all its occurrences, as the overlap
        counts a record's occurrences against those it holds) and the invalid rows. On the
        state this window found, that makes the same change: a record with no new
        occurrence leaves the overlap's memory as it was. A window that brings nothing new
        may replace the one before it (``_replaced_by``), so a quiet workspace holds one
        transition however long it stays quiet. The initial lookback goes unrecorded."""
        recorded = self.recorded
        if recorded is None or not self.sessions.counting:
            self.recorded = None
            return
        kept = Batch([], [], [], batch.invalid)
        if new.timestamps:
            wanted = set(new.rows())
            keep = list(map(wanted.__contains__, batch.rows()))
            kept.names.extend(compress(batch.names, keep))
            kept.timestamps.extend(compress(batch.timestamps, keep))
            kept.actions.extend(compress(batch.actions, keep))
        args = {"batch": kept, "window_end": window_end, "overlap": overlap}
        transition = Transition("apply_window", args)
        if not changed and recorded and _replaced_by(recorded[-1], transition):
            recorded[-1] = transition
        else:
            recorded.append(transition)

    @classmethod
    def from_dict(
        cls, name: str, data: Mapping[str, Any], buckets: tuple[float, ...]
    ) -> WorkspaceState:
        """A workspace from ``to_dict`` data, resumed. New ``buckets`` start the session
        duration histogram from zero and keep everything else."""
        state = cls(name, buckets)
        sessions = data["sessions"]
        durations = Histogram.from_dict(sessions["durations"])
        if durations.bounds != buckets:
            log.warning(
                "session_duration_buckets changed: the session duration histogram starts from zero",
                extra=fields(workspace=name),
            )
            durations = Histogram(buckets)
        watermark = data["watermark"]
        state.watermark = None if watermark is None else int(watermark)
        state.sessions = Sessions.from_dict(sessions, durations)
        state.overlap = Overlap.from_dict(data["overlap"])
        state.health = Health.from_dict(data["health"])
        state.resumed()
        return state


def _zone(schedule: Schedule | None) -> ZoneInfo:
    """Where the days of ``schedule`` start and end: UTC without one."""
    return UTC if schedule is None else schedule.zone


def _replaced_by(last: Transition, nothing: Transition) -> bool:
    """Whether ``nothing``, a window that brought nothing new, makes on the state before
    ``last`` the change of both: when ``last`` is a window that kept the same rows (so no
    record either, and the same invalid rows), of the same overlap, ending no later."""
    before, after = last.args, nothing.args
    return (
        last.name == nothing.name
        and before["batch"] == after["batch"]
        and before["overlap"] == after["overlap"]
        and before["window_end"] <= after["window_end"]
    )


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
