"""One HTTP request -> one response, serving the logio API's contract; pure.

The server around it only moves bytes, so the whole contract is tested without a socket:

>>> scenario = Scenario(start=1_700_000_000, agents=0, live=False)
>>> request = SimRequest.from_target("GET", "/s/demo/capi/custom/logio?format=json",
...                                  {"Authorization": "Bearer t0ken"})
>>> handle(request, scenario, token="t0ken", workspace="demo", now=1_700_000_000).body
b'[]'

``GET /s/{workspace}/capi/custom/logio`` needs ``Authorization: Bearer <token>`` (else 401)
and takes ``name``, ``format`` (csv or json, default csv) and ``from``/``to`` (unix
seconds, default the last seven days up to now); an empty value counts as absent and
anything malformed is a 400. Error bodies
are small fixed JSON objects that never repeat what the client sent.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from exporter.simulator.render import render_csv, render_json
from exporter.simulator.scenario import WEEK, Scenario

CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


def logio_path(workspace: str) -> str:
    """The path of the logio endpoint of ``workspace``."""
    return f"/s/{workspace}/capi/custom/logio"


@dataclass(frozen=True)
class SimRequest:
    """What the handler needs of a request; header names are lower case."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_target(
        cls, method: str, target: str, headers: Mapping[str, str] | None = None
    ) -> SimRequest:
        """Split a request target such as ``/s/demo/capi/custom/logio?format=json``."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        lowered = {key.lower(): value for key, value in (headers or {}).items()}
        return cls(method.upper(), unquote(parts.path), query, lowered)


@dataclass(frozen=True)
class SimResponse:
    """Status, headers and the whole body, ready to be written."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class _Query(NamedTuple):
    frm: int
    to: int
    name: str | None
    fmt: str


class _BadRequest(ValueError):
    """A query parameter is malformed; the message names it, never its value."""


def handle(
    request: SimRequest,
    scenario: Scenario,
    *,
    token: str,
    workspace: str,
    now: float,
    late: float = 0.0,
) -> SimResponse:
    """Answer ``request`` as Cention's logio API would at ``now``.

    ``late`` holds records back until that many seconds after their timestamp, as an
    upstream that writes them late would.
    """
    if request.path == "/":
        return _only_get(request) or _landing(workspace)
    if request.path != logio_path(workspace):
        return _error(404, "not found")
    refused = _only_get(request) or _unauthorized(request, token)
    if refused:
        return refused
    try:
        query = _parse_query(request.query, now)
    except _BadRequest as exc:
        return _error(400, str(exc))
    records = scenario.records(query.frm, query.to, now - late, query.name)
    if query.fmt == "json":
        return SimResponse(200, {"Content-Type": JSON_TYPE}, render_json(records))
    return SimResponse(200, {"Content-Type": CSV_TYPE}, render_csv(records))


def _only_get(request: SimRequest) -> SimResponse | None:
    if request.method == "GET":
        return None
    return _error(405, "method not allowed", {"Allow": "GET"})


def _unauthorized(request: SimRequest, token: str) -> SimResponse | None:
    """Compare in constant time, so response timing does not reveal the token."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    valid = scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )
    if valid:
        return None
    return _error(401, "unauthorized", {"WWW-Authenticate": 'Bearer realm="logio"'})


def _parse_query(query: Mapping[str, Sequence[str]], now: float) -> _Query:
    fmt = _first(query, "format") or "csv"
    if fmt not in ("csv", "json"):
        raise _BadRequest("format must be csv or json")
    to = _unix_time(query, "to", math.floor(now))
    frm = _unix_time(query, "from", math.floor(now) - WEEK)
    return _Query(frm, to, _first(query, "name"), fmt)


def _first(query: Mapping[str, Sequence[str]], key: str) -> str | None:
    """The parameter's first value; empty counts as absent, as in ``?name=&format=``."""
    values = query.get(key)
    return values[0] if values and values[0] else None


def _unix_time(query: Mapping[str, Sequence[str]], key: str, default: int) -> int:
    value = _first(query, key)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise _BadRequest(f"{key} must be a unix time in whole seconds")
    return int(value)


def _landing(workspace: str) -> SimResponse:
    text = (
        "Cention logio API simulator\n"
        f"Endpoint: GET {logio_path(workspace)} with Authorization: Bearer <token>\n"
    )
    return SimResponse(200, {"Content-Type": TEXT_TYPE}, text.encode())


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> SimResponse:
    body = json.dumps({"error": message}).encode()
    return SimResponse(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body)
