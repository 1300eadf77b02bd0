"""The HTTP endpoints, over real loopback HTTP."""

from __future__ import annotations

import gzip
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx
import pytest
from harness import logged, write_config
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily

from exporter import __version__
from exporter.config import load_config
from exporter.daemon import Exporter
from exporter.simulator import Scenario, SimulatorServer
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
    @pytest.mark.parametrize("path", ["/healthz", "/-/healthy"])
    def test_healthy(self, http: httpx.Client, path: str) -> None:
        """/healthz and Prometheus' /-/healthy answer 200 while the process lives."""
        response = http.get(path)
        assert (response.status_code, response.text) == (200, "OK\n")

    @pytest.mark.parametrize("path", ["/ready", "/-/ready"])
    def test_ready_follows_the_workspaces(
        self, serve: Callable[..., httpx.Client], path: str
    ) -> None:
        """/ready (and /-/ready) is 503 with a reason per waiting workspace, then 200."""
        state = ExporterState()
        demo, sales = WorkspaceState("demo", (60.0,)), WorkspaceState("sales", (60.0,))
        state.add(demo)
        state.add(sales)
        http = serve(not_ready=state.not_ready)
        answers = [http.get(path)]
        demo.health.ready = True
        answers.append(http.get(path))
        sales.health.ready = True
        answers.append(http.get(path))
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
        """/ is an HTML page with the version line and described links to every endpoint."""
        response = serve(telemetry_path="/probe/metrics", docs_url="https://docs.example/").get("/")
        assert (response.status_code, response.headers["Content-Type"]) == (
            200,
            "text/html; charset=utf-8",
        )
        assert [
            fragment in response.text
            for fragment in (
                f"<div>Version: {__version__}</div>",
                '<a href="/probe/metrics">Metrics</a>: the samples Prometheus scrapes',
                '<a href="/-/healthy">Health</a>:',
                '<a href="/-/ready">Readiness</a>:',
                '<a href="https://docs.example/">Documentation</a>:',
            )
        ] == [True, True, True, True, True]

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

    def test_get_is_not_allowed(self, serve: Callable[..., httpx.Client]) -> None:
        """GET /-/reload is 405 saying POST, and reloads nothing."""
        calls: list[None] = []
        response = serve(reload=lambda: calls.append(None)).get("/-/reload")
        assert (response.status_code, response.headers.get("Allow"), calls) == (405, "POST", [])

    def test_get_without_reload_is_not_found(self, http: httpx.Client) -> None:
        """Without a reload callback there is nothing at /-/reload to GET."""
        assert http.get("/-/reload").status_code == 404

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


class SlowCollector:
    """A collector whose collect() waits until the test releases it; counts who is inside."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.inside = threading.Semaphore(0)

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily("cention_test_slow", "A value served slowly.")]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.inside.release()
        self.release.wait(30)
        yield GaugeMetricFamily("cention_test_slow", "A value served slowly.", value=1)


def closed_by_server(sock: socket.socket, wait: float = 10.0) -> bool:
    """True once the server closed ``sock`` (end of stream or reset), within ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


class TestListen:
    def test_every_listen_address_answers(self, registry: CollectorRegistry) -> None:
        """Two listen addresses are both served."""
        server = ExporterServer(["127.0.0.1:0", "127.0.0.2:0"], registry)
        server.start()
        try:
            hosts = [address.rpartition(":")[0] for address in server.addresses]
            answers = [httpx.get(f"http://{a}/metrics", headers=IDENTITY) for a in server.addresses]
        finally:
            server.shutdown()
            server.server_close()
        assert hosts == ["127.0.0.1", "127.0.0.2"]
        assert [(r.status_code, r.content) for r in answers] == [(200, TEXT), (200, TEXT)]

    def test_a_busy_address_is_named(self, registry: CollectorRegistry) -> None:
        """A bind that fails raises OSError naming the address that failed."""
        with socket.create_server(("127.0.0.1", 0)) as busy:
            taken = f"127.0.0.1:{busy.getsockname()[1]}"
            with pytest.raises(OSError, match="Address already in use") as caught:
                ExporterServer(["127.0.0.1:0", taken], registry)
        assert caught.value.strerror == f"{taken}: Address already in use"

    def test_a_passed_socket_is_served(self, registry: CollectorRegistry) -> None:
        """A socket already listening (as systemd passes them) is served like an address."""
        listener = socket.create_server(("127.0.0.1", 0))
        server = ExporterServer((), registry, sockets=[listener])
        server.start()
        try:
            response = httpx.get(f"http://{server.addresses[0]}/metrics", headers=IDENTITY)
        finally:
            server.shutdown()
            server.server_close()
        assert (response.status_code, response.content) == (200, TEXT)


class TestLimits:
    def test_one_scrape_over_the_limit_gets_503_and_polling_goes_on(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """41 scrapes at once with max_requests=40: 40 are served, one gets 503 at once (and
        a warning), and meanwhile the exporter goes on polling and /healthz answers."""
        scenario = Scenario(start=int(time.time()), agents=5, seed=2, live=False)
        with SimulatorServer(scenario, token="limit-token", workspace="demo") as simulator:
            workspace = {"workspace": "demo", "api_url": simulator.url, "token": "limit-token"}
            exporter = Exporter(load_config(write_config(tmp_path / "c.yaml", [workspace])))
            slow = SlowCollector()
            exporter.registry.register(slow)
            server = ExporterServer("127.0.0.1:0", exporter.registry, max_requests=40)
            url = f"http://127.0.0.1:{server.port}"
            exporter.start()
            server.start()
            try:
                with ThreadPoolExecutor(41) as pool:
                    scrapes = [
                        pool.submit(httpx.get, url + "/metrics", timeout=30) for _ in range(41)
                    ]
                    rendering = slow.inside.acquire(timeout=10)
                    queued = eventually(lambda: server.renders.waiting() == 39)
                    first = next(as_completed(scrapes, timeout=10)).result()
                    health = httpx.get(url + "/healthz", timeout=5)
                    polled = polls_go_on(exporter.state.get("demo"))
                    slow.release.set()
                    statuses = sorted(f.result().status_code for f in scrapes)
                renders = [slow.inside.acquire(timeout=0) for _ in range(2)]
                after = httpx.get(url + "/metrics", timeout=10).status_code
            finally:
                slow.release.set()
                server.shutdown()
                server.server_close()
                exporter.stop()
        assert (rendering, queued) == (True, True)
        assert (first.status_code, first.text) == (
            503,
            "limit of 40 concurrent scrapes reached, try again later\n",
        )
        assert statuses == [200] * 40 + [503]
        assert renders == [True, False]  # the 39 that waited shared one render
        served = [r for r in caplog.records if r.name == "exporter.web.server"]
        assert logged(served, "max_requests") == [
            ("WARNING", "scrapes at the --web.max-requests limit: answering 503", 40)
        ]
        assert (health.status_code, polled, after) == (200, True, 200)

    def test_scrapes_arriving_during_a_render_share_the_next(
        self, serve: Callable[..., httpx.Client]
    ) -> None:
        """While one scrape renders, the ten arriving meanwhile get one render between them,
        started after they arrived."""
        slow = SlowCollector()
        registry = CollectorRegistry()
        registry.register(slow)  # type: ignore[arg-type]
        server, http = start(registry)
        url = f"http://127.0.0.1:{server.port}/metrics"
        try:
            with ThreadPoolExecutor(11) as pool:
                lone = pool.submit(httpx.get, url, timeout=30)
                rendering = slow.inside.acquire(timeout=10)
                crowd = [pool.submit(httpx.get, url, timeout=30) for _ in range(10)]
                queued = eventually(lambda: server.renders.waiting() == 10)
                slow.release.set()
                bodies = {f.result().content for f in [lone, *crowd]}
            renders = [slow.inside.acquire(timeout=0) for _ in range(2)]
        finally:
            slow.release.set()
            stop(server, http)
        assert (rendering, queued, renders) == (True, True, [True, False])
        assert bodies == {
            b"# HELP cention_test_slow A value served slowly.\n"
            b"# TYPE cention_test_slow gauge\ncention_test_slow 1.0\n"
        }

    def test_connection_threads_are_bounded(self, registry: CollectorRegistry) -> None:
        """Past max_connections, connections wait for a thread instead of each getting one,
        and a request still gets through once idle ones time out."""
        server = ExporterServer("127.0.0.1:0", registry, max_connections=2, idle_timeout=1.0)
        before = set(threading.enumerate())
        server.start()
        silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        try:
            started = eventually(lambda: len(connection_threads(before)) >= 2)
            time.sleep(0.3)  # time for more threads to start, were they not bounded
            peak = len(connection_threads(before))
            response = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=20)
            closed = [closed_by_server(sock) for sock in silent]
        finally:
            for sock in silent:
                sock.close()
            server.shutdown()
            server.server_close()
        assert (started, peak) == (True, 2)
        assert (response.status_code, closed) == (200, [True] * 5)


def polls_go_on(workspace: WorkspaceState | None) -> bool:
    """True once the workspace completes a poll after this call, within 15 seconds."""
    assert workspace is not None

    def last_success() -> float | None:
        with workspace.lock:
            return workspace.health.last_success

    seen = last_success()
    return eventually(lambda: last_success() != seen, timeout=15)


def connection_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.name == "http-conn"]


def eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """True once ``condition()`` holds, polled for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class TestTimeouts:
    def test_a_silent_connection_is_closed_while_scrapes_go_on(
        self, serve: Callable[..., httpx.Client]
    ) -> None:
        """A connection that sends nothing is closed after idle_timeout; scrapes meanwhile
        are served."""
        http = serve(idle_timeout=1.0)
        with socket.create_connection(("127.0.0.1", http.base_url.port or 0)) as silent:
            scrapes = [http.get("/metrics", headers=IDENTITY).content for _ in range(3)]
            closed = closed_by_server(silent)
        assert (scrapes, closed) == ([TEXT] * 3, True)

    def test_a_trickling_request_head_is_cut_off(self, serve: Callable[..., httpx.Client]) -> None:
        """A client sending its headers a line at a time, each in time, is still closed once
        the whole head took longer than idle_timeout."""
        http = serve(idle_timeout=1.0)
        with socket.create_connection(("127.0.0.1", http.base_url.port or 0)) as slow:
            slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n")
            lines_sent = 0
            for _ in range(50):  # 10 s of a line every 0.2 s
                time.sleep(0.2)
                ready, _, _ = select.select([slow], [], [], 0)
                if ready or not send_quietly(slow, b"X-Slow: 1\r\n"):
                    break
                lines_sent += 1
            closed = closed_by_server(slow, wait=1.0)
        assert closed is True
        assert lines_sent < 49

    def test_an_idle_keep_alive_connection_is_closed(
        self, serve: Callable[..., httpx.Client]
    ) -> None:
        """After an answer, a kept-alive connection that sends no next request is closed."""
        http = serve(idle_timeout=1.0)
        with socket.create_connection(("127.0.0.1", http.base_url.port or 0)) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: exporter\r\n\r\n")
            client.settimeout(10)
            answer = b""
            while not answer.endswith(b"OK\n"):
                answer += client.recv(65536)
            closed = closed_by_server(client)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert closed is True


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """Send ``data``; False when the server has already closed the connection."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


class TestErrors:
    def test_a_failing_collector_gets_500_and_the_server_goes_on(
        self, serve: Callable[..., httpx.Client], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A collector that raises answers 500, is logged with its traceback, and the next
        request is served."""

        class Broken:
            def collect(self) -> Iterator[GaugeMetricFamily]:
                raise RuntimeError("disk on fire")

        registry = CollectorRegistry()
        registry.register(Broken())  # type: ignore[arg-type]
        server, http = start(registry)
        try:
            with caplog.at_level(logging.ERROR, logger="exporter.web.handler"):
                failed = http.get("/metrics")
            health = http.get("/healthz")
        finally:
            stop(server, http)
        assert (failed.status_code, failed.text) == (500, "internal server error\n")
        assert (health.status_code, health.text) == (200, "OK\n")
        assert logged(caplog.records, "method", "path") == [
            ("ERROR", "request failed", "GET", "/metrics")
        ]
        assert [r.exc_info is not None for r in caplog.records] == [True]
