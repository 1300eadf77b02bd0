"""Response bytes -> ``Record`` values.

Pure functions, no I/O. A response is parsed whole before anything is applied, so a body
that cannot be parsed at all raises ``InvalidResponseError`` and changes nothing, while a
single malformed row is skipped and counted:

>>> parse(b"1,joe,1554108536,Login\\n2,joe,1554108578,Logout\\n", "csv")
Parsed(records=[Record(name='joe', timestamp=1554108536, action='Login'), \
Record(name='joe', timestamp=1554108578, action='Logout')], invalid=0)

The row ``id`` is a running number within one response, not a record identity, so it is
dropped here: a record is identified by ``(name, timestamp, action)``.
"""

from __future__ import annotations

import csv
import json
from typing import Literal, NamedTuple

from exporter.errors import InvalidResponseError

LOGIN = "Login"
LOGOUT = "Logout"
ACTIONS = frozenset((LOGIN, LOGOUT))

Format = Literal["csv", "json"]


class Record(NamedTuple):
    """One login or logout of one agent, as the logio API reports it."""

    name: str
    timestamp: int
    action: str


class Parsed(NamedTuple):
    """The valid records of one response, in response order, and how many rows were not."""

    records: list[Record]
    invalid: int
