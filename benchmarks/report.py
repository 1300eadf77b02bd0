"""One benchmark's result and the line it prints; timing helpers shared by the benchmarks.

Every line has the same shape, so a script or a person reads them alike::

    bench ingest_csv value=2.41 floor=1.38 ratio=1.75 target=2.0 ok unit=s limit=ratio ...

``limit`` says what ``target`` bounds: the ``ratio`` of value to floor, or the ``value``
itself. Figures after ``ok``/``FAIL`` are extra information.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Limit = Literal["ratio", "value"]


@dataclass(frozen=True)
class Result:
    """A measured value, its measured floor and the target one of them must meet."""

    name: str
    value: float
    floor: float
    target: float
    unit: str
    limit: Limit
    extra: dict[str, str] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    """Conditions besides the target, each of which must hold too."""

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor else float("inf")

    @property
    def ok(self) -> bool:
        bounded = self.ratio if self.limit == "ratio" else self.value
        return bounded <= self.target and all(self.checks.values())

    def line(self) -> str:
        checks = {name: "yes" if held else "no" for name, held in self.checks.items()}
        figures = {"unit": self.unit, "limit": self.limit, **checks, **self.extra}
        tail = " ".join(f"{key}={value}" for key, value in figures.items())
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"bench {self.name} value={_num(self.value)} floor={_num(self.floor)} "
            f"ratio={self.ratio:.2f} target={_num(self.target)} {verdict} {tail}"
        )


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def interleaved(
    subject: Callable[[], float], floor: Callable[[], float], repetitions: int
) -> tuple[float, float]:
    """Medians of ``subject`` and ``floor`` run in turn, so a busy machine slows both alike.

    Each callable returns its own measurement (seconds, or whatever it measures). A full
    garbage collection before each run keeps one run's garbage out of the next.
    """
    subjects, floors = [], []
    for _ in range(repetitions):
        gc.collect()
        subjects.append(subject())
        gc.collect()
        floors.append(floor())
    return statistics.median(subjects), statistics.median(floors)


def wall(action: Callable[[], object]) -> float:
    """Seconds ``action`` takes on the wall clock."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu(action: Callable[[], object]) -> float:
    """CPU seconds of this process while ``action`` runs: waiting on a socket is free."""
    started = time.process_time()
    action()
    return time.process_time() - started
