"""The build's identity: the ``--version`` block, and where each field comes from."""

from __future__ import annotations

import getpass
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from exporter import __version__, build
from exporter.build import (
    BuildInfo,
    at_build,
    from_env,
    from_git,
    from_record,
    render_record,
    resolve,
    running,
    version_block,
)

INFO = BuildInfo(
    "0.1.0",
    revision="4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e",
    branch="main",
    build_user="ci@build1",
    build_date="20260101-12:00:00",
    python_version="3.12.3",
    platform="linux/x86_64",
)
EPOCH = "1767268800"  # 2026-01-01T12:00:00Z
ENV = {
    "CENTION_EXPORTER_REVISION": "env-revision",
    "CENTION_EXPORTER_BRANCH": "env-branch",
    "CENTION_EXPORTER_BUILD_USER": "env@user",
    "CENTION_EXPORTER_BUILD_DATE": "env-date",
}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(name="checkout")
def _checkout(tmp_path: Path) -> Path:
    """A git checkout with one commit on branch ``topic``."""
    root = tmp_path / "checkout"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "symbolic-ref", "HEAD", "refs/heads/topic")
    (root / "README.md").write_text("x\n", encoding="utf-8")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "one")
    return root


def write_record(root: Path, **fields: str) -> Path:
    """``root/exporter/_build.py`` assigning ``fields`` (names upper-cased)."""
    path = root / "exporter" / "_build.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k.upper()} = {v!r}\n" for k, v in fields.items()), "utf-8")
    return path


class TestVersionBlock:
    def test_block(self) -> None:
        """The block of ``prometheus --version``, with Python's version in Go's place."""
        assert version_block(INFO) == (
            "cention-logio-exporter, version 0.1.0 (branch: main, revision: "
            "4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e)\n"
            "  build user:       ci@build1\n"
            "  build date:       20260101-12:00:00\n"
            "  python version:   3.12.3\n"
            "  platform:         linux/x86_64"
        )

    def test_unknown_fields(self) -> None:
        """A field no source knows reads ``unknown``."""
        info = BuildInfo("0.2.0", python_version="3.10.1", platform="darwin/arm64")
        assert version_block(info).splitlines() == [
            "cention-logio-exporter, version 0.2.0 (branch: unknown, revision: unknown)",
            "  build user:       unknown",
            "  build date:       unknown",
            "  python version:   3.10.1",
            "  platform:         darwin/arm64",
        ]

    def test_default_is_this_process(self) -> None:
        """Without an argument the block is this process's build, of this version."""
        assert (version_block(), build.current().version) == (
            version_block(build.current()),
            __version__,
        )

    def test_fields_and_labels(self) -> None:
        """The log line's fields are every field in order; the labels those of build_info."""
        assert (list(INFO.fields()), INFO.labels()) == (
            [
                "version",
                "revision",
                "branch",
                "build_user",
                "build_date",
                "python_version",
                "platform",
            ],
            ["0.1.0", "4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e", "main", "3.12.3"],
        )


class TestResolve:
    def test_first_source_wins_per_field(self) -> None:
        """Each field comes from the first source that has it; the rest stay unknown."""
        info = resolve([{"revision": "a"}, {"revision": "b", "branch": "x"}], version="9")
        assert (info.version, info.revision, info.branch, info.build_user, info.build_date) == (
            "9",
            "a",
            "x",
            "unknown",
            "unknown",
        )

    @pytest.mark.parametrize("empty", ["", "  ", "unknown"])
    def test_an_empty_value_is_not_knowledge(self, empty: str) -> None:
        """An empty or ``unknown`` value leaves the field to the next source."""
        assert resolve([{"revision": empty}, {"revision": "b"}]).revision == "b"

    def test_stops_once_every_field_is_known(self) -> None:
        """A later source, such as git, is not even asked once every field is known."""
        asked: list[str] = []

        def sources() -> Iterator[Mapping[str, str]]:
            asked.append("record")
            yield {"revision": "r", "branch": "b", "build_user": "u", "build_date": "d"}
            asked.append("git")
            yield {"revision": "other"}

        assert (resolve(sources()).revision, asked) == ("r", ["record"])

    def test_values_are_stripped(self) -> None:
        """A value read with a trailing newline, as from a file, is stripped."""
        assert resolve([{"branch": "main\n"}]).branch == "main"


class TestSources:
    def test_env(self) -> None:
        """The four CENTION_EXPORTER_ variables, and nothing else from the environment."""
        assert from_env({**ENV, "REVISION": "x", "HOME": "/root"}) == {
            "revision": "env-revision",
            "branch": "env-branch",
            "build_user": "env@user",
            "build_date": "env-date",
        }

    def test_record_text(self) -> None:
        """The record is four assignments under a docstring."""
        assert render_record(INFO) == (
            '"""Written when this package was built; read by exporter/build.py."""\n\n'
            "REVISION = '4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e'\n"
            "BRANCH = 'main'\n"
            "BUILD_USER = 'ci@build1'\n"
            "BUILD_DATE = '20260101-12:00:00'\n"
        )

    def test_record_reads_back(self, tmp_path: Path) -> None:
        """What a build writes is what the running package reads."""
        path = tmp_path / "_build.py"
        path.write_text(render_record(INFO), encoding="utf-8")
        assert from_record(path) == {
            "revision": "4f2a9c1e0b7d3a5f6e8c9b0a1d2e3f4a5b6c7d8e",
            "branch": "main",
            "build_user": "ci@build1",
            "build_date": "20260101-12:00:00",
        }

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(None, {}, id="missing"),
            pytest.param("REVISION = 'abc\n", {}, id="broken"),
            pytest.param("REVISION = 7\nBRANCH = 'main'\n", {"branch": "main"}, id="not-text"),
        ],
    )
    def test_record_never_fails(self, tmp_path: Path, text: str | None, expected: dict) -> None:
        """A missing or broken record, or a value that is no string, is no knowledge."""
        path = tmp_path / "_build.py"
        if text is not None:
            path.write_text(text, encoding="utf-8")
        assert from_record(path) == expected

    def test_git_checkout(self, checkout: Path) -> None:
        """In a checkout, git names the commit and the branch."""
        assert from_git(checkout) == {
            "revision": git(checkout, "rev-parse", "HEAD"),
            "branch": "topic",
        }

    def test_git_detached(self, checkout: Path) -> None:
        """A detached checkout has a revision and no branch."""
        git(checkout, "checkout", "-q", "--detach")
        assert resolve([from_git(checkout)]).branch == "unknown"

    def test_git_inside_another_repository(self, checkout: Path) -> None:
        """A package inside some other repository (a venv in a project) reports nothing."""
        inner = checkout / "venv" / "site-packages"
        inner.mkdir(parents=True)
        assert from_git(inner) == {}

    def test_git_missing(self, checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without git on PATH the fields stay unknown, and nothing raises."""
        monkeypatch.setenv("PATH", str(checkout / "no-such-dir"))
        assert resolve([from_git(checkout)]).revision == "unknown"

    def test_git_without_commits(self, tmp_path: Path) -> None:
        """A repository with no commit yet has no revision."""
        git(tmp_path, "init", "-q")
        assert resolve([from_git(tmp_path)]).revision == "unknown"


class TestRunning:
    def test_record_then_env_then_git(self, checkout: Path) -> None:
        """Running, the build's record beats the environment, which beats git."""
        record = write_record(checkout, build_date="record-date")
        env = {"CENTION_EXPORTER_BUILD_DATE": "env-date", "CENTION_EXPORTER_BRANCH": "env-branch"}
        info = running(record, env, checkout)
        assert (info.build_date, info.branch, info.revision, info.build_user) == (
            "record-date",
            "env-branch",
            git(checkout, "rev-parse", "HEAD"),
            "unknown",
        )

    def test_installed_without_record_or_git(self, tmp_path: Path) -> None:
        """An installed copy with no record, no variables and no checkout: all unknown."""
        info = running(tmp_path / "_build.py", {}, tmp_path)
        assert info.fields() == {
            **BuildInfo(__version__).fields(),
            "revision": "unknown",
            "branch": "unknown",
            "build_user": "unknown",
            "build_date": "unknown",
        }


class TestAtBuild:
    def test_env_then_record_then_git_then_now(self, checkout: Path) -> None:
        """Building, the environment beats the sdist's record, which beats git, which
        beats who builds when."""
        write_record(checkout, revision="sdist-revision", build_user="sdist@user")
        env = {"CENTION_EXPORTER_BUILD_USER": "env@user", "SOURCE_DATE_EPOCH": EPOCH}
        info = at_build(checkout, env, now=0.0)
        assert (info.build_user, info.revision, info.branch, info.build_date) == (
            "env@user",
            "sdist-revision",
            "topic",
            "20260101-12:00:00",
        )

    def test_who_and_when(self, tmp_path: Path) -> None:
        """With nothing else known, the build records user@host and the time, in UTC."""
        info = at_build(tmp_path, {}, now=1_767_268_800.9)
        assert (info.build_user, info.build_date, info.revision) == (
            f"{getpass.getuser()}@{socket.gethostname()}",
            "20260101-12:00:00",
            "unknown",
        )

    def test_env_wins_over_source_date_epoch(self, tmp_path: Path) -> None:
        """An explicit build date beats SOURCE_DATE_EPOCH; a malformed epoch is ignored."""
        dated = at_build(tmp_path, {**ENV, "SOURCE_DATE_EPOCH": EPOCH}, now=0.0)
        malformed = at_build(tmp_path, {"SOURCE_DATE_EPOCH": "soon"}, now=1_767_268_800.0)
        assert (dated.build_date, malformed.build_date) == ("env-date", "20260101-12:00:00")
