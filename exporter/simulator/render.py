"""Records -> logio response bodies, exactly as the real API writes them.

``id`` is the running number of the row within this one body, from 1:

>>> render_csv([Record("joe", 1554108536, "Login"), Record("a, b", 1554108578, "Logout")])
b'1,joe,1554108536,Login\\n2,"a, b",1554108578,Logout\\n'
>>> render_json([Record("joe", 1554108536, "Login")])
b'[{"id":1,"name":"joe","timestamp":1554108536,"action":"Login"}]'

Bodies of a million rows are built in memory with one ``str.join``: each distinct name and
action is quoted once and reused, which keeps that to a second or two.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence

from exporter.core.records import Record


def render_csv(records: Sequence[Record]) -> bytes:
    """Headerless ``id,name,timestamp,action`` lines, ``\\n``-terminated, quoted as csv does."""
    field = _Quoted(_csv_field)
    lines = [
        f"{row},{field[name]},{timestamp},{field[action]}\n"
        for row, (name, timestamp, action) in enumerate(records, 1)
    ]
    return "".join(lines).encode()


def render_json(records: Sequence[Record]) -> bytes:
    """One JSON array on one line, keys in the API's order, names as UTF-8."""
    string = _Quoted(_json_string)
    rows = [
        f'{{"id":{row},"name":{string[name]},"timestamp":{timestamp},"action":{string[action]}}}'
        for row, (name, timestamp, action) in enumerate(records, 1)
    ]
    return ("[" + ",".join(rows) + "]").encode()


class _Quoted(dict[str, str]):
    """Each distinct name and action, quoted on first use: a body repeats a few thousand."""

    def __init__(self, quote: Callable[[str], str]) -> None:
        super().__init__()
        self.quote = quote

    def __missing__(self, value: str) -> str:
        quoted = self[value] = self.quote(value)
        return quoted


def _csv_field(value: str) -> str:
    """``value`` as the csv module writes it: quoted only when it has to be."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([value])  # a name with \n must be quoted
    return out.getvalue()[:-1]


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
