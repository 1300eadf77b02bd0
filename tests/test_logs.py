"""Log line formats, structured fields and the redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator

import pytest
from harness import parse_logfmt

from exporter.logs import REDACTED, JsonFormatter, LogfmtFormatter, Redactor, fields, setup

SECRET = "tok-0a1b2c3d4e5f"
CREATED = 1_700_000_000.123  # 2023-11-14T22:13:20.123Z


def make_record(
    msg: str,
    *args: object,
    level: int = logging.INFO,
    name: str = "exporter.poller",
    exc_info: object = None,
    extra: dict[str, object] | None = None,
) -> logging.LogRecord:
    """A record as ``Logger.makeRecord`` builds it, at a fixed time."""
    record = logging.LogRecord(name, level, __file__, 1, msg, args or None, exc_info)  # type: ignore[arg-type]
    record.created, record.msecs = CREATED, 123.0
    record.__dict__.update(extra or {})
    return record


PARSERS = {"logfmt": parse_logfmt, "json": json.loads}


def logged(
    fmt: str, emit: Callable[[logging.Logger], object], secrets: tuple[str, ...] = ()
) -> list[dict[str, object]]:
    """The parsed lines that ``emit(log)`` writes through ``setup(..., fmt)``."""
    stream = io.StringIO()
    setup("debug", fmt, stream).update(secrets)
    emit(logging.getLogger("exporter.test"))
    return [PARSERS[fmt](line) for line in stream.getvalue().splitlines()]


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


class TestFields:
    def test_values_in_call_order(self) -> None:
        """``fields`` returns its keywords as they were given, in their order."""
        assert list(fields(workspace="demo", reason="auth", status=401).items()) == [
            ("workspace", "demo"),
            ("reason", "auth"),
            ("status", 401),
        ]

    @pytest.mark.parametrize(
        "key", ["name", "msg", "args", "levelname", "exc_info", "message", "asctime", "process"]
    )
    def test_a_record_attribute_is_renamed(self, key: str) -> None:
        """A key ``LogRecord`` reserves gets a ``_``, so the log call does not raise."""
        lines = logged("logfmt", lambda log: log.info("x", extra=fields(**{key: "v"})))
        assert {k: v for k, v in lines[0].items() if k != "ts"} == {
            "level": "info",
            "logger": "exporter.test",
            "msg": "x",
            f"{key}_": "v",
        }


AWKWARD = [
    pytest.param("two words", id="space"),
    pytest.param('say "hi"', id="quotes"),
    pytest.param("it's", id="apostrophe"),
    pytest.param("line\nbreak\r\n", id="newlines"),
    pytest.param("back\\slash", id="backslash"),
    pytest.param("a=b", id="equals"),
    pytest.param("tab\there", id="tab"),
    pytest.param("Zoë 李 🎧", id="unicode"),
    pytest.param("para\u2028graph\x85next\x1c", id="unicode-line-breaks"),
    pytest.param("bell\x07\x7f", id="control"),
    pytest.param("", id="empty"),
]


class TestStructuredLines:
    def test_logfmt_line(self) -> None:
        """The fields follow ts, level, logger and msg as keys of their own, in call order."""
        record = make_record("poll failed", extra=fields(workspace="demo", reason="auth"))
        assert LogfmtFormatter().format(record) == (
            "ts=2023-11-14T22:13:20.123Z level=info logger=exporter.poller "
            'msg="poll failed" workspace=demo reason=auth'
        )

    def test_json_line(self) -> None:
        """In JSON the fields are keys of the object, after msg, in call order."""
        record = make_record("poll failed", extra=fields(workspace="demo", reason="auth"))
        assert list(json.loads(JsonFormatter().format(record)).items()) == [
            ("ts", "2023-11-14T22:13:20.123Z"),
            ("level", "info"),
            ("logger", "exporter.poller"),
            ("msg", "poll failed"),
            ("workspace", "demo"),
            ("reason", "auth"),
        ]

    @pytest.mark.parametrize("fmt", sorted(PARSERS))
    @pytest.mark.parametrize("workspace", AWKWARD)
    def test_workspace_round_trips(self, fmt: str, workspace: str) -> None:
        """Any workspace name comes back exactly from one line that parses."""
        lines = logged(
            fmt, lambda log: log.info("poll succeeded", extra=fields(workspace=workspace))
        )
        assert [(line["msg"], line["workspace"]) for line in lines] == [
            ("poll succeeded", workspace)
        ]

    @pytest.mark.parametrize("fmt", sorted(PARSERS))
    def test_field_named_like_a_line_key(self, fmt: str) -> None:
        """A field called ``level``, ``ts`` or ``exception`` leaves the line's own alone."""
        extra = {"level": "high", "ts": "now", "exception": "none", "level_": "x"}
        (line,) = logged(fmt, lambda log: log.warning("x", extra=extra))
        assert {k: v for k, v in line.items() if k != "ts"} == {
            "level": "warn",
            "logger": "exporter.test",
            "msg": "x",
            "level_": "high",
            "ts_": "now",
            "exception_": "none",
            "level__": "x",
        }

    def test_keys_are_safe_logfmt_keys(self) -> None:
        """Each character of a key but ASCII letters, digits and ``_`` becomes ``_``, an empty
        key ``_``, and a key taken already gets ``_`` appended."""
        extra = {"a b": 1, 'x="y': 2, "é": 3, "": 4, "a_b": 5}
        record = make_record("x", extra=extra)
        assert LogfmtFormatter().format(record).split(" ", 4)[4] == ("a_b=1 x__y=2 _=3 __=4 a_b_=5")

    def test_logfmt_values(self) -> None:
        """Numbers as written, booleans as true/false, None as null, others as their text."""
        extra = fields(status=401, seconds=0.25, ok=True, up=False, error=None, peer=("::1", 9))
        assert LogfmtFormatter().format(make_record("x", extra=extra)).split(" ", 4)[4] == (
            "status=401 seconds=0.25 ok=true up=false error=null peer=\"('::1', 9)\""
        )

    def test_json_values(self) -> None:
        """Numbers, booleans and null stay JSON's own; NaN and others become text."""
        extra = fields(
            status=401, seconds=0.25, ok=True, error=None, nan=float("nan"), peer=("::1", 9)
        )
        line = json.loads(JsonFormatter().format(make_record("x", extra=extra)))
        assert [line[key] for key in extra] == [401, 0.25, True, None, "nan", "('::1', 9)"]

    @pytest.mark.parametrize("fmt", sorted(PARSERS))
    def test_exception_comes_last_and_the_message_stays_constant(self, fmt: str) -> None:
        """``log.exception`` keeps msg as given and adds the traceback as ``exception``."""

        def emit(log: logging.Logger) -> None:
            try:
                raise RuntimeError("disk full")
            except RuntimeError:
                log.exception("cannot write state file", extra=fields(path="/var/x.json"))

        (line,) = logged(fmt, emit)
        exception = str(line["exception"]).splitlines()
        assert (list(line)[-3:], line["msg"], line["path"]) == (
            ["msg", "path", "exception"],
            "cannot write state file",
            "/var/x.json",
        )
        assert (exception[0], exception[-1]) == (
            "Traceback (most recent call last):",
            "RuntimeError: disk full",
        )


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
        """A secret in an exception is replaced in its traceback, which leaves the message."""
        record = make_record(
            "poll failed", level=logging.ERROR, exc_info=raised(f"bad token {SECRET}")
        )
        Redactor([SECRET]).filter(record)
        lines = (record.exc_text or "").splitlines()
        assert (record.getMessage(), lines[0], lines[-1]) == (
            "poll failed",
            "Traceback (most recent call last):",
            "RuntimeError: bad token <redacted>",
        )
        assert (SECRET in (record.exc_text or ""), record.exc_info) == (False, None)

    def test_field(self) -> None:
        """A secret in a field's text is replaced, whatever the field's type."""
        record = make_record("request sent", extra=fields(url=f"https://x/?t={SECRET}"))
        record.headers = {"Authorization": f"Bearer {SECRET}"}
        Redactor([SECRET]).filter(record)
        assert (record.url, record.headers) == (
            "https://x/?t=<redacted>",
            "{'Authorization': 'Bearer <redacted>'}",
        )

    def test_field_without_a_secret_keeps_its_type(self) -> None:
        """A field that holds no secret is left as it was, a number stays a number."""
        record = make_record("poll succeeded", extra=fields(status=200, workspace="demo"))
        Redactor([SECRET]).filter(record)
        assert (record.status, record.workspace) == (200, "demo")

    def test_bad_arguments_do_not_raise(self) -> None:
        """A message whose ``%`` arguments do not fit is kept with them, not raised."""
        record = make_record("took %d s", "many")
        Redactor([SECRET]).filter(record)
        assert record.getMessage() == "took %d s ('many',)"

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
        rest = [line.split(" ", 1)[1] for line in lines]
        assert rest[0] == 'level=info logger=exporter.test msg="token=<redacted>"'
        assert rest[1].startswith(
            'level=error logger=exporter.test msg=failed exception="Traceback (most recent'
        )
        assert rest[1].endswith('ValueError: <redacted>"')
        assert (len(lines), SECRET in stream.getvalue()) == (2, False)

    def test_json_end_to_end(self) -> None:
        """With the json format each line is a JSON object with the secret replaced."""
        stream = io.StringIO()
        setup("debug", "json", stream).update([SECRET])
        logging.getLogger("exporter.test").debug("using %s", SECRET)
        entry = json.loads(stream.getvalue())
        del entry["ts"]
        assert entry == {"level": "debug", "logger": "exporter.test", "msg": "using <redacted>"}

    @pytest.mark.parametrize("fmt", sorted(PARSERS))
    def test_secret_redacted_in_message_field_and_exception(self, fmt: str) -> None:
        """A secret in the message, in a field and in an exception is replaced in each."""

        def emit(log: logging.Logger) -> None:
            log.info("using %s", SECRET, extra=fields(workspace="demo"))
            log.info("request sent", extra=fields(workspace="demo", header=f"Bearer {SECRET}"))
            try:
                raise ValueError(f"rejected {SECRET}")
            except ValueError:
                log.exception("poll failed", extra=fields(workspace="demo"))

        lines = logged(fmt, emit, secrets=(SECRET,))
        assert [
            (
                line["msg"],
                line["workspace"],
                line.get("header"),
                str(line.get("exception", "")).splitlines()[-1:],
            )
            for line in lines
        ] == [
            ("using <redacted>", "demo", None, []),
            ("request sent", "demo", "Bearer <redacted>", []),
            ("poll failed", "demo", None, ["ValueError: rejected <redacted>"]),
        ]
        assert [SECRET in json.dumps(line) for line in lines] == [False, False, False]

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
