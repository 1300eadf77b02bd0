"""Exact logged-in time per agent and local day, or per session, as CSV or JSON.

For workforce planners and payroll: ``increase()`` extrapolates, this counts. The range's
records are read with the live exporter's client, parsing and dedup, from ``poll.lookback``
before ``--from`` (who was logged in when the first day began), and turned into rows by
``exporter.core.report`` with its session rules::

    $ cention-logio-exporter report --from 2026-11-01 --to 2026-11-30 --timezone Europe/Stockholm
    workspace,agent,date,logged_in_seconds,sessions,logins,logouts,first_login,last_logout
    demo,anna.lindqvist,2026-11-02,27312,9,9,9,2026-11-02T07:58:03+01:00,2026-11-02T16:31:40+01:00

Days are the zone's local dates, ``--from`` and ``--to`` both included; ``--to`` may be
today at the latest, whose sessions still open count up to now. A report is written whole
or not at all: when a workspace cannot be read, nothing is written and the command exits 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TextIO
from zoneinfo import ZoneInfo

from exporter.commands import flags
from exporter.commands.openmetrics import write
from exporter.config import Config, WorkspaceConfig
from exporter.core.localtime import wall_clock
from exporter.core.report import DayRow, Days, Ledger, SessionRow, by_day, by_session
from exporter.core.schedule import UTC, parse_date, parse_zone
from exporter.core.window import Window, plan_windows
from exporter.errors import LogioError
from exporter.logio import Fetcher, LogioClient, Patient
from exporter.logs import fields as log_fields
from exporter.reader import LogioReader

log = logging.getLogger(__name__)
ReportRow = DayRow | SessionRow
KINDS: dict[str, type[ReportRow]] = {"day": DayRow, "session": SessionRow}


def zone_of(workspace: WorkspaceConfig) -> ZoneInfo:
    """The time zone of ``workspace``'s days: its schedule's when one is configured, and
    UTC without one."""
    return UTC if workspace.schedule is None else workspace.schedule.zone


def days_of(first: date, last: date, zone: ZoneInfo, now: float) -> Days:
    """The local days ``first`` to ``last``, up to ``now``; ValueError naming the flag if
    the range is reversed or ends after today."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    today = wall_clock(zone, now)[0]
    if last > today:
        raise ValueError(f"--to {last} is after today, {today} in {zone.key}")
    return Days.between(zone, first, last, until=int(now))


class Progress:
    """A line per window read on ``stream`` when it is a terminal, each over the last."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.shown = stream, stream.isatty()

    def windows(
        self, windows: Sequence[Window], workspace: str, zone: ZoneInfo
    ) -> Iterator[Window]:
        for number, window in enumerate(windows, 1):
            if self.shown:
                day = wall_clock(zone, window[0])[0]
                self._show(f"workspace={workspace}: reading {day} ({number}/{len(windows)})")
            yield window

    def clear(self) -> None:
        if self.shown:
            self._show("")

    def _show(self, line: str) -> None:
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()


def read_ledger(
    client: Fetcher, workspace: WorkspaceConfig, config: Config, days: Days, progress: Progress
) -> Ledger:
    """The range's records and those of ``poll.lookback`` before it, applied."""
    poll, last = config.poll, days.end - 1
    reader = LogioReader(client, workspace, poll.overlap)
    lookback = last - (days.start - int(poll.lookback))
    windows = plan_windows(None, last, overlap=0, lookback=lookback, max_window=poll.max_window)
    ledger = Ledger(days)
    try:
        ledger.feed(reader.records(progress.windows(windows, workspace.workspace, days.zone)))
    finally:
        progress.clear()
    if reader.invalid:
        log.warning(
            "malformed rows skipped",
            extra=log_fields(workspace=workspace.workspace, rows=reader.invalid),
        )
    return ledger


def report(
    config: Config, ranges: Sequence[tuple[WorkspaceConfig, Days]], by: str, progress: Progress
) -> tuple[list[ReportRow], list[str]]:
    """Every workspace's rows, by workspace; and one message per workspace that failed.

    Messages come from ``LogioError``, which never holds the token.
    """
    rows: list[ReportRow] = []
    failures: list[str] = []
    rows_of: Callable[[str, Ledger], Sequence[ReportRow]] = by_day if by == "day" else by_session
    for workspace, days in ranges:
        client = LogioClient.from_config(workspace, config.poll)
        try:
            ledger = read_ledger(Patient(client), workspace, config, days, progress)
            rows += rows_of(workspace.workspace, ledger)
        except LogioError as exc:
            failures.append(
                f"workspace={workspace.workspace}: cannot read the logio API ({exc.reason}): {exc}"
            )
        finally:
            client.close()
    return sorted(rows, key=lambda row: row.workspace), failures


def render_csv(kind: type[ReportRow], rows: Sequence[ReportRow]) -> str:
    """A header line, then a line per row: times in ISO 8601 with their offset, no time as
    an empty cell, flags as ``true`` or ``false``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(kind._fields)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()


def render_json(kind: type[ReportRow], rows: Sequence[ReportRow]) -> str:
    """A list of objects with the CSV's columns as keys; no time is null."""
    objects = [dict(zip(kind._fields, map(_plain, row), strict=True)) for row in rows]
    return json.dumps(objects, ensure_ascii=False, indent=2) + "\n"


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else _plain(value)


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "report", help="write each agent's exact logged-in time per local day or per session"
    )
    flags.config_file(cmd)
    day = flags.checked(parse_date)
    cmd.add_argument(
        "--from",
        dest="first",
        required=True,
        type=day,
        metavar="DATE",
        help="first local day, YYYY-MM-DD",
    )
    cmd.add_argument(
        "--to",
        dest="last",
        required=True,
        type=day,
        metavar="DATE",
        help="last local day, included",
    )
    flags.workspaces(cmd)
    cmd.add_argument(
        "--timezone",
        type=flags.checked(parse_zone),
        metavar="ZONE",
        help="IANA name such as Europe/Stockholm (default: the schedule's, UTC without one)",
    )
    cmd.add_argument("--by", default="day", choices=list(KINDS))
    cmd.add_argument("--output", default="csv", choices=["csv", "json"])
    cmd.add_argument(
        "--out", default="-", metavar="FILE", help="written whole or not at all (default: stdout)"
    )
    flags.quiet(cmd)
    return cmd


def main(
    args: argparse.Namespace,
    config: Config,
    workspaces: Sequence[WorkspaceConfig],
    scrub: Callable[[str], str],
) -> int:
    """The command, once the config is loaded: 0; 1 if a workspace could not be read or the
    file not written; 2 if the range is wrong."""
    now = time.time()
    try:
        ranges = [
            (w, days_of(args.first, args.last, args.timezone or zone_of(w), now))
            for w in workspaces
        ]
    except ValueError as exc:
        flags.error(args, str(exc))
        return 2
    rows, failures = report(config, ranges, args.by, Progress(sys.stderr))
    for failure in failures:
        print(scrub(failure), file=sys.stderr)
    if failures:
        return 1
    render = render_json if args.output == "json" else render_csv
    try:
        write([render(KINDS[args.by], rows)], args.out)
    except OSError as exc:
        print(f"cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
