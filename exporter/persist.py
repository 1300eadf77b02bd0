"""``state.file``: the file format of what the exporter needs to continue after a restart.

Written atomically (a temporary file in the same folder, fsync, rename, fsync of the
folder), so a crash at any instant leaves the old file or the new one, never a mix. A file
that cannot be read back, or that a newer version wrote in a schema this one does not
know, is renamed aside as ``<file>.corrupt-<timestamp>`` and the exporter rebuilds from
the lookback instead of failing.

The file is JSON, one object per workspace as ``WorkspaceState.to_dict`` gives it, every
field by name, under a schema version::

    {"schema": 2, "saved_at": 1764140000.0, "workspaces": {"demo": {"watermark": ...,
     "sessions": {..., "agents": {"anna": {"session_start": null, "logins": 3, ...}}},
     "overlap": {"records": [...], "rows": [...]}, "health": {"invalid_records": 0}}}}

Schema 1 (release 0.1.0) stored each agent as a list of values in a fixed order; it is
read too, and written as schema 2 at the next save.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exporter.errors import StateFileError
from exporter.logs import fields
from exporter.state import WorkspaceState

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


class StateFile:
    """Reads and atomically writes the state file of all workspaces."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def save(self, workspaces: list[WorkspaceState]) -> None:
        """Snapshot each workspace under its own lock, then write outside of them."""
        snapshot = {workspace.name: workspace.to_dict() for workspace in workspaces}
        payload = {"schema": SCHEMA, "saved_at": time.time(), "workspaces": snapshot}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        with self._lock:
            write_atomically(self.path, body)

    def load(self, buckets: tuple[float, ...]) -> dict[str, WorkspaceState]:
        """The saved workspaces; {} when there is no file or it had to be set aside."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            leftover.unlink(missing_ok=True)  # a write cut short by a crash
        try:
            return self._read(buckets)
        except FileNotFoundError:
            return {}
        except (OSError, StateFileError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error(
                "state file cannot be used; moved aside, rebuilding from the lookback",
                extra=fields(path=self.path, error=str(exc), moved_to=aside),
            )
            try:
                self.path.rename(aside)
            except OSError as rename_error:
                log.error(
                    "cannot move the state file aside",
                    extra=fields(path=self.path, error=rename_error.strerror),
                )
            return {}

    def _read(self, buckets: tuple[float, ...]) -> dict[str, WorkspaceState]:
        raw = self.path.read_bytes()
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise StateFileError(f"not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise StateFileError(f"a JSON {type(payload).__name__}, not an object")
        schema = payload.get("schema")
        upgrade = _UPGRADES.get(schema) if type(schema) is int else None
        if upgrade is None:
            raise StateFileError(_unknown_schema(schema))
        workspaces = payload.get("workspaces")
        if not isinstance(workspaces, dict):
            raise StateFileError("no workspaces object")
        return {name: _load(name, upgrade, data, buckets) for name, data in workspaces.items()}


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
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
