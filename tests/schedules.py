"""The schedule of issue 10's example, as a config file writes it: the tests' Stockholm."""

from __future__ import annotations

ISSUE_EXAMPLE = """\
schedule:
  timezone: Europe/Stockholm
  hours:
    mon-fri: ["08:00-17:00"]
    sat: ["10:00-14:00"]
  closed: [2026-12-24, 2026-12-25, 2027-01-01]
  staffing:
    mon-fri: {"08:00-12:00": 5, "12:00-17:00": 3}
    sat: {"10:00-14:00": 2}
"""
"""A top-level ``schedule:``; the holidays are YAML dates, which the loader reads as text."""
