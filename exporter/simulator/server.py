"""A real HTTP server around the pure handler: the only simulator code that does I/O.

>>> with SimulatorServer(Scenario(start=1_700_000_000), token="t0ken") as server:
...     server.url.startswith("http://127.0.0.1:")
True

Given a certificate (``cert_file``, and ``key_file`` unless the key is in it) it serves
HTTPS instead, as Cention does, so clients are tested against certificates they do not
trust yet: a self-signed one, or one from a private CA.

Each request is planned (``handle`` under the active faults) at the clock's current time,
in its own daemon thread, so a slow client never blocks the others or keeps the process
alive. Only this module sleeps, cuts bodies short or resets connections. Request lines go
to the ``logging`` module at debug level rather than to stderr.
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from exporter.logs import fields
from exporter.simulator.effects import Plan, plan
from exporter.simulator.faults import FaultSchedule
from exporter.simulator.handler import SimRequest, SimResponse, logio_path
from exporter.simulator.scenario import Scenario

log = logging.getLogger(__name__)

Planner = Callable[[SimRequest], Plan]

_STOP_POLL = 0.05
"""Seconds between checks for ``stop()``: tests start and stop many servers."""

_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104
"""Where a local client reaches a server bound to every address."""


class SimulatorServer:
    """Serves ``scenario`` as workspace ``workspace`` of a Cention logio API over HTTP.

    ``faults`` (an empty schedule by default) may be changed while the server runs.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        token: str,
        workspace: str = "demo",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        faults: FaultSchedule | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.scenario, self.workspace = scenario, workspace
        self.faults = FaultSchedule() if faults is None else faults
        self._token, self._clock = token, clock
        self._address = (host, port)
        self._certificate = None if cert_file is None else (cert_file, key_file)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._requests = itertools.count()
        self.answered = 0
        """Requests answered or refused so far, as the API's side counts them."""

    @property
    def port(self) -> int:
        """The bound port; with ``port=0`` the one the system picked."""
        return self._bound().server_address[1]

    @property
    def url(self) -> str:
        """Base URL to which a client appends ``/s/{workspace}/capi/custom/logio``."""
        host = _WILDCARDS.get(self._address[0], self._address[0])
        scheme = "http" if self._certificate is None else "https"
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def logio_url(self) -> str:
        """The full URL of this workspace's logio endpoint."""
        return self.url + logio_path(self.workspace)

    def start(self) -> None:
        """Bind and serve from a daemon thread; returns once connections are accepted."""
        if self._httpd is not None:
            raise RuntimeError("simulator already started")
        self._httpd = _HTTPServer(self._address, self._plan, self._tls_context())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _STOP_POLL},
            name="logio-simulator",
            daemon=True,
        )
        self._thread.start()
        log.info("logio simulator serving", extra=fields(url=self.logio_url))

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the serving thread."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None or thread is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _plan(self, request: SimRequest) -> Plan:
        self.answered = next(self._requests) + 1  # count() is atomic under the GIL
        now = self._clock()
        return plan(
            request,
            self.scenario,
            self.faults.active(now),
            token=self._token,
            workspace=self.workspace,
            now=now,
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._certificate is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self._certificate)
        return context

    def _bound(self) -> _HTTPServer:
        if self._httpd is None:
            raise RuntimeError("simulator not started")
        return self._httpd


def serve(server: SimulatorServer, stop: threading.Event | None = None) -> None:
    """Run ``server`` in the foreground until ``stop`` is set or Ctrl-C: the CLI's loop."""
    with server:
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            log.info("logio simulator interrupted")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], planner: Planner, tls: ssl.SSLContext | None
    ) -> None:
        self.planner, self.tls = planner, tls
        self.stopping = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """With TLS, the handshake runs here, in the connection's own thread."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(_RequestHandler.timeout)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError included: a client that distrusts the certificate
            log.debug(
                "logio simulator TLS handshake failed",
                extra=fields(peer=client_address[0]),
                exc_info=True,
            )
            return
        try:
            super().finish_request(connection, client_address)
        finally:
            self.shutdown_request(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is routine: debug, not a stderr traceback."""
        log.debug(
            "logio simulator connection failed",
            extra=fields(peer=client_address[0]),
            exc_info=True,
        )


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns each request into a ``SimRequest`` and writes back the ``SimResponse``."""

    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    server_version = "cention-logio-simulator"
    timeout = 60  # seconds an idle keep-alive connection may hold its thread

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        log.debug(
            "logio simulator request",
            extra=fields(peer=self.address_string(), request=self.requestline, status=status),
        )

    def log_message(self, format: str, *args: Any) -> None:
        """The server's own complaints (a malformed request line, a timeout)."""
        log.debug(
            "logio simulator http error",
            extra=fields(peer=self.address_string(), error=format % args),
        )

    def _dispatch(self, send_body: bool = True) -> None:
        server = cast(_HTTPServer, self.server)
        request = SimRequest.from_target(self.command, self.path, dict(self.headers.items()))
        self._drain_body()
        try:
            todo = server.planner(request)
        except Exception:  # one request is the boundary: log it, answer 500, keep serving
            log.exception("logio simulator request failed", extra=fields(path=request.path))
            todo = Plan(SimResponse(500, {"Content-Type": "text/plain"}, b"internal error\n"))
        if todo.wait:
            server.stopping.wait(todo.wait)  # a hang, cut short by stop()
        if todo.response is None:
            self._reset()
        else:
            self._send(todo.response, send_body, todo.cut)

    def _send(self, response: SimResponse, send_body: bool, cut: int | None) -> None:
        """Write the response; with ``cut``, only that much body, then hang up."""
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(response.body if cut is None else response.body[:cut])
        if cut is not None:
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection: linger 0 makes close send a TCP RST, not a FIN."""
        self.log_message("%s", "connection reset")
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _drain_body(self) -> None:
        """Read any request body, so a keep-alive connection stays in step."""
        length = self.headers.get("Content-Length", "0")
        if length.isdigit():
            self.rfile.read(int(length))
        else:
            self.close_connection = True
