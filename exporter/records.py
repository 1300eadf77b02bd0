"""Response bytes -> ``Record`` values.

Pure functions, no I/O. A response is parsed whole before anything is applied, so a body
that cannot be parsed at all raises ``InvalidResponseError`` and changes nothing, while a
single malformed row is skipped and counted:

>>> parse(b"1,joe,1554108536,Login\\n2,joe,1554108578,Logout\\n", "csv")
Parsed(records=[Record(name='joe', timestamp=1554108536, action='Login'), \
Record(name='joe', timestamp=1554108578, action='Logout')], invalid=[])

The row ``id`` is a running number within one response, not a record identity, so it is
dropped here: a record is identified by ``(name, timestamp, action)``.
"""

from __future__ import annotations

import csv
import io
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
    """The valid records of one response in response order, and the rows that were not.

    An invalid row is kept as its text without the running ``id``, so a row re-read by
    an overlapping poll is recognised and counted once.
    """

    records: list[Record]
    invalid: list[str]


def parse(body: bytes, fmt: Format) -> Parsed:
    """Parse a whole logio body; raise ``InvalidResponseError`` if it is not one at all."""
    if _looks_like_html(body):
        raise InvalidResponseError("got an HTML page instead of logio records")
    return parse_json(body) if fmt == "json" else parse_csv(body)


def parse_csv(body: bytes) -> Parsed:
    """Headerless ``id,name,timestamp,action`` rows; LF or CRLF; empty body is no rows."""
    text = _decode(body)
    records: list[Record] = []
    invalid: list[str] = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if not row:
                continue
            record = _from_csv_row(row)
            if record is None:
                invalid.append(json.dumps(row[1:], ensure_ascii=False))
            else:
                records.append(record)
    except csv.Error as exc:  # only a field past csv.field_size_limit gets here
        raise InvalidResponseError(f"CSV body cannot be parsed: {exc}") from None
    return Parsed(records, invalid)


def parse_json(body: bytes) -> Parsed:
    """A JSON array of ``{"id", "name", "timestamp", "action"}`` objects."""
    try:
        rows = json.loads(body) if body.strip() else []
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError(f"JSON body cannot be parsed: {exc}") from None
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
    if not timestamp.isdigit() or not timestamp.isascii():
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
    return json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)


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
