"""The fast paths of parsing give what the row-by-row rules give, and step aside when unsure."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core import parsing
from exporter.core.parsing import parse_csv, parse_json
from exporter.core.records import LOGIN, LOGOUT, Batch, Format, Parsed, Record
from exporter.errors import InvalidResponseError


def row_by_row_csv(body: bytes) -> Parsed | type[Exception]:
    """The reference: every row through the csv module and the per-row checks."""
    try:
        return parsing._csv_rows(body.decode("utf-8-sig", "surrogateescape"))
    except (InvalidResponseError, ValueError) as exc:
        return type(exc)


def row_by_row_json(body: bytes) -> Parsed | type[Exception]:
    try:
        text = body.decode("utf-8-sig", "surrogateescape")
        return parsing._json_rows(json.loads(text) if text.strip() else [])
    except (InvalidResponseError, ValueError) as exc:
        return InvalidResponseError if isinstance(exc, ValueError) else type(exc)


def outcome(parse: object, body: bytes) -> Parsed | type[Exception]:
    try:
        return parse(body)  # type: ignore[operator, no-any-return]
    except (InvalidResponseError, ValueError) as exc:
        return type(exc)


def takes_csv_fast_path(body: bytes) -> bool:
    return parsing._plain_csv(body.decode("utf-8-sig", "surrogateescape"), {}) is not None


def write_csv(rows: list[list[str]], terminator: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(rows)
    return out.getvalue().encode()


names = st.one_of(
    st.sampled_from(["joe", "anna.lindqvist", "svensson, erik", 'erik "the viking"', "zoë"]),
    st.text(min_size=0, max_size=12),
)
stamps = st.one_of(
    st.integers(0, 2_000_000_000).map(str),
    st.sampled_from(["", "x", "-5", " 7", "+7", "1_0", "٣", "²", "0012"]),
    st.sampled_from(["253402300799", "253402300800", "1234567890123456789", "0" * 30 + "7"]),
)
actions = st.sampled_from([LOGIN, LOGOUT, LOGIN, LOGOUT, "login", "Logon", "", " Login"])
rows = st.lists(
    st.one_of(
        st.tuples(st.integers(1, 999).map(str), names, stamps, actions).map(list),
        st.lists(st.text(max_size=6), max_size=6),
    ),
    max_size=30,
)


good_names = st.text(min_size=1, max_size=12)
good_rows = st.lists(
    st.tuples(
        st.integers(1, 999).map(str),
        good_names,
        st.integers(0, 2_000_000_000).map(str),
        st.sampled_from([LOGIN, LOGOUT]),
    ).map(list),
    max_size=30,
)


class TestCsvFastPath:
    @settings(max_examples=300, deadline=None)
    @given(rows=good_rows, odd=st.one_of(st.none(), st.tuples(st.integers(0, 30), rows)))
    def test_good_bodies_parse_as_row_by_row(
        self, rows: list[list[str]], odd: tuple[int, list[list[str]]] | None
    ) -> None:
        """Valid rows, and now and then odd ones among them, give the row-by-row result."""
        if odd is not None:
            rows[odd[0] : odd[0]] = odd[1][:1]
        body = write_csv(rows)
        assert outcome(parse_csv, body) == row_by_row_csv(body)

    @settings(max_examples=400, deadline=None)
    @given(rows=rows, terminator=st.sampled_from(["\n", "\r\n"]))
    def test_any_body_parses_as_row_by_row(self, rows: list[list[str]], terminator: str) -> None:
        """Whatever rows a body holds, the result is the row-by-row result."""
        body = write_csv(rows, terminator)
        assert outcome(parse_csv, body) == row_by_row_csv(body)

    @settings(max_examples=200, deadline=None)
    @given(text=st.text(alphabet='ab1,"\n\r\x00 Login', max_size=80))
    def test_any_text_parses_as_row_by_row(self, text: str) -> None:
        """Even text that is hardly CSV gives the row-by-row result, or its error."""
        body = text.encode()
        assert outcome(parse_csv, body) == row_by_row_csv(body)

    def test_well_formed_rows_take_the_fast_path(self) -> None:
        """Plain, quoted and CRLF-terminated rows are split without the csv module."""
        body = write_csv(
            [["1", "joe", "10", LOGIN], ["2", "svensson, erik", "11", LOGOUT]] * 3000, "\r\n"
        )
        assert takes_csv_fast_path(body)
        assert parse_csv(body).records[:2] == [
            Record("joe", 10, LOGIN),
            Record("svensson, erik", 11, LOGOUT),
        ]

    def test_names_of_any_characters_take_the_fast_path(self) -> None:
        """A tab, a non-breaking space or a zero-width joiner is part of a name, not a
        reason to read the body row by row."""
        body = "1,Jane\tDoe,10,Login\n2,\u00a0,11,Login\n3,👩\u200d💻,12,Logout\n".encode()
        assert takes_csv_fast_path(body)
        assert parse_csv(body) == Parsed(
            [
                Record("Jane\tDoe", 10, LOGIN),
                Record("\u00a0", 11, LOGIN),
                Record("👩\u200d💻", 12, LOGOUT),
            ],
            [],
        )

    def test_records_share_name_and_action_objects(self) -> None:
        """Records of one agent hold one name object, so a day of them holds one string."""
        batch = parsing._plain_csv("1,joe,10,Login\n2,joe,11,Logout\n3,joe,12,Login\n", {})
        assert batch is not None
        assert batch.names[0] is batch.names[2]
        assert batch.actions[0] is batch.actions[2] is LOGIN

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("1,joe,10,Login,x\n2,11,Logout\n", id="five-then-three-fields"),
            pytest.param('1,"jo\ne",10,Login\n', id="quoted-line-break"),
            pytest.param('1,"joe,10,Login\n2,ann,11,Logout\n', id="unterminated-quote"),
            pytest.param('1,"jo"e,10,Login\n', id="text-after-closing-quote"),
            pytest.param("1,joe,10,Login\r2,ann,11,Logout\n", id="lone-cr"),
            pytest.param("1,joe,10,Login\n\n2,ann,11,Logout\n", id="empty-line"),
            pytest.param("1,jo\x00e,10,Login\n", id="nul"),
            pytest.param("1,joe,1x,Login\n", id="bad-time"),
            pytest.param("1,joe,10,Logon\n", id="bad-action"),
            pytest.param("1,,10,Login\n", id="no-name"),
            pytest.param("1,jo\udce9,10,Login\n", id="undecodable-name"),
            pytest.param("1,joe,253402300800,Login\n", id="year-10000"),
        ],
    )
    def test_anything_unusual_leaves_the_fast_path(self, text: str) -> None:
        """A body the split cannot vouch for is parsed row by row, with the same result."""
        assert parsing._plain_csv(text, {}) is None
        body = text.encode("utf-8", "surrogateescape")
        assert outcome(parse_csv, body) == row_by_row_csv(body)

    @pytest.mark.parametrize("fmt", ["csv", "json"])
    def test_names_passed_in_are_shared_across_bodies(self, fmt: Format) -> None:
        """With one names dict, records of later bodies hold the first body's name object."""
        bodies = {
            "csv": (b"1,joe,10,Login\n", b"1,joe,11,Logout\n"),
            "json": (
                b'[{"id":1,"name":"joe","timestamp":10,"action":"Login"}]',
                b'[{"id":1,"name":"joe","timestamp":11,"action":"Logout"}]',
            ),
        }[fmt]
        names: dict[str, str] = {}
        first = parsing.parse_batch(bodies[0], fmt, names)
        second = parsing.parse_batch(bodies[1], fmt, names)
        assert names == {"joe": "joe"}
        assert second.names[0] is first.names[0] is names["joe"]

    def test_a_quoted_row_among_plain_ones_keeps_its_place(self) -> None:
        """Rows come out in body order whether split or read by the csv module."""
        body = b'1,ann,10,Login\n2,"doe, jane",11,Login\n3,"x",oops,Login\n4,bob,12,Logout\n'
        assert takes_csv_fast_path(body)
        assert parse_csv(body) == Parsed(
            [Record("ann", 10, LOGIN), Record("doe, jane", 11, LOGIN), Record("bob", 12, LOGOUT)],
            ['["x", "oops", "Login"]'],
        )

    def test_a_field_past_the_csv_limit_fails_the_whole_body(self) -> None:
        """As with the csv module, a field too long makes the body unparseable."""
        name = "n" * (csv.field_size_limit() + 1)
        body = f"1,{name},10,Login\n".encode()
        assert outcome(parse_csv, body) is InvalidResponseError

    @settings(max_examples=500, deadline=None)
    @given(
        fields=st.lists(
            st.one_of(
                st.text("0123456789", min_size=1, max_size=30),
                st.sampled_from(["", "-5", "-0", " 7", "7 ", "\t7", "+7", "1e3", "1.0", "٣"]),
                st.sampled_from(["0" * 4400 + "7", "9" * 4400]),
            ),
            min_size=1,
            max_size=12,
        )
    )
    def test_times_are_read_as_int_reads_ascii_digits(self, fields: list[str]) -> None:
        """A batch of times is the ints ``int`` reads when every field is ASCII digits, and
        no batch at all when some field is not one or has more digits than ``int`` reads."""
        digits = all(field.isascii() and field.isdigit() for field in fields)
        try:
            expected = [int(field) for field in fields] if digits else None
        except ValueError:
            expected = None
        assert parsing._times(fields) == expected

    def test_a_time_of_too_many_digits_fails_as_row_by_row(self) -> None:
        """Past Python's digit limit for int, both paths fail alike."""
        body = b"1,joe," + b"9" * 5000 + b",Login\n"
        assert outcome(parse_csv, body) == row_by_row_csv(body)


def _nested(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2_000_000_000) | st.text(max_size=8),
    _nested,
    max_leaves=6,
)
json_rows = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "id": st.integers(1, 99),
                "name": st.one_of(names, json_values),
                "timestamp": st.one_of(
                    st.integers(-3, 2_000_000_000),
                    st.sampled_from([253402300799, 253402300800, 1234567890123456789]),
                    json_values,
                ),
                "action": st.one_of(actions, json_values),
            },
            optional={"extra": json_values},
        ),
        json_values,
    ),
    max_size=20,
)


good_json_rows = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(1, 99),
            "name": good_names,
            "timestamp": st.integers(0, 2_000_000_000),
            "action": st.sampled_from([LOGIN, LOGOUT]),
        }
    ),
    max_size=20,
)


class TestJsonFastPath:
    @settings(max_examples=300, deadline=None)
    @given(rows=good_json_rows, odd=st.one_of(st.none(), st.tuples(st.integers(0, 20), json_rows)))
    def test_good_arrays_parse_as_row_by_row(
        self, rows: list[object], odd: tuple[int, list[object]] | None
    ) -> None:
        """Valid objects, and now and then an odd one among them, give the row-by-row result."""
        if odd is not None:
            rows[odd[0] : odd[0]] = odd[1][:1]
        body = json.dumps(rows, ensure_ascii=False).encode()
        assert outcome(parse_json, body) == row_by_row_json(body)

    @settings(max_examples=400, deadline=None)
    @given(rows=json_rows)
    def test_any_array_parses_as_row_by_row(self, rows: list[object]) -> None:
        """Whatever an array holds, the result is the row-by-row result."""
        body = json.dumps(rows, ensure_ascii=False).encode()
        assert outcome(parse_json, body) == row_by_row_json(body)

    @settings(max_examples=100, deadline=None)
    @given(value=json_values)
    def test_any_json_value_parses_as_row_by_row(self, value: object) -> None:
        """A body that is not an array fails, or not, as row by row."""
        body = json.dumps(value).encode()
        assert outcome(parse_json, body) == row_by_row_json(body)

    def test_valid_rows_are_taken_by_the_typed_decode(self) -> None:
        """An array of valid objects is read by the typed decode alone; id and other keys,
        whatever they hold, are skipped."""
        body = (
            b'\xef\xbb\xbf [{"id":1,"name":"joe","timestamp":10,"action":"Login"},\n'
            b' {"x":{"name":"b","timestamp":true},"id":' + b"9" * 5000 + b","
            b'"action":"Logout","timestamp":11,"name":"ann","y":[null,"\xff"]}]\r\n'
        )
        assert parsing._typed_json(body, {}) == Batch(["joe", "ann"], [10, 11], [LOGIN, LOGOUT], [])

    @pytest.mark.parametrize(
        "row",
        [
            pytest.param(b'{"name":"a","timestamp":true,"action":"Login"}', id="bool-time"),
            pytest.param(b'{"name":"a","timestamp":10.0,"action":"Login"}', id="float-time"),
            pytest.param(b'{"name":"a","timestamp":1e3,"action":"Login"}', id="exponent-time"),
            pytest.param(b'{"name":"a","timestamp":-1,"action":"Login"}', id="negative-time"),
            pytest.param(
                b'{"name":"a","timestamp":253402300800,"action":"Login"}', id="year-10000"
            ),
            pytest.param(
                b'{"name":"a","timestamp":18446744073709551616,"action":"Login"}', id="past-64-bits"
            ),
            pytest.param(b'{"name":"a","timestamp":"10","action":"Login"}', id="string-time"),
            pytest.param(b'{"name":"a","action":"Login"}', id="missing-time"),
            pytest.param(b'{"name":"","timestamp":10,"action":"Login"}', id="empty-name"),
            pytest.param(b'{"name":["a"],"timestamp":10,"action":"Login"}', id="list-name"),
            pytest.param(b'{"name":"a\\ud800","timestamp":10,"action":"Login"}', id="surrogate"),
            pytest.param(b'{"name":"Jos\xe9","timestamp":10,"action":"Login"}', id="not-utf-8"),
            pytest.param(b'{"name":"a","timestamp":10,"action":"login"}', id="bad-action"),
            pytest.param(b"null", id="null-row"),
        ],
    )
    def test_a_malformed_row_leaves_the_typed_decode(self, row: bytes) -> None:
        """One row the rule refuses sends the body row by row: the typed decode gives up on
        all of it rather than keep a row the rule would not."""
        body = b'[{"name":"ann","timestamp":5,"action":"Login"},' + row + b"]"
        assert parsing._typed_json(body, {}) is None
        assert outcome(parse_json, body) == row_by_row_json(body)

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(
                b'[{"name":"a","timestamp":1,"action":"Login",'
                b'"x":{"name":"b","timestamp":2,"action":"Login"}},null]',
                id="record-nested-in-a-record-and-a-null",
            ),
            pytest.param(
                b'[[{"name":"b","timestamp":2,"action":"Login"}]]', id="record-nested-in-a-list"
            ),
            pytest.param(b'{"name":"a","timestamp":1,"action":"Login"}', id="object-not-array"),
            pytest.param(b'[{"name":"a","timestamp":true,"action":"Login"}]', id="bool-time"),
            pytest.param(b'[{"name":["a"],"timestamp":1,"action":"Login"}]', id="list-name"),
            pytest.param(
                b'[{"name":"a","n\\u0061me":"b","timestamp":1,"action":"Login"}]',
                id="escaped-duplicate-key",
            ),
            pytest.param(
                b'[{"name":"a","timestamp":1,"action":"Login","x":"\\ud800"}]',
                id="surrogate-in-an-ignored-key",
            ),
        ],
    )
    def test_what_the_typed_decode_cannot_vouch_for_is_parsed_again(self, body: bytes) -> None:
        """Nested records, nulls and odd values give exactly the row-by-row result."""
        assert outcome(parse_json, body) == row_by_row_json(body)

    def test_typed_rows_share_name_and_action_objects(self) -> None:
        """Rows of one agent hold one name object, and each action is the rule's own."""
        body = (
            b'[{"name":"joe","timestamp":10,"action":"Login"},'
            b'{"name":"joe","timestamp":11,"action":"Logout"},'
            b'{"name":"joe","timestamp":12,"action":"Login"}]'
        )
        batch = parsing._typed_json(body, {})
        assert batch is not None
        assert batch.names[0] is batch.names[2]
        assert batch.actions[0] is batch.actions[2] is LOGIN
        assert batch.actions[1] is LOGOUT

    def test_nesting_too_deep_fails_as_row_by_row(self) -> None:
        """Nesting past the decoders' depth, even in a key the exporter skips, is no answer,
        with the message the row-by-row path gives."""
        deep = b"[" * 100_000 + b"]" * 100_000
        body = b'[{"name":"a","timestamp":1,"action":"Login","x":' + deep + b"}]"
        with pytest.raises(InvalidResponseError, match=r"^JSON body cannot be parsed: "):
            parse_json(body)

    def test_a_body_read_row_by_row_shares_names_too(self) -> None:
        """A malformed row costs the body its fast path, not its shared name objects."""
        names: dict[str, str] = {}
        first = parsing.parse_batch(
            b'[{"name":"joe","timestamp":10,"action":"Login"}]', "json", names
        )
        body = b'[{"name":"joe","timestamp":11,"action":"Logout"},null]'
        second = parsing.parse_batch(body, "json", names)
        assert (second.names, second.invalid) == (["joe"], ["null"])
        assert second.names[0] is first.names[0]


def _json_text(value: object) -> st.SearchStrategy[bytes]:
    """``value`` as JSON, escaped or raw UTF-8."""
    return st.booleans().map(lambda ascii_: json.dumps(value, ensure_ascii=ascii_).encode())


spaces = st.sampled_from([b"", b"", b" ", b"\n", b"\r\n\t "])
raw_names = st.one_of(
    names.flatmap(_json_text),
    st.sampled_from([b'"Jos\xe9"', b'"\xff\xfe"', b'"a\\ud800"', b'"\\udc00"', b'"\\u0000"']),
    st.sampled_from([b"42", b"null", b'["joe"]', b'{"name":"joe"}', b'""', b"true"]),
)
raw_stamps = st.one_of(
    st.integers(-3, 2_000_000_000).map(lambda n: str(n).encode()),
    st.sampled_from([b"true", b"false", b"null", b"10.0", b"1e3", b"-0", b'"10"', b"[10]"]),
    st.sampled_from([b"253402300799", b"253402300800", b"18446744073709551616", b"9" * 5000]),
)
raw_actions = st.one_of(actions.flatmap(_json_text), st.sampled_from([b"1", b"null", b'"\xff"']))
raw_values = st.one_of(
    json_values.flatmap(_json_text),
    st.sampled_from([b'"\xff"', b'"\\ud800"', b"1e999", b"9" * 5000, b"[" * 3 + b"]" * 3]),
    st.sampled_from([b'{"name":"b","timestamp":2,"action":"Login"}', b'"\\u0061"']),
)
ignored_keys = st.sampled_from([b'"id"', b'"x"', b'"\xff"', b'"nam"', b'"names"'])
raw_keys = st.one_of(ignored_keys, st.sampled_from([b'"n\\u0061me"', b'"timestamp"']))


good_raw_names = good_names.flatmap(_json_text)
good_raw_stamps = st.integers(0, 2_000_000_000).map(lambda n: str(n).encode())
good_raw_actions = st.sampled_from([b'"Login"', b'"Logout"'])


@st.composite
def raw_row(draw: st.DrawFn, odd: bool) -> bytes:
    """One array element as bytes: an object holding the three keys in any order, with
    other keys holding anything and any whitespace between tokens; if ``odd``, maybe a key
    missing, an odd value, or no object at all."""
    if odd and draw(st.integers(0, 9)) == 0:
        return draw(raw_values)
    fields = [
        (b'"name"', draw(st.one_of(good_raw_names, raw_names) if odd else good_raw_names)),
        (b'"timestamp"', draw(st.one_of(good_raw_stamps, raw_stamps) if odd else good_raw_stamps)),
        (b'"action"', draw(st.one_of(good_raw_actions, raw_actions) if odd else good_raw_actions)),
    ]
    fields = draw(st.permutations(fields))[: 2 if odd and draw(st.integers(0, 9)) == 0 else 3]
    fields += draw(st.lists(st.tuples(raw_keys if odd else ignored_keys, raw_values), max_size=2))
    pad = draw(spaces)
    members = [pad + key + pad + b":" + pad + value + pad for key, value in fields]
    return b"{" + b",".join(members) + b"}"


@st.composite
def raw_json_body(draw: st.DrawFn) -> bytes:
    """A body as the API might send it, or nearly: BOM, whitespace, now and then odd rows
    or a cut at the end."""
    odd = draw(st.booleans())
    rows = draw(st.lists(raw_row(odd), max_size=8))
    pad = draw(spaces)
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    body = bom + pad + b"[" + b",".join(rows) + b"]" + pad
    if odd and draw(st.integers(0, 9)) == 0:
        body = body[: draw(st.integers(0, len(body)))]
    return body


class TestTypedJsonDifferential:
    @settings(max_examples=1000, deadline=None)
    @given(body=raw_json_body())
    def test_any_body_parses_as_row_by_row(self, body: bytes) -> None:
        """Whatever bytes a body holds, the typed decode and row by row give one answer:
        the same records and invalid rows, or the same failure."""
        assert outcome(parse_json, body) == row_by_row_values(body)


def row_by_row_values(body: bytes) -> Parsed | type[Exception]:
    """The row-by-row path alone, numbers past ``int``'s digit limit and all."""
    text = body.decode("utf-8-sig", "surrogateescape")
    if not text.strip():
        return Parsed([], [])
    try:
        return parsing._json_rows(parsing._json_values(text))
    except InvalidResponseError as exc:
        return type(exc)


class TestBatch:
    def test_rows_and_records_slice_the_columns(self) -> None:
        """A batch reads back as tuples or records, whole or from a position."""
        batch = Batch(["a", "b", "c"], [1, 2, 3], [LOGIN, LOGOUT, LOGIN], [])
        assert list(batch.rows(1)) == [("b", 2, LOGOUT), ("c", 3, LOGIN)]
        assert batch.records(0, 1) == [Record("a", 1, LOGIN)]
        assert Batch.of(batch.parsed()) == batch

    @pytest.mark.parametrize(
        ("stamps", "ordered"),
        [([], True), ([5], True), ([1, 1, 2], True), ([2, 1], False)],
    )
    def test_in_time_order(self, stamps: list[int], ordered: bool) -> None:
        """Equal times keep their order; one step back breaks it."""
        batch = Batch(["a"] * len(stamps), stamps, [LOGIN] * len(stamps), [])
        assert batch.in_time_order() is ordered
