"""``healthcheck`` against a real exporter: the address, port and TLS its config gives.

Each test runs ``python -m exporter healthcheck`` as a subprocess, as a container's
HEALTHCHECK does, against an exporter subprocess listening where the same config says.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import bcrypt
import httpx
import pytest
import yaml
from certs import issue, write_pem
from harness import free_port, run_exporter, write_config

CHECK_OF_CLIENT_CERTS = "TLS handshake done (client certificates required)"


def healthcheck(config: Path, *args: str) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of one check."""
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "healthcheck", f"--config.file={config}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def config_at(folder: Path, address: str | list[str], **web: object) -> Path:
    """A config listening on ``address``; its API answers nothing (the check needs none)."""
    workspace = {"workspace": "demo", "api_url": "http://127.0.0.1:9", "token": "t0ken"}
    return write_config(folder / "config.yaml", [workspace], web={"listen_address": address, **web})


def trusting(*certificates: Path, client: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client context trusting ``certificates``, presenting ``client`` if given."""
    context = ssl.create_default_context(cadata="".join(c.read_text() for c in certificates))
    if client is not None:
        context.load_cert_chain(*client)
    return context


@pytest.fixture(name="pki", scope="module")
def _pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, the exporter's certificate from it, a self-signed one, and a client's."""
    folder = tmp_path_factory.mktemp("pki")
    ca = issue("exporter CA")
    for name, pair in {
        "ca": ca,
        "server": issue("exporter", ca),
        "other": issue("another process", serves=True),
        "client": issue("prometheus", ca),
    }.items():
        write_pem(pair, folder, name)
    return folder


@pytest.fixture(name="port")
def _port() -> int:
    return free_port()


class TestPlainHTTP:
    def test_passes_while_it_serves_and_fails_once_stopped(self, tmp_path: Path, port: int):
        """0 and the answer while the exporter runs; 1 and why once it stopped."""
        config = config_at(tmp_path, f"127.0.0.1:{port}")
        url = f"http://127.0.0.1:{port}/healthz"
        with run_exporter(config, port=port, ready=False):
            assert healthcheck(config) == (0, f"healthy: {url} answered 200\n", "")
        assert healthcheck(config) == (1, "", f"unhealthy: {url}: Connection refused\n")

    def test_follows_a_changed_port(self, tmp_path: Path) -> None:
        """After the config's port changes and the exporter restarts, the check asks the new one."""
        old, new = free_port(), free_port()
        config = config_at(tmp_path, f"127.0.0.1:{old}")
        with run_exporter(config, port=old, ready=False):
            assert healthcheck(config)[:2] == (
                0,
                f"healthy: http://127.0.0.1:{old}/healthz answered 200\n",
            )
        config_at(tmp_path, f"127.0.0.1:{new}")
        with run_exporter(config, port=new, ready=False):
            assert healthcheck(config) == (
                0,
                f"healthy: http://127.0.0.1:{new}/healthz answered 200\n",
                "",
            )

    def test_every_listen_address_is_asked(self, tmp_path: Path) -> None:
        """Each address of web.listen_address answers; one that does not fails the check."""
        first, second, idle = free_port(), free_port(), free_port()
        config = config_at(tmp_path, [f"127.0.0.1:{first}", f"127.0.0.1:{second}"])
        with run_exporter(config, port=first, ready=False):
            assert healthcheck(config) == (
                0,
                f"healthy: http://127.0.0.1:{first}/healthz answered 200, "
                f"http://127.0.0.1:{second}/healthz answered 200\n",
                "",
            )
            flags = (
                f"--web.listen-address=127.0.0.1:{second}",
                f"--web.listen-address=127.0.0.1:{idle}",
            )
            assert healthcheck(config, *flags) == (
                1,
                "",
                f"unhealthy: http://127.0.0.1:{idle}/healthz: Connection refused\n",
            )

    def test_a_config_that_no_longer_loads_fails(self, tmp_path: Path) -> None:
        """The exporter would not start again with it: one line names the problem."""
        config = tmp_path / "config.yaml"
        config.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: http://127.0.0.1:9\n"
            "    token: ${HEALTHCHECK_UNSET_TOKEN}\n"
        )
        assert healthcheck(config) == (
            1,
            "",
            f"unhealthy: {config}: invalid configuration: workspaces[0].token: "
            "environment variable HEALTHCHECK_UNSET_TOKEN is not set\n",
        )


class TestTLS:
    def test_passes_with_tls_and_basic_auth(self, tmp_path: Path, pki: Path, port: int) -> None:
        """HTTPS to the certificate of cert_file; /healthz needs no password under basic auth."""
        hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
        web = {
            "tls_server_config": {
                "cert_file": str(pki / "server.crt"),
                "key_file": str(pki / "server.key"),
            },
            "basic_auth_users": {"prometheus": hashed},
        }
        (tmp_path / "web.yml").write_text(yaml.safe_dump(web))
        config = config_at(tmp_path, f"127.0.0.1:{port}", config_file="web.yml")
        verify = trusting(pki / "ca.crt")
        with run_exporter(config, port=port, ready=False, verify=verify) as exporter:
            assert exporter.get("/metrics").status_code == 401
            assert healthcheck(config) == (
                0,
                f"healthy: https://127.0.0.1:{port}/healthz answered 200\n",
                "",
            )

    def test_another_certificate_on_the_port_fails(
        self, tmp_path: Path, pki: Path, port: int
    ) -> None:
        """A check trusts only the certificate its cert_file names, not whoever answers."""
        served, expected = tmp_path / "served", tmp_path / "expected"
        for folder, name in ((served, "server"), (expected, "other")):
            folder.mkdir()
            tls = {"cert_file": str(pki / f"{name}.crt"), "key_file": str(pki / f"{name}.key")}
            (folder / "web.yml").write_text(yaml.safe_dump({"tls_server_config": tls}))
            config_at(folder, f"127.0.0.1:{port}", config_file="web.yml")
        verify = trusting(pki / "ca.crt")
        with run_exporter(served / "config.yaml", port=port, ready=False, verify=verify):
            assert healthcheck(expected / "config.yaml") == (
                1,
                "",
                f"unhealthy: https://127.0.0.1:{port}/healthz: not the certificate in cert_file: "
                "unable to get local issuer certificate\n",
            )
            assert healthcheck(served / "config.yaml")[0] == 0

    def test_required_client_certificates_end_the_check_at_the_handshake(
        self, tmp_path: Path, pki: Path, port: int
    ) -> None:
        """Without a client certificate, a TLS 1.3 handshake with the pinned one is the check."""
        tls = {
            "cert_file": str(pki / "server.crt"),
            "key_file": str(pki / "server.key"),
            "client_auth_type": "RequireAndVerifyClientCert",
            "client_ca_file": str(pki / "ca.crt"),
        }
        (tmp_path / "web.yml").write_text(yaml.safe_dump({"tls_server_config": tls}))
        config = config_at(tmp_path, f"127.0.0.1:{port}", config_file="web.yml")
        client = (pki / "client.crt", pki / "client.key")
        verify = trusting(pki / "ca.crt", client=client)
        with run_exporter(config, port=port, ready=False, verify=verify) as exporter:
            with pytest.raises(httpx.ReadError, match="TLSV13_ALERT_CERTIFICATE_REQUIRED"):
                exporter.get("/healthz", verify=trusting(pki / "ca.crt"))
            assert healthcheck(config) == (
                0,
                f"healthy: https://127.0.0.1:{port}/healthz: {CHECK_OF_CLIENT_CERTS}\n",
                "",
            )
