"""The web configuration file of Prometheus' exporter-toolkit: TLS, client certificates, basic auth.

Operators reuse the file they already write for node_exporter::

    tls_server_config:
      cert_file: server.crt          # relative paths start at this file's folder
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt
    basic_auth_users:
      prometheus: $2y$10$...         # htpasswd -nBC 10 "" | tr -d ':\\n'

``load_web_config`` validates it into frozen dataclasses and raises one ``ConfigError``
naming every bad key; ``WebSecurity`` turns it into the ``ssl.SSLContext`` and the
``BasicAuth`` checker the server applies. Differences from the Go toolkit, all failing
closed: a client certificate that is asked for is always verified against
``client_ca_file`` (``RequestClientCert`` therefore asks for none, ``RequireAnyClientCert``
verifies like ``RequireAndVerifyClientCert``); TLS 1.0 and 1.1 are refused; keys the toolkit
knows but this server cannot honour (``cipher_suites``, ``client_allowed_sans``, ...) are
errors rather than silently ignored; ``http2`` is accepted and has no effect (HTTP/1.1 only).
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.config import Secret
from exporter.errors import ConfigError
from exporter.validate import boolean, get, load_yaml, mapping, string
from exporter.web.basicauth import BasicAuth

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireClientCert": ssl.CERT_REQUIRED,  # the toolkit's older name of RequireAnyClientCert
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
HEADERS: dict[str, tuple[str, ...]] = {  # the toolkit's list; empty: any value
    "Content-Security-Policy": (),
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
}
_UNSUPPORTED_TLS = frozenset(
    ("cert", "key", "client_ca", "client_allowed_sans", "cipher_suites", "curve_preferences")
)
_FILES = ("cert_file", "key_file", "client_ca_file")
_NONE = "NoClientCert"
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class TLSServerConfig:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    client_auth_type: str = _NONE
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True


@dataclass(frozen=True)
class HTTPServerConfig:
    http2: bool = True
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class WebSecurityConfig:
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = field(default_factory=HTTPServerConfig)
    basic_auth_users: tuple[tuple[str, Secret], ...] = ()
    auth_excluded_paths: tuple[str, ...] = ()


def load_web_config(path: str | os.PathLike[str]) -> WebSecurityConfig:
    """Read and validate a web configuration file; every problem lands in one ``ConfigError``."""
    data = load_yaml(path)
    try:
        return parse_web_config(data, Path(path).parent)
    except ConfigError as exc:
        raise exc.found_in(path) from None


def parse_web_config(data: object, base_dir: Path) -> WebSecurityConfig:
    """Validate plain data (as loaded from YAML); relative file names start at ``base_dir``."""
    problems: list[str] = []
    keys = ("tls_server_config", "http_server_config", "basic_auth_users", "auth_excluded_paths")
    root = _known(data, "", keys, frozenset(("rate_limit",)), problems)
    config = WebSecurityConfig(
        tls_server_config=_tls(root.get("tls_server_config"), base_dir, problems),
        http_server_config=_http(root.get("http_server_config"), problems),
        basic_auth_users=_users(root.get("basic_auth_users"), problems),
        auth_excluded_paths=get(root, "auth_excluded_paths", _paths, (), problems),
    )
    if problems:
        raise ConfigError(problems)
    return config


def _known(
    value: object,
    prefix: str,
    allowed: tuple[str, ...],
    unsupported: frozenset[str],
    problems: list[str],
) -> Any:
    """``section``, naming the toolkit's keys that this server cannot honour as such."""
    if isinstance(value, dict):
        for key in sorted(unsupported & value.keys()):
            problems.append(f"{prefix}{key}: not supported by this exporter; remove it")
        value = {k: v for k, v in value.items() if k not in unsupported}
    return mapping(value, prefix, allowed, problems)


def _tls(value: object, base_dir: Path, problems: list[str]) -> TLSServerConfig | None:
    p = "tls_server_config."
    keys = tuple(f.name for f in dataclasses.fields(TLSServerConfig))
    section = _known(value, p, keys, _UNSUPPORTED_TLS, problems)
    if not section:
        return None
    cert, key, client_ca = (_file(section, p, k, base_dir, problems) for k in _FILES)
    auth = get(section, p + "client_auth_type", _choice(CLIENT_AUTH_TYPES), _NONE, problems)
    if client_ca is None and CLIENT_AUTH_TYPES[auth] != ssl.CERT_NONE:
        problems.append(f"{p}client_ca_file: required with client_auth_type {auth}")
    if client_ca is not None and section.get("client_auth_type", _NONE) == _NONE:
        problems.append(f"{p}client_auth_type: {_NONE} ignores client_ca_file; choose a policy")
    low = get(section, p + "min_version", _choice(TLS_VERSIONS), "TLS12", problems)
    high = get(section, p + "max_version", _choice(TLS_VERSIONS), "TLS13", problems)
    if TLS_VERSIONS[low] > TLS_VERSIONS[high]:
        problems.append(f"{p}min_version: {low} is above max_version {high}")
    prefer = get(section, p + "prefer_server_cipher_suites", boolean, True, problems)
    return TLSServerConfig(cert or "", key or "", client_ca, auth, low, high, prefer)


def _file(
    section: Mapping[str, Any], prefix: str, key: str, base_dir: Path, problems: list[str]
) -> str | None:
    name = get(section, prefix + key, string, None, problems)
    if key not in section and key != "client_ca_file":
        problems.append(f"{prefix}{key}: required")
    return None if name is None else str(base_dir / name)


def _http(value: object, problems: list[str]) -> HTTPServerConfig:
    p = "http_server_config."
    section = mapping(value, p, ("http2", "headers"), problems)
    headers = mapping(section.get("headers"), p + "headers.", tuple(HEADERS), problems)
    pairs = []
    for name, allowed in HEADERS.items():
        text = headers.get(name)
        if text is None:
            continue
        if not isinstance(text, str) or (allowed and text not in allowed):
            expected = " or ".join(allowed) if allowed else "a string"
            problems.append(f"{p}headers.{name}: expected {expected}, got {text!r}")
        elif text:
            pairs.append((name, text))
    return HTTPServerConfig(get(section, p + "http2", boolean, True, problems), tuple(pairs))


def _users(value: object, problems: list[str]) -> tuple[tuple[str, Secret], ...]:
    """User names and bcrypt hashes; messages never quote a hash."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append("basic_auth_users: must be a mapping of user names to bcrypt hashes")
        return ()
    users = []
    for user, hashed in value.items():
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"basic_auth_users.{user}: a user name is a non-empty string without :")
        elif not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            problems.append(
                f"basic_auth_users.{user}: expected a bcrypt hash such as $2y$10$..., "
                "as printed by htpasswd -nBC 10 \"\" | tr -d ':\\n'"
            )
        else:
            users.append((user, Secret(hashed)))
    return tuple(users)


def _choice(choices: Mapping[str, object]) -> Callable[[object], str]:
    def convert(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return convert


def _paths(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v[:1] == "/" for v in value):
        raise ValueError("expected a list of paths starting with /")
    return tuple(value)


def server_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """The server's TLS context; unreadable or mismatched files raise ``ConfigError``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if not tls.prefer_server_cipher_suites:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    context.verify_mode = CLIENT_AUTH_TYPES[tls.client_auth_type]
    client_ca = tls.client_ca_file if context.verify_mode != ssl.CERT_NONE else None
    files = {"cert_file": tls.cert_file, "key_file": tls.key_file, "client_ca_file": client_ca}
    problems = [
        f"tls_server_config.{key}: cannot read {path}: {why}"
        for key, path in files.items()
        if path is not None and (why := _unreadable(path))
    ]
    if problems:
        raise ConfigError(problems)
    try:  # a password stops OpenSSL from prompting on the terminal for an encrypted key
        context.load_cert_chain(tls.cert_file, tls.key_file, password=b"")
    except ssl.SSLError as exc:
        problems.append(f"tls_server_config.key_file: {_pair_problem(tls, exc)}")
    try:
        if client_ca is not None:
            context.load_verify_locations(cafile=client_ca)
    except ssl.SSLError:
        problems.append(f"tls_server_config.client_ca_file: no PEM certificate in {client_ca}")
    if problems:
        raise ConfigError(problems)
    return context


def _unreadable(path: str) -> str | None:
    try:
        Path(path).open("rb").close()
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__
    return None


def _pair_problem(tls: TLSServerConfig, exc: ssl.SSLError) -> str:
    if exc.reason == "KEY_VALUES_MISMATCH":
        return f"{tls.key_file} is not the private key of cert_file {tls.cert_file}"
    return "cert_file and key_file must be a PEM certificate and its unencrypted private key"


class WebSecurity:
    """What the server applies: the TLS context, basic auth, and extra response headers."""

    def __init__(self, config: WebSecurityConfig) -> None:
        self.config = config
        tls = config.tls_server_config
        self.context = server_context(tls) if tls is not None else None
        users = {user: hashed.reveal().encode() for user, hashed in config.basic_auth_users}
        self.auth = BasicAuth(users) if users else None
        self.open_paths = frozenset(("/healthz", "/-/healthy", *config.auth_excluded_paths))
        self.headers = config.http_server_config.headers

    def current(self) -> WebSecurity:
        """A fixed configuration is its own source (``WatchedWebConfig`` is the changing one)."""
        return self

    def describe(self) -> str:
        """One line for the start-up log, e.g. ``TLS, client certificates ..., basic auth``."""
        tls = self.config.tls_server_config
        parts = ["TLS" if tls else "plain HTTP"]
        if tls and tls.client_auth_type != _NONE:
            parts.append(f"client certificates {tls.client_auth_type}")
        if self.auth:
            parts.append("basic auth for " + ", ".join(u for u, _ in self.config.basic_auth_users))
        return ", ".join(parts)


def load_web_security(path: str | os.PathLike[str]) -> WebSecurity:
    """The file at ``path``, validated and with its certificates loaded."""
    config = load_web_config(path)
    try:
        return WebSecurity(config)
    except ConfigError as exc:
        raise exc.found_in(path) from None
