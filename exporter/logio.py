"""The logio API client: the one place that speaks HTTP to Cention and catches httpx errors.

``LogioClient.fetch(frm, to)`` returns the body bytes of one answer or raises a
``LogioError`` whose ``reason`` says what went wrong. Every request, answered or not, is
reported to ``on_request(code, seconds)`` so the caller can count it. What the readers
need of a client is a ``Fetcher``; ``Patient`` is one that retries what may pass, for the
one-shot commands, which have no next poll to wait for. ``at_most`` asks for an answer
only up to a size, which a ``LogioClient`` stops reading past.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
import time
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

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
T = TypeVar("T")
RETRY_ATTEMPTS = 3
MAX_RETRY_WAIT = 60.0


class Fetcher(Protocol):
    """What a reader needs of a client: ``LogioClient``, ``Patient``, or a fake in tests."""

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes: ...


@runtime_checkable
class Bounded(Protocol):
    """A ``Fetcher`` that stops reading an answer once it is larger than ``most`` bytes."""

    def fetch_at_most(self, frm: int, to: int, name: str | None, most: int) -> bytes | None:
        """``fetch``'s body, or None once it would be larger than ``most`` bytes."""
        ...


def at_most(client: Fetcher, frm: int, to: int, name: str | None, most: int) -> bytes | None:
    """The body of one answer, or None if it is larger than ``most`` bytes: read no
    further than that where ``client`` can stop, else read whole and then weighed."""
    if isinstance(client, Bounded):
        return client.fetch_at_most(frm, to, name, most)
    body = client.fetch(frm, to, name)
    return body if len(body) <= most else None


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
        body = self.fetch_at_most(frm, to, name, self.max_response_bytes + 1)
        assert body is not None  # an answer past max_response_bytes raised
        return body

    def fetch_at_most(self, frm: int, to: int, name: str | None, most: int) -> bytes | None:
        """``fetch``, but None as soon as the answer turns out larger than ``most`` bytes,
        which closes the connection rather than reading on."""
        params = {"format": self.workspace.format, "from": str(frm), "to": str(to)}
        if name is not None:
            params["name"] = name
        started = time.monotonic()
        code = "error"
        try:
            with self._http.stream("GET", self.workspace.endpoint, params=params) as response:
                code = str(response.status_code)
                _check_status(response)
                return self._read(response, most)
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

    def _read(self, response: httpx.Response, most: int) -> bytes | None:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and not self._fits(int(declared), most, declared=True):
            return None
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if not self._fits(size, most):
                return None
            chunks.append(chunk)
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise InvalidResponseError(f"got {content_type.split(';')[0]} instead of records")
        return b"".join(chunks)

    def _fits(self, size: int, most: int, *, declared: bool = False) -> bool:
        """Whether an answer of ``size`` bytes is read on: not past ``most``; and past
        ``max_response_bytes``, when ``most`` allows more, the answer is an error."""
        limit = self.max_response_bytes
        if size > limit and most > limit:
            if declared:
                raise InvalidResponseError(f"answer of {size} bytes exceeds max_response_bytes")
            raise InvalidResponseError(f"answer exceeds max_response_bytes ({limit})")
        return size <= most

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
        return self._retried(lambda: self.client.fetch(frm, to, name))

    def fetch_at_most(self, frm: int, to: int, name: str | None, most: int) -> bytes | None:
        return self._retried(lambda: at_most(self.client, frm, to, name, most))

    def _retried(self, call: Callable[[], T]) -> T:
        for attempt in range(1, RETRY_ATTEMPTS):
            try:
                return call()
            except (RateLimitedError, ServerError, RequestTimeout, NetworkError) as exc:
                wait = getattr(exc, "retry_after", None) or 2.0**attempt
                log.warning(
                    "logio request failed, retrying",
                    extra=fields(reason=exc.reason, retry_in=f"{wait:g}s", error=str(exc)),
                )
                self.sleep(min(wait, MAX_RETRY_WAIT))
        return call()


__all__ = ["Bounded", "Fetcher", "LogioClient", "LogioError", "Patient", "at_most"]
