"""read_window: every answer of a window, parsed and merged; LogioReader over several."""

from __future__ import annotations

import pytest

from exporter.config import Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch, Record
from exporter.errors import ServerError
from exporter.reader import LogioReader, read_window
from exporter.simulator import render_csv

AGENTS = WorkspaceConfig("demo", "https://cention.test", Secret("t"), "csv", ("ann", "bob"))


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
