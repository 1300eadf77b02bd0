"""Logio history -> OpenMetrics text with timestamps, for ``promtool tsdb create-blocks-from``.

Prometheus only knows what it scraped. ``backfill`` reads a past range of the logio API
with the live exporter's own client, parsing, dedup and session rules, and samples the
state at every ``step``::

    # HELP cention_agents_logged_in Agents logged in. As of the last successful poll ...
    # TYPE cention_agents_logged_in gauge
    cention_agents_logged_in{workspace="demo"} 12 1767225600
    cention_agents_logged_in{workspace="demo"} 14 1767225660
    ...
    # EOF

Counting matches a live exporter started at ``--from``: ``poll.lookback`` before it is
read first to learn who is logged in, uncounted, so counters are 0 at ``--from``. The
sample at ``t`` reflects every record with a timestamp at or before ``t``.

Design: OpenMetrics wants each family, and each series within it, contiguous, while a
replay yields whole-state snapshots in time order. So the replay keeps only *changes*: at
each sample time, every agent that had a record since the previous one notes
``(index, logged_in, logins, logouts, seconds)`` in a compact array, and the workspace
totals note theirs when they differ. Between changes values hold still, except logged-in
seconds, which grow by the step while the agent is logged in. Memory thus grows with the
records, not with the samples; ``exposition`` then expands the changes family by family,
series by series, straight into the output file, with no temporary file per family.
The file is written as ``NAME.partial`` and renamed once complete.

Written: the families that make sense historically, with the live exporter's names,
labels, TYPE and HELP: agents logged in, the session duration histogram, records by
action, and per agent (unless ``metrics.per_agent`` is off) logged in, logins, logouts
and logged-in seconds. Not written: the exporter's own health (``cention_up``, requests,
errors), which no past scrape saw.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TypeVar

from exporter.collector import LogioCollector
from exporter.config import Config, WorkspaceConfig
from exporter.errors import (
    ExporterError,
    LogioError,
    NetworkError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
)
from exporter.logio import LogioClient
from exporter.poller import Fetcher
from exporter.records import Record, parse
from exporter.sessions import Sessions
from exporter.state import ExporterState
from exporter.validate import parse_duration
from exporter.window import RecordDedup, RowDedup, Window, plan_windows

log = logging.getLogger(__name__)

V = TypeVar("V")
_by_timestamp = attrgetter("timestamp")
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.\d+)?([Zz]|[+-]\d\d:\d\d)"
)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OWN_LABELS = frozenset(("workspace", "agent", "action", "le"))
_STRIDE = 5  # index, logged_in, logins, logouts, seconds
AGENT_COLUMNS = (
    ("cention_agent_logged_in", "", 1),
    ("cention_agent_logins", "_total", 2),
    ("cention_agent_logouts", "_total", 3),
    ("cention_agent_logged_in_seconds", "_total", 4),
)
RETRY_ATTEMPTS = 3
MAX_RETRY_WAIT = 60.0


def parse_time(text: str) -> int:
    """``2026-01-01`` (UTC midnight), an RFC 3339 time or unix seconds -> unix seconds.

    >>> parse_time("2026-01-01"), parse_time("2026-01-01T01:00:00+01:00")
    (1767225600, 1767225600)
    """
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return int(float(text))
    date, moment = _DATE.fullmatch(text), _RFC3339.fullmatch(text)
    try:
        if date:
            year, month, day = map(int, date.groups())
            return int(datetime(year, month, day, tzinfo=timezone.utc).timestamp())
        if moment:
            year, month, day, hour, minute, second = map(int, moment.groups()[:6])
            zone = timezone(_offset(moment[7]))
            return int(datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid time: {exc}") from None
    raise ValueError(
        f"expected YYYY-MM-DD, an RFC 3339 time such as 2026-01-01T08:00:00Z, "
        f"or unix seconds; got {text!r}"
    )


def _offset(zone: str) -> timedelta:
    if zone in ("Z", "z"):
        return timedelta(0)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return (-1 if zone[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)


def parse_step(text: str) -> int:
    """``1m`` -> 60: the seconds between samples, a whole number, at least one."""
    seconds = parse_duration(text)
    if seconds < 1 or not seconds.is_integer():
        raise ValueError(f"must be whole seconds, at least 1s; got {text!r}")
    return int(seconds)


def parse_label(text: str) -> tuple[str, str]:
    """``job=cention-logio`` -> ``("job", "cention-logio")``, a label for every series."""
    name, sep, value = text.partition("=")
    if not sep or not value or not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
        raise ValueError(f"expected NAME=VALUE such as job=cention-logio, got {text!r}")
    if name in _OWN_LABELS:
        raise ValueError(f"{name} is a label of the exporter's own")
    return name, value


@dataclass(frozen=True)
class Grid:
    """Sample times ``start, start + step, ...`` up to ``stop`` inclusive."""

    start: int
    stop: int
    step: int

    @classmethod
    def between(cls, start: int, stop: int, step: int, now: float) -> Grid:
        """A grid over a past range; ``ValueError`` names what is wrong with it."""
        if stop <= start:
            raise ValueError("--to must be after --from")
        if stop > now:
            raise ValueError("--to is in the future")
        if step < 1:
            raise ValueError("--step must be at least 1s")
        return cls(start, stop, step)

    def __len__(self) -> int:
        return (self.stop - self.start) // self.step + 1

    def time(self, index: int) -> int:
        return self.start + index * self.step

    @functools.cached_property
    def stamps(self) -> list[str]:
        """Each sample's timestamp with its line end, ready to join after a value."""
        return [f" {self.time(index)}\n" for index in range(len(self))]


def select(config: Config, names: Sequence[str] | None) -> tuple[WorkspaceConfig, ...]:
    """The workspaces named on the command line, or all of them."""
    if not names:
        return config.workspaces
    known = {w.workspace: w for w in config.workspaces}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"workspace {', '.join(unknown)} is not in the config (known: {', '.join(known)})"
        )
    return tuple(known[name] for name in dict.fromkeys(names))


class LogioReader:
    """Yields each record of consecutive windows once, in the order a poll applies them.

    As a poll does: one request per window (per agent when ``agents`` filters), ``parse``,
    a stable sort by timestamp, and dedup of what two windows sharing an end both return.
    """

    def __init__(self, client: Fetcher, workspace: WorkspaceConfig) -> None:
        self.client, self.workspace = client, workspace
        self.requests = self.records_read = self.invalid = 0
        self._seen, self._rows = RecordDedup(), RowDedup()

    def records(self, windows: Iterable[Window]) -> Iterator[Record]:
        names, fmt = self.workspace.agents or (None,), self.workspace.format
        for frm, to in windows:
            answers = [parse(self._fetch(frm, to, name), fmt) for name in names]
            rows = chain.from_iterable(answer.invalid for answer in answers)
            self.invalid += len(self._rows.fresh(rows, to))
            ordered = sorted(chain.from_iterable(a.records for a in answers), key=_by_timestamp)
            fresh = self._seen.fresh(ordered, to)
            self.records_read += len(fresh)
            yield from fresh
            self._seen.trim(to)
            self._rows.trim(to)

    def _fetch(self, frm: int, to: int, name: str | None) -> bytes:
        self.requests += 1
        return self.client.fetch(frm, to, name)


class Patient:
    """A ``Fetcher`` that retries what may pass (429, 5xx, timeouts, network) a few times."""

    def __init__(self, client: Fetcher, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.sleep = client, sleep

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        for attempt in range(1, RETRY_ATTEMPTS):
            try:
                return self.client.fetch(frm, to, name)
            except (RateLimitedError, ServerError, RequestTimeout, NetworkError) as exc:
                wait = getattr(exc, "retry_after", None) or 2.0**attempt
                log.warning("logio request failed (%s), retrying in %gs: %s", exc.reason, wait, exc)
                self.sleep(min(wait, MAX_RETRY_WAIT))
        return self.client.fetch(frm, to, name)


@dataclass
class History:
    """What changed in one workspace, and at which sample index."""

    workspace: str
    le: tuple[str, ...]
    totals: list[tuple[int, tuple[int, int, int]]] = field(default_factory=list)
    durations: list[tuple[int, tuple[tuple[int, ...], float]]] = field(default_factory=list)
    agents: dict[str, array[float]] = field(default_factory=dict)


Lines = Callable[[History, Grid, str, str], Iterator[str]]
"""A family's sample lines of one workspace, given its own labels and the extra ones."""

Span = tuple[int, int, float, int]
"""Samples ``first`` to ``stop - 1`` of one series: ``value``, growing by ``slope`` each."""


class Replay:
    """Records in application order -> ``Sessions`` -> the changes seen at each sample time."""

    def __init__(
        self, workspace: str, grid: Grid, buckets: Sequence[float], *, per_agent: bool = True
    ) -> None:
        self.grid, self.per_agent = grid, per_agent
        self.sessions = Sessions(buckets)
        le = tuple(bound for bound, _ in self.sessions.durations.cumulative())
        self.history = History(workspace, le)
        self._next, self._due = 0, grid.start
        self._touched: set[str] = set()
        self._durations_seen = 0

    def feed(self, records: Iterable[Record]) -> None:
        """Apply ``records``; a record's timestamp first closes every sample before it.

        Records between two samples are applied as one batch; reading stops at the first
        record after the last sample.
        """
        batch: list[Record] = []
        for record in records:
            if record.timestamp > self._due:
                self._apply(batch)
                while record.timestamp > self._due and self._next < len(self.grid):
                    self._sample()
                if self._next == len(self.grid):
                    return
            batch.append(record)
        self._apply(batch)

    def _apply(self, batch: list[Record]) -> None:
        self.sessions.apply(batch)
        self._touched.update(record.name for record in batch)
        batch.clear()

    def finish(self) -> History:
        """Take the samples no record has closed yet; the history is then complete."""
        while self._next < len(self.grid):
            self._sample()
        return self.history

    def _sample(self) -> None:
        index, sessions = self._next, self.sessions
        if index == 0:
            # The lookback before --from may be cut short by the API's retention, so an
            # agent's first record after it still starts its window: no anomaly.
            sessions.start_counting(self._due, close_window=False)
            self._touched.update(sessions.agents)
        sessions.advance(self._due)
        if self.per_agent:
            self._note_agents(index)
        else:
            self._touched.clear()
        self._note_totals(index)
        self._next = index + 1
        self._due = self.grid.time(min(self._next, len(self.grid) - 1))

    def _note_totals(self, index: int) -> None:
        sessions, history = self.sessions, self.history
        records = sessions.records_total
        totals = (sessions.logged_in_count, records["login"], records["logout"])
        if not history.totals or history.totals[-1][1] != totals:
            history.totals.append((index, totals))
        durations = sessions.durations
        if index == 0 or durations.count != self._durations_seen:
            counts = tuple(n for _, n in durations.cumulative())
            history.durations.append((index, (counts, durations.sum)))
            self._durations_seen = durations.count

    def _note_agents(self, index: int) -> None:
        sessions, agents = self.sessions, self.history.agents
        for name in self._touched:
            agent = sessions.agents[name]
            changes = agents.get(name)
            if changes is None:
                changes = agents[name] = array("d")
            seconds = sessions.logged_in_seconds(agent)
            changes.extend((index, agent.logged_in, agent.logins, agent.logouts, seconds))
        self._touched.clear()


def held(changes: Sequence[tuple[int, V]], length: int) -> Iterator[tuple[int, int, V]]:
    """``(first, stop, value)``: each value holds from its change up to the next one."""
    for (first, value), following in zip(changes, [*changes[1:], None], strict=True):
        yield first, length if following is None else following[0], value


def agent_spans(changes: array[float], length: int, column: int, step: int) -> Iterator[Span]:
    """One column of an agent's changes as spans; before its first change everything is 0.

    Logged-in seconds (column 4) grow by ``step`` per sample while the agent is logged in.
    """
    rows = list(zip(*[iter(changes)] * _STRIDE, strict=True))
    first = int(rows[0][0]) if rows else length
    if first:
        yield 0, first, 0.0, 0
    for row, following in zip(rows, [*rows[1:], None], strict=True):
        slope = step if column == 4 and row[1] else 0
        yield int(row[0]), length if following is None else int(following[0]), row[column], slope


def span_lines(prefix: str, span: Span, grid: Grid) -> str:
    """The sample lines of one span of one series, ``prefix`` being ``name{labels} ``.

    A span of one value is a single ``str.join``: the writer's hot path.
    """
    first, stop, value, slope = span
    stamps = grid.stamps[first:stop]
    if not slope:
        head = prefix + _number(value)
        return head + head.join(stamps) if stamps else ""
    if float(value).is_integer():  # always, with whole-second times: str of an int range
        values: Iterable[str] = map(str, range(int(value), int(value) + slope * len(stamps), slope))
    else:
        values = (_number(value + k * slope) for k in range(len(stamps)))
    return "".join([prefix + v + stamp for v, stamp in zip(values, stamps, strict=True)])


def metadata() -> dict[str, tuple[str, str]]:
    """TYPE and HELP of every family, as the live exporter's collector declares them."""
    return {m.name: (m.type, m.documentation) for m in LogioCollector(ExporterState()).collect()}


def exposition(
    histories: Sequence[History],
    grid: Grid,
    *,
    per_agent: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The OpenMetrics text in pieces, each family and each series contiguous, oldest first."""
    meta = metadata()
    extra = "".join(f',{name}="{_escape(value)}"' for name, value in (labels or {}).items())
    families: list[tuple[str, Lines]] = [
        ("cention_agents_logged_in", _logged_in_lines),
        ("cention_session_duration_seconds", _duration_lines),
        ("cention_logio_records", _record_lines),
    ]
    if per_agent:
        families += [
            (name, _agent_lines(name + end, column)) for name, end, column in AGENT_COLUMNS
        ]
    for name, lines in families:
        kind, text = meta[name]
        yield f"# HELP {name} {_escape(text)}\n# TYPE {name} {kind}\n"
        for history in histories:
            yield from lines(history, grid, f'workspace="{_escape(history.workspace)}"', extra)
    yield "# EOF\n"


def _logged_in_lines(history: History, grid: Grid, own: str, extra: str) -> Iterator[str]:
    prefix = f"cention_agents_logged_in{{{own}{extra}}} "
    for first, stop, totals in held(history.totals, len(grid)):
        yield span_lines(prefix, (first, stop, totals[0], 0), grid)


def _record_lines(history: History, grid: Grid, own: str, extra: str) -> Iterator[str]:
    for column, action in ((1, "login"), (2, "logout")):
        prefix = f'cention_logio_records_total{{{own},action="{action}"{extra}}} '
        for first, stop, totals in held(history.totals, len(grid)):
            yield span_lines(prefix, (first, stop, totals[column], 0), grid)


def _duration_lines(history: History, grid: Grid, own: str, extra: str) -> Iterator[str]:
    name = "cention_session_duration_seconds"
    buckets = [f'{name}_bucket{{{own},le="{le}"{extra}}} ' for le in history.le]
    count, total = f"{name}_count{{{own}{extra}}} ", f"{name}_sum{{{own}{extra}}} "
    for first, stop, (counts, seconds) in held(history.durations, len(grid)):
        heads = [f"{prefix}{n}" for prefix, n in zip(buckets, counts, strict=True)]
        heads += [f"{count}{counts[-1]}", f"{total}{_number(seconds)}"]
        yield "".join([stamp.join(heads) + stamp for stamp in grid.stamps[first:stop]])


def _agent_lines(name: str, column: int) -> Lines:
    def lines(history: History, grid: Grid, own: str, extra: str) -> Iterator[str]:
        for agent in sorted(history.agents):
            prefix = f'{name}{{{own},agent="{_escape(agent)}"{extra}}} '
            for span in agent_spans(history.agents[agent], len(grid), column, grid.step):
                yield span_lines(prefix, span, grid)

    return lines


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    """``12`` for whole numbers, however typed; the shortest exact form otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def read_history(config: Config, workspace: WorkspaceConfig, grid: Grid) -> History:
    """One workspace's history over ``grid``, read from the logio API; thin I/O."""
    client = LogioClient(
        workspace, timeout=config.poll.timeout, max_response_bytes=config.poll.max_response_bytes
    )
    reader = LogioReader(Patient(client), workspace)
    first = grid.start - int(config.poll.lookback)
    windows = plan_windows(
        None, grid.stop, overlap=0, lookback=grid.stop - first, max_window=config.poll.max_window
    )
    replay = Replay(
        workspace.workspace,
        grid,
        config.metrics.session_duration_buckets,
        per_agent=config.metrics.per_agent,
    )
    try:
        replay.feed(reader.records(windows))
    except LogioError as exc:
        raise ExporterError(
            f"workspace={workspace.workspace}: the logio API failed ({exc.reason}): {exc}"
        ) from None
    finally:
        client.close()
    log.info(
        "workspace=%s: %d records in %d requests, %d malformed rows skipped",
        workspace.workspace,
        reader.records_read,
        reader.requests,
        reader.invalid,
    )
    return replay.finish()


def run(
    config: Config,
    workspaces: Sequence[WorkspaceConfig],
    grid: Grid,
    output: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Read every workspace, then write the OpenMetrics file (``-``: standard output)."""
    histories = [read_history(config, workspace, grid) for workspace in workspaces]
    lines = exposition(histories, grid, per_agent=config.metrics.per_agent, labels=labels)
    write(lines, output)
    log.info("wrote %s: %d sample times every %ds", output, len(grid), grid.step)


def write(lines: Iterable[str], output: str) -> None:
    """Stream ``lines`` into a ``.partial`` file renamed once complete, or to stdout for ``-``."""
    if output == "-":
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
            out.writelines(lines)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
