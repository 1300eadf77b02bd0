"""The exporter-toolkit web configuration: validation, TLS, client certificates, basic auth.

Certificates are made here with ``cryptography``: one CA for the server, another for
Prometheus' client certificates, and a stranger's certificate signed by the wrong CA.
Every server test talks to a real ``ExporterServer`` over loopback HTTPS.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest
import yaml
from certs import Issued, issue, write_pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import ExporterProcess, free_port, logged, parse_samples, value, write_config
from prometheus_client import CollectorRegistry, Gauge

from exporter.config import Secret
from exporter.errors import ConfigError
from exporter.simulator import Scenario, SimulatorServer
from exporter.web.server import HANDSHAKE_TIMEOUT, ExporterServer
from exporter.web.watch import WatchedWebConfig
from exporter.web.webconfig import (
    BasicAuth,
    HTTPServerConfig,
    TLSServerConfig,
    WebSecurity,
    WebSecurityConfig,
    load_web_config,
    parse_web_config,
    server_context,
)

ROOT = Path(__file__).parent.parent
USER, PASSWORD = "prometheus", "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
TOKEN = "sim-token-0b7e41"
NOT_TLS = "Client sent an HTTP request to an HTTPS server.\n"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class PKI:
    folder: Path

    def crt(self, name: str) -> str:
        return str(self.folder / f"{name}.crt")

    def key(self, name: str) -> str:
        return str(self.folder / f"{name}.key")

    def client(self, name: str | None = None) -> ssl.SSLContext:
        """A client trusting the server's CA, presenting certificate ``name`` if given."""
        context = ssl.create_default_context(cafile=self.crt("ca"))
        if name is not None:
            context.load_cert_chain(self.crt(name), self.key(name))
        return context


@pytest.fixture(name="pki", scope="module")
def _pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    ca, clients_ca = issue("server CA"), issue("Prometheus clients CA")
    issued = {
        "ca": ca,
        "server": issue("exporter", ca),
        "clients-ca": clients_ca,
        "client": issue("prometheus", clients_ca),
        "stranger": issue("stranger", ca),
    }
    for name, pair in issued.items():
        write_pem(pair, folder, name)
    return PKI(folder)


def tls(
    pki: PKI, client_auth_type: str = "NoClientCert", client_ca: str | None = None
) -> TLSServerConfig:
    """The server's certificate, with ``client_ca`` (a PKI name) checking clients if given."""
    ca_file = pki.crt(client_ca) if client_ca else None
    return TLSServerConfig(pki.crt("server"), pki.key("server"), ca_file, client_auth_type)


@contextmanager
def serving(config: WebSecurityConfig) -> Iterator[str]:
    """An ``ExporterServer`` on a loopback port serving one gauge; yields its base URL."""
    registry = CollectorRegistry()
    Gauge("cention_test_value", "A value to scrape.", registry=registry).set(7)
    server = ExporterServer("127.0.0.1:0", registry, security=WebSecurity(config))
    server.start()
    scheme = "https" if config.tls_server_config else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()


def exchange(url: str, client: ssl.SSLContext, data: bytes) -> bytes:
    """Send raw bytes over TLS to ``url`` and read the answer until the server closes."""
    received, address = b"", ("127.0.0.1", int(url.rpartition(":")[2]))
    with (
        socket.create_connection(address, timeout=5) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(data)
        with contextlib.suppress(ssl.SSLEOFError):  # the server sends no close_notify
            while chunk := tls.recv(65536):
                received += chunk
    return received


# --- validation ---------------------------------------------------------------------------


class TestParseWebConfig:
    def test_an_empty_file_means_plain_http_without_auth(self) -> None:
        """An empty file gives the defaults: no TLS, no users, no extra headers."""
        assert parse_web_config(None, Path("/etc")) == WebSecurityConfig()

    def test_every_problem_is_listed_at_once(self) -> None:
        """Each bad key is named with its reason in one error, and no hash is quoted."""
        data = {
            "tls_server_config": {
                "cert_file": "server.crt",
                "client_ca_file": "ca.crt",
                "client_auth_type": "VerifyAll",
                "min_version": "TLS10",
                "cipher_suites": ["TLS_AES_128_GCM_SHA256"],
            },
            "http_server_config": {
                "http2": "yes",
                "headers": {"X-Frame-Options": "allow", "Server": "nginx"},
            },
            "basic_auth_users": {USER: "hunter2", "a:b": HASH},
            "auth_excluded_paths": ["ready"],
            "rate_limit": {"interval": "1s"},
            "colour": "red",
        }
        with pytest.raises(ConfigError) as caught:
            parse_web_config(data, Path("/etc"))
        assert caught.value.problems == [
            "rate_limit: not supported by this exporter; remove it",
            "colour: unknown key (known: tls_server_config, http_server_config, "
            "basic_auth_users, auth_excluded_paths)",
            "tls_server_config.cipher_suites: not supported by this exporter; remove it",
            "tls_server_config.key_file: required",
            "tls_server_config.client_auth_type: expected one of NoClientCert, "
            "RequestClientCert, RequireAnyClientCert, RequireClientCert, "
            "VerifyClientCertIfGiven, RequireAndVerifyClientCert, got 'VerifyAll'",
            "tls_server_config.min_version: expected one of TLS12, TLS13, got 'TLS10'",
            "http_server_config.headers.Server: unknown key (known: Content-Security-Policy, "
            "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection)",
            "http_server_config.headers.X-Frame-Options: expected deny or sameorigin, got 'allow'",
            "http_server_config.http2: expected true or false, got 'yes'",
            f"basic_auth_users.{USER}: expected a bcrypt hash such as $2y$10$..., "
            "as printed by htpasswd -nBC 10 \"\" | tr -d ':\\n'",
            "basic_auth_users.a:b: a user name is a non-empty string without :",
            "auth_excluded_paths: expected a list of paths starting with /",
        ]

    @pytest.mark.parametrize(
        ("options", "problem"),
        [
            pytest.param(
                {"client_ca_file": "ca.crt"},
                "client_auth_type: NoClientCert ignores client_ca_file; choose a policy",
                id="ca-without-policy",
            ),
            pytest.param(
                {"client_auth_type": "RequireAndVerifyClientCert"},
                "client_ca_file: required with client_auth_type RequireAndVerifyClientCert",
                id="verify-without-ca",
            ),
            pytest.param(
                {"client_auth_type": "RequireAnyClientCert"},
                "client_ca_file: required with client_auth_type RequireAnyClientCert",
                id="any-without-ca",
            ),
            pytest.param(
                {"min_version": "TLS13", "max_version": "TLS12"},
                "min_version: TLS13 is above max_version TLS12",
                id="versions-crossed",
            ),
        ],
    )
    def test_settings_that_contradict_each_other(
        self, options: dict[str, str], problem: str
    ) -> None:
        """A client CA without a policy, a policy without a CA, crossed versions: refused."""
        data = {"tls_server_config": {"cert_file": "s.crt", "key_file": "s.key", **options}}
        with pytest.raises(ConfigError) as caught:
            parse_web_config(data, Path("/etc"))
        assert caught.value.problems == ["tls_server_config." + problem]

    def test_relative_files_start_at_the_files_folder(self) -> None:
        """Relative certificate paths are joined to the web config's folder; absolute stay."""
        data = {"tls_server_config": {"cert_file": "tls/s.crt", "key_file": "/keys/s.key"}}
        config = parse_web_config(data, Path("/etc/exporter"))
        assert config.tls_server_config == TLSServerConfig("/etc/exporter/tls/s.crt", "/keys/s.key")

    def test_the_shipped_example_is_valid(self) -> None:
        """deploy/web-config.example.yml loads to exactly what its comments describe."""
        config = load_web_config(ROOT / "deploy" / "web-config.example.yml")
        tls_dir = "/etc/cention-logio-exporter/tls"
        assert config == WebSecurityConfig(
            tls_server_config=TLSServerConfig(f"{tls_dir}/server.crt", f"{tls_dir}/server.key"),
            http_server_config=HTTPServerConfig(
                headers=(("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "deny"))
            ),
            basic_auth_users=(
                (USER, Secret("$2y$10$Se39BsHkhHeEVF2fY9AAkO0FMGiOKP4RCoD4kVnPb4B2S7mf.f33C")),
            ),
        )

    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        """A web config that does not exist is one problem naming its path."""
        with pytest.raises(ConfigError) as caught:
            load_web_config(tmp_path / "web.yml")
        assert caught.value.problems == [
            f"{tmp_path / 'web.yml'}: cannot read: No such file or directory"
        ]


class TestServerContext:
    def test_unreadable_files_are_each_named(self, tmp_path: Path) -> None:
        """Missing certificate, key and client CA files are reported together."""
        config = TLSServerConfig(
            str(tmp_path / "s.crt"),
            str(tmp_path / "s.key"),
            str(tmp_path / "ca.crt"),
            "VerifyClientCertIfGiven",
        )
        with pytest.raises(ConfigError) as caught:
            server_context(config)
        assert caught.value.problems == [
            f"tls_server_config.{key}: cannot read {tmp_path / name}: No such file or directory"
            for key, name in (
                ("cert_file", "s.crt"),
                ("key_file", "s.key"),
                ("client_ca_file", "ca.crt"),
            )
        ]

    def test_a_key_of_another_certificate_is_refused(self, pki: PKI) -> None:
        """The client's key next to the server's certificate is named as not its key."""
        with pytest.raises(ConfigError) as caught:
            server_context(TLSServerConfig(pki.crt("server"), pki.key("client")))
        assert caught.value.problems == [
            f"tls_server_config.key_file: {pki.key('client')} is not the private key of "
            f"cert_file {pki.crt('server')}"
        ]

    @pytest.mark.parametrize(
        ("policy", "mode"),
        [
            pytest.param("NoClientCert", ssl.CERT_NONE, id="none"),
            pytest.param("RequestClientCert", ssl.CERT_NONE, id="request"),
            pytest.param("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL, id="if-given"),
            pytest.param("RequireAnyClientCert", ssl.CERT_REQUIRED, id="any"),
            pytest.param("RequireAndVerifyClientCert", ssl.CERT_REQUIRED, id="verify"),
        ],
    )
    def test_client_auth_type_sets_verification(
        self, pki: PKI, policy: str, mode: ssl.VerifyMode
    ) -> None:
        """Each client_auth_type maps to the verification OpenSSL applies."""
        context = server_context(
            tls(pki, policy, None if policy == "NoClientCert" else "clients-ca")
        )
        assert (context.verify_mode, context.minimum_version) == (mode, ssl.TLSVersion.TLSv1_2)


class TestBasicAuth:
    @pytest.fixture(name="calls")
    def _calls(self) -> list[bytes]:
        return []

    @pytest.fixture(name="auth")
    def _auth(self, calls: list[bytes]) -> BasicAuth:
        def checkpw(password: bytes, hashed: bytes) -> bool:
            calls.append(password)
            return bcrypt.checkpw(password, hashed)

        return BasicAuth({USER: HASH.encode(), "grafana": HASH.encode()}, checkpw=checkpw)

    def test_the_right_password_passes(self, auth: BasicAuth) -> None:
        """A known user with the password of the hash is let in."""
        assert auth.check(basic(USER, PASSWORD)) is True

    @pytest.mark.parametrize(
        "header",
        [
            pytest.param(None, id="missing"),
            pytest.param(basic(USER, "wrong"), id="wrong-password"),
            pytest.param(basic("mallory", PASSWORD), id="unknown-user"),
            pytest.param("Bearer " + PASSWORD, id="other-scheme"),
            pytest.param("Basic not*base64", id="bad-base64"),
            pytest.param("Basic " + base64.b64encode(USER.encode()).decode(), id="no-colon"),
            pytest.param("Basic ünïcode", id="non-ascii"),
        ],
    )
    def test_anything_else_is_refused(self, auth: BasicAuth, header: str | None) -> None:
        """Missing, wrong, unknown or malformed credentials are refused."""
        assert auth.check(header) is False

    def test_a_success_is_remembered(self, auth: BasicAuth, calls: list[bytes]) -> None:
        """Three scrapes with the right password run bcrypt once."""
        assert [auth.check(basic(USER, PASSWORD)) for _ in range(3)] == [True, True, True]
        assert calls == [PASSWORD.encode()]

    def test_a_remembered_password_is_per_user(self, auth: BasicAuth, calls: list[bytes]) -> None:
        """Another user sending a password remembered for the first still runs bcrypt."""
        assert auth.check(basic(USER, PASSWORD)) is True
        assert auth.check(basic("grafana", PASSWORD)) is True
        assert calls == [PASSWORD.encode(), PASSWORD.encode()]

    def test_failures_are_not_remembered(self, auth: BasicAuth, calls: list[bytes]) -> None:
        """Each wrong attempt, after a success, pays bcrypt again."""
        assert auth.check(basic(USER, PASSWORD)) is True
        assert [auth.check(basic(USER, "guess")) for _ in range(2)] == [False, False]
        assert calls == [PASSWORD.encode(), b"guess", b"guess"]

    def test_an_unknown_user_costs_a_bcrypt_check_too(
        self, auth: BasicAuth, calls: list[bytes]
    ) -> None:
        """An unknown user takes as long as a known one, even with a valid password."""
        assert auth.check(basic("mallory", PASSWORD)) is False
        assert calls == [PASSWORD.encode()]

    def test_passwords_count_up_to_72_bytes(self, auth: BasicAuth, calls: list[bytes]) -> None:
        """A longer password is checked on its first 72 bytes, as Go and htpasswd do."""
        assert auth.check(basic(USER, "x" * 100)) is False
        assert calls == [b"x" * 72]


# --- over loopback HTTPS ------------------------------------------------------------------


class TestTLS:
    def test_a_scrape_over_tls_returns_the_metrics(self, pki: PKI) -> None:
        """/metrics over HTTPS answers 200 with the registry's samples."""
        with serving(WebSecurityConfig(tls(pki))) as url:
            response = httpx.get(url + "/metrics", verify=pki.client())
        assert response.status_code == 200
        samples = parse_samples(response.text)
        assert value(samples, "cention_test_value") == 7

    def test_plain_http_is_refused(self, pki: PKI) -> None:
        """Plain HTTP to the TLS port gets a 400 saying so, never the metrics."""
        with serving(WebSecurityConfig(tls(pki))) as url:
            response = httpx.get(url.replace("https:", "http:") + "/metrics")
        assert (response.status_code, response.text) == (400, NOT_TLS)

    def test_a_silent_client_blocks_no_one(self, pki: PKI) -> None:
        """A connection that never starts its handshake does not delay another scrape."""
        with serving(WebSecurityConfig(tls(pki))) as url:
            port = int(url.rpartition(":")[2])
            with socket.create_connection(("127.0.0.1", port)):
                timeout = HANDSHAKE_TIMEOUT / 2  # fails if the handshake ran in the accept loop
                response = httpx.get(url + "/healthz", verify=pki.client(), timeout=timeout)
        assert (response.status_code, response.text) == (200, "OK\n")

    def test_configured_headers_are_on_every_response(self, pki: PKI) -> None:
        """http_server_config.headers are added to each answer."""
        headers = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "deny"))
        config = WebSecurityConfig(tls(pki), HTTPServerConfig(headers=headers))
        with serving(config) as url:
            response = httpx.get(url + "/healthz", verify=pki.client())
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "deny"


@pytest.fixture(name="auth_url", scope="module")
def _auth_url(pki: PKI) -> Iterator[str]:
    config = WebSecurityConfig(tls(pki), basic_auth_users=((USER, Secret(HASH)),))
    with serving(config) as url:
        yield url


@pytest.fixture(name="mtls_url", scope="module")
def _mtls_url(pki: PKI) -> Iterator[str]:
    config = WebSecurityConfig(tls(pki, "RequireAndVerifyClientCert", "clients-ca"))
    with serving(config) as url:
        yield url


class TestBasicAuthOverHTTPS:
    @pytest.mark.parametrize(
        ("path", "auth"),
        [
            pytest.param("/metrics", None, id="metrics-missing"),
            pytest.param("/metrics", (USER, "wrong"), id="metrics-wrong"),
            pytest.param("/ready", None, id="ready-missing"),
            pytest.param("/", ("mallory", PASSWORD), id="landing-unknown-user"),
        ],
    )
    def test_missing_or_wrong_credentials_get_401(
        self, auth_url: str, pki: PKI, path: str, auth: tuple[str, str] | None
    ) -> None:
        """Without the right password a request gets 401 with a Basic challenge."""
        response = httpx.get(auth_url + path, verify=pki.client(), auth=auth)
        assert (response.status_code, response.text) == (401, "Unauthorized\n")
        assert response.headers["WWW-Authenticate"] == (
            'Basic realm="cention-logio-exporter", charset="UTF-8"'
        )

    def test_a_refused_body_is_never_read_as_a_request(self, auth_url: str, pki: PKI) -> None:
        """A POST refused with 401 closes the connection: a request hidden in its body is unread."""
        hidden = b"GET /healthz HTTP/1.1\r\nHost: exporter\r\n\r\n"
        answer = exchange(
            auth_url,
            pki.client(),
            b"POST /-/reload HTTP/1.1\r\nHost: exporter\r\n"
            + f"Content-Length: {len(hidden)}\r\n\r\n".encode()
            + hidden,
        )
        assert answer.count(b"HTTP/1.1 ") == 1
        assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert b"\r\nConnection: close\r\n" in answer

    def test_the_right_credentials_get_the_metrics(self, auth_url: str, pki: PKI) -> None:
        """The right user and password get 200 and the samples."""
        response = httpx.get(auth_url + "/metrics", verify=pki.client(), auth=(USER, PASSWORD))
        assert response.status_code == 200
        assert value(parse_samples(response.text), "cention_test_value") == 7

    def test_healthz_needs_no_credentials(self, auth_url: str, pki: PKI) -> None:
        """Probes reach /healthz without a password."""
        response = httpx.get(auth_url + "/healthz", verify=pki.client())
        assert (response.status_code, response.text) == (200, "OK\n")

    def test_excluded_paths_need_no_credentials(self, pki: PKI) -> None:
        """A path in auth_excluded_paths answers without a password; the others still ask."""
        users = ((USER, Secret(HASH)),)
        config = WebSecurityConfig(tls(pki), basic_auth_users=users, auth_excluded_paths=("/",))
        with serving(config) as url:
            landing = httpx.get(url + "/", verify=pki.client())
            metrics = httpx.get(url + "/metrics", verify=pki.client())
        assert (landing.status_code, metrics.status_code) == (200, 401)


class TestClientCertificates:
    def test_a_client_without_a_certificate_cannot_connect(self, mtls_url: str, pki: PKI) -> None:
        """The server ends the handshake of a client presenting no certificate."""
        with pytest.raises(httpx.ReadError, match="CERTIFICATE_REQUIRED"):
            httpx.get(mtls_url + "/healthz", verify=pki.client())

    def test_a_certificate_from_another_ca_cannot_connect(self, mtls_url: str, pki: PKI) -> None:
        """A certificate not signed by client_ca_file is refused as from an unknown CA."""
        with pytest.raises(httpx.ReadError, match="UNKNOWN_CA"):
            httpx.get(mtls_url + "/healthz", verify=pki.client("stranger"))

    def test_a_certificate_signed_by_the_client_ca_connects(self, mtls_url: str, pki: PKI) -> None:
        """A certificate signed by client_ca_file gets the metrics."""
        response = httpx.get(mtls_url + "/metrics", verify=pki.client("client"))
        assert response.status_code == 200
        assert value(parse_samples(response.text), "cention_test_value") == 7

    def test_if_given_lets_a_client_without_certificate_in(self, pki: PKI) -> None:
        """VerifyClientCertIfGiven accepts no certificate but refuses a stranger's."""
        config = WebSecurityConfig(tls(pki, "VerifyClientCertIfGiven", "clients-ca"))
        with serving(config) as url:
            assert httpx.get(url + "/healthz", verify=pki.client()).status_code == 200
            with pytest.raises(httpx.ReadError, match="UNKNOWN_CA"):
                httpx.get(url + "/healthz", verify=pki.client("stranger"))


# --- re-reading the web config for new connections -----------------------------------------


@dataclass(frozen=True)
class Rotating:
    """A web config naming ``server.crt`` and ``server.key`` in ``folder``, to be renewed."""

    folder: Path
    ca: Issued
    first: x509.Certificate

    @property
    def web(self) -> Path:
        return self.folder / "web.yml"

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.folder / "ca.crt"))

    def renew(self) -> x509.Certificate:
        """Write a new certificate and key over the old files (a longer name: another size)."""
        renewed = issue("exporter renewed", self.ca)
        write_pem(renewed, self.folder, "server")
        return renewed[0]


@pytest.fixture(name="rotating")
def _rotating(tmp_path: Path) -> Rotating:
    ca = issue("rotation CA")
    write_pem(ca, tmp_path, "ca")
    first = issue("exporter", ca)
    write_pem(first, tmp_path, "server")
    tls_files = {"cert_file": "server.crt", "key_file": "server.key"}
    (tmp_path / "web.yml").write_text(yaml.safe_dump({"tls_server_config": tls_files}))
    return Rotating(tmp_path, ca, first[0])


@contextmanager
def watching(web: Path) -> Iterator[int]:
    """An ``ExporterServer`` re-reading ``web`` on every new connection; yields its port."""
    registry = CollectorRegistry()
    Gauge("cention_test_value", "A value to scrape.", registry=registry).set(7)
    server = ExporterServer("127.0.0.1:0", registry, security=WatchedWebConfig(web, interval=0))
    server.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()


def served_certificate(port: int, client: ssl.SSLContext) -> bytes:
    """The certificate (DER) a new connection is shown, once /healthz answered 200 over it."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: exporter\r\n\r\n")
        answer = b""
        while not answer.endswith(b"OK\n"):
            answer += tls.recv(65536)
        certificate = tls.getpeercert(binary_form=True)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert certificate is not None
    return certificate


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def watch_log(caplog: pytest.LogCaptureFixture) -> list[tuple[object, ...]]:
    """Level, message, path, security and error of each record the web config watch logged."""
    records = [r for r in caplog.records if r.name == "exporter.web.watch"]
    return logged(records, "path", "security", "error")


RELOADED = "web config reloaded"
REFUSED = "web config changed and cannot be used, still serving the previous one"


class TestWebConfigReload:
    def test_a_renewed_certificate_is_served_to_the_next_connection(
        self, rotating: Rotating, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A certificate and key written over the old files are served without a restart."""
        with caplog.at_level(logging.INFO), watching(rotating.web) as port:
            before = served_certificate(port, rotating.client())
            renewed = rotating.renew()
            after = served_certificate(port, rotating.client())
        assert (before, after) == (der(rotating.first), der(renewed))
        assert watch_log(caplog) == [("INFO", RELOADED, str(rotating.web), "TLS", None)]

    def test_a_pair_renewed_file_by_file_switches_once_both_are_in(
        self, rotating: Rotating, caplog: pytest.LogCaptureFixture
    ) -> None:
        """While only the new certificate is written the old pair is served; then the new."""
        certificate, key = issue("exporter renewed", rotating.ca)
        with caplog.at_level(logging.INFO), watching(rotating.web) as port:
            (rotating.folder / "server.crt").write_bytes(
                certificate.public_bytes(serialization.Encoding.PEM)
            )
            half = served_certificate(port, rotating.client())
            write_pem((certificate, key), rotating.folder, "server")
            whole = served_certificate(port, rotating.client())
        assert (half, whole) == (der(rotating.first), der(certificate))
        folder = rotating.folder
        assert watch_log(caplog) == [
            (
                "ERROR",
                REFUSED,
                str(rotating.web),
                None,
                f"tls_server_config.key_file: {folder / 'server.key'} is not the private key "
                f"of cert_file {folder / 'server.crt'}",
            ),
            ("INFO", RELOADED, str(rotating.web), "TLS", None),
        ]

    def test_a_broken_web_config_keeps_the_running_one(
        self, rotating: Rotating, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A new web config with a problem leaves the old one serving, and is logged once."""
        with caplog.at_level(logging.INFO), watching(rotating.web) as port:
            rotating.web.write_text("tls_server_config:\n  cert_file: server.crt\n")
            served = [served_certificate(port, rotating.client()) for _ in range(3)]
        assert served == [der(rotating.first)] * 3
        assert watch_log(caplog) == [
            ("ERROR", REFUSED, str(rotating.web), None, "tls_server_config.key_file: required")
        ]

    def test_changed_users_apply_to_the_next_connection(self, tmp_path: Path) -> None:
        """A user replaced in basic_auth_users is refused, and the new one let in."""
        web = tmp_path / "web.yml"
        web.write_text(yaml.safe_dump({"basic_auth_users": {"alice": HASH}}))
        with watching(web) as port:
            url = f"http://127.0.0.1:{port}/metrics"
            before = httpx.get(url, auth=("alice", PASSWORD)).status_code
            web.write_text(yaml.safe_dump({"basic_auth_users": {"bob-the-scraper": HASH}}))
            after = [httpx.get(url, auth=(u, PASSWORD)).status_code for u in ("alice", "bob")]
            bob = httpx.get(url, auth=("bob-the-scraper", PASSWORD)).status_code
        assert (before, after, bob) == (200, [401, 401], 200)

    def test_files_are_checked_at_most_once_per_interval(self, tmp_path: Path) -> None:
        """Within a second of the last check a change is not looked for; after it, it is."""
        web = tmp_path / "web.yml"
        web.write_text(yaml.safe_dump({"basic_auth_users": {"alice": HASH}}))
        now = [100.0]
        watched = WatchedWebConfig(web, interval=1.0, clock=lambda: now[0])
        first = watched.current()
        web.write_text(yaml.safe_dump({"basic_auth_users": {"bob-the-scraper": HASH}}))
        now[0] = 100.9
        soon = watched.current()
        now[0] = 101.0
        later = watched.current()
        assert (soon is first, [u for u, _ in later.config.basic_auth_users]) == (
            True,
            ["bob-the-scraper"],
        )


# --- the run command ----------------------------------------------------------------------


class TestRunCommand:
    def write_web_config(self, path: Path, data: dict[str, object]) -> Path:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    def test_scrape_over_tls_with_basic_auth(self, pki: PKI, tmp_path: Path) -> None:
        """The real exporter serves its metrics over HTTPS to the right user only."""
        scenario = Scenario(start=int(time.time()), agents=12, seed=5, live=False)
        with SimulatorServer(scenario, token=TOKEN, workspace="demo") as simulator:
            config = write_config(
                tmp_path / "config.yaml",
                [{"workspace": "demo", "api_url": simulator.url, "token": "${CENTION_TOKEN}"}],
            )
            web = self.write_web_config(
                tmp_path / "web.yml",
                {
                    "tls_server_config": {
                        "cert_file": pki.crt("server"),
                        "key_file": pki.key("server"),
                    },
                    "basic_auth_users": {USER: HASH},
                },
            )
            with running(config, web, tmp_path / "exporter.log") as exporter:
                client = {"verify": pki.client()}
                authorized = {**client, "auth": (USER, PASSWORD)}
                exporter.wait_for(lambda: exporter.get("/healthz", **client).status_code == 200)
                assert exporter.get("/metrics", **client).status_code == 401
                exporter.wait_for(lambda: exporter.get("/ready", **authorized).status_code == 200)
                samples = parse_samples(exporter.get("/metrics", **authorized).text)
            truth = scenario.logged_in_at(time.time())
        assert value(samples, "cention_up", workspace="demo") == 1
        assert value(samples, "cention_agents_logged_in", workspace="demo") == len(truth)
        log = (tmp_path / "exporter.log").read_text(encoding="utf-8")
        security = [line for line in logged(exporter.lines(), "path", "security") if line[3]]
        assert security == [("info", "web config loaded", str(web), f"TLS, basic auth for {USER}")]
        assert PASSWORD not in log
        assert TOKEN not in log

    def test_a_broken_web_config_stops_the_start(self, tmp_path: Path) -> None:
        """run exits 1 and lists every problem of the web config file."""
        config = write_config(
            tmp_path / "config.yaml",
            [{"workspace": "demo", "api_url": "http://127.0.0.1:9", "token": "t"}],
        )
        web = self.write_web_config(
            tmp_path / "web.yml",
            {"tls_server_config": {"cert_file": "server.crt"}, "basic_auth_users": {USER: "x"}},
        )
        result = subprocess.run(
            [
                *(sys.executable, "-m", "exporter", "run", f"--config.file={config}"),
                *(f"--web.config.file={web}", f"--web.listen-address=127.0.0.1:{free_port()}"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"{web}: invalid configuration:",
            "  tls_server_config.key_file: required",
            f"  basic_auth_users.{USER}: expected a bcrypt hash such as $2y$10$..., "
            "as printed by htpasswd -nBC 10 \"\" | tr -d ':\\n'",
        ]


@contextmanager
def running(config: Path, web: Path, log_path: Path) -> Iterator[ExporterProcess]:
    """``python -m exporter run --web.config.file=web``, addressed over HTTPS."""
    port = free_port()
    command = [sys.executable, "-m", "exporter", "run", f"--config.file={config}"]
    command += [f"--web.config.file={web}", f"--web.listen-address=127.0.0.1:{port}"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CENTION_TOKEN": TOKEN},
        )
    exporter = ExporterProcess(process, port, log_path)
    exporter.url = f"https://127.0.0.1:{port}"
    try:
        yield exporter
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
