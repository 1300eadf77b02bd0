"""Validation primitives shared by the config and the web config.

Each converter takes a plain YAML value and returns a typed one or raises ``ValueError``
with the reason; ``get`` turns that into a problem line naming the key, so a file is
reported whole in one pass. ``${VAR}`` expansion happens once, on the raw tree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(value: object) -> float:
    """``"500ms"``, ``"30s"``, ``"1h30m"``, ``"7d"`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        if math.isfinite(value):
            return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        if text and _DURATION.sub("", text) == "":
            return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    raise ValueError(f"expected a duration like 500ms, 30s, 5m, 7d, got {value!r}")


_SIZE_UNITS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
_SIZE = re.compile(r"(\d+)(B|[kKMGT]B|[KMGT]iB)?")


def parse_size(value: object) -> int:
    """``"512KiB"``, ``"256MiB"``, ``"1GiB"``, ``"10MB"`` or a plain number of bytes.

    ``KiB``, ``MiB``, ``GiB`` and ``TiB`` are powers of 1024; ``kB`` (or ``KB``), ``MB``,
    ``GB`` and ``TB`` powers of 1000, as their names say.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"must not be negative, got {value!r}")
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"expected a size like 512KiB, 256MiB, 10MB or a number of bytes, got {value!r}"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2) or "B"]


def format_duration(seconds: float) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds * 1000:g}ms"


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What and where, without PyYAML's quote of the line, which may hold a token."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def expand_env(value: object, key: str, environ: Mapping[str, str], problems: list[str]) -> object:
    """Replace ``${VAR}`` in every string with the environment's value."""
    if isinstance(value, dict):
        return {k: expand_env(v, f"{key}{k}.", environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{key[:-1]}[{i}].", environ, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in environ:
            problems.append(f"{key[:-1]}: environment variable {match.group(1)} is not set")
            return ""
        return environ[match.group(1)]

    return ENV_VAR.sub(substitute, value)


def mapping(
    value: object, prefix: str, allowed: tuple[str, ...], problems: list[str]
) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{prefix[:-1] or 'config'}: must be a mapping of keys")
        return {}
    for key in value:
        if key not in allowed:
            problems.append(f"{prefix}{key}: unknown key (known: {', '.join(allowed)})")
    return value


def get(
    section: Mapping[str, Any],
    key: str,
    convert: Callable[[Any], T],
    default: T,
    problems: list[str],
) -> T:
    name = key.rpartition(".")[2]
    if section.get(name) is None:
        return default
    try:
        return convert(section[name])
    except ValueError as exc:
        problems.append(f"{key}: {exc}")
        return default


def string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def at_least(minimum: float) -> Callable[[object], float]:
    def convert(value: object) -> float:
        seconds = parse_duration(value)
        if seconds < minimum:
            raise ValueError(f"must be at least {format_duration(minimum)}, got {value!r}")
        return seconds

    return convert


def positive_size(value: object) -> int:
    size = parse_size(value)
    if size == 0:
        raise ValueError(f"must be at least 1 byte, got {value!r}")
    return size


def positive_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive whole number, got {value!r}")
    return value
