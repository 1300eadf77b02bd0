"""``check-config``: validate the config file, and the web config it names, as ``run`` would.

It takes ``run``'s flags but the log ones (the config file and the web flags) and goes
through the same loader, so a config it accepts is one that ``run`` starts with. What is
valid but most likely a mistake (an ``api_url`` ending in the path the exporter appends) is
a warning on standard error; the exit status stays 0.
"""

from __future__ import annotations

import argparse

from exporter.commands import flags
from exporter.config import Config, api_url_warning
from exporter.web.webconfig import WebSecurity


def add_parser(subparsers: flags.Subparsers) -> argparse.ArgumentParser:
    cmd = subparsers.add_parser(
        "check-config", help="validate a config file (and its web config) as run would, and exit"
    )
    flags.config_file(cmd)
    flags.web(cmd)
    flags.serving(cmd)
    flags.quiet(cmd)
    return cmd


def summary(config_file: str, config: Config, security: WebSecurity | None) -> str:
    """What was checked, e.g. ``config.yaml: OK (2 workspaces: north, south)``."""
    names = ", ".join(w.workspace for w in config.workspaces)
    lines = [f"{config_file}: OK ({len(config.workspaces)} workspaces: {names})"]
    if security is not None:
        lines.append(f"{config.web.config_file}: OK ({security.describe()})")
    return "\n".join(lines)


def warnings(config_file: str, config: Config) -> list[str]:
    """One line per likely mistake, e.g. ``config.yaml: warning: workspaces[0].api_url: ...``."""
    found = ((i, api_url_warning(w)) for i, w in enumerate(config.workspaces))
    return [f"{config_file}: warning: workspaces[{i}].api_url: {why}" for i, why in found if why]
