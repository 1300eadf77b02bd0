"""``demo``: the simulator and the exporter together, in one process, until SIGTERM.

Its flags, the config it runs with and what it prints; ``exporter.cli`` serves it.
"""

from __future__ import annotations

import argparse

from exporter.commands import flags, simulate
from exporter.config import (
    Config,
    PollConfig,
    Secret,
    WebConfig,
    WorkspaceConfig,
    listen_address,
    local_address,
)
from exporter.simulator import SimulatorServer


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("demo", help="run the simulator and the exporter together")
    cmd.add_argument(
        "--listen-address",
        default="127.0.0.1:9863",
        type=flags.checked(listen_address),
        metavar="HOST:PORT",
    )
    cmd.add_argument(
        "--simulator.listen-address",
        dest="sim_address",
        default=simulate.SIMULATOR_ADDRESS,
        type=flags.checked(listen_address),
        metavar="HOST:PORT",
    )
    simulate.add_scenario_flags(cmd, agents=200)
    flags.log(cmd)
    return cmd


def demo_config(api_url: str, workspace: str, token: str, address: str) -> Config:
    """A config for the demo: the simulator, a short interval, a one-day lookback."""
    return Config(
        workspaces=(
            WorkspaceConfig(
                workspace=workspace, api_url=api_url, token=Secret(token), format="json"
            ),
        ),
        poll=PollConfig(interval=5.0, lookback=86400.0),
        web=WebConfig(listen_address=(address,)),
    )


def banner(simulator: SimulatorServer, address: str) -> str:
    host, port = local_address(address)
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    return (
        f"Simulated logio API: {simulator.logio_url}\n"
        f"Exporter:            {base}/\n"
        f"Metrics:             {base}/metrics\n"
        "Agents log in and out as the simulated day goes on; Ctrl-C stops."
    )
