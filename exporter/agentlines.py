"""The per-agent families, rendered from lines kept per agent between scrapes.

Each agent's line in each family is kept, e.g. (the same in the text format and OpenMetrics)::

    cention_agent_logins_total{agent="anna",workspace="demo"} 2.0

An agent that ``Sessions.changed`` names (a record, a ``forget``) gets its lines rendered
again; when ``as_of`` moves, only the seconds of the agents logged in are, from the label
text kept since the agent appeared. For gzip, the lines of ``BLOCK`` agents in a row are
kept compressed as one piece of a deflate stream, so a scrape compresses only the blocks
that changed (``Deflated``). ``copy`` runs under the workspace's lock and only copies
values; the rendering waits until the lock is released.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
LOGGED_IN = metrics.AGENT_FAMILIES.index(metrics.AGENT_LOGGED_IN)
go_float: Callable[[float], str] = floatToGoString
"""prometheus_client's number formatting (``1.7672724e+09``), typed."""

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
    """What a scrape copied of one workspace under its lock."""

    workspace: WorkspaceState
    lines: _WorkspaceLines
    order: list[str] | None
    """Every agent's name in order, when some came or went."""
    values: dict[str, tuple[Agent, Values]]
    """Each agent that changed, with its values."""
    seconds: dict[str, float]
    """The logged-in seconds of the other agents logged in, when ``as_of`` moved."""
    clock: tuple[float, float | None]


class _WorkspaceLines:
    """One workspace's per-agent lines, family by family, in the order of its agents."""

    def __init__(self, workspace: str, sessions: Sessions) -> None:
        self.workspace = workspace
        self.sessions = sessions
        self.index: dict[str, int] = {}
        self.agents: list[Agent | None] = []
        """The agent at each position, whose identity tells one forgotten and back."""
        self.labels: list[bytes] = []
        self.lines: list[list[bytes]] = [[] for _ in metrics.AGENT_FAMILIES]
        self.blocks: list[list[Deflated | None]] = [[] for _ in metrics.AGENT_FAMILIES]
        """Each family's lines compressed by ``BLOCK``; None where they changed since."""
        self.open: set[str] = set()
        self.clock: tuple[float, float | None] | None = None

    def known(self, name: str) -> Agent | None:
        position = self.index.get(name)
        return None if position is None else self.agents[position]

    def copy(self, workspace: WorkspaceState) -> Copy:
        """Take the changed agents' values, and the open sessions' seconds if ``as_of``
        moved; a new order when agents came or went (a new one goes last)."""
        sessions, changed = self.sessions, self.sessions.take_changed()
        agents = sessions.agents
        order = None
        if len(agents) != len(self.index) or any(
            agents.get(name) is not self.known(name) for name in changed
        ):
            order = list(agents)
            changed.update(name for name, agent in agents.items() if self.known(name) is not agent)
        values = {
            name: (agents[name], agent_values(sessions, agents[name]))
            for name in changed
            if name in agents
        }
        clock = (sessions.as_of, sessions.counting_since)
        seconds = {}
        if clock != self.clock:
            accrued = sessions.logged_in_seconds
            open_ = self.open.difference(values).intersection(agents)
            seconds = {name: accrued(agents[name]) for name in open_}
        return Copy(workspace, self, order, values, seconds, clock)

    def apply(self, copy: Copy) -> None:
        """Render again what ``copy`` says changed."""
        if copy.order is not None:
            self._reorder(copy.order)
        for name, (agent, values) in copy.values.items():
            position = self.index[name]
            self.agents[position] = agent
            for family, value in enumerate(values):
                self._set(family, position, value)
            if values[LOGGED_IN]:
                self.open.add(name)
            else:
                self.open.discard(name)
        index, labels, sample = self.index, self.labels, SAMPLES[SECONDS]
        lines, blocks = self.lines[SECONDS], self.blocks[SECONDS]
        for name, value in copy.seconds.items():  # _set inline: thousands at every poll
            position = index[name]
            lines[position] = b"%s%s %s\n" % (sample, labels[position], go_float(value).encode())
            blocks[position // BLOCK] = None
        self.clock = copy.clock

    def _set(self, family: int, position: int, value: float | None) -> None:
        line = b""
        if value is not None:
            text = go_float(value).encode()
            line = b"%s%s %s\n" % (SAMPLES[family], self.labels[position], text)
        self.lines[family][position] = line
        self.blocks[family][position // BLOCK] = None

    def deflated(self, family: int) -> list[Deflated]:
        """The family's blocks, compressing those that changed."""
        blocks, lines, out = self.blocks[family], self.lines[family], []
        for block, kept in enumerate(blocks):
            if kept is None:
                kept = blocks[block] = deflate(b"".join(lines[block * BLOCK : (block + 1) * BLOCK]))
            out.append(kept)
        return out

    def _reorder(self, order: list[str]) -> None:
        """Follow the agents' new order, keeping the lines of those that stay."""
        positions = [self.index.get(name) for name in order]
        self.labels = [
            _labels(self.workspace, name) if old is None else self.labels[old]
            for name, old in zip(order, positions, strict=True)
        ]
        self.agents = [None if old is None else self.agents[old] for old in positions]
        self.lines = [
            [b"" if old is None else lines[old] for old in positions] for lines in self.lines
        ]
        self.blocks = [[None] * -(-len(order) // BLOCK) for _ in self.lines]
        self.index = {name: position for position, name in enumerate(order)}
        self.open.intersection_update(self.index)


def _labels(workspace: str, agent: str) -> bytes:
    """``{agent="…",workspace="…"}``: an agent's label text, names sorted as
    prometheus_client sorts them, values escaped. Every per-agent family has these."""
    values = dict(zip(metrics.AGENT_LOGINS.labels, (workspace, agent), strict=True))
    text = ",".join(f'{name}="{metrics.escape(values[name])}"' for name in sorted(values))
    return ("{" + text + "}").encode()
