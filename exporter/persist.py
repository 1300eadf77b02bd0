"""``state.file``: what the exporter needs to continue exactly after a restart.

Written atomically (a temporary file in the same folder, fsync, rename, fsync of the
folder), so a crash at any instant leaves the old file or the new one, never a mix. A file
that cannot be read back is renamed aside as ``<file>.corrupt-<timestamp>`` and the
exporter rebuilds from the lookback instead of failing.

The file is JSON, one object per workspace, with a schema version::

    {"schema": 1, "saved_at": 1764140000.0, "workspaces": {"demo": {"watermark": ...}}}
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from exporter.core.records import Record
from exporter.core.sessions import Agent, Histogram
from exporter.core.window import Overlap
from exporter.errors import StateFileError
from exporter.state import WorkspaceState

log = logging.getLogger(__name__)

SCHEMA = 1
_AGENT_FIELDS = (
    "session_start",
    "logins",
    "logouts",
    "closed_seconds",
    "floor_seconds",
    "last_login",
    "last_logout",
    "last_record",
)


def dump_workspace(workspace: WorkspaceState) -> dict[str, Any]:
    """Plain data of one workspace; call with its lock held."""
    sessions = workspace.sessions
    return {
        "watermark": workspace.watermark,
        "counting_since": sessions.counting_since,
        "window_open": sessions.window_open,
        "as_of": sessions.as_of,
        "last_record": sessions.last_record,
        "records_total": sessions.records_total,
        "anomalies": sessions.anomalies,
        "durations": _dump_histogram(sessions.durations),
        "invalid_records": workspace.health.invalid_records,
        "dedup": [[*record, n] for record, n in workspace.overlap.records.items()],
        "invalid_rows": [[key, n, until] for key, (n, until) in workspace.overlap.rows.items()],
        "agents": {
            name: [getattr(agent, field) for field in _AGENT_FIELDS]
            for name, agent in sessions.agents.items()
        },
    }


def load_workspace(name: str, data: dict[str, Any], buckets: tuple[float, ...]) -> WorkspaceState:
    """Rebuild a workspace from ``dump_workspace`` data; raise StateFileError if malformed."""
    try:
        return _load_workspace(name, data, buckets)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateFileError(f"workspace {name!r}: {type(exc).__name__}: {exc}") from None


def _load_workspace(name: str, data: dict[str, Any], buckets: tuple[float, ...]) -> WorkspaceState:
    workspace = WorkspaceState(name, buckets)
    sessions = workspace.sessions
    workspace.watermark = _optional(int, data["watermark"])
    sessions.counting_since = _optional(float, data["counting_since"])
    sessions.window_open = bool(data["window_open"])
    sessions.as_of = float(data["as_of"])
    sessions.last_record = _optional(int, data["last_record"])
    sessions.records_total = {k: int(data["records_total"][k]) for k in sessions.records_total}
    sessions.anomalies = {k: int(data["anomalies"][k]) for k in sessions.anomalies}
    sessions.durations = _load_histogram(data["durations"], buckets, name)
    workspace.health.invalid_records = int(data["invalid_records"])
    workspace.overlap = Overlap(
        ((Record(str(n), int(ts), str(a)), int(c)) for n, ts, a, c in data["dedup"]),
        ((str(k), int(c), int(u)) for k, c, u in data["invalid_rows"]),
    )
    for agent_name, values in data["agents"].items():
        agent = Agent(**dict(zip(_AGENT_FIELDS, values, strict=True)))
        sessions.agents[str(agent_name)] = agent
    sessions.logged_in_count = sum(a.logged_in for a in sessions.agents.values())
    if workspace.watermark is not None and sessions.counting:
        workspace.health.ready = True
    return workspace


def _optional(kind: type[Any], value: object) -> Any:
    return None if value is None else kind(value)


def _dump_histogram(hist: Histogram) -> dict[str, Any]:
    return {
        "bounds": list(hist.bounds),
        "counts": hist.counts,
        "sum": hist.sum,
        "count": hist.count,
    }


def _load_histogram(data: dict[str, Any], buckets: tuple[float, ...], name: str) -> Histogram:
    hist = Histogram(buckets)
    if tuple(float(b) for b in data["bounds"]) != buckets:
        log.warning(
            "workspace=%s session_duration_buckets changed: the session duration "
            "histogram starts from zero",
            name,
        )
        return hist
    hist.counts = [int(n) for n in data["counts"]]
    if len(hist.counts) != len(buckets) + 1:
        raise ValueError("histogram counts do not match its bounds")
    hist.sum, hist.count = float(data["sum"]), int(data["count"])
    return hist


class StateFile:
    """Reads and atomically writes the state file of all workspaces."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def save(self, workspaces: list[WorkspaceState]) -> None:
        """Snapshot each workspace under its own lock, then write outside of them."""
        snapshot = {}
        for workspace in workspaces:
            with workspace.lock:
                snapshot[workspace.name] = dump_workspace(workspace)
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
                "state file %s cannot be used (%s); moved to %s, rebuilding from the lookback",
                self.path,
                exc,
                aside,
            )
            try:
                self.path.rename(aside)
            except OSError as rename_error:
                log.error("cannot move %s aside: %s", self.path, rename_error.strerror)
            return {}

    def _read(self, buckets: tuple[float, ...]) -> dict[str, WorkspaceState]:
        raw = self.path.read_bytes()
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise StateFileError(f"not valid JSON: {exc}") from None
        if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
            schema = payload.get("schema") if isinstance(payload, dict) else None
            raise StateFileError(f"unknown schema version {schema!r} (expected {SCHEMA})")
        workspaces = payload.get("workspaces")
        if not isinstance(workspaces, dict):
            raise StateFileError("no workspaces object")
        return {name: load_workspace(name, data, buckets) for name, data in workspaces.items()}


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
