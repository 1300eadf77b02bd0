"""The logio API client: the one place that speaks HTTP to Cention and catches httpx errors.

``LogioClient.fetch(frm, to)`` returns the body bytes of one answer or raises a
``LogioError`` whose ``reason`` says what went wrong. Every request, answered or not, is
reported to ``on_request(code, seconds)`` so the caller can count it. What the readers
need of a client is a ``Fetcher``; ``Patient`` is one that retries what may pass, for the
one-shot commands, which have no next poll to wait for.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from exporter import __version__
from exporter.config import PollConfig, WorkspaceConfig
from exporter.errors import (
    AuthError,
    ClientError,
    InvalidResponseError,
    LogioError,
    NetworkError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
)
from exporter.logs import fields

log = logging.getLogger(__name__)

RequestObserver = Callable[[str, float], None]
RETRY_ATTEMPTS = 3
MAX_RETRY_WAIT = 60.0


class Fetcher(Protocol):
    """What a reader needs of a client: ``LogioClient``, ``Patient``, or a fake in tests."""

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes: ...


def _ignore(code: str, seconds: float) -> None:
    """The default observer, for callers that do not count requests."""


class LogioClient:
    """Fetches the logio records of one workspace."""

    def __init__(
        self,
        workspace: WorkspaceConfig,
        *,
        timeout: float,
        max_response_bytes: int,
        on_request: RequestObserver = _ignore,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.workspace = workspace
        self.max_response_bytes = max_response_bytes
        self.on_request = on_request
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {workspace.token.reveal()}",
                "User-Agent": f"cention-logio-exporter/{__version__}",
            },
            timeout=timeout,
            verify=_tls_context(workspace),
            follow_redirects=False,
            transport=transport,
        )

    @classmethod
    def from_config(
        cls, workspace: WorkspaceConfig, poll: PollConfig, on_request: RequestObserver = _ignore
    ) -> LogioClient:
        """The client of ``workspace`` with the ``poll`` settings that concern requests."""
        return cls(
            workspace,
            timeout=poll.timeout,
            max_response_bytes=poll.max_response_bytes,
            on_request=on_request,
        )

    def close(self) -> None:
        self._http.close()

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        """One GET of ``[frm, to]``: the body, or a ``LogioError`` naming the failure."""
        params = {"format": self.workspace.format, "from": str(frm), "to": str(to)}
        if name is not None:
            params["name"] = name
        started = time.monotonic()
        code = "error"
        try:
            with self._http.stream("GET", self.workspace.endpoint, params=params) as response:
                code = str(response.status_code)
                _check_status(response)
                return self._read(response)
        except httpx.TimeoutException:
            raise RequestTimeout(f"no complete answer within {self._timeout()}s") from None
        except httpx.RemoteProtocolError as exc:
            if code != "error":  # the status came, then the body broke off
                raise InvalidResponseError(f"body cut short: {_describe(exc)}") from None
            raise NetworkError(f"connection broken: {_describe(exc)}") from None
        except httpx.TransportError as exc:
            raise NetworkError(_unreachable(exc)) from None
        except httpx.DecodingError as exc:
            raise InvalidResponseError(f"body cannot be decoded: {_describe(exc)}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # anything else httpx can raise
            raise ClientError(f"request failed: {_describe(exc)}") from None
        finally:
            self.on_request(code, time.monotonic() - started)

    def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise InvalidResponseError(f"answer of {declared} bytes exceeds max_response_bytes")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise InvalidResponseError(
                    f"answer exceeds max_response_bytes ({self.max_response_bytes})"
                )
            chunks.append(chunk)
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise InvalidResponseError(f"got {content_type.split(';')[0]} instead of records")
        return b"".join(chunks)

    def _timeout(self) -> float | None:
        return self._http.timeout.read


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"HTTP {status} from {response.request.url.path}"
    if status in (401, 403):
        raise AuthError(f"{where}: the token needs the 'Access to logio API' claim")
    if status == 429:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise RateLimitedError(f"{where}: rate limited", retry_after)
    if status >= 500:
        raise ServerError(where)
    if 300 <= status < 400:
        raise ClientError(f"{where}: redirect not followed (the token is not sent elsewhere)")
    raise ClientError(where)


def _retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _unreachable(exc: httpx.TransportError) -> str:
    """Why no answer came; a certificate that fails verification is named, not a network."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {cause.verify_message}"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return f"cannot reach the API: {_describe(exc)}"


def _describe(exc: Exception) -> str:
    """The error's class and text, which httpx builds without request headers."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _tls_context(workspace: WorkspaceConfig) -> ssl.SSLContext | bool:
    if workspace.insecure_skip_verify:
        return False
    context = ssl.create_default_context()
    if workspace.ca_file:
        context.load_verify_locations(cafile=workspace.ca_file)
    return context


class Patient:
    """A ``Fetcher`` that retries what may pass (429, 5xx, timeouts, network) a few times."""

    def __init__(self, client: Fetcher, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.sleep = client, sleep

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        for attempt in range(1, RETRY_ATTEMPTS):
            try:
                return self.client.fetch(frm, to, name)
            except (RateLimitedError, ServerError, RequestTimeout, NetworkError) as exc:
                wait = getattr(exc, "retry_after", None) or 2.0**attempt
                log.warning(
                    "logio request failed, retrying",
                    extra=fields(reason=exc.reason, retry_in=f"{wait:g}s", error=str(exc)),
                )
                self.sleep(min(wait, MAX_RETRY_WAIT))
        return self.client.fetch(frm, to, name)


__all__ = ["Fetcher", "LogioClient", "LogioError", "Patient"]
