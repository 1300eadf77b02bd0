"""The exporter's HTTP endpoints: telemetry, health, readiness, reload and a landing page.

``/metrics`` renders the registry in the format the scraper asks for (OpenMetrics by
content negotiation, gzip when accepted); ``/healthz`` answers while the process lives;
``/ready`` turns 200 once every workspace finished its initial lookback.
"""

from __future__ import annotations

import gzip
import html
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from exporter import __version__
from exporter.config import parse_listen_address

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], list[str]]
Reload = Callable[[], str | None]

LANDING = """<!doctype html>
<html><head><title>Cention logio exporter</title></head>
<body><h1>Cention logio exporter</h1><p>Version {version}</p>
<ul><li><a href="{metrics}">Metrics</a></li><li><a href="/healthz">Health</a></li>
<li><a href="/ready">Readiness</a></li></ul></body></html>
"""


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
    ) -> None:
        host, port = parse_listen_address(listen_address)
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.registry = registry
        self.telemetry_path = telemetry_path
        self.not_ready = not_ready
        self.reload = reload
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer
    protocol_version = "HTTP/1.1"
    server_version = f"cention-logio-exporter/{__version__}"

    def do_GET(self) -> None:
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
        if urlsplit(self.path).path != "/-/reload" or self.server.reload is None:
            self._send(404 if self.server.reload else 405, b"not found\n")
            return
        problem = self.server.reload()
        self._send(500 if problem else 200, ((problem or "reloaded") + "\n").encode())

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        body = encoder(self.server.registry)
        headers = {}
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=1), "gzip"
        self._send(200, body, content_type, headers)

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
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s " + format, self.client_address[0], *args)
