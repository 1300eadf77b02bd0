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

Design: the replay notes only what changed at each sample time, so memory grows with the
records, not the samples; ``exporter.commands.openmetrics`` expands those changes into the file.

Written: the families that make sense historically, with the live exporter's names,
labels, TYPE and HELP: agents logged in, the session duration histogram, records by
action, and per agent (unless ``metrics.per_agent`` is off) logged in, logins, logouts
and logged-in seconds. Not written: the exporter's own health (``cention_up``, requests,
errors), which no past scrape saw.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone

from exporter.commands import flags
from exporter.commands.openmetrics import Grid, History, exposition, own_labels, write
from exporter.config import Config, WorkspaceConfig
from exporter.core.records import Row
from exporter.core.sessions import Sessions
from exporter.core.window import plan_windows
from exporter.errors import (
    ExporterError,
    LogioError,
)
from exporter.logio import LogioClient, Patient
from exporter.logs import fields
from exporter.reader import LogioReader
from exporter.validate import parse_duration

log = logging.getLogger(__name__)

_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.\d+)?([Zz]|[+-]\d\d:\d\d)"
)
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
    if name in own_labels():
        raise ValueError(f"{name} is a label of the exporter's own")
    return name, value


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

    def feed(self, records: Iterable[Row]) -> None:
        """Apply ``records``; a record's timestamp first closes every sample before it.

        Records between two samples are applied as one batch; reading stops at the first
        record after the last sample.
        """
        batch: list[Row] = []
        for record in records:
            timestamp = record[1]
            if timestamp > self._due:
                self._apply(batch)
                while timestamp > self._due and self._next < len(self.grid):
                    self._sample()
                if self._next == len(self.grid):
                    return
            batch.append(record)
        self._apply(batch)

    def _apply(self, batch: list[Row]) -> None:
        self.sessions.apply(batch)
        self._touched.update(name for name, _, _ in batch)
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


def read_history(config: Config, workspace: WorkspaceConfig, grid: Grid) -> History:
    """One workspace's history over ``grid``, read from the logio API; thin I/O."""
    client = LogioClient.from_config(workspace, config.poll)
    reader = LogioReader(Patient(client), workspace, config.poll.overlap)
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
        "history read",
        extra=fields(
            workspace=workspace.workspace,
            records=reader.records_read,
            requests=reader.requests,
            invalid=reader.invalid,
        ),
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
    log.info(
        "backfill written", extra=fields(path=output, sample_times=len(grid), step=f"{grid.step}s")
    )


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("backfill", help="write past metrics as OpenMetrics for promtool")
    flags.config_file(cmd)
    times = "YYYY-MM-DD (UTC midnight), an RFC 3339 time or unix seconds"
    cmd.add_argument(
        "--from",
        dest="start",
        required=True,
        type=flags.checked(parse_time),
        metavar="TIME",
        help=times,
    )
    cmd.add_argument(
        "--to",
        dest="stop",
        required=True,
        type=flags.checked(parse_time),
        metavar="TIME",
        help=f"{times}; at most the live exporter's first scrape",
    )
    cmd.add_argument(
        "--step",
        type=flags.checked(parse_step),
        default=60,
        metavar="DURATION",
        help="time between samples (default: 1m)",
    )
    flags.workspaces(cmd)
    cmd.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=flags.checked(parse_label),
        help="add this label to every series, e.g. job=cention-logio; repeatable",
    )
    cmd.add_argument(
        "--output",
        required=True,
        metavar="PATH",
        help="the OpenMetrics file to write; - for standard output",
    )
    flags.log(cmd)
    return cmd


def main(args: argparse.Namespace, config: Config, workspaces: Sequence[WorkspaceConfig]) -> int:
    """The command, once the config is loaded: 0, 1 if reading or writing failed, 2 if the
    range is wrong."""
    try:
        grid = Grid.between(args.start, args.stop, args.step, time.time())
    except ValueError as exc:
        flags.error(args, str(exc))
        return 2
    try:
        run(config, workspaces, grid, args.output, dict(args.labels))
    except (ExporterError, OSError) as exc:
        log.error("backfill failed", extra=fields(error=str(exc)))
        return 1
    return 0
