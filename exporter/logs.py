"""Log lines as logfmt or JSON: a constant message and its fields as keys of their own, with
every known secret scrubbed as a last line of defence.

A call site keeps the message constant and passes what varies through ``extra``, so that
Loki's ``| logfmt`` or ``| json`` can filter on each field; ``fields`` builds that dict
and renames a key ``logging`` reserves (``name``, ``msg``, ...) instead of failing::

    log.warning("poll failed", extra=fields(workspace="demo", reason="auth", status=401))

    ts=2026-11-26T08:00:00.123Z level=warn logger=exporter.poller msg="poll failed" \
workspace=demo reason=auth status=401

The fields follow ``ts``, ``level``, ``logger`` and ``msg`` in call order; an exception
logged with ``exc_info`` comes last, as ``exception`` with its traceback. The code never
formats a token into a line; ``Redactor`` makes sure that a mistake, or a library echoing
a header, still cannot write one, in the message, a field or a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections.abc import Container, Iterable

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
REDACTED = "<redacted>"
LINE_KEYS = ("ts", "level", "logger", "msg", "exception")
"""The keys every line may have; a field of the same name gets a ``_`` appended."""

_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
"""Attributes a ``LogRecord`` has of its own, which ``extra`` may not set."""
_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


def fields(**values: object) -> dict[str, object]:
    """The ``extra`` of a log call: ``values`` in order, a reserved key renamed ``key_``.

    >>> fields(workspace="demo", name="anna")
    {'workspace': 'demo', 'name_': 'anna'}
    """
    return {_free(key, _RECORD_KEYS): value for key, value in values.items()}


def _free(key: str, taken: Container[str]) -> str:
    while key in taken:
        key += "_"
    return key


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a call passed through ``extra``, in call order."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_KEYS}


class Redactor(logging.Filter):
    """Replaces each secret in a record's message, fields and traceback; the set of
    secrets can change on reload."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrub(_message(record)), None
        for key, value in record_fields(record).items():
            text = value if isinstance(value, str) else str(value)
            if (clean := self.scrub(text)) != text:
                setattr(record, key, clean)
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def _message(record: logging.LogRecord) -> str:
    """The message with its ``%`` arguments, or both side by side when they do not fit:
    a bad log call must not raise into the code that made it."""
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return f"{record.msg} {record.args!r}"


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(
            f"{key}={_logfmt_value(_text(value))}" for key, value in _line(record).items()
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {key: _json_value(value) for key, value in _line(record).items()}
        return _printable(json.dumps(line, ensure_ascii=False))


def _line(record: logging.LogRecord) -> dict[str, object]:
    """Every key of the line in order: ts, level, logger, msg, the fields, exception."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    line: dict[str, object] = {
        "ts": f"{ts}.{int(record.msecs):03d}Z",
        "level": LEVEL_NAMES.get(record.levelno, "info"),
        "logger": record.name,
        "msg": _message(record),
    }
    for key, value in record_fields(record).items():
        line[_free(_NOT_KEY.sub("_", key) or "_", (*LINE_KEYS, *line))] = value
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        line["exception"] = record.exc_text
    return line


def _text(value: object) -> str:
    """A field's value as logfmt text: ``true``/``false`` and ``null`` as Go's loggers write."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _json_value(value: object) -> object:
    """Numbers, booleans and null stay themselves in JSON; anything else becomes its text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


def _logfmt_value(value: str) -> str:
    if value and value.isprintable() and not any(c in value for c in ' "=\\'):
        return value
    return _printable(json.dumps(value, ensure_ascii=False))


def _printable(text: str) -> str:
    """``text`` with every character that is not printable as its JSON escape, so a line
    stays one line for readers that also break at U+2028 or U+0085."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


def setup(level: str = "info", fmt: str = "logfmt", stream: object = None) -> Redactor:
    """Configure the root logger once; return the redactor to feed it the secrets."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    redactor = Redactor()
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return redactor
