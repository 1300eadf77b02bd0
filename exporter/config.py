"""YAML -> frozen dataclasses, validated by pure functions that report every problem.

``load_config(path)`` raises one ``ConfigError`` listing each bad key with the reason,
so an operator fixes the file in one pass::

    workspaces[0].token: environment variable CENTION_TOKEN is not set
    poll.interval: must be at least 1s, got 0.5s
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from exporter.core.schedule import Schedule, parse_schedule
from exporter.errors import ConfigError
from exporter.validate import (
    ENV_VAR,
    at_least,
    boolean,
    expand_env,
    get,
    load_yaml,
    mapping,
    parse_duration,
    positive_size,
    string,
)

DEFAULT_CONFIG_FILE = "./config.yaml"
DEFAULT_LISTEN_ADDRESS = ":9863"
DEFAULT_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0)

_WORKSPACE = re.compile(r"[A-Za-z0-9._~-]+")
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104  # not binds
_LOGIO_PATH = re.compile(r"/s/[^/]+(/capi(/custom(/logio)?)?)?$|/capi/custom/logio$")
"""The tail of an ``api_url`` that repeats what ``WorkspaceConfig.endpoint`` appends."""
RESERVED_PATHS = ("/", "/healthz", "/ready", "/-/healthy", "/-/ready", "/-/reload")
"""Paths the server answers itself, which the telemetry path cannot take."""


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class WorkspaceConfig:
    workspace: str
    api_url: str
    token: Secret
    format: Literal["csv", "json"] = "csv"
    agents: tuple[str, ...] = ()
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    token_inline: bool = False
    schedule: Schedule | None = None
    """The workspace's own ``schedule:``, else the top-level one; None without either."""

    @property
    def endpoint(self) -> str:
        return f"{self.api_url}/s/{self.workspace}/capi/custom/logio"


@dataclass(frozen=True)
class PollConfig:
    interval: float = 30.0
    timeout: float = 10.0
    overlap: float = 600.0
    lookback: float = 7 * 86400.0
    max_window: float = 86400.0
    max_response_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class StateConfig:
    file: str | None = None


@dataclass(frozen=True)
class MetricsConfig:
    per_agent: bool = True
    forget_agent_after: float = 30 * 86400.0
    session_duration_buckets: tuple[float, ...] = DEFAULT_BUCKETS


@dataclass(frozen=True)
class WebConfig:
    listen_address: tuple[str, ...] = (DEFAULT_LISTEN_ADDRESS,)
    """Every ``HOST:PORT`` served; the key takes one or a list."""
    telemetry_path: str = "/metrics"
    config_file: str | None = None


@dataclass(frozen=True)
class Config:
    workspaces: tuple[WorkspaceConfig, ...]
    poll: PollConfig = field(default_factory=PollConfig)
    state: StateConfig = field(default_factory=StateConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    web: WebConfig = field(default_factory=WebConfig)

    def select(self, names: Sequence[str] | None) -> tuple[WorkspaceConfig, ...]:
        """The workspaces named (once each, in that order), or all of them if none is."""
        if not names:
            return self.workspaces
        known = {w.workspace: w for w in self.workspaces}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"workspace {', '.join(unknown)} is not in the config (known: {', '.join(known)})"
            )
        return tuple(known[name] for name in dict.fromkeys(names))


def parse_listen_address(value: str) -> tuple[str, int]:
    """``":9863"`` -> ``("", 9863)`` (all interfaces); ``"[::1]:9863"`` -> ``("::1", 9863)``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as :9863, got {value!r}")
    return host.strip("[]"), int(port)


def local_address(value: str) -> tuple[str, int]:
    """Where a client on this machine reaches a server listening on ``value``.

    >>> local_address(":9863"), local_address("[::]:9863"), local_address("10.0.0.5:9863")
    (('127.0.0.1', 9863), ('::1', 9863), ('10.0.0.5', 9863))
    """
    host, port = parse_listen_address(value)
    return _WILDCARDS.get(host, host), port


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; every problem lands in one ``ConfigError``.

    Relative paths in the file (``token_file``, ``ca_file``, ``state.file``,
    ``web.config_file``) start at the file's folder, wherever the exporter is started.
    """
    data = load_yaml(path)
    try:
        return parse_config(data, os.environ if environ is None else environ, Path(path).parent)
    except ConfigError as exc:
        raise exc.found_in(path) from None


def parse_config(data: object, environ: Mapping[str, str], base_dir: Path) -> Config:
    """Validate plain data (as loaded from YAML); relative paths start at ``base_dir``."""
    problems: list[str] = []
    from_env = _tokens_from_env(data)
    data = expand_env(data, "", environ, problems)
    unset = {problem.partition(":")[0] for problem in problems}
    root = mapping(
        data, "", ("workspaces", "schedule", "poll", "state", "metrics", "web"), problems
    )
    poll = _poll(mapping(root.get("poll"), "poll.", _fields(PollConfig), problems), problems)
    schedule = parse_schedule(root.get("schedule"), "schedule", problems)
    workspaces = _workspaces(root.get("workspaces"), base_dir, problems, from_env, schedule)
    state = mapping(root.get("state"), "state.", ("file",), problems)
    state_file = get(state, "state.file", _in(base_dir, string), None, problems)
    metrics = _metrics(
        mapping(root.get("metrics"), "metrics.", _fields(MetricsConfig), problems), problems
    )
    web = _web(mapping(root.get("web"), "web.", _fields(WebConfig), problems), base_dir, problems)
    # A key whose ${VAR} is unset already has its problem; what follows from "" is noise.
    problems = [p for p in problems if p.partition(":")[0] not in unset or "environment" in p]
    if problems:
        raise ConfigError(problems)
    return Config(
        workspaces=workspaces,
        poll=poll,
        state=StateConfig(file=state_file),
        metrics=metrics,
        web=web,
    )


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _poll(section: Mapping[str, Any], problems: list[str]) -> PollConfig:
    d = PollConfig()
    poll = PollConfig(
        interval=get(section, "poll.interval", at_least(1.0), d.interval, problems),
        timeout=get(section, "poll.timeout", at_least(0.001), d.timeout, problems),
        overlap=get(section, "poll.overlap", at_least(0.0), d.overlap, problems),
        lookback=get(section, "poll.lookback", at_least(1.0), d.lookback, problems),
        max_window=get(section, "poll.max_window", at_least(1.0), d.max_window, problems),
        max_response_bytes=get(
            section, "poll.max_response_bytes", positive_size, d.max_response_bytes, problems
        ),
    )
    if poll.lookback < poll.overlap:
        problems.append("poll.lookback: must be at least poll.overlap")
    return poll


def _metrics(section: Mapping[str, Any], problems: list[str]) -> MetricsConfig:
    d = MetricsConfig()
    return MetricsConfig(
        per_agent=get(section, "metrics.per_agent", boolean, d.per_agent, problems),
        forget_agent_after=get(
            section, "metrics.forget_agent_after", at_least(1.0), d.forget_agent_after, problems
        ),
        session_duration_buckets=get(
            section,
            "metrics.session_duration_buckets",
            _buckets,
            d.session_duration_buckets,
            problems,
        ),
    )


def _buckets(value: object) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list of seconds")
    try:
        bounds = tuple(parse_duration(v) for v in value)
    except ValueError as exc:
        raise ValueError(f"bucket {exc}") from None
    if any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
        raise ValueError("bucket bounds must be positive and strictly increasing")
    return bounds


def _web(section: Mapping[str, Any], base_dir: Path, problems: list[str]) -> WebConfig:
    d = WebConfig()
    address = get(section, "web.listen_address", listen_addresses, d.listen_address, problems)
    path = get(section, "web.telemetry_path", _telemetry_path, d.telemetry_path, problems)
    config_file = get(section, "web.config_file", _in(base_dir, _existing_file), None, problems)
    return WebConfig(address, path, config_file)


def listen_address(value: object) -> str:
    """``value`` if it is a ``HOST:PORT`` to listen on; ``ValueError`` otherwise."""
    address = string(value)
    parse_listen_address(address)
    return address


def listen_addresses(value: object) -> tuple[str, ...]:
    """One ``HOST:PORT`` or a list of them, each once; ``ValueError`` otherwise.

    >>> listen_addresses(["127.0.0.1:9863", "[::1]:9863"])
    ('127.0.0.1:9863', '[::1]:9863')
    """
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("expected HOST:PORT or a list of them, got []")
    addresses = tuple(listen_address(v) for v in values)
    for address in addresses:
        if addresses.count(address) > 1:
            raise ValueError(f"{address} is listed more than once")
    return addresses


def _telemetry_path(value: object) -> str:
    path = string(value)
    if not path.startswith("/") or path in RESERVED_PATHS:
        reserved = ", ".join(RESERVED_PATHS[:-1]) + f" or {RESERVED_PATHS[-1]}"
        raise ValueError(f"must start with / and not be {reserved}, got {path!r}")
    return path


def _in(base_dir: Path, check: Callable[[object], str]) -> Callable[[object], str]:
    """``check`` for a path in the config file: a relative one starts at the file's folder."""
    return lambda value: check(str(base_dir / string(value)))


def _existing_file(value: object) -> str:
    path = string(value)
    if not Path(path).is_file():
        raise ValueError(f"no such file {path}")
    return path


WEB_FLAGS: Mapping[str, tuple[str, Callable[[object], object]]] = {
    "--web.listen-address": ("listen_address", listen_addresses),
    "--web.telemetry-path": ("telemetry_path", _telemetry_path),
    "--web.config.file": ("config_file", _existing_file),
}
"""The flags that override a ``web`` key, each checked as that key is in the file."""


def web_flags(given: Mapping[str, object]) -> dict[str, Any]:
    """Check the web flags given (flag -> value); the ``web`` keys they set.

    A bad value is a ``ConfigError`` naming the flag. A relative ``--web.config.file``
    stays as given: from the current directory, as any path on a command line. The
    addresses of ``--web.listen-address`` (a list: it repeats) replace the file's.

    >>> web_flags({"--web.telemetry-path": "/probe"})
    {'telemetry_path': '/probe'}
    """
    keys: dict[str, Any] = {}
    problems = []
    for flag, value in given.items():
        key, check = WEB_FLAGS[flag]
        try:
            keys[key] = check(value)
        except ValueError as exc:
            problems.append(f"{flag}: {exc}")
    if problems:
        raise ConfigError(problems)
    return keys


def with_web(config: Config, keys: Mapping[str, Any]) -> Config:
    """``config`` with the ``web`` keys set by flags, already checked by ``web_flags``."""
    return dataclasses.replace(config, web=dataclasses.replace(config.web, **keys))


_WORKSPACE_KEYS = (
    "workspace",
    "api_url",
    "token",
    "token_file",
    "format",
    "agents",
    "ca_file",
    "insecure_skip_verify",
    "schedule",
)


def _tokens_from_env(data: object) -> set[int]:
    """Indexes of workspaces whose ``token`` is only a ``${VAR}``: no secret in the file."""
    workspaces = data.get("workspaces") if isinstance(data, dict) else None
    if not isinstance(workspaces, list):
        return set()
    return {
        i
        for i, item in enumerate(workspaces)
        if isinstance(item, dict) and ENV_VAR.fullmatch(str(item.get("token", "")).strip())
    }


def _workspaces(
    value: object,
    base_dir: Path,
    problems: list[str],
    from_env: set[int],
    schedule: Schedule | None,
) -> tuple[WorkspaceConfig, ...]:
    if not isinstance(value, list) or not value:
        problems.append("workspaces: at least one workspace is required")
        return ()
    workspaces = []
    for i, item in enumerate(value):
        prefix = f"workspaces[{i}]."
        before = len(problems)
        section = mapping(item, prefix, _WORKSPACE_KEYS, problems)
        if not section and before == len(problems):
            problems.append(f"workspaces[{i}]: must be a mapping of keys")
        workspace = _workspace(section, prefix, base_dir, problems)
        own = parse_schedule(section.get("schedule"), prefix + "schedule", problems)
        if workspace is not None:
            inline = workspace.token_inline and i not in from_env
            workspaces.append(
                dataclasses.replace(
                    workspace, token_inline=inline, schedule=schedule if own is None else own
                )
            )
    names = [w.workspace for w in workspaces]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"workspaces: workspace {name!r} is listed more than once")
    return tuple(workspaces)


def _workspace(
    section: Mapping[str, Any], prefix: str, base_dir: Path, problems: list[str]
) -> WorkspaceConfig | None:
    before = len(problems)
    name = get(section, prefix + "workspace", _workspace_name, "", problems)
    api_url = get(section, prefix + "api_url", _url, "", problems)
    for key in ("workspace", "api_url"):
        if section.get(key) is None:
            problems.append(f"{prefix}{key}: required")
    token = _token(section, prefix, base_dir, problems)
    fmt: Literal["csv", "json"] = get(section, prefix + "format", _format, "csv", problems)
    agents: tuple[str, ...] = get(section, prefix + "agents", _agents, (), problems)
    ca_file = get(section, prefix + "ca_file", _in(base_dir, _existing_file), None, problems)
    insecure = get(section, prefix + "insecure_skip_verify", boolean, False, problems)
    if len(problems) > before or token is None:
        return None
    return WorkspaceConfig(
        workspace=name,
        api_url=api_url,
        token=token,
        format=fmt,
        agents=agents,
        ca_file=ca_file,
        insecure_skip_verify=insecure,
        token_inline="token" in section,  # _workspaces clears it for a bare ${VAR}
    )


def _token(
    section: Mapping[str, Any], prefix: str, base_dir: Path, problems: list[str]
) -> Secret | None:
    """The token from ``token`` or ``token_file``; messages never quote its value."""
    inline, path = section.get("token"), section.get("token_file")
    if inline is not None and path:
        problems.append(f"{prefix}token: give token or token_file, not both")
    elif inline is not None:
        if isinstance(inline, str) and inline.strip():
            return Secret(inline.strip())
        problems.append(f"{prefix}token: must be a non-empty string")
    elif path:
        return _token_file(str(base_dir / str(path)), prefix, problems)
    else:
        problems.append(f"{prefix}token: required (or token_file)")
    return None


def _token_file(path: str, prefix: str, problems: list[str]) -> Secret | None:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{prefix}token_file: cannot read {path}: {exc.__class__.__name__}")
        return None
    if not token:
        problems.append(f"{prefix}token_file: {path} is empty")
        return None
    return Secret(token)


def _workspace_name(value: object) -> str:
    name = string(value)
    if not _WORKSPACE.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"must be a URL path segment (letters, digits, . _ ~ -), got {name!r}")
    return name


def _url(value: object) -> str:
    url = string(value).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as https://apid.cention.com, got {url!r}")
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"port of {url!r} must be a number from 0 to 65535") from None
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must not hold a query, a fragment or credentials")
    return url


def api_url_warning(workspace: WorkspaceConfig) -> str | None:
    """Why ``api_url`` looks like a pasted endpoint URL, whose path would double; else None.

    The exporter appends ``/s/<workspace>/capi/custom/logio`` itself: a base path such as
    ``https://cention.example/api`` is fine, but ``https://host/s/demo/capi/custom/logio``
    polls ``https://host/s/demo/capi/custom/logio/s/demo/capi/custom/logio``, a 404 each time.
    """
    parts = urlsplit(workspace.api_url)
    tail = _LOGIO_PATH.search(parts.path)
    if tail is None:
        return None
    base = urlunsplit((parts.scheme, parts.netloc, parts.path[: tail.start()], "", ""))
    return (
        f"{workspace.api_url} ends in {tail.group()}, which the exporter appends itself; "
        f"did you mean {base}?"
    )


def _format(value: object) -> Literal["csv", "json"]:
    if value == "csv" or value == "json":
        return value
    raise ValueError(f"expected csv or json, got {value!r}")


def _agents(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of agent login names")
    return tuple(value)
