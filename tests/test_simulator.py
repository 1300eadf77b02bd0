"""The logio simulator: names, shifts, scenario, rendering, the HTTP contract, faults, server."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import random
import re
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from certs import issue, write_pem

from exporter.core.parsing import parse
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.errors import InvalidResponseError
from exporter.simulator import (
    WEEK,
    Fault,
    FaultSchedule,
    Plan,
    Scenario,
    SimRequest,
    SimResponse,
    SimulatorServer,
    handle,
    logio_path,
    parse_faults,
    plan,
    random_faults,
    render_csv,
    render_json,
    serve,
)
from exporter.simulator.effects import HTML_LOGIN
from exporter.simulator.names import AWKWARD, agent_names
from exporter.simulator.shifts import DAY, Roster, day_records

START = 1_700_000_000  # 2023-11-14 22:13:20 UTC
TOKEN = "t0ken-under-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

JOE_IN = Record("joe", START - 100, LOGIN)
ERIK_IN = Record("svensson, erik", START - 90, LOGIN)
JOE_OUT = Record("joe", START - 50, LOGOUT)
VIKING_OUT = Record('erik "the viking" svensson', START - 10, LOGOUT)
OLD = Record("小林 優", START - 8 * DAY, LOGIN)
FUTURE = Record("joe", START + 100, LOGIN)


@pytest.fixture(name="hand_built")
def fixture_hand_built() -> Scenario:
    """No generated agents, only the records above: exact expectations are easy to write."""
    built = Scenario(start=START, agents=0, live=False)
    for record in (OLD, JOE_IN, ERIK_IN, JOE_OUT, VIKING_OUT, FUTURE):
        built.inject(record)
    return built


@pytest.fixture(name="center")
def fixture_center() -> Scenario:
    """A generated center of 50 agents with a week of history, frozen at START."""
    return Scenario(start=START, agents=50, seed=1, live=False)


def get(
    scenario_: Scenario, target: str, headers: dict[str, str] | None = None, now: float = START
) -> SimResponse:
    """``GET target`` through the pure handler, authorized unless ``headers`` say otherwise."""
    request = SimRequest.from_target("GET", target, AUTH if headers is None else headers)
    return handle(request, scenario_, token=TOKEN, workspace="demo", now=now)


LOGIO = logio_path("demo")


class TestAgentNames:
    def test_same_seed_same_names(self) -> None:
        """Names depend on the seed alone."""
        assert agent_names(60, seed=7) == agent_names(60, seed=7)
        assert agent_names(60, seed=7) != agent_names(60, seed=8)

    def test_unique_printable_non_empty(self) -> None:
        """Even 5,000 names are unique, non-empty and free of control characters."""
        many = agent_names(5000, seed=1)
        assert len(set(many)) == 5000
        assert [name for name in many if not name or not name.isprintable()] == []

    def test_awkward_names_appear_among_fifty(self) -> None:
        """A default-sized center exercises every awkward name."""
        assert [name for name in AWKWARD if name not in agent_names(50, seed=3)] == []

    def test_awkward_names_cover_every_case(self) -> None:
        """Long, space, comma, double quote, apostrophe and non-ASCII all occur."""
        cases = {
            "long": any(len(name) >= 60 for name in AWKWARD),
            "space": any(" " in name for name in AWKWARD),
            "comma": any("," in name for name in AWKWARD),
            "quote": any('"' in name for name in AWKWARD),
            "apostrophe": any("'" in name for name in AWKWARD),
            "unicode": {"björn.öberg", "小林 優"} <= set(AWKWARD),
        }
        assert cases == dict.fromkeys(cases, True)


class TestDayRecords:
    def test_rest_day_is_empty(self) -> None:
        """On the weekly day off an agent has no records."""
        assert day_records("joe", 7 * 3000 + 4, Roster(8 * 3600, 4), random.Random(1)) == []

    def test_working_days_are_ordered_and_sized(self) -> None:
        """Each working day is in time order, starts with a Login and has 26 to 41 records."""
        days = [
            day_records("joe", day, Roster(22 * 3600, 0), random.Random(day))
            for day in range(20_000, 20_300)
        ]
        worked = [records for records in days if records]
        assert [
            r for r in worked if [x.timestamp for x in r] != sorted(x.timestamp for x in r)
        ] == []
        assert {records[0].action for records in worked} == {LOGIN}
        assert all(26 <= len(records) <= 41 for records in worked)
        assert len(worked) > 240

    def test_night_shift_runs_past_midnight(self) -> None:
        """A shift starting at 22:00 UTC ends on the next day."""
        records = day_records("joe", 20_001, Roster(22 * 3600, 0), random.Random(5))
        assert (records[0].timestamp // DAY, records[-1].timestamp // DAY) == (20_001, 20_002)


class TestScenario:
    def test_same_seed_same_records(self) -> None:
        """Two scenarios with the same seed and start serve identical records."""
        one = Scenario(start=START, agents=30, seed=4, live=False)
        two = Scenario(start=START, agents=30, seed=4, live=False)
        first = one.records(0, START, now=START)
        assert first == two.records(0, START, now=START)
        assert len(first) > 30 * 7 * 20

    def test_other_seed_other_records(self) -> None:
        """A different seed gives a different history."""
        one = Scenario(start=START, agents=30, seed=4).records(0, START, now=START)
        two = Scenario(start=START, agents=30, seed=5).records(0, START, now=START)
        assert one != two

    def test_records_are_in_time_order(self, center: Scenario) -> None:
        """Records come sorted by timestamp, as the API returns them."""
        stamps = [record.timestamp for record in center.records(0, START, now=START)]
        assert stamps == sorted(stamps)

    def test_volume_per_agent_per_day(self, center: Scenario) -> None:
        """A week holds roughly 20 to 40 records per agent per day."""
        per_day = len(center.records(START - WEEK, START, now=START)) / 50 / 7
        assert 20 <= per_day <= 40

    def test_history_starts_at_lookback(self, center: Scenario) -> None:
        """Nothing exists before ``start - lookback``."""
        assert center.records(0, START - WEEK - 1, now=START) == []
        assert center.records(0, START, now=START)[0].timestamp >= START - WEEK

    def test_windows_slice_one_history(self) -> None:
        """Any window, across midnights or not, is the matching part of the whole history."""
        # 300 agents: enough that some shifts start right at midnight and some just before
        large = Scenario(start=START, agents=300, seed=3, live=False)
        everything = large.records(0, START, now=START)
        midnight = START // DAY * DAY
        windows = [(START - 3 * DAY - 7, START - DAY + 5), (START - 3600, START - 1)]
        days = [(midnight - d * DAY, midnight - (d - 1) * DAY - 1) for d in range(7, 0, -1)]
        for frm, to in windows + days:
            expected = [record for record in everything if frm <= record.timestamp <= to]
            assert large.records(frm, to, now=START) == expected

    def test_name_filter_is_the_agents_part(self, center: Scenario) -> None:
        """One agent's records are exactly that agent's records of the whole history."""
        everything = center.records(0, START, now=START)
        for name in [*AWKWARD, center.agent_names()[0]]:
            mine = [record for record in everything if record.name == name]
            assert center.records(0, START, now=START, name=name) == mine

    def test_unknown_name_has_no_records(self, center: Scenario) -> None:
        """An agent that does not exist has no records."""
        assert center.records(0, START, now=START, name="nobody") == []

    def test_every_hour_is_staffed(self, center: Scenario) -> None:
        """At every hour of a day some agent is logged in."""
        midnight = (START // DAY - 2) * DAY
        hours = [hour for hour in range(24) if not center.logged_in_at(midnight + hour * 3600)]
        assert hours == []

    def test_live_shows_nothing_after_now(self) -> None:
        """A live scenario goes on after start, but only up to now."""
        live = Scenario(start=START, agents=50, seed=1)
        later = live.records(START + 1, START + 6 * 3600, now=START + 6 * 3600)
        midway = START + 3 * 3600
        assert live.records(START + 1, START + 6 * 3600, now=midway) == [
            record for record in later if record.timestamp <= midway
        ]
        assert len(later) > 0

    def test_frozen_has_nothing_after_start(self, center: Scenario) -> None:
        """A scenario that is not live has no records after start."""
        assert center.records(START + 1, START + DAY, now=START + DAY) == []

    def test_injected_record_visible_from_its_timestamp(self, hand_built: Scenario) -> None:
        """An injected record appears once now reaches its timestamp."""
        assert hand_built.records(START + 1, START + DAY, now=START + 99) == []
        assert hand_built.records(START + 1, START + DAY, now=START + 100) == [FUTURE]

    def test_injected_record_visible_late(self, hand_built: Scenario) -> None:
        """A record injected with ``visible_at`` stays hidden until then."""
        late = Record("ann", START + 200, LOGIN)
        hand_built.inject(late, visible_at=START + 260)
        assert hand_built.records(START + 150, START + DAY, now=START + 259) == []
        assert hand_built.records(START + 150, START + DAY, now=START + 260) == [late]

    def test_injected_follows_generated_of_the_same_second(self, center: Scenario) -> None:
        """Injected records come after generated ones with the same timestamp."""
        generated = center.records(START - 3600, START, now=START)[0]
        extra = Record("zed", generated.timestamp, LOGOUT)
        center.inject(extra)
        same = center.records(generated.timestamp, generated.timestamp, now=START)
        assert same[-1] == extra
        assert same[:-1] == [r for r in same[:-1] if r.timestamp == generated.timestamp]

    def test_identical_records_are_all_returned(self, hand_built: Scenario) -> None:
        """Two identical records are two records."""
        twice = Record("joe", START - 5, LOGOUT)
        hand_built.inject(twice)
        hand_built.inject(twice)
        assert hand_built.records(START - 5, START - 5, now=START) == [twice, twice]

    def test_concurrent_queries_agree(self) -> None:
        """Threads that fill the cache at the same time all see the same history."""
        shared = Scenario(start=START, agents=300, seed=2, live=False)
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: shared.records(0, START, now=START), range(8)))
        assert all(result == results[0] for result in results)
        assert len(results[0]) > 300 * 7 * 20

    @pytest.mark.parametrize(
        ("agents", "lookback"),
        [pytest.param(-1, WEEK, id="agents"), pytest.param(50, -1, id="lookback")],
    )
    def test_negative_arguments_refused(self, agents: int, lookback: int) -> None:
        """Negative sizes are a programming error."""
        with pytest.raises(ValueError, match="must not be negative"):
            Scenario(start=START, agents=agents, lookback=lookback)


class TestGroundTruth:
    @pytest.fixture(name="truth")
    def fixture_truth(self) -> Scenario:
        """ann works, bob logs in twice, cid logs out from nowhere, bob double-clicks."""
        built = Scenario(start=1_000, agents=0, live=False)
        for name, timestamp, action in [
            ("ann", 100, LOGIN),
            ("cid", 120, LOGOUT),
            ("bob", 150, LOGIN),
            ("ann", 200, LOGOUT),
            ("bob", 250, LOGIN),
            ("ann", 300, LOGIN),
            ("bob", 400, LOGOUT),
            ("bob", 400, LOGOUT),
        ]:
            built.inject(Record(name, timestamp, action))
        return built

    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            pytest.param(99, set(), id="before"),
            pytest.param(150, {"ann", "bob"}, id="both"),
            pytest.param(200.5, {"bob"}, id="ann-out"),
            pytest.param(300, {"ann", "bob"}, id="ann-back"),
            pytest.param(400, {"ann"}, id="bob-out"),
        ],
    )
    def test_logged_in_at(self, truth: Scenario, at: float, expected: set[str]) -> None:
        """Logged in means the agent's last record so far is a Login."""
        assert truth.logged_in_at(at) == expected

    def test_count_all(self, truth: Scenario) -> None:
        """Counts include anomalies and both identical records."""
        assert (truth.count(LOGIN, 0, 1000), truth.count(LOGOUT, 0, 1000)) == (4, 4)

    def test_count_bounds_inclusive(self, truth: Scenario) -> None:
        """Both ends of the window count."""
        assert truth.count(LOGIN, 150, 250) == 2

    def test_count_one_agent(self, truth: Scenario) -> None:
        """``name`` restricts the count to one agent."""
        assert truth.count(LOGOUT, 0, 1000, name="bob") == 2

    def test_count_by_agent(self, truth: Scenario) -> None:
        """Per-agent counts, for comparing per-agent counters."""
        assert truth.count_by_agent(LOGOUT, 0, 1000) == Counter({"bob": 2, "ann": 1, "cid": 1})

    def test_count_as_seen_at_now(self, truth: Scenario) -> None:
        """A late record counts only once it is visible at ``now``."""
        truth.inject(Record("cid", 450, LOGIN), visible_at=500)
        assert truth.count(LOGIN, 0, 1000) == 5
        assert truth.count(LOGIN, 0, 1000, now=499) == 4


class TestRender:
    SAMPLE = (
        Record("sysadmin", 1554108462, LOGOUT),
        Record("tester1", 1554108529, LOGOUT),
        Record("sysadmin", 1554108536, LOGIN),
    )

    def test_csv_like_the_api_document(self) -> None:
        """Headerless rows with running ids and Unix line ends."""
        assert render_csv(self.SAMPLE) == (
            b"1,sysadmin,1554108462,Logout\n"
            b"2,tester1,1554108529,Logout\n"
            b"3,sysadmin,1554108536,Login\n"
        )

    def test_json_like_the_api_document(self) -> None:
        """One array on one line, keys in the documented order."""
        assert render_json(self.SAMPLE[:2]) == (
            b'[{"id":1,"name":"sysadmin","timestamp":1554108462,"action":"Logout"},'
            b'{"id":2,"name":"tester1","timestamp":1554108529,"action":"Logout"}]'
        )

    def test_empty(self) -> None:
        """No records is an empty CSV body and an empty JSON array."""
        assert (render_csv([]), render_json([])) == (b"", b"[]")

    def test_csv_quoting_round_trips(self) -> None:
        """Awkward names come back unchanged through ``csv.reader``."""
        records = [Record(name, 1_000 + i, LOGIN) for i, name in enumerate(AWKWARD)]
        rows = list(csv.reader(render_csv(records).decode().splitlines()))
        assert rows == [[str(i + 1), name, str(1_000 + i), LOGIN] for i, name in enumerate(AWKWARD)]

    def test_json_round_trips(self) -> None:
        """Awkward names come back unchanged through ``json.loads``, as raw UTF-8."""
        records = [Record(name, 1_000 + i, LOGOUT) for i, name in enumerate(AWKWARD)]
        body = render_json(records)
        assert json.loads(body) == [
            {"id": i + 1, "name": name, "timestamp": 1_000 + i, "action": LOGOUT}
            for i, name in enumerate(AWKWARD)
        ]
        assert (b"\n" in body, "小林 優".encode() in body) == (False, True)


class TestSimRequest:
    def test_from_target(self) -> None:
        """The target is split and decoded; header names are lower-cased."""
        request = SimRequest.from_target(
            "get", "/s/demo/capi/custom/logio?name=svensson%2C+erik&from=1", {"X-Y": "z"}
        )
        assert request == SimRequest(
            "GET", LOGIO, {"name": ["svensson, erik"], "from": ["1"]}, {"x-y": "z"}
        )


class TestHandle:
    def test_default_is_csv_of_the_last_week(self, hand_built: Scenario) -> None:
        """No parameters: CSV, from now minus seven days up to now."""
        response = get(hand_built, LOGIO)
        assert (response.status, response.headers["Content-Type"]) == (
            200,
            "text/csv; charset=utf-8",
        )
        assert (
            response.body
            == (
                f"1,joe,{START - 100},Login\n"
                f'2,"svensson, erik",{START - 90},Login\n'
                f"3,joe,{START - 50},Logout\n"
                f'4,"erik ""the viking"" svensson",{START - 10},Logout\n'
            ).encode()
        )

    def test_json(self, hand_built: Scenario) -> None:
        """``format=json`` is one array on one line."""
        response = get(hand_built, f"{LOGIO}?format=json&from={START - 60}")
        assert (response.status, response.headers["Content-Type"]) == (200, "application/json")
        assert (
            response.body
            == (
                f'[{{"id":1,"name":"joe","timestamp":{START - 50},"action":"Logout"}},'
                f'{{"id":2,"name":"erik \\"the viking\\" svensson","timestamp":{START - 10},'
                f'"action":"Logout"}}]'
            ).encode()
        )

    def test_ids_run_within_one_response(self, hand_built: Scenario) -> None:
        """Filtering renumbers the rows from 1."""
        body = get(hand_built, f"{LOGIO}?name=joe").body
        assert body == f"1,joe,{START - 100},Login\n2,joe,{START - 50},Logout\n".encode()

    def test_name_needing_quotes(self, hand_built: Scenario) -> None:
        """A percent-encoded name with a comma selects that agent."""
        body = get(hand_built, f"{LOGIO}?name=svensson%2C%20erik&format=json").body
        assert json.loads(body) == [
            {"id": 1, "name": "svensson, erik", "timestamp": START - 90, "action": LOGIN}
        ]

    def test_from_to_inclusive(self, hand_built: Scenario) -> None:
        """``from`` and ``to`` are both inclusive."""
        body = get(hand_built, f"{LOGIO}?from={START - 90}&to={START - 50}").body
        assert (
            body == (f'1,"svensson, erik",{START - 90},Login\n2,joe,{START - 50},Logout\n').encode()
        )

    def test_from_reaches_older_records(self, hand_built: Scenario) -> None:
        """An explicit ``from`` reaches past the default week."""
        body = get(hand_built, f"{LOGIO}?from=0&to={START - 91}").body
        assert body == f"1,小林 優,{START - 8 * DAY},Login\n2,joe,{START - 100},Login\n".encode()

    def test_to_defaults_to_now(self, hand_built: Scenario) -> None:
        """Records appear as now passes their timestamp."""
        body = get(hand_built, f"{LOGIO}?from={START}", now=START + 100).body
        assert body == f"1,joe,{START + 100},Login\n".encode()

    def test_from_after_to_is_empty(self, hand_built: Scenario) -> None:
        """An inverted window is no rows, not an error."""
        response = get(hand_built, f"{LOGIO}?from={START}&to={START - 1}&format=json")
        assert (response.status, response.body) == (200, b"[]")

    def test_empty_values_mean_defaults(self, hand_built: Scenario) -> None:
        """``?name=&format=&from=&to=`` behaves as no parameters at all."""
        assert get(hand_built, f"{LOGIO}?name=&format=&from=&to=") == get(hand_built, LOGIO)

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            pytest.param("format=xml", "format must be csv or json", id="xml"),
            pytest.param("format=CSV", "format must be csv or json", id="upper"),
            pytest.param("from=1.5", "from must be a unix time in whole seconds", id="float"),
            pytest.param("from=yesterday", "from must be a unix time in whole seconds", id="word"),
            pytest.param("to=-1", "to must be a unix time in whole seconds", id="negative"),
            pytest.param("to=%EF%BC%91", "to must be a unix time in whole seconds", id="fullwidth"),
        ],
    )
    def test_bad_parameters(self, hand_built: Scenario, query: str, message: str) -> None:
        """Malformed parameters are a 400 naming the parameter."""
        response = get(hand_built, f"{LOGIO}?{query}")
        assert (response.status, json.loads(response.body)) == (400, {"error": message})

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"Authorization": "Bearer wrong-t0ken"}, id="wrong"),
            pytest.param({"Authorization": f"Basic {TOKEN}"}, id="scheme"),
            pytest.param({"Authorization": "Bearer"}, id="empty"),
        ],
    )
    def test_unauthorized(self, hand_built: Scenario, headers: dict[str, str]) -> None:
        """Without the right bearer token: 401, a fixed body, a challenge."""
        response = get(hand_built, LOGIO, headers)
        assert (response.status, response.body) == (401, b'{"error": "unauthorized"}')
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="logio"'

    def test_scheme_is_case_insensitive(self, hand_built: Scenario) -> None:
        """``bearer`` in lower case is accepted, as RFC 7235 says."""
        assert get(hand_built, LOGIO, {"authorization": f"bearer {TOKEN}"}).status == 200

    @pytest.mark.parametrize(
        "path",
        [
            pytest.param("/s/other/capi/custom/logio", id="workspace"),
            pytest.param(f"{LOGIO}/", id="slash"),
            pytest.param("/metrics", id="other"),
        ],
    )
    def test_unknown_path(self, hand_built: Scenario, path: str) -> None:
        """Anything but the workspace's endpoint and ``/`` is a 404."""
        response = get(hand_built, path)
        assert (response.status, response.body) == (404, b'{"error": "not found"}')

    @pytest.mark.parametrize(
        "path", [pytest.param(LOGIO, id="logio"), pytest.param("/", id="root")]
    )
    def test_only_get(self, hand_built: Scenario, path: str) -> None:
        """Other methods are a 405 that names GET."""
        request = SimRequest.from_target("POST", path, AUTH)
        response = handle(request, hand_built, token=TOKEN, workspace="demo", now=START)
        assert (response.status, response.headers["Allow"]) == (405, "GET")

    def test_landing_page(self, hand_built: Scenario) -> None:
        """``/`` names the simulator and its endpoint, without a token."""
        response = get(hand_built, "/", {})
        assert (response.status, response.headers["Content-Type"]) == (
            200,
            "text/plain; charset=utf-8",
        )
        assert response.body == (
            b"Cention logio API simulator\n"
            b"Endpoint: GET /s/demo/capi/custom/logio with Authorization: Bearer <token>\n"
        )


class TestSimulatorServer:
    @pytest.fixture(name="client")
    def fixture_client(self) -> Iterator[httpx.Client]:
        """A client that ignores proxy settings: the simulator is on loopback."""
        with httpx.Client(trust_env=False, timeout=10) as client:
            yield client

    def test_serves_the_contract_over_http(self, center: Scenario, client: httpx.Client) -> None:
        """A week of 50 agents, fetched over HTTP, parses back into the scenario's records."""
        with SimulatorServer(center, token=TOKEN, clock=lambda: START) as sim:
            response = client.get(sim.logio_url, headers=AUTH)
            assert sim.url == f"http://127.0.0.1:{sim.port}"
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        expected = center.records(START - WEEK, START, START)
        assert parse(response.content, "csv").records == expected
        assert response.content.count(b"\n") == len(expected)  # one line per record

    def test_query_parameters_over_http(self, hand_built: Scenario, client: httpx.Client) -> None:
        """Parameters and keep-alive work through a real client."""
        with SimulatorServer(hand_built, token=TOKEN, workspace="w1", clock=lambda: START) as sim:
            url = f"{sim.url}/s/w1/capi/custom/logio"
            first = client.get(url, params={"name": "joe", "format": "json"}, headers=AUTH)
            second = client.get(url, params={"from": START - 10}, headers=AUTH)
        assert json.loads(first.content) == [
            {"id": 1, "name": "joe", "timestamp": START - 100, "action": LOGIN},
            {"id": 2, "name": "joe", "timestamp": START - 50, "action": LOGOUT},
        ]
        assert second.content == f'1,"erik ""the viking"" svensson",{START - 10},Logout\n'.encode()

    def test_unauthorized_over_http(self, hand_built: Scenario, client: httpx.Client) -> None:
        """Without a token the server answers 401."""
        with SimulatorServer(hand_built, token=TOKEN) as sim:
            response = client.get(sim.logio_url)
        assert (response.status_code, response.content) == (401, b'{"error": "unauthorized"}')

    def test_clock_drives_now(self, hand_built: Scenario, client: httpx.Client) -> None:
        """The server asks its clock for now on every request."""
        now = [float(START)]
        with SimulatorServer(hand_built, token=TOKEN, clock=lambda: now[0]) as sim:
            url = f"{sim.logio_url}?from={START}"
            before = client.get(url, headers=AUTH).content
            now[0] = START + 100
            after = client.get(url, headers=AUTH).content
        assert (before, after) == (b"", f"1,joe,{START + 100},Login\n".encode())

    def test_requests_logged_at_debug(
        self, hand_built: Scenario, client: httpx.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each request goes to logging at debug level, its line and status as fields,
        never with the token."""
        with (
            caplog.at_level(logging.DEBUG, logger="exporter.simulator.server"),
            SimulatorServer(hand_built, token=TOKEN) as sim,
        ):
            client.get(f"{sim.url}/", headers=AUTH)
        lines = [
            (r.getMessage(), r.peer, r.request, r.status)  # type: ignore[attr-defined]
            for r in caplog.records
            if r.levelno == logging.DEBUG
        ]
        assert lines == [("logio simulator request", "127.0.0.1", "GET / HTTP/1.1", 200)]
        assert TOKEN not in caplog.text

    def test_serves_https_with_a_certificate(self, hand_built: Scenario, tmp_path: Path) -> None:
        """With a certificate it serves HTTPS; a client that distrusts it stops no one."""
        crt, key = write_pem(issue("simulator", serves=True), tmp_path, "simulator")
        with SimulatorServer(
            hand_built, token=TOKEN, clock=lambda: START, cert_file=str(crt), key_file=str(key)
        ) as sim:
            url = f"{sim.logio_url}?from={START - 10}"
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                httpx.get(url, headers=AUTH, trust_env=False)
            trusted = httpx.get(
                url, headers=AUTH, trust_env=False, verify=ssl.create_default_context(cafile=crt)
            )
            assert sim.url == f"https://127.0.0.1:{sim.port}"
        assert (trusted.status_code, trusted.content) == (
            200,
            f'1,"erik ""the viking"" svensson",{START - 10},Logout\n'.encode(),
        )

    def test_stop_closes_the_port(self, hand_built: Scenario, client: httpx.Client) -> None:
        """After stop nothing listens on the port any more."""
        sim = SimulatorServer(hand_built, token=TOKEN)
        sim.start()
        url = sim.url
        sim.stop()
        with pytest.raises(httpx.ConnectError):
            client.get(url)

    def test_url_needs_a_started_server(self, hand_built: Scenario) -> None:
        """The port is only known once bound."""
        with pytest.raises(RuntimeError, match="not started"):
            _ = SimulatorServer(hand_built, token=TOKEN).url

    def test_serve_runs_until_stopped(self, hand_built: Scenario) -> None:
        """``serve`` blocks in the foreground until its stop event is set."""
        sim, stop = SimulatorServer(hand_built, token=TOKEN), threading.Event()
        runner = threading.Thread(target=serve, args=(sim, stop))
        runner.start()
        stop.set()
        runner.join(timeout=10)
        assert runner.is_alive() is False


class TestParseFaults:
    def test_parse(self) -> None:
        """Offsets count from the origin; kinds that need seconds have defaults."""
        assert parse_faults(" 500@60+30, 429:7@120+10,hang@0+5,skew:-90@0+600", origin=1000) == [
            Fault("500", 1060, 1090, 0.0),
            Fault("429", 1120, 1130, 7.0),
            Fault("hang", 1000, 1005, 30.0),
            Fault("skew", 1000, 1600, -90.0),
        ]

    def test_empty_spec(self) -> None:
        """An empty spec is no faults."""
        assert parse_faults("", origin=0) == []

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            pytest.param("boom@0+1", "unknown kind", id="kind"),
            pytest.param("500@0", "is not KIND", id="duration"),
            pytest.param("500@soon+1", "is not KIND", id="offset"),
            pytest.param("hang:long@0+1", "is not KIND", id="seconds"),
            pytest.param("500@0+0", "duration must be positive", id="zero"),
        ],
    )
    def test_bad_spec(self, spec: str, message: str) -> None:
        """A bad item is refused with a message quoting it."""
        with pytest.raises(ValueError, match=f"fault '{re.escape(spec)}'.*{message}"):
            parse_faults(spec, origin=0)


class TestFaultSchedule:
    def test_active_from_start_until_end(self) -> None:
        """A fault is active from its start, inclusive, to its end, exclusive."""
        schedule = FaultSchedule([Fault("503", 10, 20), Fault("skew", 15, 30, 5)])
        assert [[f.kind for f in schedule.active(t)] for t in (9, 10, 15, 20, 30)] == [
            [],
            ["503"],
            ["503", "skew"],
            ["skew"],
            [],
        ]

    def test_unknown_kind_refused(self) -> None:
        """Only known kinds can be scheduled."""
        with pytest.raises(ValueError, match="unknown fault kind 'boom'"):
            FaultSchedule().add(Fault("boom", 0, 1))

    def test_clear(self) -> None:
        """Clearing heals the upstream."""
        schedule = FaultSchedule([Fault("500", 0, 100)])
        schedule.clear()
        assert (schedule.faults(), schedule.active(50)) == ([], [])


class TestRandomFaults:
    def test_same_seed_same_schedule(self) -> None:
        """A seeded schedule can be replayed."""
        one = random_faults(3, start=0, duration=600)
        assert one == random_faults(3, start=0, duration=600)
        assert one != random_faults(4, start=0, duration=600)

    def test_ordered_apart_and_bounded(self) -> None:
        """Faults do not overlap, leave gaps and stay within the duration."""
        schedule = random_faults(5, start=100, duration=3600, kinds=["500", "late"])
        bounds = [(f.start, f.end) for f in schedule]
        assert all(a_end < b_start for (_, a_end), (b_start, _) in itertools.pairwise(bounds))
        assert (bounds[0][0] >= 100, bounds[-1][1] <= 3700) == (True, True)
        assert {f.kind for f in schedule} == {"500", "late"}


class TestPlan:
    def plan_at(
        self, built: Scenario, active: list[Fault], target: str = LOGIO, now: float = START
    ) -> Plan:
        """The plan for an authorized ``GET target`` while ``active`` faults hold."""
        request = SimRequest.from_target("GET", target, AUTH)
        return plan(request, built, active, token=TOKEN, workspace="demo", now=now)

    def test_no_fault_is_the_plain_answer(self, hand_built: Scenario) -> None:
        """Without faults the plan is the handler's response, at once."""
        assert self.plan_at(hand_built, []) == Plan(get(hand_built, LOGIO))

    @pytest.mark.parametrize(
        ("kind", "status", "body"),
        [
            pytest.param("500", 500, b'{"error": "internal server error"}', id="500"),
            pytest.param("503", 503, b'{"error": "service unavailable"}', id="503"),
            pytest.param("429", 429, b'{"error": "too many requests"}', id="429"),
            pytest.param("html", 200, HTML_LOGIN, id="html"),
        ],
    )
    def test_replaced_answers(
        self, hand_built: Scenario, kind: str, status: int, body: bytes
    ) -> None:
        """Status faults and the login page replace the answer."""
        response = self.plan_at(hand_built, [Fault(kind, 0, 2 * START, 7)]).response
        assert response is not None
        assert (response.status, response.body) == (status, body)

    def test_retry_after(self, hand_built: Scenario) -> None:
        """429 says when to come back."""
        response = self.plan_at(hand_built, [Fault("429", 0, 2 * START, 7)]).response
        assert response is not None
        assert response.headers["Retry-After"] == "7"

    def test_malformed_csv_keeps_every_record(self, hand_built: Scenario) -> None:
        """Junk rows go between the real rows, and the ids run over all of them."""
        response = self.plan_at(hand_built, [Fault("malformed", 0, 2 * START)]).response
        assert response is not None
        assert (
            response.body
            == (
                "1,,1554108536,Login\n"
                f"2,joe,{START - 100},Login\n"
                "3,joe,soon,Login\n"
                f'4,"svensson, erik",{START - 90},Login\n'
                "5,joe,1554108536,Logon\n"
                f"6,joe,{START - 50},Logout\n"
                f'7,"erik ""the viking"" svensson",{START - 10},Logout\n'
                "8,joe,1554108536\n"
            ).encode()
        )

    def test_malformed_json_keeps_every_record(self, hand_built: Scenario) -> None:
        """In JSON, the junk is objects with bad fields and a bare string."""
        active = [Fault("malformed", 0, 2 * START)]
        response = self.plan_at(hand_built, active, f"{LOGIO}?format=json&name=joe").response
        assert response is not None
        assert json.loads(response.body) == [
            {"id": 1, "name": "", "timestamp": 1554108536, "action": "Login"},
            {"id": 2, "name": "joe", "timestamp": "soon", "action": "Login"},
            {"id": 3, "name": "joe", "timestamp": START - 100, "action": "Login"},
            {"id": 4, "name": "joe", "timestamp": 1554108536, "action": "Logon"},
            {"id": 5, "name": "joe", "timestamp": START - 50, "action": "Logout"},
            "not a row",
        ]

    def test_malformed_leaves_errors_alone(self, hand_built: Scenario) -> None:
        """A 401 stays a 401."""
        request = SimRequest.from_target("GET", LOGIO, {})
        active = [Fault("malformed", 0, 2 * START)]
        todo = plan(request, hand_built, active, token=TOKEN, workspace="demo", now=START)
        assert todo.response is not None
        assert todo.response.status == 401

    def test_io_faults(self, hand_built: Scenario) -> None:
        """Truncation cuts the body in half; a hang waits; a reset sends nothing."""
        answer = get(hand_built, LOGIO)
        results = [
            self.plan_at(hand_built, [Fault(kind, 0, 2 * START, 30)])
            for kind in ("truncated", "hang", "reset")
        ]
        assert results == [
            Plan(answer, cut=len(answer.body) // 2),
            Plan(answer, wait=30),
            Plan(None),
        ]

    def test_skew_moves_the_servers_now(self, hand_built: Scenario) -> None:
        """A server clock 100 s ahead already shows the record at START + 100."""
        todo = self.plan_at(hand_built, [Fault("skew", 0, 2 * START, 100)], f"{LOGIO}?from={START}")
        assert todo == Plan(get(hand_built, f"{LOGIO}?from={START}", now=START + 100))
        assert todo.response is not None
        assert todo.response.body == f"1,joe,{START + 100},Login\n".encode()

    def test_late_hides_recent_records(self, hand_built: Scenario) -> None:
        """Records written a minute late are missing from the last minute."""
        todo = self.plan_at(hand_built, [Fault("late", 0, 2 * START, 60)], f"{LOGIO}?name=joe")
        assert todo.response is not None
        assert todo.response.body == f"1,joe,{START - 100},Login\n".encode()

    def test_first_response_fault_wins(self, hand_built: Scenario) -> None:
        """With two faults that change the answer, the earlier scheduled applies."""
        active = [Fault("503", 0, 2 * START), Fault("500", 0, 2 * START)]
        response = self.plan_at(hand_built, active).response
        assert response is not None
        assert response.status == 503

    def test_landing_page_unaffected(self, hand_built: Scenario) -> None:
        """``/`` keeps answering, so the simulator itself is seen to be alive."""
        todo = self.plan_at(hand_built, [Fault("reset", 0, 2 * START)], "/")
        assert todo.response is not None
        assert todo.response.status == 200


class TestFaultsOverHTTP:
    @pytest.fixture(name="client")
    def fixture_client(self) -> Iterator[httpx.Client]:
        """A client with a short timeout, so a hang is noticed quickly."""
        with httpx.Client(trust_env=False, timeout=0.5) as client:
            yield client

    def serve(self, built: Scenario, *active: Fault) -> SimulatorServer:
        """A simulator frozen at START with ``active`` faults scheduled."""
        return SimulatorServer(
            built, token=TOKEN, clock=lambda: START, faults=FaultSchedule(active)
        )

    def test_reset(self, hand_built: Scenario, client: httpx.Client) -> None:
        """A reset connection is a transport error, with no response at all."""
        with (
            self.serve(hand_built, Fault("reset", 0, 2 * START)) as sim,
            pytest.raises(httpx.TransportError),
        ):
            client.get(sim.logio_url, headers=AUTH)

    def test_truncated(self, hand_built: Scenario, client: httpx.Client) -> None:
        """A body shorter than its Content-Length fails the read."""
        with (
            self.serve(hand_built, Fault("truncated", 0, 2 * START)) as sim,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            client.get(sim.logio_url, headers=AUTH)

    def test_hang_times_out_and_stop_cuts_it_short(
        self, hand_built: Scenario, client: httpx.Client
    ) -> None:
        """The client times out; stopping the server does not wait for the hang."""
        sim = self.serve(hand_built, Fault("hang", 0, 2 * START, 600))
        sim.start()
        try:
            with pytest.raises(httpx.ReadTimeout):
                client.get(sim.logio_url, headers=AUTH)
        finally:
            sim.stop()

    def test_rate_limited(self, hand_built: Scenario, client: httpx.Client) -> None:
        """429 arrives with its Retry-After header."""
        with self.serve(hand_built, Fault("429", 0, 2 * START, 3)) as sim:
            response = client.get(sim.logio_url, headers=AUTH)
        assert (response.status_code, response.headers["retry-after"]) == (429, "3")

    def test_html_login_page_is_not_records(
        self, hand_built: Scenario, client: httpx.Client
    ) -> None:
        """The login page comes with status 200 and the exporter's parser refuses it."""
        with self.serve(hand_built, Fault("html", 0, 2 * START)) as sim:
            response = client.get(sim.logio_url, headers=AUTH)
        assert response.status_code == 200
        with pytest.raises(InvalidResponseError):
            parse(response.content, "csv")

    def test_malformed_rows_skip_only_themselves(
        self, hand_built: Scenario, client: httpx.Client
    ) -> None:
        """The exporter's parser keeps every real record of a body with junk rows."""
        with self.serve(hand_built, Fault("malformed", 0, 2 * START)) as sim:
            response = client.get(sim.logio_url, params={"format": "json"}, headers=AUTH)
        assert parse(response.content, "json").records == [JOE_IN, ERIK_IN, JOE_OUT, VIKING_OUT]

    def test_faults_change_while_serving(self, hand_built: Scenario, client: httpx.Client) -> None:
        """Faults added and cleared on a running server take effect at the next request."""
        with self.serve(hand_built) as sim:
            sim.faults.add(Fault("503", 0, 2 * START))
            down = client.get(sim.logio_url, headers=AUTH).status_code
            sim.faults.clear()
            up = client.get(sim.logio_url, headers=AUTH).status_code
        assert (down, up) == (503, 200)
