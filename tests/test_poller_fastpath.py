"""The poller applies a window in time order whether or not the API sent it so."""

from __future__ import annotations

import random

import pytest

from exporter.config import MetricsConfig, PollConfig, Secret, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch
from exporter.poller import Poller
from exporter.reader import in_time_order
from exporter.state import WorkspaceState

T0 = 1_700_000_000


class Canned:
    """A ``Fetcher`` with one body per agent name, the same for every window."""

    def __init__(self, bodies: dict[str | None, bytes]) -> None:
        self.bodies = bodies

    def fetch(self, frm: int, to: int, name: str | None = None) -> bytes:
        return self.bodies[name]


def poller_for(bodies: dict[str | None, bytes], agents: tuple[str, ...] = ()) -> Poller:
    workspace = WorkspaceConfig("demo", "https://cention.test", Secret("t"), "csv", agents)
    poll = PollConfig(lookback=3600, max_window=7200)
    state = WorkspaceState("demo", (60.0,))
    client = Canned(bodies)
    return Poller(
        workspace, poll, MetricsConfig(), state, client, clock=lambda: T0, rng=random.Random(1)
    )


class TestTimeOrder:
    def test_an_answer_out_of_order_is_applied_in_order(self) -> None:
        """A Logout listed before its earlier Login still closes the session."""
        body = f"1,ann,{T0 - 10},Logout\n2,ann,{T0 - 20},Login\n".encode()
        poller = poller_for({None: body})
        poller.poll_once()
        agent = poller.state.sessions.agents["ann"]
        assert agent.session_start is None
        assert (agent.last_login, agent.last_logout) == (T0 - 20, T0 - 10)

    def test_answers_per_agent_merge_in_time_order(self) -> None:
        """With agents listed, their answers are merged by time before applying."""
        bodies = {
            "ann": f"1,ann,{T0 - 30},Login\n2,ann,{T0 - 5},Logout\n".encode(),
            "bob": f"1,bob,{T0 - 20},Login\n".encode(),
        }
        poller = poller_for(bodies, agents=("ann", "bob"))
        poller.poll_once()
        assert poller.state.sessions.logged_in_count == 1
        assert poller.state.sessions.last_record == T0 - 5

    @pytest.mark.parametrize(
        "answers",
        [
            pytest.param([Batch(["a", "b"], [1, 1], [LOGIN, LOGOUT], [])], id="one-in-order"),
            pytest.param([Batch(["a", "b"], [2, 1], [LOGIN, LOGOUT], [])], id="one-out-of-order"),
            pytest.param(
                [Batch(["a"], [2], [LOGIN], []), Batch(["b", "c"], [2, 1], [LOGOUT, LOGIN], [])],
                id="two",
            ),
        ],
    )
    def test_in_time_order_is_a_stable_sort(self, answers: list[Batch]) -> None:
        """Records of one second keep the order the answers gave them."""
        records = [record for answer in answers for record in answer.records()]
        expected = sorted(records, key=lambda record: record.timestamp)
        assert in_time_order(answers).records() == expected
        if len(answers) == 1 and answers[0].in_time_order():
            assert in_time_order(answers) is answers[0]


class TestNames:
    def test_forgotten_agents_leave_the_shared_names(self) -> None:
        """The names the parses share shrink with the agents forgotten."""
        poller = poller_for({None: f"1,ann,{T0 - 10},Login\n".encode()})
        poller.poll_once()
        assert poller.names == {"ann": "ann"}
        poller.metrics = MetricsConfig(forget_agent_after=5)
        poller.next_forget = 0.0
        poller.poll_once()
        assert poller.names == {}
        assert poller.state.sessions.agents == {}
