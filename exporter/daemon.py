"""The running exporter: one poller thread per workspace, reload, saves, orderly shutdown.

A reload keeps the state of every workspace that stays: only its poller restarts with the
new settings, and its schedule is the new one from then on. A workspace that appears
starts with an initial lookback; one that goes away stops and its series disappear.

With ``state.file`` set, a thread writes to it once per poll interval at most, and only
when the state of some workspace changed since the last write (records applied, counting
started, agents forgotten, a workspace added or removed): what changed is appended to the
journal, and now and then the snapshot is rewritten (``exporter.persist``); shutdown
rewrites the snapshot. A crash between two writes loses no record: what the file tells
belongs to one instant, watermark and overlap memory alike, so the next start reads again
what came after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
from prometheus_client.registry import CollectorRegistry

from exporter.collector import LogioCollector
from exporter.config import Config, WorkspaceConfig
from exporter.exposition import Exposition
from exporter.logio import LogioClient
from exporter.logs import fields
from exporter.persist import StateFile
from exporter.poller import Poller
from exporter.state import ExporterState, WorkspaceState

log = logging.getLogger(__name__)


@dataclass
class _Running:
    poller: Poller
    client: LogioClient
    stop: threading.Event
    thread: threading.Thread


class Exporter:
    """Owns the state, the registry and the poller threads."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.state = ExporterState()
        self.collector = LogioCollector(self.state, per_agent=config.metrics.per_agent, clock=clock)
        others = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (self.collector, *others):
            self.registry.register(collector)
        self.exposition = Exposition(self.collector, others)
        """Renders the registry's collectors for ``/metrics``, per-agent lines kept."""
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None
        self.state_file = StateFile(config.state.file) if config.state.file else None
        if self.state_file is not None:
            buckets = config.metrics.session_duration_buckets
            for name, workspace in self.state_file.load(buckets).items():
                if name in {w.workspace for w in config.workspaces}:
                    self.state.add(workspace)
                    log.info(
                        "workspace resumed from the state file",
                        extra=fields(workspace=name, path=config.state.file),
                    )

    def start(self) -> None:
        with self._lock:
            for workspace in self.config.workspaces:
                self._start(workspace)
        if self.state_file is not None:
            self._saver = threading.Thread(
                target=self._save_while_running, name="state-file", daemon=True
            )
            self._saver.start()

    def apply(self, config: Config) -> None:
        """Switch to a new, already validated config, keeping what stays."""
        with self._lock:
            old = {w.workspace: w for w in self.config.workspaces}
            new = {w.workspace: w for w in config.workspaces}
            restart_all = (config.poll, config.metrics) != (self.config.poll, self.config.metrics)
            self.config = config
            self.collector.per_agent = config.metrics.per_agent
            for name in old.keys() - new.keys():
                self._stop(name)
                self.state.remove(name)
                log.info("workspace removed", extra=fields(workspace=name))
            for name, workspace in new.items():
                if name in old and (restart_all or old[name] != workspace):
                    self._stop(name)
                if name not in self._running:
                    self._start(workspace)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every poller, then write the state file one last time."""
        self._stopping.set()
        if self._saver is not None:
            self._saver.join(timeout)
        with self._lock:
            for name in list(self._running):
                self._stop(name, timeout)
        self.save(compact=True)

    def save(self, *, compact: bool = False) -> bool:
        """Write what changed to the state file, if one is configured, or with ``compact``
        its whole snapshot; True if it wrote or tried to. A failure is logged, not
        raised, and the next write is a whole snapshot."""
        if self.state_file is None:
            return False
        try:
            return self.state_file.write(self.state.workspaces(), compact=compact)
        except Exception:  # a boundary: one save failing must not stop the exporter
            log.exception("cannot write the state file", extra=fields(path=self.state_file.path))
            return True

    def save_if_changed(self) -> bool:
        """Write to the state file if some workspace changed since the last write, or the
        set of workspaces did; True if it did."""
        return self.save()

    def _save_while_running(self) -> None:
        while not self._stopping.wait(self.config.poll.interval):
            self.save_if_changed()

    def _start(self, workspace: WorkspaceConfig) -> None:
        state = self.state.get(workspace.workspace)
        if state is None:
            state = WorkspaceState(
                workspace.workspace,
                self.config.metrics.session_duration_buckets,
                workspace.schedule,
            )
            self.state.add(state)
        else:
            state.set_schedule(workspace.schedule)
        client = LogioClient.from_config(workspace, self.config.poll, state.observe_request)
        poller = Poller(
            workspace,
            self.config.poll,
            self.config.metrics,
            state,
            client,
            clock=self.clock,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=poller.run, args=(stop,), name=f"poll-{workspace.workspace}", daemon=True
        )
        self._running[workspace.workspace] = _Running(poller, client, stop, thread)
        thread.start()
        log.info(
            "polling",
            extra=fields(
                workspace=workspace.workspace,
                endpoint=workspace.endpoint,
                interval=f"{self.config.poll.interval:g}s",
            ),
        )

    def _stop(self, name: str, timeout: float = 3.0) -> None:
        running = self._running.pop(name, None)
        if running is None:
            return
        running.stop.set()
        running.thread.join(timeout)
        running.client.close()
