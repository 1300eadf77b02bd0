"""Outgoing TLS to Cention: the client against an HTTPS simulator, over real loopback.

The simulator presents a self-signed certificate, or a leaf from a private CA, made here
with ``cryptography``. Verification is on unless ``insecure_skip_verify`` turns it off;
``ca_file`` adds the CA to trust. Expected bodies are written out by hand.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from certs import issue, write_pem
from harness import parse_samples, run_exporter, value, write_config

from exporter.config import Secret, WorkspaceConfig
from exporter.core.records import Record
from exporter.errors import NetworkError
from exporter.logio import LogioClient
from exporter.simulator import Scenario, SimulatorServer

TOKEN = "tls-token-6d21f9"
START = 1_700_000_000
FRM, TO = START - 3600, START
RECORDS = [Record("joe", START - 100, "Login"), Record("anna", START - 50, "Logout")]
BODY = b"1,joe,1699999900,Login\n2,anna,1699999950,Logout\n"
UNTRUSTED = "TLS certificate not trusted: "


@pytest.fixture(name="certs", scope="module")
def _certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``self-signed``, ``ca`` and its ``leaf`` for 127.0.0.1, and an ``unrelated-ca``."""
    folder = tmp_path_factory.mktemp("certs")
    ca = issue("private CA")
    write_pem(issue("cention", serves=True), folder, "self-signed")
    write_pem(ca, folder, "ca")
    write_pem(issue("cention", ca), folder, "leaf")
    write_pem(issue("unrelated CA"), folder, "unrelated-ca")
    return folder


@pytest.fixture(name="scenario")
def _scenario() -> Scenario:
    scenario = Scenario(start=START, agents=0, live=False)
    for record in RECORDS:
        scenario.inject(record)
    return scenario


def https(scenario: Scenario, certs: Path, name: str) -> SimulatorServer:
    """The simulator serving ``scenario`` over HTTPS with certificate ``name``."""
    return SimulatorServer(
        scenario,
        token=TOKEN,
        cert_file=str(certs / f"{name}.crt"),
        key_file=str(certs / f"{name}.key"),
    )


class Fetch:
    """One window through a LogioClient built from a WorkspaceConfig; keeps the codes seen."""

    def __init__(self) -> None:
        self.observed: list[str] = []

    def __call__(self, url: str, **tls: Any) -> bytes:
        config = WorkspaceConfig(workspace="demo", api_url=url, token=Secret(TOKEN), **tls)
        client = LogioClient(
            config,
            timeout=5.0,
            max_response_bytes=1 << 20,
            on_request=lambda code, seconds: self.observed.append(code),
        )
        try:
            return client.fetch(FRM, TO)
        finally:
            client.close()


@pytest.fixture(name="fetch")
def _fetch() -> Fetch:
    return Fetch()


class TestVerification:
    @pytest.mark.parametrize(
        ("served", "ca_file", "verdict"),
        [
            pytest.param("self-signed", None, "self-signed certificate", id="self-signed"),
            pytest.param(
                "self-signed", "unrelated-ca", "self-signed certificate", id="another-ca_file"
            ),
            pytest.param("leaf", None, "unable to get local issuer certificate", id="private-ca"),
        ],
    )
    def test_an_untrusted_certificate_fails_the_request(
        self,
        scenario: Scenario,
        certs: Path,
        fetch: Fetch,
        served: str,
        ca_file: str | None,
        verdict: str,
    ) -> None:
        """Without the right ca_file the request fails as a network error naming the cause."""
        tls = {} if ca_file is None else {"ca_file": str(certs / f"{ca_file}.crt")}
        with https(scenario, certs, served) as simulator, pytest.raises(NetworkError) as raised:
            fetch(simulator.url, **tls)
        assert (raised.value.reason, str(raised.value)) == ("network", UNTRUSTED + verdict)
        assert fetch.observed == ["error"]

    @pytest.mark.parametrize(
        ("served", "ca_file"),
        [
            pytest.param("self-signed", "self-signed", id="self-signed"),
            pytest.param("leaf", "ca", id="private-ca"),
        ],
    )
    def test_ca_file_makes_it_trusted(
        self, scenario: Scenario, certs: Path, fetch: Fetch, served: str, ca_file: str
    ) -> None:
        """With ca_file naming the certificate or its CA, the records come over HTTPS."""
        with https(scenario, certs, served) as simulator:
            url = simulator.url
            body = fetch(url, ca_file=str(certs / f"{ca_file}.crt"))
        assert (url.startswith("https://127.0.0.1:"), body) == (True, BODY)
        assert fetch.observed == ["200"]

    def test_insecure_skip_verify_accepts_any_certificate(
        self, scenario: Scenario, certs: Path, fetch: Fetch
    ) -> None:
        """insecure_skip_verify: true fetches from a certificate nothing vouches for."""
        with https(scenario, certs, "self-signed") as simulator:
            body = fetch(simulator.url, insecure_skip_verify=True)
        assert body == BODY


class TestRunningExporter:
    def test_insecure_skip_verify_is_served_and_warned_about(
        self, certs: Path, tmp_path: Path
    ) -> None:
        """The running exporter polls the HTTPS API and logs one warning that TLS is unverified."""
        scenario = Scenario(start=int(time.time()), agents=8, seed=3, live=False)
        with https(scenario, certs, "self-signed") as simulator:
            url = simulator.url
            workspace = {
                "workspace": "demo",
                "api_url": url,
                "token": "${CENTION_TOKEN}",
                "insecure_skip_verify": True,
            }
            config = write_config(tmp_path / "config.yaml", [workspace])
            with run_exporter(
                config, "--log.format=json", env={"CENTION_TOKEN": TOKEN}
            ) as exporter:
                samples = parse_samples(exporter.scrape_text())
                log = exporter.log()
            truth = scenario.logged_in_at(time.time())
        assert value(samples, "cention_up", workspace="demo") == 1
        assert value(samples, "cention_agents_logged_in", workspace="demo") == len(truth)
        warnings = [
            (line["msg"], line["workspace"], line["api_url"])
            for line in map(json.loads, log.splitlines())
            if line["level"] == "warn"
        ]
        assert warnings == [
            ("insecure_skip_verify is on: TLS certificates are not verified", "demo", url)
        ]
