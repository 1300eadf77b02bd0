"""Loading and validating the configuration file."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from schedules import ISSUE_EXAMPLE

from exporter.config import (
    DEFAULT_BUCKETS,
    Config,
    MetricsConfig,
    PollConfig,
    Secret,
    StateConfig,
    WebConfig,
    WorkspaceConfig,
    api_url_warning,
    load_config,
    parse_config,
    parse_duration,
    parse_listen_address,
    web_flags,
    with_web,
)
from exporter.core.schedule import Schedule
from exporter.errors import ConfigError

TOKEN = "tok-9f8e7d6c5b4a"
API = "https://apid.cention.com"
WORKSPACE_KEYS = (
    "workspace, api_url, token, token_file, format, agents, ca_file, insecure_skip_verify, schedule"
)

EXAMPLE = """\
workspaces:
  - workspace: demo               # URL path segment and the `workspace` label
    api_url: https://apid.cention.com
    token: ${CENTION_TOKEN}       # ${VAR} expanded from the environment
    format: json                  # csv | json, default csv
    agents: []                    # optional: only these logins
    ca_file: null                 # optional extra CA bundle
poll:
  interval: 30s
  timeout: 10s
  overlap: 10m
  lookback: 7d
  max_window: 1d
state:
  file: null
metrics:
  per_agent: true
  forget_agent_after: 30d
  session_duration_buckets: [60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400]
web:
  listen_address: ":9863"
  telemetry_path: /metrics
"""


def workspace(**overrides: object) -> dict[str, object]:
    """A valid workspace entry with some keys replaced (``None`` removes a key)."""
    item: dict[str, object] = {"workspace": "demo", "api_url": API, "token": TOKEN}
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


def problems_of(data: object, environ: dict[str, str] | None = None, base: Path = Path("/etc/x")):
    """The problem list of the ConfigError that ``data`` raises."""
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ or {}, base)
    return caught.value.problems


def parse(data: object, environ: dict[str, str] | None = None) -> Config:
    return parse_config(data, environ or {}, Path("/etc/x"))


class TestLoadConfig:
    def test_issue_example(self, tmp_path: Path) -> None:
        """The documented example parses to exactly the documented values."""
        path = tmp_path / "config.yaml"
        path.write_text(EXAMPLE, encoding="utf-8")
        config = load_config(path, {"CENTION_TOKEN": TOKEN})
        assert config == Config(
            workspaces=(
                WorkspaceConfig(
                    workspace="demo",
                    api_url=API,
                    token=Secret(TOKEN),
                    format="json",
                    agents=(),
                    ca_file=None,
                    insecure_skip_verify=False,
                    token_inline=False,
                ),
            ),
            poll=PollConfig(
                interval=30.0,
                timeout=10.0,
                overlap=600.0,
                lookback=604800.0,
                max_window=86400.0,
                max_response_bytes=256 * 1024 * 1024,
            ),
            state=StateConfig(file=None),
            metrics=MetricsConfig(
                per_agent=True,
                forget_agent_after=2592000.0,
                session_duration_buckets=(
                    60.0,
                    300.0,
                    900.0,
                    1800.0,
                    3600.0,
                    7200.0,
                    14400.0,
                    28800.0,
                    43200.0,
                    86400.0,
                ),
            ),
            web=WebConfig(listen_address=(":9863",), telemetry_path="/metrics", config_file=None),
        )

    def test_every_key_set(self, tmp_path: Path) -> None:
        """A config that sets every key, over two workspaces, keeps every value."""
        (tmp_path / "secrets").mkdir()
        (tmp_path / "secrets" / "token").write_text("  other-token\n", encoding="utf-8")
        (tmp_path / "ca.pem").write_text("not read here\n", encoding="utf-8")
        path = tmp_path / "config.yaml"
        path.write_text(
            f"""\
workspaces:
  - workspace: demo
    api_url: {API}/
    token: {TOKEN}
    agents: [anna, "Doe, Jane"]
    ca_file: ca.pem
  - workspace: sales.eu-1
    api_url: http://logio.internal:8080/base
    token_file: secrets/token
    format: csv
    insecure_skip_verify: true
poll:
  interval: 1m
  timeout: 2.5
  overlap: 0
  lookback: 1h30m
  max_window: 30m
  max_response_bytes: 1048576
state:
  file: /var/lib/cention/state.json
metrics:
  per_agent: false
  forget_agent_after: 1w
  session_duration_buckets: [30s, 1m, 1h]
web:
  listen_address: "[::1]:9100"
  telemetry_path: /probe/metrics
""",
            encoding="utf-8",
        )
        assert load_config(path, {}) == Config(
            workspaces=(
                WorkspaceConfig(
                    workspace="demo",
                    api_url=API,
                    token=Secret(TOKEN),
                    format="csv",
                    agents=("anna", "Doe, Jane"),
                    ca_file=str(tmp_path / "ca.pem"),
                    insecure_skip_verify=False,
                    token_inline=True,
                ),
                WorkspaceConfig(
                    workspace="sales.eu-1",
                    api_url="http://logio.internal:8080/base",
                    token=Secret("other-token"),
                    format="csv",
                    agents=(),
                    ca_file=None,
                    insecure_skip_verify=True,
                    token_inline=False,
                ),
            ),
            poll=PollConfig(
                interval=60.0,
                timeout=2.5,
                overlap=0.0,
                lookback=5400.0,
                max_window=1800.0,
                max_response_bytes=1048576,
            ),
            state=StateConfig(file="/var/lib/cention/state.json"),
            metrics=MetricsConfig(
                per_agent=False,
                forget_agent_after=604800.0,
                session_duration_buckets=(30.0, 60.0, 3600.0),
            ),
            web=WebConfig(listen_address=("[::1]:9100",), telemetry_path="/probe/metrics"),
        )

    def test_missing_file(self, tmp_path: Path) -> None:
        """A config file that does not exist is one problem naming the path."""
        path = tmp_path / "nope.yaml"
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert caught.value.problems == [f"{path}: cannot read: No such file or directory"]

    def test_not_yaml(self, tmp_path: Path) -> None:
        """A file that is not YAML is one problem naming the path."""
        path = tmp_path / "config.yaml"
        path.write_text("workspaces: [\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert len(caught.value.problems) == 1
        assert caught.value.problems[0].startswith(f"{path}: not valid YAML: ")

    def test_empty_file(self, tmp_path: Path) -> None:
        """An empty file lacks the one required section."""
        path = tmp_path / "config.yaml"
        path.write_text("", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert caught.value.problems == ["workspaces: at least one workspace is required"]

    def test_environment_defaults_to_the_process(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without an explicit mapping, ${VAR} reads the process environment."""
        monkeypatch.setenv("CENTION_TOKEN", TOKEN)
        path = tmp_path / "config.yaml"
        path.write_text(EXAMPLE, encoding="utf-8")
        assert load_config(path).workspaces[0].token == Secret(TOKEN)


class TestDefaults:
    def test_minimal_config(self) -> None:
        """A single workspace with a token is enough; everything else has its default."""
        assert parse({"workspaces": [workspace()]}) == Config(
            workspaces=(WorkspaceConfig("demo", API, Secret(TOKEN), token_inline=True),),
            poll=PollConfig(30.0, 10.0, 600.0, 604800.0, 86400.0, 268435456),
            state=StateConfig(None),
            metrics=MetricsConfig(True, 2592000.0, DEFAULT_BUCKETS),
            web=WebConfig((":9863",), "/metrics", None),
        )

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(
                {"workspaces": [workspace()], "poll": None, "state": None, "web": None},
                id="null-sections",
            ),
            pytest.param(
                {"workspaces": [workspace()], "poll": {}, "metrics": {}, "web": {}},
                id="empty-sections",
            ),
            pytest.param(
                {"workspaces": [workspace(format=None, agents=None, ca_file=None)]},
                id="absent-optional-keys",
            ),
        ],
    )
    def test_empty_sections_are_defaults(self, data: object) -> None:
        """A null or empty section means its defaults."""
        assert parse(data) == parse({"workspaces": [workspace()]})

    def test_endpoint(self) -> None:
        """The endpoint is the API URL, the workspace and the logio path."""
        config = parse({"workspaces": [workspace(api_url=API + "/")]})
        assert config.workspaces[0].endpoint == "https://apid.cention.com/s/demo/capi/custom/logio"


class TestDurations:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            pytest.param("500ms", 0.5, id="milliseconds"),
            pytest.param("30s", 30.0, id="seconds"),
            pytest.param("5m", 300.0, id="minutes"),
            pytest.param("2h", 7200.0, id="hours"),
            pytest.param("7d", 604800.0, id="days"),
            pytest.param("1w", 604800.0, id="weeks"),
            pytest.param("1h30m", 5400.0, id="hours-minutes"),
            pytest.param("1d2h3m4s5ms", 93784.005, id="every-unit"),
            pytest.param("1.5h", 5400.0, id="fraction"),
            pytest.param(" 30s ", 30.0, id="surrounding-space"),
            pytest.param("45", 45.0, id="plain-string"),
            pytest.param("2.5", 2.5, id="plain-fraction-string"),
            pytest.param(45, 45.0, id="int"),
            pytest.param(2.5, 2.5, id="float"),
            pytest.param(0, 0.0, id="zero"),
        ],
    )
    def test_valid(self, value: object, seconds: float) -> None:
        """Each documented duration form gives its number of seconds."""
        assert parse_duration(value) == seconds

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            pytest.param(
                "5 minutes",
                "expected a duration like 500ms, 30s, 5m, 7d, got '5 minutes'",
                id="word",
            ),
            pytest.param(
                "30 s", "expected a duration like 500ms, 30s, 5m, 7d, got '30 s'", id="inner-space"
            ),
            pytest.param("5x", "expected a duration like 500ms, 30s, 5m, 7d, got '5x'", id="unit"),
            pytest.param(
                "-5s", "expected a duration like 500ms, 30s, 5m, 7d, got '-5s'", id="negative"
            ),
            pytest.param(
                "m", "expected a duration like 500ms, 30s, 5m, 7d, got 'm'", id="unit-only"
            ),
            pytest.param("", "expected a duration like 500ms, 30s, 5m, 7d, got ''", id="empty"),
            pytest.param(
                "1.5.2s", "expected a duration like 500ms, 30s, 5m, 7d, got '1.5.2s'", id="dots"
            ),
            pytest.param(
                "1h 30m", "expected a duration like 500ms, 30s, 5m, 7d, got '1h 30m'", id="gap"
            ),
            pytest.param(None, "expected a duration like 500ms, 30s, 5m, 7d, got None", id="none"),
            pytest.param([30], "expected a duration like 500ms, 30s, 5m, 7d, got [30]", id="list"),
            pytest.param(True, "expected a duration like 30s, got True", id="bool"),
            pytest.param(-1, "must not be negative, got -1", id="negative-number"),
            pytest.param(-0.5, "must not be negative, got -0.5", id="negative-float"),
            pytest.param(
                float("nan"), "expected a duration like 500ms, 30s, 5m, 7d, got nan", id="nan"
            ),
            pytest.param(
                float("inf"), "expected a duration like 500ms, 30s, 5m, 7d, got inf", id="infinity"
            ),
        ],
    )
    def test_invalid(self, value: object, message: str) -> None:
        """Anything that is not a finite, non-negative duration is refused with the reason."""
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            parse_duration(value)

    @pytest.mark.parametrize(
        ("poll", "problems"),
        [
            pytest.param(
                {"interval": "500ms"},
                ["poll.interval: must be at least 1s, got '500ms'"],
                id="interval-below-1s",
            ),
            pytest.param(
                {"interval": "soon"},
                ["poll.interval: expected a duration like 500ms, 30s, 5m, 7d, got 'soon'"],
                id="interval-word",
            ),
            pytest.param(
                {"timeout": "0s"}, ["poll.timeout: must be at least 1ms, got '0s'"], id="timeout-0"
            ),
            pytest.param(
                {"overlap": -1}, ["poll.overlap: must not be negative, got -1"], id="overlap-neg"
            ),
            pytest.param(
                {"max_window": "0.5s"},
                ["poll.max_window: must be at least 1s, got '0.5s'"],
                id="max-window",
            ),
            pytest.param(
                {"lookback": "5m", "overlap": "10m"},
                ["poll.lookback: must be at least poll.overlap"],
                id="lookback-below-overlap",
            ),
            pytest.param(
                {"max_response_bytes": 0},
                ["poll.max_response_bytes: must be at least 1 byte, got 0"],
                id="max-bytes-zero",
            ),
            pytest.param(
                {"max_response_bytes": "1 MB"},
                [
                    "poll.max_response_bytes: expected a size like 512KiB, 256MiB, 10MB "
                    "or a number of bytes, got '1 MB'"
                ],
                id="max-bytes-string",
            ),
            pytest.param(
                {"max_response_bytes": True},
                [
                    "poll.max_response_bytes: expected a size like 512KiB, 256MiB, 10MB "
                    "or a number of bytes, got True"
                ],
                id="max-bytes-bool",
            ),
        ],
    )
    def test_bad_poll_values(self, poll: dict[str, object], problems: list[str]) -> None:
        """A bad poll duration is reported with its key and the reason."""
        assert problems_of({"workspaces": [workspace()], "poll": poll}) == problems

    def test_max_response_bytes_takes_a_size(self) -> None:
        """poll.max_response_bytes reads a size with a unit from the YAML file."""
        data = yaml.safe_load("poll:\n  max_response_bytes: 256MiB\n")
        config = parse({"workspaces": [workspace()], **data})
        assert config.poll.max_response_bytes == 256 * 1024 * 1024

    def test_forget_agent_after(self) -> None:
        """metrics.forget_agent_after is a duration of at least a second."""
        data = {"workspaces": [workspace()], "metrics": {"forget_agent_after": "10ms"}}
        assert problems_of(data) == ["metrics.forget_agent_after: must be at least 1s, got '10ms'"]


class TestEnvironment:
    def test_expands_everywhere(self) -> None:
        """${VAR} is expanded in any string value, also inside a longer string."""
        data = {
            "workspaces": [
                workspace(
                    workspace="${WS}",
                    api_url="https://${HOST}",
                    token="${PREFIX}-${SUFFIX}",
                    agents=["${AGENT}"],
                )
            ],
            "poll": {"interval": "${INTERVAL}"},
        }
        environ = {
            "WS": "sales",
            "HOST": "apid.cention.com",
            "PREFIX": "tok",
            "SUFFIX": "123",
            "AGENT": "anna",
            "INTERVAL": "45s",
        }
        config = parse(data, environ)
        assert config.workspaces[0] == WorkspaceConfig(
            workspace="sales",
            api_url=API,
            token=Secret("tok-123"),
            agents=("anna",),
            token_inline=True,
        )
        assert config.poll.interval == 45.0

    @pytest.mark.parametrize(
        ("token", "inline"),
        [
            pytest.param("${TOKEN}", False, id="variable-only"),
            pytest.param(" ${TOKEN} ", False, id="variable-padded"),
            pytest.param("tok-${SUFFIX}", True, id="partly-literal"),
            pytest.param("literal-token", True, id="literal"),
        ],
    )
    def test_inline_means_a_secret_in_the_file(self, token: str, inline: bool) -> None:
        """Only a token written into the file counts as inline, for the permissions warning."""
        data = {"workspaces": [{"workspace": "w", "api_url": API, "token": token}]}
        config = parse(data, {"TOKEN": "t", "SUFFIX": "s"})
        assert config.workspaces[0].token_inline is inline

    def test_not_recursive(self) -> None:
        """A value that itself looks like ${VAR} is taken literally."""
        config = parse({"workspaces": [workspace(token="${A}")]}, {"A": "${B}", "B": "never-used"})
        assert config.workspaces[0].token == Secret("${B}")

    def test_bare_dollar_is_literal(self) -> None:
        """$VAR without braces is not a reference."""
        config = parse({"workspaces": [workspace(token="$TOKEN")]}, {"TOKEN": "x"})
        assert config.workspaces[0].token == Secret("$TOKEN")

    def test_missing_variables(self) -> None:
        """Each missing variable is reported with the key that uses it."""
        data = {
            "workspaces": [workspace(agents=["${AGENT_A}", "bob"])],
            "web": {"telemetry_path": "/${PATH_A}/${PATH_B}"},
        }
        assert problems_of(data) == [
            "workspaces[0].agents[0]: environment variable AGENT_A is not set",
            "web.telemetry_path: environment variable PATH_A is not set",
            "web.telemetry_path: environment variable PATH_B is not set",
            "workspaces[0].agents: expected a list of agent login names",
        ]

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            pytest.param("token", "${CENTION_TOKEN}", id="token"),
            pytest.param("api_url", "${CENTION_URL}", id="api-url"),
        ],
    )
    def test_missing_variable_is_its_keys_only_problem(self, key: str, value: str) -> None:
        """A key whose whole value is a missing variable gets that one problem, not a second."""
        variable = value[2:-1]
        assert problems_of({"workspaces": [workspace(**{key: value})]}) == [
            f"workspaces[0].{key}: environment variable {variable} is not set"
        ]


class TestToken:
    def test_inline_is_stripped(self) -> None:
        """Whitespace around an inline token is not part of it."""
        config = parse({"workspaces": [workspace(token=f"  {TOKEN}\n")]})
        assert config.workspaces[0].token == Secret(TOKEN)

    def test_file_relative_to_config_folder(self, tmp_path: Path) -> None:
        """A relative token_file is read from the config file's folder, not the cwd."""
        (tmp_path / "conf.d").mkdir()
        (tmp_path / "conf.d" / "token").write_text(f"{TOKEN}\n", encoding="utf-8")
        path = tmp_path / "conf.d" / "config.yaml"
        path.write_text(
            f"workspaces:\n  - workspace: demo\n    api_url: {API}\n    token_file: token\n",
            encoding="utf-8",
        )
        workspace_config = load_config(path, {}).workspaces[0]
        assert (workspace_config.token, workspace_config.token_inline) == (Secret(TOKEN), False)

    def test_file_absolute(self, tmp_path: Path) -> None:
        """An absolute token_file is read where it says."""
        token = tmp_path / "token"
        token.write_text(TOKEN, encoding="utf-8")
        config = parse_config(
            {"workspaces": [workspace(token=None, token_file=str(token))]}, {}, Path("/etc/x")
        )
        assert config.workspaces[0].token == Secret(TOKEN)

    def test_file_from_environment(self, tmp_path: Path) -> None:
        """token_file may name its path through ${VAR}."""
        (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
        config = parse_config(
            {"workspaces": [workspace(token=None, token_file="${SECRETS}/token")]},
            {"SECRETS": str(tmp_path)},
            Path("/etc/x"),
        )
        assert config.workspaces[0].token == Secret(TOKEN)

    @pytest.mark.parametrize(
        "content", [pytest.param("", id="empty"), pytest.param(" \n\n", id="blank")]
    )
    def test_file_empty(self, tmp_path: Path, content: str) -> None:
        """An empty token file is a problem naming the file."""
        (tmp_path / "token").write_text(content, encoding="utf-8")
        data = {"workspaces": [workspace(token=None, token_file="token")]}
        assert problems_of(data, base=tmp_path) == [
            f"workspaces[0].token_file: {tmp_path / 'token'} is empty"
        ]

    def test_file_missing(self, tmp_path: Path) -> None:
        """A token file that does not exist is a problem naming the file."""
        data = {"workspaces": [workspace(token=None, token_file="missing")]}
        assert problems_of(data, base=tmp_path) == [
            f"workspaces[0].token_file: cannot read {tmp_path / 'missing'}: FileNotFoundError"
        ]

    def test_file_not_utf8(self, tmp_path: Path) -> None:
        """A token file that is not UTF-8 is a problem naming the file."""
        (tmp_path / "token").write_bytes(b"\xff\xfe\x00")
        data = {"workspaces": [workspace(token=None, token_file="token")]}
        assert problems_of(data, base=tmp_path) == [
            f"workspaces[0].token_file: cannot read {tmp_path / 'token'}: UnicodeDecodeError"
        ]

    def test_token_and_file(self, tmp_path: Path) -> None:
        """Giving both token and token_file is refused."""
        (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
        data = {"workspaces": [workspace(token_file="token")]}
        assert problems_of(data, base=tmp_path) == [
            "workspaces[0].token: give token or token_file, not both"
        ]

    @pytest.mark.parametrize(
        ("token", "problem"),
        [
            pytest.param(None, "workspaces[0].token: required (or token_file)", id="absent"),
            pytest.param("", "workspaces[0].token: must be a non-empty string", id="empty"),
            pytest.param("   ", "workspaces[0].token: must be a non-empty string", id="blank"),
            pytest.param(12345, "workspaces[0].token: must be a non-empty string", id="number"),
            pytest.param(["a"], "workspaces[0].token: must be a non-empty string", id="list"),
        ],
    )
    def test_bad_inline(self, token: object, problem: str) -> None:
        """A missing or non-string token is reported."""
        assert problems_of({"workspaces": [workspace(token=token)]}) == [problem]


class TestSecrecy:
    def test_secret_hides_its_value(self) -> None:
        """A Secret shows stars in repr and str, and reveals its value only on request."""
        secret = Secret(TOKEN)
        assert (repr(secret), str(secret), secret.reveal()) == (
            "Secret('********')",
            "Secret('********')",
            TOKEN,
        )

    def test_config_repr(self, tmp_path: Path) -> None:
        """Neither repr nor str of a whole Config contains the token."""
        path = tmp_path / "config.yaml"
        path.write_text(EXAMPLE, encoding="utf-8")
        config = load_config(path, {"CENTION_TOKEN": TOKEN})
        assert (TOKEN in repr(config), TOKEN in str(config)) == (False, False)

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param(
                f"workspaces:\n  - workspace: demo/x\n    api_url: ftp://x\n    token: {TOKEN}\n"
                "poll: {interval: 0}\nweb: {listen_address: nowhere}\n",
                id="other-keys-bad",
            ),
            pytest.param(
                f"workspaces:\n  - workspace: demo\n    api_url: {API}\n    token: {TOKEN}\n"
                "    token_file: token\n",
                id="token-and-file",
            ),
            pytest.param(
                f"workspaces:\n  - workspace: demo\n    api_url: {API}\n    tokn: {TOKEN}\n",
                id="misspelt-key",
            ),
            pytest.param(
                f"workspaces:\n  - workspace: demo\n    api_url: {API}\n    token: {TOKEN}: x\n",
                id="yaml-syntax-error-on-token-line",
            ),
            pytest.param(
                f'workspaces:\n  - workspace: demo\n    api_url: {API}\n    token: "{TOKEN}\n',
                id="yaml-unclosed-quote-on-token-line",
            ),
        ],
    )
    def test_problems_never_quote_the_token(self, tmp_path: Path, text: str) -> None:
        """No problem message of a bad config file contains the token."""
        (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert [p for p in caught.value.problems if TOKEN in p] == []
        assert TOKEN not in str(caught.value)


class TestUnknownKeys:
    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            pytest.param(
                {"workspaces": [workspace()], "typo": 1},
                "typo: unknown key (known: workspaces, schedule, poll, state, metrics, web)",
                id="root",
            ),
            pytest.param(
                {"workspaces": [workspace(tokn="x")]},
                f"workspaces[0].tokn: unknown key (known: {WORKSPACE_KEYS})",
                id="workspace",
            ),
            pytest.param(
                {"workspaces": [workspace()], "poll": {"intervall": "30s"}},
                "poll.intervall: unknown key (known: interval, timeout, overlap, lookback, "
                "max_window, max_response_bytes)",
                id="poll",
            ),
            pytest.param(
                {"workspaces": [workspace()], "state": {"path": "/x"}},
                "state.path: unknown key (known: file)",
                id="state",
            ),
            pytest.param(
                {"workspaces": [workspace()], "metrics": {"per_agents": False}},
                "metrics.per_agents: unknown key (known: per_agent, forget_agent_after, "
                "session_duration_buckets)",
                id="metrics",
            ),
            pytest.param(
                {"workspaces": [workspace()], "web": {"listen": ":1"}},
                "web.listen: unknown key (known: listen_address, telemetry_path, config_file)",
                id="web",
            ),
        ],
    )
    def test_unknown_key(self, data: object, problem: str) -> None:
        """An unknown key at any level is named with the keys that are known there."""
        assert problems_of(data) == [problem]

    @pytest.mark.parametrize(
        ("data", "problems"),
        [
            pytest.param(
                ["x"],
                [
                    "config: must be a mapping of keys",
                    "workspaces: at least one workspace is required",
                ],
                id="root-list",
            ),
            pytest.param(
                {"workspaces": [workspace()], "poll": "30s"},
                ["poll: must be a mapping of keys"],
                id="poll-string",
            ),
            pytest.param(
                {"workspaces": [workspace()], "web": [1]},
                ["web: must be a mapping of keys"],
                id="web-list",
            ),
            pytest.param(
                {"workspaces": workspace()},
                ["workspaces: at least one workspace is required"],
                id="workspaces-mapping",
            ),
            pytest.param(
                {"workspaces": []},
                ["workspaces: at least one workspace is required"],
                id="workspaces-empty",
            ),
            pytest.param(
                {"workspaces": ["demo"]},
                [
                    "workspaces[0]: must be a mapping of keys",
                    "workspaces[0].workspace: required",
                    "workspaces[0].api_url: required",
                    "workspaces[0].token: required (or token_file)",
                ],
                id="workspace-string",
            ),
        ],
    )
    def test_wrong_shape(self, data: object, problems: list[str]) -> None:
        """A section of the wrong shape is named."""
        assert problems_of(data) == problems


class TestWorkspaces:
    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            pytest.param(
                "ftp://apid.cention.com",
                "expected an http(s) URL such as https://apid.cention.com, got 'ftp://apid.cention.com'",
                id="scheme",
            ),
            pytest.param(
                "apid.cention.com",
                "expected an http(s) URL such as https://apid.cention.com, got 'apid.cention.com'",
                id="no-scheme",
            ),
            pytest.param(
                "https://",
                "expected an http(s) URL such as https://apid.cention.com, got 'https:'",
                id="no-host",
            ),
            pytest.param(
                "https://apid.cention.com/?x=1",
                "must not hold a query, a fragment or credentials",
                id="query",
            ),
            pytest.param(
                "https://apid.cention.com#x",
                "must not hold a query, a fragment or credentials",
                id="fragment",
            ),
            pytest.param(
                "https://user:pw@apid.cention.com",
                "must not hold a query, a fragment or credentials",
                id="credentials",
            ),
            pytest.param("https://[bad", "Invalid IPv6 URL", id="bad-ipv6"),
            pytest.param(42, "expected a non-empty string, got 42", id="number"),
            pytest.param(
                "https://apid.cention.com:80x",
                "port of 'https://apid.cention.com:80x' must be a number from 0 to 65535",
                id="port-not-a-number",
            ),
            pytest.param(
                "https://apid.cention.com:99999",
                "port of 'https://apid.cention.com:99999' must be a number from 0 to 65535",
                id="port-out-of-range",
            ),
        ],
    )
    def test_bad_url(self, url: object, problem: str) -> None:
        """A malformed api_url is reported with the reason."""
        assert problems_of({"workspaces": [workspace(api_url=url)]}) == [
            f"workspaces[0].api_url: {problem}"
        ]

    @pytest.mark.parametrize(
        ("name", "problem"),
        [
            pytest.param(
                "demo/x",
                "must be a URL path segment (letters, digits, . _ ~ -), got 'demo/x'",
                id="slash",
            ),
            pytest.param(
                "my demo",
                "must be a URL path segment (letters, digits, . _ ~ -), got 'my demo'",
                id="space",
            ),
            pytest.param(
                "demo?x",
                "must be a URL path segment (letters, digits, . _ ~ -), got 'demo?x'",
                id="query",
            ),
            pytest.param("", "expected a non-empty string, got ''", id="empty"),
            pytest.param(7, "expected a non-empty string, got 7", id="number"),
            pytest.param(
                "..",
                "must be a URL path segment (letters, digits, . _ ~ -), got '..'",
                id="dot-dot",
            ),
            pytest.param(
                ".", "must be a URL path segment (letters, digits, . _ ~ -), got '.'", id="dot"
            ),
        ],
    )
    def test_bad_workspace_name(self, name: object, problem: str) -> None:
        """A workspace name that is not one URL path segment is reported."""
        assert problems_of({"workspaces": [workspace(workspace=name)]}) == [
            f"workspaces[0].workspace: {problem}"
        ]

    @pytest.mark.parametrize("key", ["workspace", "api_url"])
    def test_required_key_missing(self, key: str) -> None:
        """A workspace without its name or URL is reported as such."""
        item = workspace()
        del item[key]
        assert problems_of({"workspaces": [item]}) == [f"workspaces[0].{key}: required"]

    @pytest.mark.parametrize("key", ["workspace", "api_url"])
    def test_required_key_empty(self, tmp_path: Path, key: str) -> None:
        """A workspace whose name or URL key is present but empty is reported as required."""
        path = tmp_path / "config.yaml"
        lines = {"workspace": "demo", "api_url": API, "token": TOKEN}
        lines[key] = ""
        body = "".join(f"    {k}: {v}\n" for k, v in lines.items())
        path.write_text("workspaces:\n  -\n" + body, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert caught.value.problems == [f"workspaces[0].{key}: required"]

    def test_duplicate(self) -> None:
        """The same workspace listed twice is reported once."""
        data = {
            "workspaces": [workspace(), workspace(token="b"), workspace(), workspace(workspace="x")]
        }
        assert problems_of(data) == ["workspaces: workspace 'demo' is listed more than once"]

    @pytest.mark.parametrize(
        ("overrides", "problem"),
        [
            pytest.param(
                {"format": "xml"},
                "workspaces[0].format: expected csv or json, got 'xml'",
                id="format",
            ),
            pytest.param(
                {"format": "JSON"},
                "workspaces[0].format: expected csv or json, got 'JSON'",
                id="format-case",
            ),
            pytest.param(
                {"agents": "anna"},
                "workspaces[0].agents: expected a list of agent login names",
                id="agents-string",
            ),
            pytest.param(
                {"agents": ["anna", ""]},
                "workspaces[0].agents: expected a list of agent login names",
                id="agents-empty-name",
            ),
            pytest.param(
                {"agents": [1]},
                "workspaces[0].agents: expected a list of agent login names",
                id="agents-number",
            ),
            pytest.param(
                {"insecure_skip_verify": "yes"},
                "workspaces[0].insecure_skip_verify: expected true or false, got 'yes'",
                id="insecure-string",
            ),
            pytest.param(
                {"ca_file": "ca.pem"},
                "workspaces[0].ca_file: no such file /etc/x/ca.pem",
                id="ca-missing",
            ),
        ],
    )
    def test_bad_optional_key(self, overrides: dict[str, object], problem: str) -> None:
        """A bad optional workspace key is reported with the reason."""
        assert problems_of({"workspaces": [workspace(**overrides)]}) == [problem]


class TestMetrics:
    @pytest.mark.parametrize(
        ("buckets", "reason"),
        [
            pytest.param([], "expected a non-empty list of seconds", id="empty"),
            pytest.param("60", "expected a non-empty list of seconds", id="not-a-list"),
            pytest.param(
                [300, 60], "bucket bounds must be positive and strictly increasing", id="decreasing"
            ),
            pytest.param(
                [60, 60], "bucket bounds must be positive and strictly increasing", id="repeated"
            ),
            pytest.param(
                [0, 60], "bucket bounds must be positive and strictly increasing", id="zero"
            ),
            pytest.param([-1, 60], "bucket must not be negative, got -1", id="negative"),
            pytest.param(
                [60, "soon"],
                "bucket expected a duration like 500ms, 30s, 5m, 7d, got 'soon'",
                id="word",
            ),
        ],
    )
    def test_bad_buckets(self, buckets: object, reason: str) -> None:
        """Histogram buckets must be a non-empty, strictly increasing list of durations."""
        data = {"workspaces": [workspace()], "metrics": {"session_duration_buckets": buckets}}
        assert problems_of(data) == [f"metrics.session_duration_buckets: {reason}"]

    def test_per_agent_must_be_boolean(self) -> None:
        """metrics.per_agent takes true or false, not a string."""
        data = {"workspaces": [workspace()], "metrics": {"per_agent": "no"}}
        assert problems_of(data) == ["metrics.per_agent: expected true or false, got 'no'"]


class TestWeb:
    @pytest.mark.parametrize(
        ("address", "expected"),
        [
            pytest.param(":9863", ("", 9863), id="all-interfaces"),
            pytest.param("127.0.0.1:9100", ("127.0.0.1", 9100), id="ipv4"),
            pytest.param("[::1]:9863", ("::1", 9863), id="ipv6"),
            pytest.param("localhost:0", ("localhost", 0), id="any-port"),
        ],
    )
    def test_listen_address(self, address: str, expected: tuple[str, int]) -> None:
        """HOST:PORT splits into the host to bind and the port."""
        assert parse_listen_address(address) == expected

    @pytest.mark.parametrize(
        "address",
        [
            pytest.param("9863", id="no-colon"),
            pytest.param("localhost", id="host-only"),
            pytest.param("host:", id="no-port"),
            pytest.param("host:http", id="named-port"),
            pytest.param("host:65536", id="port-too-big"),
            pytest.param("host:-1", id="negative-port"),
        ],
    )
    def test_bad_listen_address(self, address: str) -> None:
        """A listen address without a numeric port in range is reported."""
        data = {"workspaces": [workspace()], "web": {"listen_address": address}}
        assert problems_of(data) == [
            f"web.listen_address: expected HOST:PORT such as :9863, got {address!r}"
        ]

    @pytest.mark.parametrize(
        "path",
        [
            pytest.param("metrics", id="relative"),
            pytest.param("/", id="root"),
            pytest.param("/healthz", id="healthz"),
            pytest.param("/ready", id="ready"),
            pytest.param("/-/healthy", id="toolkit-healthy"),
            pytest.param("/-/ready", id="toolkit-ready"),
            pytest.param("/-/reload", id="reload"),
        ],
    )
    def test_bad_telemetry_path(self, path: str) -> None:
        """The telemetry path must be absolute and not shadow another endpoint."""
        data = {"workspaces": [workspace()], "web": {"telemetry_path": path}}
        assert problems_of(data) == [
            "web.telemetry_path: must start with / and not be /, /healthz, /ready, /-/healthy, "
            f"/-/ready or /-/reload, got {path!r}"
        ]

    def test_several_listen_addresses(self) -> None:
        """web.listen_address takes a list too, kept in its order."""
        addresses = ["127.0.0.1:9863", "[::1]:9863", ":9100"]
        data = {"workspaces": [workspace()], "web": {"listen_address": addresses}}
        assert parse(data).web.listen_address == ("127.0.0.1:9863", "[::1]:9863", ":9100")

    @pytest.mark.parametrize(
        ("addresses", "problem"),
        [
            pytest.param([], "expected HOST:PORT or a list of them, got []", id="empty"),
            pytest.param(
                [":9863", "nowhere"], "expected HOST:PORT such as :9863, got 'nowhere'", id="bad"
            ),
            pytest.param(
                [":9863", "[::1]:9863", ":9863"], ":9863 is listed more than once", id="twice"
            ),
        ],
    )
    def test_bad_listen_address_list(self, addresses: list[str], problem: str) -> None:
        """An empty list, a bad member or one listed twice (its bind would fail) is named."""
        data = {"workspaces": [workspace()], "web": {"listen_address": addresses}}
        assert problems_of(data) == [f"web.listen_address: {problem}"]


class TestRelativePaths:
    def test_every_relative_path_starts_at_the_config_folder(self, tmp_path: Path) -> None:
        """token_file, ca_file, state.file and web.config_file: from the file's folder."""
        folder = tmp_path / "conf.d"
        folder.mkdir()
        for name in ("token", "ca.pem", "web.yml"):
            (folder / name).write_text(TOKEN, encoding="utf-8")
        path = folder / "config.yaml"
        path.write_text(
            f"workspaces:\n  - workspace: demo\n    api_url: {API}\n    token_file: token\n"
            "    ca_file: ca.pem\n"
            "state:\n  file: state/exporter.json\n"
            "web:\n  config_file: web.yml\n",
            encoding="utf-8",
        )
        config = load_config(path, {})
        assert (config.workspaces[0].token, config.workspaces[0].ca_file) == (
            Secret(TOKEN),
            f"{folder}/ca.pem",
        )
        assert config.state.file == f"{folder}/state/exporter.json"
        assert config.web.config_file == f"{folder}/web.yml"

    def test_absolute_paths_stay(self, tmp_path: Path) -> None:
        """An absolute state.file or web.config_file is used as written."""
        (tmp_path / "web.yml").write_text("{}", encoding="utf-8")
        data = {
            "workspaces": [workspace()],
            "state": {"file": "/var/lib/cention/state.json"},
            "web": {"config_file": f"{tmp_path}/web.yml"},
        }
        config = parse(data)
        assert (config.state.file, config.web.config_file) == (
            "/var/lib/cention/state.json",
            f"{tmp_path}/web.yml",
        )

    def test_a_missing_web_config_file_is_a_problem_of_its_key(self) -> None:
        """web.config_file must name a file, as run needs one: the key is named."""
        data = {"workspaces": [workspace()], "web": {"config_file": "web.yml"}}
        assert problems_of(data) == ["web.config_file: no such file /etc/x/web.yml"]


class TestApiUrlWarning:
    @pytest.mark.parametrize(
        ("api_url", "tail", "base"),
        [
            pytest.param(
                "http://127.0.0.1:9864/s/demo/capi/custom/logio",
                "/s/demo/capi/custom/logio",
                "http://127.0.0.1:9864",
                id="the-endpoint-pasted",
            ),
            pytest.param(
                "https://cention.example/api/s/north/capi/custom/logio",
                "/s/north/capi/custom/logio",
                "https://cention.example/api",
                id="another-workspace-behind-a-base-path",
            ),
            pytest.param(
                "https://apid.cention.com/s/demo", "/s/demo", "https://apid.cention.com", id="s-ws"
            ),
            pytest.param(
                "https://apid.cention.com/s/demo/capi",
                "/s/demo/capi",
                "https://apid.cention.com",
                id="half-the-path",
            ),
            pytest.param(
                "https://proxy.example/capi/custom/logio",
                "/capi/custom/logio",
                "https://proxy.example",
                id="without-s",
            ),
        ],
    )
    def test_a_path_the_exporter_appends_is_named(self, api_url: str, tail: str, base: str):
        """An api_url ending in (part of) the logio path gets the tail and the base to use."""
        config = parse({"workspaces": [workspace(api_url=api_url)]})
        assert api_url_warning(config.workspaces[0]) == (
            f"{api_url} ends in {tail}, which the exporter appends itself; did you mean {base}?"
        )

    @pytest.mark.parametrize(
        "api_url",
        [
            pytest.param("https://apid.cention.com", id="host"),
            pytest.param("http://logio.internal:8080/base", id="base-path"),
            pytest.param("https://cention.example/s", id="bare-s"),
            pytest.param("https://cention.example/s/demo/reports", id="s-then-other"),
        ],
    )
    def test_a_base_url_gets_no_warning(self, api_url: str) -> None:
        """A host, or a base path that is not the logio path, is what api_url is for."""
        config = parse({"workspaces": [workspace(api_url=api_url)]})
        assert api_url_warning(config.workspaces[0]) is None


class TestWebFlags:
    def test_flags_set_the_web_keys(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each web flag sets its key; a relative --web.config.file is from the cwd."""
        monkeypatch.chdir(tmp_path)
        Path("web.yml").write_text("{}", encoding="utf-8")
        keys = web_flags(
            {
                "--web.listen-address": ["127.0.0.1:9100", "[::1]:9100"],
                "--web.telemetry-path": "/probe",
                "--web.config.file": "web.yml",
            }
        )
        assert keys == {
            "listen_address": ("127.0.0.1:9100", "[::1]:9100"),
            "telemetry_path": "/probe",
            "config_file": "web.yml",
        }
        config = with_web(parse({"workspaces": [workspace()]}), keys)
        assert config.web == WebConfig(("127.0.0.1:9100", "[::1]:9100"), "/probe", "web.yml")

    def test_listen_address_flags_replace_the_files(self) -> None:
        """--web.listen-address, once or more, replaces the file's addresses, not adds to them."""
        data = {"workspaces": [workspace()], "web": {"listen_address": [":9863", ":9100"]}}
        config = with_web(parse(data), web_flags({"--web.listen-address": ["127.0.0.1:9200"]}))
        assert config.web.listen_address == ("127.0.0.1:9200",)

    def test_no_flag_changes_nothing(self) -> None:
        """Without web flags the config file's web section stands."""
        config = parse({"workspaces": [workspace()], "web": {"telemetry_path": "/m"}})
        assert with_web(config, web_flags({})) == config

    def test_bad_flags_are_checked_as_their_keys_and_named(self, tmp_path: Path) -> None:
        """A bad flag value gets the key's own check, with the flag's name: every one."""
        with pytest.raises(ConfigError) as caught:
            web_flags(
                {
                    "--web.listen-address": ["127.0.0.1:9863", "nonsense"],
                    "--web.telemetry-path": "metrics",
                    "--web.config.file": f"{tmp_path}/missing.yml",
                }
            )
        assert (caught.value.source, caught.value.problems) == (
            None,
            [
                "--web.listen-address: expected HOST:PORT such as :9863, got 'nonsense'",
                "--web.telemetry-path: must start with / and not be /, /healthz, /ready, "
                "/-/healthy, /-/ready or /-/reload, got 'metrics'",
                f"--web.config.file: no such file {tmp_path}/missing.yml",
            ],
        )


class TestEveryProblemAtOnce:
    def test_one_error_lists_all(self, tmp_path: Path) -> None:
        """One ConfigError lists every problem of every section, in file order."""
        path = tmp_path / "config.yaml"
        path.write_text(
            """\
workspaces:
  - workspace: demo
    api_url: ftp://apid.cention.com
    token: fine
    format: xml
  - workspace: demo/2
    api_url: https://apid.cention.com
    token_file: missing-token
  - workspace: ok
    api_url: https://apid.cention.com
    token: fine
    colour: blue
poll:
  interval: 500ms
  lookback: 1m
  overlap: 10m
  retries: 3
state:
  file: ""
metrics:
  per_agent: "yes"
  session_duration_buckets: [300, 60]
web:
  listen_address: "9863"
  telemetry_path: /probe/${PROBE}
typo: true
""",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        problems = [
            "web.telemetry_path: environment variable PROBE is not set",
            "typo: unknown key (known: workspaces, schedule, poll, state, metrics, web)",
            "poll.retries: unknown key (known: interval, timeout, overlap, lookback, "
            "max_window, max_response_bytes)",
            "poll.interval: must be at least 1s, got '500ms'",
            "poll.lookback: must be at least poll.overlap",
            "workspaces[0].api_url: expected an http(s) URL such as https://apid.cention.com, "
            "got 'ftp://apid.cention.com'",
            "workspaces[0].format: expected csv or json, got 'xml'",
            "workspaces[1].workspace: must be a URL path segment (letters, digits, . _ ~ -), "
            "got 'demo/2'",
            f"workspaces[1].token_file: cannot read {tmp_path / 'missing-token'}: "
            "FileNotFoundError",
            f"workspaces[2].colour: unknown key (known: {WORKSPACE_KEYS})",
            "state.file: expected a non-empty string, got ''",
            "metrics.per_agent: expected true or false, got 'yes'",
            "metrics.session_duration_buckets: bucket bounds must be positive and strictly "
            "increasing",
            "web.listen_address: expected HOST:PORT such as :9863, got '9863'",
        ]
        assert caught.value.problems == problems
        assert str(caught.value) == "; ".join(problems)


SCHEDULED = (
    ISSUE_EXAMPLE
    + """\
workspaces:
  - workspace: stockholm
    api_url: https://apid.cention.com
    token: t
  - workspace: kualalumpur
    api_url: https://apid.cention.com
    token: t
    schedule:
      timezone: Asia/Kuala_Lumpur
      hours: {sun-thu: ["09:00-18:00"]}
"""
)
"""The issue's schedule at the top, and a workspace with one of its own."""
H = 3600


class TestSchedule:
    def test_top_level_schedule_and_one_of_a_workspace(self, tmp_path: Path) -> None:
        """The top-level schedule, its dates as the loader hands them (strings), is every
        workspace's but one with its own, which replaces it whole: no staffing, no holidays."""
        path = tmp_path / "config.yaml"
        path.write_text(SCHEDULED, encoding="utf-8")
        stockholm, kuala_lumpur = load_config(path, {}).workspaces
        week = (((8 * H, 17 * H),),) * 5 + (((10 * H, 14 * H),), ())
        plan = ((8 * H, 12 * H, 5), (12 * H, 17 * H, 3))
        assert stockholm.schedule == Schedule(
            zone=ZoneInfo("Europe/Stockholm"),
            hours=week,
            closed=frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)}),
            staffing=(plan,) * 5 + (((10 * H, 14 * H, 2),), ()),
        )
        office = ((9 * H, 18 * H),)
        assert kuala_lumpur.schedule == Schedule(
            zone=ZoneInfo("Asia/Kuala_Lumpur"),
            hours=(office,) * 4 + ((), (), office),
            closed=frozenset(),
            staffing=None,
        )

    def test_without_a_schedule(self) -> None:
        """No ``schedule:`` anywhere: no workspace has one."""
        assert parse({"workspaces": [workspace()]}).workspaces[0].schedule is None

    def test_an_empty_schedule_of_a_workspace_still_replaces(self) -> None:
        """``schedule: {}`` of a workspace is its own: UTC, open all day, no plan."""
        config = parse(
            {
                "schedule": {"timezone": "Europe/Stockholm", "hours": {"mon": ["08:00-09:00"]}},
                "workspaces": [workspace(schedule={})],
            }
        )
        assert config.workspaces[0].schedule == Schedule()

    def test_every_problem_named_by_its_key(self, tmp_path: Path) -> None:
        """An unknown zone, overlapping ranges, a range past midnight, an unknown day and a
        bad date: one line each, at the top and in a workspace, with the other keys'."""
        path = tmp_path / "config.yaml"
        path.write_text(
            """\
schedule:
  timezone: Europe/Stokholm
  hours:
    mon-fri: ["08:00-12:00", "11:00-17:00"]
    sat: ["17:00-08:00"]
  closed: [2026-02-30]
  colour: blue
workspaces:
  - workspace: demo
    api_url: https://apid.cention.com
    token: t
    format: xml
    schedule:
      hours: {mon-fri: ["08:00-17:00"], fri: ["16:00-18:00"]}
      staffing: {mon-frj: {"08:00-12:00": 5}, sat: {"10:00-14:00": -1}}
""",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert caught.value.problems == [
            "schedule.colour: unknown key (known: timezone, hours, closed, staffing)",
            "schedule.timezone: unknown time zone 'Europe/Stokholm' (an IANA name like "
            "Europe/Stockholm)",
            "schedule.hours.sat[0]: range 17:00-08:00 ends before it starts; split one past "
            "midnight at 24:00: 17:00-24:00 and 00:00-08:00 the next day",
            "schedule.hours.mon-fri: ranges 08:00-12:00 and 11:00-17:00 overlap",
            "schedule.closed[0]: expected a date like 2026-12-24, got '2026-02-30'",
            "workspaces[0].format: expected csv or json, got 'xml'",
            "workspaces[0].schedule.hours.fri: range 16:00-18:00 overlaps 08:00-17:00 of "
            "mon-fri on fri",
            "workspaces[0].schedule.staffing.mon-frj: unknown day 'frj' (known: mon, tue, "
            "wed, thu, fri, sat, sun)",
            "workspaces[0].schedule.staffing.sat.10:00-14:00: expected a whole number of "
            "agents, 0 or more, got -1",
        ]
