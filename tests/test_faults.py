"""The running exporter against a logio API that fails, over real loopback HTTP.

Every fault kind of the simulator runs at once, one simulated workspace each, against one
exporter. While a fault lasts /metrics keeps answering; ``cention_up`` reads 0 when the
fault is a failure, and ``cention_logio_errors_total`` counts it under its reason, once per
failed request. Faults that are not failures (malformed rows, a skewed clock, records
that show up late) leave ``cention_up`` at 1 and show where they belong. After recovery
every counter equals the simulator's ground truth exactly.

Then, each with an exporter of its own: catching up after an outage longer than
``max_window``, an answer over ``max_response_bytes``, the warnings at start, agent names
that try to break the exposition, ``simulate --faults``, and (marked slow) a long random
fault schedule with events throughout.
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fault_helpers import (
    Monitor,
    RecordingSimulator,
    Seen,
    Snapshot,
    aggregates,
    burst,
    errors,
    expected_aggregates,
    idle_agents,
    metric,
    observed,
    sleep_until,
    truth,
)
from harness import (
    Samples,
    free_port,
    logged,
    parse_samples,
    promtool_findings,
    run_exporter,
    write_config,
)
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.simulator import Fault, Scenario, random_faults
from exporter.simulator.shifts import DAY

TOKEN = "tok-FAULTS-7f3a9c2e51d4-leakcheck"
WRONG_TOKEN = "tok-REVOKED-0b8e6d4a92c1-leakcheck"
POLL = {"interval": "1s", "timeout": "2s", "overlap": "10m", "lookback": "2d", "max_window": "1d"}
HANG = 5.0
"""Seconds a hanging API waits before answering: past the 2 s client timeout."""
HOLD = 3.0
"""Seconds a fault stays on after it first shows."""
SETTLE = 2.5
"""Two more polls over the same overlap, which must count nothing again."""


@dataclass(frozen=True)
class Burst:
    """Events injected while the fault lasts, stamped ``offset`` s from now."""

    offset: int = 0
    hidden: bool = True
    """Nothing of it is counted 1.5 s after it happened."""
    shows: bool = False
    """It is counted while the fault still lasts."""


@dataclass(frozen=True)
class Case:
    """One fault: a simulator fault kind, or ``auth`` for a token the API refuses."""

    name: str
    kind: str
    reason: str | None
    seconds: float = 0.0
    fmt: str = "csv"
    bursts: tuple[Burst, ...] = (Burst(),)


CASES = (
    Case("500", "500", "server"),
    Case("503", "503", "server", fmt="json"),
    Case("429", "429", "rate_limited", seconds=2),
    Case("hang", "hang", "timeout", seconds=HANG, fmt="json"),
    Case("reset", "reset", "network"),
    Case("truncated-csv", "truncated", "invalid_response"),
    Case("truncated-json", "truncated", "invalid_response", fmt="json"),
    Case("html", "html", "invalid_response"),
    Case("auth", "auth", "auth", fmt="json"),
    Case("malformed-csv", "malformed", None, bursts=(Burst(hidden=False, shows=True),)),
    Case(
        "malformed-json", "malformed", None, fmt="json", bursts=(Burst(hidden=False, shows=True),)
    ),
    # The server stamps events by its own clock: 5 s in the exporter's future...
    Case("skew-ahead", "skew", None, seconds=5, bursts=(Burst(5, shows=True),)),
    # ... or 30 s in its past, and events stamped by the true time stay hidden meanwhile.
    Case(
        "skew-behind",
        "skew",
        None,
        seconds=-30,
        fmt="json",
        bursts=(Burst(-30, hidden=False, shows=True), Burst(0)),
    ),
    Case("late", "late", None, seconds=4, bursts=(Burst(shows=True),)),
)
REASON_OF_STATUS = {429: "rate_limited", 401: "auth", 500: "server", 503: "server"}
Totals = tuple[dict[str, float], dict[str, float], tuple[float, float]]
"""What ``aggregates`` returns: records by action, anomalies by kind, durations (count, sum)."""
NOTHING: Totals = (
    {"login": 0.0, "logout": 0.0},
    {"login_while_logged_in": 0.0, "logout_without_login": 0.0},
    (0.0, 0.0),
)
BURST: Totals = (
    {"login": 3.0, "logout": 3.0},
    {"login_while_logged_in": 1.0, "logout_without_login": 1.0},
    (2.0, 3.0),
)
"""What one ``burst`` adds: three logins and three logouts, one anomaly of each kind, and
two sessions, of 1 s and 2 s."""


def change(before: Samples, after: Samples, workspace: str) -> Totals:
    """What the workspace's ``aggregates`` gained from ``before`` to ``after``, key by key."""
    (records, anomalies, durations), (was_records, was_anomalies, was_durations) = (
        aggregates(after, workspace),
        aggregates(before, workspace),
    )
    return (
        {key: value - was_records.get(key, 0.0) for key, value in records.items()},
        {key: value - was_anomalies.get(key, 0.0) for key, value in anomalies.items()},
        (durations[0] - was_durations[0], durations[1] - was_durations[1]),
    )


@dataclass
class Observation:
    """What one case saw; ``error`` is the traceback if the case itself broke."""

    before: Samples = field(default_factory=dict)
    during: list[Snapshot] = field(default_factory=list)
    hidden: list[Totals] = field(default_factory=list)
    """What each hidden burst added 1.5 s after it happened."""
    shown: list[Totals] = field(default_factory=list)
    """What each burst that shows added once counted, while the fault lasted."""
    error: str | None = None

    def check(self) -> None:
        if self.error is not None:
            pytest.fail(self.error)


@dataclass
class FaultRun:
    """One exporter through every fault at once, and all it showed."""

    simulators: dict[str, RecordingSimulator]
    observations: dict[str, Observation]
    final: Samples
    final_text: str
    log: str
    scrapes: int
    slowest_scrape: float
    scrape_failures: list[str]
    leaks: list[str]


class _Shared:
    """The config file of the shared run; a case changes its own workspace's token."""

    def __init__(self, path: Path, simulators: dict[str, RecordingSimulator]) -> None:
        self.path, self.simulators = path, simulators
        self.tokens = dict.fromkeys(simulators, TOKEN)
        self.lock = threading.Lock()
        self.url = ""

    def write(self) -> None:
        workspaces: list[dict[str, object]] = [
            {
                "workspace": case.name,
                "api_url": sim.url,
                "token": self.tokens[case.name],
                "format": case.fmt,
            }
            for case, sim in zip(CASES, self.simulators.values(), strict=True)
        ]
        write_config(self.path, workspaces, poll=POLL)

    def set_token(self, workspace: str, token: str) -> None:
        with self.lock:
            self.tokens[workspace] = token
            self.write()
            response = httpx.post(self.url + "/-/reload", timeout=10)
        assert (response.status_code, response.text) == (200, "reloaded\n")


def _drive(
    case: Case, simulator: RecordingSimulator, monitor: Monitor, shared: _Shared
) -> Observation:
    """Events before, during and after the fault; what the exporter showed meanwhile."""
    scenario, ws, obs = simulator.scenario, case.name, Observation()
    agents = idle_agents(scenario, ws, 3 * (len(case.bursts) + 2))
    groups = iter([agents[i : i + 3] for i in range(0, len(agents), 3)])

    def settled(what: str) -> Snapshot:
        want = expected_aggregates(scenario)
        return monitor.wait(lambda s: aggregates(s, ws) == want, 30, f"{ws}: {what}")

    burst(scenario, next(groups), int(time.time()))
    obs.before = settled("events before the fault").samples
    began = time.time()
    _start(case, simulator, shared)
    for planned in case.bursts:
        injected = time.time()
        counts = monitor.next(injected).samples
        burst(scenario, next(groups), int(injected) + planned.offset)
        if planned.hidden:
            obs.hidden.append(change(counts, monitor.next(injected + 1.5).samples, ws))
        if planned.shows:
            obs.shown.append(change(counts, settled("events during the fault").samples, ws))
    since = began
    if case.reason is not None or case.kind == "malformed":
        since = monitor.wait(lambda s: _shows(case, obs.before, s), 30, f"{ws}: the fault").ended
    time.sleep(HOLD)
    cleared = time.time()
    _stop(case, simulator, shared)
    obs.during = monitor.between(since, cleared)
    monitor.wait(lambda s: metric(s, "cention_up", ws) == 1, 30, f"{ws}: recovery")
    burst(scenario, next(groups), int(time.time()))
    settled("events after the fault")
    return obs


def _shows(case: Case, before: Samples, samples: Samples) -> bool:
    """Whether the fault shows in a scrape: a failure, or junk rows counted."""
    ws = case.name
    if case.reason is None:
        return metric(samples, "cention_logio_invalid_records_total", ws) > 0
    failed = errors(samples, ws)[case.reason] > errors(before, ws)[case.reason]
    return failed and metric(samples, "cention_up", ws) == 0


def _start(case: Case, simulator: RecordingSimulator, shared: _Shared) -> None:
    if case.kind == "auth":
        shared.set_token(case.name, WRONG_TOKEN)
    else:
        now = time.time()
        simulator.faults.add(Fault(case.kind, now, now + 3600, case.seconds))


def _stop(case: Case, simulator: RecordingSimulator, shared: _Shared) -> None:
    if case.kind == "auth":
        shared.set_token(case.name, TOKEN)
    else:
        simulator.faults.clear()


def _run_case(
    case: Case,
    simulator: RecordingSimulator,
    monitor: Monitor,
    shared: _Shared,
    out: dict[str, Observation],
) -> None:
    try:
        out[case.name] = _drive(case, simulator, monitor, shared)
    except BaseException:  # the case's test reports it; the other cases go on
        out[case.name] = Observation(error=traceback.format_exc())


@pytest.fixture(name="run", scope="module")
def _run(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    start = int(time.time()) - 300
    simulators = {
        case.name: RecordingSimulator(
            Scenario(start=start, agents=10, seed=seed, live=False, lookback=DAY),
            token=TOKEN,
            workspace=case.name,
        )
        for seed, case in enumerate(CASES, 1)
    }
    observations: dict[str, Observation] = {}
    with ExitStack() as stack:
        for simulator in simulators.values():
            stack.enter_context(simulator)
        shared = _Shared(tmp_path_factory.mktemp("faults") / "config.yaml", simulators)
        shared.write()
        shared.path.chmod(0o600)
        exporter = stack.enter_context(run_exporter(shared.path, "--log.level=debug"))
        shared.url = exporter.url
        monitor = stack.enter_context(Monitor(exporter, (TOKEN, WRONG_TOKEN)))
        threads = [
            threading.Thread(
                target=_run_case, args=(case, simulators[case.name], monitor, shared, observations)
            )
            for case in CASES
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 150
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for case in CASES:
            observations.setdefault(case.name, Observation(error="not finished within 150 s"))
        time.sleep(SETTLE)
        final_text = exporter.scrape_text()
    return FaultRun(
        simulators=simulators,
        observations=observations,
        final=parse_samples(final_text),
        final_text=final_text,
        log=exporter.log(),
        scrapes=monitor.scrapes,
        slowest_scrape=monitor.slowest,
        scrape_failures=monitor.failures,
        leaks=monitor.leaks,
    )


def reason_of(seen: Seen) -> str | None:
    """The errors label a request the simulator answered so must be counted under."""
    if seen.status is None:
        return "network"
    if "hang" in seen.kinds:
        return "timeout"
    if seen.status in REASON_OF_STATUS:
        return REASON_OF_STATUS[seen.status]
    if "html" in seen.kinds or ("truncated" in seen.kinds and seen.body):
        return "invalid_response"
    return None


def code_of(seen: Seen) -> str:
    """The code label of ``cention_logio_requests_total`` for that request."""
    return "error" if seen.status is None or "hang" in seen.kinds else str(seen.status)


CASE_PARAMS = [pytest.param(case, id=case.name) for case in CASES]
FAILURES = [pytest.param(case, id=case.name) for case in CASES if case.reason]
MALFORMED = [pytest.param(case, id=case.name) for case in CASES if case.kind == "malformed"]
JUNK_ROWS = 4
"""Junk rows the simulator puts in each malformed answer, each distinct."""


@pytest.mark.parametrize("case", CASE_PARAMS)
class TestEachFault:
    def test_metrics_answer_and_up_tells_the_fault(self, run: FaultRun, case: Case) -> None:
        """While the fault lasts every scrape answers; cention_up is 0 for a failure, else 1."""
        obs = run.observations[case.name]
        obs.check()
        assert len(obs.during) >= 3
        ups = [metric(s.samples, "cention_up", case.name) for s in obs.during]
        assert ups == [0 if case.reason else 1] * len(ups)
        assert metric(run.final, "cention_up", case.name) == 1

    def test_errors_name_the_reason_once_per_failed_request(
        self, run: FaultRun, case: Case
    ) -> None:
        """Each failed request adds one to its reason; every other reason stays put."""
        obs = run.observations[case.name]
        obs.check()
        failed = Counter(reason_of(s) for s in run.simulators[case.name].requests())
        del failed[None]
        assert set(failed) == ({case.reason} if case.reason else set())
        before = errors(obs.before, case.name)
        assert errors(run.final, case.name) == {r: v + failed[r] for r, v in before.items()}
        for snapshot in obs.during:
            now = errors(snapshot.samples, case.name)
            assert {r: v for r, v in now.items() if r != case.reason} == {
                r: v for r, v in before.items() if r != case.reason
            }

    def test_requests_are_counted_by_status(self, run: FaultRun, case: Case) -> None:
        """Answers other than 200 are counted by code exactly as the simulator sent them."""
        run.observations[case.name].check()
        codes = Counter(code_of(s) for s in run.simulators[case.name].requests())
        del codes["200"]
        got = {
            dict(labels)["code"]: v
            for (name, labels), v in run.final.items()
            if name == "cention_logio_requests_total" and ("workspace", case.name) in labels
        }
        del got["200"]
        assert got == dict(codes)

    def test_counters_equal_the_ground_truth(self, run: FaultRun, case: Case) -> None:
        """After recovery every counter equals the simulator's ground truth exactly."""
        run.observations[case.name].check()
        scenario = run.simulators[case.name].scenario
        want = truth(scenario)
        assert observed(run.final, case.name) == want
        assert metric(run.final, "cention_agents_logged_in", case.name) == len(want.logged_in)
        invalid = JUNK_ROWS if case.kind == "malformed" else 0
        assert metric(run.final, "cention_logio_invalid_records_total", case.name) == invalid

    def test_events_count_once_the_api_shows_them(self, run: FaultRun, case: Case) -> None:
        """Events the API does not show yet add nothing; events it shows during the fault
        (malformed rows among them, a skewed clock, late records) add exactly their counts."""
        obs = run.observations[case.name]
        obs.check()
        assert (obs.hidden, obs.shown) == (
            [NOTHING] * sum(burst.hidden for burst in case.bursts),
            [BURST] * sum(burst.shows for burst in case.bursts),
        )


@pytest.mark.parametrize("case", FAILURES)
class TestFailure:
    def test_nothing_changes_while_it_fails(self, run: FaultRun, case: Case) -> None:
        """A failed poll applies nothing: every count stays as it was before the fault."""
        obs = run.observations[case.name]
        obs.check()
        before = aggregates(obs.before, case.name)
        assert [aggregates(s.samples, case.name) for s in obs.during] == [before] * len(obs.during)


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_rows_are_counted_invalid_once_each(run: FaultRun, case: Case) -> None:
    """Each junk row counts once, though every poll of the overlap reads it again."""
    obs = run.observations[case.name]
    obs.check()
    seen = [metric(s.samples, "cention_logio_invalid_records_total", case.name) for s in obs.during]
    assert set(seen) == {JUNK_ROWS}
    served = [s for s in run.simulators[case.name].requests() if "malformed" in s.kinds]
    assert len(served) >= 3


def test_retry_after_is_waited_for(run: FaultRun) -> None:
    """A 429 with Retry-After: 2 is not asked again within those 2 seconds."""
    run.observations["429"].check()
    limited = [s.at for s in run.simulators["429"].requests() if s.status == 429]
    assert len(limited) >= 2
    assert min(b - a for a, b in itertools.pairwise(limited)) >= 2.0


class TestSharedRun:
    def test_every_scrape_answered_at_once(self, run: FaultRun) -> None:
        """/metrics answered every scrape within 2 s, through every fault."""
        assert run.scrape_failures == []
        assert run.scrapes >= 20
        assert run.slowest_scrape < 2.0

    def test_the_token_appears_in_no_log_line_and_no_scrape(self, run: FaultRun) -> None:
        """Through every fault, at debug level, no token reaches a log line or a scrape."""
        assert run.leaks == []
        for token in (TOKEN, WRONG_TOKEN):
            assert token not in run.final_text
            assert token not in run.log
        assert "<redacted>" not in run.log  # nothing even tried to write it
        reasons = ("auth", "rate_limited", "server", "timeout", "network", "invalid_response")
        assert [r for r in reasons if f"reason={r}" not in run.log] == []

    def test_nothing_crashed(self, run: FaultRun) -> None:
        """No traceback in the log: every fault was handled where it arose."""
        assert "Traceback" not in run.log


def _settle(monitor: Monitor, scenario: Scenario, workspace: str, timeout: float = 30) -> Samples:
    """Wait until the workspace's totals equal the ground truth, then two more polls."""
    want = expected_aggregates(scenario)
    monitor.wait(lambda s: aggregates(s, workspace) == want, timeout, f"{workspace}: the truth")
    return monitor.next(time.time() + SETTLE).samples


class TestSimulateFaults:
    """``simulate --faults SPEC`` for demos."""

    @pytest.mark.parametrize(
        ("spec", "problem"),
        [
            pytest.param(
                "503@60+30,boom@0+5",
                "fault 'boom@0+5': unknown kind; known: 500, 503, 429, html, malformed, "
                "truncated, hang, reset, skew, late",
                id="unknown-kind",
            ),
            pytest.param(
                "hang:soon@0+5",
                "fault 'hang:soon@0+5' is not KIND[:SECONDS]@OFFSET+DURATION",
                id="bad-seconds",
            ),
            pytest.param(
                "500@10", "fault '500@10' is not KIND[:SECONDS]@OFFSET+DURATION", id="no-duration"
            ),
            pytest.param("500@10+0", "fault '500@10+0': the duration must be positive", id="empty"),
        ],
    )
    def test_a_bad_spec_exits_2_naming_the_problem(self, spec: str, problem: str) -> None:
        """argparse refuses the spec with the fault and what is wrong with it."""
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "simulate", "--faults", spec],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == (
            f"cention-logio-exporter simulate: error: argument --faults: {problem}"
        )

    @pytest.mark.parametrize(
        ("spec", "status"),
        [
            pytest.param("503@0+600", 503, id="active"),
            pytest.param("html@600+60", 200, id="not-yet"),
        ],
    )
    def test_the_schedule_counts_from_the_start(self, spec: str, status: int) -> None:
        """Offsets count from the simulator's start: a fault at 0 answers at once."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-m",
            "exporter",
            "simulate",
            f"--listen-address=127.0.0.1:{port}",
            f"--faults={spec}",
            "--token=cli-token",
            "--agents=3",
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(url + "/", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            response = httpx.get(
                url + "/s/demo/capi/custom/logio?format=json",
                headers={"Authorization": "Bearer cli-token"},
                timeout=5,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        assert response.status_code == status


class TestOutage:
    OUTAGE = 9
    """Seconds the API answers 503: three times max_window."""

    def test_catch_up_goes_window_by_window_and_counts_once(self, tmp_path: Path) -> None:
        """After an outage of several max_windows one poll asks every window from the
        watermark on, none wider than max_window, and every event counts once."""
        scenario = Scenario(start=int(time.time()) - 300, agents=0, live=False)
        poll = {
            "interval": "1s",
            "timeout": "2s",
            "overlap": "2s",
            "lookback": "10s",
            "max_window": "3s",
        }
        with RecordingSimulator(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": TOKEN}],
                poll=poll,
            )
            with run_exporter(config) as exporter, Monitor(exporter) as monitor:
                _session(scenario, "agent0", int(time.time()))
                _settle(monitor, scenario, "demo")
                began = time.time()
                simulator.faults.add(Fault("503", began, began + self.OUTAGE))
                for n in range(1, self.OUTAGE + 1):
                    sleep_until(began + n - 0.5)
                    _session(scenario, f"agent{n}", int(time.time()))
                final = _settle(monitor, scenario, "demo", timeout=40)
        requests = simulator.requests()
        watermark = [s.to for s in requests if s.at < began and s.status == 200][-1]
        failed = [s for s in requests if s.status == 503]
        assert {s.frm for s in failed[1:]} == {watermark - 2}
        catch_up = _chain([s for s in requests if s.at >= began + self.OUTAGE])
        widths = [s.to - s.frm for s in catch_up]
        assert catch_up[0].frm == watermark - 2
        assert widths[:-1] == [3] * (len(widths) - 1)
        assert 1 <= widths[-1] <= 3
        assert catch_up[-1].to - watermark >= self.OUTAGE
        assert len([s for s in catch_up if s.body]) >= 3  # the events came in several answers
        assert observed(final, "demo") == truth(scenario)
        assert errors(final, "demo")["server"] == len(failed)


def _session(scenario: Scenario, agent: str, at: int) -> None:
    scenario.inject(Record(agent, at, LOGIN))
    scenario.inject(Record(agent, at + 1, LOGOUT))


def _chain(requests: list[Seen]) -> list[Seen]:
    """The first poll's windows: requests that each start where the previous ended."""
    chain = requests[:1]
    for seen in requests[1:]:
        if seen.frm != chain[-1].to:
            break
        chain.append(seen)
    return chain


class TestResponseLimit:
    LIMIT = 4096

    def test_an_oversized_answer_is_refused_until_the_limit_is_raised(self, tmp_path: Path) -> None:
        """An answer over max_response_bytes is refused as invalid_response and changes
        nothing; once a reload raises the limit every event counts exactly."""
        scenario = Scenario(start=int(time.time()) - 300, agents=0, live=False)
        with RecordingSimulator(scenario, token=TOKEN, workspace="demo") as simulator:
            path = tmp_path / "config.yaml"
            workspaces: list[dict[str, object]] = [
                {"workspace": "demo", "api_url": simulator.url, "token": "${CENTION_TOKEN}"}
            ]
            write_config(path, workspaces, poll={**POLL, "max_response_bytes": self.LIMIT})
            env = {"CENTION_TOKEN": TOKEN}
            with run_exporter(path, env=env) as exporter, Monitor(exporter) as monitor:
                burst(scenario, ["ann", "bob", "cid"], int(time.time()))
                before = _settle(monitor, scenario, "demo")
                now = int(time.time())
                for n in range(80):
                    _session(scenario, f"agent-with-a-rather-long-login-name-{n:03}", now)
                shown = monitor.wait(
                    lambda s: (
                        metric(s, "cention_up", "demo") == 0
                        and errors(s, "demo")["invalid_response"] > 0
                    ),
                    30,
                    "the refusal",
                )
                time.sleep(HOLD)
                refused = monitor.next(time.time()).samples
                # While the limit changes the API answers 503, so that every answer served
                # before is read with the old limit and every one served after with the new.
                gap = time.time()
                simulator.faults.add(Fault("503", gap, gap + 3600))
                write_config(path, workspaces, poll={**POLL, "max_response_bytes": 1 << 20})
                reloaded = time.time()
                response = httpx.post(exporter.url + "/-/reload", timeout=10)
                assert (response.status_code, response.text) == (200, "reloaded\n")
                simulator.faults.clear()
                final = _settle(monitor, scenario, "demo")
        during = monitor.between(shown.ended, reloaded)
        assert len(during) >= 5
        assert {metric(s.samples, "cention_up", "demo") for s in during} == {0}
        assert [aggregates(s.samples, "demo") for s in during] == [
            aggregates(before, "demo")
        ] * len(during)
        assert observed(refused, "demo") == observed(before, "demo")
        requests = simulator.requests()
        oversized = [s for s in requests if len(s.body) > self.LIMIT and s.at < gap]
        assert {s.status for s in oversized} == {200}
        refusal = f"answer of {len(oversized[0].body)} bytes exceeds max_response_bytes"
        assert ("error", "logio poll failed", "demo", "invalid_response", refusal) in logged(
            exporter.lines(), "workspace", "reason", "error"
        )
        unavailable = [s for s in requests if s.status == 503]
        failed = {"invalid_response": len(oversized), "server": len(unavailable)}
        assert errors(final, "demo") == {
            reason: n + failed.get(reason, 0) for reason, n in errors(before, "demo").items()
        }
        assert observed(final, "demo") == truth(scenario)


class TestStartWarnings:
    READABLE = (
        "config file holds a token and is readable by other users: chmod 600 it, or use "
        "token_file or ${VAR}"
    )
    INSECURE = "insecure_skip_verify is on: TLS certificates are not verified"
    FIELDS = ("workspace", "api_url", "path")

    @pytest.mark.parametrize(
        ("token", "mode", "insecure", "expected"),
        [
            pytest.param(TOKEN, 0o644, True, ["INSECURE", "READABLE"], id="inline-644-insecure"),
            pytest.param(TOKEN, 0o640, False, ["READABLE"], id="inline-640"),
            pytest.param(TOKEN, 0o600, False, [], id="inline-600"),
        ],
    )
    def test_warnings_at_start(
        self, tmp_path: Path, token: str, mode: int, insecure: bool, expected: list[str]
    ) -> None:
        """A config holding a token and readable by others, and insecure_skip_verify,
        are each warned about at start, in these exact words."""
        scenario = Scenario(start=int(time.time()), agents=0, live=False)
        with RecordingSimulator(scenario, token=TOKEN, workspace="demo") as simulator:
            workspace = {
                "workspace": "demo",
                "api_url": simulator.url,
                "token": token,
                "insecure_skip_verify": insecure,
            }
            path = write_config(tmp_path / "config.yaml", [workspace])
            path.chmod(mode)
            env = {"CENTION_TOKEN": TOKEN}
            with run_exporter(path, "--log.format=json", env=env, ready=False) as exporter:
                url = simulator.url
        lines = [json.loads(line) for line in exporter.log().splitlines()]
        warnings = [
            (line["msg"], {key: line[key] for key in self.FIELDS if key in line})
            for line in lines
            if line["level"] == "warn"
        ]
        messages = {
            "READABLE": (self.READABLE, {"path": str(path)}),
            "INSECURE": (self.INSECURE, {"workspace": "demo", "api_url": url}),
        }
        assert warnings == [messages[name] for name in expected]


class TestLabelValues:
    """Agent names from the API are untrusted bytes."""

    VALID = (
        'quote"inside',
        "back\\slash",
        "trailing backslash\\",
        'both\\"mixed',
        'evil"},cention_up{workspace="csv',
        'x",workspace="json',
        "{braces}=1 #hash",
        "comma, name",
        " padded ",
        "小林 優",
        "zoë",
        "zoe\u0308",
        "emoji 😀",
        "ملك الحمد",
        "tab\there",
        "nul\x00byte",
        "zero\u200bwidth",
        "line\u2028separator",
        'x"} 1\ncention_up{workspace="csv"} 0\ny{a="',
    )
    """Names of any text, control and invisible characters included: each exposed as
    exactly itself."""
    INVALID = ("",)
    """The one name that is no name: each of its rows is counted invalid."""
    RAW: ClassVar[dict[str, dict[bytes, bytes]]] = {
        "csv": {
            b"PLACEHOLDER-LATIN1": b"Jos\xe9",
            b"PLACEHOLDER-BROKEN": b"\xff\xfe\xc3(",
            b"PLACEHOLDER-ESCAPE": b"\\ud800 lone",
            b"PLACEHOLDER-NEWLINE": b'"new\nline"',
            b"PLACEHOLDER-RETURN": b'"carriage\r\nreturn"',
        },
        "json": {
            b"PLACEHOLDER-LATIN1": b"Jos\xe9",
            b"PLACEHOLDER-BROKEN": b"\xff\xfe\xc3(",
            b"PLACEHOLDER-ESCAPE": b"\\ud800 lone",
            b"PLACEHOLDER-NEWLINE": b"new\\nline",
            b"PLACEHOLDER-RETURN": b"carriage\\r\\nreturn",
        },
    }
    """Names written into the answers as raw bytes: bytes that are not UTF-8 (which a
    ``Record`` cannot hold), and line breaks quoted or escaped as each format does."""

    def expected(self, fmt: str) -> tuple[set[str], int]:
        """The names exposed, and the invalid rows, once every name logged in and out."""
        valid = {*self.VALID, "new\nline", "carriage\r\nreturn"}
        invalid = [*self.INVALID, "PLACEHOLDER-LATIN1", "PLACEHOLDER-BROKEN"]
        if fmt == "csv":  # a backslash escape means nothing in CSV: text like any other
            valid.add("\\ud800 lone")
        else:  # in JSON it is a lone surrogate, which is no text
            invalid.append("PLACEHOLDER-ESCAPE")
        return valid, 2 * len(invalid)

    def test_any_name_is_escaped_exactly_or_counted_invalid(self, tmp_path: Path) -> None:
        """Every name of text comes out as exactly itself, without a forged series; an
        empty name and bytes that are not UTF-8 count their rows invalid, and the exporter
        goes on polling and saving its state file."""
        start = int(time.time()) - 300
        names = [*self.VALID, *self.INVALID, *(key.decode() for key in self.RAW["csv"])]
        scenarios = {fmt: Scenario(start=start, agents=0, live=False) for fmt in ("csv", "json")}
        with ExitStack() as stack:
            simulators = {
                fmt: stack.enter_context(
                    RecordingSimulator(scenario, token=TOKEN, workspace=fmt, rewrite=self.RAW[fmt])
                )
                for fmt, scenario in scenarios.items()
            }
            workspaces: list[dict[str, object]] = [
                {"workspace": fmt, "api_url": sim.url, "token": TOKEN, "format": fmt}
                for fmt, sim in simulators.items()
            ]
            state_file = tmp_path / "state.json"
            config = write_config(
                tmp_path / "config.yaml", workspaces, poll=POLL, state={"file": str(state_file)}
            )
            exporter = stack.enter_context(run_exporter(config))
            monitor = stack.enter_context(Monitor(exporter))
            for wave in (1, 2):  # the second proves polling goes on after the first
                now = int(time.time())
                for scenario in scenarios.values():
                    for name in names:
                        _session(scenario, name, now)
                for fmt in scenarios:
                    valid, invalid = self.expected(fmt)

                    def done(s: Samples, fmt: str = fmt, n: int = wave * len(valid)) -> bool:
                        return metric(s, "cention_logio_records_total", fmt, action="logout") == n

                    monitor.wait(done, 30, f"{fmt}: wave {wave}")
            monitor.next(time.time() + SETTLE)
            text = exporter.scrape_text()
            openmetrics = exporter.get(
                "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
            ).text
        samples = parse_samples(text)
        for fmt in scenarios:
            valid, invalid = self.expected(fmt)
            assert metric(samples, "cention_logio_invalid_records_total", fmt) == 2 * invalid
            assert metric(samples, "cention_up", fmt) == 1
            want = dict.fromkeys(valid, 2.0)
            counts = observed(samples, fmt)
            assert (counts.logins, counts.logouts) == (want, want)
            assert counts.records == {"login": 2.0 * len(valid), "logout": 2.0 * len(valid)}
            for family in ("cention_agent_logged_in", "cention_agent_logged_in_seconds_total"):
                assert _agents(samples, family, fmt) == valid
            assert _openmetrics_agents(openmetrics, "cention_agent_logins", fmt) == valid
        assert _label_sets(samples) <= {
            frozenset(names)
            for names in (
                {"workspace"},
                {"workspace", "action"},
                {"workspace", "kind"},
                {"workspace", "code"},
                {"workspace", "reason"},
                {"workspace", "le"},
                {"workspace", "agent"},
                {"version", "revision", "branch", "pythonversion"},
                {"implementation", "major", "minor", "patchlevel", "version"},
                {"generation"},
                set(),
            )
        }
        assert {dict(labels).get("workspace") for _, labels in samples} <= {"csv", "json", None}
        assert promtool_findings(text) == []
        assert "Traceback" not in exporter.log()
        saved = json.loads(state_file.read_text(encoding="utf-8"))
        assert set(saved["workspaces"]) == {"csv", "json"}


def _agents(samples: Samples, family: str, workspace: str) -> set[str]:
    return {
        dict(labels)["agent"]
        for name, labels in samples
        if name == family and ("workspace", workspace) in labels
    }


def _openmetrics_agents(text: str, family: str, workspace: str) -> set[str]:
    return {
        sample.labels["agent"]
        for metric_family in openmetrics_families(text)
        if metric_family.name == family
        for sample in metric_family.samples
        if sample.labels["workspace"] == workspace and sample.name == family + "_total"
    }


def _label_sets(samples: Samples) -> set[frozenset[str]]:
    return {frozenset(name for name, _ in labels) for _, labels in samples}


@pytest.mark.slow
class TestRandomSchedule:
    SCHEDULE = 55.0
    """Seconds of random faults, with healthy gaps between them."""

    def test_a_long_random_schedule_loses_nothing_and_counts_nothing_twice(
        self, tmp_path: Path
    ) -> None:
        """Seeded random faults of every kind on two workspaces for about a minute, with
        events of random agents at random moments throughout: at the end every counter,
        the invalid rows and every error reason are exact."""
        rng = random.Random(20261126)
        start = int(time.time()) - 300
        with ExitStack() as stack:
            simulators = {
                fmt: stack.enter_context(
                    RecordingSimulator(
                        Scenario(start=start, agents=12, seed=seed, live=False, lookback=DAY),
                        token=TOKEN,
                        workspace=fmt,
                    )
                )
                for seed, fmt in enumerate(("csv", "json"), 7)
            }
            workspaces: list[dict[str, object]] = [
                {"workspace": fmt, "api_url": sim.url, "token": TOKEN, "format": fmt}
                for fmt, sim in simulators.items()
            ]
            config = write_config(tmp_path / "config.yaml", workspaces, poll=POLL)
            exporter = stack.enter_context(run_exporter(config))
            monitor = stack.enter_context(Monitor(exporter))
            begin = time.time() + 1
            for seed, simulator in enumerate(simulators.values(), 7):
                for fault in random_faults(
                    seed, start=begin, duration=self.SCHEDULE, mean_gap=4, mean_length=4
                ):
                    simulator.faults.add(fault)
            agents = {
                fmt: [*sim.scenario.agent_names()[:8], "new.agent1", "new.agent2"]
                for fmt, sim in simulators.items()
            }
            end = begin + self.SCHEDULE
            while time.time() < end:
                time.sleep(min(rng.expovariate(4), max(0.0, end - time.time())))
                fmt = rng.choice(sorted(simulators))
                action = rng.choice((LOGIN, LOGOUT))
                record = Record(rng.choice(agents[fmt]), int(time.time()), action)
                simulators[fmt].scenario.inject(record)
            for fmt, simulator in simulators.items():
                _settle(monitor, simulator.scenario, fmt, timeout=60)
            final = monitor.next(time.time()).samples
        met: dict[str, set[str]] = {}
        for fmt, simulator in simulators.items():
            requests = simulator.requests()
            met[fmt] = {kind for seen in requests for kind in seen.kinds}
            assert observed(final, fmt) == truth(simulator.scenario)
            junk = JUNK_ROWS if any("malformed" in seen.kinds for seen in requests) else 0
            assert metric(final, "cention_logio_invalid_records_total", fmt) == junk
            failed = Counter(reason_of(seen) for seen in requests)
            del failed[None]
            want = dict.fromkeys(errors(final, fmt), 0.0) | failed
            assert errors(final, fmt) == want
            assert metric(final, "cention_up", fmt) == 1
        assert monitor.failures == []
        assert len(met["csv"] | met["json"]) >= 6, f"too few fault kinds met: {met}"
