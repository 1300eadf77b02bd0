"""Who is logged in now: one read of the lookback, printed, then exit.

For the on-call person when Grafana is down. The records of ``poll.lookback`` go through
the same client, parsing, dedup and session rules as the exporter's first poll::

    $ cention-logio-exporter query --config.file config.yaml
    WORKSPACE  AGENT           SINCE (UTC)          FOR
    demo       anna.lindqvist  2026-01-05 08:02:11  3:12:05
    demo       erik.berg       2026-01-04 22:40:00  1d 12:34:16

``--output json`` prints the same as a list of
``{"workspace", "agent", "since", "since_iso", "seconds"}`` objects, ``since`` in unix seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from exporter.commands import flags
from exporter.config import Config, WorkspaceConfig
from exporter.core.sessions import Sessions
from exporter.core.window import plan_windows
from exporter.errors import LogioError
from exporter.logio import Fetcher, LogioClient
from exporter.reader import LogioReader

HEADER = ("WORKSPACE", "AGENT", "SINCE (UTC)", "FOR")


@dataclass(frozen=True)
class LoggedIn:
    """One agent logged in: since when (unix seconds) and for how long as of the query."""

    workspace: str
    agent: str
    since: int
    seconds: int

    def as_json(self) -> dict[str, object]:
        return {
            "workspace": self.workspace,
            "agent": self.agent,
            "since": self.since,
            "since_iso": _utc(self.since).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": self.seconds,
        }


def logged_in(sessions: Sessions, workspace: str, now: int) -> list[LoggedIn]:
    """Every agent with an open session, by name."""
    rows = [
        LoggedIn(workspace, name, agent.session_start, max(0, now - agent.session_start))
        for name, agent in sessions.agents.items()
        if agent.session_start is not None
    ]
    return sorted(rows, key=lambda row: row.agent)


def read_logged_in(
    client: Fetcher, workspace: WorkspaceConfig, config: Config, now: int
) -> list[LoggedIn]:
    """Read the lookback up to ``now`` as a first poll does; who is logged in at its end."""
    poll = config.poll
    windows = plan_windows(
        None, now, overlap=poll.overlap, lookback=poll.lookback, max_window=poll.max_window
    )
    sessions = Sessions(config.metrics.session_duration_buckets)
    sessions.apply(LogioReader(client, workspace, poll.overlap).records(windows))
    return logged_in(sessions, workspace.workspace, now)


def query(
    config: Config, workspaces: Sequence[WorkspaceConfig], now: int
) -> tuple[list[LoggedIn], list[str]]:
    """Who is logged in, by workspace then agent; and one message per workspace that failed.

    Messages come from ``LogioError``, which never holds the token.
    """
    rows: list[LoggedIn] = []
    failures: list[str] = []
    for workspace in workspaces:
        client = LogioClient.from_config(workspace, config.poll)
        try:
            rows += read_logged_in(client, workspace, config, now)
        except LogioError as exc:
            failures.append(
                f"workspace={workspace.workspace}: cannot read the logio API ({exc.reason}): {exc}"
            )
        finally:
            client.close()
    return sorted(rows, key=lambda row: (row.workspace, row.agent)), failures


def render_table(rows: Sequence[LoggedIn]) -> str:
    """Aligned columns under a header; a sentence when nobody is logged in."""
    if not rows:
        return "No agent is logged in.\n"
    cells = [HEADER] + [
        (row.workspace, row.agent, _utc(row.since).strftime("%Y-%m-%d %H:%M:%S"), _for(row))
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADER) - 1)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + f"  {line[-1]}\n"
        for line in cells
    )


def render_json(rows: Sequence[LoggedIn]) -> str:
    return json.dumps([row.as_json() for row in rows], ensure_ascii=False, indent=2) + "\n"


def _for(row: LoggedIn) -> str:
    """``3:12:05``, or ``1d 12:34:16`` past a day."""
    days, rest = divmod(row.seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"{days}d {hours:02d}:{minutes:02d}:{seconds:02d}"
        if days
        else f"{hours}:{minutes:02d}:{seconds:02d}"
    )


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("query", help="print who is logged in now, then exit")
    flags.config_file(cmd)
    flags.workspaces(cmd)
    cmd.add_argument("--output", default="table", choices=["table", "json"])
    flags.quiet(cmd)
    return cmd


def main(
    args: argparse.Namespace,
    config: Config,
    workspaces: Sequence[WorkspaceConfig],
    scrub: Callable[[str], str],
) -> int:
    """The command, once the config is loaded: 0, or 1 if a workspace could not be read."""
    rows, failures = query(config, workspaces, int(time.time()))
    if len(failures) < len(workspaces):
        render = render_json if args.output == "json" else render_table
        sys.stdout.write(render(rows))
    for failure in failures:
        print(scrub(failure), file=sys.stderr)
    return 1 if failures else 0
