"""``Overlap.take`` answers as the plain multiset rule does, without its cost."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.core.records import LOGIN, LOGOUT, Batch, Record
from exporter.core.window import Overlap

records = st.builds(
    Record, st.sampled_from(["ann", "bob"]), st.integers(0, 30), st.sampled_from([LOGIN, LOGOUT])
)


def batch_of(rows: list[Record]) -> Batch:
    ordered = sorted(rows, key=lambda record: record.timestamp)
    return Batch(
        [r.name for r in ordered], [r.timestamp for r in ordered], [r.action for r in ordered], []
    )


def reference(
    seen: dict[Record, int], batch: list[Record], keep_from: int
) -> tuple[list[Record], dict[Record, int]]:
    """The rule written plainly: the n-th occurrence of a record is new if more than
    n - 1 were seen; then every record stamped before ``keep_from`` is forgotten."""
    occurrences: Counter[Record] = Counter()
    new = []
    for record in batch:
        occurrences[record] += 1
        if occurrences[record] > seen.get(record, 0):
            new.append(record)
    memory = {**seen}
    for record, count in occurrences.items():
        memory[record] = max(count, memory.get(record, 0))
    return new, {r: n for r, n in memory.items() if r.timestamp >= keep_from}


class TestNewRecords:
    @settings(max_examples=500, deadline=None)
    @given(
        seen=st.dictionaries(records, st.integers(1, 3), max_size=12),
        rows=st.lists(records, max_size=25),
        keep_from=st.integers(-5, 40),
    )
    def test_same_new_records_and_same_memory(
        self, seen: dict[Record, int], rows: list[Record], keep_from: int
    ) -> None:
        """Whatever was seen, the new records and what is remembered are the reference's."""
        batch = batch_of(rows)
        overlap = Overlap(seen.items())
        head, split = overlap.new_records(batch, keep_from)
        expected_new, expected_memory = reference(seen, batch.records(), keep_from)
        assert head + batch.records(split) == expected_new
        assert overlap.records == expected_memory
        assert all(type(key) is Record for key in overlap.records)

    def test_a_steady_poll_makes_no_records_for_what_it_saw(self) -> None:
        """Records re-read as often as seen are old; one more twin is new."""
        old = [Record("ann", 10, LOGIN), Record("ann", 20, LOGOUT)]
        overlap = Overlap(Counter(old).items())
        batch = batch_of([*old, Record("ann", 20, LOGOUT), Record("bob", 25, LOGIN)])
        head, split = overlap.new_records(batch, 15)
        assert head == [Record("ann", 20, LOGOUT)]
        assert batch.records(split) == [Record("bob", 25, LOGIN)]
        assert overlap.records == {Record("ann", 20, LOGOUT): 2, Record("bob", 25, LOGIN): 1}
