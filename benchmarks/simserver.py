"""The simulated logio API in its own process, so the exporter's process measures only itself.

The real API runs on another machine: in the benchmark process its rendering would take
the GIL from the client being measured, and its million cached records would count in
the exporter's memory. Each distinct request is rendered once and then served from a
cache, so repeated runs time the client rather than the simulator's rendering.

Run as ``python -m benchmarks.simserver --agents 5000 --start 1700006400``; it prints
``port <n>`` once serving, takes ``inject <ts> <Login|Logout> <name>`` lines on stdin and
stops when stdin closes. ``RemoteSimulator`` does all of that from the parent.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from types import TracebackType
from typing import IO

from exporter.core.records import Record
from exporter.simulator import Plan, Scenario, SimRequest, SimulatorServer

LATER = 365 * 86400
"""The server's clock stands this long after the history: every record is visible."""
TOKEN = "bench-token"  # noqa: S105 - a loopback simulator's fixed token, not a secret
WORKSPACE = "bench"


class CachingSimulator(SimulatorServer):
    """A ``SimulatorServer`` that renders each distinct request once."""

    def __init__(self, scenario: Scenario, now: float) -> None:
        super().__init__(scenario, token=TOKEN, workspace=WORKSPACE, clock=lambda: now)
        self._cache: dict[tuple[object, ...], Plan] = {}
        self._cache_lock = threading.Lock()

    def forget(self) -> None:
        """Drop cached answers: the scenario changed."""
        with self._cache_lock:
            self._cache.clear()

    def _plan(self, request: SimRequest) -> Plan:
        query = tuple(sorted((key, tuple(values)) for key, values in request.query.items()))
        key = (request.method, request.path, query, request.headers.get("authorization"))
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = super()._plan(request)
            with self._cache_lock:
                self._cache[key] = cached
        return cached


def main(argv: list[str] | None = None) -> None:
    """Serve until stdin closes; ``inject`` lines add records."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simserver")
    parser.add_argument("--agents", type=int, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--lookback", type=int, default=7 * 86400)
    args = parser.parse_args(argv)
    scenario = Scenario(start=args.start, agents=args.agents, lookback=args.lookback, live=False)
    scenario.records(0, args.start, now=args.start)  # generate the whole history up front
    server = CachingSimulator(scenario, now=args.start + LATER)
    with server:
        print(f"port {server.port}", flush=True)
        for line in sys.stdin:
            command, _, rest = line.strip().partition(" ")
            if command == "inject":
                stamp, action, name = rest.split(" ", 2)
                scenario.inject(Record(name, int(stamp), action))
                server.forget()
                print("ok", flush=True)


class RemoteSimulator:
    """Starts ``python -m benchmarks.simserver`` and talks to it over its stdin and stdout."""

    def __init__(self, *, agents: int, start: int, lookback: int = 7 * 86400) -> None:
        command = [sys.executable, "-m", "benchmarks.simserver"]
        command += [f"--agents={agents}", f"--start={start}", f"--lookback={lookback}"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.port = int(self._answer().removeprefix("port "))
        self.url = f"http://127.0.0.1:{self.port}"

    def inject(self, record: Record) -> None:
        """Add ``record`` to the history served from now on."""
        stdin = self._stdin()
        stdin.write(f"inject {record.timestamp} {record.action} {record.name}\n")
        stdin.flush()
        self._answer()

    def close(self) -> None:
        self._stdin().close()
        self.process.wait(timeout=30)

    def __enter__(self) -> RemoteSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _stdin(self) -> IO[str]:
        assert self.process.stdin is not None
        return self.process.stdin

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process ended early")
        return line.strip()


if __name__ == "__main__":
    main()
