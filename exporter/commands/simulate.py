"""``simulate``: serve a fake logio API, with an optional schedule of faults, until SIGTERM.

Its flags, the simulator they describe, and what it prints: the endpoint, and the
``workspaces:`` entry that polls it, ready to paste into ``config.yaml``. ``demo`` shares
the scenario flags and the simulator's address.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import yaml

from exporter.commands import flags
from exporter.config import listen_address, parse_listen_address
from exporter.simulator import FaultSchedule, Scenario, SimulatorServer, parse_faults

SIMULATOR_ADDRESS = "127.0.0.1:9864"
"""Beside the exporter's 9863; no common service uses 9864 (IANA and nmap list none)."""
TOKEN_VARIABLE = "CENTION_TOKEN"  # noqa: S105  # a variable's name, not its value
DEMO_TOKEN = "demo-token"  # noqa: S105  # what the demo simulator accepts, public on purpose


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("simulate", help="serve a fake logio API")
    cmd.add_argument(
        "--listen-address",
        default=SIMULATOR_ADDRESS,
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
        "--agents", type=flags.checked(flags.count), default=agents, help="default: %(default)s"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workspace", default="demo")
    parser.add_argument(
        "--token",
        help=f"token to accept (default: ${TOKEN_VARIABLE} or {DEMO_TOKEN})",
    )


def token(args: argparse.Namespace) -> str:
    """The token the simulator accepts: ``--token``, else $CENTION_TOKEN, else the demo's."""
    given: str | None = args.token
    return given if given is not None else os.environ.get(TOKEN_VARIABLE, DEMO_TOKEN)


def simulator(args: argparse.Namespace, address: str, faults: str = "") -> SimulatorServer:
    """The simulator the scenario flags describe, at ``address``; ``with`` starts it."""
    host, port = parse_listen_address(address)
    start = time.time()
    return SimulatorServer(
        Scenario(agents=args.agents, seed=args.seed, start=int(start)),
        token=token(args),
        workspace=args.workspace,
        host=host,
        port=port,
        faults=FaultSchedule(parse_faults(faults, origin=start)),
    )


def banner(simulator: SimulatorServer, args: argparse.Namespace) -> str:
    """The endpoint, then the ``workspaces:`` entry that polls it.

    A token from $CENTION_TOKEN is not printed: the entry names the variable, which the
    exporter expands from its own environment.
    """
    from_env = args.token is None and TOKEN_VARIABLE in os.environ
    entry = {
        "workspace": simulator.workspace,
        "api_url": simulator.url,
        "token": f"${{{TOKEN_VARIABLE}}}" if from_env else token(args),
    }
    snippet = yaml.dump({"workspaces": [entry]}, Dumper=_Indented, sort_keys=False)
    return (
        f"logio simulator: {simulator.logio_url} ({args.agents} agents)\n"
        f"To poll it, put this in config.yaml:\n\n{snippet.rstrip()}"
    )


class _Indented(yaml.SafeDumper):
    """Lists indented under their key, as config.example.yaml writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _faults(spec: str) -> str:
    """Check ``--faults`` while parsing; its offsets count from the simulator's start."""
    parse_faults(spec, origin=0)
    return spec
