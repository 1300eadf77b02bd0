"""A window's answers, parsed and merged; Reader's pieces of a window; the exact agents
filter; LogioReader over several windows."""

from __future__ import annotations

import logging

import pytest

from exporter.config import Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch, Record
from exporter.errors import ServerError
from exporter.logio import Fetcher
from exporter.reader import LogioReader, Reader
from exporter.simulator import render_csv

AGENTS = WorkspaceConfig("demo", "https://cention.test", Secret("t"), "csv", ("ann", "bob"))


def read_window(
    api: Fetcher,
    workspace: WorkspaceConfig,
    window: tuple[int, int],
    names: dict[str, str] | None = None,
) -> Batch:
    """The one piece a ``Reader`` reads a window of these tests in: each is under an hour
    and its answers are small."""
    (piece,) = [batch for _, batch in Reader(workspace, names).pieces(api, window)]
    return piece


class PerAgent:
    """A ``Fetcher`` answering each agent with its own body, or raising its error."""

    def __init__(self, answers: dict[str | None, bytes | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[int, int, str | None]] = []

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        self.asked.append((frm, to, name))
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Windowed:
    """A ``Fetcher`` answering each window with the records in it."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        return render_csv([r for r in self.records if frm <= r.timestamp <= to])


class TestReadWindow:
    def test_answers_of_each_agent_merge_in_time_order(self) -> None:
        """One request per agent; records merged by time, invalid rows of both kept."""
        api = PerAgent(
            {
                "ann": b"1,ann,30,Login\n2,ann,5x,Login\n3,ann,50,Logout\n",
                "bob": b"1,bob,40,Login\n2,bob,40,Dance\n",
            }
        )
        batch = read_window(api, AGENTS, (0, 60))
        assert api.asked == [(0, 60, "ann"), (0, 60, "bob")]
        assert batch == Batch(
            ["ann", "bob", "ann"],
            [30, 40, 50],
            [LOGIN, LOGIN, LOGOUT],
            ['["ann", "5x", "Login"]', '["bob", "40", "Dance"]'],
        )

    def test_one_agent_failing_fails_the_window(self) -> None:
        """When any agent's answer fails, the error comes out and no batch does."""
        api = PerAgent({"ann": b"1,ann,30,Login\n", "bob": ServerError("HTTP 503")})
        with pytest.raises(ServerError):
            read_window(api, AGENTS, (0, 60))

    def test_names_are_shared_across_windows(self) -> None:
        """The names dict passed in receives the names accepted, as one object each."""
        names: dict[str, str] = {}
        api = PerAgent({None: b"1,ann,30,Login\n"})
        workspace = WorkspaceConfig("demo", "https://cention.test", Secret("t"))
        first = read_window(api, workspace, (0, 60), names)
        second = read_window(api, workspace, (60, 120), names)
        assert names == {"ann": "ann"}
        assert first.names[0] is second.names[0] is names["ann"]


class TestLogioReader:
    def test_the_trim_horizon_is_the_polls(self) -> None:
        """Windows read again from ``overlap`` before the last end, as a poll's are, bring
        a record stamped exactly there once; one a second earlier is not remembered."""
        api = Windowed([Record("ann", 399, LOGIN), Record("ann", 400, LOGOUT)])
        workspace = WorkspaceConfig("demo", "https://cention.test", Secret("t"))
        reader = LogioReader(api, workspace, 600)
        assert list(reader.records([(0, 1000)])) == [("ann", 399, LOGIN), ("ann", 400, LOGOUT)]
        assert reader.memory.records == {Record("ann", 400, LOGOUT): 1}
        assert list(reader.records([(400, 1030)])) == []
        assert (reader.requests, reader.records_read, reader.invalid) == (2, 2, 0)


def rows_of(records: list[tuple[str, int]]) -> bytes:
    """CSV Logins of 17 bytes a row for names of three letters and times of four digits."""
    return "".join(f"1,{name},{stamp},Login\n" for name, stamp in records).encode()


class Asked:
    """A ``Fetcher`` answering each window with the Logins in it, recording each request;
    ``loose`` answers ``name=`` with every name it starts (``ann``: ``ann``, ``anna``)."""

    def __init__(self, records: list[tuple[str, int]], *, loose: bool = False) -> None:
        self.records, self.loose = records, loose
        self.asked: list[tuple[int, int, str | None]] = []

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        self.asked.append((frm, to, name))
        return rows_of(
            [
                (agent, stamp)
                for agent, stamp in self.records
                if frm <= stamp <= to
                and (name is None or agent == name or (self.loose and agent.startswith(name)))
            ]
        )


@pytest.fixture(name="small_answers")
def _small_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers of more than 40 bytes (two rows) are too large; under 10 (none) small."""
    monkeypatch.setattr("exporter.reader.ANSWER_BYTES", 40)


def stamps(pieces: list[tuple[int, Batch]]) -> list[tuple[int, list[int]]]:
    return [(end, batch.timestamps) for end, batch in pieces]


@pytest.mark.usefixtures("small_answers")
class TestPieces:
    def test_a_large_answer_is_read_again_in_halves(self) -> None:
        """Three rows in the first hour: dropped, read again as half an hour; the width
        stays while answers hold rows, and grows after an empty one as far as the densest
        piece allows: 40 bytes at 34 bytes in 1800 s."""
        api = Asked([("ann", 100), ("ann", 2000), ("ann", 2100)])
        reader = Reader(PLAIN)
        pieces = list(reader.pieces(api, (0, 7200)))
        assert [(frm, to) for frm, to, _ in api.asked] == [
            (0, 3600),
            (0, 1800),
            (1800, 3600),
            (3600, 5400),
            (5400, 7200),
        ]
        assert stamps(pieces) == [(1800, [100]), (3600, [2000, 2100]), (5400, []), (7200, [])]
        assert (reader.width, reader.requests) == (int(40 / (34 / 1800)), 5)

    def test_the_width_carries_over_to_the_next_window(self) -> None:
        """The first window ends with pieces of 312 seconds (40 bytes at the 32 bytes in
        250 s of its densest piece: two rows of three-digit times), so the next starts so."""
        api = Asked([("ann", 100), ("ann", 200), ("ann", 300), ("ann", 4000)])
        reader = Reader(PLAIN)
        assert stamps(list(reader.pieces(api, (0, 1000)))) == [
            (250, [100, 200]),
            (500, [300]),
            (750, []),
            (1000, []),
        ]
        assert reader.width == 312
        assert next(reader.pieces(api, (1000, 5000)))[0] == 1312

    def test_no_record_yet_widens_the_pieces(self) -> None:
        """Empty answers double the piece, from an hour up to the window: a quiet history
        costs a request a window, not one an hour."""
        api = Asked([])
        reader = Reader(PLAIN)
        assert [end for end, _ in reader.pieces(api, (0, 16 * 3600))] == [
            3600,
            3 * 3600,
            7 * 3600,
            15 * 3600,
            16 * 3600,
        ]
        assert reader.width == 16 * 3600
        assert [end for end, _ in reader.pieces(api, (16 * 3600, 32 * 3600))] == [32 * 3600]

    def test_a_piece_of_min_width_is_parsed_whatever_it_weighs(self) -> None:
        """Three rows of one second: halved down to a minute, then parsed as they are."""
        api = Asked([("ann", 100), ("ann", 100), ("ann", 100)])
        pieces = list(Reader(PLAIN).pieces(api, (90, 200)))
        assert [(frm, to) for frm, to, _ in api.asked] == [(90, 200), (90, 150), (150, 200)]
        assert stamps(pieces) == [(150, [100, 100, 100]), (200, [])]

    def test_agents_answers_weigh_together(self) -> None:
        """Once the answers asked so far weigh too much, the next agent is not asked; the
        answers of a piece of a minute are all parsed, whatever they weigh."""
        api = Asked([("ann", 100), ("ann", 110), ("ann", 120), ("bob", 150)])
        pieces = list(Reader(AGENTS).pieces(api, (0, 200)))
        assert api.asked == [
            (0, 200, "ann"),
            (0, 100, "ann"),
            (0, 100, "bob"),
            (100, 200, "ann"),
            (100, 160, "ann"),
            (100, 160, "bob"),
            (160, 200, "ann"),
            (160, 200, "bob"),
        ]
        assert stamps(pieces) == [(100, [100]), (160, [100, 110, 120, 150]), (200, [])]


PLAIN = WorkspaceConfig("demo", "https://cention.test", Secret("t"), "csv")
PREFIXED = ["ann", "anna", "annika", "bob"]


class TestExactAgents:
    """``agents: [ann, bob]`` against an API whose ``name=`` matches a prefix."""

    def test_only_the_asked_agents_rows_count(self) -> None:
        api = Asked([(name, 1000 + i) for i, name in enumerate(PREFIXED)], loose=True)
        batch = read_window(api, AGENTS, (0, 2000))
        assert (batch.names, batch.timestamps) == (["ann", "bob"], [1000, 1003])
        assert batch.invalid == [
            'foreign ["ann", "anna", 1001, "Login"]',
            'foreign ["ann", "annika", 1002, "Login"]',
        ]

    def test_an_agent_listed_too_counts_once(self) -> None:
        """``anna`` listed as well: her row in ``ann``'s answer is foreign there and
        hers in her own; ``annika`` is no prefix of ``anna``."""
        workspace = WorkspaceConfig(
            "demo", "https://cention.test", Secret("t"), "csv", ("ann", "anna")
        )
        api = Asked([(name, 1000 + i) for i, name in enumerate(PREFIXED)], loose=True)
        batch = read_window(api, workspace, (0, 2000))
        assert (batch.names, batch.timestamps) == (["ann", "anna"], [1000, 1001])
        assert batch.invalid == [
            'foreign ["ann", "anna", 1001, "Login"]',
            'foreign ["ann", "annika", 1002, "Login"]',
        ]

    def test_a_foreign_row_read_again_counts_once(self) -> None:
        """The one-shot reader over two windows that both hold ``anna``'s row: two
        records and one invalid row, as the poll counters would have it."""
        api = Asked([("ann", 500), ("anna", 990), ("annika", 1500), ("bob", 995)], loose=True)
        reader = LogioReader(api, AGENTS, 600)
        assert list(reader.records([(0, 1000), (400, 2000)])) == [
            ("ann", 500, LOGIN),
            ("bob", 995, LOGIN),
        ]
        assert (reader.records_read, reader.invalid, reader.requests) == (2, 2, 4)

    def test_the_skip_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        api = Asked([("ann", 1), ("annika", 2), ("anna", 3)], loose=True)
        with caplog.at_level(logging.DEBUG, logger="exporter.reader"):
            read_window(api, AGENTS, (0, 10))
        [line] = caplog.records
        assert (line.message, line.workspace, line.asked, line.rows, line.agents) == (  # type: ignore[attr-defined]
            "rows of other agents skipped",
            "demo",
            "ann",
            2,
            "anna,annika",
        )
