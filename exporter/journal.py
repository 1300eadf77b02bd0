"""The state file's journal: the transitions recorded since the snapshot, one write an entry.

``<state.file>.journal`` is a run of frames, each the length and the CRC-32 of its payload
(4 bytes each, big-endian) and then the payload, UTF-8 JSON. The first names the snapshot
the journal follows, by the id the snapshot holds under ``journal``::

    {"journal": 1, "follows": "9f0c4e2ab1d37a65"}

and each one after it, an entry, holds what one write took: each workspace's recorded
``Transition``s in order, each by name and arguments::

    {"demo": [{"apply_window": {"batch": {"names": ["ann"], "timestamps": [1767225601],
     "actions": ["Login"], "invalid": []}, "window_end": 1767225630, "overlap": 600.0}}]}

An entry is one write and an fsync, so a crash leaves every entry before it whole and at
most the last one cut short; ``read`` drops such a torn last frame and tells so, and stops
at a frame that fails its checksum or its decoding with frames after it, which is damage
rather than a crash, and tells that apart. The entries before the problem lead to a state
the exporter was in, as a whole entry or none of it is replayed.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from exporter.core.localtime import zone_named
from exporter.core.records import ACTION_OF, Batch, all_timestamps, is_name
from exporter.errors import StateFileError
from exporter.state import Transition, WorkspaceState

VERSION = 1
_HEAD = struct.Struct(">II")
"""A frame's head: the length of its payload and the payload's CRC-32."""


class Journal(NamedTuple):
    """What a journal file holds, up to its first problem."""

    follows: str | None
    """The id of the snapshot it follows; None if even its first frame is unreadable."""
    entries: list[dict[str, list[Transition]]]
    """Each write's transitions by workspace, in the order they happened."""
    torn: str | None
    """Why the last frame was dropped: a write cut short by a crash."""
    damaged: str | None
    """Why reading stopped before the end: a frame with frames after it is unusable."""


def header(follows: str) -> bytes:
    """The first frame of a journal that follows the snapshot ``follows``."""
    return frame({"journal": VERSION, "follows": follows})


def entry(recorded: Mapping[str, list[Transition]]) -> bytes:
    """The frame of one write: each workspace's transitions, by name and arguments."""
    return frame(
        {
            name: [{t.name: {key: _plain(value) for key, value in t.args.items()}} for t in ts]
            for name, ts in recorded.items()
        }
    )


def frame(payload: object) -> bytes:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def read(data: bytes) -> Journal:
    """The journal in ``data``, up to its first problem."""
    payloads, end = _whole_frames(data)
    torn = damaged = None
    if end < len(data):
        problem = f"{_frame_name(len(payloads))} {_bad_frame(data, end)}"
        if _is_tail(data, end):
            torn = problem
        else:
            damaged = problem
    if not payloads:
        return Journal(None, [], torn, damaged)
    try:
        follows = _follows(payloads[0])
    except StateFileError as exc:
        return Journal(None, [], None, f"{_frame_name(0)}: {exc}")
    entries = []
    for number, payload in enumerate(payloads[1:], start=1):
        try:
            entries.append(_entry(payload))
        except StateFileError as exc:
            return Journal(follows, entries, None, f"{_frame_name(number)}: {exc}")
    return Journal(follows, entries, torn, damaged)


def _frame_name(number: int) -> str:
    return f"entry {number}" if number else "the header"


def replay(found: Journal, workspaces: Mapping[str, WorkspaceState]) -> tuple[int, str | None]:
    """Replay ``found``'s entries on ``workspaces``, up to the first that names a
    workspace they lack; the entries replayed, and why it stopped early if it did."""
    per_workspace: dict[str, list[Transition]] = defaultdict(list)
    damaged, replayed = found.damaged, 0
    for number, recorded in enumerate(found.entries, start=1):
        unknown = sorted(recorded.keys() - workspaces.keys())
        if unknown:
            damaged = f"entry {number}: workspace {unknown[0]!r} is not in the snapshot"
            break
        for name, transitions in recorded.items():
            per_workspace[name] += transitions
        replayed = number
    for name, transitions in per_workspace.items():
        try:
            workspaces[name].replay(transitions)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"replaying workspace {name!r}: {type(exc).__name__}: {exc}"
            raise StateFileError(problem) from None
    return replayed, damaged


def _whole_frames(data: bytes) -> tuple[list[bytes], int]:
    """The payloads of the sound frames at the start of ``data``, and where they end."""
    payloads, offset = [], 0
    while len(data) - offset >= _HEAD.size:
        length, checksum = _HEAD.unpack_from(data, offset)
        start = offset + _HEAD.size
        payload = data[start : start + length]
        if not length or len(payload) < length or zlib.crc32(payload) != checksum:
            break
        payloads.append(payload)
        offset = start + length
    return payloads, offset


def _bad_frame(data: bytes, offset: int) -> str:
    if len(data) - offset < _HEAD.size:
        return "is cut short in its head"
    length, _ = _HEAD.unpack_from(data, offset)
    if offset + _HEAD.size + length > len(data):
        return "is cut short"
    return "fails its checksum" if length else "has no length"


def _is_tail(data: bytes, offset: int) -> bool:
    """The bad frame at ``offset`` is the last thing written: it reaches the end of the
    file, or only zeros follow (a file extended by a crash before its data)."""
    if len(data) - offset < _HEAD.size:
        return True
    length, _ = _HEAD.unpack_from(data, offset)
    return offset + _HEAD.size + length >= len(data) or not data[offset:].strip(b"\0")


def json_object(payload: bytes) -> dict[str, Any]:
    """The JSON object in ``payload``; StateFileError naming the problem if it is none."""
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise StateFileError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StateFileError(f"a JSON {type(value).__name__}, not an object")
    return value


def _follows(payload: bytes) -> str:
    head = json_object(payload)
    if head.get("journal") != VERSION or not isinstance(head.get("follows"), str):
        raise StateFileError(f"not a journal of version {VERSION}: {head!r:.80}")
    return str(head["follows"])


def _entry(payload: bytes) -> dict[str, list[Transition]]:
    recorded = json_object(payload)
    if not all(isinstance(transitions, list) for transitions in recorded.values()):
        raise StateFileError("not a list of transitions for each workspace")
    return {
        name: [_transition(transition) for transition in transitions]
        for name, transitions in recorded.items()
    }


def _transition(data: object) -> Transition:
    if not isinstance(data, dict) or len(data) != 1:
        raise StateFileError(f"not one transition: {data!r:.80}")
    ((name, args),) = data.items()
    readers = _TRANSITIONS.get(name)
    if readers is None or not isinstance(args, dict) or set(args) != set(readers):
        raise StateFileError(f"unknown transition {name!r} or its arguments")
    try:
        values = {key: read(args[key]) for key, read in readers.items()}
    except (TypeError, ValueError, KeyError) as exc:
        raise StateFileError(f"{name}: {type(exc).__name__}: {exc}") from None
    return Transition(name, values)


def _plain(value: object) -> object:
    """An argument as plain data: a ``Batch`` by its fields' names."""
    return value._asdict() if isinstance(value, Batch) else value


def _batch(data: Mapping[str, Any]) -> Batch:
    """A ``Batch`` back, each of its rows a record by the one row rule, in time order."""
    names, stamps, invalid = list(data["names"]), list(data["timestamps"]), list(data["invalid"])
    actions = [ACTION_OF[action] for action in data["actions"]]
    batch = Batch(names, stamps, actions, invalid)
    sizes = {len(names), len(stamps), len(actions)}
    if len(sizes) != 1 or not all(map(is_name, names)) or not all_timestamps(stamps):
        raise ValueError("a batch whose rows are not records")
    if not all(isinstance(row, str) for row in invalid) or not batch.in_time_order():
        raise ValueError("a batch out of time order or with an invalid row that is no text")
    return batch


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an int, got {value!r}")
    return value


def _zone_name(value: object) -> str:
    """The name of a time zone this system knows."""
    if not isinstance(value, str):
        raise TypeError(f"expected a time zone's name, got {value!r}")
    return zone_named(value).key


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _number_or_none(value: object) -> float | None:
    return None if value is None else _number(value)


_TRANSITIONS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "apply_window": {"batch": _batch, "window_end": _int, "overlap": _number},
    "poll_succeeded": {"now": _number, "forget_before": _number_or_none},
    "set_zone": {"timezone": _zone_name},
}
"""Each transition a journal may hold, with the check of each of its arguments."""
