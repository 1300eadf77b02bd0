"""The schedule: parsing with every problem named, and opening and staffing by the local clock.

Expected instants are UTC wall times with the offset worked out by hand: Stockholm is
CET +1, CEST +2 from 01:00 UTC 2026-03-29 to 01:00 UTC 2026-10-25 (both Sundays); Sydney
is AEDT +11 until 16:00 UTC 2026-04-04 and from 16:00 UTC 2026-10-03, AEST +10 between;
Kuala Lumpur is +8 all year.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from instants import utc
from schedules import ISSUE_EXAMPLE

from exporter.core.schedule import (
    Schedule,
    is_open,
    next_change,
    parse_schedule,
    required_agents,
)

H, M = 3600, 60
ALL_DAY = (((0, 86400),),) * 7
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse(data: object, key: str = "schedule") -> tuple[Schedule | None, list[str]]:
    problems: list[str] = []
    return parse_schedule(data, key, problems), problems


def schedule(data: object) -> Schedule:
    parsed, problems = parse(data)
    assert problems == []
    assert parsed is not None
    return parsed


class TestParse:
    def test_issue_example(self) -> None:
        """The example of the issue, as YAML loads it (dates as ``date``), field by field."""
        parsed = schedule(yaml.safe_load(ISSUE_EXAMPLE)["schedule"])
        plan = ((8 * H, 12 * H, 5), (12 * H, 17 * H, 3))
        assert parsed == Schedule(
            zone=ZoneInfo("Europe/Stockholm"),
            hours=(((8 * H, 17 * H),),) * 5 + (((10 * H, 14 * H),), ()),
            closed=frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)}),
            staffing=(plan,) * 5 + (((10 * H, 14 * H, 2),), ()),
        )

    def test_absent(self) -> None:
        """No ``schedule:`` is no schedule, and no problem."""
        assert parse(None) == (None, [])

    def test_empty_is_utc_open_all_day(self) -> None:
        """An empty schedule: UTC, open every day all day, no staffing plan."""
        assert schedule({}) == Schedule(ZoneInfo("UTC"), ALL_DAY, frozenset(), None)

    def test_dates_as_strings(self) -> None:
        """Dates arrive as strings or as ``date``; both mean the same day."""
        parsed = schedule({"closed": ["2026-12-24", date(2026, 12, 25), " 2027-01-01 "]})
        assert parsed.closed == {date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)}

    @pytest.mark.parametrize(
        ("key", "days"),
        [
            ("mon", ["mon"]),
            ("mon-fri", ["mon", "tue", "wed", "thu", "fri"]),
            ("sat,sun", ["sat", "sun"]),
            ("Mon-Wed, fri", ["mon", "tue", "wed", "fri"]),
            ("fri-mon", ["fri", "sat", "sun", "mon"]),
            ("sun-thu", ["sun", "mon", "tue", "wed", "thu"]),
            ("tue-mon", ["tue", "wed", "thu", "fri", "sat", "sun", "mon"]),
        ],
    )
    def test_day_keys(self, key: str, days: list[str]) -> None:
        """Single days, ranges, lists, and ranges over the week's end (Sunday-first weeks)."""
        parsed = schedule({"hours": {key: ["09:00-10:00"]}})
        expected = tuple(((9 * H, 10 * H),) if d in days else () for d in WEEK)
        assert parsed.hours == expected

    def test_keys_sharing_a_day_merge_in_order(self) -> None:
        """Two keys may cover one day with ranges that touch but do not overlap."""
        parsed = schedule({"hours": {"mon-fri": ["12:00-17:00"], "mon": ["8:00-12:00"]}})
        assert parsed.hours[0] == ((8 * H, 12 * H), (12 * H, 17 * H))
        assert parsed.hours[1] == ((12 * H, 17 * H),)

    def test_range_to_midnight(self) -> None:
        """``24:00`` ends a range at midnight."""
        assert schedule({"hours": {"sun": ["18:00-24:00"]}}).hours[6] == ((18 * H, 24 * H),)

    def test_zero_agents_is_a_plan(self) -> None:
        """A plan of 0 agents is kept; a schedule without ``staffing:`` has none."""
        assert schedule({"staffing": {"sun": {"00:00-24:00": 0}}}).staffing == (
            ((),) * 6 + (((0, 24 * H, 0),),)
        )
        assert schedule({"hours": {"sun": ["00:00-24:00"]}}).staffing is None


@pytest.fixture(name="no_system_zones")
def _no_system_zones() -> Iterator[None]:
    """A machine without /usr/share/zoneinfo, as some slim and Windows systems are."""
    zoneinfo.reset_tzpath([])
    ZoneInfo.clear_cache(only_keys=["Pacific/Chatham"])
    yield
    zoneinfo.reset_tzpath()
    ZoneInfo.clear_cache(only_keys=["Pacific/Chatham"])


@pytest.mark.usefixtures("no_system_zones")
def test_zone_without_a_system_database() -> None:
    """The tzdata package, a dependency, knows the zones when the system does not."""
    parsed = schedule({"timezone": "Pacific/Chatham", "hours": {"mon": ["09:00-10:00"]}})
    assert is_open(parsed, utc(2026, 6, 14, 20, 15))  # Monday 09:00 +12:45


K = "(known: timezone, hours, closed, staffing)"
DAYS = "(known: mon, tue, wed, thu, fri, sat, sun)"
SPLIT = "split one past midnight at 24:00: 17:00-24:00 and 00:00-08:00 the next day"
PLAN = 'like {"08:00-12:00": 5}'


class TestProblems:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            ("x", ["schedule: must be a mapping of keys"]),
            ({"colsed": []}, [f"schedule.colsed: unknown key {K}"]),
            (
                {"timezone": "Europe/Stockhlm"},
                [
                    "schedule.timezone: unknown time zone 'Europe/Stockhlm'"
                    " (an IANA name like Europe/Stockholm)"
                ],
            ),
            (
                {"timezone": "../../etc/passwd"},
                [
                    "schedule.timezone: unknown time zone '../../etc/passwd'"
                    " (an IANA name like Europe/Stockholm)"
                ],
            ),
            ({"timezone": 5}, ["schedule.timezone: expected a non-empty string, got 5"]),
            (
                {"hours": ["08:00-17:00"]},
                [
                    "schedule.hours: expected a mapping of days like mon-fri or sat,sun,"
                    " got ['08:00-17:00']"
                ],
            ),
            (
                {"hours": {"mon-fry": ["08:00-17:00"]}},
                [f"schedule.hours.mon-fry: unknown day 'fry' {DAYS}"],
            ),
            (
                {"hours": {"mon-mon": ["08:00-17:00"]}},
                ["schedule.hours.mon-mon: a range of days needs two different days, got 'mon-mon'"],
            ),
            (
                {"hours": {"mon-fri,wed": ["08:00-17:00"]}},
                ["schedule.hours.mon-fri,wed: wed listed twice"],
            ),
            (
                {"hours": {1: ["08:00-17:00"]}},
                ["schedule.hours.1: expected days like mon-fri or sat,sun, got 1"],
            ),
            (
                {"hours": {"mon": "08:00-17:00"}},
                [
                    'schedule.hours.mon: expected a list of ranges like ["08:00-17:00"],'
                    " got '08:00-17:00'"
                ],
            ),
            (
                {"hours": {"mon": ["8-17", 600]}},
                [
                    "schedule.hours.mon[0]: expected a range like 08:00-17:00, got '8-17'",
                    "schedule.hours.mon[1]: expected a range like 08:00-17:00, got 600",
                ],
            ),
            (
                {"hours": {"mon": ["08:00-25:00", "08:60-09:00", "12:00-24:30"]}},
                [
                    "schedule.hours.mon[0]: 25:00 is not a time of day (00:00 to 24:00)",
                    "schedule.hours.mon[1]: 08:60 is not a time of day (00:00 to 24:00)",
                    "schedule.hours.mon[2]: 24:30 is not a time of day (00:00 to 24:00)",
                ],
            ),
            (
                {"hours": {"mon": ["17:00-08:00"]}},
                [f"schedule.hours.mon[0]: range 17:00-08:00 ends before it starts; {SPLIT}"],
            ),
            (
                {"hours": {"mon": ["08:00-08:00", "24:00-24:00"]}},
                [
                    "schedule.hours.mon[0]: range 08:00-08:00 is empty",
                    "schedule.hours.mon[1]: 24:00 can only end a range",
                ],
            ),
            (
                {"hours": {"mon-fri": ["08:00-12:00", "11:00-17:00"]}},
                ["schedule.hours.mon-fri: ranges 08:00-12:00 and 11:00-17:00 overlap"],
            ),
            (
                {"hours": {"mon-fri": ["08:00-17:00"], "thu-sat": ["16:00-20:00"]}},
                [
                    "schedule.hours.thu-sat: range 16:00-20:00 overlaps 08:00-17:00 of mon-fri"
                    " on thu, fri"
                ],
            ),
            (
                {"closed": "2026-12-24"},
                ["schedule.closed: expected a list of dates like [2026-12-24], got '2026-12-24'"],
            ),
            (
                {"closed": ["2026-13-01", "24.12.2026", datetime(2026, 12, 24, 10), 20261224]},
                [
                    "schedule.closed[0]: expected a date like 2026-12-24, got '2026-13-01'",
                    "schedule.closed[1]: expected a date like 2026-12-24, got '24.12.2026'",
                    "schedule.closed[2]: expected a date like 2026-12-24,"
                    " got datetime.datetime(2026, 12, 24, 10, 0)",
                    "schedule.closed[3]: expected a date like 2026-12-24, got 20261224",
                ],
            ),
            (
                {"staffing": [5]},
                ["schedule.staffing: expected a mapping of days like mon-fri or sat,sun, got [5]"],
            ),
            (
                {"staffing": {"mon": 5}},
                [f"schedule.staffing.mon: expected a mapping of ranges to agents {PLAN}, got 5"],
            ),
            (
                {"staffing": {"mon": {"8-12": 5}}},
                ["schedule.staffing.mon.8-12: expected a range like 08:00-17:00, got '8-12'"],
            ),
            (
                {"staffing": {"mon": {"08:00-09:00": -1, "09:00-10:00": 2.5, "10:00-11:00": True}}},
                [
                    "schedule.staffing.mon.08:00-09:00: expected a whole number of agents,"
                    " 0 or more, got -1",
                    "schedule.staffing.mon.09:00-10:00: expected a whole number of agents,"
                    " 0 or more, got 2.5",
                    "schedule.staffing.mon.10:00-11:00: expected a whole number of agents,"
                    " 0 or more, got True",
                ],
            ),
            (
                {"staffing": {"mon": {"17:00-08:00": "5"}}},
                [
                    f"schedule.staffing.mon.17:00-08:00: range 17:00-08:00 ends before it starts;"
                    f" {SPLIT}",
                    "schedule.staffing.mon.17:00-08:00: expected a whole number of agents,"
                    " 0 or more, got '5'",
                ],
            ),
            (
                {"staffing": {"mon-fri": {"08:00-12:00": 5}, "mon": {"11:00-13:00": 2}}},
                ["schedule.staffing.mon: range 11:00-13:00 overlaps 08:00-12:00 of mon-fri on mon"],
            ),
        ],
    )
    def test_message(self, data: object, expected: list[str]) -> None:
        """Each problem is one line naming the key, and the schedule is refused."""
        assert parse(data) == (None, expected)

    def test_every_problem_at_once(self) -> None:
        """A file with several mistakes gets them all in one pass, under the caller's key."""
        data = {
            "timezone": "Mars/Olympus",
            "hours": {"mon-fry": ["17:00-08:00"]},
            "closed": ["2026-02-30"],
            "staffing": {"sat": {"10:00-14:00": -2}},
        }
        assert parse(data, "workspaces[1].schedule") == (
            None,
            [
                "workspaces[1].schedule.timezone: unknown time zone 'Mars/Olympus'"
                " (an IANA name like Europe/Stockholm)",
                f"workspaces[1].schedule.hours.mon-fry: unknown day 'fry' {DAYS}",
                f"workspaces[1].schedule.hours.mon-fry[0]: range 17:00-08:00 ends before it"
                f" starts; {SPLIT}",
                "workspaces[1].schedule.closed[0]: expected a date like 2026-12-24,"
                " got '2026-02-30'",
                "workspaces[1].schedule.staffing.sat.10:00-14:00: expected a whole number of"
                " agents, 0 or more, got -2",
            ],
        )


STOCKHOLM = {
    "timezone": "Europe/Stockholm",
    "hours": {
        "mon-fri": ["08:00-17:00"],
        "sun": ["02:15-02:45", "08:00-12:00", "18:00-24:00"],
    },
    "closed": ["2026-12-24"],
    "staffing": {
        "mon-fri": {"08:00-12:00": 5, "12:00-17:00": 3},
        "sun": {"08:00-10:00": 2},
    },
}


def state(data: object, instant: int) -> tuple[bool, int]:
    parsed = schedule(data)
    return is_open(parsed, instant), required_agents(parsed, instant)


class TestStockholm:
    """Both DST change days are Sundays; the hours of the week around them, in both times."""

    @pytest.mark.parametrize(
        ("instant", "expected"),
        [
            pytest.param(utc(2026, 3, 27, 6, 59, 59), (False, 0), id="fri-winter-07:59:59"),
            pytest.param(utc(2026, 3, 27, 7), (True, 5), id="fri-winter-08:00"),
            pytest.param(utc(2026, 3, 28, 7), (False, 0), id="sat-not-listed"),
            pytest.param(utc(2026, 3, 29, 0, 59, 59), (False, 0), id="spring-01:59:59-cet"),
            pytest.param(utc(2026, 3, 29, 1), (False, 0), id="spring-03:00-cest"),
            pytest.param(utc(2026, 3, 29, 5, 59, 59), (False, 0), id="spring-07:59:59"),
            pytest.param(utc(2026, 3, 29, 6), (True, 2), id="spring-08:00"),
            pytest.param(utc(2026, 3, 29, 8), (True, 0), id="spring-10:00-unplanned"),
            pytest.param(utc(2026, 3, 29, 9, 59, 59), (True, 0), id="spring-11:59:59"),
            pytest.param(utc(2026, 3, 29, 10), (False, 0), id="spring-12:00"),
            pytest.param(utc(2026, 3, 29, 16), (True, 0), id="spring-18:00"),
            pytest.param(utc(2026, 3, 29, 21, 59, 59), (True, 0), id="spring-23:59:59"),
            pytest.param(utc(2026, 3, 29, 22), (False, 0), id="mon-00:00"),
            pytest.param(utc(2026, 3, 30, 5, 59, 59), (False, 0), id="mon-summer-07:59:59"),
            pytest.param(utc(2026, 3, 30, 6), (True, 5), id="mon-summer-08:00"),
            pytest.param(utc(2026, 3, 30, 10), (True, 3), id="mon-summer-12:00"),
            pytest.param(utc(2026, 3, 30, 14, 59, 59), (True, 3), id="mon-summer-16:59:59"),
            pytest.param(utc(2026, 3, 30, 15), (False, 0), id="mon-summer-17:00"),
            pytest.param(utc(2026, 10, 23, 5, 59, 59), (False, 0), id="fri-summer-07:59:59"),
            pytest.param(utc(2026, 10, 23, 6), (True, 5), id="fri-summer-08:00"),
            pytest.param(utc(2026, 10, 25, 6, 59, 59), (False, 0), id="autumn-07:59:59"),
            pytest.param(utc(2026, 10, 25, 7), (True, 2), id="autumn-08:00"),
            pytest.param(utc(2026, 10, 25, 9), (True, 0), id="autumn-10:00"),
            pytest.param(utc(2026, 10, 25, 22, 59, 59), (True, 0), id="autumn-23:59:59"),
            pytest.param(utc(2026, 10, 25, 23), (False, 0), id="autumn-mon-00:00"),
            pytest.param(utc(2026, 10, 26, 6, 59, 59), (False, 0), id="mon-winter-07:59:59"),
            pytest.param(utc(2026, 10, 26, 7), (True, 5), id="mon-winter-08:00"),
            pytest.param(utc(2026, 10, 26, 15, 59, 59), (True, 3), id="mon-winter-16:59:59"),
            pytest.param(utc(2026, 10, 26, 16), (False, 0), id="mon-winter-17:00"),
        ],
    )
    def test_opening_and_staffing(self, instant: int, expected: tuple[bool, int]) -> None:
        """Opening and staffing follow the local clock, summer and winter, on the change days."""
        assert state(STOCKHOLM, instant) == expected

    def test_range_in_the_skipped_hour_never_opens(self) -> None:
        """02:15-02:45 does not exist on 2026-03-29: closed all night."""
        night = range(utc(2026, 3, 28, 23), utc(2026, 3, 29, 6), M)
        assert [t for t in night if state(STOCKHOLM, t)[0]] == []

    def test_range_in_the_repeated_hour_opens_twice(self) -> None:
        """02:15-02:45 happens twice on 2026-10-25: in CEST at 00:15 UTC, in CET at 01:15 UTC."""
        night = range(utc(2026, 10, 24, 22), utc(2026, 10, 25, 7), M)
        open_minutes = [t for t in night if state(STOCKHOLM, t)[0]]
        first = list(range(utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 45), M))
        second = list(range(utc(2026, 10, 25, 1, 15), utc(2026, 10, 25, 1, 45), M))
        assert open_minutes == first + second

    def test_holiday(self) -> None:
        """Closed all of 2026-12-24 (a Thursday), with no agents required; open the day before."""
        assert state(STOCKHOLM, utc(2026, 12, 23, 9)) == (True, 5)
        day = range(utc(2026, 12, 23, 23), utc(2026, 12, 24, 23), 15 * M)
        assert {state(STOCKHOLM, t) for t in day} == {(False, 0)}
        assert state(STOCKHOLM, utc(2026, 12, 25, 7)) == (True, 5)


class TestOtherZones:
    @pytest.mark.parametrize(
        ("opens", "label"),
        [
            (utc(2026, 4, 2, 22), "fri 2026-04-03 AEDT"),
            (utc(2026, 4, 5, 23), "mon 2026-04-06 AEST"),
            (utc(2026, 10, 1, 23), "fri 2026-10-02 AEST"),
            (utc(2026, 10, 4, 22), "mon 2026-10-05 AEDT"),
        ],
    )
    def test_sydney_opens_at_nine_either_side_of_its_changes(self, opens: int, label: str) -> None:
        """Southern DST: summer in April's first days and again from October; 09:00 either way."""
        data = {
            "timezone": "Australia/Sydney",
            "hours": {"mon-fri": ["09:00-17:00"]},
            "staffing": {"mon-fri": {"09:00-17:00": 4}},
        }
        assert state(data, opens - 1) == (False, 0), label
        assert state(data, opens) == (True, 4), label
        assert state(data, opens + 8 * H - 1) == (True, 4), label
        assert state(data, opens + 8 * H) == (False, 0), label

    @pytest.mark.parametrize("month", [1, 4, 7, 10])
    def test_kuala_lumpur_has_one_offset(self, month: int) -> None:
        """+08 all year: the first Monday's 09:00 is 01:00 UTC in every season."""
        data = {"timezone": "Asia/Kuala_Lumpur", "hours": {"mon-fri": ["09:00-18:00"]}}
        monday = next(d for d in range(1, 8) if date(2026, month, d).weekday() == 0)
        assert state(data, utc(2026, month, monday, 0, 59, 59)) == (False, 0)
        assert state(data, utc(2026, month, monday, 1)) == (True, 0)
        assert state(data, utc(2026, month, monday, 9, 59, 59)) == (True, 0)
        assert state(data, utc(2026, month, monday, 10)) == (False, 0)

    def test_no_schedule_is_always_open_without_a_plan(self) -> None:
        """Without a schedule the center is open and requires no agents; nothing changes."""
        instant = utc(2026, 12, 24, 3)
        assert (is_open(None, instant), required_agents(None, instant)) == (True, 0)
        assert next_change(None, instant) is None

    def test_closed_days_without_hours(self) -> None:
        """Without ``hours:`` every day is open all day but the closed ones."""
        data = {"closed": ["2026-12-24"]}
        assert state(data, utc(2026, 12, 23, 23, 59, 59)) == (True, 0)
        assert state(data, utc(2026, 12, 24)) == (False, 0)
        assert state(data, utc(2026, 12, 25)) == (True, 0)


class TestNextChange:
    def test_autumn_sunday(self) -> None:
        """Each change in order over the 25-hour day: the repeated hour opens twice."""
        parsed = schedule(STOCKHOLM)
        expected = [
            utc(2026, 10, 25, 0, 15),  # 02:15 CEST
            utc(2026, 10, 25, 0, 45),
            utc(2026, 10, 25, 1, 15),  # 02:15 CET
            utc(2026, 10, 25, 1, 45),
            utc(2026, 10, 25, 7),  # 08:00, 2 agents
            utc(2026, 10, 25, 9),  # 10:00, no plan
            utc(2026, 10, 25, 11),  # 12:00, closed
            utc(2026, 10, 25, 17),  # 18:00
            utc(2026, 10, 25, 23),  # Monday 00:00
            utc(2026, 10, 26, 7),  # Monday 08:00 CET
        ]
        changes, instant = [], utc(2026, 10, 25)
        for _ in expected:
            instant = next_change(parsed, instant)
            changes.append(instant)
        assert changes == expected

    def test_skipped_range_is_no_change(self) -> None:
        """From Saturday, the first change is Sunday 08:00 CEST: 02:15 never shows."""
        assert next_change(schedule(STOCKHOLM), utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 6)

    def test_holiday_is_skipped(self) -> None:
        """From Wednesday afternoon: closing at 17:00, then Friday 08:00 past the holiday."""
        parsed = schedule(STOCKHOLM)
        assert next_change(parsed, utc(2026, 12, 23, 12)) == utc(2026, 12, 23, 16)
        assert next_change(parsed, utc(2026, 12, 23, 16)) == utc(2026, 12, 25, 7)

    def test_days_ahead(self) -> None:
        """From Tuesday, a center open on Mondays only changes next Monday."""
        data = {"hours": {"mon": ["08:00-17:00"]}}
        assert next_change(schedule(data), utc(2026, 6, 16, 9)) == utc(2026, 6, 22, 8)

    def test_a_week_past_a_skipped_range(self) -> None:
        """A range only in the hour DST skips opens first on the Sunday after, 02:15 CEST."""
        data = {"timezone": "Europe/Stockholm", "hours": {"sun": ["02:15-02:45"]}}
        assert next_change(schedule(data), utc(2026, 3, 28, 12)) == utc(2026, 4, 5, 0, 15)

    def test_a_boundary_without_a_difference_is_no_change(self) -> None:
        """Two ranges planning the same number meet at 12:00; the next change is 17:00."""
        data = {
            "hours": {"mon": ["08:00-12:00", "12:00-17:00"]},
            "staffing": {"mon": {"08:00-12:00": 3, "12:00-17:00": 3}},
        }
        assert next_change(schedule(data), utc(2026, 6, 15, 9)) == utc(2026, 6, 15, 17)

    def test_fractional_instant(self) -> None:
        """A change exactly one half second ahead."""
        parsed = schedule(STOCKHOLM)
        assert next_change(parsed, utc(2026, 10, 25, 7) - 0.5) == utc(2026, 10, 25, 7)

    @pytest.mark.parametrize(
        "data",
        [{}, {"hours": {}}, {"hours": {"mon-sun": ["00:00-24:00"]}, "closed": ["2027-05-01"]}],
        ids=["open-always", "closed-always", "open-after-the-last-holiday"],
    )
    def test_never(self, data: dict[str, object]) -> None:
        """A plan that stays the same has no next change."""
        assert next_change(schedule(data), utc(2027, 5, 2)) is None


# A brute-force reference for the property tests: each day's hours and staffing written
# out by hand, looked up by the local clock of the standard library's datetime.
PLAN_DATA = {
    "hours": {
        "mon-thu": ["07:30-12:00", "13:00-18:15"],
        "fri": ["07:30-16:00"],
        "sat,sun": ["02:30-03:30", "10:00-14:00"],
    },
    "closed": ["2026-04-03", "2026-12-24", "2027-01-01"],
    "staffing": {"mon-fri": {"08:00-12:00": 6, "15:00-16:00": 2}, "sun": {"02:00-03:00": 1}},
}
WEEKDAY_HOURS = [(7 * 60 + 30, 12 * 60), (13 * 60, 18 * 60 + 15)]
WEEKEND_HOURS = [(2 * 60 + 30, 3 * 60 + 30), (10 * 60, 14 * 60)]
PLAN_HOURS = {
    "mon": WEEKDAY_HOURS,
    "tue": WEEKDAY_HOURS,
    "wed": WEEKDAY_HOURS,
    "thu": WEEKDAY_HOURS,
    "fri": [(7 * 60 + 30, 16 * 60)],
    "sat": WEEKEND_HOURS,
    "sun": WEEKEND_HOURS,
}
WEEKDAY_STAFF = [(8 * 60, 12 * 60, 6), (15 * 60, 16 * 60, 2)]
PLAN_STAFF = {day: WEEKDAY_STAFF for day in WEEK[:5]} | {"sat": [], "sun": [(2 * 60, 3 * 60, 1)]}
PLAN_CLOSED = {"2026-04-03", "2026-12-24", "2027-01-01"}
ZONES = [
    "Europe/Stockholm",
    "Australia/Sydney",
    "Asia/Kuala_Lumpur",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
]


def reference(zone: str, instant: int) -> tuple[bool, int]:
    local = datetime.fromtimestamp(instant, ZoneInfo(zone))
    day, minute = WEEK[local.weekday()], local.hour * 60 + local.minute
    if local.date().isoformat() in PLAN_CLOSED:
        return False, 0
    if not any(a <= minute < b for a, b in PLAN_HOURS[day]):
        return False, 0
    return True, sum(n for a, b, n in PLAN_STAFF[day] if a <= minute < b)


# Instants anywhere in 2026, and some within three hours of each zone's DST changes.
NEAR_CHANGES = [
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 4, 4, 16),
    utc(2026, 10, 3, 16),
    utc(2026, 4, 5, 3),
    utc(2026, 9, 6, 4),
    utc(2026, 3, 8, 5),
    utc(2026, 11, 1, 5),
    utc(2026, 3, 28, 22),
    utc(2026, 10, 24, 21),
]
INSTANTS = st.one_of(
    st.integers(utc(2026, 1, 1), utc(2027, 1, 1)),
    st.builds(lambda t, d: t + d, st.sampled_from(NEAR_CHANGES), st.integers(-3 * H, 3 * H)),
)


class TestProperties:
    @settings(max_examples=500, database=None)
    @given(zone=st.sampled_from(ZONES), instant=INSTANTS)
    def test_state_agrees_with_reference(self, zone: str, instant: int) -> None:
        """Opening and staffing equal the hand-written plan read by the local clock."""
        parsed = schedule({**PLAN_DATA, "timezone": zone})
        assert (is_open(parsed, instant), required_agents(parsed, instant)) == reference(
            zone, instant
        )

    @settings(max_examples=100, database=None)
    @given(zone=st.sampled_from(ZONES), instant=INSTANTS)
    def test_next_change_is_the_first_different_minute(self, zone: str, instant: int) -> None:
        """Ranges start on the minute and offsets change on it: scanning minutes finds the
        first instant after ``instant`` whose state differs."""
        now = reference(zone, instant)
        scan = (instant // M + 1) * M
        while reference(zone, scan) == now:
            scan += M
            assert scan - instant < 5 * 86400
        assert next_change(schedule({**PLAN_DATA, "timezone": zone}), instant) == scan
