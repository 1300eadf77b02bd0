"""Prometheus' side of the scrape benchmarks, in its own process: the scrapers' parsing and
reading must not take the GIL from the server being measured.

``python -m benchmarks.scrapers`` takes commands on stdin and answers each with one line
of JSON on stdout:

- ``scrape <port>``: one scrape over a kept-alive connection to that port;
  ``{"seconds": ..., "bytes": ...}``, from sending the request to the answer's last byte;
- ``together <port> <scrapers> <idle> <rounds>``: ``idle`` connections that never send a
  request, then ``scrapers`` threads scraping ``rounds`` times each, all at once;
  ``{"seconds": [...]}``, every scrape's latency.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time

HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
"""What Prometheus 2.42 sends with every scrape."""


def scrape(connection: http.client.HTTPConnection) -> tuple[float, int]:
    """Seconds from the request to the last byte of a 200 answer, and its length."""
    started = time.perf_counter()
    connection.request("GET", "/metrics", headers=HEADERS)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    return elapsed, len(body)


def together(port: int, scrapers: int, idle: int, rounds: int) -> list[float]:
    """Every latency of ``scrapers`` threads scraping ``rounds`` times, with ``idle``
    connections open that never send a request."""
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    latencies: list[float] = []
    start = threading.Barrier(scrapers)

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        for _ in range(rounds):
            latencies.append(scrape(connection)[0])
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(scrapers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sock in silent:
        sock.close()
    if len(latencies) != scrapers * rounds:
        raise RuntimeError("a scraper failed")
    return latencies


def main() -> None:
    connections: dict[int, http.client.HTTPConnection] = {}
    for line in sys.stdin:
        command, *args = line.split()
        if command == "scrape":
            port = int(args[0])
            if port not in connections:
                connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            seconds, size = scrape(connections[port])
            answer: dict[str, object] = {"seconds": seconds, "bytes": size}
        else:
            port, scrapers, idle, rounds = map(int, args)
            answer = {"seconds": together(port, scrapers, idle, rounds)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
