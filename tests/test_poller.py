"""The poller against a fake logio API through the real client and httpx transport."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

import httpx
import pytest
from harness import logged
from logio_fake import FakeLogio

from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.logio import LogioClient
from exporter.poller import Poller
from exporter.state import ExporterState, WorkspaceState

DAY = 86400
POLL = PollConfig(interval=30, timeout=5, overlap=600, lookback=7 * DAY, max_window=DAY)
T0 = 1_700_000_000
PATH = "/s/demo/capi/custom/logio"
"""Where the client asks for workspace ``demo``'s records."""


def make_poller(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: Callable[[], float],
    *,
    poll: PollConfig = POLL,
    fmt: str = "csv",
    agents: tuple[str, ...] = (),
) -> Poller:
    workspace = WorkspaceConfig("demo", "https://cention.test", Secret("tok"), fmt, agents)  # type: ignore[arg-type]
    state = WorkspaceState("demo", (60.0, 3600.0))
    client = LogioClient(
        workspace,
        timeout=poll.timeout,
        max_response_bytes=poll.max_response_bytes,
        on_request=state.observe_request,
        transport=httpx.MockTransport(handler),
    )
    return Poller(
        workspace, poll, MetricsConfig(), state, client, clock=clock, rng=random.Random(1)
    )


@pytest.fixture(name="api")
def _api() -> FakeLogio:
    return FakeLogio(now=T0)


class TestWindows:
    def test_initial_lookback_is_split_by_max_window(self, api: FakeLogio) -> None:
        """The first poll reads the whole lookback in windows no wider than max_window,
        the first of them in pieces from an hour wide, each twice the last while the
        answers are small."""
        poller = make_poller(api.handler, api.clock)
        assert poller.poll_once() == 30
        first = T0 - 7 * DAY
        hours = [(0, 1), (1, 3), (3, 7), (7, 15), (15, 24)]
        pieces = [(first + a * 3600, first + b * 3600) for a, b in hours]
        days = [(first + d * DAY, first + (d + 1) * DAY) for d in range(1, 7)]
        assert api.windows() == pieces + days
        assert poller.state.health.ready is True
        assert poller.state.sessions.counting_since == T0

    def test_small_answers_widen_the_pieces_up_to_max_window(self, api: FakeLogio) -> None:
        """A record every hour: each piece twice the last, up to a day."""
        first = T0 - 7 * DAY
        for hour in range(7 * 24):
            api.add(Record("ann", first + hour * 3600 + 1800, LOGIN))
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        hours = [(0, 1), (1, 3), (3, 7), (7, 15), (15, 24)]
        pieces = [(first + a * 3600, first + b * 3600) for a, b in hours]
        days = [(first + d * DAY, first + (d + 1) * DAY) for d in range(1, 7)]
        assert api.windows() == pieces + days
        ann = poller.state.sessions.agents["ann"]
        assert (ann.session_start, ann.last_login) == (first + 1800, T0 - 1800)

    def test_steady_poll_reads_only_the_overlap(self, api: FakeLogio) -> None:
        """After the lookback, a poll asks from overlap before the watermark up to now."""
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        api.now = T0 + 30
        poller.poll_once()
        assert api.windows()[-1] == (T0 - 600, T0 + 30)

    def test_outage_catches_up_in_several_windows(self, api: FakeLogio) -> None:
        """After a long outage the next poll catches up in max_window steps, each read in
        pieces that chain from where the last ended."""
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        lookback = len(api.requests)
        api.now = T0 + 2 * DAY + 5
        api.add(Record("joe", T0 + DAY + 7, LOGIN))
        poller.poll_once()
        start = T0 - 600
        pieces = api.windows()[lookback:]
        assert [frm for frm, _ in pieces] == [start] + [to for _, to in pieces[:-1]]
        assert pieces[-1][1] == T0 + 2 * DAY + 5
        assert {start + DAY, start + 2 * DAY} <= {to for _, to in pieces}
        assert max(to - frm for frm, to in pieces) <= DAY
        assert poller.state.sessions.agents["joe"].logins == 1

    def test_agents_filter_sends_one_request_per_name(self, api: FakeLogio) -> None:
        """With agents listed, each window is asked once per name with name=."""
        poller = make_poller(api.handler, api.clock, agents=("ann", "bob"))
        api.add(Record("ann", T0 - 10, LOGIN))
        api.add(Record("carl", T0 - 10, LOGIN))
        poller.poll_once()
        pieces = 5 + 6  # the first day from an hour wide, as above; then one a day
        assert [p["name"] for p in api.requests] == ["ann", "bob"] * pieces
        assert list(poller.state.sessions.agents) == ["ann"]

    def test_a_window_applies_only_once_every_agent_answered(self, api: FakeLogio) -> None:
        """When one agent's request of a window fails, nothing of that window applies."""
        refuse = {"bob"}

        def handler(request: httpx.Request) -> httpx.Response:
            answer = api.handler(request)
            return httpx.Response(503) if request.url.params["name"] in refuse else answer

        poll = PollConfig(interval=30, overlap=600, lookback=3600, max_window=DAY)
        poller = make_poller(handler, api.clock, poll=poll, agents=("ann", "bob"))
        refuse.clear()
        poller.poll_once()
        api.add(Record("ann", T0 + 10, LOGIN))
        api.add(Record("bob", T0 + 20, LOGIN))
        api.now, refuse = T0 + 30, {"bob"}
        poller.poll_once()
        state = poller.state
        assert api.requests[-2:] == [
            {"format": "csv", "from": str(T0 - 600), "to": str(T0 + 30), "name": "ann"},
            {"format": "csv", "from": str(T0 - 600), "to": str(T0 + 30), "name": "bob"},
        ]
        assert (state.watermark, state.sessions.agents, state.overlap.records) == (T0, {}, {})
        assert state.sessions.records_total == {"login": 0, "logout": 0}
        api.now, refuse = T0 + 60, set()
        poller.poll_once()
        assert state.watermark == T0 + 60
        assert state.sessions.records_total == {"login": 2, "logout": 0}
        assert sorted(state.sessions.agents) == ["ann", "bob"]


class TestExactAgents:
    def test_a_loose_name_filter_counts_only_the_listed_agents(self, api: FakeLogio) -> None:
        """The API answers ``name=ann`` with ``anna``'s and ``annika``'s rows too: they
        count for no agent and as one invalid row each, though polls read them again."""
        api.loose = True
        for name, stamp in [("ann", -100), ("anna", -90), ("annika", -80), ("bob", -70)]:
            api.add(Record(name, T0 + stamp, LOGIN))
        poller = make_poller(api.handler, api.clock, agents=("ann", "bob"))
        poller.poll_once()
        state = poller.state
        assert (list(state.sessions.agents), state.health.invalid_records) == (["ann", "bob"], 2)
        api.add(Record("ann", T0 + 20, LOGOUT))
        api.add(Record("anna", T0 + 25, LOGOUT))
        api.now = T0 + 30
        poller.poll_once()
        assert state.sessions.records_total == {"login": 0, "logout": 1}
        assert (list(state.sessions.agents), state.health.invalid_records) == (["ann", "bob"], 3)
        assert state.sessions.logged_in_count == 1


class TestHeap:
    def test_the_heap_is_released_after_a_poll_of_several_pieces(
        self, api: FakeLogio, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After the initial lookback, not after a steady poll of one window."""
        released: list[bool] = []
        monkeypatch.setattr("exporter.heap.release", lambda: released.append(True) or True)
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        assert released == [True]
        api.now = T0 + 30
        poller.poll_once()
        assert released == [True]


class TestDedup:
    @pytest.mark.parametrize("fmt", ["csv", "json"])
    def test_overlap_counts_each_record_once(self, api: FakeLogio, fmt: str) -> None:
        """Records re-read in the overlap are applied once, identical twins twice."""
        poller = make_poller(api.handler, api.clock, fmt=fmt)
        poller.poll_once()
        for _ in range(2):
            api.add(Record("joe", T0 + 10, LOGOUT))
        api.add(Record("joe", T0 + 5, LOGIN))
        for step in (30, 60, 90):
            api.now = T0 + step
            poller.poll_once()
        sessions = poller.state.sessions
        assert sessions.records_total == {"login": 1, "logout": 2}
        assert sessions.anomalies == {"logout_without_login": 1, "login_while_logged_in": 0}

    def test_late_twin_is_counted_when_it_appears(self, api: FakeLogio) -> None:
        """A second identical record becoming visible later is new: a multiset, not a set."""
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        api.add(Record("joe", T0 + 10, LOGIN))
        api.add(Record("joe", T0 + 10, LOGIN), visible_at=T0 + 200)
        api.now = T0 + 30
        poller.poll_once()
        assert poller.state.sessions.agents["joe"].logins == 1
        api.now = T0 + 300
        poller.poll_once()
        assert poller.state.sessions.agents["joe"].logins == 2

    def test_record_late_within_overlap_is_not_lost(self, api: FakeLogio) -> None:
        """A record written up to overlap in the past is still found by the next poll."""
        poller = make_poller(api.handler, api.clock)
        poller.poll_once()
        api.now = T0 + 600
        poller.poll_once()
        api.add(Record("joe", T0 + 100, LOGIN), visible_at=T0 + 650)
        api.now = T0 + 660
        poller.poll_once()
        assert poller.state.sessions.agents["joe"].logins == 1

    def test_invalid_row_reread_is_counted_once(self, api: FakeLogio) -> None:
        """A malformed row read by three overlapping polls counts as one invalid record."""
        body = f"1,joe,{T0 + 5},Login\n2,joe,notatime,Logout\n"
        poller = make_poller(lambda _: httpx.Response(200, text=body), api.clock)
        for step in (0, 30, 60):
            api.now = T0 + step
            poller.poll_once()
        assert poller.state.health.invalid_records == 1


class TestFailures:
    @pytest.mark.parametrize(
        ("response", "reason"),
        [
            pytest.param(httpx.Response(401), "auth", id="401"),
            pytest.param(httpx.Response(403), "auth", id="403"),
            pytest.param(httpx.Response(500), "server", id="500"),
            pytest.param(httpx.Response(503), "server", id="503"),
            pytest.param(httpx.Response(400), "client", id="400"),
            pytest.param(httpx.Response(429), "rate_limited", id="429"),
            pytest.param(
                httpx.Response(200, text="<html><body>Sign in</body></html>"),
                "invalid_response",
                id="html-page",
            ),
            pytest.param(
                httpx.Response(200, text='[{"id":1,"name":"joe"'),
                "invalid_response",
                id="truncated-json",
            ),
        ],
    )
    def test_failure_changes_no_state(
        self, api: FakeLogio, response: httpx.Response, reason: str
    ) -> None:
        """A failed poll counts its reason, reads up 0 and leaves the state as it was."""
        answers = iter([None, response])

        def handler(request: httpx.Request) -> httpx.Response:
            answer = next(answers, None)
            return api.handler(request) if answer is None else answer

        api.add(Record("joe", T0 - 100, LOGIN))
        poller = make_poller(
            handler,
            api.clock,
            fmt="json",
            poll=PollConfig(lookback=3600, max_window=DAY, overlap=600),
        )
        poller.poll_once()
        api.now = T0 + 30
        poller.poll_once()
        state = poller.state
        assert state.health.up is False
        assert state.health.errors[reason] == 1
        assert sum(state.health.errors.values()) == 1
        assert state.watermark == T0
        assert state.sessions.agents["joe"].session_start == T0 - 100
        api.now = T0 + 60
        poller.poll_once()
        assert state.health.up is True
        assert state.watermark == T0 + 60

    def test_retry_after_is_honoured(self, api: FakeLogio) -> None:
        """A 429 with Retry-After waits that long before the next poll."""
        poller = make_poller(
            lambda _: httpx.Response(429, headers={"Retry-After": "120"}), api.clock
        )
        assert poller.poll_once() == 120.0

    def test_server_errors_back_off_exponentially(self, api: FakeLogio) -> None:
        """Repeated 5xx double the wait, within 20% jitter, up to the cap."""
        poller = make_poller(lambda _: httpx.Response(503), api.clock)
        delays = [poller.poll_once() for _ in range(6)]
        for delay, expected in zip(delays, [30, 60, 120, 240, 300, 300], strict=True):
            assert expected * 0.8 <= delay <= expected * 1.2

    @pytest.mark.parametrize("seeds", [(1, 2), (7, 8)])
    def test_backoff_jitter_follows_the_seed(self, api: FakeLogio, seeds: tuple[int, int]) -> None:
        """Each poller draws its jitter from its own random source: two pollers failing
        alike wait different times, each exactly base x uniform(0.8, 1.2) of its seed."""
        waits = []
        for seed in seeds:
            poller = make_poller(lambda _: httpx.Response(503), api.clock)
            poller.rng = random.Random(seed)
            waits.append([poller.poll_once() for _ in range(4)])
        expected = []
        for seed in seeds:
            draws = random.Random(seed)
            expected.append([base * draws.uniform(0.8, 1.2) for base in (30, 60, 120, 240)])
        assert waits == expected
        assert waits[0] != waits[1]

    def test_initial_lookback_failing_logs_once_per_reason(
        self, api: FakeLogio, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A refused token during the initial lookback: /ready names it, and ERROR is
        logged at its first failure and again only when the reason changes."""
        answers = [401] * 4 + [503] * 3 + [401]
        statuses = iter(answers)
        poller = make_poller(lambda _: httpx.Response(next(statuses)), api.clock)
        exporter = ExporterState()
        exporter.add(poller.state)
        ready = []
        with caplog.at_level(logging.DEBUG, logger="exporter.poller"):
            for _ in answers:
                poller.poll_once()
                ready.append(exporter.not_ready())
        levels = ["ERROR", "DEBUG", "DEBUG", "DEBUG", "ERROR", "DEBUG", "DEBUG", "ERROR"]
        assert [r.levelname for r in caplog.records] == levels
        reasons = ["auth"] * 4 + ["server"] * 3 + ["auth"]
        assert ready == [[f"demo: initial lookback failing: {reason}"] for reason in reasons]
        assert poller.state.health.errors["auth"] == 5
        assert poller.state.health.errors["server"] == 3

    def test_failures_after_the_lookback_log_once_per_reason(
        self, api: FakeLogio, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Once ready, the same rule: ERROR after a success and on another reason."""
        statuses = iter([None, 503, 503, None, 503, 429, 429])

        def handler(request: httpx.Request) -> httpx.Response:
            status = next(statuses)
            return api.handler(request) if status is None else httpx.Response(status)

        poller = make_poller(handler, api.clock, poll=PollConfig(lookback=60))
        with caplog.at_level(logging.DEBUG, logger="exporter.poller"):
            for _ in range(7):
                poller.poll_once()
        succeeded = ("logio poll succeeded", "demo", None, None)
        server = ("logio poll failed", "demo", "server", f"HTTP 503 from {PATH}")
        limited = (
            "logio poll failed",
            "demo",
            "rate_limited",
            f"HTTP 429 from {PATH}: rate limited",
        )
        assert logged(caplog.records, "workspace", "reason", "error") == [
            ("INFO", *succeeded),
            ("ERROR", *server),
            ("DEBUG", *server),
            ("INFO", *succeeded),
            ("ERROR", *server),
            ("ERROR", *limited),
            ("DEBUG", *limited),
        ]
        assert (poller.state.health.ready, poller.state.health.reason) == (True, "rate_limited")

    def test_requests_are_counted_by_code(self, api: FakeLogio) -> None:
        """Each request counts under its status code, or error without a response."""

        def handler(request: httpx.Request) -> httpx.Response:
            if len(api.requests) == 1:
                api.requests.append({})
                raise httpx.ConnectError("refused")
            return api.handler(request)

        poller = make_poller(handler, api.clock, poll=PollConfig(lookback=60))
        for _ in range(3):
            poller.poll_once()
        assert dict(poller.state.health.requests) == {"200": 2, "error": 1}
        assert poller.state.health.request_seconds.count == 3


class TestRunLoop:
    def test_a_poller_stopped_mid_lookback_leaves_it_unfinished(self, api: FakeLogio) -> None:
        """A poller replaced by a reload during the initial lookback ends it neither as a
        success nor as a failure: its successor reads the rest of it, uncounted."""
        api.add(Record("ann", T0 - 3 * DAY, LOGIN))
        api.add(Record("ann", T0 - DAY, LOGOUT))
        first = make_poller(api.handler, api.clock)

        class Halting:
            def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
                if len(api.requests) == 6:  # the first day in five pieces, the second
                    first.halted.set()
                return first_client.fetch(frm, to, name)

        first_client, first.client = first.client, Halting()
        assert first.poll_once() == 0.0
        state = first.state
        assert (state.watermark, state.sessions.counting, state.health.ready) == (
            T0 - 5 * DAY,
            False,
            False,
        )
        second = make_poller(api.handler, api.clock)
        second.state = state
        assert second.poll_once() == 30
        assert (state.sessions.counting_since, state.health.reason) == (T0, "ok")
        assert state.sessions.records_total == {"login": 0, "logout": 0}
        assert state.sessions.agents["ann"].session_start is None

    def test_unexpected_error_keeps_polling(
        self, api: FakeLogio, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bug in one poll is logged with its traceback, and the loop polls again."""
        calls: list[int] = []

        class Broken:
            def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
                calls.append(frm)
                if len(calls) == 1:
                    raise RuntimeError("unexpected")
                stop.set()
                return b""

        stop = threading.Event()
        poller = make_poller(api.handler, api.clock, poll=PollConfig(interval=1, lookback=60))
        poller.client = Broken()
        poller.run(stop)
        assert len(calls) == 2
        assert logged(caplog.records, "workspace") == [
            ("ERROR", "poll failed unexpectedly", "demo")
        ]
        assert [r.exc_info is not None for r in caplog.records] == [True]
