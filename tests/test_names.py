"""Any non-empty agent name is a name: its records count, and /metrics shows it exactly.

From the body of an answer to the label value a scrape reads back: the names here hold
the characters real names hold (a non-breaking space, a soft hyphen, a zero-width joiner
in an emoji, a zero-width non-joiner in a Persian name) and those a careless export puts
there (a tab, a quoted line break, a NUL).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from harness import promtool_findings
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import LogioCollector
from exporter.core.parsing import parse
from exporter.core.records import LOGIN, LOGOUT, Format, Parsed, Record
from exporter.state import ExporterState, WorkspaceState

NAMES = {
    "tab": "Jane\tDoe",
    "no-break-space": "Jane\u00a0Doe",
    "soft-hyphen": "Lind\u00adqvist",
    "zero-width-joiner": "\U0001f469\u200d\U0001f4bb Ada",
    "zero-width-non-joiner": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "line-feed": "two\nlines",
    "carriage-return": "cr\rlf\r\n",
    "nul": "nul\x00byte",
    "line-separator": "line\u2028separator",
    "escape": "\x1b[31mred",
    "delete": "del\x7f",
    "byte-order-mark": "\ufeffbom",
    "right-to-left-override": "\u202eevil",
    "only-a-space": " ",
    "backslash-n": "back\\nslash",
}
"""Each a name of an agent who logs in at 100 and out at 160."""

AGENT_SAMPLES = {
    "cention_agent_logged_in": 0.0,
    "cention_agent_logins_total": 1.0,
    "cention_agent_logouts_total": 1.0,
    "cention_agent_logged_in_seconds_total": 60.0,
    "cention_agent_last_login_timestamp_seconds": 100.0,
    "cention_agent_last_logout_timestamp_seconds": 160.0,
    "cention_agent_logged_in_today_seconds": 60.0,
}
"""What the text exposition shows for each such agent."""


def csv_body(*names: str) -> bytes:
    """Each name's login and logout, every name quoted, CRLF-terminated."""
    quoted = ['"' + name.replace('"', '""') + '"' for name in names]
    logins = [f"{i},{name},100,Login\r\n" for i, name in enumerate(quoted, start=1)]
    logouts = [f"{i},{name},160,Logout\r\n" for i, name in enumerate(quoted, start=1)]
    return "".join(logins + logouts).encode()


def json_body(*names: str) -> bytes:
    """Each name's login and logout as the API's JSON array, names as raw UTF-8."""
    rows = [
        {"id": i, "name": name, "timestamp": stamp, "action": action}
        for stamp, action in ((100, LOGIN), (160, LOGOUT))
        for i, name in enumerate(names, start=1)
    ]
    return json.dumps(rows, ensure_ascii=False).encode()


def records_of(name: str) -> list[Record]:
    return [Record(name, 100, LOGIN), Record(name, 160, LOGOUT)]


def exposed(records: list[Record]) -> CollectorRegistry:
    """A registry over one workspace that counted ``records``, as the collector serves it."""
    workspace = WorkspaceState("demo", (60.0,))
    workspace.sessions.start_counting(0)
    workspace.sessions.apply(records)
    workspace.sessions.advance(200)
    state = ExporterState()
    state.add(workspace)
    registry = CollectorRegistry()
    registry.register(LogioCollector(state, per_agent=True))
    return registry


class TestParse:
    @pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
    @pytest.mark.parametrize(
        ("fmt", "write"), [("csv", csv_body), ("json", json_body)], ids=["csv", "json"]
    )
    def test_every_record_counts(self, name: str, fmt: Format, write: object) -> None:
        """Both rows of the agent are records, with the name exactly as sent."""
        body = write(name)  # type: ignore[operator]
        assert parse(body, fmt) == Parsed(records_of(name), [])

    @pytest.mark.parametrize(
        "name", [pytest.param(n, id=k) for k, n in NAMES.items() if not set(n) & set(',"\r\n')]
    )
    def test_unquoted_csv_too(self, name: str) -> None:
        """A name that needs no quotes in CSV is read alike without them."""
        body = f"1,{name},100,Login\n2,{name},160,Logout\n".encode()
        assert parse(body, "csv") == Parsed(records_of(name), [])


@pytest.fixture(name="registry", params=["csv", "json"])
def fixture_registry(request: pytest.FixtureRequest) -> CollectorRegistry:
    """The exposition of one answer holding every name, in CSV or JSON."""
    fmt: Format = request.param
    body = (csv_body if fmt == "csv" else json_body)(*NAMES.values())
    return exposed(parse(body, fmt).records)


class TestExposition:
    def test_text_round_trips_each_name(self, registry: CollectorRegistry) -> None:
        """The text exposition parses back to every name exactly, no series forged."""
        text = generate_latest(registry).decode("utf-8")
        got = sorted(
            (sample.name, sample.labels["agent"], sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if "agent" in sample.labels
        )
        assert got == sorted(
            (family, name, value)
            for family, value in AGENT_SAMPLES.items()
            for name in NAMES.values()
        )

    def test_openmetrics_round_trips_each_name(self, registry: CollectorRegistry) -> None:
        """The OpenMetrics exposition parses back to every name exactly."""
        text = generate_openmetrics(registry).decode("utf-8")
        got = {
            sample.labels["agent"]
            for family in openmetrics_families(text)
            for sample in family.samples
            if sample.name == "cention_agent_logins_total"
        }
        assert got == set(NAMES.values())

    @pytest.mark.skipif(
        shutil.which("promtool") is None and os.environ.get("CI") != "true",
        reason="promtool is not installed (CI installs it)",
    )
    def test_promtool_accepts_the_exposition(self, registry: CollectorRegistry) -> None:
        """``promtool check metrics`` finds nothing wrong with any of these label values."""
        assert promtool_findings(generate_latest(registry)) == []
