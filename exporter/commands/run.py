"""``run``: poll the logio API and serve ``/metrics`` until SIGTERM; SIGHUP reloads.

Its flags; ``exporter.cli`` wires the loader, the exporter, the server and the signals.
"""

from __future__ import annotations

import argparse

from exporter.commands import flags


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser("run", help="poll the logio API and serve /metrics")
    flags.config_file(cmd)
    flags.web(cmd)
    flags.serving(cmd)
    flags.log(cmd)
    return cmd
