"""Build grafana/cention-logio.json, the Grafana dashboard for cention-logio-exporter.

This script (with panels.py, staffing.py and rows.py) is the dashboard's source; the JSON
next to it is its output, committed so that Grafana can import or provision it as is. After
changing a panel::

    python grafana/build_dashboard.py           # rewrite grafana/cention-logio.json
    python grafana/build_dashboard.py --check   # exit 1 if the JSON is out of date

The committed dashboard shows times in each viewer's browser time zone. A center whose
viewers sit elsewhere builds its own copy in its own zone, so that days (hours today, the
bars per day) run from the center's midnight to midnight::

    python grafana/build_dashboard.py --timezone Europe/Stockholm --output my-center.json

Every query goes through the `datasource` variable (no data source uid is written down) and
is filtered by the `workspace` and `agent` variables. The figures are as of the exporter's
last successful poll of the logio API. Two rules hold for every contact-center figure:

- Instances are folded with ``max by (workspace, ...)`` before anything is summed across
  workspaces, so two replicas of the exporter scraped by one Prometheus (docs/scaling.md)
  show each figure once. Only the *Exporter health* row counts per instance: each replica
  makes its own requests.
- Counts are whole numbers: ``round()`` over ``increase()``, which extrapolates, and
  ``decimals: 0``. Windows are the panel's step (``[$__interval]``), so bars tile the time
  axis with no gap and no overlap whatever the time range, and each bar is drawn over the
  interval it counts (``barAlignment: -1``, ending at its timestamp).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from panels import Json, Row, dashboard_link, datasource_variable, label_variable, place
from rows import activity, exporter_health, sessions, timeline
from staffing import RUNBOOK, Days, staffing

OUTPUT = Path(__file__).with_name("cention-logio.json")
BROWSER = "browser"


def layout(days: Days) -> tuple[Row, ...]:
    """The rows top to bottom: title, panels, their widths and heights in grid units."""
    return (
        ("Staffing", lambda: staffing(days), (6, 18, 10, 14), (8, 8, 12, 12)),
        ("Activity", lambda: activity(days), (12, 12), (8, 8)),
        ("Agent timeline", timeline, (24,), (16,)),
        ("Sessions", sessions, (12, 6, 6, 24), (9, 9, 9, 7)),
        ("Exporter health", exporter_health, (12, 12, 8, 8, 8), (6, 6, 8, 8, 8)),
    )


def build(timezone: str = BROWSER) -> Json:
    """The whole dashboard as a JSON-ready dict, its days and times in ``timezone``."""
    days = Days(timezone)
    return {
        "uid": "cention-logio",
        "title": "Cention logio",
        "description": "Who is logged in to Cention Contact Center, from cention-logio-exporter. "
        f"Figures are as of the exporter's last successful poll of the logio API. {days.sentence}",
        "tags": ["cention", "contact-center", "prometheus"],
        "id": None,
        "version": 1,
        "schemaVersion": 39,
        "editable": True,
        "graphTooltip": 1,
        "timezone": timezone,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                datasource_variable(),
                label_variable("workspace", "Workspace", "label_values(cention_up, workspace)"),
                label_variable(
                    "agent",
                    "Agent",
                    'label_values(cention_agent_logged_in{workspace=~"$workspace"}, agent)',
                ),
            ]
        },
        "annotations": {"list": []},
        "links": [
            dashboard_link(
                "Runbook", RUNBOOK, "What each Cention alert means and what to do about it"
            )
        ],
        "panels": place(layout(days)),
    }


def render(timezone: str = BROWSER) -> str:
    """The dashboard as the text of cention-logio.json."""
    return json.dumps(build(timezone), indent=2, ensure_ascii=False) + "\n"


def zone(text: str) -> str:
    """``browser``, ``utc`` or an IANA time zone name, as Grafana's dashboard setting takes it."""
    if text in (BROWSER, "utc"):
        return text
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r}: use browser, utc or an IANA name such as Europe/Stockholm"
        ) from None
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Cention logio Grafana dashboard.")
    parser.add_argument("--check", action="store_true", help="only check that OUTPUT is current")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    parser.add_argument(
        "--timezone",
        type=zone,
        default=BROWSER,
        help="the contact center's time zone, e.g. Europe/Stockholm (default: %(default)s, "
        "each viewer's own)",
    )
    args = parser.parse_args(argv)
    text = render(args.timezone)
    if not args.check:
        args.output.write_text(text, encoding="utf-8")
    elif args.output.read_text(encoding="utf-8") != text:
        print(
            f"{args.output} is out of date: run python grafana/build_dashboard.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
