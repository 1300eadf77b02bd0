"""The logio API client: the request it sends and how it classifies answers."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import httpx
import pytest

from exporter import __version__
from exporter.config import PollConfig, Secret, WorkspaceConfig
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
from exporter.logio import LogioClient, Patient, at_most

TOKEN = "tok-5e1f0c2a9b8d"
PATH = "/s/demo/capi/custom/logio"
NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
CSV = b"1,joe,1554108536,Login\n2,joe,1554108578,Logout\n"

Handler = Callable[[httpx.Request], httpx.Response]


def workspace(fmt: str = "csv") -> WorkspaceConfig:
    return WorkspaceConfig(
        workspace="demo",
        api_url="https://apid.cention.com",
        token=Secret(TOKEN),
        format=fmt,  # type: ignore[arg-type]
    )


class Recorder:
    """Keeps each request a handler saw and each observer call the client made."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.observed: list[tuple[str, float]] = []

    def observe(self, code: str, seconds: float) -> None:
        self.observed.append((code, seconds))


@pytest.fixture(name="recorder")
def fixture_recorder() -> Recorder:
    return Recorder()


@pytest.fixture(autouse=True, name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wall time stands at NOW and every request takes 0.25 monotonic seconds."""
    ticks = iter(float(n) * 0.25 for n in range(1000))
    monkeypatch.setattr(
        "exporter.logio.time", SimpleNamespace(time=lambda: NOW, monotonic=lambda: next(ticks))
    )


@pytest.fixture(name="client_for")
def fixture_client_for(recorder: Recorder) -> Iterator[Callable[..., LogioClient]]:
    clients: list[LogioClient] = []

    def make(handler: Handler, *, fmt: str = "csv", max_response_bytes: int = 1024) -> LogioClient:
        def recording(request: httpx.Request) -> httpx.Response:
            recorder.requests.append(request)
            return handler(request)

        client = LogioClient(
            workspace(fmt),
            timeout=10.0,
            max_response_bytes=max_response_bytes,
            on_request=recorder.observe,
            transport=httpx.MockTransport(recording),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def respond(status: int, content: bytes = b"", **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return handler


def fail(exc_type: type[httpx.TransportError], message: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


def streamed(*chunks: bytes, then: Exception | None = None, **headers: str) -> Handler:
    """A 200 answer sent in chunks, without Content-Length, optionally breaking off."""

    def body() -> Iterator[bytes]:
        yield from chunks
        if then is not None:
            raise then

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(), headers=headers)

    return handler


class TestRequest:
    def test_url_params_and_headers(self, client_for, recorder: Recorder) -> None:
        """One GET to the workspace's logio path with format, from, to and the bearer token."""
        client_for(respond(200, CSV)).fetch(1_699_990_000, 1_700_000_000)
        (request,) = recorder.requests
        assert (request.method, request.url.scheme, request.url.host, request.url.path) == (
            "GET",
            "https",
            "apid.cention.com",
            PATH,
        )
        assert dict(request.url.params) == {
            "format": "csv",
            "from": "1699990000",
            "to": "1700000000",
        }
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["User-Agent"] == f"cention-logio-exporter/{__version__}"

    def test_name_and_json_format(self, client_for, recorder: Recorder) -> None:
        """An agent name goes in name=, encoded, and the workspace's format in format=."""
        client_for(respond(200, b"[]"), fmt="json").fetch(10, 20, name="Doe, Jane & Zoë")
        (request,) = recorder.requests
        assert list(request.url.params.multi_items()) == [
            ("format", "json"),
            ("from", "10"),
            ("to", "20"),
            ("name", "Doe, Jane & Zoë"),
        ]
        assert request.url.query == b"format=json&from=10&to=20&name=Doe%2C+Jane+%26+Zo%C3%AB"


class TestAnswers:
    def test_ok_returns_the_body(self, client_for) -> None:
        """A 200 answer gives its body bytes unchanged."""
        assert client_for(respond(200, CSV, **{"Content-Type": "text/csv"})).fetch(1, 2) == CSV

    def test_ok_empty(self, client_for) -> None:
        """A 200 answer with no body gives empty bytes."""
        assert client_for(respond(200)).fetch(1, 2) == b""

    def test_ok_streamed(self, client_for) -> None:
        """A chunked answer without Content-Length is joined whole."""
        assert client_for(streamed(CSV[:10], CSV[10:])).fetch(1, 2) == CSV

    def test_body_at_the_limit(self, client_for) -> None:
        """A body of exactly max_response_bytes is accepted."""
        assert client_for(respond(200, b"x" * 16), max_response_bytes=16).fetch(1, 2) == b"x" * 16

    @pytest.mark.parametrize(
        ("handler", "error", "message"),
        [
            pytest.param(
                respond(401),
                AuthError,
                f"HTTP 401 from {PATH}: the token needs the 'Access to logio API' claim",
                id="401",
            ),
            pytest.param(
                respond(403),
                AuthError,
                f"HTTP 403 from {PATH}: the token needs the 'Access to logio API' claim",
                id="403",
            ),
            pytest.param(respond(500), ServerError, f"HTTP 500 from {PATH}", id="500"),
            pytest.param(respond(502), ServerError, f"HTTP 502 from {PATH}", id="502"),
            pytest.param(respond(503), ServerError, f"HTTP 503 from {PATH}", id="503"),
            pytest.param(respond(400), ClientError, f"HTTP 400 from {PATH}", id="400"),
            pytest.param(respond(404), ClientError, f"HTTP 404 from {PATH}", id="404"),
            pytest.param(
                respond(302, Location="https://elsewhere.example/login"),
                ClientError,
                f"HTTP 302 from {PATH}: redirect not followed (the token is not sent elsewhere)",
                id="302",
            ),
            pytest.param(
                respond(307, Location=PATH),
                ClientError,
                f"HTTP 307 from {PATH}: redirect not followed (the token is not sent elsewhere)",
                id="307",
            ),
            pytest.param(
                respond(200, b"<html></html>", **{"Content-Type": "text/html; charset=utf-8"}),
                InvalidResponseError,
                "got text/html instead of records",
                id="html-200",
            ),
            pytest.param(
                respond(200, b"<p/>", **{"Content-Type": "application/xhtml+xml"}),
                InvalidResponseError,
                "got application/xhtml+xml instead of records",
                id="xhtml-200",
            ),
            pytest.param(
                fail(httpx.ConnectTimeout, "connect timed out"),
                RequestTimeout,
                "no complete answer within 10.0s",
                id="connect-timeout",
            ),
            pytest.param(
                fail(httpx.ReadTimeout, "read timed out"),
                RequestTimeout,
                "no complete answer within 10.0s",
                id="read-timeout",
            ),
            pytest.param(
                fail(httpx.ConnectError, "[Errno 111] Connection refused"),
                NetworkError,
                "cannot reach the API: ConnectError: [Errno 111] Connection refused",
                id="connect-error",
            ),
            pytest.param(
                fail(httpx.ConnectError, ""),
                NetworkError,
                "cannot reach the API: ConnectError",
                id="connect-error-silent",
            ),
            pytest.param(
                fail(httpx.ReadError, "[Errno 104] Connection reset by peer"),
                NetworkError,
                "cannot reach the API: ReadError: [Errno 104] Connection reset by peer",
                id="reset",
            ),
            pytest.param(
                fail(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
                NetworkError,
                "connection broken: RemoteProtocolError: "
                "Server disconnected without sending a response.",
                id="disconnect-before-status",
            ),
            pytest.param(
                streamed(b"1,joe,", then=httpx.RemoteProtocolError("peer closed connection")),
                InvalidResponseError,
                "body cut short: RemoteProtocolError: peer closed connection",
                id="disconnect-mid-body",
            ),
            pytest.param(
                streamed(b"1,joe,", then=httpx.ReadTimeout("read timed out")),
                RequestTimeout,
                "no complete answer within 10.0s",
                id="timeout-mid-body",
            ),
        ],
    )
    def test_classification(
        self, client_for, handler: Handler, error: type[LogioError], message: str
    ) -> None:
        """Each failure raises the LogioError subclass of its reason, with a plain message."""
        with pytest.raises(LogioError) as caught:
            client_for(handler).fetch(1, 2)
        assert (type(caught.value), str(caught.value)) == (error, message)

    def test_redirect_is_not_followed(self, client_for, recorder: Recorder) -> None:
        """A redirect is not followed, so the token goes to no other address."""
        client = client_for(respond(302, Location="https://elsewhere.example/login"))
        with pytest.raises(ClientError):
            client.fetch(1, 2)
        assert [str(r.url.host) for r in recorder.requests] == ["apid.cention.com"]

    @pytest.mark.parametrize(
        ("retry_after", "expected"),
        [
            pytest.param("120", 120.0, id="seconds"),
            pytest.param(" 7 ", 7.0, id="seconds-spaced"),
            pytest.param("0", 0.0, id="zero"),
            pytest.param("Tue, 14 Nov 2023 22:15:20 GMT", 120.0, id="http-date"),
            pytest.param("Tue, 14 Nov 2023 22:13:20 GMT", 0.0, id="http-date-now"),
            pytest.param("Mon, 13 Nov 2023 00:00:00 GMT", 0.0, id="http-date-past"),
            pytest.param(None, None, id="absent"),
            pytest.param("soon", None, id="garbage"),
            pytest.param("-5", None, id="negative"),
        ],
    )
    def test_rate_limited(
        self, client_for, retry_after: str | None, expected: float | None
    ) -> None:
        """A 429 raises RateLimitedError carrying Retry-After as seconds to wait."""
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        with pytest.raises(RateLimitedError) as caught:
            client_for(respond(429, **headers)).fetch(1, 2)
        assert (str(caught.value), caught.value.retry_after) == (
            f"HTTP 429 from {PATH}: rate limited",
            expected,
        )

    def test_too_large_with_content_length(self, client_for, recorder: Recorder) -> None:
        """A declared Content-Length over max_response_bytes is refused before reading."""
        with pytest.raises(InvalidResponseError) as caught:
            client_for(respond(200, b"x" * 17), max_response_bytes=16).fetch(1, 2)
        assert str(caught.value) == "answer of 17 bytes exceeds max_response_bytes"
        assert recorder.requests[0].url.path == PATH

    def test_too_large_streamed(self, client_for) -> None:
        """A body without Content-Length is cut off once it passes max_response_bytes."""
        handler = streamed(b"x" * 10, b"x" * 10, b"x" * 10)
        with pytest.raises(InvalidResponseError) as caught:
            client_for(handler, max_response_bytes=16).fetch(1, 2)
        assert str(caught.value) == "answer exceeds max_response_bytes (16)"

    def test_undecodable_content_encoding(self, client_for) -> None:
        """A body that does not match its Content-Encoding is an invalid response."""
        handler = respond(200, b"1,joe,10,Login\n", **{"Content-Encoding": "gzip"})
        with pytest.raises(InvalidResponseError):
            client_for(handler).fetch(1, 2)


class TestAtMost:
    """An answer asked for up to a size, as the reader asks for the pieces of a window."""

    def test_a_body_within_the_size_is_read(self, client_for) -> None:
        assert client_for(respond(200, CSV)).fetch_at_most(1, 2, None, len(CSV)) == CSV

    def test_a_declared_length_past_the_size_is_not_read(
        self, client_for, recorder: Recorder
    ) -> None:
        """Past the size but within max_response_bytes: no error, the answer was a 200."""
        assert client_for(respond(200, CSV)).fetch_at_most(1, 2, None, len(CSV) - 1) is None
        assert [code for code, _ in recorder.observed] == ["200"]

    def test_a_streamed_body_stops_past_the_size(self, client_for) -> None:
        """The third chunk is never asked for: reading stops at the second."""
        sent: list[int] = []

        def chunks() -> Iterator[bytes]:
            for index in range(3):
                sent.append(index)
                yield b"x" * 10

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=chunks())

        assert client_for(handler).fetch_at_most(1, 2, None, 15) is None
        assert sent == [0, 1]

    def test_past_max_response_bytes_too_is_none_when_the_size_is_smaller(self, client_for) -> None:
        """The reader then asks for less; only fetch, which takes it whole, refuses."""
        client = client_for(respond(200, b"x" * 17), max_response_bytes=16)
        assert client.fetch_at_most(1, 2, None, 8) is None

    def test_a_fetcher_that_cannot_stop_is_weighed(self) -> None:
        class Plain:
            def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
                return CSV

        assert (at_most(Plain(), 1, 2, None, len(CSV)), at_most(Plain(), 1, 2, None, 9)) == (
            CSV,
            None,
        )

    def test_patient_retries_and_stops_alike(self, client_for) -> None:
        answers = iter([respond(503)(None), respond(200, CSV)(None)])  # type: ignore[arg-type]
        client = client_for(lambda request: next(answers))
        patient = Patient(client, sleep=lambda _: None)
        assert patient.fetch_at_most(1, 2, "ann", 100) == CSV
        assert at_most(Patient(client_for(respond(200, CSV))), 1, 2, None, 9) is None


class TestObserver:
    @pytest.mark.parametrize(
        ("handler", "code"),
        [
            pytest.param(respond(200, CSV), "200", id="200"),
            pytest.param(respond(401), "401", id="401"),
            pytest.param(respond(429, **{"Retry-After": "3"}), "429", id="429"),
            pytest.param(respond(503), "503", id="503"),
            pytest.param(respond(302, Location="https://x.example/"), "302", id="302"),
            pytest.param(
                respond(200, b"<html/>", **{"Content-Type": "text/html"}), "200", id="html-200"
            ),
            pytest.param(respond(200, b"x" * 2000), "200", id="too-large"),
            pytest.param(fail(httpx.ConnectError, "refused"), "error", id="connect-error"),
            pytest.param(fail(httpx.ReadTimeout, "timed out"), "error", id="timeout"),
            pytest.param(
                streamed(b"1,", then=httpx.RemoteProtocolError("closed")), "200", id="cut-short"
            ),
        ],
    )
    def test_called_once_per_request(
        self, client_for, recorder: Recorder, handler: Handler, code: str
    ) -> None:
        """Every request, answered or not, is reported once with its status or error."""
        with contextlib.suppress(LogioError):
            client_for(handler).fetch(1, 2)
        assert recorder.observed == [(code, 0.25)]

    def test_counts_each_request(self, client_for, recorder: Recorder) -> None:
        """Three fetches are three reports, in order."""
        answers = iter([httpx.Response(200), httpx.Response(503), httpx.Response(200)])
        client = client_for(lambda request: next(answers))
        client.fetch(1, 2)
        with pytest.raises(ServerError):
            client.fetch(2, 3)
        client.fetch(3, 4)
        assert recorder.observed == [("200", 0.25), ("503", 0.25), ("200", 0.25)]


class TestSecrecy:
    @pytest.mark.parametrize(
        "handler",
        [
            pytest.param(respond(401), id="auth"),
            pytest.param(respond(429, **{"Retry-After": "1"}), id="rate-limited"),
            pytest.param(respond(500), id="server"),
            pytest.param(respond(404), id="client"),
            pytest.param(respond(302, Location=f"https://x.example/?t={TOKEN}"), id="redirect"),
            pytest.param(fail(httpx.ReadTimeout, "timed out"), id="timeout"),
            pytest.param(fail(httpx.ConnectError, "refused"), id="network"),
            pytest.param(
                respond(200, b"<html/>", **{"Content-Type": "text/html"}), id="invalid-response"
            ),
            pytest.param(respond(200, b"x" * 2000), id="too-large"),
            pytest.param(streamed(b"1,", then=httpx.RemoteProtocolError("closed")), id="cut-short"),
        ],
    )
    def test_token_never_in_errors(self, client_for, handler: Handler) -> None:
        """No raised error shows the token in its str, repr or printed traceback."""
        with pytest.raises(LogioError) as caught:
            client_for(handler).fetch(1, 2)
        printed = "".join(traceback.format_exception(caught.value))
        assert [TOKEN in text for text in (str(caught.value), repr(caught.value), printed)] == [
            False,
            False,
            False,
        ]


class TestFromConfig:
    def test_poll_settings_reach_the_client(self) -> None:
        """The timeout and the size limit of ``poll`` are the client's."""
        poll = PollConfig(timeout=3.5, max_response_bytes=4096)
        client = LogioClient.from_config(workspace("json"), poll)
        try:
            assert (client._timeout(), client.max_response_bytes) == (3.5, 4096)
            assert client.workspace == workspace("json")
        finally:
            client.close()
