"""Reading a range of the logio API once, as a poll would, for backfill and query.

A poll keeps state between calls; these one-shot readers keep none beyond one run, and
retry what may pass instead of waiting for the next poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from operator import attrgetter

from exporter.config import Config, WorkspaceConfig
from exporter.core.records import Batch, Parsed, Record, parse
from exporter.core.window import Overlap, Window
from exporter.errors import NetworkError, RateLimitedError, RequestTimeout, ServerError
from exporter.poller import Fetcher

log = logging.getLogger(__name__)

_by_timestamp = attrgetter("timestamp")
RETRY_ATTEMPTS = 3
MAX_RETRY_WAIT = 60.0


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
        self._overlap = Overlap()

    def records(self, windows: Iterable[Window]) -> Iterator[Record]:
        names, fmt = self.workspace.agents or (None,), self.workspace.format
        for frm, to in windows:
            answers = [parse(self._fetch(frm, to, name), fmt) for name in names]
            rows = [row for answer in answers for row in answer.invalid]
            ordered = sorted(chain.from_iterable(a.records for a in answers), key=_by_timestamp)
            new, invalid = self._overlap.take(Batch.of(Parsed(ordered, rows)), to, 0)
            fresh = [Record._make(row) for row in new]
            self.invalid += invalid
            self.records_read += len(fresh)
            yield from fresh

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
