"""``state.file``: what the exporter needs to continue after a restart, a snapshot and a journal.

The snapshot is the state of every workspace; the journal beside it (``<file>.journal``,
``exporter.journal``) appends each recorded transition since, so a poll that brings ten
records writes about ten records' worth. The snapshot is rewritten, and the journal
removed, when the journal outgrows half of it (``JOURNAL_SHARE``), when a workspace
changed in a way it did not record (its initial lookback, a workspace added or removed),
on the first write after a start and at shutdown. Reading back loads the snapshot and
replays the journal's transitions through the same ``WorkspaceState`` methods.

Each step is safe at any crash. The snapshot is written atomically (a temporary file in
the same folder, fsync, rename, fsync of the folder), so a crash leaves the old file or
the new one, never a mix. Each snapshot has a new random id, and a journal applies only
to the snapshot its first frame names: one left behind by a crash between a snapshot and
the journal's removal holds only what that snapshot holds, and is ignored. A journal's
torn last frame is dropped with a warning; a damaged frame before the end stops the
replay there, and the journal is set aside. Both leave a state the exporter was in, from
which the lookback reads again what came after.

A snapshot that cannot be read back, or that a newer version wrote in a schema this one
does not know, is renamed aside as ``<file>.corrupt-<timestamp>`` and the exporter
rebuilds from the lookback instead of failing. It is JSON, one object per workspace as
``WorkspaceState.to_dict`` gives it, every field by name, under a schema version::

    {"schema": 2, "saved_at": 1764140000.0, "journal": "9f0c4e2ab1d37a65",
     "workspaces": {"demo": {"watermark": ...,
     "sessions": {..., "agents": {"anna": {"session_start": null, "logins": 3, ...}}},
     "overlap": {"records": [...], "rows": [...]}, "health": {"invalid_records": 0}}}}

Schema 1 (release 0.1.0) stored each agent as a list of values in a fixed order; it is
read too, and written as schema 2 at the next save.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exporter import journal
from exporter.errors import StateFileError
from exporter.logs import fields
from exporter.state import Transition, WorkspaceState

log = logging.getLogger(__name__)

SCHEMA = 2
_V1_AGENT_FIELDS = (
    "session_start",
    "logins",
    "logouts",
    "closed_seconds",
    "floor_seconds",
    "last_login",
    "last_logout",
    "last_record",
)
"""The order of an agent's values in schema 1."""
JOURNAL_SHARE = 0.5
"""The journal grows to this share of the snapshot's size before the snapshot is
rewritten: so restarts replay at most that much, and each byte a poll appends costs at
most 1 / JOURNAL_SHARE more bytes of snapshot later."""
JOURNAL_MIN = 1 << 20
"""Nor is a snapshot rewritten before the journal reaches this many bytes."""


class StateFile:
    """Reads the state file of all workspaces back, and writes what changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(f"{self.path.name}.journal")
        self._lock = threading.Lock()
        self._follows: str | None = None
        """The id of the snapshot this process wrote, which the journal follows; None
        when the next write must be a snapshot: none yet, or the last write failed."""
        self._written: dict[str, int] = {}
        """Each workspace's ``changes`` when its transitions were last taken."""
        self._snapshot_bytes = self._journal_bytes = 0

    def write(self, workspaces: list[WorkspaceState], *, compact: bool = False) -> bool:
        """Append the transitions of each workspace that changed since the last write
        to the journal; or rewrite the snapshot when ``compact``, or when the journal
        cannot say the state (see the module). True if anything was written.

        A workspace that did not change keeps what it recorded (windows that brought
        nothing new) for the write after its next change: until then the file tells it
        as of its last change, and a restart reads again what came after."""
        with self._lock:
            changes = {workspace.name: workspace.changes for workspace in workspaces}
            if compact or self._follows is None or changes.keys() != self._written.keys():
                self._snapshot(workspaces, changes)
                return True
            changed = [w for w in workspaces if changes[w.name] != self._written[w.name]]
            frames = _frames([(w.name, w.take_recorded()) for w in changed])
            if frames is None or self._journal_bytes + len(frames) > self._journal_limit():
                self._snapshot(workspaces, changes)
            elif frames:
                self._append(frames)
            self._written.update((w.name, changes[w.name]) for w in changed)
            return bool(changed)

    def save(self, workspaces: list[WorkspaceState]) -> None:
        """Rewrite the snapshot of ``workspaces``; the journal starts afresh."""
        self.write(workspaces, compact=True)

    def load(self, buckets: tuple[float, ...]) -> dict[str, WorkspaceState]:
        """The saved workspaces, their journal replayed; {} when there is no file or it
        had to be set aside."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a write cut short by a crash
        try:
            return self._read(buckets)
        except FileNotFoundError:
            return {}
        except (OSError, StateFileError) as exc:
            self._set_aside(self.path, exc, "rebuilding from the lookback")
            return {}

    def _journal_limit(self) -> float:
        return max(self._snapshot_bytes * JOURNAL_SHARE, JOURNAL_MIN)

    def _snapshot(self, workspaces: list[WorkspaceState], changes: dict[str, int]) -> None:
        """Each workspace's state as of now, what it records after going to the journal;
        then the old journal is removed. Until both are done, the next write is a
        snapshot too. ``changes`` were read before: a change made meanwhile is in the
        snapshot, and taken again at the next write."""
        self._follows = None
        snapshot_id = secrets.token_hex(8)
        data = {workspace.name: workspace.checkpoint() for workspace in workspaces}
        payload = {"schema": SCHEMA, "saved_at": time.time(), "journal": snapshot_id}
        payload["workspaces"] = data
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        write_atomically(self.path, body)
        self.journal_path.unlink(missing_ok=True)
        self._written, self._snapshot_bytes, self._journal_bytes = changes, len(body), 0
        self._follows = snapshot_id

    def _append(self, frames: bytes) -> None:
        """``frames`` after the journal's, or in a new journal that follows the snapshot.
        If the append fails, the next write is a snapshot."""
        follows, self._follows = self._follows, None
        assert follows is not None
        create = not self._journal_bytes
        if create:
            frames = journal.header(follows) + frames
        append(self.journal_path, frames, create=create)
        self._journal_bytes += len(frames)
        self._follows = follows

    def _read(self, buckets: tuple[float, ...]) -> dict[str, WorkspaceState]:
        payload = journal.json_object(self.path.read_bytes())
        schema = payload.get("schema")
        upgrade = _UPGRADES.get(schema) if type(schema) is int else None
        if upgrade is None:
            raise StateFileError(_unknown_schema(schema))
        workspaces = payload.get("workspaces")
        if not isinstance(workspaces, dict):
            raise StateFileError("no workspaces object")
        loaded = {name: _load(name, upgrade, data, buckets) for name, data in workspaces.items()}
        self._replay(loaded, payload.get("journal"))
        return loaded

    def _replay(self, workspaces: dict[str, WorkspaceState], snapshot_id: object) -> None:
        """Replay the journal that follows ``snapshot_id`` on ``workspaces``, up to its
        first problem; set it aside if damaged."""
        try:
            found = journal.read(self.journal_path.read_bytes())
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error(
                "cannot read the journal; resuming from the snapshot",
                extra=fields(path=self.journal_path, error=str(exc)),
            )
            return
        if found.follows is not None and found.follows != snapshot_id:
            log.info(
                "the journal follows another snapshot: ignored",
                extra=fields(path=self.journal_path),
            )
            return
        applied, damaged = journal.replay(found, workspaces)
        if damaged is not None:
            then = "resuming from the snapshot and the entries before it"
            self._set_aside(self.journal_path, damaged, then, replayed=applied)
        elif found.torn is not None:
            log.warning(
                "the journal's last entry is torn, as a crash during a write leaves it: "
                "dropped; the entries before it replayed",
                extra=fields(path=self.journal_path, error=str(found.torn), replayed=applied),
            )

    def _set_aside(self, path: Path, problem: object, then: str, **more: object) -> None:
        """Rename a file that cannot be used; ``then`` (a constant) says what follows."""
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.error(
            f"state file cannot be used; moved aside, {then}",
            extra=fields(path=path, error=str(problem), moved_to=aside, **more),
        )
        try:
            path.rename(aside)
        except OSError as rename_error:
            log.error(
                "cannot move the state file aside",
                extra=fields(path=path, error=rename_error.strerror),
            )


def _frames(recorded: list[tuple[str, list[Transition] | None]]) -> bytes | None:
    """The journal entry of the transitions of workspaces that changed, b"" for none;
    None if one changed without a record of it (an initial lookback), which only a
    snapshot tells. (A change taken by the write before, as it raced with it, looks
    alike and costs a snapshot too.)"""
    taken = {}
    for name, transitions in recorded:
        if not transitions:
            return None
        taken[name] = transitions
    return journal.entry(taken) if taken else b""


def _load(
    name: str,
    upgrade: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    data: Any,
    buckets: tuple[float, ...],
) -> WorkspaceState:
    try:
        return WorkspaceState.from_dict(name, upgrade(data), buckets)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateFileError(f"workspace {name!r}: {type(exc).__name__}: {exc}") from None


def _unknown_schema(schema: object) -> str:
    known = ", ".join(map(str, _UPGRADES))
    if type(schema) is int and schema > SCHEMA:
        return (
            f"schema {schema} is from a newer version of the exporter; "
            f"this one reads schemas {known}"
        )
    return f"unknown schema {schema!r}; this version reads schemas {known}"


def _from_schema_1(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A workspace of schema 1 in the shape of schema 2."""
    sessions = {
        key: data[key]
        for key in (
            "counting_since",
            "window_open",
            "as_of",
            "last_record",
            "records_total",
            "anomalies",
            "durations",
        )
    }
    sessions["agents"] = {
        name: dict(zip(_V1_AGENT_FIELDS, values, strict=True))
        for name, values in data["agents"].items()
    }
    return {
        "watermark": data["watermark"],
        "sessions": sessions,
        "overlap": {"records": data["dedup"], "rows": data["invalid_rows"]},
        "health": {"invalid_records": data["invalid_records"]},
    }


def _same(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return data


_UPGRADES: dict[int, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {
    1: _from_schema_1,
    SCHEMA: _same,
}
"""Each schema this version reads, with the step that brings one of its workspaces to
the current shape."""


def write_atomically(path: Path, body: bytes) -> None:
    """Temporary file beside ``path``, fsync, rename over it, fsync the folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def append(path: Path, frames: bytes, *, create: bool) -> None:
    """Append ``frames`` to the file at ``path`` and fsync it; ``create`` makes the file
    (it must not exist) and fsyncs the folder that now lists it."""
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(frames)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if create:
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
