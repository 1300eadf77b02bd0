"""The web configuration file, re-read for new connections when it or a file it names changes.

As the exporter-toolkit does, a renewed certificate or a changed user list applies to the
next connection without a restart; connections already open keep what they started with.
The files (the web config, ``cert_file``, ``key_file``, ``client_ca_file``) are compared by
size, modification time and inode at most once per ``interval``, so a scrape costs at most
a few ``stat`` calls. A change that does not load (a key written before its certificate,
a typo) keeps the running configuration and is logged once; the next change is tried.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from exporter.errors import ConfigError
from exporter.logs import fields
from exporter.web.webconfig import WebSecurity, load_web_security

log = logging.getLogger(__name__)

Stamp = tuple[tuple[str, tuple[int, int, int] | None], ...]


class WatchedWebConfig:
    """The ``WebSecurity`` of a web config file, rebuilt when its files change.

    The first load raises ``ConfigError``, so a broken file still stops the start.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = os.fspath(path)
        self._interval, self._clock = interval, clock
        self._security = load_web_security(self.path)
        self._stamp = self._stamp_of(self._security)
        self._checked = clock()
        self._lock = threading.Lock()

    def current(self) -> WebSecurity:
        """What a new connection gets: the newest configuration that loaded."""
        now = self._clock()
        if now - self._checked >= self._interval and self._lock.acquire(blocking=False):
            try:  # one connection checks; the others meanwhile go on with the running config
                self._checked = now
                self._refresh()
            finally:
                self._lock.release()
        return self._security

    def _refresh(self) -> None:
        stamp = self._stamp_of(self._security)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            security = load_web_security(self.path)
        except ConfigError as exc:
            log.error(
                "web config changed and cannot be used, still serving the previous one",
                extra=fields(path=self.path, error=str(exc)),
            )
            return
        self._security, self._stamp = security, self._stamp_of(security)
        log.info("web config reloaded", extra=fields(path=self.path, security=security.describe()))

    def _stamp_of(self, security: WebSecurity) -> Stamp:
        tls = security.config.tls_server_config
        files = [self.path]
        if tls is not None:
            files += [tls.cert_file, tls.key_file, *filter(None, [tls.client_ca_file])]
        return tuple((name, _stat(name)) for name in files)


def _stat(path: str) -> tuple[int, int, int] | None:
    """Size, mtime and inode (a file renamed over the old one is a change too); None if absent."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ino
