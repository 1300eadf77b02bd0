"""The workload the benchmarks share: a week of 5,000 agents, read as the exporter reads it.

``exporter_ingest`` is the real thing: ``Poller.poll_once`` with a ``LogioClient`` and the
default poll settings (7 days of lookback in windows of ``max_window`` = 1 day) against the
simulator over loopback HTTP. ``floor_ingest`` asks the same server the same requests and
parses the same bytes with nothing but the standard library: ``http.client``, then
``csv.reader`` plus ``int`` into ``(name, timestamp, action)`` tuples, or ``json.loads``.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from benchmarks.simserver import TOKEN, WORKSPACE
from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.core.records import Format
from exporter.core.window import Window, plan_windows
from exporter.logio import Fetcher, LogioClient
from exporter.poller import Poller
from exporter.simulator import logio_path
from exporter.state import WorkspaceState

START = 1_767_272_400
"""2026-01-01T13:00:00Z, the busiest hour of the simulated day: the history is the week
before, and the steady polls begin there."""
AGENTS = 5000
POLL = PollConfig()
METRICS = MetricsConfig()


def initial_windows(now: int = START) -> list[Window]:
    """The windows of the initial lookback, as the poller plans them."""
    return plan_windows(
        None, now, overlap=POLL.overlap, lookback=POLL.lookback, max_window=POLL.max_window
    )


class Exporter:
    """One workspace's state, client and poller, as the exporter wires them."""

    def __init__(
        self,
        url: str,
        fmt: Format,
        clock: Callable[[], float] = lambda: START,
        wrap: Callable[[Fetcher], Fetcher] = lambda client: client,
    ) -> None:
        workspace = WorkspaceConfig(WORKSPACE, url, Secret(TOKEN), fmt)
        self.state = WorkspaceState(WORKSPACE, METRICS.session_duration_buckets)
        self.client = LogioClient.from_config(workspace, POLL, self.state.observe_request)
        self.poller = Poller(workspace, POLL, METRICS, self.state, wrap(self.client), clock=clock)

    def poll(self) -> None:
        """One poll, which must succeed."""
        self.poller.poll_once()
        if not self.state.health.up:
            raise RuntimeError(f"poll failed: {self.state.health.reason}")

    def close(self) -> None:
        self.client.close()


def exporter_ingest(url: str, fmt: Format) -> float:
    """Seconds from the first request of the initial lookback to its state applied."""
    exporter = Exporter(url, fmt)
    try:
        started = time.perf_counter()
        exporter.poll()
        return time.perf_counter() - started
    finally:
        exporter.close()


class FloorClient:
    """The same requests over one ``http.client`` connection."""

    def __init__(self, url: str, fmt: Format) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self.fmt = fmt
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def fetch(self, frm: int, to: int) -> bytes:
        query = urlencode({"format": self.fmt, "from": frm, "to": to})
        self.connection.request("GET", f"{logio_path(WORKSPACE)}?{query}", headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"floor request answered {response.status}")
        return body

    def close(self) -> None:
        self.connection.close()


def floor_parse(body: bytes, fmt: Format) -> list[object]:
    """The parse the floor allows itself: what Python does with no checks and no state."""
    if fmt == "json":
        rows: list[object] = json.loads(body)
        return rows
    reader = csv.reader(io.StringIO(body.decode(), newline=""))
    return [(name, int(stamp), action) for _, name, stamp, action in reader]


def floor_ingest(url: str, fmt: Format, windows: list[Window]) -> tuple[float, int]:
    """Seconds to fetch and parse every window the floor way, and the rows read."""
    client = FloorClient(url, fmt)
    rows = 0
    try:
        started = time.perf_counter()
        for frm, to in windows:
            rows += len(floor_parse(client.fetch(frm, to), fmt))
        return time.perf_counter() - started, rows
    finally:
        client.close()
