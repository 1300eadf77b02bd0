"""Months of polling in-process, on a simulated clock: memory and state size stay flat.

The client is replaced by a fake that renders the API's CSV directly: HTTP is covered by
the integration tests, and here it would only multiply the run time.
"""

from __future__ import annotations

import json
import os
import random
import tracemalloc

import pytest

from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.poller import Poller
from exporter.state import WorkspaceState

AGENTS = 2000
STEP = 10  # one event every 10 s: each agent acts every AGENTS * STEP s (5.6 h)
GENERATION = 8 * AGENTS * STEP  # new staff every 1.85 days: names change, old ones go idle
T0 = 1_700_000_000
POLLS = int(os.environ.get("SOAK_POLLS", 100_000))
INTERVAL = 30
CHECKPOINT = 3 * GENERATION // INTERVAL  # every 5.6 days: the same phase of the turnover


class ChurningCenter:
    """2,000 agents at a time, alternating login/logout, replaced by new staff every 2 days."""

    def __init__(self) -> None:
        self.now = float(T0)

    def clock(self) -> float:
        return self.now

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        """The CSV body the API would send for ``[frm, to]``."""
        rows = []
        first = max(frm, T0) + (-max(frm, T0)) % STEP
        for n, ts in enumerate(range(first, min(to, int(self.now)) + 1, STEP), 1):
            slot = ts // STEP
            agent = f"agent-{slot % AGENTS}-gen{ts // GENERATION}"
            action = "Login" if (slot // AGENTS) % 2 == 0 else "Logout"
            rows.append(f"{n},{agent},{ts},{action}\n")
        return "".join(rows).encode()


@pytest.mark.slow
class TestSoak:
    def test_hundred_thousand_polls_stay_flat(self) -> None:
        """After warm-up, traced memory and the state file's size stop growing."""
        center = ChurningCenter()
        workspace = WorkspaceConfig("soak", "https://cention.test", Secret("t"))
        poll = PollConfig(interval=INTERVAL, overlap=60, lookback=3600, max_window=86400)
        state = WorkspaceState("soak", (60.0, 3600.0))
        poller = Poller(
            workspace,
            poll,
            MetricsConfig(forget_agent_after=86400),
            state,
            center,
            clock=center.clock,
            rng=random.Random(1),
        )
        checkpoints: list[tuple[int, int, int]] = []
        for i in range(1, POLLS + 1):
            center.now += INTERVAL
            assert poller.poll_once() == INTERVAL
            if i == CHECKPOINT:
                tracemalloc.start()
            if i % CHECKPOINT == 0:
                size = len(json.dumps(state.to_dict()))
                checkpoints.append(
                    (tracemalloc.get_traced_memory()[0], size, len(state.overlap.records))
                )
        tracemalloc.stop()

        memory = [m for m, _, _ in checkpoints[1:]]
        sizes = [s for _, s, _ in checkpoints]
        assert len(checkpoints) == POLLS // CHECKPOINT
        # Bounded, not byte-equal: the agents dict's table may double or halve as the staff
        # turns over. A leak of a few bytes a poll would still show between the last two.
        assert max(memory) - min(memory) < 1024 * 1024, checkpoints
        assert abs(memory[-1] - memory[-2]) < 16 * 1024, checkpoints
        assert max(sizes) < min(sizes) * 1.01, checkpoints
        assert [d for _, _, d in checkpoints] == [60 // STEP + 1] * len(checkpoints)
        assert len(state.sessions.agents) <= 2 * AGENTS
        assert state.health.errors == dict.fromkeys(state.health.errors, 0)
