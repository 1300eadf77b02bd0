"""One connection's requests: routing, basic auth, content negotiation, the request head deadline.

``/metrics`` renders the registry in the format the scraper asks for (OpenMetrics by
content negotiation, gzip when accepted); ``/healthz`` and ``/-/healthy`` answer while the
process lives; ``/ready`` and ``/-/ready`` turn 200 once every workspace finished its
initial lookback; ``POST /-/reload`` reloads; ``/`` is the landing page. Basic auth, when
configured, guards every path but the health ones.
"""

from __future__ import annotations

import gzip
import io
import logging
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder

from exporter import __version__
from exporter.logs import fields
from exporter.web.landing import landing_page
from exporter.web.webconfig import WebSecurity

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from exporter.web.server import ExporterServer

log = logging.getLogger(__name__)

HEALTH_PATHS = frozenset(("/healthz", "/-/healthy"))
READY_PATHS = frozenset(("/ready", "/-/ready"))
UNAUTHORIZED = {  # closed after a 401, so an unauthenticated body is never read
    "WWW-Authenticate": 'Basic realm="cention-logio-exporter", charset="UTF-8"',
    "Connection": "close",
}


class Handler(BaseHTTPRequestHandler):
    """Serves the requests of one connection, with the web security it started with."""

    protocol_version = "HTTP/1.1"
    server_version = f"cention-logio-exporter/{__version__}"
    disable_nagle_algorithm = True  # headers and body go out as two writes: send both at once

    def __init__(
        self,
        sock: socket.socket,
        client_address: Any,
        exporter: ExporterServer,
        security: WebSecurity | None,
    ) -> None:
        # Not socketserver's constructor: the server here is an ExporterServer.
        self.request, self.client_address = sock, client_address
        self.exporter, self.security = exporter, security
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.exporter.idle_timeout)
        self.rfile.close()
        self.head = _HeadDeadline(self.connection, self.exporter.idle_timeout)
        self.rfile = io.BufferedReader(self.head)

    def handle_one_request(self) -> None:
        self.head.start()
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.head.stop()
        return parsed

    def do_GET(self) -> None:
        self._guarded(self._get)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, route: Callable[[], None]) -> None:
        """Run one request; an unexpected error is logged and answered 500, the server goes on."""
        if not self._authorized():
            return
        try:
            route()
        except OSError:
            raise  # the client went away; the connection ends
        except Exception:  # a boundary: one request
            log.exception(
                "request failed", extra=fields(method=self.command, path=urlsplit(self.path).path)
            )
            self._send(500, b"internal server error\n", headers={"Connection": "close"})

    def _get(self) -> None:
        path = urlsplit(self.path).path
        if path == self.exporter.telemetry_path:
            self._metrics()
        elif path in HEALTH_PATHS:
            self._send(200, b"OK\n")
        elif path in READY_PATHS:
            waiting = self.exporter.not_ready()
            body = "\n".join(waiting) if waiting else "ready"
            self._send(503 if waiting else 200, (body + "\n").encode())
        elif path == "/":
            self._landing()
        elif path == "/-/reload" and self.exporter.reload is not None:
            self._send(405, b"method not allowed: reload with POST\n", headers={"Allow": "POST"})
        else:
            self._send(404, b"not found\n")

    def _post(self) -> None:
        length = self.headers.get("Content-Length", "0")
        self.rfile.read(int(length) if length.isdigit() else 0)  # keep the connection in step
        if self.exporter.reload is None:
            self._send(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
            return
        if urlsplit(self.path).path != "/-/reload":
            self._send(404, b"not found\n")
            return
        problem = self.exporter.reload()
        self._send(500 if problem else 200, ((problem or "reloaded") + "\n").encode())

    def _authorized(self) -> bool:
        """True, or False once a request lacking the basic auth asked for got its 401."""
        security = self.security
        if security is None or security.auth is None:
            return True
        if urlsplit(self.path).path in security.open_paths:
            return True
        if security.auth.check(self.headers.get("Authorization")):
            return True
        self._send(401, b"Unauthorized\n", headers=UNAUTHORIZED)
        return False

    def _metrics(self) -> None:
        with self.exporter.scrape_slot() as admitted:
            if not admitted:
                limit = self.exporter.max_requests
                refusal = f"limit of {limit} concurrent scrapes reached, try again later\n"
                self._send(503, refusal.encode())
                return
            accept = self.headers.get("Accept", "")
            encoder, content_type = choose_encoder(accept)
            zipped = "gzip" in self.headers.get("Accept-Encoding", "")
            registry, rendered = self.exporter.registry, self.exporter.render

            def render() -> bytes:
                if rendered is not None:
                    return rendered(accept, zipped)[0]
                body = encoder(registry)
                return gzip.compress(body, compresslevel=1) if zipped else body

            body = self.exporter.renders.render((content_type, zipped), render)
            self._send(200, body, content_type, {"Content-Encoding": "gzip"} if zipped else {})

    def _landing(self) -> None:
        status = self.exporter.status
        page = landing_page(
            version=self.exporter.version,
            telemetry_path=self.exporter.telemetry_path,
            docs_url=self.exporter.docs_url,
            workspaces=None if status is None else status(),
            now=time.time(),
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        headers = dict(headers or {})
        if self.exporter.crowded:  # every connection thread is taken: hand this one back
            headers["Connection"] = "close"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        extra = self.security.headers if self.security else ()
        for name, value in (*extra, *headers.items()):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http request", extra=fields(peer=self.client_address[0], line=format % args))


class _HeadDeadline(io.RawIOBase):
    """The connection's bytes; each request head (request line and headers) has a deadline.

    A socket timeout alone limits each read, so a client trickling a byte at a time could
    hold the connection for ever; here the whole head, and the wait for it on a kept-alive
    connection, must arrive within ``timeout``. The body and the answer then get ``timeout``
    per read or write.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__()
        self._sock, self._timeout = sock, timeout
        self._deadline: float | None = None

    def readable(self) -> bool:
        return True

    def start(self) -> None:
        self._deadline = time.monotonic() + self._timeout

    def stop(self) -> None:
        self._deadline = None
        self._sock.settimeout(self._timeout)

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete request head in time")
            self._sock.settimeout(left)
        return self._sock.recv_into(buffer)
