"""What the active faults do to one request: a ``Plan`` for the server to carry out; pure.

Without faults the plan is simply the handler's answer:

>>> from exporter.simulator.scenario import Scenario
>>> request = SimRequest.from_target("GET", "/", {})
>>> plan(request, Scenario(start=0, agents=0), [], token="t", workspace="demo", now=0).wait
0.0

``skew`` shifts the server's clock and ``late`` holds records back before the handler
runs; then the first fault that changes the answer rewrites it. Faults only touch the
logio endpoint, so ``/`` stays a liveness check for the simulator itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

from exporter.simulator.faults import RESPONSE_KINDS, Fault
from exporter.simulator.handler import JSON_TYPE, SimRequest, SimResponse, handle, logio_path
from exporter.simulator.scenario import Scenario

HTML_LOGIN = (
    b"<!DOCTYPE html>\n<html><head><title>Cention - Sign in</title></head>\n"
    b'<body><form method="post" action="/login"><input name="username">'
    b'<input name="password" type="password"><button>Sign in</button></form></body></html>\n'
)
JUNK_CSV = (",1554108536,Login", "joe,soon,Login", "joe,1554108536,Logon", "joe,1554108536")
JUNK_JSON: tuple[object, ...] = (
    {"id": 0, "name": "", "timestamp": 1554108536, "action": "Login"},
    {"id": 0, "name": "joe", "timestamp": "soon", "action": "Login"},
    {"id": 0, "name": "joe", "timestamp": 1554108536, "action": "Logon"},
    "not a row",
)
"""Rows the exporter must skip and count: no name, a bad time, a bad action, a bad shape.
The CSV ones are written after their running id."""


class Plan(NamedTuple):
    """Wait ``wait`` seconds, then send ``response`` (``None``: reset the connection
    instead), of whose body only the first ``cut`` bytes if ``cut`` is set."""

    response: SimResponse | None
    wait: float = 0.0
    cut: int | None = None


def plan(
    request: SimRequest,
    scenario: Scenario,
    faults: Sequence[Fault],
    *,
    token: str,
    workspace: str,
    now: float,
) -> Plan:
    """How to answer ``request`` at ``now`` while ``faults`` are active."""
    skew = sum(fault.seconds for fault in faults if fault.kind == "skew")
    late = max((fault.seconds for fault in faults if fault.kind == "late"), default=0.0)
    answer = handle(request, scenario, token=token, workspace=workspace, now=now + skew, late=late)
    fault = next((fault for fault in faults if fault.kind in RESPONSE_KINDS), None)
    if fault is None or request.path != logio_path(workspace):
        return Plan(answer)
    return _EFFECTS[fault.kind](answer, fault)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Plan:
    body = json.dumps({"error": message}).encode()
    return Plan(SimResponse(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body))


def _malformed(answer: SimResponse, fault: Fault) -> Plan:
    """The real rows with junk rows between them; the running ids count both."""
    if answer.status != 200:
        return Plan(answer)
    if answer.headers["Content-Type"] == JSON_TYPE:
        body = _with_junk_json(answer.body)
    else:
        body = _with_junk_csv(answer.body)
    return Plan(dataclasses.replace(answer, body=body))


def _with_junk_csv(body: bytes) -> bytes:
    rows = [line.partition(",")[2] for line in body.decode().splitlines()]
    return "".join(f"{index},{row}\n" for index, row in _interleave(rows, JUNK_CSV)).encode()


def _with_junk_json(body: bytes) -> bytes:
    mixed = _interleave(json.loads(body), JUNK_JSON)
    rows = [{**row, "id": index} if isinstance(row, dict) else row for index, row in mixed]
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()


def _interleave(rows: Sequence[object], junk: Sequence[object]) -> list[tuple[int, object]]:
    """``junk`` at the start, a third in, two thirds in and at the end; numbered from 1."""
    n = len(rows)
    mixed = list(rows)
    for row, at in reversed(list(zip(junk, [0, n // 3, 2 * n // 3, n], strict=True))):
        mixed.insert(at, row)  # from the back, so the earlier positions still hold
    return list(enumerate(mixed, 1))


def _truncated(answer: SimResponse, fault: Fault) -> Plan:
    return Plan(answer, cut=len(answer.body) // 2) if answer.status == 200 else Plan(answer)


_EFFECTS: dict[str, Callable[[SimResponse, Fault], Plan]] = {
    "500": lambda answer, fault: _error(500, "internal server error"),
    "503": lambda answer, fault: _error(503, "service unavailable"),
    "429": lambda answer, fault: _error(
        429, "too many requests", {"Retry-After": str(round(fault.seconds))}
    ),
    "html": lambda answer, fault: Plan(
        SimResponse(200, {"Content-Type": "text/html; charset=utf-8"}, HTML_LOGIN)
    ),
    "malformed": _malformed,
    "truncated": _truncated,
    "hang": lambda answer, fault: Plan(answer, wait=fault.seconds),
    "reset": lambda answer, fault: Plan(None),
}
