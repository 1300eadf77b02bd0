"""Flags that several commands share, each defined once, and the command line's error line.

A command's own flags stay in its module; these are the ones that must read the same
wherever they appear: ``--config.file``, the web flags (``run``, ``check-config`` and
``healthcheck`` accept the same), the log flags and ``--workspace``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeAlias, TypeVar

from exporter import logs
from exporter.config import DEFAULT_CONFIG_FILE
from exporter.web.server import DEFAULT_MAX_REQUESTS

T = TypeVar("T")
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

PROG = "cention-logio-exporter"
_WEB = (  # flag, dest, metavar, the key it overrides; checked by exporter.config.web_flags
    ("--web.listen-address", "listen_address", "HOST:PORT", "web.listen_address"),
    ("--web.telemetry-path", "telemetry_path", "PATH", "web.telemetry_path"),
    ("--web.config.file", "web_config_file", "PATH", "web.config_file"),
)


def config_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=DEFAULT_CONFIG_FILE,
        metavar="PATH",
        help="default: %(default)s",
    )


def web(parser: argparse.ArgumentParser) -> None:
    """The flags that override the config file's ``web`` keys; the listen address repeats."""
    for flag, dest, metavar, key in _WEB:
        if dest == "listen_address":
            help_text = f"overrides {key}; repeat it to listen on several"
            parser.add_argument(flag, dest=dest, metavar=metavar, help=help_text, action="append")
        else:
            parser.add_argument(flag, dest=dest, metavar=metavar, help=f"overrides {key}")


def serving(parser: argparse.ArgumentParser) -> None:
    """How ``run`` serves: the toolkit's socket activation and scrape limit flags."""
    parser.add_argument(
        "--web.systemd-socket",
        dest="systemd_socket",
        action="store_true",
        help="serve the sockets systemd passes (socket activation) instead of the addresses",
    )
    parser.add_argument(
        "--web.max-requests",
        dest="max_requests",
        type=checked(count),
        default=DEFAULT_MAX_REQUESTS,
        metavar="N",
        help="scrapes served at once; one more gets 503; 0: no limit (default: %(default)s)",
    )


def count(text: str) -> int:
    """A whole number, 0 or more, as a flag gives it."""
    if not text.strip().isdigit():
        raise ValueError(f"expected a whole number, 0 or more, got {text!r}")
    return int(text)


def web_given(args: argparse.Namespace) -> dict[str, object]:
    """The web flags on this command line, by flag name: ``{"--web.telemetry-path": "/m"}``."""
    given = {flag: getattr(args, dest) for flag, dest, _, _ in _WEB}
    return {flag: value for flag, value in given.items() if value is not None}


def log(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log.level", dest="log_level", default="info", choices=list(logs.LEVELS))
    parser.add_argument(
        "--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"]
    )


def quiet(parser: argparse.ArgumentParser) -> None:
    """For a command without log flags: only warnings and errors are logged."""
    parser.set_defaults(log_level="warn", log_format="logfmt")


def workspaces(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        dest="workspaces",
        action="append",
        metavar="NAME",
        help="only this workspace; repeatable (default: every one)",
    )


def checked(convert: Callable[[str], T]) -> Callable[[str], T]:
    """``convert`` for argparse: its ``ValueError`` becomes a usage error naming the flag."""

    def check(text: str) -> T:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


def error(args: argparse.Namespace, message: str) -> None:
    """One line on standard error, as argparse writes it: ``PROG COMMAND: error: ...``."""
    print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
