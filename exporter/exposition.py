"""``/metrics`` at a cost that follows what changed.

prometheus_client spends microseconds on every sample it renders (name checks, label
escaping, number formatting): 0.8 s a scrape at 10,000 agents in OpenMetrics, though
between two scrapes only a few agents change. So ``Exposition`` takes the per-agent
families from lines kept between scrapes (``exporter.agentlines``), while the build info,
the workspace families and the process and Python collectors still render through
prometheus_client: a scrape costs the changed agents plus a join.

The kept lines are used only where prometheus_client, asked the same, renders the same
bytes for a probe state, checked once per format and escaping; anything else, such as
``escaping=dots``, which rewrites names, renders wholly through prometheus_client.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from itertools import chain
from typing import TypeVar

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from exporter.agentlines import AgentLines, Copy, deflate, gzip_member
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.state import ExporterState, WorkspaceState

Render = Callable[[str, bool], tuple[bytes, str]]
"""``(Accept header, gzip accepted) -> (body, content type)``: what ``/metrics`` serves."""
Encoder = Callable[[Collector], bytes]
T = TypeVar("T")

EOF = b"# EOF\n"


def negotiate(registry: Collector, accept: str, gzipped: bool) -> tuple[bytes, str]:
    """What prometheus_client renders of ``registry`` for the Accept header, gzipped if
    accepted, and its content type."""
    encoder, content_type = choose_encoder(accept)
    return _compressed(encoder(registry), gzipped), content_type


class Exposition(Collector):
    """``LogioCollector``'s families, then those of ``others`` (process, platform, gc), as
    prometheus_client renders them, the per-agent ones from kept lines."""

    def __init__(self, collector: LogioCollector, others: Iterable[Collector] = ()) -> None:
        self.collector = collector
        self.others = CollectorRegistry(auto_describe=False)
        for other in others:
            self.others.register(other)
        self.lines = AgentLines()
        self._lock = threading.Lock()  # guards self.lines
        self._agrees: dict[tuple[object, object], bool] = {}
        self._shared: dict[tuple[object, object, bool], _Shared] = {}

    def collect(self) -> Iterator[Metric]:
        """Every family, as a registry of the same collectors yields them."""
        return chain(self.collector.collect(), self.others.collect())

    def render(self, accept: str, gzipped: bool) -> tuple[bytes, str]:
        """A ``Render``: the body prometheus_client would give, from the kept lines."""
        encoder, content_type = choose_encoder(accept)
        openmetrics = content_type.startswith("application/openmetrics-text")
        if not (self.collector.per_agent and self._kept_lines_agree(encoder, openmetrics)):
            with self._lock:
                self.lines = AgentLines()  # none kept meanwhile; `changed` holds what changes
            return _compressed(encoder(self), gzipped), content_type
        shared = self._shared.setdefault((*_kind(encoder), gzipped), _Shared())
        body = shared.get(lambda: self._from_kept_lines(encoder, openmetrics, gzipped))
        return body, content_type

    def _from_kept_lines(self, encoder: Encoder, openmetrics: bool, gzipped: bool) -> bytes:
        """The whole body, the per-agent families from the kept lines."""
        if gzipped:
            head, deflated, tail = self._parts(encoder, lambda: self.lines.deflated(openmetrics))
            return gzip_member([deflate(head), *deflated, deflate(tail)])
        head, pieces, tail = self._parts(encoder, lambda: self.lines.pieces(openmetrics))
        return b"".join([head, *pieces, tail])

    def _parts(self, encoder: Encoder, agents: Callable[[], T]) -> tuple[bytes, T, bytes]:
        """What comes before the per-agent families, ``agents()`` from the kept lines
        brought up to date, and what comes after."""
        with self._lock:
            copies: list[Copy] = []
            try:
                scrape = self.collector.scrape(False, lambda w: copies.append(self.lines.copy(w)))
                families = list(scrape)
                self.lines.update(copies)
                middle = agents()
            except BaseException:
                self.lines = AgentLines()  # what changed was taken: start afresh
                raise
        head, tail = encoder(_Ready(families)), encoder(self.others)
        return head.removesuffix(EOF), middle, tail  # one # EOF, at the end

    def _kept_lines_agree(self, encoder: Encoder, openmetrics: bool) -> bool:
        """Whether the kept lines render what ``encoder`` does, tried once on a probe."""
        kind = _kind(encoder)
        if kind not in self._agrees:
            probe = Exposition(LogioCollector(_probe_state()))
            plain = probe._from_kept_lines(encoder, openmetrics, False)
            gzipped = gzip.decompress(probe._from_kept_lines(encoder, openmetrics, True))
            self._agrees[kind] = plain == gzipped == encoder(probe)
        return self._agrees[kind]


def _compressed(body: bytes, gzipped: bool) -> bytes:
    return gzip.compress(body, compresslevel=1) if gzipped else body


def _kind(encoder: Encoder) -> tuple[object, object]:
    """The format function and escaping of an encoder ``choose_encoder`` gave: what the
    bytes depend on (the version it also names changes only native histograms)."""
    return getattr(encoder, "func", encoder), getattr(encoder, "keywords", {}).get("escaping")


class _Ready(Collector):
    """Yields families already made: an encoder's argument."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class _Shared:
    """One render at a time, shared by the requests that arrived while the one before ran:
    each answer still shows the state after its request came, and twenty scrapers at once
    cost two renders, not twenty."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = threading.Lock()
        self._next: Future[bytes] | None = None

    def get(self, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            leader = self._next is None
            if self._next is None:
                self._next = Future()
            shared = self._next
        if leader:
            with self._turn:
                with self._lock:
                    self._next = None  # who comes from now on waits for the next render
                try:
                    shared.set_result(render())
                except BaseException as exc:  # handed to every request that waits on it
                    shared.set_exception(exc)
        return shared.result()


def _probe_state() -> ExporterState:
    """A workspace with every kind of per-agent line: open and closed sessions, names
    to escape, large timestamps."""
    workspace = WorkspaceState("probe", (60.0,))
    start = 1_767_272_400
    workspace.sessions.start_counting(start)
    workspace.sessions.apply(
        [
            Record('a "b" \\ c\nd', start + 1, LOGIN),
            Record("e", start + 2, LOGIN),
            Record("e", start + 30, LOGOUT),
            Record("f", start + 40, LOGOUT),
        ]
    )
    workspace.sessions.advance(start + 60.5)
    state = ExporterState()
    state.add(workspace)
    return state
