"""Parsing logio response bodies into records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core.parsing import parse, parse_batch, parse_csv, parse_json
from exporter.core.records import (
    LOGIN,
    LOGOUT,
    Format,
    Parsed,
    Record,
    all_timestamps,
    ints_in_range,
    is_name,
)
from exporter.errors import InvalidResponseError

JOE_LOGIN = Record("joe", 1554108536, LOGIN)
JOE_LOGOUT = Record("joe", 1554108578, LOGOUT)


def json_body(*rows: object) -> bytes:
    return json.dumps(list(rows)).encode()


def row(id_: int, name: object, timestamp: object, action: object) -> dict[str, object]:
    return {"id": id_, "name": name, "timestamp": timestamp, "action": action}


class TestParseCsv:
    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            pytest.param(
                b"1,joe,1554108536,Login\n2,joe,1554108578,Logout\n",
                [JOE_LOGIN, JOE_LOGOUT],
                id="lf-trailing-newline",
            ),
            pytest.param(
                b"1,joe,1554108536,Login\n2,joe,1554108578,Logout",
                [JOE_LOGIN, JOE_LOGOUT],
                id="lf-no-trailing-newline",
            ),
            pytest.param(
                b"1,joe,1554108536,Login\r\n2,joe,1554108578,Logout\r\n",
                [JOE_LOGIN, JOE_LOGOUT],
                id="crlf",
            ),
            pytest.param(
                b"1,joe,1554108536,Login\n\n\n2,joe,1554108578,Logout\n\n",
                [JOE_LOGIN, JOE_LOGOUT],
                id="blank-lines",
            ),
            pytest.param(b"", [], id="empty"),
            pytest.param(b"\n", [], id="only-newline"),
            pytest.param(b"\r\n", [], id="only-crlf"),
        ],
    )
    def test_line_ends(self, body: bytes, expected: list[Record]) -> None:
        """LF, CRLF, trailing newlines and blank lines all yield the same records."""
        assert parse_csv(body) == Parsed(expected, [])

    @pytest.mark.parametrize(
        ("line", "name"),
        [
            pytest.param("1,Jane Doe,10,Login", "Jane Doe", id="space"),
            pytest.param('1,"Doe, Jane",10,Login', "Doe, Jane", id="comma"),
            pytest.param('1,"Jane ""JJ"" Doe",10,Login', 'Jane "JJ" Doe', id="double-quotes"),
            pytest.param('1,"a,""b"",c",10,Login', 'a,"b",c', id="comma-and-quotes"),
            pytest.param(
                "1,Zoë Ångström 李小龍 🎧,10,Login", "Zoë Ångström 李小龍 🎧", id="unicode"
            ),
            pytest.param('1,"Zoë, 李",10,Login', "Zoë, 李", id="quoted-unicode"),
            pytest.param("1, joe ,10,Login", " joe ", id="surrounding-spaces-kept"),
        ],
    )
    def test_names(self, line: str, name: str) -> None:
        """Agent names keep spaces, quoted commas, doubled quotes and any Unicode."""
        assert parse_csv(line.encode()) == Parsed([Record(name, 10, LOGIN)], [])

    def test_response_order_is_kept(self) -> None:
        """Records come back in the order of the rows, not sorted by time."""
        body = b"1,b,20,Login\n2,a,10,Login\n3,b,20,Login\n"
        assert parse_csv(body).records == [
            Record("b", 20, LOGIN),
            Record("a", 10, LOGIN),
            Record("b", 20, LOGIN),
        ]

    def test_leading_zeros_in_timestamp(self) -> None:
        """A timestamp written with leading zeros is the same number."""
        assert parse_csv(b"1,joe,0001554108536,Login\n").records == [JOE_LOGIN]

    def test_timestamp_zero(self) -> None:
        """Timestamp 0 is a valid, if odd, time."""
        assert parse_csv(b"1,joe,0,Logout\n").records == [Record("joe", 0, LOGOUT)]

    @pytest.mark.parametrize(
        ("line", "key"),
        [
            pytest.param("1,joe,10", '["joe", "10"]', id="three-fields"),
            pytest.param("1,joe,10,Login,x", '["joe", "10", "Login", "x"]', id="five-fields"),
            pytest.param("1", "[]", id="one-field"),
            pytest.param("1,joe,ten,Login", '["joe", "ten", "Login"]', id="word-timestamp"),
            pytest.param("1,joe,10.0,Login", '["joe", "10.0", "Login"]', id="float-timestamp"),
            pytest.param("1,joe,-10,Login", '["joe", "-10", "Login"]', id="negative-timestamp"),
            pytest.param("1,joe,+10,Login", '["joe", "+10", "Login"]', id="plus-sign"),
            pytest.param("1,joe, 10,Login", '["joe", " 10", "Login"]', id="spaced-timestamp"),
            pytest.param("1,joe,,Login", '["joe", "", "Login"]', id="empty-timestamp"),
            pytest.param(
                "1,joe,\u0661\u0660,Login", '["joe", "\u0661\u0660", "Login"]', id="arabic-digits"
            ),
            pytest.param("1,joe,10,login", '["joe", "10", "login"]', id="lowercase-action"),
            pytest.param("1,joe,10,Pause", '["joe", "10", "Pause"]', id="unknown-action"),
            pytest.param("1,joe,10,Login ", '["joe", "10", "Login "]', id="action-space"),
            pytest.param("1,joe,10,", '["joe", "10", ""]', id="empty-action"),
            pytest.param("1,,10,Login", '["", "10", "Login"]', id="empty-name"),
            pytest.param('1,"",10,Login', '["", "10", "Login"]', id="quoted-empty-name"),
            pytest.param(
                "1,joe,1234567890123456789,Login",
                '["joe", "1234567890123456789", "Login"]',
                id="nineteen-digits",
            ),
            pytest.param(
                "1,joe,253402300800,Login", '["joe", "253402300800", "Login"]', id="year-10000"
            ),
            pytest.param(
                '1,joe,"253402300800",Login', '["joe", "253402300800", "Login"]', id="quoted-time"
            ),
        ],
    )
    def test_malformed_row_is_skipped(self, line: str, key: str) -> None:
        """A malformed row is left out of the records and kept, without its id, as invalid."""
        body = f"1,anna,5,Login\n{line}\n3,anna,9,Logout\n".encode()
        assert parse_csv(body) == Parsed(
            [Record("anna", 5, LOGIN), Record("anna", 9, LOGOUT)], [key]
        )

    def test_invalid_row_key_ignores_the_id(self) -> None:
        """The same malformed row under another running id gives the same key."""
        first = parse_csv(b"7,joe,soon,Login\n")
        second = parse_csv(b"123,joe,soon,Login\n")
        assert first.invalid == second.invalid == ['["joe", "soon", "Login"]']

    def test_identical_malformed_rows_are_each_kept(self) -> None:
        """Two identical malformed rows in one answer are two invalid entries."""
        body = b"1,joe,x,Login\n2,joe,x,Login\n"
        assert parse_csv(body).invalid == ['["joe", "x", "Login"]', '["joe", "x", "Login"]']

    def test_byte_order_mark_is_dropped(self) -> None:
        """A UTF-8 byte order mark before the first row is not part of the data."""
        assert parse_csv(b'\xef\xbb\xbf1,"Doe, Jane",10,Login\n') == Parsed(
            [Record("Doe, Jane", 10, LOGIN)], []
        )

    def test_byte_order_mark_alone_is_empty(self) -> None:
        """A body holding only a byte order mark has no rows."""
        assert parse_csv(b"\xef\xbb\xbf") == Parsed([], [])

    def test_oversized_field_raises(self) -> None:
        """A field beyond the CSV field size limit makes the body unparseable."""
        name = "a" * (csv.field_size_limit() + 1)
        with pytest.raises(InvalidResponseError) as caught:
            parse_csv(f'1,"{name}",10,Login\n'.encode())
        assert str(caught.value).startswith("CSV body cannot be parsed: field larger than")


class TestParseJson:
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"[]", id="empty-array"),
            pytest.param(b"[]\n", id="empty-array-newline"),
            pytest.param(b"", id="empty-body"),
            pytest.param(b" \r\n", id="whitespace-body"),
            pytest.param(b"\xef\xbb\xbf[]", id="bom-empty-array"),
        ],
    )
    def test_empty(self, body: bytes) -> None:
        """An empty array, an empty body and a blank body are all no records."""
        assert parse_json(body) == Parsed([], [])

    def test_one_line_array(self) -> None:
        """The API's one-line array yields its records in order."""
        body = (
            b'[{"id":1,"name":"joe","timestamp":1554108536,"action":"Login"},'
            b'{"id":2,"name":"joe","timestamp":1554108578,"action":"Logout"}]'
        )
        assert parse_json(body) == Parsed([JOE_LOGIN, JOE_LOGOUT], [])

    def test_byte_order_mark_is_dropped(self) -> None:
        """A UTF-8 byte order mark before the array is not part of the data."""
        body = b"\xef\xbb\xbf" + json_body(row(1, "joe", 1554108536, "Login"))
        assert parse_json(body) == Parsed([JOE_LOGIN], [])

    @pytest.mark.parametrize(
        "name",
        [
            pytest.param("Jane Doe", id="space"),
            pytest.param("Doe, Jane", id="comma"),
            pytest.param('Jane "JJ" Doe', id="double-quotes"),
            pytest.param("back\\slash", id="backslash"),
            pytest.param("Zoë Ångström 李小龍 🎧", id="unicode"),
        ],
    )
    def test_names(self, name: str) -> None:
        """Agent names keep spaces, commas, quotes, backslashes and any Unicode."""
        body = json.dumps([row(1, name, 10, "Login")], ensure_ascii=False).encode()
        assert parse_json(body) == Parsed([Record(name, 10, LOGIN)], [])

    def test_escaped_unicode_name(self) -> None:
        r"""A name written with \u escapes decodes to the same text."""
        body = b'[{"id":1,"name":"Zo\\u00eb \\ud83c\\udfa7","timestamp":10,"action":"Login"}]'
        assert parse_json(body).records == [Record("Zoë 🎧", 10, LOGIN)]

    def test_missing_id_is_fine(self) -> None:
        """The running id is not needed to read a record."""
        body = b'[{"name":"joe","timestamp":10,"action":"Login"}]'
        assert parse_json(body).records == [Record("joe", 10, LOGIN)]

    def test_extra_keys_are_ignored(self) -> None:
        """Keys beyond the four documented ones do not spoil a row."""
        body = b'[{"id":1,"name":"joe","timestamp":10,"action":"Login","channel":"chat"}]'
        assert parse_json(body).records == [Record("joe", 10, LOGIN)]

    @pytest.mark.parametrize(
        ("item", "key"),
        [
            pytest.param(
                {"id": 2, "timestamp": 10, "action": "Login"},
                '{"action": "Login", "timestamp": 10}',
                id="missing-name",
            ),
            pytest.param(
                {"id": 2, "name": "joe", "action": "Login"},
                '{"action": "Login", "name": "joe"}',
                id="missing-timestamp",
            ),
            pytest.param(
                {"id": 2, "name": "joe", "timestamp": 10},
                '{"name": "joe", "timestamp": 10}',
                id="missing-action",
            ),
            pytest.param(
                row(2, "joe", "10", "Login"),
                '{"action": "Login", "name": "joe", "timestamp": "10"}',
                id="string-timestamp",
            ),
            pytest.param(
                row(2, "joe", 10.0, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": 10.0}',
                id="float-timestamp",
            ),
            pytest.param(
                row(2, "joe", True, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": true}',
                id="bool-timestamp",
            ),
            pytest.param(
                row(2, "joe", None, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": null}',
                id="null-timestamp",
            ),
            pytest.param(
                row(2, "joe", -10, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": -10}',
                id="negative-timestamp",
            ),
            pytest.param(
                row(2, 42, 10, "Login"),
                '{"action": "Login", "name": 42, "timestamp": 10}',
                id="number-name",
            ),
            pytest.param(
                row(2, ["joe"], 10, "Login"),
                '{"action": "Login", "name": ["joe"], "timestamp": 10}',
                id="list-name",
            ),
            pytest.param(
                row(2, "", 10, "Login"),
                '{"action": "Login", "name": "", "timestamp": 10}',
                id="empty-name",
            ),
            pytest.param(
                row(2, "joe", 10, "login"),
                '{"action": "login", "name": "joe", "timestamp": 10}',
                id="lowercase-action",
            ),
            pytest.param(
                row(2, "joe", 10, "Pause"),
                '{"action": "Pause", "name": "joe", "timestamp": 10}',
                id="unknown-action",
            ),
            pytest.param(
                row(2, "joe", 10, 1),
                '{"action": 1, "name": "joe", "timestamp": 10}',
                id="number-action",
            ),
            pytest.param(
                row(2, "jo\ud800e", 10, "Login"),
                '{"action": "Login", "name": "jo\\ud800e", "timestamp": 10}',
                id="lone-surrogate-in-name",
            ),
            pytest.param(
                row(2, "joe", 1234567890123456789, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": 1234567890123456789}',
                id="nineteen-digits",
            ),
            pytest.param(
                row(2, "joe", 253402300800, "Login"),
                '{"action": "Login", "name": "joe", "timestamp": 253402300800}',
                id="year-10000",
            ),
            pytest.param([2, "joe", 10, "Login"], '[2, "joe", 10, "Login"]', id="array-row"),
            pytest.param("joe", '"joe"', id="string-row"),
            pytest.param(None, "null", id="null-row"),
        ],
    )
    def test_malformed_row_is_skipped(self, item: object, key: str) -> None:
        """A malformed row is left out of the records and kept, without its id, as invalid."""
        body = json_body(row(1, "anna", 5, "Login"), item, row(3, "anna", 9, "Logout"))
        assert parse_json(body) == Parsed(
            [Record("anna", 5, LOGIN), Record("anna", 9, LOGOUT)], [key]
        )

    def test_invalid_row_key_ignores_the_id_and_key_order(self) -> None:
        """The same malformed row under another id and key order gives the same key."""
        first = parse_json(b'[{"id":7,"name":"joe","timestamp":"x","action":"Login"}]')
        second = parse_json(b'[{"action":"Login","timestamp":"x","name":"joe","id":99}]')
        assert (
            first.invalid
            == second.invalid
            == ['{"action": "Login", "name": "joe", "timestamp": "x"}']
        )

    def test_invalid_row_key_keeps_unicode(self) -> None:
        """The key of a malformed row keeps non-ASCII names readable."""
        body = json_body(row(1, "Zoë", "x", "Login"))
        assert parse_json(body).invalid == ['{"action": "Login", "name": "Zoë", "timestamp": "x"}']

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(
                b'[{"id":1,"name":"joe","timestamp":10,"action":"Login"},{"id":2,"na', id="cut"
            ),
            pytest.param(
                b'[{"id":1,"name":"joe","timestamp":10,"action":"Login"}', id="no-bracket"
            ),
            pytest.param(b"[", id="open-bracket"),
            pytest.param(b"1,joe,10,Login\n", id="csv"),
            pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep-nesting"),
        ],
    )
    def test_unparseable_body_raises(self, body: bytes) -> None:
        """A truncated or non-JSON body is not a logio answer."""
        with pytest.raises(InvalidResponseError) as caught:
            parse_json(body)
        assert str(caught.value).startswith("JSON body cannot be parsed: ")

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            pytest.param(b'{"id":1}', "JSON body is a dict, not an array", id="object"),
            pytest.param(b"null", "JSON body is a NoneType, not an array", id="null"),
            pytest.param(b'"records"', "JSON body is a str, not an array", id="string"),
            pytest.param(b"42", "JSON body is a int, not an array", id="number"),
        ],
    )
    def test_non_array_raises(self, body: bytes, message: str) -> None:
        """A JSON value other than an array is not a logio answer."""
        with pytest.raises(InvalidResponseError) as caught:
            parse_json(body)
        assert str(caught.value) == message


class TestParse:
    @pytest.mark.parametrize("fmt", ["csv", "json"])
    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"<!DOCTYPE html>\n<html><body>Login</body></html>", id="doctype"),
            pytest.param(b"<html><head><title>502</title></head></html>", id="html"),
            pytest.param(b"<HTML><BODY>Maintenance</BODY></HTML>", id="upper-case"),
            pytest.param(b"\r\n  <!doctype html><html></html>", id="leading-space"),
            pytest.param(b"<head><title>x</title></head>", id="head"),
            pytest.param(b"<body>x</body>", id="body"),
            pytest.param(b'<?xml version="1.0"?><error/>', id="xml"),
        ],
    )
    def test_html_page_raises(self, body: bytes, fmt: str) -> None:
        """An HTML or XML page instead of records is not a logio answer, in either format."""
        with pytest.raises(InvalidResponseError) as caught:
            parse(body, fmt)  # type: ignore[arg-type]
        assert str(caught.value) == "got an HTML page instead of logio records"

    def test_html_page_after_byte_order_mark_raises(self) -> None:
        """A byte order mark before an HTML page does not make it pass as CSV rows."""
        body = b"\xef\xbb\xbf<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n"
        with pytest.raises(InvalidResponseError) as caught:
            parse(body, "csv")
        assert str(caught.value) == "got an HTML page instead of logio records"

    def test_dispatches_csv(self) -> None:
        """Format csv reads headerless rows."""
        assert parse(b"1,joe,1554108536,Login\n", "csv") == Parsed([JOE_LOGIN], [])

    def test_dispatches_json(self) -> None:
        """Format json reads an array of objects."""
        body = json_body(row(1, "joe", 1554108536, "Login"))
        assert parse(body, "json") == Parsed([JOE_LOGIN], [])

    def test_name_starting_with_angle_bracket_is_a_record(self) -> None:
        """Only a page's opening tag marks HTML; a name starting with < is data."""
        assert parse(b"1,<joe>,10,Login\n", "csv").records == [Record("<joe>", 10, LOGIN)]


LAST_SECOND = 253402300799
"""9999-12-31T23:59:59Z, the latest valid timestamp, written out here."""

names = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
"""Any Unicode text: csv.writer quotes a line break, whichever it writes itself."""
records = st.lists(
    st.builds(
        Record,
        name=names.filter(lambda name: "\r" not in name),  # csv.writer leaves a lone CR bare
        timestamp=st.integers(min_value=0, max_value=LAST_SECOND),
        action=st.sampled_from([LOGIN, LOGOUT]),
    ),
    max_size=20,
)


class TestRoundTrip:
    @settings(max_examples=200, database=None)
    @given(records=records, lineterminator=st.sampled_from(["\n", "\r\n"]))
    def test_csv(self, records: list[Record], lineterminator: str) -> None:
        """Any records written by csv.writer, LF or CRLF, parse back exactly."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=lineterminator)
        for i, record in enumerate(records, start=1):
            writer.writerow([i, record.name, record.timestamp, record.action])
        assert parse(out.getvalue().encode(), "csv") == Parsed(records, [])

    @settings(max_examples=200, database=None)
    @given(records=records, ensure_ascii=st.booleans())
    def test_json(self, records: list[Record], ensure_ascii: bool) -> None:
        """Any records written by json.dumps, escaped or raw UTF-8, parse back exactly."""
        rows = [row(i, *record) for i, record in enumerate(records, start=1)]
        body = json.dumps(rows, ensure_ascii=ensure_ascii, separators=(",", ":")).encode()
        assert parse(body, "json") == Parsed(records, [])


def reference_rule(name: str, timestamp: str, action: str) -> Record | None:
    """The row rule written again: a name is any non-empty text holding no byte that is not
    UTF-8, a timestamp a whole number from 0 to the last second of year 9999, an action
    Login or Logout."""
    unicode = not any(0xD800 <= ord(char) <= 0xDFFF for char in name)
    digits = timestamp.lstrip("0") or "0"
    in_range = digits.isdecimal() and digits.isascii() and len(digits) <= 12
    if (
        name
        and unicode
        and in_range
        and int(digits) <= LAST_SECOND
        and action in ("Login", "Logout")
    ):
        return Record(name, int(digits), action)
    return None


UNDECODABLE = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCBF) | st.characters(
    min_codepoint=0xDCF8, max_codepoint=0xDCFF
)
"""Bytes 80-BF and F8-FF as surrogateescape decodes them: no two of them, nor one after
a character, make a character of UTF-8."""
odd_names = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)) | UNDECODABLE, max_size=8),
    st.sampled_from(["joe", "Jane\tDoe", "a,b", 'a"b', "two\nlines", "cr\rlf", "nul\x00"]),
)
odd_times = st.one_of(
    st.integers(0, LAST_SECOND).map(str),
    st.sampled_from([0, LAST_SECOND, LAST_SECOND + 1, 1234567890123456789, 10**30]).map(str),
    st.integers(-(10**20), 10**20).map(str),
    st.integers(4290, 4310).map(lambda zeros: "1" + "0" * zeros),  # about int's digit limit
)
odd_actions = st.sampled_from([LOGIN, LOGOUT, "login", "LOGOUT", "Logon", "", " Login", "Out\n"])
odd_rows = st.lists(st.tuples(odd_names, odd_times, odd_actions), max_size=12)


def csv_field(text: str, quote_all: bool) -> str:
    if quote_all or any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_body(rows: list[tuple[str, str, str]], quote_all: bool) -> bytes:
    lines = (
        ",".join(csv_field(field, quote_all) for field in (str(i), *fields)) + "\n"
        for i, fields in enumerate(rows, start=1)
    )
    return "".join(lines).encode("utf-8", "surrogateescape")


def json_body_of(rows: list[tuple[str, str, str]], ensure_ascii: bool) -> bytes:
    """An array of the rows, each timestamp written as the number literal it is."""

    def text(value: str) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii)

    objects = (
        f'{{"id":{i},"name":{text(name)},"timestamp":{stamp},"action":{text(action)}}}'
        for i, (name, stamp, action) in enumerate(rows, start=1)
    )
    return ("[" + ",".join(objects) + "]").encode("utf-8", "surrogateescape")


class TestOneRowRule:
    @settings(max_examples=500, deadline=None, database=None)
    @given(rows=odd_rows, ensure_ascii=st.booleans())
    def test_csv_quoted_csv_plain_and_json_agree_on_every_row(
        self, rows: list[tuple[str, str, str]], ensure_ascii: bool
    ) -> None:
        """The same rows as plain CSV, as CSV with every field quoted and as JSON give the
        records of the reference rule, and one invalid row for each row it refuses."""
        checked = [reference_rule(*fields) for fields in rows]
        expected = ([r for r in checked if r is not None], checked.count(None))
        bodies = {
            "csv-plain": (csv_body(rows, quote_all=False), "csv"),
            "csv-quoted": (csv_body(rows, quote_all=True), "csv"),
            "json": (json_body_of(rows, ensure_ascii), "json"),
        }
        got = {}
        for encoding, (body, fmt) in bodies.items():
            parsed = parse(body, fmt)  # type: ignore[arg-type]
            got[encoding] = (parsed.records, len(parsed.invalid))
        assert got == dict.fromkeys(bodies, expected)

    @pytest.mark.parametrize(
        ("stamp", "valid"),
        [
            pytest.param("0", True, id="epoch"),
            pytest.param("253402300799", True, id="last-second-of-9999"),
            pytest.param("253402300800", False, id="first-second-of-10000"),
            pytest.param("1234567890123456789", False, id="nineteen-digits"),
            pytest.param("9" * 5000, False, id="past-int-digit-limit"),
        ],
    )
    @pytest.mark.parametrize(
        ("read", "others"),
        [
            pytest.param(lambda s: parse_csv(b"1,joe,%s,Login\n" % s), 0, id="csv-plain"),
            pytest.param(lambda s: parse_csv(b'1,joe,"%s",Login\n' % s), 0, id="csv-quoted"),
            pytest.param(lambda s: parse_csv(b"1,joe,%s,Login\r" % s), 0, id="csv-row-by-row"),
            pytest.param(lambda s: parse(b"1,joe,%s,Login\n" % s, "csv"), 0, id="parse-csv"),
            pytest.param(
                lambda s: parse_batch(b"1,joe,%s,Login\n" % s, "csv", {"joe": "joe"}).parsed(),
                0,
                id="batch-csv-known-name",
            ),
            pytest.param(lambda s: parse_json(JOE_AT % s), 0, id="json"),
            pytest.param(lambda s: parse(JOE_AT % s, "json"), 0, id="parse-json"),
            pytest.param(
                lambda s: parse_batch(JOE_AT % s, "json", {"joe": "joe"}).parsed(),
                0,
                id="batch-json-known-name",
            ),
            pytest.param(lambda s: parse_json(b"[null," + JOE_AT[1:] % s), 1, id="json-row-by-row"),
        ],
    )
    def test_one_timestamp_bound_everywhere(
        self, read: Callable[[bytes], Parsed], others: int, stamp: str, valid: bool
    ) -> None:
        """Every path takes a time up to the last second of year 9999, and none later."""
        parsed = read(stamp.encode())
        expected = [Record("joe", int(stamp), LOGIN)] if valid else []
        assert (parsed.records, len(parsed.invalid)) == (expected, others + (not valid))

    @pytest.mark.parametrize(
        ("body", "fmt", "key"),
        [
            pytest.param(
                b"1,joe,%s,Login\n2,ann,10,Login\n", "csv", '["joe", "%s", "Login"]', id="csv"
            ),
            pytest.param(
                b'[{"id":1,"name":"joe","timestamp":%s,"action":"Login"},'
                b'{"id":2,"name":"ann","timestamp":10,"action":"Login"}]',
                "json",
                '{"action": "Login", "name": "joe", "timestamp": "%s"}',
                id="json",
            ),
        ],
    )
    def test_a_number_too_long_for_int_spoils_only_its_row(
        self, body: bytes, fmt: Format, key: str
    ) -> None:
        """A time of 5,000 digits is one invalid row, kept by its digits, not a failed answer."""
        digits = "9" * 5000
        assert parse(body % digits.encode(), fmt) == Parsed(
            [Record("ann", 10, LOGIN)], [key % digits]
        )

    def test_a_number_too_long_for_int_in_an_ignored_key_spoils_nothing(self) -> None:
        """The running id, or a key the exporter does not read, may hold any number."""
        body = b'[{"id":%s,"name":"joe","timestamp":10,"action":"Login","x":%s}]' % (
            b"7" * 5000,
            b"8" * 5000,
        )
        assert parse(body, "json") == Parsed([Record("joe", 10, LOGIN)], [])


class TestRuleParts:
    """The forms of the rule that the fast paths use give the reference's verdict."""

    @settings(max_examples=300, database=None)
    @given(
        values=st.lists(
            st.one_of(
                st.integers(-5, LAST_SECOND + 5),
                st.sampled_from([0, LAST_SECOND, LAST_SECOND + 1, -1, 10**30]),
                st.booleans(),
                st.floats(0, 10),
                st.none(),
                st.text(max_size=3),
            ),
            max_size=8,
        )
    )
    def test_all_timestamps(self, values: list[object]) -> None:
        """A batch passes exactly when every value is an int, not a bool, in the bound."""
        expected = all(type(v) is int and 0 <= v <= LAST_SECOND for v in values)
        assert all_timestamps(values) is expected

    @settings(max_examples=300, database=None)
    @given(values=st.lists(st.integers(-(10**13), 10**13), max_size=8))
    def test_ints_in_range(self, values: list[int]) -> None:
        """Ints pass exactly when each is from 0 to the last second of year 9999."""
        assert ints_in_range(values) is all(0 <= v <= LAST_SECOND for v in values)

    @settings(max_examples=300, database=None)
    @given(name=st.text(st.characters() | UNDECODABLE, max_size=6))
    def test_is_name(self, name: str) -> None:
        """A name is any text but the empty one and one holding a lone surrogate."""
        assert is_name(name) is (reference_rule(name, "1", LOGIN) is not None)


JOE_AT = b'[{"id":1,"name":"joe","timestamp":%s,"action":"Login"}]'


BAD_BYTES_CSV = b"1,ann,5,Login\n2,Jos\xe9,7,Login\n3,\xff\xfe,8,Login\n4,ann,9,Logout\n"
BAD_BYTES_JSON = (
    b'[{"id":1,"name":"ann","timestamp":5,"action":"Login"},'
    b'{"id":2,"name":"Jos\xe9","timestamp":7,"action":"Login"},'
    b'{"id":3,"name":"\xff\xfe","timestamp":8,"action":"Login"},'
    b'{"id":4,"name":"ann","timestamp":9,"action":"Logout"}]'
)
AROUND_BAD_BYTES = [Record("ann", 5, LOGIN), Record("ann", 9, LOGOUT)]
BAD_BYTES_CSV_KEYS = ['["Jos\\udce9", "7", "Login"]', '["\\udcff\\udcfe", "8", "Login"]']
BAD_BYTES_JSON_KEYS = [
    '{"action": "Login", "name": "Jos\\udce9", "timestamp": 7}',
    '{"action": "Login", "name": "\\udcff\\udcfe", "timestamp": 8}',
]


class TestUndecodable:
    """A byte that is not UTF-8 spoils the row holding it, through every entry point."""

    @pytest.mark.parametrize(
        ("read", "fmt"),
        [
            pytest.param(parse_csv, "csv", id="parse_csv"),
            pytest.param(lambda body: parse(body, "csv"), "csv", id="parse-csv"),
            pytest.param(lambda body: parse_batch(body, "csv").parsed(), "csv", id="batch-csv"),
            pytest.param(parse_json, "json", id="parse_json"),
            pytest.param(lambda body: parse(body, "json"), "json", id="parse-json"),
            pytest.param(lambda body: parse_batch(body, "json").parsed(), "json", id="batch-json"),
        ],
    )
    def test_only_its_row_is_invalid(self, read: Callable[[bytes], Parsed], fmt: str) -> None:
        """The rows around it are records; each spoiled row is kept by a key of UTF-8."""
        if fmt == "csv":
            body, keys = BAD_BYTES_CSV, BAD_BYTES_CSV_KEYS
        else:
            body, keys = BAD_BYTES_JSON, BAD_BYTES_JSON_KEYS
        assert read(body) == Parsed(AROUND_BAD_BYTES, keys)

    @pytest.mark.parametrize("fmt", ["csv", "json"])
    def test_a_quoted_name_and_a_known_one_alike(self, fmt: Format) -> None:
        """A quoted CSV field, or a body whose other names are known, changes nothing."""
        body = {
            "csv": b'1,ann,5,Login\n2,"Jos\xe9",7,Login\n',
            "json": b'[{"name":"ann","timestamp":5,"action":"Login"},'
            b'{"name":"Jos\xe9","timestamp":7,"action":"Login"}]',
        }[fmt]
        parsed = parse_batch(body, fmt, {"ann": "ann"}).parsed()
        assert (parsed.records, len(parsed.invalid)) == ([Record("ann", 5, LOGIN)], 1)
