"""Small builders for the Grafana JSON that build_dashboard.py assembles.

Each returns plain dicts in the shape Grafana 10 and later export (dashboard schemaVersion 39).
They know nothing about Cention; build_dashboard.py says what the panels show.

>>> p = panel("stat", "Up", "Is it up?", [target("up")])
>>> p["targets"][0]["refId"], p["datasource"]["uid"]
('A', '${datasource}')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Json = dict[str, Any]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""Every query names the data source through the dashboard's `datasource` variable."""

LAST_VALUE = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    """One Prometheus query; ``table`` asks for one row per series instead of a time series."""
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": "table" if table else "time_series",
    }


def panel(kind: str, title: str, description: str, targets: list[Json], **extra: Any) -> Json:
    """A panel of type ``kind``; refIds A, B, ... follow the order of ``targets``."""
    for index, query in enumerate(targets):
        query["refId"] = chr(ord("A") + index)
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
        **extra,
    }


def unit(p: Json, name: str, **defaults: Any) -> Json:
    """Set the panel's unit (a Grafana unit id such as ``s`` or ``reqpm``) and other defaults."""
    p["fieldConfig"]["defaults"].update({"unit": name, **defaults})
    return p


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Threshold steps from (value, colour) pairs; the first value is None, the base."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def states(names: dict[int, tuple[str, str]]) -> list[Json]:
    """Value mappings that show 0/1 gauges as named, coloured states."""
    options = {
        str(value): {"text": text, "color": color, "index": index}
        for index, (value, (text, color)) in enumerate(sorted(names.items()))
    }
    return [{"type": "value", "options": options}]


def bars(p: Json, stacking: str = "none", *, ahead: bool = False) -> Json:
    """Draw a time series panel as bars, one per query interval, each over what it counts.

    A Prometheus value at ``t`` of ``increase(x[$__interval])`` counts ``(t - step, t]``:
    its bar ends at ``t`` (bar alignment "before"). Grafana rounds the range's end down to
    the step, so the newest bar is the last complete interval. With ``ahead`` the queries
    look one step ahead (``offset -$__interval``) and count ``(t, t + step]``: the bar starts
    at ``t`` (alignment "after"), and the newest one is the interval still running.
    """
    p["fieldConfig"]["defaults"]["custom"] = {
        "drawStyle": "bars",
        "barAlignment": 1 if ahead else -1,
        "fillOpacity": 80,
        "lineWidth": 1,
        "stacking": {"mode": stacking, "group": "A"},
    }
    return p


def columns(names: dict[str, str], hide: Sequence[str] = ("Time",)) -> Json:
    """A table transformation that keeps, orders and renames the given columns."""
    return {
        "id": "organize",
        "options": {
            "excludeByName": dict.fromkeys(hide, True),
            "indexByName": {name: index for index, name in enumerate(names)},
            "renameByName": names,
        },
    }


def override(matcher: str, name: str, **properties: Any) -> Json:
    """Field properties for the fields that ``matcher`` (byName, byFrameRefID) selects."""
    return {
        "matcher": {"id": matcher, "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def dashboard_link(title: str, url: str, tooltip: str) -> Json:
    """A link in the dashboard's header, opened in a new tab."""
    return {
        "title": title,
        "type": "link",
        "url": url,
        "tooltip": tooltip,
        "icon": "doc",
        "targetBlank": True,
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "tags": [],
    }


def panel_link(title: str, url: str) -> Json:
    """A link in a panel's header menu, opened in a new tab."""
    return {"title": title, "url": url, "targetBlank": True}


Row = tuple[str, Callable[[], list[Json]], Sequence[int], Sequence[int]]


def place(rows: Sequence[Row]) -> list[Json]:
    """Row panels and their panels, with ids and grid positions.

    Each row is (title, function returning its panels, their widths, their heights); panels
    go left to right and wrap when the 24 columns of the grid are full.
    """
    placed: list[Json] = []
    y = 0
    for title, make, widths, heights in rows:
        grid = {"x": 0, "y": y, "w": 24, "h": 1}
        placed.append({"type": "row", "title": title, "collapsed": False, "panels": []})
        placed[-1]["gridPos"] = grid
        y, x, line = y + 1, 0, 0
        for p, w, h in zip(make(), widths, heights, strict=True):
            if x + w > 24:
                y, x, line = y + line, 0, 0
            p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
            x, line = x + w, max(line, h)
            placed.append(p)
        y += line
    for panel_id, p in enumerate(placed, start=1):
        p["id"] = panel_id
    return placed


def datasource_variable() -> Json:
    """The `datasource` variable: any Prometheus data source, the default one first."""
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "options": [],
        "regex": "",
        "refresh": 1,
        "hide": 0,
    }


def label_variable(name: str, label: str, definition: str) -> Json:
    """A multi-select variable with All, filled by a ``label_values(...)`` query."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": definition,
        "query": definition,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
    }
