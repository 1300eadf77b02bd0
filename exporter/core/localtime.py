"""Local days of a time zone in unix seconds: where "today" starts, how long a day is.

Pure: instants are passed in. A local day is every second whose local date is that day,
so it lasts 23 h or 25 h on DST days, and where DST skips midnight (America/Santiago,
Asia/Beirut) it starts when the clock jumps to 01:00. Found by bisection, these need no
case of their own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400
UTC = ZoneInfo("UTC")
_EPOCH = date(1970, 1, 1).toordinal()
_MARGIN = 36 * 3600  # wider than any UTC offset a zone has ever had


def zone_named(name: str) -> ZoneInfo:
    """The time zone of the IANA ``name``; ValueError if this system knows none such."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def wall_clock(zone: ZoneInfo, instant: float) -> tuple[date, int]:
    """What the local clock shows at ``instant``: the date and the second of that day."""
    local = datetime.fromtimestamp(instant, zone)
    return local.date(), local.hour * 3600 + local.minute * 60 + local.second


def local_midnight(zone: ZoneInfo, instant: float) -> int:
    """The first second of ``instant``'s local day, where "today" starts.

    Where the clock goes back over midnight (America/Havana repeats 00:00-01:00), the
    first midnight: the day is one day, not two.
    """
    return _day_start(zone, wall_clock(zone, instant)[0])


def day_bounds(zone: ZoneInfo, day: date) -> tuple[int, int]:
    """``(start, end)`` of the local calendar ``day``, end excluded."""
    return _day_start(zone, day), _day_start(zone, day + timedelta(days=1))


def utc_midnight(day: date) -> int:
    """The unix seconds of ``day``'s 00:00 read as UTC: a local time minus its offset."""
    return (day.toordinal() - _EPOCH) * DAY


def _day_start(zone: ZoneInfo, day: date) -> int:
    """The first second whose local date is ``day``."""
    lo = utc_midnight(day) - _MARGIN  # local date before ``day``
    hi = lo + 2 * _MARGIN  # local date ``day`` or after
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if wall_clock(zone, mid)[0] >= day:
            hi = mid
        else:
            lo = mid
    return hi


def offset_changes(zone: ZoneInfo, start: int, end: int) -> list[int]:
    """The seconds in ``(start, end)`` from which the UTC offset differs from the second
    before. Sampled hourly, then bisected: no zone has changed its offset twice in an hour."""
    found = []
    for lo in range(start, end, 3600):
        hi = min(lo + 3600, end)
        if utc_offset(zone, lo) == utc_offset(zone, hi):
            continue
        a, b = lo, hi
        while b - a > 1:
            mid = (a + b) // 2
            a, b = (mid, b) if utc_offset(zone, mid) == utc_offset(zone, a) else (a, mid)
        if b < end:
            found.append(b)
    return found


def utc_offset(zone: ZoneInfo, instant: int) -> int:
    """Local time minus UTC at ``instant``, in seconds."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


class LocalDays:
    """The bounds of the local day around an instant, the last day found kept.

    Finding a day costs two bisections (some 60 µs); records come in time order, so the
    initial lookback of a week finds eight days however many records it holds.

    >>> days = LocalDays(ZoneInfo("Europe/Stockholm"))
    >>> days.bounds(1_774_785_600)  # 2026-03-29 12:00 UTC, the day DST starts: 23 h
    (1774738800, 1774821600)
    """

    __slots__ = ("end", "start", "zone")

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.start = self.end = 0

    def bounds(self, instant: float) -> tuple[int, int]:
        """``(start, end)`` of the local day of ``instant``, end excluded."""
        if not self.start <= instant < self.end:
            self.start, self.end = day_bounds(self.zone, wall_clock(self.zone, instant)[0])
        return self.start, self.end
