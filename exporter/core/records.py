"""Response bytes -> ``Record`` values.

Pure functions, no I/O. A response is parsed whole before anything is applied, so a body
that cannot be parsed at all raises ``InvalidResponseError`` and changes nothing, while a
single malformed row is skipped and counted:

>>> parse(b"1,joe,1554108536,Login\\n2,joe,1554108578,Logout\\n", "csv")
Parsed(records=[Record(name='joe', timestamp=1554108536, action='Login'), \
Record(name='joe', timestamp=1554108578, action='Logout')], invalid=[])

The row ``id`` is a running number within one response, not a record identity, so it is
dropped here: a record is identified by ``(name, timestamp, action)``.

A week of a large contact center is a million rows, so ``parse_batch`` returns them as
columns (``Batch``) and takes fast paths for bodies of well-formed rows: CSV a chunk at a
time with ``str.split``, JSON with an object hook that keeps only the three fields.
Whatever a fast path cannot vouch for is parsed again by the row-by-row rules, so both
give the same answer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from itertools import islice, repeat
from operator import le
from typing import Any, Literal, NamedTuple

from exporter.errors import InvalidResponseError

LOGIN = "Login"
LOGOUT = "Logout"
ACTIONS = frozenset((LOGIN, LOGOUT))

Format = Literal["csv", "json"]
Row = tuple[str, int, str]
"""``(name, timestamp, action)``: a ``Record`` or a plain tuple of the same values."""

_ACTION_OF = {action: action for action in ACTIONS}
"""Each valid action to the one string object that stands for it in every record."""
_TAKEN = object()
"""What the JSON object hook leaves of a record it took: no JSON value decodes to it."""
_CHUNK = 16384
"""Characters of CSV split at once: small enough that a chunk's fields stay in cache."""
_new_tuple = tuple.__new__


class Record(NamedTuple):
    """One login or logout of one agent, as the logio API reports it."""

    name: str
    timestamp: int
    action: str


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
        stamps = self.timestamps
        return all(map(le, stamps, islice(stamps, 1, None)))

    def parsed(self) -> Parsed:
        return Parsed(self.records(), self.invalid)


def parse(body: bytes, fmt: Format) -> Parsed:
    """Parse a whole logio body; raise ``InvalidResponseError`` if it is not one at all."""
    return parse_batch(body, fmt).parsed()


def parse_batch(body: bytes, fmt: Format, names: dict[str, str] | None = None) -> Batch:
    """``parse`` as columns.

    ``names`` holds names already accepted, each as the one string object records share;
    a caller that passes the same dict to every call saves checking them again, and the
    names it meets are added to it.

    Bytes that are not UTF-8 spoil only the rows holding them: they decode to lone
    surrogates, which no valid name holds, so each such row is counted invalid instead of
    failing every poll that reads it again.
    """
    if _looks_like_html(body):
        raise InvalidResponseError("got an HTML page instead of logio records")
    text = body.decode("utf-8-sig", "surrogateescape")
    known = {} if names is None else names
    return _json_batch(text, known) if fmt == "json" else _csv_batch(text, known)


def parse_csv(body: bytes) -> Parsed:
    """Headerless ``id,name,timestamp,action`` rows; LF or CRLF; empty body is no rows."""
    return _csv_batch(body).parsed()


def parse_json(body: bytes) -> Parsed:
    """A JSON array of ``{"id", "name", "timestamp", "action"}`` objects."""
    return _json_batch(body).parsed()


def _csv_batch(body: bytes | str, names: dict[str, str] | None = None) -> Batch:
    text = body if isinstance(body, str) else _decode(body)
    fast = _plain_csv(text, {} if names is None else names)
    return Batch.of(_csv_rows(text)) if fast is None else fast


def _json_batch(body: bytes | str, names: dict[str, str] | None = None) -> Batch:
    if not body.strip():
        return Batch.empty()
    batch = Batch.empty()
    rows = _json_loads(body, _json_hook(batch, {} if names is None else names))
    if isinstance(rows, list) and len(batch.names) == len(rows) == rows.count(_TAKEN):
        return batch
    return Batch.of(_json_rows(_json_loads(body)))  # a row the hook could not vouch for


def _json_loads(body: bytes | str, hook: Callable[[dict[str, Any]], object] | None = None) -> Any:
    try:
        return json.loads(body, object_hook=hook)
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError(f"JSON body cannot be parsed: {exc}") from None


def _json_hook(batch: Batch, names: dict[str, str]) -> Callable[[dict[str, Any]], object]:
    """An ``object_hook`` that moves each valid record into ``batch``, leaving ``_TAKEN``.

    Each object is read while the decoder has just built it, and then freed, rather than
    a million dicts held until the array ends. An object nested in some other value may
    be taken too: then more are taken than the array holds, or the array holds something
    else than ``_TAKEN``, and the body is parsed again.
    """
    add_name, add_time, add_action = (
        batch.names.append,
        batch.timestamps.append,
        batch.actions.append,
    )

    def take(row: dict[str, Any]) -> object:
        try:
            name, stamp, action = names[row["name"]], row["timestamp"], _ACTION_OF[row["action"]]
        except (KeyError, TypeError):  # a name first seen, a key missing, a list as value
            return _take_checked(row, batch, names)
        if type(stamp) is not int or stamp < 0:
            return row
        add_name(name)
        add_time(stamp)
        add_action(action)
        return _TAKEN

    return take


def _take_checked(row: dict[str, Any], batch: Batch, names: dict[str, str]) -> object:
    record = _from_json_row(row)
    if record is None:
        return row
    _add(batch, record, names)
    return _TAKEN


def _add(batch: Batch, record: Record, names: dict[str, str]) -> None:
    name = names.setdefault(record.name, record.name)
    batch.names.append(name)
    batch.timestamps.append(record.timestamp)
    batch.actions.append(_ACTION_OF[record.action])


# CSV, the fast path. A chunk of lines without a quote, a lone CR or a NUL parses with
# ``str.split`` exactly as with the csv module, provided each line has four fields; a
# line with a quote is parsed alone, and must come out as one row, which proves no quoted
# field runs over into the next line.


def _plain_csv(text: str, names: dict[str, str]) -> Batch | None:
    """The columns of ``text`` if every row is simple enough to vouch for, else None."""
    if "\x00" in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    text = text.removesuffix("\n")
    batch, limit = Batch.empty(), csv.field_size_limit()
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start + _CHUNK)
        stop = end if stop < 0 else stop
        if not _add_chunk(text[start:stop], batch, names, limit):
            return None
        start = stop + 1
    return batch


def _add_chunk(chunk: str, batch: Batch, names: dict[str, str], limit: int) -> bool:
    if len(chunk) > limit and max(map(len, chunk.split("\n"))) > limit:
        return False  # the csv module refuses a field that long
    start, quote = 0, chunk.find('"')
    while quote >= 0:  # a few lines of a chunk at most: quoted names are rare
        begin = chunk.rfind("\n", 0, quote) + 1
        end = chunk.find("\n", quote)
        end = len(chunk) if end < 0 else end
        if begin > start and not _add_lines(chunk[start : begin - 1], batch, names):
            return False
        if not _add_quoted(chunk[begin:end], batch, names):
            return False
        start, quote = end + 1, chunk.find('"', end)
    return start >= len(chunk) or _add_lines(chunk[start:], batch, names)


def _add_lines(lines: str, batch: Batch, names: dict[str, str]) -> bool:
    """Add LF-separated rows of four unquoted fields if all are valid; False as soon as
    one is not, and then the caller drops the whole batch."""
    fields = lines.replace("\n", ",\n,").split(",")  # a "\n" field between rows
    count = (len(fields) + 1) // 5
    if len(fields) != 5 * count - 1 or fields[4::5].count("\n") != count - 1:
        return False  # some row has other than four fields
    stamps, row_names = fields[2::5], fields[1::5]
    digits = "".join(stamps)
    if not (digits.isdigit() and digits.isascii() and all(stamps)):
        return False
    if not _accept(row_names, names):
        return False
    try:
        batch.actions.extend(map(_ACTION_OF.__getitem__, fields[3::5]))
        batch.timestamps.extend(map(int, stamps))
    except (KeyError, ValueError):  # an action unknown; a time past int's digit limit
        return False
    batch.names.extend(map(names.__getitem__, row_names))
    return True


def _accept(row_names: list[str], names: dict[str, str]) -> bool:
    """Whether every name is valid; new ones join ``names``, the shared objects."""
    if all(map(names.__contains__, row_names)):
        return True
    new = set(row_names).difference(names)
    if "" in new or not all(map(str.isprintable, new)):
        return False
    names.update(zip(new, new, strict=True))
    return True


def _add_quoted(line: str, batch: Batch, names: dict[str, str]) -> bool:
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return False
    if len(rows) != 1:
        return False
    record = _from_csv_row(rows[0])
    if record is None:
        batch.invalid.append(_invalid_key(rows[0][1:]))
    else:
        _add(batch, record, names)
    return True


# The row-by-row rules: what each row means, whatever the body looks like.


def _csv_rows(text: str) -> Parsed:
    records: list[Record] = []
    invalid: list[str] = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if not row:
                continue
            record = _from_csv_row(row)
            if record is None:
                invalid.append(_invalid_key(row[1:]))
            else:
                records.append(record)
    except csv.Error as exc:  # only a field past csv.field_size_limit gets here
        raise InvalidResponseError(f"CSV body cannot be parsed: {exc}") from None
    return Parsed(records, invalid)


def _json_rows(rows: object) -> Parsed:
    if not isinstance(rows, list):
        raise InvalidResponseError(f"JSON body is a {type(rows).__name__}, not an array")
    records: list[Record] = []
    invalid: list[str] = []
    for row in rows:
        record = _from_json_row(row)
        if record is None:
            invalid.append(_row_key(row))
        else:
            records.append(record)
    return Parsed(records, invalid)


def _from_csv_row(row: list[str]) -> Record | None:
    if len(row) != 4:
        return None
    _, name, timestamp, action = row
    if not timestamp.isdigit() or not timestamp.isascii() or len(timestamp) > 18:
        return None
    return _checked(name, int(timestamp), action)


def _from_json_row(row: object) -> Record | None:
    if not isinstance(row, dict):
        return None
    name, timestamp, action = row.get("name"), row.get("timestamp"), row.get("action")
    if type(timestamp) is not int or not isinstance(name, str) or not isinstance(action, str):
        return None
    return _checked(name, timestamp, action)


def _row_key(row: object) -> str:
    if isinstance(row, dict):
        row = {k: v for k, v in row.items() if k != "id"}
    return _invalid_key(row, sort_keys=True, default=str)


def _invalid_key(row: object, **options: Any) -> str:
    """An invalid row as JSON text; a lone surrogate stays a ``\\udcxx`` escape, so the
    key can be written to the state file as UTF-8."""
    text = json.dumps(row, ensure_ascii=False, **options)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _checked(name: str, timestamp: int, action: str) -> Record | None:
    """Keep a row only if each field can be trusted as a label value or a time."""
    if action not in ACTIONS or timestamp < 0 or not name or not name.isprintable():
        return None
    return Record(name, timestamp, action)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidResponseError(f"body is not UTF-8 at byte {exc.start}") from None


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml"))
