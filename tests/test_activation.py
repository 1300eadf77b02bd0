"""systemd socket activation: reading LISTEN_FDS, and serving the sockets systemd passes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness import first_answer, free_port, needs

from exporter.web.activation import listen_fds

SERVER = textwrap.dedent(
    """
    import os

    from prometheus_client import CollectorRegistry, Gauge

    from exporter.web.activation import activated_sockets
    from exporter.web.server import ExporterServer

    registry = CollectorRegistry()
    Gauge("cention_test_activated", "Served on a socket from systemd.", registry=registry).set(1)
    sockets = activated_sockets(os.environ, os.getpid())
    ExporterServer((), registry, sockets=sockets).serve_forever()
    """
)


class TestListenFds:
    def test_the_passed_descriptors_start_at_3(self) -> None:
        """LISTEN_FDS=2 for this process means descriptors 3 and 4."""
        assert list(listen_fds({"LISTEN_PID": "4711", "LISTEN_FDS": "2"}, 4711)) == [3, 4]

    @pytest.mark.parametrize(
        ("environ", "message"),
        [
            pytest.param(
                {},
                "LISTEN_PID and LISTEN_FDS are not set: start the exporter from a systemd "
                ".socket unit, or listen with --web.listen-address instead",
                id="not-activated",
            ),
            pytest.param(
                {"LISTEN_PID": "99", "LISTEN_FDS": "1"},
                "LISTEN_PID=99 names another process, not this one (4711)",
                id="another-process",
            ),
            pytest.param(
                {"LISTEN_PID": "4711", "LISTEN_FDS": "0"},
                "LISTEN_FDS=0: expected the number of sockets passed, at least 1",
                id="none-passed",
            ),
            pytest.param(
                {"LISTEN_PID": "4711", "LISTEN_FDS": "two"},
                "LISTEN_FDS=two: expected the number of sockets passed, at least 1",
                id="not-a-number",
            ),
        ],
    )
    def test_no_sockets_for_this_process_is_explained(
        self, environ: dict[str, str], message: str
    ) -> None:
        """Without sockets meant for this process, the error says why."""
        with pytest.raises(ValueError, match=re.escape(message)) as caught:
            listen_fds(environ, 4711)
        assert str(caught.value) == message


@needs("systemd-socket-activate")
class TestSocketActivation:
    def test_every_passed_socket_is_served(self, tmp_path: Path) -> None:
        """Started by systemd-socket-activate on two addresses, the server answers on both."""
        script = tmp_path / "activated.py"
        script.write_text(SERVER, encoding="utf-8")
        ports = [free_port(), free_port()]
        listen = [f"--listen=127.0.0.1:{port}" for port in ports]
        log = (tmp_path / "activate.log").open("wb")
        process = subprocess.Popen(
            ["systemd-socket-activate", *listen, sys.executable, str(script)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            answers = [first_answer(f"http://127.0.0.1:{port}/metrics") for port in ports]
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()
        samples = [
            [line for line in r.text.splitlines() if line.startswith("cention_")] for r in answers
        ]
        assert [r.status_code for r in answers] == [200, 200]
        assert samples == [["cention_test_activated 1.0"]] * 2
        assert "Execing" in (tmp_path / "activate.log").read_text(encoding="utf-8")
