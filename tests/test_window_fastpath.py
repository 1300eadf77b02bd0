"""``RecordDedup.fresh_in_order`` answers as ``fresh`` then ``trim`` do, without the cost."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core.records import LOGIN, LOGOUT, Batch, Record
from exporter.core.window import RecordDedup

records = st.builds(
    Record, st.sampled_from(["ann", "bob"]), st.integers(0, 30), st.sampled_from([LOGIN, LOGOUT])
)


def batch_of(rows: list[Record]) -> Batch:
    ordered = sorted(rows, key=lambda record: record.timestamp)
    return Batch(
        [r.name for r in ordered], [r.timestamp for r in ordered], [r.action for r in ordered], []
    )


class TestFreshInOrder:
    @settings(max_examples=500, deadline=None)
    @given(
        seen=st.lists(st.tuples(records, st.integers(1, 3)), max_size=12),
        rows=st.lists(records, max_size=25),
        window_end=st.integers(0, 40),
        keep_from=st.integers(-5, 40),
    )
    def test_same_new_records_and_same_memory(
        self,
        seen: list[tuple[Record, int]],
        rows: list[Record],
        window_end: int,
        keep_from: int,
    ) -> None:
        """Whatever was seen, the new records and what is remembered are the same."""
        batch = batch_of(rows)
        fast, reference = RecordDedup(seen), RecordDedup(seen)
        head, split = fast.fresh_in_order(batch, window_end, keep_from)
        expected = reference.fresh(batch.records(), window_end)
        reference.trim(keep_from)
        assert head + batch.records(split) == expected
        assert fast.seen == reference.seen
        assert all(type(key) is Record for key in fast.seen)

    def test_a_steady_poll_makes_no_records_for_what_it_saw(self) -> None:
        """Records re-read as often as seen are old; one more twin is new."""
        old = [Record("ann", 10, LOGIN), Record("ann", 20, LOGOUT)]
        dedup = RecordDedup(Counter(old).items())
        batch = batch_of([*old, Record("ann", 20, LOGOUT), Record("bob", 25, LOGIN)])
        head, split = dedup.fresh_in_order(batch, 30, 15)
        assert head == [Record("ann", 20, LOGOUT)]
        assert batch.records(split) == [Record("bob", 25, LOGIN)]
        assert dedup.seen == {Record("ann", 20, LOGOUT): 2, Record("bob", 25, LOGIN): 1}
