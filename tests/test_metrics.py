"""The exposition of ``/metrics`` is a contract: names, types, labels and HELP stay exact.

The golden files hold what a scrape of a fixed state renders, in the text format and in
OpenMetrics. They change only on purpose: ``python tests/test_metrics.py`` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from exporter import __version__
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.state import ExporterState, WorkspaceState

GOLDEN = Path(__file__).resolve().parent / "golden"
BUCKETS = (60.0, 300.0, 3600.0)
AWKWARD = 'Jane "JJ" O\'Brien \\ Zoë\t李 🎧\n},x="1"'
"""An agent name with everything a label value must escape, and more."""


def fixed_state() -> ExporterState:
    """Two workspaces: ``demo`` with every kind of series, ``sales`` fresh from its lookback."""
    demo = WorkspaceState("demo", BUCKETS)
    sessions = demo.sessions
    sessions.apply([Record("anna", 1000, LOGIN), Record("carl", 1200, LOGOUT)])
    sessions.start_counting(2000)
    sessions.apply(
        [
            Record("bob", 2100, LOGIN),
            Record("bob", 2400, LOGOUT),
            Record("anna", 2500, LOGOUT),
            Record("dave", 2600, LOGOUT),
            Record(AWKWARD, 2700, LOGIN),
            Record(AWKWARD, 2800, LOGIN),
        ]
    )
    sessions.advance(3000)
    health = demo.health
    health.up = health.ready = True
    health.last_success = 3005.5
    health.invalid_records = 2
    demo.observe_request("200", 0.375)
    demo.observe_request("503", 0.0625)
    demo.observe_request("error", 12.0)
    health.errors["timeout"] = 1
    health.errors["server"] = 1
    sales = WorkspaceState("sales", BUCKETS)
    sales.sessions.apply([Record("zed", 500, LOGIN)])
    sales.sessions.start_counting(900)
    state = ExporterState()
    state.add(demo)
    state.add(sales)
    return state


def registry_of(state: ExporterState, *, per_agent: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LogioCollector(state, per_agent=per_agent))
    return registry


RENDERINGS = {
    "metrics.txt": lambda registry: text_latest(registry),
    "metrics.openmetrics.txt": lambda registry: openmetrics_latest(registry),
    "metrics-no-agents.txt": lambda registry: text_latest(registry),
}


def rendered(golden: str) -> str:
    """What the collector renders now for the golden file ``golden``, version left out."""
    registry = registry_of(fixed_state(), per_agent=golden != "metrics-no-agents.txt")
    text = RENDERINGS[golden](registry).decode("utf-8")
    return text.replace(f'version="{__version__}"', 'version="VERSION"')


class TestGolden:
    @pytest.mark.parametrize("golden", sorted(RENDERINGS))
    def test_exposition_is_unchanged(self, golden: str) -> None:
        """Every byte of a scrape equals the committed rendering of the same state."""
        assert rendered(golden) == (GOLDEN / golden).read_text(encoding="utf-8")


if __name__ == "__main__":
    for name in sorted(RENDERINGS):
        (GOLDEN / name).write_text(rendered(name), encoding="utf-8")
        print(f"wrote {GOLDEN / name}", file=sys.stderr)
