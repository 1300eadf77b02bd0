"""The values the core works on, and the one rule that makes a logio row a record.

A row ``id,name,timestamp,action`` is a record when ``record`` says so:

>>> record("joe", 1554108536, "Login")
Record(name='joe', timestamp=1554108536, action='Login')
>>> record("joe", 1554108536, "login") is None
True

The parsers (``exporter.core.parsing``) only turn CSV or JSON into those three values and
ask this rule, or a form of it for a whole batch that gives the same answer. The row ``id``
is a running number within one response, not a record identity, so it is dropped: a record
is identified by ``(name, timestamp, action)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Literal, NamedTuple, TypeGuard, cast

LOGIN = "Login"
LOGOUT = "Logout"
ACTIONS = frozenset((LOGIN, LOGOUT))
ACTION_OF = {action: action for action in ACTIONS}
"""Each valid action to the one string object that stands for it in every record: a key
of it is an action, so a batch of actions is checked by looking each one up."""

MAX_TIMESTAMP = 253402300799
"""9999-12-31T23:59:59Z: the last second that ``datetime`` holds and four digits of year
write, so the time of every record can be printed; a later time is no clock's."""
TIMESTAMPS = range(MAX_TIMESTAMP + 1)
"""Every valid timestamp: from 0, the epoch, to ``MAX_TIMESTAMP``."""

Format = Literal["csv", "json"]
Row = tuple[str, int, str]
"""``(name, timestamp, action)``: a ``Record`` or a plain tuple of the same values."""
_new_tuple = tuple.__new__


class Record(NamedTuple):
    """One login or logout of one agent, as the logio API reports it."""

    name: str
    timestamp: int
    action: str


def record(name: object, timestamp: object, action: object) -> Record | None:
    """The row rule: the record these three values make, or None if the row is malformed.

    Each part must be one that a label value, a clock and the session rules can take:
    a name (``is_name``), a timestamp in ``TIMESTAMPS`` (``is_timestamp``), and ``Login``
    or ``Logout`` exactly.
    """
    if is_name(name) and is_timestamp(timestamp) and isinstance(action, str):
        shared = ACTION_OF.get(action)
        if shared is not None:
            return Record(name, timestamp, shared)
    return None


def is_name(value: object) -> TypeGuard[str]:
    """Any non-empty text is an agent's name, whatever characters it holds.

    A tab, a line break, a zero-width joiner in an emoji or a NUL are all part of some
    name, and the expositions escape what needs it. Only text holding a lone surrogate is
    no name: a byte that is not UTF-8 decodes to one, as does a JSON ``\\ud800``, and
    neither can be written as UTF-8 to ``/metrics`` or to the state file.

    >>> [is_name(text) for text in ("ann", "a\\tb", "\\u200d", "", "Jos\\udce9")]
    [True, True, True, False, False]
    """
    if not isinstance(value, str) or not value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_timestamp(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a time in ``TIMESTAMPS``; a bool or a float is no timestamp."""
    return type(value) is int and value in TIMESTAMPS


def all_timestamps(values: Sequence[object]) -> bool:
    """``all(map(is_timestamp, values))`` in passes of C instead of a call per value: all
    are ints (no bool, no float) when their types are ``{int}``, then ``ints_in_range``.

    >>> all_timestamps([0, 7, MAX_TIMESTAMP]), all_timestamps([5, True]), all_timestamps([6.0])
    (True, False, False)
    """
    return set(map(type, values)) <= {int} and ints_in_range(cast("Sequence[int]", values))


def ints_in_range(ints: Sequence[int]) -> bool:
    """``all_timestamps`` of values known to be ints: ``TIMESTAMPS`` is an interval, so
    all are in it when the least and the greatest are.

    >>> ints_in_range([]), ints_in_range([0, MAX_TIMESTAMP]), ints_in_range([5, -1])
    (True, True, False)
    >>> ints_in_range([5, MAX_TIMESTAMP + 1])
    False
    """
    return not ints or (min(ints) in TIMESTAMPS and max(ints) in TIMESTAMPS)


class Parsed(NamedTuple):
    """The valid records of one response in response order, and the rows that were not.

    An invalid row is kept as its text without the running ``id``, so a row re-read by
    an overlapping poll is recognised and counted once.
    """

    records: list[Record]
    invalid: list[str]


class Batch(NamedTuple):
    """``Parsed`` as columns: three lists hold a million records where records would take
    a million objects, each tracked by the garbage collector. Names and actions are
    shared string objects."""

    names: list[str]
    timestamps: list[int]
    actions: list[str]
    invalid: list[str]

    @classmethod
    def empty(cls) -> Batch:
        return cls([], [], [], [])

    @classmethod
    def of(cls, parsed: Parsed) -> Batch:
        names = [record.name for record in parsed.records]
        timestamps = [record.timestamp for record in parsed.records]
        actions = [record.action for record in parsed.records]
        return cls(names, timestamps, actions, parsed.invalid)

    def rows(self, start: int = 0, stop: int | None = None) -> Iterator[Row]:
        """The ``(name, timestamp, action)`` tuples of ``[start:stop]``."""
        names, stamps = self.names[start:stop], self.timestamps[start:stop]
        return zip(names, stamps, self.actions[start:stop], strict=True)

    def records(self, start: int = 0, stop: int | None = None) -> list[Record]:
        return list(map(_new_tuple, repeat(Record), self.rows(start, stop)))

    def in_time_order(self) -> bool:
        """Whether no time is earlier than the one before it: a sorted copy of times in
        order is equal to them, and sorting sorted ints is a pass of C (7x ``map(le)``)."""
        return self.timestamps == sorted(self.timestamps)

    def parsed(self) -> Parsed:
        return Parsed(self.records(), self.invalid)
