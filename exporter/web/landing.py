"""The landing page at ``/``: what this is, where its endpoints are, and how each workspace does.

Laid out like the exporter-toolkit's page (name, one-line description, version line,
links that say what they are), followed by a table of every workspace as of this request
and the names of the agents logged in. Every text from outside (workspace and agent
names, reasons, paths) is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from exporter.web.status import WorkspaceStatus

NAME = "cention-logio-exporter"
DESCRIPTION = "Prometheus exporter for Cention Contact Center's logio (login/logout) API"
NAMES_SHOWN = 1000
"""Agent names listed per workspace; the rest are counted, so the page stays small."""
NAMES_OPEN = 100
"""A list this long or shorter is shown unfolded; a longer one opens with a click."""
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1d1d1f; }
header { background: #e6522c; color: #fff; padding: 0.6rem 1rem; }
header h1 { font-size: 1.4rem; margin: 0; }
main { padding: 0.5rem 1rem 1rem; max-width: 70rem; }
h2 { font-size: 1.05rem; font-weight: normal; }
h3 { font-size: 1rem; margin: 1.4rem 0 0.4rem; }
ul.links { padding-left: 1.2rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.35rem 1.2rem 0.35rem 0; border-bottom: 1px solid #ddd;
  vertical-align: top; white-space: nowrap; }
th { font-weight: 600; border-bottom-width: 2px; }
.number { text-align: right; }
.ok { color: #1a7f37; }
.bad { color: #c62828; font-weight: 600; }
.ago, .asof { color: #666; font-size: 0.85rem; }
.ago { display: block; }
.asof { margin: 0 0 0.4rem; }
details { margin: 0.3rem 0; }
summary { cursor: pointer; }
ul.agents { columns: 12rem; column-gap: 1.5rem; margin: 0.3rem 0; padding-left: 1.2rem;
  font-size: 0.9rem; }
"""
COLUMNS = (
    "Workspace",
    "Polling",
    "Ready",
    "Agents logged in",
    "Last successful poll",
    "Newest record",
    "Reason",
)
NUMBER_COLUMN = "Agents logged in"


def landing_page(
    *,
    version: str,
    telemetry_path: str,
    docs_url: str | None = None,
    workspaces: Sequence[WorkspaceStatus] | None = None,
    now: float,
) -> str:
    """The page as HTML; ``workspaces`` None leaves out the status part altogether."""
    links = [
        (telemetry_path, "Metrics", "the samples Prometheus scrapes"),
        ("/-/healthy", "Health", "200 while the process runs (also /healthz)"),
        ("/-/ready", "Readiness", "200 once every workspace finished its initial lookback"),
    ]
    if docs_url is not None:
        links.append((docs_url, "Documentation", "configuration, metrics and the alert runbook"))
    items = "\n".join(
        f'<li><a href="{escape(href)}">{text}</a>: {what}</li>' for href, text, what in links
    )
    status = "" if workspaces is None else _status(workspaces, now)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{NAME}</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>{NAME}</h1></header>
<main>
<h2>{DESCRIPTION}</h2>
<div>Version: {escape(version)}</div>
<ul class="links">
{items}
</ul>
{status}</main>
</body>
</html>
"""


def _status(workspaces: Sequence[WorkspaceStatus], now: float) -> str:
    if not workspaces:
        return "<h3>Workspaces</h3>\n<p>No workspace is configured.</p>\n"
    head = "".join(
        f'<th class="number">{c}</th>' if c == NUMBER_COLUMN else f"<th>{c}</th>" for c in COLUMNS
    )
    rows = "\n".join(_row(workspace, now) for workspace in workspaces)
    names = "".join(_agents(w) for w in workspaces if w.agents is not None)
    return (
        f'<h3>Workspaces</h3>\n<p class="asof">As of {_utc(now)}</p>\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>\n"
        + (f"<h3>Agents logged in</h3>\n{names}" if names else "")
    )


def _row(w: WorkspaceStatus, now: float) -> str:
    cells = (
        f"<td>{escape(w.name)}</td>",
        _flag(w.up, "up", "down"),
        _flag(w.ready, "yes", "no"),
        f'<td class="number">{w.logged_in:,}</td>',
        f"<td>{_when(w.last_success, now, 'never')}</td>",
        f"<td>{_when(w.newest_record, now, 'none yet')}</td>",
        f"<td>{escape(w.reason)}</td>",
    )
    return f"<tr>{''.join(cells)}</tr>"


def _flag(good: bool, yes: str, no: str) -> str:
    return f'<td class="ok">{yes}</td>' if good else f'<td class="bad">{no}</td>'


def _agents(w: WorkspaceStatus) -> str:
    names = w.agents or ()
    items = "".join(f"<li>{escape(name)}</li>" for name in names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        items += f"<li>and {len(names) - NAMES_SHOWN:,} more</li>"
    summary = f"{escape(w.name)}: {len(names):,} logged in"
    unfolded = " open" if len(names) <= NAMES_OPEN else ""
    return (
        f'<details{unfolded}><summary>{summary}</summary><ul class="agents">{items}</ul>'
        "</details>\n"
    )


def _when(at: float | None, now: float, missing: str) -> str:
    """``<time>`` in UTC and, below it, how long ago: ``2026-11-26 08:00:03 UTC`` ``4 s ago``."""
    if at is None:
        return missing
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return f'<time datetime="{stamp}">{_utc(at)}</time> <span class="ago">{ago(now - at)}</span>'


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def ago(seconds: float) -> str:
    """``4 s ago``, ``12 min ago``, ``3 h ago``, ``2 d ago``; a time ahead of this clock says so."""
    if seconds < 0:
        return f"ahead of this clock by {ago(-seconds).removesuffix(' ago')}"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"
