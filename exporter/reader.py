"""Windows read in pieces, every answer of a piece parsed, in the order its records apply.

The poller and the one-shot commands (``backfill``, ``query``) read the logio API alike:
a ``Reader`` asks for one window in pieces (once per agent when ``agents`` filters),
parses each answer with ``parse_batch``, keeps of an agent's answer only that agent's
rows, and merges them in time order; ``Overlap.take`` then keeps what no earlier piece
brought. A piece whose answers did not all arrive raises, so nothing of it is applied.

A piece is as wide as keeps its answers under ``ANSWER_BYTES``: what parsing holds at
once grows with the records of one request, so a day of a large center is read an hour
or a few minutes at a time, and the memory of the initial lookback stays bounded
whatever the center's size. Pieces chain as ``plan_windows``' windows do, the next
starting at the second the last one ended, so each is a window of its own for
``Overlap.take`` and the watermark: the state changes once per piece, in order.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, compress
from operator import attrgetter

from exporter.config import WorkspaceConfig
from exporter.core.parsing import parse_batch
from exporter.core.records import Batch, Parsed, Row
from exporter.core.window import Overlap, Window
from exporter.logio import Fetcher, at_most
from exporter.logs import fields

log = logging.getLogger(__name__)

ANSWER_BYTES = 2 * 1024 * 1024
"""The most bytes of answers one piece is parsed from: a piece whose answers weigh more
is dropped unparsed and read again as two halves. Parsing holds about eight times its
answers at once, so this bounds a piece to some 16 MB, some 45,000 records."""
FIRST_WIDTH = 3600
"""Seconds a reader's first piece spans, before any answer told how busy the center is."""
MIN_WIDTH = 60
"""A piece this narrow is parsed whatever its answers weigh."""
FOREIGN = "foreign "
"""The start of an invalid row's text for a row of another agent in an agent's answer: no
malformed row's text (JSON) starts so."""

_by_timestamp = attrgetter("timestamp")


class Reader:
    """Reads one workspace's windows piece by piece, remembering how wide a piece can be.

    A piece whose answers weigh more than ``ANSWER_BYTES`` is read again half as wide,
    down to ``MIN_WIDTH``. After one that weighed under a quarter of it, the next is twice
    as wide, up to the window's own width, and no wider than the densest piece so far says
    stays under ``ANSWER_BYTES``. Days without records widen it up to the window, so a
    quiet history costs a request a window: the piece that meets the first busy day costs
    then at most ``ANSWER_BYTES`` read per halving, since the client stops reading there.
    The width carries over to the next window.
    """

    def __init__(self, workspace: WorkspaceConfig, names: dict[str, str] | None = None) -> None:
        self.workspace = workspace
        self.names: dict[str, str] = {} if names is None else names
        """``parse_batch``'s names already accepted, shared by every parse."""
        self.width = FIRST_WIDTH
        self.density = 0.0
        """The most bytes of answers per second of any piece so far."""
        self.requests = 0
        """Requests made, pieces read again included."""

    def pieces(self, client: Fetcher, window: Window) -> Iterator[tuple[int, Batch]]:
        """Each piece's end and batch, in order: apply one before asking for the next,
        which is read only then. Raises ``LogioError`` when any answer of a piece fails."""
        frm, to = window
        while True:
            end = min(frm + self.width, to)
            bodies, size = self._answers(client, (frm, end))
            self.density = max(self.density, size / max(1, end - frm))
            if bodies is None:
                self.width = max(MIN_WIDTH, (end - frm) // 2)
                continue
            if size < ANSWER_BYTES // 4:
                grown = min(2 * self.width, to - window[0], self._widest())
                self.width = max(self.width, grown)
            batch = parse_answers(bodies, self.workspace, self.names)
            del bodies
            yield end, batch
            del batch  # before the next piece is read: one piece's records at a time
            if end >= to:
                return
            frm = end

    def _widest(self) -> int:
        """The widest piece the densest piece so far says stays under ``ANSWER_BYTES``."""
        return int(ANSWER_BYTES / self.density) if self.density else sys.maxsize

    def _answers(self, client: Fetcher, piece: Window) -> tuple[list[bytes] | None, int]:
        """The bodies of every answer of ``piece`` and what they weigh; or None once they
        weigh more than ``ANSWER_BYTES`` and the piece can be split, read no further than
        that where the client can stop, and ``ANSWER_BYTES`` as the least they weighed."""
        frm, to = piece
        bodies: list[bytes] = []
        size = 0
        for name in self.workspace.agents or (None,):
            self.requests += 1
            if to - frm <= MIN_WIDTH:
                body: bytes | None = client.fetch(frm, to, name)
            else:
                body = at_most(client, frm, to, name, ANSWER_BYTES - size)
            if body is None:
                return None, ANSWER_BYTES
            bodies.append(body)
            size += len(body)
        return bodies, size


def parse_answers(
    bodies: Sequence[bytes], workspace: WorkspaceConfig, names: dict[str, str] | None
) -> Batch:
    """The answers of one piece, one per agent of ``workspace.agents`` or one for all, as
    one batch in application order; an agent's answer keeps only that agent's rows."""
    fmt, agents = workspace.format, workspace.agents
    answers = [parse_batch(body, fmt, names) for body in bodies]
    if agents:
        pairs = zip(answers, agents, strict=True)
        answers = [own_rows(answer, name, workspace.workspace) for answer, name in pairs]
    return in_time_order(answers)


def own_rows(answer: Batch, name: str, workspace: str = "") -> Batch:
    """``answer`` to a request for ``name=name`` with only that agent's records.

    The API document does not say its filter is an exact match, so a row of any other
    name (``anna`` in the answer for ``ann``) is not counted for either: it becomes an
    invalid row whose text says so, counted once like any other, and logged. ``anna``'s
    own records come from the answer for ``anna``, if she is listed.
    """
    names = answer.names
    if names.count(name) == len(names):
        return answer
    own = [other == name for other in names]
    foreign = [
        FOREIGN + json.dumps([name, *row], ensure_ascii=False)
        for row, mine in zip(answer.rows(), own, strict=True)
        if not mine
    ]
    log.debug(
        "rows of other agents skipped",
        extra=fields(
            workspace=workspace,
            asked=name,
            rows=len(foreign),
            agents=",".join(sorted(set(names).difference((name,)))),
        ),
    )
    return Batch(
        list(compress(names, own)),
        list(compress(answer.timestamps, own)),
        list(compress(answer.actions, own)),
        [*answer.invalid, *foreign],
    )


def in_time_order(answers: list[Batch]) -> Batch:
    """The answers' records as one batch in time order, stably: records of one second keep
    the order the API gave them. A single answer, as the API sends it, is already so.
    The invalid rows of every answer come along."""
    if len(answers) == 1 and answers[0].in_time_order():
        return answers[0]
    records = sorted(chain.from_iterable(a.records() for a in answers), key=_by_timestamp)
    return Batch.of(Parsed(records, [row for answer in answers for row in answer.invalid]))


class LogioReader:
    """Consecutive windows read once, as polls read them, for the one-shot commands.

    Keeps no state beyond one run: the overlap's memory, and figures for the log line.
    """

    def __init__(self, client: Fetcher, workspace: WorkspaceConfig, overlap: float) -> None:
        self.client, self.overlap = client, overlap
        self.reader = Reader(workspace)
        self.memory = Overlap()
        self.records_read = self.invalid = 0

    @property
    def requests(self) -> int:
        return self.reader.requests

    def records(self, windows: Iterable[Window]) -> Iterator[Row]:
        """Each new record of ``windows``, in application order."""
        for window in windows:
            for end, batch in self.reader.pieces(self.client, window):
                new, count, invalid = self.memory.take(batch, end, self.overlap)
                del batch  # the next piece is read while this one's records are consumed
                self.records_read += count
                self.invalid += invalid
                yield from new.rows()
