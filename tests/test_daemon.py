"""The exporter writes its state file when the state changed, not at every poll, and
appends what changed to the journal rather than rewriting every workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import logged

from exporter.config import Config, Secret, StateConfig, WorkspaceConfig
from exporter.core.records import LOGIN, LOGOUT, Batch, Parsed, Record
from exporter.daemon import Exporter
from exporter.state import WorkspaceState


def config(path: Path, *names: str) -> Config:
    return Config(
        workspaces=tuple(WorkspaceConfig(n, "https://cention.test", Secret("t")) for n in names),
        state=StateConfig(file=str(path)),
    )


def window(*records: Record) -> Batch:
    return Batch.of(Parsed(list(records), []))


@pytest.fixture(name="path")
def _path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


class TestSaveIfChanged:
    def test_writes_only_after_a_change(self, path: Path) -> None:
        """The first check writes; then only a workspace's change or the set of
        workspaces changing does, whatever the number of polls between."""
        exporter = Exporter(config(path, "north", "south"))
        north, south = WorkspaceState("north", (60.0,)), WorkspaceState("south", (60.0,))
        exporter.state.add(north)
        exporter.state.add(south)
        written = [exporter.save_if_changed()]
        for end in (1000, 1030, 1060):  # polls that bring nothing
            north.apply_window(window(), end, 600)
            south.apply_window(window(), end, 600)
            written.append(exporter.save_if_changed())
        south.apply_window(window(Record("ann", 1070, LOGIN)), 1090, 600)
        written.append(exporter.save_if_changed())
        written.append(exporter.save_if_changed())
        exporter.state.remove("north")
        written.append(exporter.save_if_changed())
        assert written == [True, False, False, False, True, False, True]
        saved = json.loads(path.read_text(encoding="utf-8"))["workspaces"]
        assert list(saved) == ["south"]
        assert list(saved["south"]["sessions"]["agents"]) == ["ann"]

    def test_nothing_is_written_without_a_state_file(self, tmp_path: Path) -> None:
        """Without ``state.file`` no check writes anything."""
        exporter = Exporter(
            Config(workspaces=(WorkspaceConfig("a", "https://c.test", Secret("t")),))
        )
        exporter.state.add(WorkspaceState("a", (60.0,)))
        exporter.save_if_changed()
        assert list(tmp_path.iterdir()) == []

    def test_a_failed_write_is_tried_again(
        self, path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A write that fails is logged, and the next check writes the same changes."""
        exporter = Exporter(config(path, "north"))
        exporter.state.add(WorkspaceState("north", (60.0,)))
        path.mkdir()  # a folder where the file should go: the rename fails
        assert exporter.save_if_changed() is True
        path.rmdir()
        assert exporter.save_if_changed() is True
        assert exporter.save_if_changed() is False
        assert logged(caplog.records, "path") == [("ERROR", "cannot write the state file", path)]
        assert list(json.loads(path.read_text(encoding="utf-8"))["workspaces"]) == ["north"]


class TestJournal:
    def test_changes_are_appended_and_shutdown_rewrites_the_snapshot(self, path: Path) -> None:
        """After the first write the snapshot stays as written while changes go to the
        journal; stopping writes them all into a new snapshot and removes the journal."""
        exporter = Exporter(config(path, "north"))
        north = WorkspaceState("north", (60.0,))
        north.apply_window(window(Record("ann", 900, LOGIN)), 1000, 600)
        north.poll_succeeded(1000.0)
        exporter.state.add(north)
        assert exporter.save_if_changed() is True
        snapshot = path.read_bytes()
        north.apply_window(window(Record("ann", 1010, LOGOUT)), 1030, 600)
        assert exporter.save_if_changed() is True
        journal = path.with_name("state.json.journal")
        assert (path.read_bytes(), journal.exists()) == (snapshot, True)
        exporter.stop()
        assert not journal.exists()
        saved = json.loads(path.read_text(encoding="utf-8"))["workspaces"]["north"]
        assert saved["sessions"]["records_total"] == {"login": 0, "logout": 1}
