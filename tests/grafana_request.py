"""What Grafana 11 sends to Prometheus for a dashboard panel, written down for the tests.

A small model, independent of the dashboard builder, of the steps between a panel and the
HTTP request Grafana's Prometheus data source makes:

1. The panel's time range: the dashboard's, or its ``timeFrom`` override ("now/d",
   "now-7d/d"), evaluated in the dashboard's time zone.
2. The frontend's interval: the range over max data points (the panel's ``maxDataPoints``,
   else its width in pixels) rounded to a nice value, at least the panel's ``interval``
   (else the data source's scrape interval).
3. The backend's step (pkg/promlib/models/query.go): that interval, or the range over max
   data points rounded when it is larger, and never finer than the range over 11,000.
4. Variables: ``$__interval`` is the step, ``$__rate_interval`` is max(interval + scrape
   interval, 4 x scrape interval), ``$__range`` the range in whole seconds.
5. Alignment: a range query's start and end are rounded down to a multiple of the step,
   counted from midnight of the dashboard's zone at its UTC offset at the range's end. An
   instant query is evaluated at the range's end, unaligned.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SAFE_RESOLUTION = 11_000
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
NICE = (
    (0.01, 0.001),
    (0.015, 0.01),
    (0.035, 0.02),
    (0.075, 0.05),
    (0.15, 0.1),
    (0.35, 0.2),
    (0.75, 0.5),
    (1.5, 1),
    (3.5, 2),
    (7.5, 5),
    (12.5, 10),
    (17.5, 15),
    (25, 20),
    (45, 30),
    (90, 60),
    (210, 120),
    (450, 300),
    (750, 600),
    (1050, 900),
    (1500, 1200),
    (2700, 1800),
    (5400, 3600),
    (9000, 7200),
    (16200, 10800),
    (32400, 21600),
    (86400, 43200),
    (172800, 86400),
    (604800, 86400),
    (1814400, 604800),
)
"""Grafana's roundInterval: up to the first number, the second (seconds)."""


def round_interval(seconds: float) -> float:
    """Grafana's nice interval for ``seconds``: 96 s -> 60 s, 2.7 h -> 3 h."""
    for limit, nice in NICE:
        if seconds <= limit:
            return nice
    return 2_592_000 if seconds < 3_628_800 else 31_536_000


def duration(text: str) -> float:
    """A Grafana interval such as ``30s``, ``1h`` or ``1d``, in seconds."""
    match = re.fullmatch(r"(\d+)(ms|[smhdwy])", text)
    assert match is not None, text
    return int(match[1]) * UNITS[match[2]]


def format_interval(seconds: float) -> str:
    """Grafana's gtime.FormatInterval: the largest whole unit, ``86400`` -> ``1d``."""
    for unit in ("y", "d", "h", "m", "s"):
        if seconds >= UNITS[unit]:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{max(1, int(seconds * 1000))}ms"


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String for whole milliseconds: ``150`` -> ``2m30s``."""
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs = f"{millis / 1000:g}s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def date_math(text: str, now: float, zone: ZoneInfo) -> float:
    """Grafana's relative time ``now``, ``now-24h``, ``now-7d/d``, ``now/d`` in ``zone``.

    Days are calendar days of the zone (a DST day has 23 or 25 hours), as moment counts them.
    """
    match = re.fullmatch(r"now(?:-(\d+)([smhdw]))?(?:/([smhdw]))?", text)
    assert match is not None, text
    moment = datetime.fromtimestamp(now, zone)
    if match[1]:
        amount = int(match[1])
        if match[2] in "dw":
            days = amount * (7 if match[2] == "w" else 1)
            moment = (moment.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=zone)
        else:
            moment = datetime.fromtimestamp(now - amount * UNITS[match[2]], zone)
    if match[3] == "d":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        assert match[3] is None, f"rounding to {match[3]} is not modelled"
    return moment.timestamp()


@dataclass(frozen=True)
class Request:
    """One Prometheus API request: a range query, or an instant query at ``end``."""

    title: str
    ref: str
    expr: str
    instant: bool
    start: float
    end: float
    step: float

    @property
    def path(self) -> str:
        return "/api/v1/query" if self.instant else "/api/v1/query_range"

    def params(self) -> dict[str, str]:
        if self.instant:
            return {"query": self.expr, "time": f"{self.end:.3f}"}
        return {
            "query": self.expr,
            "start": f"{self.start:.3f}",
            "end": f"{self.end:.3f}",
            "step": f"{self.step:g}",
        }


@dataclass(frozen=True)
class Viewer:
    """Where and when the dashboard is looked at."""

    now: float
    zone: ZoneInfo
    """The dashboard's ``timezone``; for "browser", the viewer's own."""
    variables: dict[str, str]
    """Values of the dashboard's variables, such as ``{"$workspace": "demo"}``."""
    scrape_interval: str = "15s"
    """The data source's ``timeInterval`` (Grafana's default is 15s)."""
    screen_width: int = 1920
    """Pixels of the dashboard's 24 grid columns: a panel's default max data points."""


def panel_range(
    dashboard: dict[str, Any], panel: dict[str, Any], viewer: Viewer
) -> tuple[float, float]:
    """The panel's (from, to): the dashboard's time, or the panel's ``timeFrom``."""
    start, end = panel.get("timeFrom") or dashboard["time"]["from"], dashboard["time"]["to"]
    if not start.startswith("now"):
        start = f"now-{start}"
    return date_math(start, viewer.now, viewer.zone), date_math(end, viewer.now, viewer.zone)


def interval_and_step(span: float, points: int, low: float) -> tuple[float, float]:
    """The frontend's interval and the backend's step, in seconds, for a range of ``span``."""
    raw = span / points
    interval = max(round_interval(raw), low)
    step = interval if raw < interval else round_interval(raw)
    return interval, max(step, round_interval(span / SAFE_RESOLUTION))


def builtins(span: float, interval: float, step: float, scrape: float) -> dict[str, str]:
    """Grafana's own variables, in the order its backend replaces them."""
    return {
        "$__interval_ms": str(int(step * 1000)),
        "$__interval": format_interval(step),
        "$__range_ms": str(int(span * 1000)),
        "$__range_s": str(round(span)),
        "$__range": f"{round(span)}s",
        "$__rate_interval": go_duration(max(interval + scrape, 4 * scrape)),
    }


def requests(dashboard: dict[str, Any], panel: dict[str, Any], viewer: Viewer) -> list[Request]:
    """The requests Grafana sends for ``panel``'s queries, in refId order."""
    start, end = panel_range(dashboard, panel, viewer)
    points = panel.get("maxDataPoints") or int(panel["gridPos"]["w"] * viewer.screen_width / 24)
    scrape = duration(viewer.scrape_interval)
    low = duration(panel.get("interval") or viewer.scrape_interval)
    interval, step = interval_and_step(end - start, points, low)
    values = {**viewer.variables, **builtins(end - start, interval, step, scrape)}
    offset = viewer.zone.utcoffset(datetime.fromtimestamp(end, viewer.zone)).total_seconds()

    def aligned(t: float) -> float:
        return math.floor((t + offset) / step) * step - offset

    made = []
    for target in panel["targets"]:
        expr = target["expr"]
        for name, text in values.items():
            expr = expr.replace(name, text)
        instant = bool(target.get("instant"))
        range_ = (start, end) if instant else (aligned(start), aligned(end))
        made.append(Request(panel["title"], target["refId"], expr, instant, *range_, step))
    return made
