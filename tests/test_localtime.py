"""Local days in unix seconds: exact bounds on DST days, in zones that skip or repeat midnight.

Expected instants are written as UTC wall times with the zone's offset worked out by hand
(Stockholm: CET +1, CEST +2 from 01:00 UTC on 2026-03-29 to 01:00 UTC on 2026-10-25).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instants import utc

from exporter.core.localtime import day_bounds, local_midnight, offset_changes

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SYDNEY = ZoneInfo("Australia/Sydney")
KUALA_LUMPUR = ZoneInfo("Asia/Kuala_Lumpur")
SANTIAGO = ZoneInfo("America/Santiago")  # 2022-09-11: 00:00 -04 -> 01:00 -03
BEIRUT = ZoneInfo("Asia/Beirut")  # 2024-03-31: 00:00 +02 -> 01:00 +03
HAVANA = ZoneInfo("America/Havana")  # 2023-11-05: 01:00 -04 -> 00:00 -05
ZONES = (STOCKHOLM, SYDNEY, KUALA_LUMPUR, SANTIAGO, BEIRUT, HAVANA)
H = 3600


class TestLocalMidnight:
    @pytest.mark.parametrize(
        ("zone", "instant", "midnight"),
        [
            pytest.param(STOCKHOLM, utc(2026, 6, 14, 22, 0, 1), utc(2026, 6, 14, 22), id="after"),
            pytest.param(STOCKHOLM, utc(2026, 6, 14, 22), utc(2026, 6, 14, 22), id="exactly-at"),
            pytest.param(
                STOCKHOLM, utc(2026, 6, 14, 21, 59, 59), utc(2026, 6, 13, 22), id="second-before"
            ),
            pytest.param(STOCKHOLM, utc(2026, 3, 29, 10), utc(2026, 3, 28, 23), id="spring-day"),
            pytest.param(STOCKHOLM, utc(2026, 3, 29, 22), utc(2026, 3, 29, 22), id="after-spring"),
            pytest.param(STOCKHOLM, utc(2026, 10, 25, 11), utc(2026, 10, 24, 22), id="autumn-day"),
            pytest.param(
                STOCKHOLM, utc(2026, 10, 25, 23), utc(2026, 10, 25, 23), id="after-autumn"
            ),
            pytest.param(KUALA_LUMPUR, utc(2026, 7, 6, 1), utc(2026, 7, 5, 16), id="no-dst"),
        ],
    )
    def test_stockholm_and_kuala_lumpur(self, zone: ZoneInfo, instant: int, midnight: int) -> None:
        """Today starts at the local midnight, with the offset in force then."""
        assert local_midnight(zone, instant) == midnight

    def test_skipped_midnight_starts_the_day_at_one(self) -> None:
        """Santiago's 2022-09-11 has no 00:00: the day starts at 01:00 -03, 04:00 UTC."""
        assert local_midnight(SANTIAGO, utc(2022, 9, 11, 15)) == utc(2022, 9, 11, 4)
        assert local_midnight(SANTIAGO, utc(2022, 9, 11, 4)) == utc(2022, 9, 11, 4)
        assert local_midnight(SANTIAGO, utc(2022, 9, 11, 3, 59, 59)) == utc(2022, 9, 10, 4)

    def test_skipped_midnight_in_beirut(self) -> None:
        """Beirut's 2024-03-31 starts at 01:00 +03, 22:00 UTC the day before."""
        assert local_midnight(BEIRUT, utc(2024, 3, 31, 9)) == utc(2024, 3, 30, 22)

    def test_repeated_midnight_is_the_first(self) -> None:
        """Havana shows 00:00 twice on 2023-11-05; the day started at the first."""
        assert local_midnight(HAVANA, utc(2023, 11, 5, 5, 30)) == utc(2023, 11, 5, 4)

    def test_fractional_instant(self) -> None:
        """A float instant just after midnight belongs to the new day."""
        assert local_midnight(STOCKHOLM, utc(2026, 6, 14, 22) + 0.5) == utc(2026, 6, 14, 22)


class TestDayBounds:
    @pytest.mark.parametrize(
        ("zone", "day", "bounds", "hours"),
        [
            (STOCKHOLM, date(2026, 3, 29), (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)), 23),
            (STOCKHOLM, date(2026, 10, 25), (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)), 25),
            (STOCKHOLM, date(2026, 6, 14), (utc(2026, 6, 13, 22), utc(2026, 6, 14, 22)), 24),
            (SYDNEY, date(2026, 4, 5), (utc(2026, 4, 4, 13), utc(2026, 4, 5, 14)), 25),
            (SYDNEY, date(2026, 10, 4), (utc(2026, 10, 3, 14), utc(2026, 10, 4, 13)), 23),
            (KUALA_LUMPUR, date(2026, 3, 29), (utc(2026, 3, 28, 16), utc(2026, 3, 29, 16)), 24),
            (SANTIAGO, date(2022, 9, 11), (utc(2022, 9, 11, 4), utc(2022, 9, 12, 3)), 23),
            (HAVANA, date(2023, 11, 5), (utc(2023, 11, 5, 4), utc(2023, 11, 6, 5)), 25),
        ],
    )
    def test_bounds(self, zone: ZoneInfo, day: date, bounds: tuple[int, int], hours: int) -> None:
        """A DST day lasts 23 h or 25 h, in both hemispheres; a zone without DST, 24 h."""
        assert day_bounds(zone, day) == bounds
        assert bounds[1] - bounds[0] == hours * H


class TestOffsetChanges:
    def test_dst_days(self) -> None:
        """Each change of offset within the span, at its exact second."""
        assert offset_changes(STOCKHOLM, *day_bounds(STOCKHOLM, date(2026, 3, 29))) == [
            utc(2026, 3, 29, 1)
        ]
        assert offset_changes(SYDNEY, utc(2026, 3, 1), utc(2026, 11, 1)) == [
            utc(2026, 4, 4, 16),
            utc(2026, 10, 3, 16),
        ]

    def test_none_on_ordinary_days(self) -> None:
        assert offset_changes(STOCKHOLM, *day_bounds(STOCKHOLM, date(2026, 6, 14))) == []

    def test_change_at_either_end_is_not_inside(self) -> None:
        """Santiago's change opens 2022-09-11 and so ends 2022-09-10: inside neither."""
        assert offset_changes(SANTIAGO, *day_bounds(SANTIAGO, date(2022, 9, 11))) == []
        assert offset_changes(SANTIAGO, *day_bounds(SANTIAGO, date(2022, 9, 10))) == []


def reference_day_start(zone: ZoneInfo, day: date) -> int:
    """The first second of ``day`` by datetime arithmetic: local 00:00 under either fold,
    and where 00:00 does not exist, the clock's jump (fold 0 maps a skipped time past it)."""
    candidates = [
        datetime(day.year, day.month, day.day, fold=fold, tzinfo=zone).timestamp()
        for fold in (0, 1)
    ]
    own = [t for t in candidates if datetime.fromtimestamp(t, zone).date() == day]
    return int(min(own))


INSTANTS = st.integers(utc(2022, 1, 1), utc(2027, 12, 31))


class TestProperties:
    @settings(max_examples=300, database=None)
    @given(zone=st.sampled_from(ZONES), instant=INSTANTS)
    def test_midnight_agrees_with_reference(self, zone: ZoneInfo, instant: int) -> None:
        """The day start matches datetime arithmetic; the second before it is the day before."""
        today = datetime.fromtimestamp(instant, zone).date()
        midnight = local_midnight(zone, instant)
        assert midnight == reference_day_start(zone, today)
        assert datetime.fromtimestamp(midnight - 1, zone).date() == today - timedelta(days=1)

    @settings(max_examples=200, database=None)
    @given(zone=st.sampled_from(ZONES), instant=INSTANTS)
    def test_bounds_hold_every_second_of_the_day(self, zone: ZoneInfo, instant: int) -> None:
        """Start and end-1 carry the date; the length is the UTC-offset difference from 24 h."""
        day = datetime.fromtimestamp(instant, zone).date()
        start, end = day_bounds(zone, day)
        assert datetime.fromtimestamp(start, zone).date() == day
        assert datetime.fromtimestamp(end - 1, zone).date() == day
        assert datetime.fromtimestamp(end, zone).date() == day + timedelta(days=1)
        offsets = [datetime.fromtimestamp(t, zone).utcoffset() for t in (start, end)]
        assert None not in offsets
        wall = datetime.fromtimestamp(end, zone).replace(tzinfo=timezone.utc) - (
            datetime.fromtimestamp(start, zone).replace(tzinfo=timezone.utc)
        )
        assert end - start == (wall - (offsets[1] - offsets[0])).total_seconds()
