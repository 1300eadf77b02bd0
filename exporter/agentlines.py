"""The per-agent families, rendered from lines kept per agent between scrapes.

Each agent's line in each family is kept, e.g. (the same in the text format and OpenMetrics)::

    cention_agent_logins_total{agent="anna",workspace="demo"} 2.0

An agent that ``Sessions.changed`` names (a record came for it) gets its lines rendered
again, agents that came, went or came back (their number, their identity) make the lines
follow the new order, and when ``as_of`` moves, only the seconds (in all and today) of the
agents logged in are rendered again, from the label text kept since the agent appeared. A
new day (the local midnight passed, or today became known or unknown) renders every agent
again. For gzip, the lines of ``BLOCK`` agents in a row are kept compressed as one piece
of a deflate stream, so a scrape compresses only the blocks that changed (``Deflated``).
``copy`` runs under the workspace's lock: it follows the agents that came or went and
copies values; the rendering waits until the lock is released.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import compress

from prometheus_client.utils import floatToGoString

from exporter import metrics
from exporter.collector import agent_values
from exporter.core.sessions import Agent, Sessions
from exporter.state import WorkspaceState

BLOCK = 256
"""Agents whose lines are compressed together: few enough that a change recompresses
little, enough that the answer stays small (compressed apart, blocks of 256 agents came
out 4% larger than one ``gzip.compress``, blocks of 64 34%)."""
SAMPLES = tuple(family.samples[0].encode() for family in metrics.AGENT_FAMILIES)
SECONDS = metrics.AGENT_FAMILIES.index(metrics.AGENT_LOGGED_IN_SECONDS)
TODAY = metrics.AGENT_FAMILIES.index(metrics.AGENT_LOGGED_IN_TODAY)
LOGGED_IN = metrics.AGENT_FAMILIES.index(metrics.AGENT_LOGGED_IN)
go_float: Callable[[float], str] = floatToGoString
"""prometheus_client's number formatting (``1.7672724e+09``), typed."""

PIECES = 3
NO_LINE = (b"",) * PIECES
"""The pieces of a sample an agent does not have."""
Values = tuple[float | None, ...]
"""An agent's value in each per-agent family, as ``agent_values`` gives them."""


@dataclass(frozen=True, slots=True)
class Deflated:
    """Bytes compressed on their own into a piece of a deflate stream (byte-aligned, not
    final), with their CRC-32 and length: pieces in a row make one gzip member."""

    data: bytes
    crc: int
    size: int
    zeros_crc: int
    """CRC-32 of ``size`` zero bytes, which ``gzip_member`` needs to combine CRCs."""


_ZEROS = memoryview(bytes(1 << 16))
_FINAL = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty last block


def deflate(chunk: bytes) -> Deflated:
    """``chunk`` as a piece of a deflate stream, at gzip level 1 as the server always used."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Deflated(data, zlib.crc32(chunk), len(chunk), _zeros_crc(len(chunk), 0))


def gzip_member(pieces: Iterable[Deflated]) -> bytes:
    """One gzip member holding the pieces' bytes in order, as ``gzip.compress`` would."""
    crc, size, out = 0, 0, [b""]
    for piece in pieces:
        # CRC-32 is affine in its start value; over zeros only that part remains, so this
        # is zlib's crc32_combine, which Python lacks: the CRC of what came, then piece.
        crc = _zeros_crc(piece.size, crc) ^ piece.zeros_crc ^ piece.crc
        size += piece.size
        out.append(piece.data)
    out[0] = b"\x1f\x8b\x08\x00" + struct.pack("<I", int(time.time())) + b"\x04\xff"
    out += (_FINAL, struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


def _zeros_crc(size: int, crc: int) -> int:
    """``zlib.crc32(bytes(size), crc)`` without making the bytes."""
    for start in range(0, size, len(_ZEROS)):
        crc = zlib.crc32(_ZEROS[: size - start], crc)
    return crc


HEADERS = {
    openmetrics: tuple(
        (family.openmetrics_header if openmetrics else family.text_header).encode()
        for family in metrics.AGENT_FAMILIES
    )
    for openmetrics in (False, True)
}
"""Each per-agent family's HELP and TYPE lines, by whether the format is OpenMetrics."""
DEFLATED_HEADERS = {
    openmetrics: tuple(map(deflate, HEADERS[openmetrics])) for openmetrics in HEADERS
}


class AgentLines:
    """The per-agent families of each workspace, from lines kept per agent."""

    def __init__(self) -> None:
        self._workspaces: dict[WorkspaceState, _WorkspaceLines] = {}

    def copy(self, workspace: WorkspaceState) -> Copy:
        """What changed in ``workspace`` since the last scrape; call under its lock."""
        lines = self._workspaces.get(workspace)
        if lines is None or lines.sessions is not workspace.sessions:
            lines = _WorkspaceLines(workspace.name, workspace.sessions)
        return lines.copy(workspace)

    def update(self, copies: list[Copy]) -> None:
        """Render what the copies say changed; a workspace not among them is forgotten."""
        self._workspaces = {copy.workspace: copy.lines for copy in copies}
        for copy in copies:
            copy.lines.apply(copy)

    def pieces(self, openmetrics: bool) -> list[bytes]:
        """The per-agent families, HELP and TYPE lines included, as pieces to join."""
        out = []
        for family, header in enumerate(HEADERS[openmetrics]):
            out.append(header)
            for lines in self._workspaces.values():
                out += lines.lines[family]
        return out

    def deflated(self, openmetrics: bool) -> list[Deflated]:
        """The same, compressed: only the blocks that changed since the last call."""
        out = []
        for family, header in enumerate(DEFLATED_HEADERS[openmetrics]):
            out.append(header)
            for lines in self._workspaces.values():
                out += lines.deflated(family)
        return out


@dataclass
class Copy:
    """What a scrape copied of one workspace under its lock, by position in its order."""

    workspace: WorkspaceState
    lines: _WorkspaceLines
    values: list[tuple[int, Values]]
    """Each agent that changed, with its values."""
    seconds: list[tuple[int, float, float | None]]
    """The logged-in seconds, in all and today (None while today is unknown), of the other
    agents logged in, when ``as_of`` moved."""


class _WorkspaceLines:
    """One workspace's per-agent lines, family by family, in the order of its agents.

    Everything is kept by position, and the agents logged in are visited in that order:
    at 10,000 agents, visiting them in a set's order took twice as long."""

    def __init__(self, workspace: str, sessions: Sessions) -> None:
        self.workspace = workspace
        self.sessions = sessions
        self.index: dict[str, int] = {}
        self.agents: list[Agent] = []
        """The agent at each position, whose identity tells one forgotten and back."""
        self.labels: list[bytes] = []
        self.open = bytearray()
        """1 at the position of each agent logged in."""
        self.lines: list[list[bytes]] = [[] for _ in metrics.AGENT_FAMILIES]
        """Each family's lines in ``PIECES`` pieces a position, to join: the sample's name
        and the agent's label text, shared by many lines, and the value's text."""
        self.blocks: list[list[Deflated | None]] = [[] for _ in metrics.AGENT_FAMILIES]
        """Each family's lines compressed by ``BLOCK``; None where they changed since."""
        self.clock: tuple[float, float | None] | None = None
        self.today: int | None = None
        """The start of the day the kept lines of today count from; None: unknown."""

    def known(self, name: str) -> Agent | None:
        position = self.index.get(name)
        return None if position is None else self.agents[position]

    def copy(self, workspace: WorkspaceState) -> Copy:
        """Follow the agents that came or went, copy the changed agents' values, and the
        seconds of the others logged in if ``as_of`` moved; render nothing yet."""
        sessions, changed = self.sessions, self.sessions.take_changed()
        agents = sessions.agents
        if len(agents) != len(self.index) or any(
            agents.get(name) is not self.known(name) for name in changed
        ):
            changed.update(self._follow(agents))
        today = sessions.today()
        if today != self.today:
            self.today = today
            changed.update(agents)
        values = []
        for name in changed:
            agent = agents.get(name)
            if agent is None:  # forgotten
                continue
            position = self.index[name]
            self.agents[position] = agent
            row = agent_values(sessions, agent, today)
            self.open[position] = row[LOGGED_IN] == 1
            values.append((position, row))
        seconds: list[tuple[int, float, float | None]] = []
        clock = (sessions.as_of, sessions.counting_since)
        if clock != self.clock:
            self.clock = clock
            accrued, kept, done = sessions.logged_in_seconds, self.agents, dict(values)
            logged_in = [p for p in compress(range(len(self.open)), self.open) if p not in done]
            if today is None:
                seconds = [(p, accrued(kept[p]), None) for p in logged_in]
            else:
                daily = sessions.today_seconds
                seconds = [(p, accrued(kept[p]), daily(kept[p], today)) for p in logged_in]
        return Copy(workspace, self, values, seconds)

    def _follow(self, agents: dict[str, Agent]) -> set[str]:
        """Take the agents' order (one new or back goes last, one forgotten leaves),
        keeping what is kept of those that stay; the names whose lines are to be made."""
        order = list(agents)
        positions = [self.index.get(name) for name in order]
        made = {
            name
            for name, old in zip(order, positions, strict=True)
            if old is None or self.agents[old] is not agents[name]
        }
        self.labels = [
            _labels(self.workspace, name) if old is None else self.labels[old]
            for name, old in zip(order, positions, strict=True)
        ]
        self.agents = list(agents.values())
        self.open = bytearray(0 if old is None else self.open[old] for old in positions)
        self.lines = [_moved(lines, positions) for lines in self.lines]
        self.blocks = [[None] * -(-len(order) // BLOCK) for _ in self.lines]
        self.index = {name: position for position, name in enumerate(order)}
        return made

    def apply(self, copy: Copy) -> None:
        """Render the lines of what ``copy`` holds."""
        for position, row in copy.values:
            for family, value in enumerate(row):
                self._set(family, position, value)
        lines, blocks = self.lines[SECONDS], self.blocks[SECONDS]
        daily, daily_blocks = self.lines[TODAY], self.blocks[TODAY]
        # Thousands at every poll, so only the value's text is made: an agent logged in
        # has had its values set, and with them its name and label pieces; its line of
        # today too, if today is known, or every agent was set again.
        for position, value, today in copy.seconds:
            lines[PIECES * position + 2] = b" %s\n" % go_float(value).encode()
            blocks[position // BLOCK] = None
            if today is not None:
                daily[PIECES * position + 2] = _short_float(today)
                daily_blocks[position // BLOCK] = None

    def _set(self, family: int, position: int, value: float | None) -> None:
        line = NO_LINE
        if value is not None:
            text = b" %s\n" % go_float(value).encode()
            line = (SAMPLES[family], self.labels[position], text)
        self.lines[family][PIECES * position : PIECES * (position + 1)] = line
        self.blocks[family][position // BLOCK] = None

    def deflated(self, family: int) -> list[Deflated]:
        """The family's blocks, compressing those that changed."""
        blocks, lines, out = self.blocks[family], self.lines[family], []
        for block, kept in enumerate(blocks):
            if kept is None:
                start = block * BLOCK * PIECES
                kept = blocks[block] = deflate(b"".join(lines[start : start + BLOCK * PIECES]))
            out.append(kept)
        return out


def _short_float(value: float) -> bytes:
    """A value's text as ``go_float`` makes it, in half the time for one below a million
    (seconds of a day are), which Go and Python write alike."""
    return b" %r\n" % value if 0 <= value < 1e6 else b" %s\n" % go_float(value).encode()


def _moved(lines: list[bytes], positions: list[int | None]) -> list[bytes]:
    """A family's pieces in a new order: ``positions`` says where each one was before."""
    out: list[bytes] = []
    for old in positions:
        out += NO_LINE if old is None else lines[PIECES * old : PIECES * (old + 1)]
    return out


def _labels(workspace: str, agent: str) -> bytes:
    """``{agent="…",workspace="…"}``: an agent's label text, names sorted as
    prometheus_client sorts them, values escaped. Every per-agent family has these."""
    values = dict(zip(metrics.AGENT_LOGINS.labels, (workspace, agent), strict=True))
    text = ",".join(f'{name}="{metrics.escape(values[name])}"' for name in sorted(values))
    return ("{" + text + "}").encode()
