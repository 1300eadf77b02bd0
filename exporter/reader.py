"""One window read: every answer of it, parsed, in the order its records apply.

The poller and the one-shot commands (``backfill``, ``query``) read the logio API alike:
``read_window`` asks for one window (once per agent when ``agents`` filters), parses each
answer with ``parse_batch`` and merges them in time order; ``Overlap.take`` then keeps
what no earlier window brought. A window whose answers did not all arrive raises, so
nothing of it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from operator import attrgetter

from exporter.config import WorkspaceConfig
from exporter.core.parsing import parse_batch
from exporter.core.records import Batch, Parsed, Row
from exporter.core.window import Overlap, Window
from exporter.logio import Fetcher

_by_timestamp = attrgetter("timestamp")


def read_window(
    client: Fetcher,
    workspace: WorkspaceConfig,
    window: Window,
    names: dict[str, str] | None = None,
) -> Batch:
    """Every answer of ``window``, parsed and merged in application order.

    ``names`` is ``parse_batch``'s dict of names already accepted, shared across calls.
    Raises ``LogioError`` when any answer fails, before anything is returned.
    """
    frm, to = window
    fmt = workspace.format
    agents = workspace.agents or (None,)
    return in_time_order([parse_batch(client.fetch(frm, to, name), fmt, names) for name in agents])


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
        self.client, self.workspace, self.overlap = client, workspace, overlap
        self.memory = Overlap()
        self.names: dict[str, str] = {}
        self.requests = self.records_read = self.invalid = 0

    def records(self, windows: Iterable[Window]) -> Iterator[Row]:
        """Each new record of ``windows``, in application order."""
        for window in windows:
            batch = read_window(self.client, self.workspace, window, self.names)
            self.requests += len(self.workspace.agents) or 1
            new, count, invalid = self.memory.take(batch, window[1], self.overlap)
            self.records_read += count
            self.invalid += invalid
            yield from new
