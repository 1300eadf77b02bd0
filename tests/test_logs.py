"""Log line formats and the redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from exporter.logs import REDACTED, JsonFormatter, LogfmtFormatter, Redactor, setup

SECRET = "tok-0a1b2c3d4e5f"
CREATED = 1_700_000_000.123  # 2023-11-14T22:13:20.123Z


def make_record(
    msg: str,
    *args: object,
    level: int = logging.INFO,
    name: str = "exporter.poller",
    exc_info: object = None,
) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args or None, exc_info)  # type: ignore[arg-type]
    record.created, record.msecs = CREATED, 123.0
    return record


def raised(message: str) -> object:
    """The exc_info of a RuntimeError raised and caught with ``message``."""
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return sys.exc_info()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave the root, httpx and httpcore loggers as they were."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


class TestLogfmtFormatter:
    def test_line(self) -> None:
        """A record becomes ts, level, logger and msg, with the time in UTC milliseconds."""
        line = LogfmtFormatter().format(make_record("poll done in %.1fs", 0.25))
        assert line == (
            'ts=2023-11-14T22:13:20.123Z level=info logger=exporter.poller msg="poll done in 0.2s"'
        )

    @pytest.mark.parametrize(
        ("level", "name"),
        [
            pytest.param(logging.DEBUG, "debug", id="debug"),
            pytest.param(logging.INFO, "info", id="info"),
            pytest.param(logging.WARNING, "warn", id="warning"),
            pytest.param(logging.ERROR, "error", id="error"),
            pytest.param(logging.CRITICAL, "error", id="critical"),
        ],
    )
    def test_levels(self, level: int, name: str) -> None:
        """Python's levels map to the Prometheus names debug, info, warn and error."""
        line = LogfmtFormatter().format(make_record("x", level=level))
        assert line == f"ts=2023-11-14T22:13:20.123Z level={name} logger=exporter.poller msg=x"

    @pytest.mark.parametrize(
        ("message", "value"),
        [
            pytest.param("ok", "ok", id="bare"),
            pytest.param("workspace=demo", '"workspace=demo"', id="equals"),
            pytest.param("two words", '"two words"', id="space"),
            pytest.param('say "hi"', '"say \\"hi\\""', id="quotes"),
            pytest.param("a\\b", '"a\\\\b"', id="backslash"),
            pytest.param("line\nbreak", '"line\\nbreak"', id="newline"),
            pytest.param("", '""', id="empty"),
            pytest.param("Zoë", "Zoë", id="unicode"),
            pytest.param("tab\there", '"tab\\there"', id="tab"),
            pytest.param("carriage\rreturn", '"carriage\\rreturn"', id="carriage-return"),
            pytest.param("bell\x07", '"bell\\u0007"', id="control"),
        ],
    )
    def test_message_quoting(self, message: str, value: str) -> None:
        """A message is bare when it can be, else quoted so the line stays one logfmt record."""
        line = LogfmtFormatter().format(make_record(message))
        assert line == f"ts=2023-11-14T22:13:20.123Z level=info logger=exporter.poller msg={value}"


class TestJsonFormatter:
    def test_line(self) -> None:
        """A record becomes one JSON object with ts, level, logger and msg."""
        line = JsonFormatter().format(
            make_record('agent "%s" logged in', "Zoë", level=logging.WARNING)
        )
        assert line == (
            '{"ts": "2023-11-14T22:13:20.123Z", "level": "warn", "logger": "exporter.poller", '
            '"msg": "agent \\"Zoë\\" logged in"}'
        )

    def test_multiline_message_is_one_line(self) -> None:
        """A message with newlines is still one JSON line that parses back."""
        line = JsonFormatter().format(make_record("first\nsecond"))
        assert (line.count("\n"), json.loads(line)["msg"]) == (0, "first\nsecond")


class TestRedactor:
    def test_message(self) -> None:
        """A secret in the message text is replaced."""
        record = make_record(f"sending Bearer {SECRET} to demo")
        Redactor([SECRET]).filter(record)
        assert record.getMessage() == "sending Bearer <redacted> to demo"

    def test_args(self) -> None:
        """A secret passed as an argument is replaced and the args are folded into msg."""
        record = make_record(
            "headers=%s workspace=%s", {"Authorization": f"Bearer {SECRET}"}, "demo"
        )
        Redactor([SECRET]).filter(record)
        assert (record.msg, record.args) == (
            "headers={'Authorization': 'Bearer <redacted>'} workspace=demo",
            None,
        )

    def test_traceback(self) -> None:
        """A secret in an exception is replaced, and the traceback becomes part of the text."""
        record = make_record(
            "poll failed", level=logging.ERROR, exc_info=raised(f"bad token {SECRET}")
        )
        Redactor([SECRET]).filter(record)
        lines = record.getMessage().splitlines()
        assert (lines[0], lines[1], lines[-1]) == (
            "poll failed",
            "Traceback (most recent call last):",
            "RuntimeError: bad token <redacted>",
        )
        assert (SECRET in record.getMessage(), record.exc_info, record.exc_text) == (
            False,
            None,
            None,
        )

    def test_every_occurrence(self) -> None:
        """Each occurrence of each secret is replaced."""
        record = make_record(f"{SECRET} {SECRET} other-secret")
        Redactor([SECRET, "other-secret"]).filter(record)
        assert record.getMessage() == "<redacted> <redacted> <redacted>"

    def test_longest_first(self) -> None:
        """A secret that contains another is replaced whole, not in part."""
        assert Redactor(["abc", "abcdef"]).scrub("x abcdef y abc") == "x <redacted> y <redacted>"

    def test_update_replaces_the_set(self) -> None:
        """After a reload only the new secrets are replaced, and empty ones are ignored."""
        redactor = Redactor(["old-token"])
        redactor.update(["new-token", ""])
        assert (redactor.secrets, redactor.scrub("old-token new-token")) == (
            ("new-token",),
            f"old-token {REDACTED}",
        )

    def test_keeps_the_record(self) -> None:
        """The filter never drops a record."""
        assert Redactor([SECRET]).filter(make_record("nothing secret")) is True


class TestSetup:
    def test_logfmt_end_to_end(self) -> None:
        """After setup a logged secret, in args or traceback, never reaches the stream."""
        stream = io.StringIO()
        setup("info", "logfmt", stream).update([SECRET])
        log = logging.getLogger("exporter.test")
        log.info("token=%s", SECRET)
        try:
            raise ValueError(SECRET)
        except ValueError:
            log.exception("failed")
        lines = stream.getvalue().splitlines()
        fields = [line.split(" ", 1)[1] for line in lines]
        assert fields[0] == 'level=info logger=exporter.test msg="token=<redacted>"'
        assert fields[1].startswith('level=error logger=exporter.test msg="failed\\nTraceback')
        assert fields[1].endswith('ValueError: <redacted>"')
        assert (len(lines), SECRET in stream.getvalue()) == (2, False)

    def test_json_end_to_end(self) -> None:
        """With the json format each line is a JSON object with the secret replaced."""
        stream = io.StringIO()
        setup("debug", "json", stream).update([SECRET])
        logging.getLogger("exporter.test").debug("using %s", SECRET)
        entry = json.loads(stream.getvalue())
        del entry["ts"]
        assert entry == {"level": "debug", "logger": "exporter.test", "msg": "using <redacted>"}

    @pytest.mark.parametrize(
        ("level", "expected"),
        [
            pytest.param("debug", ["debug", "info", "warn", "error"], id="debug"),
            pytest.param("info", ["info", "warn", "error"], id="info"),
            pytest.param("warn", ["warn", "error"], id="warn"),
            pytest.param("error", ["error"], id="error"),
        ],
    )
    def test_level(self, level: str, expected: list[str]) -> None:
        """The configured level drops the records below it."""
        stream = io.StringIO()
        setup(level, "json", stream)
        log = logging.getLogger("exporter.test")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        assert [json.loads(line)["level"] for line in stream.getvalue().splitlines()] == expected

    def test_replaces_handlers_and_quietens_httpx(self) -> None:
        """Setup leaves one root handler and keeps httpx and httpcore at warn."""
        logging.getLogger().addHandler(logging.NullHandler())
        setup("debug", "logfmt", io.StringIO())
        assert (
            len(logging.getLogger().handlers),
            logging.getLogger("httpx").level,
            logging.getLogger("httpcore").level,
        ) == (1, logging.WARNING, logging.WARNING)
