"""Benchmarks of the exporter against a floor measured in the same run: ``make bench``.

``python -m benchmarks`` starts the simulated logio API of 5,000 agents over a week
(about a million records) in a child process and runs, each printing one line::

    bench <name> value=<x> floor=<y> ratio=<x/y> target=<t> ok|FAIL <figures...>

- ``ingest_csv``, ``ingest_json``: the initial lookback, first request to state applied,
  against fetching the same bytes with ``http.client`` and parsing them with
  ``csv.reader`` plus ``int``, or ``json.loads`` (``workload``, ``ingest``);
- ``ingest_memory``: peak resident memory above an idle exporter during that ingest, and
  during a week of 50,000 agents (``memory``);
- ``steady_poll``: CPU time and bytes written of a poll bringing 10 new records, with the
  state file on and 50,000 agents in 10 workspaces (``steady``);
- ``state_memory``: resident bytes per agent that stay once the week is applied (``memory``);
- ``scrape_10k``, ``scrape_50k``: ``/metrics`` for 10,000 and 50,000 agents over HTTP,
  asked as Prometheus asks, against prometheus_client rendering the same samples; and
  ``scrape_concurrent``: 20 scrapers at once against one alone (``scrape``).
- ``state_save``: rewriting the state file's snapshot of 10,000 agents, and the writes
  an hour in steady state (``state_save``).

It exits 1 if any line says FAIL. Linux only: memory is read from ``/proc``.
"""
