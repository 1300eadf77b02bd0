"""Response bytes -> records: CSV and JSON read, each row judged by the one row rule.

Pure functions, no I/O. A response is parsed whole before anything is applied, so a body
that cannot be parsed at all raises ``InvalidResponseError`` and changes nothing, while a
single malformed row is skipped and counted:

>>> parse(b"1,joe,1554108536,Login\\n2,joe,1554108578,Logout\\n", "csv")
Parsed(records=[Record(name='joe', timestamp=1554108536, action='Login'), \
Record(name='joe', timestamp=1554108578, action='Logout')], invalid=[])

Whether a row is a record is decided by ``exporter.core.records.record`` alone; this module
only reads the three values out of a row. Bytes that are not UTF-8 spoil only the rows
holding them, through every entry point: they decode to lone surrogates, which no name
holds, so such a row is counted invalid instead of failing every poll that reads it again.

A week of a large contact center is a million rows, so ``parse_batch`` returns them as
columns (``Batch``) and takes fast paths for bodies of well-formed rows: CSV a chunk at a
time with ``str.split``, JSON with msgspec decoding each object into the three typed
fields. Each checks a batch with the rule's own parts (``is_name`` once per name,
``ACTIONS``, ``ints_in_range``), and whatever it cannot vouch for is parsed again row by
row, so both give the same answer.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal, cast

import msgspec

from exporter.core.records import (
    ACTION_OF,
    ACTIONS,
    Batch,
    Format,
    Parsed,
    Record,
    ints_in_range,
    is_name,
    record,
)
from exporter.errors import InvalidResponseError

_BOM = b"\xef\xbb\xbf"
_CHUNK = 16384
"""Characters of CSV split at once: small enough that a chunk's fields stay in cache."""


def parse(body: bytes, fmt: Format) -> Parsed:
    """Parse a whole logio body; raise ``InvalidResponseError`` if it is not one at all."""
    return parse_batch(body, fmt).parsed()


def parse_batch(body: bytes, fmt: Format, names: dict[str, str] | None = None) -> Batch:
    """``parse`` as columns.

    ``names`` holds names already accepted, each as the one string object records share;
    a caller that passes the same dict to every call saves checking them again, and the
    names it meets are added to it.
    """
    if _looks_like_html(body):
        raise InvalidResponseError("got an HTML page instead of logio records")
    known = {} if names is None else names
    return _json_batch(body, known) if fmt == "json" else _csv_batch(_text(body), known)


def parse_csv(body: bytes) -> Parsed:
    """Headerless ``id,name,timestamp,action`` rows; LF or CRLF; empty body is no rows."""
    return _csv_batch(_text(body), {}).parsed()


def parse_json(body: bytes) -> Parsed:
    """A JSON array of ``{"id", "name", "timestamp", "action"}`` objects."""
    return _json_batch(body, {}).parsed()


def _text(body: bytes) -> str:
    """The body as text, without a byte order mark; each byte that is not UTF-8 becomes a
    lone surrogate, which spoils the row it is in and nothing else."""
    return body.decode("utf-8-sig", "surrogateescape")


def _csv_batch(text: str, names: dict[str, str]) -> Batch:
    fast = _plain_csv(text, names)
    return _shared(Batch.of(_csv_rows(text)), names) if fast is None else fast


def _json_batch(body: bytes, names: dict[str, str]) -> Batch:
    fast = _typed_json(body, names)
    if fast is not None:
        return fast
    text = _text(body)  # a row the typed decode could not vouch for
    if not text.strip():
        return Batch.empty()
    return _shared(Batch.of(_json_rows(_json_values(text))), names)


if TYPE_CHECKING:
    _Action = str
else:  # a valid action, decoded as the one string object that ACTIONS holds for it
    _Action = Literal[tuple(sorted(ACTIONS))]


class _Row(msgspec.Struct, gc=False):
    """The three fields of a JSON row as the rule reads them; any other key is skipped.

    msgspec decodes a body straight into these, checking each type as it goes: a bool or
    a float is no ``int`` to it, an action is one of ``ACTIONS``, and a string holding a
    byte that is not UTF-8 or a lone surrogate is no JSON, so each such body fails the
    decode and is read row by row. A row cannot form a cycle, so the garbage collector
    need not track it.
    """

    name: str
    timestamp: int
    action: _Action


_ROWS = msgspec.json.Decoder(list[_Row])
_NAME, _TIME, _ACTION = attrgetter("name"), attrgetter("timestamp"), attrgetter("action")


def _typed_json(body: bytes, names: dict[str, str]) -> Batch | None:
    """The columns of ``body`` if it is an array of well-formed rows, else None.

    The decode vouches for the types and the actions; the rule's batch forms for the
    rest: ``ints_in_range``, and each name not met before through ``is_name``.
    """
    try:
        rows = _ROWS.decode(body.removeprefix(_BOM))
    except (msgspec.DecodeError, RecursionError):  # some row malformed, or no JSON at all
        return None
    stamps = list(map(_TIME, rows))
    if not ints_in_range(stamps):
        return None
    known = list(map(names.get, map(_NAME, rows)))
    if all(known):  # every name met before, as in all answers but a workspace's first
        shared: list[str] | None = cast("list[str]", known)
    else:
        shared = _shared_names(list(map(_NAME, rows)), names)
    return None if shared is None else Batch(shared, stamps, list(map(_ACTION, rows)), [])


def _json_values(text: str) -> Any:
    """The body's JSON values; a number too long for ``int`` is read as a ``Decimal``,
    which is no timestamp, so it spoils only its row."""
    try:
        return _json_loads(text)
    except ValueError:  # JSON errors are raised as InvalidResponseError, not caught here
        return _json_loads(text, parse_int=_json_int)


def _json_loads(text: str, **options: Any) -> Any:
    """``json.loads``; a body that is no JSON raises ``InvalidResponseError``, a number past
    int's digit limit the ``ValueError`` of ``int``."""
    try:
        return json.loads(text, **options)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidResponseError(f"JSON body cannot be parsed: {exc}") from None


def _json_int(digits: str) -> int | Decimal:
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


def _shared(batch: Batch, names: dict[str, str]) -> Batch:
    """``batch`` with each name replaced by the one object ``names`` holds for it, so a
    body read row by row holds its names once too; its names are valid ones."""
    shared = list(map(names.setdefault, batch.names, batch.names))
    return batch._replace(names=shared)


def _add(batch: Batch, checked: Record, names: dict[str, str]) -> None:
    batch.names.append(names.setdefault(checked.name, checked.name))
    batch.timestamps.append(checked.timestamp)
    batch.actions.append(checked.action)


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
    one is not, and then the caller drops the whole batch.

    Row by row, ``_csv_time`` and ``record`` judge each row; here the same tests run on
    the columns: all times ASCII digits, each new name through ``is_name``, each action a
    key of ``ACTION_OF``, and ``ints_in_range`` (``all_timestamps`` of known ints)."""
    fields = lines.replace("\n", ",\n,").split(",")  # a "\n" field between rows
    count = (len(fields) + 1) // 5
    if len(fields) != 5 * count - 1 or fields[4::5].count("\n") != count - 1:
        return False  # some row has other than four fields
    times = _times(fields[2::5])
    if times is None or not ints_in_range(times):
        return False
    shared = _shared_names(fields[1::5], names)
    if shared is None:
        return False
    try:
        batch.actions.extend(map(ACTION_OF.__getitem__, fields[3::5]))
    except KeyError:  # an action unknown
        return False
    batch.timestamps.extend(times)
    batch.names.extend(shared)
    return True


_INTS = msgspec.json.Decoder(list[int])


def _times(fields: list[str]) -> list[int] | None:
    """The int of each of one or more fields if all are ASCII digits, else None:
    ``_csv_time`` for a batch.

    msgspec reads the fields joined as one JSON array of ints, a third faster than ``int``
    on each. A JSON int is ASCII digits but for a minus sign or whitespace around it, which
    are looked for in the joined text; whatever else it refuses (a leading zero, a point,
    an empty field, other digits) is checked and read field by field.
    """
    joined = ",".join(fields)  # "" for one empty field, which "[]" would read as none
    if joined and not ("-" in joined or " " in joined or "\t" in joined):
        try:
            return _INTS.decode(joined.join("[]"))
        except msgspec.DecodeError:
            pass
    digits = "".join(fields)
    if not (digits.isdigit() and digits.isascii() and all(fields)):
        return None
    try:
        return list(map(int, fields))
    except ValueError:  # more digits than int reads
        return None


def _shared_names(row_names: list[str], names: dict[str, str]) -> list[str] | None:
    """The one object ``names`` holds for each name, or None if some name is no name.

    Names not met before go through ``is_name`` and join ``names``; when all are known,
    as in every poll but the first, this costs one lookup per row.
    """
    shared = list(map(names.get, row_names))
    if all(shared):  # no name is empty, and None is false
        return cast("list[str]", shared)
    new = set(row_names).difference(names)
    if not all(map(is_name, new)):
        return None
    names.update(zip(new, new, strict=True))
    return list(map(names.__getitem__, row_names))


def _add_quoted(line: str, batch: Batch, names: dict[str, str]) -> bool:
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return False
    if len(rows) != 1:
        return False
    checked = _from_csv_row(rows[0])
    if checked is None:
        batch.invalid.append(_invalid_key(rows[0][1:]))
    else:
        _add(batch, checked, names)
    return True


# Row by row: what each row means, whatever the body looks like.


def _csv_rows(text: str) -> Parsed:
    records: list[Record] = []
    invalid: list[str] = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if not row:
                continue
            checked = _from_csv_row(row)
            if checked is None:
                invalid.append(_invalid_key(row[1:]))
            else:
                records.append(checked)
    except csv.Error as exc:  # only a field past csv.field_size_limit gets here
        raise InvalidResponseError(f"CSV body cannot be parsed: {exc}") from None
    return Parsed(records, invalid)


def _json_rows(rows: object) -> Parsed:
    if not isinstance(rows, list):
        raise InvalidResponseError(f"JSON body is a {type(rows).__name__}, not an array")
    records: list[Record] = []
    invalid: list[str] = []
    for row in rows:
        checked = _from_json_row(row)
        if checked is None:
            invalid.append(_row_key(row))
        else:
            records.append(checked)
    return Parsed(records, invalid)


def _from_csv_row(row: list[str]) -> Record | None:
    if len(row) != 4:
        return None
    _, name, timestamp, action = row
    return record(name, _csv_time(timestamp), action)


def _csv_time(field: str) -> int | None:
    """The number a field of ASCII digits spells, leading zeros and all; None for anything
    else (a sign, a space, a decimal point), and for more digits than ``int`` reads, which
    no timestamp has."""
    if not (field.isdigit() and field.isascii()):
        return None
    try:
        return int(field.lstrip("0") or "0")
    except ValueError:
        return None


def _from_json_row(row: object) -> Record | None:
    if not isinstance(row, dict):
        return None
    return record(row.get("name"), row.get("timestamp"), row.get("action"))


def _row_key(row: object) -> str:
    if isinstance(row, dict):
        row = {k: v for k, v in row.items() if k != "id"}
    return _invalid_key(row, sort_keys=True, default=str)


def _invalid_key(row: object, **options: Any) -> str:
    """An invalid row as JSON text; a lone surrogate stays a ``\\udcxx`` escape, so the
    key can be written to the state file as UTF-8."""
    text = json.dumps(row, ensure_ascii=False, **options)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml"))
