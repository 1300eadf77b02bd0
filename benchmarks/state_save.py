"""``state_save``: rewriting the state file's snapshot of 10,000 agents, and how often the
state file is written.

Timed: ``StateFile.save`` of a workspace of 10,000 agents (``scrape.busy_workspace``)
with a window of the last ten minutes applied, so its overlap memory is what a steady
poll leaves: every object's ``to_dict`` under the lock, ``json.dumps`` and the atomic
write (temporary file, fsync, rename, fsync of the folder). That is what compacting the
journal into the snapshot costs, now and then; a poll appends to the journal instead
(``steady_poll``). Floor: ``json.dumps`` of the very same plain data, made beforehand,
written to a file and fsynced: the least any durable write of those bytes costs.

Writes per hour: the exporter's own policy (``Exporter.save_if_changed``, checked once
per poll interval by its saver) over a simulated hour of polls of two workspaces through
the real ``Poller``: the 10,000 agents, each poll bringing 10 new records, and a quiet
workspace that brings none; then an hour in which neither brings any. Writing after every
poll of every workspace would write 2 x 120 = 240 times in either hour. Of the busy
hour's writes, ``snapshots_per_hour`` rewrote the snapshot and ``journal_kb_per_hour`` is
what the others appended.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path

from benchmarks.report import Result, interleaved, wall
from benchmarks.scrape import busy_workspace
from benchmarks.steady import StateFiles
from benchmarks.workload import METRICS, POLL, START
from exporter.config import Config, Secret, StateConfig, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.daemon import Exporter
from exporter.persist import SCHEMA, StateFile
from exporter.poller import Poller
from exporter.simulator import render_csv
from exporter.state import WorkspaceState

AGENTS = 10_000
"""Agents of the workspace whose snapshot is written."""
TARGET = 2.0
REPETITIONS = 7
NEW_RECORDS = 10
HOUR = 3600


class Api:
    """A ``Fetcher`` answering each window with the records in it, as CSV."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        return render_csv([r for r in self.records if frm <= r.timestamp <= to])


def steady_workspace() -> WorkspaceState:
    """``busy_workspace`` of 10,000 agents with its last ten minutes read as a poll reads
    them: 200 records in the overlap's memory, watermark at ``START``."""
    workspace = busy_workspace(AGENTS)
    names = list(workspace.sessions.agents)[1::50]
    records = [Record(name, START - 599 + 3 * i, LOGOUT) for i, name in enumerate(names)]
    workspace.apply_window(Batch.of(Parsed(records, [])), START, POLL.overlap)
    return workspace


def state_save() -> Result:
    workspace = steady_workspace()
    with tempfile.TemporaryDirectory(prefix="state-save-") as folder:
        path = Path(folder) / "state.json"
        state_file = StateFile(path)
        payload = {
            "schema": SCHEMA,
            "saved_at": time.time(),
            "workspaces": {"bench": workspace.to_dict()},
        }
        value, floor = interleaved(
            lambda: wall(lambda: state_file.save([workspace])),
            lambda: wall(lambda: _floor(payload, Path(folder) / "floor.json")),
            REPETITIONS,
        )
        size = path.stat().st_size
        busy, quiet, snapshots, journal = _saves_per_hour(workspace, Path(folder) / "policy.json")
    per_poll = 2 * HOUR // int(POLL.interval)
    extra = {
        "value_ms": f"{value * 1000:.1f}",
        "floor_ms": f"{floor * 1000:.1f}",
        "mb": f"{size / 1e6:.2f}",
        "agents": str(AGENTS),
        "saves_per_hour": str(busy),
        "quiet_saves_per_hour": str(quiet),
        "snapshots_per_hour": str(snapshots),
        "journal_kb_per_hour": f"{journal / 1000:.1f}",
        "per_poll_saves_per_hour": str(per_poll),
        "repetitions": str(REPETITIONS),
    }
    checks = {"saves_ok": busy <= HOUR / POLL.interval and quiet == 0}
    return Result("state_save", value, floor, TARGET, "s", "ratio", extra, checks)


def _floor(payload: object, path: Path) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    with path.open("wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())


def _saves_per_hour(busy: WorkspaceState, path: Path) -> tuple[int, int, int, int]:
    """Writes in an hour of polls bringing records to ``busy``, then in a quiet hour;
    and of the busy hour, the snapshots rewritten and the bytes appended to the journal."""
    configs = [WorkspaceConfig(n, "https://cention.test", Secret("t")) for n in ("bench", "quiet")]
    exporter = Exporter(Config(workspaces=tuple(configs), state=StateConfig(file=str(path))))
    quiet = WorkspaceState("quiet", METRICS.session_duration_buckets)
    now, api = float(START), Api()
    pollers = []
    for config, state in zip(configs, (busy, quiet), strict=True):
        exporter.state.add(state)
        poller = Poller(
            config,
            POLL,
            METRICS,
            state,
            api if state is busy else Api(),
            clock=lambda: now,
            rng=random.Random(1),
        )
        pollers.append(poller)
    names = list(busy.sessions.agents)
    files = StateFiles(path)
    saves, snapshots, appended = [], 0, 0
    for hour in range(3):  # the first only settles: the quiet workspace's initial lookback
        written = 0
        for poll in range(HOUR // int(POLL.interval)):
            mark = files.mark()
            if hour < 2:
                for index in range(NEW_RECORDS):
                    name = names[(poll * NEW_RECORDS + index) % len(names)]
                    api.records.append(
                        Record(name, int(now) + 1 + index, LOGIN if index % 2 else LOGOUT)
                    )
            now += POLL.interval
            for poller in pollers:
                poller.poll_once()
            written += exporter.save_if_changed()
            rewritten, grown = files.since(mark)
            if hour == 1:
                snapshots += rewritten
                appended += 0 if rewritten else grown
        saves.append(written)
    return saves[1], saves[2], snapshots, appended
