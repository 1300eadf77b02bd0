"""The exporter's HTTP endpoints: telemetry, health, readiness, reload and a landing page.

``/metrics`` renders the registry in the format the scraper asks for (OpenMetrics by
content negotiation, gzip when accepted); ``/healthz`` answers while the process lives;
``/ready`` turns 200 once every workspace finished its initial lookback. With a web
configuration (``exporter.web.webconfig``) each connection's TLS handshake runs in that
connection's own thread, and basic auth guards every path but ``/healthz``.
"""

from __future__ import annotations

import html
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.registry import CollectorRegistry

from exporter import __version__
from exporter.config import parse_listen_address
from exporter.exposition import Render, negotiate
from exporter.web.webconfig import WebSecurity

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], list[str]]
Reload = Callable[[], str | None]

LANDING = """<!doctype html>
<html><head><title>Cention logio exporter</title></head>
<body><h1>Cention logio exporter</h1><p>Version {version}</p>
<ul><li><a href="{metrics}">Metrics</a></li><li><a href="/healthz">Health</a></li>
<li><a href="/ready">Readiness</a></li></ul></body></html>
"""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client may take to start and finish the TLS handshake."""
NOT_TLS = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)
UNAUTHORIZED = {  # closed after a 401, so an unauthenticated body is never read
    "WWW-Authenticate": 'Basic realm="cention-logio-exporter", charset="UTF-8"',
    "Connection": "close",
}


class ExporterServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the registry and the readiness check."""

    daemon_threads = True

    def __init__(
        self,
        listen_address: str,
        registry: CollectorRegistry,
        *,
        telemetry_path: str = "/metrics",
        not_ready: ReadyCheck = list,
        reload: Reload | None = None,
        security: WebSecurity | None = None,
        render: Render | None = None,
    ) -> None:
        host, port = parse_listen_address(listen_address)
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.render = render or partial(negotiate, registry)
        """What ``/metrics`` serves: the registry rendered by prometheus_client, or faster."""
        self.telemetry_path = telemetry_path
        self.not_ready = not_ready
        self.reload = reload
        self.security = security
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, in its own thread: a slow handshake delays no one else."""
        context = self.security.context if self.security else None
        if context is None:
            super().finish_request(request, client_address)
            return
        tls = _handshake(context, request, client_address[0])
        if tls is not None:
            try:
                super().finish_request(tls, client_address)
            finally:
                self.shutdown_request(tls)


def _handshake(context: ssl.SSLContext, sock: socket.socket, peer: str) -> ssl.SSLSocket | None:
    """The TLS side of ``sock``, or None once a failed or plain-HTTP client has been answered."""
    timeout = sock.gettimeout()
    sock.settimeout(HANDSHAKE_TIMEOUT)
    try:
        if sock.recv(1, socket.MSG_PEEK) not in (b"\x16", b""):  # 0x16 starts a TLS handshake
            sock.recv(65536)  # read the request, so that closing does not reset the answer
            sock.sendall(NOT_TLS)
            return None
        tls = context.wrap_socket(sock, server_side=True)
    except OSError as exc:  # ssl.SSLError included: no certificate, an untrusted one, ...
        log.debug("tls handshake with %s failed: %s", peer, exc)
        return None
    tls.settimeout(timeout)
    return tls


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer
    protocol_version = "HTTP/1.1"
    server_version = f"cention-logio-exporter/{__version__}"

    def do_GET(self) -> None:
        if not self._authorized():
            return
        path = urlsplit(self.path).path
        if path == self.server.telemetry_path:
            self._metrics()
        elif path == "/healthz":
            self._send(200, b"OK\n")
        elif path == "/ready":
            waiting = self.server.not_ready()
            body = "\n".join(waiting) if waiting else "ready"
            self._send(503 if waiting else 200, (body + "\n").encode())
        elif path == "/":
            page = LANDING.format(
                version=__version__, metrics=html.escape(self.server.telemetry_path)
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found\n")

    def do_POST(self) -> None:
        if not self._authorized():
            return
        length = self.headers.get("Content-Length", "0")
        self.rfile.read(int(length) if length.isdigit() else 0)  # keep the connection in step
        if self.server.reload is None:
            self._send(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
            return
        if urlsplit(self.path).path != "/-/reload":
            self._send(404, b"not found\n")
            return
        problem = self.server.reload()
        self._send(500 if problem else 200, ((problem or "reloaded") + "\n").encode())

    def _authorized(self) -> bool:
        """True, or False once a request lacking the basic auth asked for got its 401."""
        security = self.server.security
        if security is None or security.auth is None:
            return True
        if urlsplit(self.path).path in security.open_paths:
            return True
        if security.auth.check(self.headers.get("Authorization")):
            return True
        self._send(401, b"Unauthorized\n", headers=UNAUTHORIZED)
        return False

    def _metrics(self) -> None:
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
        body, content_type = self.server.render(self.headers.get("Accept", ""), gzipped)
        self._send(200, body, content_type, {"Content-Encoding": "gzip"} if gzipped else None)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        extra = self.server.security.headers if self.server.security else ()
        for name, value in (*extra, *(headers or {}).items()):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s " + format, self.client_address[0], *args)
