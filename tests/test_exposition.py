"""``/metrics`` from kept per-agent lines: byte for byte what prometheus_client renders.

The reference is prometheus_client itself (``generate_latest`` of both formats, as
``choose_encoder`` picks them) over a registry holding the same collector, compared after
every step of random histories: records for agents with odd names, the end of the
initial lookback, the clock moving (over midnight too), agents forgotten, workspaces
replaced, another time zone, per-agent series turned off and on, scrapes in every format,
gzipped or not.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from harness import promtool_findings
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from test_metrics import AWKWARD, BUILD, SCRAPED, fixed_state

from exporter import __version__
from exporter.agentlines import (
    BLOCK,
    PIECES,
    SECONDS,
    TODAY,
    _short_float,
    deflate,
    go_float,
    gzip_member,
)
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.schedule import Schedule
from exporter.core.sessions import Sessions
from exporter.exposition import Exposition, _Shared
from exporter.state import ExporterState, WorkspaceState
from exporter.web.server import ExporterServer

GOLDEN = Path(__file__).resolve().parent / "golden"
PROMETHEUS = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
ACCEPTS = [
    PROMETHEUS,
    "",
    "text/plain;version=0.0.4",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=values",
    "text/plain;version=1.0.0;escaping=underscores",
    "application/openmetrics-text;version=1.0.0;escaping=dots",
    "application/openmetrics-text",
]
"""Prometheus 2.42's header, no header, and each format and escaping choose_encoder knows."""
ODD = [
    AWKWARD,
    "back\\slash\\",
    'quote"',
    "new\nline\n",
    "tab\there",
    "👩\u200d💻 zwj",
    "e\u0301 combining",
    "\u200b",
    "\u202eright-to-left",
    "李小龍",
    "x\x00nul",
    "anna",
]
"""Agent names with everything a label value must escape, and unicode beyond it."""
WORKSPACES = ("demo", 'sales "eu"')


class Other(Collector):
    """A collector after the exporter's, as the process and Python ones are."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("other_value", "Another collector's gauge.", labels=["x"])
        family.add_metric(["1"], 2.5)
        yield family


class Model:
    """An exporter's state, its ``Exposition`` and the reference registry of the same
    collectors, driven step by step."""

    def __init__(self) -> None:
        self.state = ExporterState()
        self.clock = dict.fromkeys(WORKSPACES, 1_767_272_400)
        for name in WORKSPACES:
            self.state.add(WorkspaceState(name, (60.0, 3600.0)))
        self.collector = LogioCollector(self.state)
        other = Other()
        self.exposition = Exposition(self.collector, [other])
        self.reference = CollectorRegistry(auto_describe=False)
        self.reference.register(self.collector)
        self.reference.register(other)

    def sessions(self, index: int) -> Sessions:
        workspace = self.state.get(WORKSPACES[index])
        assert workspace is not None
        return workspace.sessions

    def step(self, step: tuple) -> None:
        kind, *args = step
        if kind == "scrape":
            self.check(*args)
            return
        if kind == "per_agent":
            self.collector.per_agent = args[0]
            return
        name = WORKSPACES[args[0]]
        if kind == "replace":  # removed, then back empty: it comes last now
            self.state.remove(name)
            self.state.add(WorkspaceState(name, (60.0, 3600.0)))
            return
        if kind == "zone":  # open all day in that zone, or no schedule: only days change
            workspace = self.state.get(name)
            assert workspace is not None
            workspace.set_schedule(None if args[1] is None else Schedule(zone=ZoneInfo(args[1])))
            return
        sessions = self.sessions(args[0])
        if kind == "apply":
            records = []
            for agent, action in args[1]:
                self.clock[name] += 7
                records.append(Record(agent, self.clock[name], action))
            sessions.apply(records)
        elif kind == "count":
            sessions.start_counting(self.clock[name])
        elif kind == "advance":
            sessions.advance(self.clock[name] + args[1] + 0.25)
        elif kind == "forget":
            sessions.forget(self.clock[name] - args[1])
        elif kind == "midnight":  # just past the next UTC midnight
            self.clock[name] = (self.clock[name] // 86400 + 1) * 86400 + args[1]
            sessions.advance(self.clock[name])

    def check(self, accept: str, gzipped: bool) -> None:
        """The answer and its content type are what prometheus_client gives."""
        encoder, content_type = choose_encoder(accept)
        body, answered_type = self.exposition.render(accept, gzipped)
        assert answered_type == content_type
        assert (gzip.decompress(body) if gzipped else body) == encoder(self.reference)


def renewed(lines: object, before: list[list[bytes]]) -> set[tuple[int, str]]:
    """(family, agent) of each kept line rendered again since ``before`` was copied:
    its value's text, the last of its pieces, is a new one."""
    return {
        (family, name)
        for family, kept in enumerate(lines.lines)
        for name, position in lines.index.items()
        if kept[PIECES * position + 2] is not before[family][PIECES * position + 2]
    }


names = st.one_of(
    st.sampled_from(ODD[:3]),  # names met again and again
    st.sampled_from(ODD),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=5),
)
workspace = st.integers(0, len(WORKSPACES) - 1)
steps = st.one_of(
    st.tuples(
        st.just("apply"),
        workspace,
        st.lists(st.tuples(names, st.sampled_from([LOGIN, LOGOUT])), max_size=6),
    ),
    st.tuples(st.just("count"), workspace),
    st.tuples(st.just("advance"), workspace, st.integers(0, 300)),
    st.tuples(st.just("forget"), workspace, st.integers(0, 60)),
    st.tuples(st.just("midnight"), workspace, st.integers(0, 5)),
    st.tuples(st.just("zone"), workspace, st.sampled_from([None, "Europe/Stockholm", "UTC"])),
    st.tuples(st.just("replace"), workspace),
    st.tuples(st.just("per_agent"), st.booleans()),
    st.tuples(st.just("scrape"), st.sampled_from(ACCEPTS), st.booleans()),
)


class TestSameBytesAsPrometheusClient:
    @settings(max_examples=200, deadline=None)
    @given(history=st.lists(st.tuples(steps, st.booleans()), max_size=40))
    def test_random_histories(self, history: list[tuple[tuple, bool]]) -> None:
        """After the steps of any history (scraped after some), and in every format
        gzipped or not at its end, the answer is what prometheus_client renders."""
        model = Model()
        for step, scrape in history:
            model.step(step)
            if scrape:
                model.check(PROMETHEUS, gzipped=True)
        for accept in ACCEPTS:
            for gzipped in (False, True):
                model.check(accept, gzipped)

    @pytest.mark.parametrize(
        ("golden", "accept"),
        [("metrics.txt", ""), ("metrics.openmetrics.txt", "application/openmetrics-text")],
    )
    def test_golden(self, golden: str, accept: str) -> None:
        """The fixed state renders every committed byte of the golden files."""
        collector = LogioCollector(fixed_state(), build=BUILD, clock=lambda: SCRAPED)
        exposition = Exposition(collector)
        for _ in range(2):  # rendered afresh, then from the kept lines
            body, _ = exposition.render(accept, gzipped=False)
            text = body.decode().replace(f'version="{__version__}"', 'version="VERSION"')
            assert text == (GOLDEN / golden).read_text(encoding="utf-8")

    def test_many_agents_across_blocks(self) -> None:
        """With more agents than a block holds, a change in each block renders right."""
        model = Model()
        agents = [f"agent {index}" for index in range(3 * BLOCK + 5)]
        model.step(("count", 0))
        model.step(("apply", 0, [(agent, LOGIN) for agent in agents]))
        model.check(PROMETHEUS, True)
        model.step(("apply", 0, [(agents[i], LOGOUT) for i in (0, BLOCK + 1, 3 * BLOCK + 4)]))
        model.step(("advance", 0, 60))
        model.check(PROMETHEUS, True)
        model.check(PROMETHEUS, False)


class TestKeptLines:
    def test_unchanged_agents_are_not_rendered_again(self) -> None:
        """A scrape renders again only the lines of the agent a record changed, and once
        the clock moved, the seconds of the agents logged in."""
        model = Model()
        sessions = model.sessions(0)
        sessions.start_counting(1000)
        sessions.apply([Record("in", 1001, LOGIN), Record("out", 1002, LOGOUT)])
        sessions.apply([Record("other", 1003, LOGOUT)])
        model.check(PROMETHEUS, True)
        lines = model.exposition.lines._workspaces[model.state.get("demo")]
        before = [list(family) for family in lines.lines]
        sessions.apply([Record("out", 1010, LOGIN)])
        model.check(PROMETHEUS, True)
        assert renewed(lines, before) == {(family, "out") for family in range(8)}
        before = [list(family) for family in lines.lines]
        sessions.advance(1100)
        model.check(PROMETHEUS, True)
        assert renewed(lines, before) == {
            (family, agent) for family in (SECONDS, TODAY) for agent in ("in", "out")
        }

    def test_a_new_day_renders_today_for_every_agent(self) -> None:
        """At midnight the seconds of today of an agent logged out go back to 0 too."""
        model = Model()
        sessions = model.sessions(0)
        sessions.start_counting(1000)
        records = [Record("in", 1001, LOGIN), Record("out", 1002, LOGIN)]
        sessions.apply([*records, Record("out", 1500, LOGOUT)])
        sessions.advance(2000)
        model.check(PROMETHEUS, True)
        lines = model.exposition.lines._workspaces[model.state.get("demo")]
        before = [list(family) for family in lines.lines]
        sessions.advance(86400 + 10)
        model.check(PROMETHEUS, True)
        assert {(TODAY, "in"), (TODAY, "out")} <= renewed(lines, before)
        assert lines.lines[TODAY][PIECES * lines.index["out"] + 2] == b" 0.0\n"

    @given(value=st.floats(0, 2e6) | st.sampled_from([0.0, 1e-05, 999999.5, 1e6]))
    def test_short_float_is_go_float(self, value: float) -> None:
        """The quick text of a value of today is prometheus_client's, on both sides of 1e6."""
        assert _short_float(value) == b" %s\n" % go_float(value).encode()

    def test_an_agent_forgotten_and_back_goes_last(self) -> None:
        """An agent forgotten and back between two scrapes, the count of agents the
        same, comes after the others, as prometheus_client orders it."""
        model = Model()
        model.step(("count", 0))
        model.step(("apply", 0, [("anna", LOGIN), ("bob", LOGIN)]))
        model.check(PROMETHEUS, True)
        model.step(("forget", 0, 5))  # anna's record is 7 s older than bob's
        model.step(("apply", 0, [("anna", LOGOUT)]))
        assert list(model.sessions(0).agents) == ["bob", "anna"]
        model.check(PROMETHEUS, True)

    def test_dots_escaping_renders_through_prometheus_client(self) -> None:
        """Only where a probe renders as prometheus_client does are the kept lines used."""
        model = Model()
        for accept in ("", PROMETHEUS, "application/openmetrics-text;version=1.0.0;escaping=dots"):
            model.check(accept, False)
        assert sorted(model.exposition._agrees.values()) == [False, True, True]

    def test_a_failed_render_starts_afresh(self) -> None:
        """When rendering fails after the changes were taken, nothing goes stale."""
        model = Model()
        sessions = model.sessions(0)
        sessions.apply([Record("anna", 1000, LOGIN)])
        model.check(PROMETHEUS, True)
        sessions.apply([Record("anna", 1100, LOGOUT)])

        def broken(openmetrics: bool) -> list[bytes]:
            raise RuntimeError("disk full")

        kept = model.exposition.lines
        kept.pieces = broken
        with pytest.raises(RuntimeError, match="disk full"):
            model.exposition.render(PROMETHEUS, False)
        assert model.exposition.lines is not kept
        model.check(PROMETHEUS, False)


class TestGzipMember:
    @settings(max_examples=100, deadline=None)
    @given(chunks=st.lists(st.binary(max_size=3000), max_size=8), big=st.integers(0, 200_000))
    def test_pieces_make_one_member(self, chunks: list[bytes], big: int) -> None:
        """Pieces compressed apart read back as their bytes in order, CRC and length
        checked by ``gzip.decompress``, and in one read as HTTP clients decode."""
        chunks.append(bytes(range(256)) * (big // 256))
        body = gzip_member(map(deflate, chunks))
        assert gzip.decompress(body) == b"".join(chunks)
        assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body) == b"".join(chunks)


class TestShared:
    def test_requests_during_a_render_share_the_next(self) -> None:
        """Two requests that came while a render ran get one render, started after them."""
        started, release, renders = threading.Event(), threading.Event(), []

        def render() -> bytes:
            renders.append(len(renders) + 1)
            started.set()
            release.wait(5)
            return b"render %d" % len(renders)

        shared, results = _Shared(), {}

        def get(name: str) -> None:
            results[name] = shared.get(render)

        first = threading.Thread(target=get, args=("first",))
        first.start()
        assert started.wait(5)
        later = [threading.Thread(target=get, args=(name,)) for name in ("a", "b")]
        for thread in later:
            thread.start()
        for _ in range(500):  # until one of them waits to lead the next render
            if shared._next is not None:
                break
            time.sleep(0.01)
        time.sleep(0.2)  # and the other one has come too
        release.set()
        for thread in (first, *later):
            thread.join(5)
        assert results == {"first": b"render 1", "a": b"render 2", "b": b"render 2"}
        assert renders == [1, 2]

    def test_a_failure_reaches_every_request_that_shared_it(self) -> None:
        """A render that raises raises for its request; the next render runs anew."""
        shared = _Shared()

        def broken() -> bytes:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            shared.get(broken)
        assert shared.get(lambda: b"ok") == b"ok"


class TestServed:
    @pytest.fixture(name="http")
    def fixture_http(self) -> Iterator[tuple[httpx.Client, Model]]:
        model = Model()
        model.step(("count", 0))
        model.step(("apply", 0, [(name, LOGIN) for name in ODD]))
        server = ExporterServer("127.0.0.1:0", model.reference, render=model.exposition.render)
        server.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client, model
        server.shutdown()
        server.server_close()

    def test_as_prometheus_asks(self, http: tuple[httpx.Client, Model]) -> None:
        """Prometheus' headers get gzipped OpenMetrics, the same bytes as the reference."""
        client, model = http
        answer = client.get("/metrics", headers={"Accept": PROMETHEUS, "Accept-Encoding": "gzip"})
        encoder, content_type = choose_encoder(PROMETHEUS)
        assert answer.headers["Content-Type"] == content_type
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.content == encoder(model.reference)
        assert answer.content.endswith(b'other_value{x="1"} 2.5\n# EOF\n')
        assert answer.content.count(b"# EOF") == 1

    def test_plain_text_without_gzip(self, http: tuple[httpx.Client, Model]) -> None:
        """No Accept and no gzip: the text format as is."""
        client, model = http
        answer = client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "Content-Encoding" not in answer.headers
        assert answer.content == choose_encoder("")[0](model.reference)


class TestPromtool:
    def test_check_metrics_is_clean(self) -> None:
        """``promtool check metrics`` finds nothing in a scrape full of odd names."""
        model = Model()
        model.step(("apply", 0, [(name, LOGIN) for name in ODD]))
        model.step(("count", 1))
        model.step(("apply", 1, [(name, action) for name in ODD for action in (LOGIN, LOGOUT)]))
        model.step(("advance", 1, 30))
        model.exposition.render("", gzipped=False)  # then from the kept lines
        body, _ = model.exposition.render("", gzipped=False)
        assert promtool_findings(body) == []
