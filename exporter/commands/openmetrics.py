"""Timestamped OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``.

OpenMetrics wants each family, and each series within it, contiguous, while a replay of
history yields whole-state snapshots in time order. So a ``History`` keeps only *changes*:
at each sample time, every agent that had a record since the previous one notes
``(index, logged_in, logins, logouts, seconds)`` in a compact array, and the workspace
totals note theirs when they differ. Between changes values hold still, except logged-in
seconds, which grow by the step while the agent is logged in. ``exposition`` expands the
changes family by family, series by series, straight into the output, with no temporary
file per family; ``write`` streams it into ``NAME.partial``, renamed once complete.
"""

from __future__ import annotations

import functools
import os
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from exporter import metrics
from exporter.metrics import Family

V = TypeVar("V")
STRIDE = 5  # index, logged_in, logins, logouts, seconds
AGENT_COLUMNS = (
    (metrics.AGENT_LOGGED_IN, 1),
    (metrics.AGENT_LOGINS, 2),
    (metrics.AGENT_LOGOUTS, 3),
    (metrics.AGENT_LOGGED_IN_SECONDS, 4),
)
"""The per-agent families written, each with its column in an agent's changes."""


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


@dataclass
class History:
    """What changed in one workspace, and at which sample index."""

    workspace: str
    le: tuple[str, ...]
    totals: list[tuple[int, tuple[int, int, int]]] = field(default_factory=list)
    durations: list[tuple[int, tuple[tuple[int, ...], float]]] = field(default_factory=list)
    agents: dict[str, array[float]] = field(default_factory=dict)


Lines = Callable[[Family, History, Grid, str, str], Iterator[str]]
"""A family's sample lines of one workspace, given its own labels and the extra ones."""

Span = tuple[int, int, float, int]
"""Samples ``first`` to ``stop - 1`` of one series: ``value``, growing by ``slope`` each."""


def held(changes: Sequence[tuple[int, V]], length: int) -> Iterator[tuple[int, int, V]]:
    """``(first, stop, value)``: each value holds from its change up to the next one."""
    for (first, value), following in zip(changes, [*changes[1:], None], strict=True):
        yield first, length if following is None else following[0], value


def agent_spans(changes: array[float], length: int, column: int, step: int) -> Iterator[Span]:
    """One column of an agent's changes as spans; before its first change everything is 0.

    Logged-in seconds (column 4) grow by ``step`` per sample while the agent is logged in.
    """
    rows = list(zip(*[iter(changes)] * STRIDE, strict=True))
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


def exposition(
    histories: Sequence[History],
    grid: Grid,
    *,
    per_agent: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The OpenMetrics text in pieces, each family and each series contiguous, oldest first."""
    extra = "".join(f',{name}="{_escape(value)}"' for name, value in (labels or {}).items())
    for family, lines in _families(per_agent):
        yield family.openmetrics_header
        for history in histories:
            own = f'workspace="{_escape(history.workspace)}"'
            yield from lines(family, history, grid, own, extra)
    yield "# EOF\n"


def own_labels() -> frozenset[str]:
    """The label names of the written series, which no extra label may take."""
    return frozenset({"le"}.union(*(family.labels for family, _ in _families(per_agent=True))))


def _families(per_agent: bool) -> list[tuple[Family, Lines]]:
    """The families written, those that make sense for a past time, each with its lines."""
    families: list[tuple[Family, Lines]] = [
        (metrics.AGENTS_LOGGED_IN, _logged_in_lines),
        (metrics.SESSION_DURATION, _duration_lines),
        (metrics.RECORDS, _record_lines),
    ]
    if per_agent:
        families += [(family, _agent_lines(column)) for family, column in AGENT_COLUMNS]
    return families


def _logged_in_lines(
    family: Family, history: History, grid: Grid, own: str, extra: str
) -> Iterator[str]:
    (name,) = family.samples
    prefix = f"{name}{{{own}{extra}}} "
    for first, stop, totals in held(history.totals, len(grid)):
        yield span_lines(prefix, (first, stop, totals[0], 0), grid)


def _record_lines(
    family: Family, history: History, grid: Grid, own: str, extra: str
) -> Iterator[str]:
    (name,) = family.samples
    for column, action in ((1, "login"), (2, "logout")):
        prefix = f'{name}{{{own},action="{action}"{extra}}} '
        for first, stop, totals in held(history.totals, len(grid)):
            yield span_lines(prefix, (first, stop, totals[column], 0), grid)


def _duration_lines(
    family: Family, history: History, grid: Grid, own: str, extra: str
) -> Iterator[str]:
    bucket, count, total = family.samples
    buckets = [f'{bucket}{{{own},le="{le}"{extra}}} ' for le in history.le]
    count, total = f"{count}{{{own}{extra}}} ", f"{total}{{{own}{extra}}} "
    for first, stop, (counts, seconds) in held(history.durations, len(grid)):
        heads = [f"{prefix}{n}" for prefix, n in zip(buckets, counts, strict=True)]
        heads += [f"{count}{counts[-1]}", f"{total}{_number(seconds)}"]
        yield "".join([stamp.join(heads) + stamp for stamp in grid.stamps[first:stop]])


def _agent_lines(column: int) -> Lines:
    def lines(family: Family, history: History, grid: Grid, own: str, extra: str) -> Iterator[str]:
        (name,) = family.samples
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
