"""A schedule of upstream faults, and what each does to one request; pure.

The real logio API will be slow, down, rate-limited or answer with a login page. A fault
is active for requests arriving in ``[start, end)`` by the simulator's clock:

>>> schedule = FaultSchedule(parse_faults("500@60+30,429:5@120+10", origin=1_000))
>>> [fault.kind for fault in schedule.active(1_070)], schedule.active(1_090)
(['500'], [])

Kinds, with what ``seconds`` means for each:

=========  =====================================================================
500, 503   that status with a small JSON error body
429        rate limited, with ``Retry-After: seconds``
html       200 with an HTML login page instead of records
malformed  200 whose body has junk rows between the real ones (none is lost)
truncated  200 that promises the whole body, sends half and closes the connection
hang       wait ``seconds`` before answering, past the client's timeout
reset      close the connection without answering (TCP RST)
skew       the server's clock runs ``seconds`` ahead (negative: behind)
late       records become visible only ``seconds`` after their timestamp
=========  =====================================================================

Only requests to the logio endpoint are affected; ``skew`` and ``late`` combine with
each other and with one of the others, the first active in schedule order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import NamedTuple

RESPONSE_KINDS = ("500", "503", "429", "html", "malformed", "truncated", "hang", "reset")
CLOCK_KINDS = ("skew", "late")
KINDS = RESPONSE_KINDS + CLOCK_KINDS
_DEFAULT_SECONDS = {"429": 5.0, "hang": 30.0, "skew": 300.0, "late": 120.0}


class Fault(NamedTuple):
    """One fault, active in ``[start, end)``; ``seconds`` as the kind's row above says."""

    kind: str
    start: float
    end: float
    seconds: float = 0.0

    def active(self, now: float) -> bool:
        return self.start <= now < self.end


class FaultSchedule:
    """Faults to apply, changeable while the server runs (tests add them mid-flight)."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        """Schedule ``fault``; raises ``ValueError`` for an unknown kind."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Remove every fault: the upstream is healthy again."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        """Every scheduled fault, in the order added."""
        with self._lock:
            return list(self._faults)

    def active(self, now: float) -> list[Fault]:
        """The faults active at ``now``, in schedule order."""
        return [fault for fault in self.faults() if fault.active(now)]


def parse_faults(spec: str, *, origin: float) -> list[Fault]:
    """``KIND[:SECONDS]@OFFSET+DURATION,...``, offsets in seconds after ``origin``.

    For example ``503@60+30,hang:20@120+60,skew:-90@0+600``; the form of ``--faults``.
    """
    return [_parse_fault(item.strip(), origin) for item in spec.split(",") if item.strip()]


def _parse_fault(item: str, origin: float) -> Fault:
    head, _, when = item.partition("@")
    kind, _, seconds = head.partition(":")
    offset, _, duration = when.partition("+")
    if kind not in KINDS:
        raise ValueError(f"fault {item!r}: unknown kind; known: {', '.join(KINDS)}")
    try:
        start = origin + float(offset)
        fault = Fault(kind, start, start + float(duration), _seconds(kind, seconds))
    except ValueError:
        raise ValueError(f"fault {item!r} is not KIND[:SECONDS]@OFFSET+DURATION") from None
    if not fault.end > fault.start:
        raise ValueError(f"fault {item!r}: the duration must be positive")
    return fault


def _seconds(kind: str, text: str) -> float:
    return float(text) if text else _DEFAULT_SECONDS.get(kind, 0.0)


def random_faults(
    seed: int,
    *,
    start: float,
    duration: float,
    kinds: Iterable[str] = KINDS,
    mean_gap: float = 20.0,
    mean_length: float = 10.0,
) -> list[Fault]:
    """A seeded sequence of non-overlapping faults with healthy gaps, within ``duration``."""
    rng, choices = random.Random(seed), list(kinds)
    faults: list[Fault] = []
    clock = start + rng.expovariate(1 / mean_gap)
    while clock < start + duration:
        kind = rng.choice(choices)
        end = min(clock + rng.expovariate(1 / mean_length) + 1, start + duration)
        faults.append(Fault(kind, clock, end, _random_seconds(kind, rng)))
        clock = end + rng.expovariate(1 / mean_gap) + 1
    return faults


def _random_seconds(kind: str, rng: random.Random) -> float:
    if kind == "skew":
        return rng.choice((-1, 1)) * rng.uniform(10, 300)
    if kind == "429":
        return float(rng.randint(1, 5))
    return round(rng.uniform(10, 120), 1) if kind == "late" else _DEFAULT_SECONDS.get(kind, 0.0)
