"""Command line: parse flags, wire objects, handle signals. No logic of its own.

Flags follow the Prometheus exporters' style (``--config.file``,
``--web.listen-address``) and override the config file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

from exporter import __version__, logs
from exporter.commands import backfill, history, query
from exporter.commands.openmetrics import Grid
from exporter.config import (
    DEFAULT_CONFIG_FILE,
    Config,
    PollConfig,
    Secret,
    WebConfig,
    WorkspaceConfig,
    load_config,
    parse_listen_address,
)
from exporter.daemon import Exporter
from exporter.errors import ConfigError, ExporterError
from exporter.simulator import FaultSchedule, Scenario, SimulatorServer, parse_faults
from exporter.web.server import ExporterServer, Reload
from exporter.web.webconfig import WebSecurity, load_web_security

log = logging.getLogger("exporter")
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    sys.exit(args.func(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cention-logio-exporter",
        description="Prometheus exporter for Cention Contact Center's logio API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="poll the logio API and serve /metrics")
    _config_flag(run)
    run.add_argument("--web.listen-address", dest="listen_address", metavar="HOST:PORT")
    run.add_argument("--web.telemetry-path", dest="telemetry_path", metavar="PATH")
    run.add_argument("--web.config.file", dest="web_config_file", metavar="PATH")
    _log_flags(run)
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check-config", help="validate a config file and exit")
    _config_flag(check)
    check.set_defaults(func=cmd_check_config)

    simulate = commands.add_parser("simulate", help="serve a fake logio API")
    simulate.add_argument("--listen-address", default="127.0.0.1:8080", metavar="HOST:PORT")
    simulate.add_argument(
        "--faults",
        type=_fault_spec,
        default="",
        metavar="SPEC",
        help="KIND[:SECONDS]@OFFSET+DURATION,... from the start, e.g. 503@60+30,hang:20@120+60",
    )
    _simulator_flags(simulate)
    _log_flags(simulate)
    simulate.set_defaults(func=cmd_simulate)

    demo = commands.add_parser("demo", help="run the simulator and the exporter together")
    demo.add_argument("--listen-address", default="127.0.0.1:9863", metavar="HOST:PORT")
    demo.add_argument(
        "--simulator.listen-address",
        dest="sim_address",
        default="127.0.0.1:9864",
        metavar="HOST:PORT",
    )
    _simulator_flags(demo, agents=200)
    _log_flags(demo)
    demo.set_defaults(func=cmd_demo)
    _backfill_parser(commands)
    _query_parser(commands)
    return parser


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=DEFAULT_CONFIG_FILE,
        metavar="PATH",
        help="default: %(default)s",
    )


def _log_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log.level", dest="log_level", default="info", choices=list(logs.LEVELS))
    parser.add_argument(
        "--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"]
    )


def _simulator_flags(parser: argparse.ArgumentParser, agents: int = 50) -> None:
    parser.add_argument("--agents", type=int, default=agents, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workspace", default="demo")
    parser.add_argument(
        "--token",
        default=os.environ.get("CENTION_TOKEN", "demo-token"),
        help="token to accept (default: $CENTION_TOKEN or demo-token)",
    )


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config_file)
    except ConfigError as exc:
        _print_problems(args.config_file, exc)
        return 1
    names = ", ".join(w.workspace for w in config.workspaces)
    print(f"{args.config_file}: OK ({len(config.workspaces)} workspaces: {names})")
    return 0


def _print_problems(path: str, exc: ConfigError) -> None:
    print(f"{path}: invalid configuration:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


def _load(args: argparse.Namespace) -> Config:
    """The config file with the command line's overrides applied."""
    config = load_config(args.config_file)
    web = config.web
    overrides = {
        "listen_address": args.listen_address,
        "telemetry_path": args.telemetry_path,
        "config_file": args.web_config_file,
    }
    web = dataclasses.replace(web, **{k: v for k, v in overrides.items() if v is not None})
    return dataclasses.replace(config, web=web)


def cmd_run(args: argparse.Namespace) -> int:
    redactor = logs.setup(args.log_level, args.log_format)
    try:
        config = _load(args)
    except ConfigError as exc:
        _print_problems(args.config_file, exc)
        return 1
    security = None
    if config.web.config_file is not None:
        try:
            security = load_web_security(config.web.config_file)
        except ConfigError as exc:
            _print_problems(config.web.config_file, exc)
            return 1
        log.info("web config %s: %s", config.web.config_file, security.describe())
        if security.auth is not None and security.context is None:
            log.warning("basic_auth_users without tls_server_config: passwords go in clear text")
    redactor.update(w.token.reveal() for w in config.workspaces)
    _warn_about(config, args.config_file)
    exporter = Exporter(config)

    def reload() -> str | None:
        try:
            new = _load(args)
        except ConfigError as exc:
            log.error("reload failed, keeping the running config: %s", exc)
            return f"reload failed: {exc}"
        redactor.update(w.token.reveal() for w in (*config.workspaces, *new.workspaces))
        _warn_about(new, args.config_file)
        exporter.apply(new)
        log.info("configuration reloaded")
        return None

    return _serve(exporter, config, reload, security)


def _serve(
    exporter: Exporter,
    config: Config,
    reload: Reload | None,
    security: WebSecurity | None = None,
) -> int:
    try:
        server = ExporterServer(
            config.web.listen_address,
            exporter.registry,
            telemetry_path=config.web.telemetry_path,
            not_ready=exporter.state.not_ready,
            reload=reload,
            security=security,
            render=exporter.exposition.render,
        )
    except OSError as exc:
        log.error("cannot listen on %s: %s", config.web.listen_address, exc.strerror)
        return 1
    exporter.start()
    server.start()
    log.info(
        "listening on %s, telemetry at %s", config.web.listen_address, config.web.telemetry_path
    )
    _wait_for_signals(reload)
    log.info("shutting down")
    server.shutdown()
    exporter.stop()
    return 0


def _wait_for_signals(reload: Reload | None) -> None:
    """Block until SIGTERM or SIGINT; SIGHUP reloads the config meanwhile."""
    wake, received = threading.Event(), list[int]()

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)
    while True:
        wake.wait()
        wake.clear()
        while received:
            if received.pop(0) != signal.SIGHUP:
                return
            if reload is not None:
                reload()


def _warn_about(config: Config, config_file: str) -> None:
    for workspace in config.workspaces:
        if workspace.insecure_skip_verify:
            log.warning(
                "workspace=%s insecure_skip_verify is on: TLS certificates of %s are not verified",
                workspace.workspace,
                workspace.api_url,
            )
    inline = any(w.token_inline for w in config.workspaces)
    if inline and _readable_by_others(config_file):
        log.warning(
            "%s holds a token and is readable by other users: chmod 600 it, or use "
            "token_file or ${VAR}",
            config_file,
        )


def _readable_by_others(path: str) -> bool:
    try:
        return bool(Path(path).stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _fault_spec(spec: str) -> str:
    """Check ``--faults`` while parsing; its offsets count from the simulator's start."""
    try:
        parse_faults(spec, origin=0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec


def cmd_simulate(args: argparse.Namespace) -> int:
    logs.setup(args.log_level, args.log_format)
    host, port = parse_listen_address(args.listen_address)
    start = time.time()
    scenario = Scenario(agents=args.agents, seed=args.seed, start=int(start))
    faults = FaultSchedule(parse_faults(args.faults, origin=start))
    with SimulatorServer(
        scenario, token=args.token, workspace=args.workspace, host=host, port=port, faults=faults
    ) as simulator:
        print(
            f"logio simulator: {simulator.url}/s/{args.workspace}/capi/custom/logio "
            f"({args.agents} agents)",
            flush=True,
        )
        _wait_for_signals(None)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    logs.setup(args.log_level, args.log_format)
    sim_host, sim_port = parse_listen_address(args.sim_address)
    scenario = Scenario(agents=args.agents, seed=args.seed, start=int(time.time()))
    with SimulatorServer(
        scenario, token=args.token, workspace=args.workspace, host=sim_host, port=sim_port
    ) as simulator:
        config = demo_config(simulator.url, args.workspace, args.token, args.listen_address)
        exporter = Exporter(config)
        host, port = parse_listen_address(args.listen_address)
        base = f"http://{host if host not in ('', '0.0.0.0') else '127.0.0.1'}:{port}"  # noqa: S104  # a URL to print, not a bind
        print(
            f"Simulated logio API: {simulator.url}/s/{args.workspace}/capi/custom/logio\n"
            f"Exporter:            {base}/\n"
            f"Metrics:             {base}/metrics\n"
            "Agents log in and out as the simulated day goes on; Ctrl-C stops.",
            flush=True,
        )
        return _serve(exporter, config, None)


def demo_config(api_url: str, workspace: str, token: str, listen_address: str) -> Config:
    """A config for the demo: the simulator, a short interval, a one-day lookback."""
    return Config(
        workspaces=(
            WorkspaceConfig(
                workspace=workspace, api_url=api_url, token=Secret(token), format="json"
            ),
        ),
        poll=PollConfig(interval=5.0, lookback=86400.0),
        web=WebConfig(listen_address=listen_address),
    )


def _backfill_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser("backfill", help="write past metrics as OpenMetrics for promtool")
    _config_flag(cmd)
    times = "YYYY-MM-DD (UTC midnight), an RFC 3339 time or unix seconds"
    cmd.add_argument(
        "--from",
        dest="start",
        required=True,
        type=_flag(backfill.parse_time),
        metavar="TIME",
        help=times,
    )
    cmd.add_argument(
        "--to",
        dest="stop",
        required=True,
        type=_flag(backfill.parse_time),
        metavar="TIME",
        help=f"{times}; at most the live exporter's first scrape",
    )
    cmd.add_argument(
        "--step",
        type=_flag(backfill.parse_step),
        default=60,
        metavar="DURATION",
        help="time between samples (default: 1m)",
    )
    _workspace_flag(cmd)
    cmd.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_flag(backfill.parse_label),
        help="add this label to every series, e.g. job=cention-logio; repeatable",
    )
    cmd.add_argument(
        "--output",
        required=True,
        metavar="PATH",
        help="the OpenMetrics file to write; - for standard output",
    )
    _log_flags(cmd)
    cmd.set_defaults(func=cmd_backfill)


def _query_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser("query", help="print who is logged in now, then exit")
    _config_flag(cmd)
    _workspace_flag(cmd)
    cmd.add_argument("--output", default="table", choices=["table", "json"])
    cmd.set_defaults(func=cmd_query)


def _workspace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        dest="workspaces",
        action="append",
        metavar="NAME",
        help="only this workspace; repeatable (default: every one)",
    )


def _flag(convert: Callable[[str], T]) -> Callable[[str], T]:
    """``convert`` for argparse: its ``ValueError`` becomes a usage error naming the flag."""

    def checked(text: str) -> T:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return checked


def _load_for(args: argparse.Namespace, redactor: logs.Redactor) -> Config | None:
    """The config file, its tokens known to ``redactor``; None once its problems are printed."""
    try:
        config = load_config(args.config_file)
    except ConfigError as exc:
        _print_problems(args.config_file, exc)
        return None
    redactor.update(w.token.reveal() for w in config.workspaces)
    return config


def cmd_backfill(args: argparse.Namespace) -> int:
    redactor = logs.setup(args.log_level, args.log_format)
    config = _load_for(args, redactor)
    if config is None:
        return 1
    _warn_about(config, args.config_file)
    try:
        workspaces = history.select(config, args.workspaces)
        grid = Grid.between(args.start, args.stop, args.step, time.time())
    except ValueError as exc:
        print(f"cention-logio-exporter backfill: error: {exc}", file=sys.stderr)
        return 2
    try:
        backfill.run(config, workspaces, grid, args.output, dict(args.labels))
    except (ExporterError, OSError) as exc:
        log.error("backfill failed: %s", exc)
        return 1
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    redactor = logs.setup("warn")
    config = _load_for(args, redactor)
    if config is None:
        return 1
    try:
        workspaces = history.select(config, args.workspaces)
    except ValueError as exc:
        print(f"cention-logio-exporter query: error: {exc}", file=sys.stderr)
        return 2
    rows, failures = query.query(config, workspaces, int(time.time()))
    if len(failures) < len(workspaces):
        render = query.render_json if args.output == "json" else query.render_table
        sys.stdout.write(render(rows))
    for failure in failures:
        print(redactor.scrub(failure), file=sys.stderr)
    return 1 if failures else 0
