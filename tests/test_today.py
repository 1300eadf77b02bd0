"""Seconds logged in today: across local midnight, on DST days, and across restarts.

Expected instants are UTC wall times with Stockholm's offset worked out by hand: CET +1,
CEST +2 from 01:00 UTC on 2026-03-29 to 01:00 UTC on 2026-10-25. Local midnight is 23:00
UTC in winter and 22:00 UTC in summer; 2026-03-29 lasts 23 h, 2026-10-25 25 h.

The restart tests run pollers against the simulator over loopback HTTP on a shared fake
clock, and hold every figure to ``today_reference``: a plain pairing of the simulator's
records written here, with midnight from ``datetime.combine`` rather than the exporter's
own day bounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from instants import utc
from prometheus_client import CollectorRegistry

from exporter.collector import LogioCollector
from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.core.schedule import Schedule
from exporter.core.sessions import Sessions
from exporter.logio import LogioClient
from exporter.persist import StateFile
from exporter.poller import Poller
from exporter.simulator import Scenario, SimulatorServer
from exporter.state import ExporterState, WorkspaceState

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
BUCKETS = (60.0, 3600.0)
H = 3600
TOKEN = "today-token-4c1"
TODAY = "cention_agent_logged_in_today_seconds"


def stockholm(*records: Record, counting: bool, as_of: int) -> Sessions:
    """Sessions in Stockholm after ``records``, counted from the start or rebuilt only."""
    sessions = Sessions(BUCKETS, STOCKHOLM)
    if counting:
        sessions.start_counting(0)
    sessions.apply(sorted(records, key=lambda record: record.timestamp))
    sessions.advance(as_of)
    return sessions


def today(sessions: Sessions) -> dict[str, float] | None:
    """Each agent's seconds today, or None while today is unknown."""
    midnight = sessions.today()
    if midnight is None:
        return None
    return {name: sessions.today_seconds(a, midnight) for name, a in sessions.agents.items()}


def upto(records: list[Record], as_of: int) -> list[Record]:
    return [record for record in records if record.timestamp <= as_of]


COUNTING = pytest.mark.parametrize(
    "counting", [pytest.param(False, id="lookback"), pytest.param(True, id="counted")]
)
"""Each case both as rebuilt by the initial lookback and as counted by polls."""


MIDNIGHT = [
    Record("ann", utc(2026, 1, 15, 21, 30), LOGIN),  # 22:30 local
    Record("ann", utc(2026, 1, 16, 0, 30), LOGOUT),  # 01:30 local, the next day
    Record("bo", utc(2026, 1, 15, 22), LOGIN),  # 23:00, stays logged in
    Record("cy", utc(2026, 1, 15, 19), LOGIN),  # 20:00-21:00, before midnight
    Record("cy", utc(2026, 1, 15, 20), LOGOUT),
    Record("di", utc(2026, 1, 15, 23), LOGIN),  # 00:00 local exactly, to 00:45
    Record("di", utc(2026, 1, 15, 23, 45), LOGOUT),
]
"""A winter evening and night in Stockholm, midnight at 23:00 UTC."""


class TestMidnight:
    @pytest.mark.parametrize(
        ("as_of", "expected"),
        [
            pytest.param(
                utc(2026, 1, 15, 22, 59, 59),
                {"ann": 5399, "bo": 3599, "cy": 3600},
                id="23:59:59",
            ),
            pytest.param(
                utc(2026, 1, 15, 23, 10),
                {"ann": 600, "bo": 600, "cy": 0, "di": 600},
                id="00:10",
            ),
            pytest.param(
                utc(2026, 1, 16, 1),
                {"ann": 5400, "bo": 7200, "cy": 0, "di": 2700},
                id="02:00",
            ),
        ],
    )
    @COUNTING
    def test_a_session_over_midnight_counts_its_part_after(
        self, as_of: int, expected: dict[str, float], counting: bool
    ) -> None:
        """At 23:59:59 yesterday's sessions count; from midnight only what came after it,
        open sessions and one closed after midnight alike."""
        sessions = stockholm(*upto(MIDNIGHT, as_of), counting=counting, as_of=as_of)
        assert today(sessions) == expected

    @COUNTING
    def test_midnight_passes_for_everyone_without_a_record(self, counting: bool) -> None:
        """A poll after midnight that brings nothing still starts a new day: the closed
        session of yesterday goes, the open ones start again from midnight."""
        sessions = stockholm(*upto(MIDNIGHT, utc(2026, 1, 15, 22)), counting=counting, as_of=0)
        sessions.advance(utc(2026, 1, 15, 22, 59, 59))
        assert today(sessions) == {"ann": 5399, "bo": 3599, "cy": 3600}
        sessions.advance(utc(2026, 1, 15, 23, 0, 1))
        assert today(sessions) == {"ann": 1, "bo": 1, "cy": 0}

    def test_the_day_is_the_zones(self) -> None:
        """In UTC the same records make another day: midnight is an hour later."""
        sessions = Sessions(BUCKETS)
        sessions.apply(MIDNIGHT)
        sessions.advance(utc(2026, 1, 16, 1))
        assert today(sessions) == {"ann": 1800, "bo": 3600, "cy": 0, "di": 0}

    def test_a_late_logout_of_an_earlier_day_changes_nothing(self) -> None:
        """A Logout stamped before its session's Login ends the session without time, and
        a day before the agent's last closed one counts nothing."""
        records = [
            Record("ann", utc(2026, 1, 16, 8), LOGIN),
            Record("ann", utc(2026, 1, 16, 9), LOGOUT),
            Record("ann", utc(2026, 1, 16, 10), LOGIN),
        ]
        sessions = stockholm(*records, counting=True, as_of=utc(2026, 1, 16, 11))
        assert today(sessions) == {"ann": 2 * H}
        sessions.apply([Record("ann", utc(2026, 1, 15, 22), LOGOUT)])  # 23:00 yesterday
        assert today(sessions) == {"ann": H}


class TestDaylightSavingTime:
    @COUNTING
    def test_spring_day_has_23_hours(self, counting: bool) -> None:
        """2026-03-29: a session from 23:00 the evening before to 23:00 counts 22 h, one
        from 01:30 to 03:30 on the clock 1 h, and a whole day 23 h."""
        records = [
            Record("ann", utc(2026, 3, 28, 22), LOGIN),
            Record("ann", utc(2026, 3, 29, 21), LOGOUT),
            Record("bo", utc(2026, 3, 29, 0, 30), LOGIN),
            Record("bo", utc(2026, 3, 29, 1, 30), LOGOUT),
            Record("cy", utc(2026, 3, 28, 12), LOGIN),
        ]
        sessions = stockholm(*records, counting=counting, as_of=utc(2026, 3, 29, 21, 59, 59))
        assert today(sessions) == {"ann": 22 * H, "bo": H, "cy": 23 * H - 1}
        sessions.advance(utc(2026, 3, 29, 22))
        assert today(sessions) == {"ann": 0, "bo": 0, "cy": 0}

    @COUNTING
    def test_autumn_day_has_25_hours(self, counting: bool) -> None:
        """2026-10-25: a whole day is 25 h, a session from 02:30 to 02:30 on the clock 1 h,
        one from 23:30 the evening before to 00:30 its last half hour."""
        records = [
            Record("ann", utc(2026, 10, 24, 20), LOGIN),
            Record("bo", utc(2026, 10, 25, 0, 30), LOGIN),
            Record("bo", utc(2026, 10, 25, 1, 30), LOGOUT),
            Record("cy", utc(2026, 10, 24, 21, 30), LOGIN),
            Record("cy", utc(2026, 10, 24, 22, 30), LOGOUT),
        ]
        sessions = stockholm(*records, counting=counting, as_of=utc(2026, 10, 25, 22, 59, 59))
        assert today(sessions) == {"ann": 25 * H - 1, "bo": H, "cy": 1800}
        sessions.advance(utc(2026, 10, 25, 23, 30))
        assert today(sessions) == {"ann": 1800, "bo": 0, "cy": 0}


class TestUnknownDay:
    def busy(self) -> Sessions:
        """ann worked 08:00-10:00 local on 2026-01-16 and is logged in again since 11:00: 4 h
        at 13:00."""
        records = [
            Record("ann", utc(2026, 1, 16, 7), LOGIN),
            Record("ann", utc(2026, 1, 16, 9), LOGOUT),
            Record("ann", utc(2026, 1, 16, 10), LOGIN),
        ]
        return stockholm(*records, counting=True, as_of=utc(2026, 1, 16, 12))

    def test_state_saved_without_the_day_is_unknown_until_midnight(self) -> None:
        """Data saved before the day's figures existed loads with today unknown; from the
        next local midnight on it is exact again."""
        data = self.busy().to_dict()
        del data["timezone"], data["days_known_from"]
        for agent in data["agents"].values():
            del agent["day_start"], agent["day_closed_seconds"]
        loaded = Sessions.from_dict(data, Sessions(BUCKETS).durations)
        assert loaded.set_zone(STOCKHOLM) is True
        assert today(loaded) is None
        loaded.apply([Record("ann", utc(2026, 1, 16, 22, 30), LOGOUT)])  # 23:30 local
        loaded.advance(utc(2026, 1, 16, 22, 59, 59))
        assert today(loaded) is None
        loaded.apply([Record("ann", utc(2026, 1, 16, 23, 30), LOGIN)])
        loaded.advance(utc(2026, 1, 17, 0, 30))
        assert today(loaded) == {"ann": H}

    def test_another_zone_makes_today_unknown(self) -> None:
        """A new time zone cannot place today's closed sessions: unknown until the new
        zone's midnight; the same zone again changes nothing."""
        sessions = self.busy()
        assert sessions.set_zone(ZoneInfo("Europe/Stockholm")) is False
        assert today(sessions) == {"ann": 4 * H}
        assert sessions.set_zone(ZoneInfo("Asia/Kuala_Lumpur")) is True
        assert today(sessions) is None
        sessions.advance(utc(2026, 1, 16, 15, 59, 59))  # 23:59:59 in Kuala Lumpur (+8)
        assert today(sessions) is None
        sessions.advance(utc(2026, 1, 16, 16, 0, 10))
        assert today(sessions) == {"ann": 10}

    def test_a_lookback_resumed_the_next_day_knows_only_that_day(self) -> None:
        """A lookback that read until 12:00 and goes on the next day skipped closes it
        will now need: the first day is unknown, the second known."""
        sessions = Sessions(BUCKETS, STOCKHOLM)
        sessions.rebuild_until(utc(2026, 1, 16, 12))
        sessions.apply(MIDNIGHT)  # the closes of the 16th are kept, cy's of the 15th not
        sessions.advance(utc(2026, 1, 16, 12))
        assert today(sessions) == {"ann": 5400, "bo": 13 * H, "cy": 0, "di": 2700}
        sessions.rebuild_until(utc(2026, 1, 17, 12))
        assert today(sessions) is None
        sessions.advance(utc(2026, 1, 16, 23, 0, 30))
        assert today(sessions) == {"ann": 0, "bo": 30, "cy": 0, "di": 0}

    def test_no_agents_nothing_to_lose(self) -> None:
        """Without agents a new zone loses nothing: the day stays known."""
        sessions = Sessions(BUCKETS)
        sessions.advance(utc(2026, 1, 16, 12))
        assert sessions.set_zone(STOCKHOLM) is True
        assert sessions.today() == utc(2026, 1, 15, 23)

    def test_the_gauge_is_absent_while_unknown(self) -> None:
        """The collector leaves the family empty while today is unknown."""
        workspace = WorkspaceState("demo", BUCKETS, Schedule(zone=STOCKHOLM))
        workspace.sessions = self.busy()
        state = ExporterState()
        state.add(workspace)
        registry = CollectorRegistry()
        registry.register(LogioCollector(state, clock=lambda: utc(2026, 1, 16, 12)))
        labels = {"workspace": "demo", "agent": "ann"}
        assert registry.get_sample_value(TODAY, labels) == 4 * H
        workspace.set_schedule(None)  # UTC from now on
        assert registry.get_sample_value(TODAY, labels) is None
        assert registry.get_sample_value("cention_agent_logged_in", labels) == 1


def today_reference(records: list[Record], zone: ZoneInfo, at: int) -> dict[str, float]:
    """Each agent's seconds logged in from the local midnight before ``at`` to ``at``: a
    Login opens a session unless one is open, a Logout closes an open one."""
    local = datetime.fromtimestamp(at, zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone).timestamp()
    opened: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for name, timestamp, action in sorted(records, key=lambda record: record.timestamp):
        seconds.setdefault(name, 0.0)
        if action == LOGIN:
            opened.setdefault(name, timestamp)
        elif name in opened:
            seconds[name] += max(0.0, timestamp - max(opened.pop(name), midnight))
    for name, start in opened.items():
        seconds[name] += max(0.0, at - max(start, midnight))
    return seconds


class Clock:
    """The time the simulator and the pollers share."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


START = utc(2026, 10, 24, 20)
"""22:00 local, the evening before the autumn DST change."""
END = utc(2026, 10, 25, 3)
"""04:00 local (CET), after midnight and after the clocks went back."""
POLL = PollConfig(interval=900, timeout=5, overlap=600, lookback=7 * 86400, max_window=86400)
SCHEDULE = Schedule(zone=STOCKHOLM)


def scenario() -> Scenario:
    """A 24/7 center of 40 agents, two days of history, going on after ``START``; ann works
    over midnight and over the hour that repeats."""
    center = Scenario(start=START, agents=40, seed=23, lookback=2 * 86400, live=True)
    center.inject(Record("ann", utc(2026, 10, 24, 21, 30), LOGIN))  # 23:30 local
    center.inject(Record("ann", utc(2026, 10, 25, 1, 15), LOGOUT))  # 02:15 CET
    return center


class Simulated:
    """The simulator of ``scenario()`` on ``clock``, and the pollers of it, closed at the end."""

    def __init__(self, server: SimulatorServer, center: Scenario, clock: Clock) -> None:
        self.server, self.center, self.clock = server, center, clock
        self.clients: list[LogioClient] = []

    def poller(self, state: WorkspaceState | None = None) -> Poller:
        """A poller of workspace demo in Stockholm: a new one, or one resuming ``state``."""
        workspace = WorkspaceConfig("demo", self.server.url, Secret(TOKEN), schedule=SCHEDULE)
        state = state or WorkspaceState("demo", BUCKETS, SCHEDULE)
        self.clients.append(LogioClient.from_config(workspace, POLL))
        return Poller(workspace, POLL, MetricsConfig(), state, self.clients[-1], clock=self.clock)

    def history(self, at: int) -> list[Record]:
        return self.center.records(0, at, now=at)


@pytest.fixture(name="simulated")
def _simulated() -> Iterator[Simulated]:
    clock = Clock(START)
    center = scenario()
    with SimulatorServer(center, token=TOKEN, workspace="demo", clock=clock) as server:
        simulated = Simulated(server, center, clock)
        yield simulated
        for client in simulated.clients:
            client.close()


class TestRestart:
    def test_a_restart_rebuilds_today_exactly_from_the_lookback(self, simulated: Simulated) -> None:
        """One poller runs from 22:00 over midnight and the DST change to 04:00; another
        starts at 04:00 with the initial lookback. Both equal the reference, to the second."""
        clock = simulated.clock
        running = simulated.poller()
        while clock.now < END:
            running.poll_once()
            clock.now = min(clock.now + 900, END)
        running.poll_once()
        restarted = simulated.poller()
        restarted.poll_once()
        expected = today_reference(simulated.history(END), STOCKHOLM, END)
        assert expected["ann"] == 3 * H + 900  # 00:00 to 02:15 CET: 3 h 15 min
        assert sum(1 for seconds in expected.values() if seconds) > 10
        assert today(running.state.sessions) == expected
        assert today(restarted.state.sessions) == expected

    def test_the_state_file_keeps_today(self, simulated: Simulated, tmp_path: Path) -> None:
        """Saved at 04:00 and loaded again, today reads the same, and stays exact as polls
        go on from the file until 09:00."""
        clock = simulated.clock
        clock.now = END
        running = simulated.poller()
        running.poll_once()
        state_file = StateFile(tmp_path / "state.json")
        state_file.save([running.state])
        loaded = state_file.load(BUCKETS)["demo"]
        loaded.set_schedule(SCHEDULE)
        expected = today_reference(simulated.history(END), STOCKHOLM, END)
        assert today(loaded.sessions) == expected
        resumed = simulated.poller(loaded)
        later = utc(2026, 10, 25, 8)
        while clock.now < later:
            clock.now = min(clock.now + 900, later)
            resumed.poll_once()
        expected = today_reference(simulated.history(later), STOCKHOLM, later)
        assert today(loaded.sessions) == expected

    def test_a_new_time_zone_goes_into_the_journal(self, tmp_path: Path) -> None:
        """A reload to Stockholm after the snapshot is journaled with the polls after it:
        loaded back, the state is the same, today of the new zone included (ann logged out
        at 00:30 local, half an hour after Stockholm's midnight)."""
        workspace = WorkspaceState("demo", BUCKETS)
        logins = [
            Record("ann", utc(2026, 1, 16, 7), LOGIN),
            Record("ann", utc(2026, 1, 16, 9), LOGOUT),
            Record("ann", utc(2026, 1, 16, 10), LOGIN),
        ]
        workspace.apply_window(Batch.of(Parsed(logins, [])), utc(2026, 1, 16, 12), 600)
        workspace.poll_succeeded(utc(2026, 1, 16, 12))
        state_file = StateFile(tmp_path / "state.json")
        state_file.write([workspace])
        workspace.set_schedule(SCHEDULE)
        logout = [Record("ann", utc(2026, 1, 16, 23, 30), LOGOUT)]
        workspace.apply_window(Batch.of(Parsed(logout, [])), utc(2026, 1, 17, 1), 600)
        state_file.write([workspace])
        assert (tmp_path / "state.json.journal").exists()
        loaded = StateFile(tmp_path / "state.json").load(BUCKETS)["demo"]
        assert loaded.to_dict() == workspace.to_dict()
        assert today(loaded.sessions) == today(workspace.sessions) == {"ann": 1800}
