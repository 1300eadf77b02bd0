"""The catalogue of metric families, and the exposition it defines, which is a contract.

The golden files hold what a scrape of a fixed state renders, in the text format and in
OpenMetrics. They change only on purpose: ``python tests/test_metrics.py`` rewrites them.
The catalogue is held to what the collector yields and to the README's metric table.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.build import BuildInfo
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.schedule import parse_schedule
from exporter.metrics import (
    AGENT_FAMILIES,
    BUILD_INFO,
    BY_NAME,
    BY_SAMPLE,
    FAMILIES,
    SESSION_DURATION,
    WORKSPACE_FAMILIES,
    Family,
    Type,
)
from exporter.state import ExporterState, WorkspaceState

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
BUCKETS = (60.0, 300.0, 3600.0)
BUILD = BuildInfo(
    __version__,
    revision="4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e",
    branch="main",
    python_version="3.12.3",
    platform="linux/x86_64",
)
"""The build the golden files show, whatever runs the tests."""
AWKWARD = 'Jane "JJ" O\'Brien \\ Zoë\t李 🎧\n},x="1"'
"""An agent name with everything a label value must escape, and more."""


SCHEDULE = {"hours": {"thu": ["00:00-01:00"]}, "staffing": {"thu": {"00:30-01:00": 4}}}
"""Open at ``SCRAPED``, 1970-01-01 00:50 UTC, a Thursday, and 4 agents required."""
SCRAPED = 3010.0


def fixed_state() -> ExporterState:
    """Two workspaces: ``demo`` with every kind of series and a schedule, ``sales`` fresh
    from its lookback, without one."""
    problems: list[str] = []
    demo = WorkspaceState("demo", BUCKETS, parse_schedule(SCHEDULE, "schedule", problems))
    assert problems == []
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


class ReadyMade(Collector):
    """Yields the given families."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def registry_of(state: ExporterState, *, per_agent: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(
        LogioCollector(state, per_agent=per_agent, build=BUILD, clock=lambda: SCRAPED)
    )
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


Shape = tuple[str, str, str, set[str], set[tuple[str, ...]]]


def shape(metric: Metric) -> Shape:
    """A collected family's name, type, HELP, sample names and label names in order
    (a bucket's ``le`` aside)."""
    samples = metric.samples
    labels = {tuple(name for name in sample.labels if name != "le") for sample in samples}
    return metric.name, metric.type, metric.documentation, {s.name for s in samples}, labels


def catalogued(family: Family) -> Shape:
    return family.name, family.type, family.help, set(family.samples), {family.labels}


class TestCatalogueIsWhatTheCollectorYields:
    def test_every_family_with_its_type_help_samples_and_labels(self) -> None:
        """With agents, a scrape yields exactly the catalogue's families, in its order."""
        collected = list(registry_of(fixed_state()).collect())
        assert [shape(family) for family in collected] == [catalogued(f) for f in FAMILIES]

    def test_without_per_agent_the_agent_families_go(self) -> None:
        """``per_agent: false`` leaves out exactly the per-agent families."""
        collected = list(registry_of(fixed_state(), per_agent=False).collect())
        assert [family.name for family in collected] == [
            family.name for family in (BUILD_INFO, *WORKSPACE_FAMILIES)
        ]

    def test_describe_yields_every_family_without_a_scrape(self) -> None:
        """``describe`` names the catalogue's families, even with per-agent series off."""
        collector = LogioCollector(fixed_state(), per_agent=False)
        described = [(m.name, m.type, m.documentation, m.samples) for m in collector.describe()]
        assert described == [(f.name, f.type, f.help, []) for f in FAMILIES]

    def test_registry_knows_the_agent_families_registered_while_off(self) -> None:
        """A registry learns every name at registration, so turning ``per_agent`` on by
        a reload serves the agent families to a scrape restricted by name."""
        registry = CollectorRegistry(auto_describe=True)
        collector = LogioCollector(fixed_state(), per_agent=False)
        registry.register(collector)
        collector.per_agent = True
        restricted = registry.restricted_registry(["cention_agent_logins_total"])
        assert [
            (sample.labels["agent"], sample.value)
            for family in restricted.collect()
            for sample in family.samples
        ] == [
            ("anna", 0.0),
            ("carl", 0.0),
            ("bob", 1.0),
            ("dave", 0.0),
            (AWKWARD, 2.0),
            ("zed", 0.0),
        ]

    @pytest.mark.parametrize(
        ("render", "header"),
        [
            pytest.param(text_latest, "text_header", id="text"),
            pytest.param(openmetrics_latest, "openmetrics_header", id="openmetrics"),
        ],
    )
    def test_headers_are_the_rendered_ones(
        self, render: Callable[[CollectorRegistry], bytes], header: str
    ) -> None:
        """The catalogue's HELP and TYPE lines are those prometheus_client renders."""
        text = render(registry_of(fixed_state())).decode()
        lines = [f"{line}\n" for line in text.splitlines() if line.startswith(("# HELP", "# TYPE"))]
        headers = [a + b for a, b in zip(lines[::2], lines[1::2], strict=True)]
        assert headers == [getattr(family, header) for family in FAMILIES]


class TestHeaders:
    @pytest.mark.parametrize(
        ("kind", "cls"),
        [
            pytest.param("gauge", GaugeMetricFamily, id="gauge"),
            pytest.param("counter", CounterMetricFamily, id="counter"),
            pytest.param("histogram", HistogramMetricFamily, id="histogram"),
        ],
    )
    def test_help_is_escaped_as_each_format_wants(self, kind: Type, cls: type[Metric]) -> None:
        """Backslash and line feed are escaped in both formats, the double quote only in
        OpenMetrics, as prometheus_client renders them."""
        help_text = 'A "quoted" \\ back\nslash'
        family = Family("x_seconds", kind, help_text, ())
        registry = CollectorRegistry()
        registry.register(ReadyMade([cls("x_seconds", help_text)]))
        assert (family.text_header, family.openmetrics_header) == (
            text_latest(registry).decode(),
            openmetrics_latest(registry).decode().removesuffix("# EOF\n"),
        )


class TestLookups:
    def test_names_are_unique(self) -> None:
        """No two families share a name or a sample name."""
        assert (len(BY_NAME), len(BY_SAMPLE)) == (22, 20 + 2 * 3)  # 2 histograms
        assert len(FAMILIES) == 22 == 1 + len(WORKSPACE_FAMILIES) + len(AGENT_FAMILIES)

    def test_by_sample_name(self) -> None:
        """A histogram is found by each of its sample names, a counter by its ``_total``."""
        assert [
            BY_SAMPLE[name].name
            for name in (
                "cention_session_duration_seconds_bucket",
                "cention_session_duration_seconds_count",
                "cention_session_duration_seconds_sum",
                "cention_agent_logins_total",
                "cention_up",
            )
        ] == [SESSION_DURATION.name] * 3 + ["cention_agent_logins", "cention_up"]
        assert "cention_agent_logins" not in BY_SAMPLE


def readme_table() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(metric, type, labels)`` of each row of the README's table under ``## Metrics``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\w+) \| ([a-z_, ]+) \|", section, re.MULTILINE)
    return [(name, kind, tuple(labels.split(", "))) for name, kind, labels in rows]


class TestReadme:
    def test_metric_table_is_the_catalogue(self) -> None:
        """The README lists each family once, by the name users query, with its type and labels."""
        rows = readme_table()
        assert len(rows) == len(FAMILIES)
        assert {name: (kind, labels) for name, kind, labels in rows} == {
            family.text_name: (family.type, family.labels) for family in FAMILIES
        }


if __name__ == "__main__":
    for name in sorted(RENDERINGS):
        (GOLDEN / name).write_text(rendered(name), encoding="utf-8")
        print(f"wrote {GOLDEN / name}", file=sys.stderr)
