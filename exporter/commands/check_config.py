"""``check-config``: validate the config file, and the web config it names, as ``run`` would.

It takes ``run``'s flags that decide validity (the config file and the web flags) and goes
through the same loader, so a config it accepts is one that ``run`` starts with.
"""

from __future__ import annotations

import argparse

from exporter.commands import flags
from exporter.config import Config
from exporter.web.webconfig import WebSecurity


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "check-config", help="validate a config file (and its web config) as run would, and exit"
    )
    flags.config_file(cmd)
    flags.web(cmd)
    flags.quiet(cmd)
    return cmd


def summary(config_file: str, config: Config, security: WebSecurity | None) -> str:
    """What was checked, e.g. ``config.yaml: OK (2 workspaces: north, south)``."""
    names = ", ".join(w.workspace for w in config.workspaces)
    lines = [f"{config_file}: OK ({len(config.workspaces)} workspaces: {names})"]
    if security is not None:
        lines.append(f"{config.web.config_file}: OK ({security.describe()})")
    return "\n".join(lines)
