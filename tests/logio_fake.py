"""A hand-written fake of the logio API for poller tests: records with visibility times.

It answers like the real API (running ids, headerless CSV, one-line JSON) from a list of
``(record, visible_at)`` pairs, as of a clock the test moves.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import httpx

from exporter.core.records import Record


@dataclass
class FakeLogio:
    now: float = 0.0
    entries: list[tuple[Record, float]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    loose: bool = False
    """Answer ``name=ann`` with every name that starts so (``anna``, ``annika``) too."""

    def add(self, record: Record, visible_at: float | None = None) -> None:
        self.entries.append((record, record.timestamp if visible_at is None else visible_at))

    def clock(self) -> float:
        return self.now

    def visible(self, frm: int, to: int, name: str | None = None) -> list[Record]:
        rows = [
            record
            for record, visible_at in self.entries
            if frm <= record.timestamp <= to
            and visible_at <= self.now
            and (
                name is None or record.name == name or (self.loose and record.name.startswith(name))
            )
        ]
        return sorted(rows, key=lambda record: record.timestamp)

    def handler(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append(params)
        rows = self.visible(int(params["from"]), int(params["to"]), params.get("name"))
        if params.get("format") == "json":
            body = json.dumps(
                [
                    {"id": i, "name": r.name, "timestamp": r.timestamp, "action": r.action}
                    for i, r in enumerate(rows, 1)
                ],
                separators=(",", ":"),
            )
            return httpx.Response(200, text=body, headers={"Content-Type": "application/json"})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for i, r in enumerate(rows, 1):
            writer.writerow([i, r.name, r.timestamp, r.action])
        return httpx.Response(200, text=out.getvalue(), headers={"Content-Type": "text/csv"})

    def windows(self) -> list[tuple[int, int]]:
        return [(int(p["from"]), int(p["to"])) for p in self.requests]
