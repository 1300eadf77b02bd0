"""README.md states what the exporter does: the quick start, the configuration table."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import Config, parse_config

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WORKSPACE = {"workspace": "demo", "api_url": "https://apid.cention.com", "token": "t0ken"}


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next one."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def config_table() -> dict[str, str]:
    """Key -> default cell of each row of the configuration table."""
    rows = re.findall(r"^\| `([^`]+)`[^|]* \| ([^|]+?) \|", section("Configuration"), re.M)
    return dict(rows)


def documented_defaults() -> dict[str, str]:
    """Key -> the default the table writes as code, such as ``30s`` or ``[]``."""
    cells = {key: re.fullmatch(r"`([^`]+)`", cell) for key, cell in config_table().items()}
    return {key: match.group(1) for key, match in cells.items() if match}


def parse(data: dict[str, Any]) -> Config:
    return parse_config(data, {}, ROOT)


def with_key(key: str, value: object) -> dict[str, Any]:
    """A minimal config with ``key`` (``poll.interval``, ``workspaces[].format``) set."""
    section_name, _, name = key.partition(".")
    if section_name == "workspaces[]":
        return {"workspaces": [WORKSPACE | {name: value}]}
    return {"workspaces": [WORKSPACE], section_name: {name: value}}


class TestQuickStart:
    def test_state_file_snippet_is_valid(self):
        """The quick start's state snippet is accepted and sets state.file."""
        snippets = re.findall(
            r"```yaml\n(.*?)```", section("Quick start against a real Cention"), re.S
        )
        (state,) = [yaml.safe_load(textwrap.dedent(s)) for s in snippets if "state:" in s]
        assert parse({"workspaces": [WORKSPACE], **state}).state.file == str(
            ROOT / "cention.state.json"
        )


class TestConfigTable:
    def test_rows(self):
        """The table lists these keys, each with its default written as code or in words."""
        assert config_table() == {
            "workspaces[].workspace": "required",
            "workspaces[].api_url": "required",
            "workspaces[].token": "one required",
            "workspaces[].format": "`csv`",
            "workspaces[].agents": "`[]`",
            "workspaces[].ca_file": "none",
            "workspaces[].schedule": "the top-level one",
            "schedule.timezone": "UTC",
            "schedule.hours": "open all day",
            "schedule.closed": "none",
            "schedule.staffing": "none",
            "poll.interval": "`30s`",
            "poll.timeout": "`10s`",
            "poll.overlap": "`10m`",
            "poll.lookback": "`7d`",
            "poll.max_window": "`1d`",
            "poll.max_response_bytes": "`256MiB`",
            "state.file": "none",
            "metrics.per_agent": "`true`",
            "metrics.forget_agent_after": "`30d`",
            "metrics.session_duration_buckets": "1m … 1d",
            "web.listen_address": "`:9863`",
            "web.telemetry_path": "`/metrics`",
            "web.config_file": "none",
        }

    @pytest.mark.parametrize(("key", "default"), sorted(documented_defaults().items()))
    def test_documented_default_is_the_default(self, key, default):
        """Writing the table's default into a config file is accepted and changes nothing."""
        value = yaml.safe_load(default)
        assert parse(with_key(key, value)) == parse({"workspaces": [WORKSPACE]})

    @pytest.mark.parametrize("key", ["workspaces[].ca_file", "state.file", "web.config_file"])
    def test_none_means_unset(self, key):
        """A key whose default the table gives as none is unset in the default config."""
        config = parse({"workspaces": [WORKSPACE]})
        section_name, _, name = key.partition(".")
        holder = (
            config.workspaces[0]
            if section_name == "workspaces[]"
            else getattr(config, section_name)
        )
        assert getattr(holder, name) is None

    def test_session_duration_buckets_span_a_minute_to_a_day(self):
        """The buckets the table gives as 1m … 1d start at 60 s and end at 86,400 s."""
        buckets = parse({"workspaces": [WORKSPACE]}).metrics.session_duration_buckets
        assert (buckets[0], buckets[-1]) == (60.0, 86400.0)
