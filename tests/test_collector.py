"""Metric families built from the exporter's state at scrape time."""

from __future__ import annotations

import platform

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter import __version__
from exporter.build import BuildInfo, current
from exporter.collector import LogioCollector
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.errors import ERROR_REASONS
from exporter.metrics import AGENT_FAMILIES
from exporter.state import ExporterState, WorkspaceState

BUCKETS = (60.0, 300.0, 3600.0)
DEMO = {"workspace": "demo"}

AGENT_SAMPLES = [name for family in AGENT_FAMILIES for name in family.samples]


def demo_workspace() -> WorkspaceState:
    """A workspace after a lookback and one counted poll.

    Lookback (not counted): anna logs in at 1000; carl's first record is a logout.
    Counted from 2000 on: bob works 2100-2400, anna logs out at 2500, dave logs out
    without a login, erin logs in twice; the state is known up to 3000.
    """
    workspace = WorkspaceState("demo", BUCKETS)
    sessions = workspace.sessions
    sessions.apply([Record("anna", 1000, LOGIN), Record("carl", 1200, LOGOUT)])
    sessions.start_counting(2000)
    sessions.apply(
        [
            Record("bob", 2100, LOGIN),
            Record("bob", 2400, LOGOUT),
            Record("anna", 2500, LOGOUT),
            Record("dave", 2600, LOGOUT),
            Record("erin", 2700, LOGIN),
            Record("erin", 2800, LOGIN),
        ]
    )
    sessions.advance(3000)
    health = workspace.health
    health.up = health.ready = True
    health.last_success = 3005.0
    health.invalid_records = 2
    workspace.observe_request("200", 0.375)
    workspace.observe_request("200", 0.0625)
    workspace.observe_request("error", 12.0)
    health.errors["timeout"] = 1
    return workspace


def registry_for(*workspaces: WorkspaceState, per_agent: bool = True) -> CollectorRegistry:
    state = ExporterState()
    for workspace in workspaces:
        state.add(workspace)
    registry = CollectorRegistry()
    registry.register(LogioCollector(state, per_agent=per_agent))
    return registry


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    return registry_for(demo_workspace())


def agent(name: str) -> dict[str, str]:
    return {"workspace": "demo", "agent": name}


class TestWorkspaceMetrics:
    @pytest.mark.parametrize(
        ("name", "labels", "value"),
        [
            pytest.param("cention_up", DEMO, 1.0, id="up"),
            pytest.param("cention_agents_logged_in", DEMO, 1.0, id="logged-in"),
            pytest.param(
                "cention_logio_records_total", {**DEMO, "action": "login"}, 3.0, id="logins"
            ),
            pytest.param(
                "cention_logio_records_total", {**DEMO, "action": "logout"}, 3.0, id="logouts"
            ),
            pytest.param("cention_logio_invalid_records_total", DEMO, 2.0, id="invalid"),
            pytest.param(
                "cention_logio_requests_total", {**DEMO, "code": "200"}, 2.0, id="requests-200"
            ),
            pytest.param(
                "cention_logio_requests_total", {**DEMO, "code": "error"}, 1.0, id="requests-error"
            ),
            pytest.param(
                "cention_logio_errors_total", {**DEMO, "reason": "timeout"}, 1.0, id="errors"
            ),
            pytest.param(
                "cention_logio_last_success_timestamp_seconds", DEMO, 3005.0, id="last-success"
            ),
            pytest.param(
                "cention_logio_last_record_timestamp_seconds", DEMO, 2800.0, id="last-record"
            ),
            pytest.param(
                "cention_session_anomalies_total",
                {**DEMO, "kind": "logout_without_login"},
                1.0,
                id="logout-without-login",
            ),
            pytest.param(
                "cention_session_anomalies_total",
                {**DEMO, "kind": "login_while_logged_in"},
                1.0,
                id="login-while-logged-in",
            ),
            pytest.param("cention_session_duration_seconds_count", DEMO, 2.0, id="sessions"),
            pytest.param("cention_session_duration_seconds_sum", DEMO, 1800.0, id="session-sum"),
            pytest.param(
                "cention_logio_request_duration_seconds_count", DEMO, 3.0, id="request-count"
            ),
            pytest.param(
                "cention_logio_request_duration_seconds_sum", DEMO, 12.4375, id="request-sum"
            ),
        ],
    )
    def test_value(
        self, registry: CollectorRegistry, name: str, labels: dict[str, str], value: float
    ) -> None:
        """Each workspace metric shows the state's value under its exact name."""
        assert registry.get_sample_value(name, labels) == value

    def test_session_duration_buckets(self, registry: CollectorRegistry) -> None:
        """Completed sessions of 300s and 1500s fill the configured buckets cumulatively."""
        values = [
            registry.get_sample_value("cention_session_duration_seconds_bucket", {**DEMO, "le": le})
            for le in ("60.0", "300.0", "3600.0", "+Inf")
        ]
        assert values == [0.0, 1.0, 2.0, 2.0]

    def test_request_duration_buckets(self, registry: CollectorRegistry) -> None:
        """Request durations of 0.0625s, 0.375s and 12s fill the buckets cumulatively."""
        bounds = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "+Inf")
        values = [
            registry.get_sample_value(
                "cention_logio_request_duration_seconds_bucket", {**DEMO, "le": le}
            )
            for le in bounds
        ]
        assert values == [0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0]

    def test_errors_exist_at_zero_for_every_reason(self) -> None:
        """A fresh workspace shows each error reason at 0."""
        registry = registry_for(WorkspaceState("demo", BUCKETS))
        values = {
            reason: registry.get_sample_value(
                "cention_logio_errors_total", {**DEMO, "reason": reason}
            )
            for reason in (
                "auth",
                "rate_limited",
                "server",
                "client",
                "timeout",
                "network",
                "invalid_response",
            )
        }
        assert values == {
            "auth": 0.0,
            "rate_limited": 0.0,
            "server": 0.0,
            "client": 0.0,
            "timeout": 0.0,
            "network": 0.0,
            "invalid_response": 0.0,
        }
        assert sorted(ERROR_REASONS) == sorted(values)

    def test_fresh_workspace(self) -> None:
        """Before any poll a workspace is down, with zero counts and no timestamps."""
        registry = registry_for(WorkspaceState("demo", BUCKETS))
        get = registry.get_sample_value
        assert {
            "up": get("cention_up", DEMO),
            "logged_in": get("cention_agents_logged_in", DEMO),
            "logins": get("cention_logio_records_total", {**DEMO, "action": "login"}),
            "logouts": get("cention_logio_records_total", {**DEMO, "action": "logout"}),
            "invalid": get("cention_logio_invalid_records_total", DEMO),
            "logout_without_login": get(
                "cention_session_anomalies_total", {**DEMO, "kind": "logout_without_login"}
            ),
            "login_while_logged_in": get(
                "cention_session_anomalies_total", {**DEMO, "kind": "login_while_logged_in"}
            ),
            "sessions": get("cention_session_duration_seconds_count", DEMO),
            "sessions_inf": get("cention_session_duration_seconds_bucket", {**DEMO, "le": "+Inf"}),
            "requests": get("cention_logio_request_duration_seconds_count", DEMO),
            "requests_200": get("cention_logio_requests_total", {**DEMO, "code": "200"}),
            "last_success": get("cention_logio_last_success_timestamp_seconds", DEMO),
            "last_record": get("cention_logio_last_record_timestamp_seconds", DEMO),
        } == {
            "up": 0.0,
            "logged_in": 0.0,
            "logins": 0.0,
            "logouts": 0.0,
            "invalid": 0.0,
            "logout_without_login": 0.0,
            "login_while_logged_in": 0.0,
            "sessions": 0.0,
            "sessions_inf": 0.0,
            "requests": 0.0,
            "requests_200": None,
            "last_success": None,
            "last_record": None,
        }

    def test_workspaces_are_separate(self) -> None:
        """Two workspaces each get their own series under their own label."""
        other = WorkspaceState("sales", BUCKETS)
        other.sessions.start_counting(0)
        other.sessions.apply([Record("zed", 10, LOGIN)])
        registry = registry_for(demo_workspace(), other)
        get = registry.get_sample_value
        assert [
            get("cention_agents_logged_in", {"workspace": "demo"}),
            get("cention_agents_logged_in", {"workspace": "sales"}),
            get("cention_agent_logged_in", {"workspace": "sales", "agent": "zed"}),
            get("cention_agent_logged_in", {"workspace": "demo", "agent": "zed"}),
        ] == [1.0, 1.0, 1.0, None]

    def test_values_follow_the_state(self) -> None:
        """A scrape after the state changed shows the new values."""
        workspace = WorkspaceState("demo", BUCKETS)
        workspace.sessions.start_counting(0)
        registry = registry_for(workspace)
        before = registry.get_sample_value("cention_agents_logged_in", DEMO)
        workspace.sessions.apply([Record("anna", 10, LOGIN)])
        after = registry.get_sample_value("cention_agents_logged_in", DEMO)
        assert (before, after) == (0.0, 1.0)


class TestAgentMetrics:
    @pytest.mark.parametrize(
        ("name", "values"),
        [
            pytest.param(
                "cention_agent_logged_in",
                {"anna": 0.0, "bob": 0.0, "carl": 0.0, "dave": 0.0, "erin": 1.0},
                id="logged-in",
            ),
            pytest.param(
                "cention_agent_logins_total",
                {"anna": 0.0, "bob": 1.0, "carl": 0.0, "dave": 0.0, "erin": 2.0},
                id="logins",
            ),
            pytest.param(
                "cention_agent_logouts_total",
                {"anna": 1.0, "bob": 1.0, "carl": 0.0, "dave": 1.0, "erin": 0.0},
                id="logouts",
            ),
            pytest.param(
                "cention_agent_logged_in_seconds_total",
                {"anna": 500.0, "bob": 300.0, "carl": 0.0, "dave": 0.0, "erin": 300.0},
                id="logged-in-seconds",
            ),
            pytest.param(
                "cention_agent_last_login_timestamp_seconds",
                {"anna": 1000.0, "bob": 2100.0, "carl": None, "dave": None, "erin": 2800.0},
                id="last-login",
            ),
            pytest.param(
                "cention_agent_last_logout_timestamp_seconds",
                {"anna": 2500.0, "bob": 2400.0, "carl": 1200.0, "dave": 2600.0, "erin": None},
                id="last-logout",
            ),
            pytest.param(
                "cention_agent_session_start_timestamp_seconds",
                {"anna": None, "bob": None, "carl": None, "dave": None, "erin": 2700.0},
                id="session-start",
            ),
        ],
    )
    def test_value(
        self, registry: CollectorRegistry, name: str, values: dict[str, float | None]
    ) -> None:
        """Each per-agent metric shows every agent's value, absent where there is none."""
        assert {a: registry.get_sample_value(name, agent(a)) for a in values} == values

    def test_session_start_only_while_logged_in(self) -> None:
        """The session start appears on login and disappears on logout."""
        workspace = WorkspaceState("demo", BUCKETS)
        workspace.sessions.start_counting(0)
        registry = registry_for(workspace)
        name = "cention_agent_session_start_timestamp_seconds"
        seen = []
        for record in (Record("anna", 100, LOGIN), Record("anna", 400, LOGOUT)):
            workspace.sessions.apply([record])
            seen.append(registry.get_sample_value(name, agent("anna")))
        assert seen == [100.0, None]

    def test_logged_in_seconds_accrue_with_advance(self) -> None:
        """An open session's seconds grow as the state is known further."""
        workspace = WorkspaceState("demo", BUCKETS)
        workspace.sessions.start_counting(0)
        workspace.sessions.apply([Record("anna", 100, LOGIN)])
        registry = registry_for(workspace)
        name = "cention_agent_logged_in_seconds_total"
        seen = []
        for as_of in (100, 160, 1000):
            workspace.sessions.advance(as_of)
            seen.append(registry.get_sample_value(name, agent("anna")))
        assert seen == [0.0, 60.0, 900.0]

    def test_per_agent_off(self) -> None:
        """Without per-agent metrics no agent series exists, and the totals remain."""
        registry = registry_for(demo_workspace(), per_agent=False)
        families = {m.name for m in registry.collect()}
        assert [name for name in AGENT_SAMPLES if name.removesuffix("_total") in families] == []
        assert [
            registry.get_sample_value(name, agent(a))
            for name in AGENT_SAMPLES
            for a in ("anna", "erin")
        ] == [None] * 16
        assert registry.get_sample_value("cention_agents_logged_in", DEMO) == 1.0


class TestExposition:
    def test_build_info(self, registry: CollectorRegistry) -> None:
        """The build info carries this process's version, revision, branch and Python
        version, and is 1."""
        build = current()
        labels = {
            "version": __version__,
            "revision": build.revision,
            "branch": build.branch,
            "pythonversion": platform.python_version(),
        }
        assert registry.get_sample_value("cention_exporter_build_info", labels) == 1.0

    def test_build_info_of_a_given_build(self) -> None:
        """A collector given a build shows that one."""
        build = BuildInfo("9.9.9", revision="abc", branch="release-9", python_version="3.99.0")
        registry = CollectorRegistry()
        registry.register(LogioCollector(ExporterState(), build=build))
        labels = {"version": "9.9.9", "revision": "abc", "branch": "release-9"}
        assert [
            s.labels for m in registry.collect() for s in m.samples if s.name.endswith("build_info")
        ] == [{**labels, "pythonversion": "3.99.0"}]

    def test_samples_carry_no_timestamps(self, registry: CollectorRegistry) -> None:
        """No sample has an explicit timestamp."""
        stamped = [s.name for m in registry.collect() for s in m.samples if s.timestamp is not None]
        assert stamped == []

    def test_awkward_agent_name_round_trips(self) -> None:
        """An agent name with quotes, backslashes, Unicode and }, parses back exactly once."""
        name = 'Jane "JJ" O\'Brien \\ Zoë 李 🎧 },x="1"'
        workspace = WorkspaceState("demo", BUCKETS)
        workspace.sessions.start_counting(0)
        workspace.sessions.apply([Record(name, 100, LOGIN)])
        workspace.sessions.advance(160)
        text = generate_latest(registry_for(workspace)).decode("utf-8")
        agent_samples = sorted(
            (sample.name, sample.labels["agent"], sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if "agent" in sample.labels
        )
        assert agent_samples == [
            ("cention_agent_last_login_timestamp_seconds", name, 100.0),
            ("cention_agent_logged_in", name, 1.0),
            ("cention_agent_logged_in_seconds_total", name, 60.0),
            ("cention_agent_logged_in_today_seconds", name, 60.0),
            ("cention_agent_logins_total", name, 1.0),
            ("cention_agent_logouts_total", name, 0.0),
            ("cention_agent_session_start_timestamp_seconds", name, 100.0),
        ]
        assert sum(1 for line in text.splitlines() if line.startswith("cention_agent_")) == 7
