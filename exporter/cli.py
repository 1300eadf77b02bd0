"""Command line: the parser built from each command's module, dispatch, and shared wiring.

Each command's flags live in its module under ``exporter.commands``. Here are only the
parts several commands share: logging set-up, the one config loader (config file, flag
overrides, web config, token redaction), serving, and signals. Flags follow the
Prometheus exporters' style (``--config.file``, ``--web.listen-address``) and override
the config file. Flags with no command before them are ``run``'s, as for other exporters:
``cention-logio-exporter --web.listen-address=:9000`` (``docker run IMAGE --flag``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

from exporter import build, logs
from exporter.commands import (
    backfill,
    check_config,
    demo,
    flags,
    healthcheck,
    query,
    report,
    run,
    simulate,
)
from exporter.config import (
    Config,
    WebConfig,
    WorkspaceConfig,
    api_url_warning,
    load_config,
    web_flags,
    with_web,
)
from exporter.daemon import Exporter
from exporter.errors import ConfigError
from exporter.logs import fields
from exporter.simulator import SimulatorServer
from exporter.web.activation import activated_sockets
from exporter.web.server import DEFAULT_MAX_REQUESTS, ExporterServer, Reload
from exporter.web.status import workspace_status
from exporter.web.watch import WatchedWebConfig

log = logging.getLogger("exporter")
Dispatch = Callable[[argparse.Namespace, logs.Redactor], int]
DEFAULT_COMMAND = "run"
TOP_LEVEL_FLAGS = frozenset(("-h", "--help", "--version"))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    redactor = logs.setup(args.log_level, args.log_format)
    sys.exit(args.dispatch(args, redactor))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed; with no command word first (nothing, or a flag), ``run``'s.

    ``--help`` and ``--version`` stay the top level's; an unknown word is still an error.
    """
    if not argv or (argv[0].startswith("-") and argv[0] not in TOP_LEVEL_FLAGS):
        argv = [DEFAULT_COMMAND, *argv]
    return _parser().parse_args(argv)


class _Version(argparse.Action):
    """``--version``: the block of the Prometheus exporters, found only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(build.version_block())
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=flags.PROG,
        description="Prometheus exporter for Cention Contact Center's logio API.",
        epilog=f"With no COMMAND the flags are {DEFAULT_COMMAND}'s: `%(prog)s --config.file "
        f"PATH` is `%(prog)s {DEFAULT_COMMAND} --config.file PATH`.",
    )
    top.add_argument("--version", action=_Version, nargs=0, help="print the version block and exit")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    entries: tuple[tuple[Callable[[flags.Subparsers], argparse.ArgumentParser], Dispatch], ...] = (
        (run.add_parser, _run),
        (check_config.add_parser, _check_config),
        (healthcheck.add_parser, _healthcheck),
        (simulate.add_parser, _simulate),
        (demo.add_parser, _demo),
        (backfill.add_parser, _backfill),
        (query.add_parser, _query),
        (report.add_parser, _report),
    )
    for add_parser, dispatch in entries:
        add_parser(commands).set_defaults(dispatch=dispatch)
    return top


# The one loader.


@dataclass(frozen=True)
class Loaded:
    """What ``run`` starts with: the config, the flags applied, and its web config.

    The web config is watched: the server asks it for the current TLS and basic auth at
    each new connection, and it re-reads its files when they change.
    """

    config: Config
    security: WatchedWebConfig | None


def load(args: argparse.Namespace, redactor: logs.Redactor, *, web: bool = True) -> Loaded:
    """The web flags, the config file with them applied, then the web config it names.

    Every value goes through the config's own checks, so ``check-config``, ``run`` and a
    reload accept the same; ``ConfigError`` otherwise, its ``source`` naming the file (None:
    the flags). ``web=False`` (backfill, query: nothing served) skips the web parts, whose
    server key may be unreadable to whoever runs a one-shot command. Each token becomes
    known to ``redactor``, which forgets none, since a stopping poller may still log.
    """
    keys = web_flags(flags.web_given(args)) if web else {}
    config = with_web(load_config(args.config_file), keys)
    redactor.update((*redactor.secrets, *(w.token.reveal() for w in config.workspaces)))
    security = None
    if web and config.web.config_file is not None:
        security = WatchedWebConfig(config.web.config_file)
    return Loaded(config, security)


def _loaded(
    args: argparse.Namespace, redactor: logs.Redactor, *, web: bool = True
) -> Loaded | None:
    """``load`` at a command's start: None once its problems are printed."""
    try:
        return load(args, redactor, web=web)
    except ConfigError as exc:
        _print_problems(args, exc)
        return None


def _print_problems(args: argparse.Namespace, exc: ConfigError) -> None:
    """A file's problems under its name; a flag's in one line each, as argparse writes."""
    if exc.source is None:
        for problem in exc.problems:
            flags.error(args, f"argument {problem}")
        return
    print(f"{exc.source}: invalid configuration:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


def _warn_about(config: Config, config_file: str) -> None:
    for workspace in config.workspaces:
        if workspace.insecure_skip_verify:
            log.warning(
                "insecure_skip_verify is on: TLS certificates are not verified",
                extra=fields(workspace=workspace.workspace, api_url=workspace.api_url),
            )
        if doubled := api_url_warning(workspace):
            log.warning(
                "api_url holds a path", extra=fields(workspace=workspace.workspace, problem=doubled)
            )
    inline = any(w.token_inline for w in config.workspaces)
    if inline and _readable_by_others(config_file):
        log.warning(
            "config file holds a token and is readable by other users: chmod 600 it, or use "
            "token_file or ${VAR}",
            extra=fields(path=config_file),
        )


def _readable_by_others(path: str) -> bool:
    try:
        return bool(Path(path).stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


# The commands.


def _run(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    loaded = _loaded(args, redactor)
    if loaded is None:
        return 1
    sockets = _activated(args)
    if sockets is None:
        return 1
    log.info("starting cention-logio-exporter", extra=build.current().fields())
    web = loaded.config.web
    if loaded.security is not None:
        security = loaded.security.current()
        log.info(
            "web config loaded", extra=fields(path=web.config_file, security=security.describe())
        )
        if security.auth is not None and security.context is None:
            log.warning(
                "basic_auth_users without tls_server_config: passwords go in clear text",
                extra=fields(path=web.config_file),
            )
    _warn_about(loaded.config, args.config_file)
    exporter = Exporter(loaded.config)
    one_at_a_time = threading.Lock()  # SIGHUP in the main thread, POST /-/reload in another

    def reload() -> str | None:
        with one_at_a_time:
            try:
                new = load(args, redactor)
            except ConfigError as exc:
                log.error("reload failed, keeping the running config", extra=fields(error=str(exc)))
                return f"reload failed: {exc}"
            _warn_about(new.config, args.config_file)
            if new.config.web != web:
                log.warning("the web settings changed: they take effect at the next start")
            exporter.apply(new.config)
            log.info("configuration reloaded")
            return None

    return _serve(exporter, web, loaded.security, reload, sockets, args.max_requests)


def _activated(args: argparse.Namespace) -> list[socket.socket] | None:
    """The sockets systemd passed with ``--web.systemd-socket``, none without; None once a
    usage error says why there are none."""
    if not args.systemd_socket:
        return []
    try:
        return activated_sockets(os.environ, os.getpid())
    except ValueError as exc:
        flags.error(args, f"argument --web.systemd-socket: {exc}")
        return None


def _check_config(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    loaded = _loaded(args, redactor)
    if loaded is None:
        return 1
    security = loaded.security.current() if loaded.security is not None else None
    print(check_config.summary(args.config_file, loaded.config, security))
    for warning in check_config.warnings(args.config_file, loaded.config):
        print(warning, file=sys.stderr)
    return 0


def _healthcheck(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    try:
        loaded = load(args, redactor)
    except ConfigError as exc:
        print(healthcheck.unloadable(exc), file=sys.stderr)
        return 1
    security = loaded.security.current() if loaded.security is not None else None
    return healthcheck.main(loaded.config.web, security)


def _simulate(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    simulator = simulate.simulator(args, args.listen_address, args.faults)
    with _Signals() as signals:
        if not _started(simulator, args.listen_address):
            return 1
        try:
            print(simulate.banner(simulator, args), flush=True)
            signals.wait(None)
        finally:
            simulator.stop()
    return 0


def _demo(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    simulator = simulate.simulator(args, args.sim_address)
    if not _started(simulator, args.sim_address):
        return 1
    try:
        config = demo.demo_config(
            simulator.url, args.workspace, simulate.token(args), args.listen_address
        )
        print(demo.banner(simulator, args.listen_address), flush=True)
        return _serve(Exporter(config), config.web, None, None)
    finally:
        simulator.stop()


def _started(simulator: SimulatorServer, address: str) -> bool:
    """Start ``simulator``; False once the reason it cannot is logged."""
    try:
        simulator.start()
    except OSError as exc:
        log.error("cannot listen", extra=fields(address=address, error=exc.strerror))
        return False
    return True


def _backfill(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    chosen = _one_shot(args, redactor)
    if isinstance(chosen, int):
        return chosen
    _warn_about(chosen[0], args.config_file)
    return backfill.main(args, *chosen)


def _query(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    chosen = _one_shot(args, redactor)
    if isinstance(chosen, int):
        return chosen
    return query.main(args, *chosen, redactor.scrub)


def _report(args: argparse.Namespace, redactor: logs.Redactor) -> int:
    chosen = _one_shot(args, redactor)
    if isinstance(chosen, int):
        return chosen
    return report.main(args, *chosen, redactor.scrub)


def _one_shot(
    args: argparse.Namespace, redactor: logs.Redactor
) -> tuple[Config, tuple[WorkspaceConfig, ...]] | int:
    """The config and the workspaces ``--workspace`` names, or the exit status once the
    problem is printed."""
    loaded = _loaded(args, redactor, web=False)
    if loaded is None:
        return 1
    try:
        return loaded.config, loaded.config.select(args.workspaces)
    except ValueError as exc:
        flags.error(args, str(exc))
        return 2


# Serving and signals.


def _serve(
    exporter: Exporter,
    web: WebConfig,
    security: WatchedWebConfig | None,
    reload: Reload | None,
    sockets: Sequence[socket.socket] = (),
    max_requests: int = DEFAULT_MAX_REQUESTS,
) -> int:
    """Serve until SIGTERM or SIGINT, reloading on SIGHUP; the state file is written last.

    Passed ``sockets`` (socket activation) are served instead of the listen addresses.
    The signals are taken before the port opens: a SIGHUP sent as soon as ``/healthz``
    answers reloads rather than ends the process.
    """
    with _Signals() as signals:
        try:
            server = ExporterServer(
                () if sockets else web.listen_address,
                exporter.registry,
                sockets=sockets,
                telemetry_path=web.telemetry_path,
                not_ready=exporter.state.not_ready,
                reload=reload,
                security=security,
                status=lambda: workspace_status(exporter.state, exporter.config.metrics.per_agent),
                max_requests=max_requests,
                render=exporter.exposition.render,
            )
        except OSError as exc:  # its message names the address
            log.error("cannot listen", extra=fields(error=exc.strerror))
            return 1
        addresses = ", ".join(server.addresses)
        log.info("listening", extra=fields(address=addresses, telemetry_path=web.telemetry_path))
        exporter.start()
        server.start()
        signals.wait(reload)
        log.info("shutting down")
        server.shutdown()
        exporter.stop()
    return 0


class _Signals:
    """SIGTERM, SIGINT and SIGHUP, handed to the main thread, from ``with`` to its end.

    The handlers do nothing: ``signal.set_wakeup_fd`` has the interpreter write each
    signal's number to a socket, whichever thread the signal reached, and ``wait`` reads it
    in the main thread, where reloads and the shutdown run. A handler that takes a lock
    (``threading.Event.set``) can find it held by the very code it interrupted, and wait on
    itself for ever: a burst of SIGHUPs hung the exporter so.
    """

    STOP = frozenset((signal.SIGTERM, signal.SIGINT))

    def __enter__(self) -> _Signals:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._wakeup = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._handlers = {sig: signal.signal(sig, _received) for sig in (*self.STOP, signal.SIGHUP)}
        return self

    def wait(self, reload: Reload | None) -> None:
        """Return at SIGTERM or SIGINT; reload at SIGHUP, once for a burst read at once."""
        while True:
            received = set(self._reader.recv(4096))
            if received & self.STOP:
                return
            if reload is not None and signal.SIGHUP in received:
                reload()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._handlers.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(self._wakeup)
        self._reader.close()
        self._writer.close()


def _received(signum: int, frame: FrameType | None) -> None:
    """Nothing: the wakeup socket carries the signal to ``_Signals.wait``."""
