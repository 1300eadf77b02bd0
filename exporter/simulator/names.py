"""Deterministic agent login names, mostly ordinary and a few awkward ones.

Most names look like real logins (``anna.lindqvist``). The awkward ones are placed early,
at every fifth position from index 2, so any scenario of 40 agents or more exercises CSV
quoting, JSON escaping and Prometheus label escaping:

>>> agent_names(3, seed=1)[2]
'maximilian-alexander.von-hohenzollern-sigmaringen.customer-care.nordics'
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

FIRST = (
    "anna", "erik", "maria", "johan", "sara", "lars", "emma", "karl", "elin", "nils",
    "ida", "oskar", "linnea", "axel", "julia", "hugo", "maja", "filip", "alva", "emil",
    "ahmed", "fatima", "li", "wei", "priya", "raj", "olga", "ivan", "sofia", "mateo",
    "zoë", "josé", "søren", "łukasz", "chloé", "andré", "aino", "mikael", "noor", "ali",
)  # fmt: skip
LAST = (
    "lindqvist", "svensson", "johansson", "karlsson", "nilsson", "eriksson", "larsson",
    "andersson", "persson", "olsson", "berg", "holm", "lund", "strand", "sandberg",
    "nyström", "åberg", "hernández", "müller", "novak", "kowalski", "chen", "wang",
    "patel", "singh", "haddad", "rahman", "ivanova", "rossi", "silva", "dubois", "jensen",
    "virtanen", "kim", "tanaka", "okafor", "murphy", "costa", "yilmaz", "fischer",
)  # fmt: skip
AWKWARD = (
    "maximilian-alexander.von-hohenzollern-sigmaringen.customer-care.nordics",
    "maria garcia lopez",
    "svensson, erik",
    'erik "the viking" svensson',
    "conor.o'brien",
    "björn.öberg",
    "小林 優",
    'dupont, "jean-luc" o\'neill',
)
"""Names that need quoting or escaping: long, space, comma, quote, apostrophe, Unicode."""

_AWKWARD_FIRST, _AWKWARD_EVERY = 2, 5


def agent_names(count: int, seed: int) -> list[str]:
    """``count`` unique, printable, non-empty login names; the same for the same seed."""
    ordinary = _ordinary(random.Random(seed))
    awkward = iter(AWKWARD)
    names: list[str] = []
    for index in range(count):
        special = next(awkward, None) if _is_awkward_slot(index) else None
        names.append(special or next(ordinary))
    return names


def _is_awkward_slot(index: int) -> bool:
    return index >= _AWKWARD_FIRST and (index - _AWKWARD_FIRST) % _AWKWARD_EVERY == 0


def _ordinary(rng: random.Random) -> Iterator[str]:
    """``first.last`` in a seeded order; once every pair is used, again with ``2``, ``3``..."""
    pairs = [f"{first}.{last}" for first, last in itertools.product(FIRST, LAST)]
    for round_ in itertools.count(1):
        rng.shuffle(pairs)
        suffix = "" if round_ == 1 else str(round_)
        for pair in pairs:
            name = pair + suffix
            if name not in AWKWARD:
                yield name
