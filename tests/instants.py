"""Exact unix seconds for tests, written as UTC wall times so a reader checks them by hand."""

from __future__ import annotations

import calendar


def utc(*fields: int) -> int:
    """Unix seconds of a UTC wall time: ``utc(2026, 3, 29, 1)`` is 01:00 UTC, 29 March 2026."""
    return calendar.timegm((*fields, *(0,) * (6 - len(fields)), 0, 0, 0))
