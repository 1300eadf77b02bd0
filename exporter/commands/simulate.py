"""``simulate``: serve a fake logio API, with an optional schedule of faults, until SIGTERM.

Its flags, and the simulator they describe; ``demo`` shares the scenario flags.
"""

from __future__ import annotations

import argparse
import os
import time

from exporter.commands import flags
from exporter.config import listen_address, parse_listen_address
from exporter.simulator import FaultSchedule, Scenario, SimulatorServer, parse_faults


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("simulate", help="serve a fake logio API")
    cmd.add_argument(
        "--listen-address",
        default="127.0.0.1:8080",
        type=flags.checked(listen_address),
        metavar="HOST:PORT",
    )
    cmd.add_argument(
        "--faults",
        type=flags.checked(_faults),
        default="",
        metavar="SPEC",
        help="KIND[:SECONDS]@OFFSET+DURATION,... from the start, e.g. 503@60+30,hang:20@120+60",
    )
    add_scenario_flags(cmd)
    flags.log(cmd)
    return cmd


def add_scenario_flags(parser: argparse.ArgumentParser, agents: int = 50) -> None:
    parser.add_argument(
        "--agents", type=flags.checked(_count), default=agents, help="default: %(default)s"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workspace", default="demo")
    parser.add_argument(
        "--token",
        default=os.environ.get("CENTION_TOKEN", "demo-token"),
        help="token to accept (default: $CENTION_TOKEN or demo-token)",
    )


def simulator(args: argparse.Namespace, address: str, faults: str = "") -> SimulatorServer:
    """The simulator the scenario flags describe, at ``address``; ``with`` starts it."""
    host, port = parse_listen_address(address)
    start = time.time()
    return SimulatorServer(
        Scenario(agents=args.agents, seed=args.seed, start=int(start)),
        token=args.token,
        workspace=args.workspace,
        host=host,
        port=port,
        faults=FaultSchedule(parse_faults(faults, origin=start)),
    )


def banner(simulator: SimulatorServer, agents: int) -> str:
    return f"logio simulator: {simulator.logio_url} ({agents} agents)"


def _faults(spec: str) -> str:
    """Check ``--faults`` while parsing; its offsets count from the simulator's start."""
    parse_faults(spec, origin=0)
    return spec


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"expected a whole number, 0 or more, got {text!r}")
    return int(text)
