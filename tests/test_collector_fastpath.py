"""Per-agent samples built in bulk are the samples ``add_metric`` would have built."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.collector import _AgentFamilies
from exporter.core.records import LOGIN, LOGOUT, Record
from exporter.core.sessions import Sessions


def one_by_one(workspace: str, sessions: Sessions) -> _AgentFamilies:
    """The reference: one ``add_metric`` call per sample."""
    families = _AgentFamilies()
    for name, agent in sessions.agents.items():
        labels = [workspace, name]
        families.logged_in.add_metric(labels, 1 if agent.session_start is not None else 0)
        families.logins.add_metric(labels, agent.logins)
        families.logouts.add_metric(labels, agent.logouts)
        families.seconds.add_metric(labels, sessions.logged_in_seconds(agent))
        if agent.last_login is not None:
            families.last_login.add_metric(labels, agent.last_login)
        if agent.last_logout is not None:
            families.last_logout.add_metric(labels, agent.last_logout)
        if agent.session_start is not None:
            families.session_start.add_metric(labels, agent.session_start)
        today = sessions.today()
        if today is not None:
            families.today.add_metric(labels, sessions.today_seconds(agent, today))
    return families


records = st.lists(
    st.builds(
        Record,
        st.sampled_from(["ann", "bob", 'x "y", z', "zoë"]),
        st.integers(0, 100),
        st.sampled_from([LOGIN, LOGOUT]),
    ),
    max_size=30,
)


class TestAgentFamilies:
    @settings(max_examples=200, deadline=None)
    @given(before=records, after=records, counting=st.booleans())
    def test_bulk_samples_equal_add_metric(
        self, before: list[Record], after: list[Record], counting: bool
    ) -> None:
        """Every family holds the same samples, in the same order."""
        sessions = Sessions((60.0,))
        sessions.apply(sorted(before, key=lambda record: record.timestamp))
        if counting:
            sessions.start_counting(100)
        sessions.apply(sorted(after, key=lambda record: record.timestamp))
        sessions.advance(150)
        bulk = _AgentFamilies()
        bulk.add("demo", sessions)
        reference = one_by_one("demo", sessions)
        assert [family.samples for family in bulk.all()] == [
            family.samples for family in reference.all()
        ]
