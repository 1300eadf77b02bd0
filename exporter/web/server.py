"""The exporter's HTTP server: its listening sockets, bounded connection threads, a scrape limit.

Every listen address, and every socket systemd passed, is served by one accept loop. Each
connection gets a thread of its own, at most ``max_connections`` at once; past that, new
connections wait in the listen backlog (``request_queue_size``) until a thread is free,
and answers close their connection instead of keeping it alive. A connection that does
not send a complete request head within ``idle_timeout`` (a silent or trickling client,
an idle keep-alive) is closed, so it holds its thread no longer than that.

Scrapes arriving while one renders share the next render (``shared``). At most
``max_requests`` scrapes are served at once (the toolkit's ``--web.max-requests``,
promhttp's ``MaxRequestsInFlight``); one more gets 503 at once. Only scrapes count: the
health, readiness and landing pages cost next to nothing, and a liveness probe must not
fail (and restart the exporter) because scrapers crowd in. With TLS each connection's
handshake runs in its own thread, with its own time limit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client.registry import CollectorRegistry

from exporter import __version__
from exporter.config import parse_listen_address
from exporter.logs import fields
from exporter.web.handler import Handler
from exporter.web.shared import SharedRenders
from exporter.web.status import WorkspaceStatus
from exporter.web.webconfig import WebSecurity

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], list[str]]
Reload = Callable[[], str | None]
Render = Callable[[str, bool], tuple[bytes, str]]
"""``(Accept header, gzip accepted) -> (body, content type)``, e.g. kept lines."""
StatusCheck = Callable[[], Sequence[WorkspaceStatus]]

DEFAULT_MAX_REQUESTS = 40
"""Scrapes served at once, as node_exporter's ``--web.max-requests``; 0 means no limit."""
SPARE_CONNECTIONS = 64
"""Connection threads beyond ``max_requests``: probes, 503 answers, idle keep-alives."""
IDLE_TIMEOUT = 15.0
"""Seconds a connection may take to send a request head, counted from its connection or
from the end of the previous answer; also the limit on each later read or write."""
HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client may take to start and finish the TLS handshake."""
NOT_TLS = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)
REFUSALS_LOGGED_EVERY = 60.0
"""Seconds between warnings that the scrape limit answered 503, so a storm logs little."""


class SecuritySource(Protocol):
    """Where each new connection gets its TLS and basic auth (a fixed or a watched file)."""

    def current(self) -> WebSecurity: ...


class ExporterServer:
    """Serves the registry, the probes and the landing page on every listening socket."""

    request_queue_size = 128
    """The listen backlog: connections the kernel holds while every thread is busy."""

    def __init__(
        self,
        listen_addresses: str | Sequence[str],
        registry: CollectorRegistry,
        *,
        sockets: Sequence[socket.socket] = (),
        telemetry_path: str = "/metrics",
        not_ready: ReadyCheck = list,
        reload: Reload | None = None,
        security: SecuritySource | None = None,
        status: StatusCheck | None = None,
        version: str = __version__,
        docs_url: str | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int | None = None,
        render: Render | None = None,
    ) -> None:
        """Listen on ``listen_addresses`` (``HOST:PORT``, one or several) and on ``sockets``.

        ``sockets`` are already listening, e.g. from ``activation.activated_sockets``. A bind
        that fails closes what was opened and raises ``OSError`` naming the address.
        """
        if max_requests < 0 or idle_timeout <= 0:
            raise ValueError("max_requests must be 0 or more and idle_timeout above 0")
        addresses = [listen_addresses] if isinstance(listen_addresses, str) else listen_addresses
        self.listeners = _listen_all(addresses, self.request_queue_size) + list(sockets)
        if not self.listeners:
            raise ValueError("nothing to listen on: give a listen address or a socket")
        self.registry, self.telemetry_path = registry, telemetry_path
        self.not_ready, self.reload, self.security = not_ready, reload, security
        self.status, self.version, self.docs_url = status, version, docs_url
        self.render = render
        """What ``/metrics`` serves, if not the registry as prometheus_client renders it."""
        self.max_requests, self.idle_timeout = max_requests, idle_timeout
        self.max_connections = max_connections or (
            (max_requests or DEFAULT_MAX_REQUESTS) + SPARE_CONNECTIONS
        )
        self._scrapes = threading.BoundedSemaphore(max_requests) if max_requests else None
        self.renders = SharedRenders()
        self._refused_at = -REFUSALS_LOGGED_EVERY
        self._connections = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._wake, self._waker = socket.socketpair()

    @property
    def port(self) -> int:
        """The port of the first listening socket."""
        return int(self.listeners[0].getsockname()[1])

    @property
    def addresses(self) -> list[str]:
        """``HOST:PORT`` of every listening socket, e.g. ``["127.0.0.1:9863", "[::1]:9863"]``."""
        named = (sock.getsockname()[:2] for sock in self.listeners)
        return [f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in named]

    @property
    def crowded(self) -> bool:
        """Every connection thread is taken."""
        return self._connections >= self.max_connections

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread

    def serve_forever(self) -> None:
        """Accept connections until ``shutdown``, each served in a thread of its own."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                for sock in (*self.listeners, self._wake):
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ, sock)
                while self._take_thread():
                    accepted = self._accept(selector)
                    if accepted is None:
                        self._release_thread()
                        continue
                    threading.Thread(
                        target=self._connection, args=accepted, name="http-conn", daemon=True
                    ).start()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop accepting and wait for the accept loop to end; open connections run out."""
        with self._changed:
            self._stopping.set()
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            self._waker.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        for sock in (*self.listeners, self._wake, self._waker):
            sock.close()

    @contextlib.contextmanager
    def scrape_slot(self) -> Iterator[bool]:
        """Yields whether this scrape may run: False once ``max_requests`` are under way."""
        if self._scrapes is None:
            yield True
            return
        if not self._scrapes.acquire(blocking=False):
            self._log_refusal()
            yield False
            return
        try:
            yield True
        finally:
            self._scrapes.release()

    def _log_refusal(self) -> None:
        now = time.monotonic()
        if now - self._refused_at >= REFUSALS_LOGGED_EVERY:
            self._refused_at = now
            log.warning(
                "scrapes at the --web.max-requests limit: answering 503",
                extra=fields(max_requests=self.max_requests),
            )

    def _take_thread(self) -> bool:
        """Wait for a free connection thread and take it; False once shutting down."""
        with self._changed:
            while self.crowded and not self._stopping.is_set():
                self._changed.wait()
            if self._stopping.is_set():
                return False
            self._connections += 1
            return True

    def _release_thread(self) -> None:
        with self._changed:
            self._connections -= 1
            self._changed.notify()

    def _accept(self, selector: selectors.BaseSelector) -> tuple[socket.socket, Any] | None:
        """One new connection, or None when woken up or the connection went away at once."""
        for key, _ in selector.select():
            sock: socket.socket = key.data
            if sock is self._wake:
                return None
            try:
                return sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as exc:  # out of file descriptors, say: wait rather than spin
                log.warning("cannot accept a connection", extra=fields(error=exc.strerror))
                self._stopping.wait(1.0)
        return None

    def _connection(self, sock: socket.socket, address: Any) -> None:
        """Serve one connection to its end, with the web security current at its start."""
        try:
            security = self.security.current() if self.security is not None else None
            if security is not None and security.context is not None:
                tls = _handshake(security.context, sock, address[0])
                if tls is None:
                    return
                sock = tls
            Handler(sock, address, self, security)
        except OSError as exc:  # reset, broken pipe, a timeout while answering
            log.debug("connection ended", extra=fields(peer=address[0], error=str(exc)))
        except Exception:  # a boundary: one connection
            log.exception("connection failed", extra=fields(peer=address[0]))
        finally:
            _close(sock)
            self._release_thread()


def _listen_all(addresses: Sequence[str], backlog: int) -> list[socket.socket]:
    listeners: list[socket.socket] = []
    try:
        for address in addresses:
            listeners.append(_listen(address, backlog))
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def _listen(address: str, backlog: int) -> socket.socket:
    host, port = parse_listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:  # create_server's own message repeats the address as a tuple
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(exc.errno, f"{address}: {why}") from None


def _handshake(context: ssl.SSLContext, sock: socket.socket, peer: str) -> ssl.SSLSocket | None:
    """The TLS side of ``sock``, or None once a failed or plain-HTTP client has been answered."""
    sock.settimeout(HANDSHAKE_TIMEOUT)
    try:
        if sock.recv(1, socket.MSG_PEEK) not in (b"\x16", b""):  # 0x16 starts a TLS handshake
            sock.recv(65536)  # read the request, so that closing does not reset the answer
            sock.sendall(NOT_TLS)
            return None
        return context.wrap_socket(sock, server_side=True)
    except OSError as exc:  # ssl.SSLError included: no certificate, an untrusted one, ...
        log.debug("tls handshake failed", extra=fields(peer=peer, error=str(exc)))
        return None


def _close(sock: socket.socket) -> None:
    """Send what is left and close; shutdown first, so the client sees the end at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()
