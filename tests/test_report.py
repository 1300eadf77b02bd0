"""report: exact figures per agent and local day, or per session, in the center's zone.

The pure tests feed hand-made records to a ``Ledger`` and compare with figures worked out
by hand (Stockholm: CET +1, CEST +2 from 01:00 UTC on 2026-03-29 to 01:00 UTC on
2026-10-25, so 29 March lasts 23 h and 25 October 25 h). The command tests run the real
``report`` against the simulator over loopback HTTP, on both DST days, and compare every
figure with sessions paired by hand from the simulator's own records.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from harness import free_port, write_config
from hypothesis import given, settings
from hypothesis import strategies as st
from instants import utc

from exporter.commands.report import Progress, days_of, render_csv, render_json
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.report import DayRow, Days, Ledger, SessionRow, by_day, by_session
from exporter.simulator import Scenario, SimulatorServer

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = ZoneInfo("UTC")
H = 3600
DAY = 86400
TOKEN = "report-token-6b1d"


def ledger(records: Iterable[Record], days: Days) -> Ledger:
    book = Ledger(days)
    book.feed(records)
    return book


def local(text: str) -> datetime:
    """An ISO 8601 time with its offset, as the rows hold it."""
    return datetime.fromisoformat(text)


class TestDays:
    @pytest.mark.parametrize(
        ("day", "hours"),
        [
            pytest.param(date(2026, 3, 29), 23, id="spring-23h"),
            pytest.param(date(2026, 10, 25), 25, id="autumn-25h"),
            pytest.param(date(2026, 11, 2), 24, id="winter-24h"),
        ],
    )
    def test_a_local_day_lasts_as_the_clock_says(self, day: date, hours: int) -> None:
        """A day is its local midnight to the next; DST days are 23 h or 25 h."""
        days = Days.between(STOCKHOLM, day, day)
        assert days.end - days.start == hours * H

    def test_bounds_of_an_autumn_range(self) -> None:
        """Each day starts at its own local midnight, with the offset in force then."""
        days = Days.between(STOCKHOLM, date(2026, 10, 24), date(2026, 10, 26))
        assert days.bounds == (
            utc(2026, 10, 23, 22),
            utc(2026, 10, 24, 22),
            utc(2026, 10, 25, 23),
            utc(2026, 10, 26, 23),
        )

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(st.integers(1, 50), min_size=1, max_size=4),  # a day is never empty
        st.integers(-20, 250),
        st.integers(0, 120),
    )
    def test_split_is_each_days_overlap(self, lengths: list[int], login: int, length: int) -> None:
        """Each part is the session's overlap with that day, second by second; a session of
        no length belongs to the day holding its instant."""
        bounds = tuple(itertools.accumulate(lengths, initial=0))
        logout = login + length
        days = Days(UTC, date(2026, 1, 1), bounds)
        expected = []
        for day, (start, end) in enumerate(itertools.pairwise(bounds)):
            seconds = sum(1 for t in range(login, logout) if start <= t < end)
            if seconds or (length == 0 and start <= login < end):
                expected.append((day, seconds))
        assert days.split(login, logout) == expected

    def test_until_ends_the_range_early(self) -> None:
        """A range that reaches now ends at now."""
        days = Days.between(UTC, date(2026, 11, 2), date(2026, 11, 2), until=utc(2026, 11, 2, 9))
        assert days.bounds == (utc(2026, 11, 2), utc(2026, 11, 2, 9))


class TestByDay:
    def test_session_over_midnight_is_split(self) -> None:
        """23:00 to 02:00 local: one hour on the first day, two on the next, one session each."""
        days = Days.between(STOCKHOLM, date(2026, 11, 2), date(2026, 11, 3))
        book = ledger(
            [
                Record("ana", utc(2026, 11, 2, 22), LOGIN),
                Record("ana", utc(2026, 11, 3, 1), LOGOUT),
            ],
            days,
        )
        assert by_day("demo", book) == [
            DayRow(
                "demo",
                "ana",
                date(2026, 11, 2),
                H,
                1,
                1,
                0,
                local("2026-11-02T23:00:00+01:00"),
                None,
            ),
            DayRow(
                "demo",
                "ana",
                date(2026, 11, 3),
                2 * H,
                1,
                0,
                1,
                None,
                local("2026-11-03T02:00:00+01:00"),
            ),
        ]

    @pytest.mark.parametrize(
        ("first", "seconds"),
        [
            pytest.param(date(2026, 3, 28), [24 * H, 23 * H, 24 * H], id="spring"),
            pytest.param(date(2026, 10, 24), [24 * H, 25 * H, 24 * H], id="autumn"),
        ],
    )
    def test_logged_in_all_day_on_dst_days(self, first: date, seconds: list[int]) -> None:
        """A session over three whole days counts each day's own length."""
        days = Days.between(STOCKHOLM, first, first + timedelta(days=2))
        book = ledger([Record("bo", days.start - 5 * H, LOGIN)], days)
        assert [(row.date, row.logged_in_seconds, row.sessions) for row in by_day("x", book)] == [
            (first + timedelta(days=i), seconds[i], 1) for i in range(3)
        ]

    def test_the_exporters_session_rules(self) -> None:
        """A login while logged in keeps the session's start, a logout without login ends
        none; both are counted as records, as the live counters count them."""
        days = Days.between(UTC, date(2026, 11, 2), date(2026, 11, 2))
        book = ledger(
            [
                Record("bo", utc(2026, 11, 2, 8), LOGIN),
                Record("bo", utc(2026, 11, 2, 9), LOGIN),  # while logged in
                Record("bo", utc(2026, 11, 2, 10), LOGOUT),
                Record("bo", utc(2026, 11, 2, 10, 5), LOGOUT),  # without login
                Record("bo", utc(2026, 11, 2, 10, 5), LOGOUT),  # its identical twin
            ],
            days,
        )
        assert by_day("demo", book) == [
            DayRow(
                "demo",
                "bo",
                date(2026, 11, 2),
                2 * H,
                1,
                2,
                3,
                local("2026-11-02T08:00:00+00:00"),
                local("2026-11-02T10:05:00+00:00"),
            )
        ]

    def test_session_ending_at_midnight(self) -> None:
        """A session that ends at midnight has no second in the next day, where its logout
        is stamped: that day counts the record and no session."""
        days = Days.between(UTC, date(2026, 11, 2), date(2026, 11, 3))
        book = ledger(
            [Record("cy", utc(2026, 11, 2, 22), LOGIN), Record("cy", utc(2026, 11, 3), LOGOUT)],
            days,
        )
        assert [
            (row.date.day, row.logged_in_seconds, row.sessions, row.logins, row.logouts)
            for row in by_day("demo", book)
        ] == [(2, 2 * H, 1, 1, 0), (3, 0, 0, 0, 1)]

    def test_records_outside_the_range(self) -> None:
        """Records before the range only say who is logged in; those from its end on and
        sessions wholly before it make no row."""
        days = Days.between(UTC, date(2026, 11, 2), date(2026, 11, 2))
        book = ledger(
            [
                Record("al", utc(2026, 11, 1, 8), LOGIN),
                Record("al", utc(2026, 11, 1, 9), LOGOUT),  # wholly before
                Record("dan", utc(2026, 11, 1, 23), LOGIN),
                Record("dan", utc(2026, 11, 2, 1), LOGOUT),  # began before
                Record("eve", utc(2026, 11, 3), LOGIN),  # at the end: the next day's
            ],
            days,
        )
        assert [(r.agent, r.logged_in_seconds, r.logins, r.logouts) for r in by_day("d", book)] == [
            ("dan", H, 0, 1)
        ]

    def test_a_session_of_no_length_counts_on_its_day(self) -> None:
        """Login and logout in one second: a session of 0 s."""
        days = Days.between(UTC, date(2026, 11, 2), date(2026, 11, 2))
        at = utc(2026, 11, 2, 12)
        book = ledger([Record("fa", at, LOGIN), Record("fa", at, LOGOUT)], days)
        assert [(r.logged_in_seconds, r.sessions) for r in by_day("d", book)] == [(0, 1)]
        assert [(r.seconds, r.open_at_end) for r in by_session("d", book)] == [(0, False)]


class TestBySession:
    def test_began_before_and_open_at_the_end(self) -> None:
        """A session begun before the range counts its part within; one still open runs to
        the range's end, here now, and has no logout."""
        now = utc(2026, 11, 3, 9)
        days = Days.between(STOCKHOLM, date(2026, 11, 2), date(2026, 11, 3), until=now)
        book = ledger(
            [
                Record("gus", utc(2026, 11, 1, 21), LOGIN),  # 22:00 local, the day before
                Record("gus", utc(2026, 11, 2, 1), LOGOUT),
                Record("gus", utc(2026, 11, 3, 7), LOGIN),
            ],
            days,
        )
        assert by_session("demo", book) == [
            SessionRow(
                "demo",
                "gus",
                local("2026-11-01T22:00:00+01:00"),
                local("2026-11-02T02:00:00+01:00"),
                2 * H,
                True,
                False,
            ),
            SessionRow("demo", "gus", local("2026-11-03T08:00:00+01:00"), None, 2 * H, False, True),
        ]
        assert [r.logged_in_seconds for r in by_day("demo", book)] == [2 * H, 2 * H]


ROWS = [
    DayRow(
        "north",
        'erik "the viking", jr',
        date(2026, 10, 25),
        90000,
        1,
        0,
        1,
        None,
        local("2026-10-26T00:00:00+01:00"),
    )
]
SESSIONS = [SessionRow("north", "ana", local("2026-10-25T02:30:00+02:00"), None, 1800, False, True)]


class TestRender:
    def test_csv_by_day(self) -> None:
        """A header, then rows; names quoted where needed, no time as an empty cell."""
        assert render_csv(DayRow, ROWS) == (
            "workspace,agent,date,logged_in_seconds,sessions,logins,logouts,first_login,"
            "last_logout\n"
            'north,"erik ""the viking"", jr",2026-10-25,90000,1,0,1,,2026-10-26T00:00:00+01:00\n'
        )

    def test_csv_by_session(self) -> None:
        """Flags are true or false; an open session has no logout."""
        assert render_csv(SessionRow, SESSIONS) == (
            "workspace,agent,login,logout,seconds,began_before_range,open_at_end\n"
            "north,ana,2026-10-25T02:30:00+02:00,,1800,false,true\n"
        )

    def test_empty_csv_has_its_header(self) -> None:
        assert render_csv(SessionRow, []) == (
            "workspace,agent,login,logout,seconds,began_before_range,open_at_end\n"
        )

    def test_json(self) -> None:
        """An array of objects with the CSV's columns; no time is null."""
        assert render_json(SessionRow, SESSIONS) == (
            "[\n"
            "  {\n"
            '    "workspace": "north",\n'
            '    "agent": "ana",\n'
            '    "login": "2026-10-25T02:30:00+02:00",\n'
            '    "logout": null,\n'
            '    "seconds": 1800,\n'
            '    "began_before_range": false,\n'
            '    "open_at_end": true\n'
            "  }\n"
            "]\n"
        )
        assert json.loads(render_json(DayRow, ROWS)) == [
            {
                "workspace": "north",
                "agent": 'erik "the viking", jr',
                "date": "2026-10-25",
                "logged_in_seconds": 90000,
                "sessions": 1,
                "logins": 0,
                "logouts": 1,
                "first_login": None,
                "last_logout": "2026-10-26T00:00:00+01:00",
            }
        ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestRange:
    def test_reversed_range(self) -> None:
        with pytest.raises(ValueError, match=r"^--to 2026-11-01 is before --from 2026-11-02$"):
            days_of(date(2026, 11, 2), date(2026, 11, 1), UTC, utc(2026, 12, 1))

    def test_today_is_the_last_day(self) -> None:
        """Today in the zone may end a range, up to now; tomorrow may not."""
        now = utc(2026, 11, 30, 23, 30)  # already 1 December in Stockholm
        days = days_of(date(2026, 12, 1), date(2026, 12, 1), STOCKHOLM, now)
        assert days.bounds == (utc(2026, 11, 30, 23), now)
        with pytest.raises(
            ValueError, match=r"^--to 2026-12-01 is after today, 2026-11-30 in UTC$"
        ):
            days_of(date(2026, 11, 1), date(2026, 12, 1), UTC, now)


class TestProgress:
    def test_a_line_per_window_on_a_terminal(self) -> None:
        """Each window overwrites the line before; the line is cleared at the end."""
        stream = Terminal()
        progress = Progress(stream)
        windows = [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 23)), (utc(2026, 10, 25, 23), 0)]
        assert list(progress.windows(windows, "north", STOCKHOLM)) == windows
        progress.clear()
        assert stream.getvalue() == (
            "\rworkspace=north: reading 2026-10-25 (1/2)\x1b[K"
            "\rworkspace=north: reading 2026-10-26 (2/2)\x1b[K"
            "\r\x1b[K"
        )

    def test_nothing_elsewhere(self) -> None:
        stream = io.StringIO()
        progress = Progress(stream)
        assert list(progress.windows([(0, 10)], "north", UTC)) == [(0, 10)]
        progress.clear()
        assert stream.getvalue() == ""


# The command against the simulator, compared with sessions paired by hand.


@dataclass(frozen=True)
class Case:
    """A simulated workspace whose history ends at ``end_of_history``, reported over
    ``first`` to ``last`` in Stockholm."""

    name: str
    first: date
    last: date
    end_of_history: int
    fmt: str


SPRING = Case("spring", date(2026, 3, 28), date(2026, 3, 30), utc(2026, 4, 1), "json")
AUTUMN = Case("autumn", date(2026, 10, 24), date(2026, 10, 26), utc(2026, 10, 27), "csv")
LOOKBACK = 7 * DAY  # write_config's poll.lookback


def midnight(day: date) -> int:
    """Stockholm's local midnight, where no DST change falls."""
    return int(datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM).timestamp())


def dates(case: Case) -> list[date]:
    return [case.first + timedelta(days=i) for i in range((case.last - case.first).days + 1)]


def paired(records: Iterable[Record]) -> Iterator[tuple[str, int, int | None]]:
    """Each agent's sessions, by hand: a Login opens one unless one is open, a Logout
    closes the open one; those still open at the end have no logout."""
    opened: dict[str, int] = {}
    for record in records:
        if record.action == LOGIN:
            opened.setdefault(record.name, record.timestamp)
        elif record.name in opened:
            yield record.name, opened.pop(record.name), record.timestamp
    for name, login in opened.items():
        yield name, login, None


def overlap(login: int, logout: int, start: int, end: int) -> int | None:
    """Seconds of ``[login, logout)`` in ``[start, end)``; None when it has none there
    (a session of no length counts where it happened)."""
    if login == logout:
        return 0 if start <= login < end else None
    seconds = min(logout, end) - max(login, start)
    return seconds if seconds > 0 else None


@dataclass(frozen=True)
class Truth:
    records: list[Record]
    sessions: list[tuple[str, int, int | None]]
    start: int
    end: int


def truth(case: Case, scenario: Scenario) -> Truth:
    """What the report must say, from the records of the lookback and the range."""
    start, end = midnight(case.first), midnight(case.last + timedelta(days=1))
    records = scenario.records(start - LOOKBACK, end - 1, now=end)
    return Truth(records, list(paired(records)), start, end)


def expected_days(case: Case, known: Truth) -> dict[tuple[str, str], dict[str, object]]:
    rows: dict[tuple[str, str], dict[str, object]] = {}

    def row(agent: str, day: date) -> dict[str, object]:
        blank = {"logged_in_seconds": 0, "sessions": 0, "logins": 0, "logouts": 0}
        blank |= {"first_login": None, "last_logout": None}
        return rows.setdefault((agent, day.isoformat()), blank)

    for day in dates(case):
        start, end = midnight(day), midnight(day + timedelta(days=1))
        for agent, login, logout in known.sessions:
            seconds = overlap(login, known.end if logout is None else logout, start, end)
            if seconds is not None:
                figures = row(agent, day)
                figures["logged_in_seconds"] += seconds  # type: ignore[operator]
                figures["sessions"] += 1  # type: ignore[operator]
        for record in known.records:
            if start <= record.timestamp < end:
                figures = row(record.name, day)
                iso = datetime.fromtimestamp(record.timestamp, STOCKHOLM).isoformat()
                if record.action == LOGIN:
                    figures["logins"] += 1  # type: ignore[operator]
                    figures["first_login"] = figures["first_login"] or iso
                else:
                    figures["logouts"] += 1  # type: ignore[operator]
                    figures["last_logout"] = iso
    return rows


def expected_sessions(known: Truth) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for agent, login, logout in sorted(known.sessions, key=lambda s: s[:2]):
        seconds = overlap(login, known.end if logout is None else logout, known.start, known.end)
        if seconds is not None:
            rows.append(
                (
                    agent,
                    datetime.fromtimestamp(login, STOCKHOLM).isoformat(),
                    "" if logout is None else datetime.fromtimestamp(logout, STOCKHOLM).isoformat(),
                    str(seconds),
                    str(login < known.start).lower(),
                    str(logout is None).lower(),
                )
            )
    return rows


def run_report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class Run:
    case: Case
    known: Truth
    by_day: subprocess.CompletedProcess[str]
    by_session: subprocess.CompletedProcess[str]
    out: Path


@pytest.fixture(name="run", scope="module", params=[SPRING, AUTUMN], ids=lambda c: c.name)
def _run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``report`` by day (JSON) and by session (CSV, into a file) over three days around a
    DST change, against 40 simulated agents of a 24/7 center in Stockholm.

    The days are Stockholm's by ``--timezone`` over a schedule in another zone, then by the
    workspace's own schedule, which replaces the top-level one.
    """
    case: Case = request.param
    tmp = tmp_path_factory.mktemp(case.name)
    scenario = Scenario(
        start=case.end_of_history, agents=40, seed=11, lookback=12 * DAY, live=False
    )
    elsewhere = {"timezone": "Asia/Kuala_Lumpur"}
    with SimulatorServer(scenario, token=TOKEN, workspace="north") as server:
        entry = {"workspace": "north", "api_url": server.url, "token": TOKEN, "format": case.fmt}
        flagged = write_config(tmp / "flagged.yaml", [entry], schedule=elsewhere)
        own = {**entry, "schedule": {"timezone": "Europe/Stockholm"}}
        scheduled = write_config(tmp / "scheduled.yaml", [own], schedule=elsewhere)
        days = ("--from", str(case.first), "--to", str(case.last))
        day = run_report(
            f"--config.file={flagged}", *days, "--timezone", "Europe/Stockholm", "--output", "json"
        )
        out = tmp / "sessions.csv"
        session = run_report(
            f"--config.file={scheduled}", *days, "--by", "session", "--out", str(out)
        )
    return Run(case, truth(case, scenario), day, session, out)


class TestAgainstTheSimulator:
    def test_the_case_holds_what_it_must(self, run: Run) -> None:
        """The records hold a session over local midnight, one open at the range's end and
        one begun before the range; the DST day is 23 h or 25 h."""
        known = run.known
        midnights = [midnight(day) for day in dates(run.case)[1:]]
        assert any(
            logout is not None and any(login < m < logout for m in midnights)
            for _, login, logout in known.sessions
        )
        assert any(logout is None for _, _, logout in known.sessions)
        assert any(
            login < known.start < (logout or known.end) for _, login, logout in known.sessions
        )
        lengths = [midnight(d + timedelta(days=1)) - midnight(d) for d in dates(run.case)]
        assert sorted(lengths) == sorted([DAY, DAY, DAY + (H if run.case is AUTUMN else -H)])

    def test_every_figure_of_every_day(self, run: Run) -> None:
        """Each agent's seconds, sessions, logins, logouts and first and last times per local
        day equal the hand-paired sessions'."""
        assert (run.by_day.returncode, run.by_day.stderr) == (0, "")
        rows = json.loads(run.by_day.stdout)
        assert {row.pop("workspace") for row in rows} == {"north"}
        got = {(row.pop("agent"), row.pop("date")): row for row in rows}
        expected = expected_days(run.case, run.known)
        assert got == expected
        keys = [(row["agent"], row["date"]) for row in json.loads(run.by_day.stdout)]
        assert keys == sorted(expected)

    def test_every_session(self, run: Run) -> None:
        """Every session with a second in the range, written atomically to --out."""
        assert (run.by_session.returncode, run.by_session.stderr, run.by_session.stdout) == (
            0,
            "",
            "",
        )
        header, *lines = list(csv.reader(io.StringIO(run.out.read_text(encoding="utf-8"))))
        assert header == [
            "workspace",
            "agent",
            "login",
            "logout",
            "seconds",
            "began_before_range",
            "open_at_end",
        ]
        assert {line[0] for line in lines} == {"north"}
        assert [tuple(line[1:]) for line in lines] == expected_sessions(run.known)
        assert sorted(p.name for p in run.out.parent.iterdir()) == [
            "flagged.yaml",
            "scheduled.yaml",
            "sessions.csv",
        ]

    def test_sessions_add_up_to_days(self, run: Run) -> None:
        """The session rows of a range and its day rows count the same seconds."""
        days = sum(row["logged_in_seconds"] for row in json.loads(run.by_day.stdout))
        lines = list(csv.DictReader(io.StringIO(run.out.read_text(encoding="utf-8"))))
        assert sum(int(line["seconds"]) for line in lines) == days


class TestCommandErrors:
    @pytest.fixture(name="config")
    def _config(self, tmp_path: Path) -> Path:
        url = f"http://127.0.0.1:{free_port()}"
        return write_config(
            tmp_path / "config.yaml", [{"workspace": "demo", "api_url": url, "token": TOKEN}]
        )

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            pytest.param(
                ["--from", "2026-11-02", "--to", "2026-11-01"],
                "report: error: --to 2026-11-01 is before --from 2026-11-02",
                id="reversed",
            ),
            pytest.param(
                ["--from", "2026-11-01", "--to", "2999-01-01"],
                "report: error: --to 2999-01-01 is after today",
                id="future",
            ),
            pytest.param(
                ["--from", "2026-02-30", "--to", "2026-03-01"],
                "argument --from: expected a date like 2026-12-24, got '2026-02-30'",
                id="date",
            ),
            pytest.param(
                ["--from", "2026-11-01", "--to", "2026-11-02", "--timezone", "Mars/Olympus"],
                "argument --timezone: unknown time zone 'Mars/Olympus'",
                id="zone",
            ),
            pytest.param(
                ["--from", "2026-11-01", "--to", "2026-11-02", "--workspace", "east"],
                "workspace east is not in the config (known: demo)",
                id="workspace",
            ),
        ],
    )
    def test_usage_errors(self, config: Path, args: list[str], message: str) -> None:
        """A wrong range, date, zone or workspace exits 2 with one line naming it."""
        result = run_report(f"--config.file={config}", *args)
        assert (result.returncode, result.stdout) == (2, "")
        assert [line for line in result.stderr.splitlines() if "error:" in line] == [
            result.stderr.splitlines()[-1]
        ]
        assert message in result.stderr.splitlines()[-1]

    def test_a_failing_workspace_writes_nothing(self, tmp_path: Path) -> None:
        """A rejected token exits 1 naming the workspace and the reason, without the token;
        the other workspace answered, yet no partial report is written."""
        scenario = Scenario(start=utc(2026, 11, 3), agents=3, live=False)
        with (
            SimulatorServer(scenario, token=TOKEN, workspace="demo") as demo,
            SimulatorServer(scenario, token=TOKEN, workspace="good") as good,
        ):
            config = write_config(
                tmp_path / "config.yaml",
                [
                    {"workspace": "demo", "api_url": demo.url, "token": "wrong-secret-42"},
                    {"workspace": "good", "api_url": good.url, "token": TOKEN},
                ],
            )
            out = tmp_path / "report.csv"
            result = run_report(
                f"--config.file={config}",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-02",
                "--out",
                str(out),
            )
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith(
            "workspace=demo: cannot read the logio API (auth): HTTP 401"
        )
        assert len(result.stderr.splitlines()) == 1
        assert "wrong-secret-42" not in result.stderr
        assert list(tmp_path.iterdir()) == [config]

    def test_an_unwritable_file(self, tmp_path: Path) -> None:
        """A file that cannot be written exits 1 saying why, and leaves nothing behind."""
        with SimulatorServer(Scenario(start=utc(2026, 11, 3), agents=2), token=TOKEN) as server:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": server.url, "token": TOKEN}],
            )
            out = tmp_path / "missing" / "report.csv"
            result = run_report(
                f"--config.file={config}",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-02",
                "--out",
                str(out),
            )
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == f"cannot write {out}: No such file or directory\n"
        assert list(tmp_path.iterdir()) == [config]


def test_today_reads_up_to_now(tmp_path: Path) -> None:
    """A range ending today counts an open session up to the moment of the report."""
    now = int(time.time())
    login = max(now - 600, now - now % DAY)  # today, in UTC
    scenario = Scenario(start=now, agents=0, live=False)
    scenario.inject(Record("ida", login, LOGIN))
    with SimulatorServer(scenario, token=TOKEN) as server:
        config = write_config(
            tmp_path / "config.yaml",
            [{"workspace": "demo", "api_url": server.url, "token": TOKEN}],
        )
        today = datetime.fromtimestamp(now, UTC).date().isoformat()
        result = run_report(
            f"--config.file={config}",
            "--from",
            today,
            "--to",
            today,
            "--by",
            "session",
            "--output",
            "json",
        )
    after = int(time.time())
    assert (result.returncode, result.stderr) == (0, "")
    (row,) = json.loads(result.stdout)
    assert (row["agent"], row["logout"], row["open_at_end"]) == ("ida", None, True)
    assert now - login <= row["seconds"] <= after - login
