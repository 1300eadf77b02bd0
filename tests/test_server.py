"""The HTTP endpoints, over real loopback HTTP."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from exporter import __version__
from exporter.state import ExporterState, WorkspaceState
from exporter.web.server import ExporterServer

TEXT = b"# HELP demo_value A demo value.\n# TYPE demo_value gauge\ndemo_value 3.0\n"
OPENMETRICS = TEXT + b"# EOF\n"
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture(name="registry", scope="module")
def fixture_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("demo_value", "A demo value.", registry=registry).set(3)
    return registry


def start(registry: CollectorRegistry, **options: object) -> tuple[ExporterServer, httpx.Client]:
    server = ExporterServer("127.0.0.1:0", registry, **options)  # type: ignore[arg-type]
    server.start()
    return server, httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5.0)


def stop(server: ExporterServer, client: httpx.Client) -> None:
    client.close()
    server.shutdown()
    server.server_close()


@pytest.fixture(name="serve")
def fixture_serve(registry: CollectorRegistry) -> Iterator[Callable[..., httpx.Client]]:
    """Start a server with the given options on a free loopback port; return its client."""
    started: list[tuple[ExporterServer, httpx.Client]] = []

    def serve(**options: object) -> httpx.Client:
        started.append(start(registry, **options))
        return started[-1][1]

    yield serve
    for server, client in started:
        stop(server, client)


@pytest.fixture(name="http", scope="module")
def fixture_http(registry: CollectorRegistry) -> Iterator[httpx.Client]:
    """A client of one server with the default options, shared by the tests that only read."""
    server, client = start(registry)
    yield client
    stop(server, client)


class TestMetrics:
    def test_text_format(self, http: httpx.Client) -> None:
        """By default /metrics is the Prometheus text format, uncompressed when not asked."""
        response = http.get("/metrics", headers=IDENTITY)
        assert (
            response.status_code,
            response.headers["Content-Type"],
            response.headers.get("Content-Encoding"),
            response.content,
        ) == (200, "text/plain; version=0.0.4; charset=utf-8", None, TEXT)

    def test_openmetrics(self, http: httpx.Client) -> None:
        """An Accept header asking for OpenMetrics gets OpenMetrics, ending in # EOF."""
        response = http.get(
            "/metrics",
            headers={**IDENTITY, "Accept": "application/openmetrics-text; version=1.0.0"},
        )
        assert response.headers["Content-Type"].split(";")[0] == "application/openmetrics-text"
        assert response.content == OPENMETRICS

    def test_gzip(self, http: httpx.Client) -> None:
        """A scraper that accepts gzip gets a gzip body of the same exposition."""
        with http.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as response:
            raw = b"".join(response.iter_raw())
        assert response.headers["Content-Encoding"] == "gzip"
        assert int(response.headers["Content-Length"]) == len(raw)
        assert gzip.decompress(raw) == TEXT

    def test_query_string_is_ignored(self, http: httpx.Client) -> None:
        """A query string does not change the path that is served."""
        response = http.get("/metrics?debug=1", headers=IDENTITY)
        assert (response.status_code, response.content) == (200, TEXT)

    def test_custom_telemetry_path(self, serve: Callable[..., httpx.Client]) -> None:
        """The telemetry path serves the metrics, and /metrics then does not."""
        http = serve(telemetry_path="/probe/metrics")
        served = http.get("/probe/metrics", headers=IDENTITY)
        default = http.get("/metrics", headers=IDENTITY)
        assert (served.status_code, served.content, default.status_code) == (200, TEXT, 404)

    def test_head(self, http: httpx.Client) -> None:
        """HEAD /metrics answers the headers of GET without a body."""
        response = http.head("/metrics", headers=IDENTITY)
        assert (response.status_code, response.headers["Content-Length"], response.content) == (
            200,
            str(len(TEXT)),
            b"",
        )

    def test_keep_alive(self, http: httpx.Client) -> None:
        """Several scrapes over one connection each get the full exposition."""
        bodies = [http.get("/metrics", headers=IDENTITY).content for _ in range(3)]
        assert bodies == [TEXT, TEXT, TEXT]


class TestHealth:
    def test_healthz(self, http: httpx.Client) -> None:
        """/healthz answers 200 while the process lives."""
        response = http.get("/healthz")
        assert (response.status_code, response.text) == (200, "OK\n")

    def test_ready_follows_the_workspaces(self, serve: Callable[..., httpx.Client]) -> None:
        """/ready is 503 with a reason per waiting workspace, then 200 once all are ready."""
        state = ExporterState()
        demo, sales = WorkspaceState("demo", (60.0,)), WorkspaceState("sales", (60.0,))
        state.add(demo)
        state.add(sales)
        http = serve(not_ready=state.not_ready)
        answers = [http.get("/ready")]
        demo.health.ready = True
        answers.append(http.get("/ready"))
        sales.health.ready = True
        answers.append(http.get("/ready"))
        assert [(r.status_code, r.text) for r in answers] == [
            (
                503,
                "demo: initial lookback not finished\nsales: initial lookback not finished\n",
            ),
            (503, "sales: initial lookback not finished\n"),
            (200, "ready\n"),
        ]

    def test_ready_without_check(self, http: httpx.Client) -> None:
        """With nothing to wait for, /ready is 200."""
        response = http.get("/ready")
        assert (response.status_code, response.text) == (200, "ready\n")


class TestPages:
    def test_landing_page(self, serve: Callable[..., httpx.Client]) -> None:
        """/ is an HTML page with the version and links to the telemetry path and health."""
        response = serve(telemetry_path="/probe/metrics").get("/")
        assert (response.status_code, response.headers["Content-Type"]) == (
            200,
            "text/html; charset=utf-8",
        )
        assert [
            fragment in response.text
            for fragment in (
                f"<p>Version {__version__}</p>",
                '<a href="/probe/metrics">Metrics</a>',
                '<a href="/healthz">Health</a>',
                '<a href="/ready">Readiness</a>',
            )
        ] == [True, True, True, True]

    @pytest.mark.parametrize("path", ["/nope", "/metrics/", "/healthz/x", "/index.html"])
    def test_unknown_path(self, http: httpx.Client, path: str) -> None:
        """Any other path is 404."""
        response = http.get(path)
        assert (response.status_code, response.text) == (404, "not found\n")


class TestReload:
    def test_reload_ok(self, serve: Callable[..., httpx.Client]) -> None:
        """POST /-/reload runs the reload callback once and answers 200."""
        calls: list[None] = []

        def reload() -> str | None:
            calls.append(None)
            return None

        response = serve(reload=reload).post("/-/reload")
        assert (response.status_code, response.text, len(calls)) == (200, "reloaded\n", 1)

    def test_reload_failed(self, serve: Callable[..., httpx.Client]) -> None:
        """A reload that reports a problem answers 500 with the problem."""
        response = serve(reload=lambda: "poll.interval: must be at least 1s").post("/-/reload")
        assert (response.status_code, response.text) == (
            500,
            "poll.interval: must be at least 1s\n",
        )

    def test_post_elsewhere(self, serve: Callable[..., httpx.Client]) -> None:
        """A POST to another path does not reload."""
        calls: list[None] = []
        response = serve(reload=lambda: calls.append(None)).post("/metrics")
        assert (response.status_code, calls) == (404, [])

    def test_reload_not_offered(self, http: httpx.Client) -> None:
        """Without a reload callback, POST /-/reload is 405 and says which methods are allowed."""
        response = http.post("/-/reload")
        assert (response.status_code, response.headers.get("Allow")) == (405, "GET, HEAD")

    def test_request_body_is_consumed(self, serve: Callable[..., httpx.Client]) -> None:
        """A reload sent with a body leaves the connection usable for the next request."""
        http = serve(reload=lambda: None)
        reload = http.post("/-/reload", content=b"force=1")
        health = http.get("/healthz")
        assert [(reload.status_code, reload.text), (health.status_code, health.text)] == [
            (200, "reloaded\n"),
            (200, "OK\n"),
        ]
