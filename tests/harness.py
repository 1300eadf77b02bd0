"""Run the real exporter as a subprocess and read its /metrics and its log lines."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip on a developer's machine without ``tool``; in CI (CI=true) a missing tool fails."""
    missing = shutil.which(tool) is None and os.environ.get("CI") != "true"
    return pytest.mark.skipif(missing, reason=f"{tool} is not installed (CI installs it)")


PROMTOOL_ACCEPTS = ('cention_business_hours use base unit "seconds" instead of "hours"',)
"""What ``promtool check metrics`` says of a name the issues spell out: its lint takes the
``hours`` of ``cention_business_hours``, a 1/0 gauge, for a unit; the name is a contract."""


def promtool_findings(exposition: str | bytes) -> list[str]:
    """What ``promtool check metrics`` finds in ``exposition``, but ``PROMTOOL_ACCEPTS``:
    each line it prints, and its exit status if it is neither 0 nor 3 (lint findings)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus package"
    text = exposition.encode() if isinstance(exposition, str) else exposition
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, check=False, timeout=60
    )
    printed = (result.stdout + result.stderr).decode().splitlines()
    found = [line for line in printed if line not in PROMTOOL_ACCEPTS]
    return found + ([f"exit {result.returncode}"] if result.returncode not in (0, 3) else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_answer(url: str) -> httpx.Response:
    """GET ``url``, retrying for up to 20 s while nothing listens there yet."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=10)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def write_config(path: Path, workspaces: list[dict[str, object]], **sections: object) -> Path:
    """A config file polling fast enough for tests."""
    config: dict[str, object] = {
        "workspaces": workspaces,
        "poll": {
            "interval": "1s",
            "timeout": "5s",
            "overlap": "10m",
            "lookback": "7d",
            "max_window": "1d",
        },
    }
    config.update(sections)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class ExporterProcess:
    """A running ``cention-logio-exporter run``; its log is in ``log_path``.

    With ``verify`` (the client side of its TLS) it is asked over HTTPS.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.process, self.port, self.log_path, self.verify = process, port, log_path, verify
        self.url = f"{'https' if verify else 'http'}://127.0.0.1:{port}"

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        kwargs.setdefault("verify", self.verify or True)
        return httpx.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def scrape_text(self) -> str:
        return self.get("/metrics").text

    def scrape(self) -> Samples:
        return parse_samples(self.scrape_text())

    def wait_ready(self, timeout: float = 30) -> None:
        self.wait_for(lambda: self.get("/ready").status_code == 200, timeout, "/ready")

    def wait_for(self, condition: object, timeout: float = 30, what: str = "condition") -> None:
        """Poll ``condition()`` until true; fail with the exporter's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exporter exited {self.process.returncode}:\n{self.log()}")
            try:
                if condition():  # type: ignore[operator]
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[dict[str, str]]:
        """The log's lines parsed as logfmt, but for a last one still being written."""
        text = self.log()
        return log_lines(text[: text.rfind("\n") + 1])


@contextmanager
def run_exporter(
    config: Path,
    *args: str,
    env: dict[str, str] | None = None,
    ready: bool = True,
    cwd: Path | None = None,
    command: tuple[str, ...] = ("run",),
    port: int | None = None,
    verify: ssl.SSLContext | None = None,
) -> Iterator[ExporterProcess]:
    """Start ``python -m exporter run`` on a free port, stop it with SIGTERM at the end.

    ``command=()`` leaves out the command word. Given a ``port``, no listen address is
    added: the config file or ``args`` say where that port is.
    """
    listen = []
    if port is None:
        port = free_port()
        listen = [f"--web.listen-address=127.0.0.1:{port}"]
    log_path = config.with_suffix(".log")
    command = (
        sys.executable,
        "-m",
        "exporter",
        *command,
        f"--config.file={config}",
        *listen,
        *args,
    )
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    exporter = ExporterProcess(process, port, log_path, verify)
    try:
        exporter.wait_for(lambda: exporter.get("/healthz").status_code == 200, 30, "/healthz")
        if ready:
            exporter.wait_ready()
        yield exporter
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()  # a hung exporter must not outlive its test
                process.wait()
                raise


def parse_samples(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: Samples, name: str, label: str) -> dict[str, float]:
    """``{label value: sample value}`` of every sample of ``name``."""
    return {dict(key)[label]: v for (n, key), v in samples.items() if n == name}


_PAIR = re.compile(r'([^ ="]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


def parse_logfmt(line: str) -> dict[str, str]:
    """A logfmt line's keys and values, each key once, the whole line consumed; a quoted
    value is read with JSON's string escapes."""
    parsed, position = {}, 0
    while position < len(line):
        pair = _PAIR.match(line, position)
        assert pair is not None, f"not logfmt at {position}: {line[position:]!r}"
        key, value = pair.groups()
        assert key not in parsed, f"{key} twice"
        parsed[key] = json.loads(value) if value.startswith('"') else value
        position = pair.end()
    return parsed


def log_lines(text: str) -> list[dict[str, str]]:
    """Every line of a logfmt log, parsed."""
    return [parse_logfmt(line) for line in text.splitlines()]


def logged(
    entries: Iterable[logging.LogRecord | Mapping[str, object]], *keys: str
) -> list[tuple[object, ...]]:
    """``(level, message, *the values of keys)`` of each record caught by ``caplog`` or
    line parsed from a log; ``None`` where one has no such key.

    A record's level is its ``levelname`` (``ERROR``), a line's as written (``error``).
    """
    rows = []
    for entry in entries:
        if isinstance(entry, logging.LogRecord):
            entry = {**vars(entry), "level": entry.levelname, "msg": entry.getMessage()}
        rows.append(tuple(entry.get(key) for key in ("level", "msg", *keys)))
    return rows
