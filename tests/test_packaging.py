"""The wheel and sdist build offline from the tracked files, install, and run."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from exporter import __version__

ROOT = Path(__file__).resolve().parent.parent


BUILT = {
    "CENTION_EXPORTER_BRANCH": "release-0.1",
    "CENTION_EXPORTER_BUILD_USER": "ci@build1",
    "SOURCE_DATE_EPOCH": "1767268800",  # 2026-01-01T12:00:00Z
}
"""The build's environment: the branch and user given, the revision left to git."""


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(name="source", scope="module")
def _source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout of the tracked files with one commit, on branch ``main``."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    git(source, "init", "-q")
    git(source, "symbolic-ref", "HEAD", "refs/heads/main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "--no-gpg-sign", "-m", "build")
    return source


@pytest.fixture(name="dist", scope="module")
def _dist(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    """Build the sdist from a copy of the tracked files, so the work tree gains no build/
    folder, and the wheel from the sdist, as ``python -m build`` does."""
    out = tmp_path_factory.mktemp("dist")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CENTION_EXPORTER_")}
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        env={**clean, **BUILT},
    )
    return out


@pytest.fixture(name="site", scope="module")
def _site(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Path:
    """The wheel installed into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(next(dist.glob("*.whl"))),
        ],
        check=True,
    )
    return target


class TestPackaging:
    def test_builds_one_wheel_and_one_sdist(self, dist: Path) -> None:
        """Both artifacts carry the one version of the package."""
        assert sorted(p.name for p in dist.iterdir()) == [
            f"cention_logio_exporter-{__version__}-py3-none-any.whl",
            f"cention_logio_exporter-{__version__}.tar.gz",
        ]

    def test_wheel_holds_the_package_and_its_entry_point(self, dist: Path) -> None:
        """The wheel ships exporter/ with the simulator and the console script."""
        wheel = zipfile.ZipFile(next(dist.glob("*.whl")))
        names = wheel.namelist()
        assert "exporter/cli.py" in names
        assert "exporter/simulator/scenario.py" in names
        info = f"cention_logio_exporter-{__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        assert "cention-logio-exporter = exporter.cli:main" in entry_points.splitlines()
        assert not [n for n in names if n.startswith("tests/")]

    def test_sdist_holds_what_a_rebuild_needs(self, dist: Path) -> None:
        """The sdist has the project file, the readme, the licence and the sources."""
        with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
            names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
        assert {"pyproject.toml", "README.md", "LICENSE", "exporter/__init__.py"} <= names

    def test_both_record_the_build(self, dist: Path, source: Path) -> None:
        """The sdist and the wheel built from it record the revision git gave the sdist
        (the wheel's build has no git), the branch and user the environment gave over
        git's, and the SOURCE_DATE_EPOCH."""
        expected = (
            '"""Written when this package was built; read by exporter/build.py."""\n\n'
            f"REVISION = {git(source, 'rev-parse', 'HEAD')!r}\n"
            "BRANCH = 'release-0.1'\n"
            "BUILD_USER = 'ci@build1'\n"
            "BUILD_DATE = '20260101-12:00:00'\n"
        )
        wheel = zipfile.ZipFile(next(dist.glob("*.whl"))).read("exporter/_build.py").decode()
        with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
            member = f"cention_logio_exporter-{__version__}/exporter/_build.py"
            packed = sdist.extractfile(member).read().decode()  # type: ignore[union-attr]
        assert (wheel, packed) == (expected, expected)
        assert not (source / "exporter" / "_build.py").exists()

    def test_installed_wheel_runs(self, site: Path, tmp_path: Path) -> None:
        """The console script installed from the wheel prints the version."""
        target = site
        env = {**os.environ, "PYTHONPATH": str(target)}
        result = subprocess.run(
            [str(target / "bin" / "cention-logio-exporter"), "--version"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=tmp_path,
        )
        first = result.stdout.splitlines()[0]
        assert (result.returncode, first.split(" (")[0]) == (
            0,
            f"cention-logio-exporter, version {__version__}",
        )
        where = subprocess.run(
            [sys.executable, "-c", "import exporter; print(exporter.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=tmp_path,
        )
        assert where.stdout.strip() == str(target / "exporter" / "__init__.py")

    def test_installed_wheel_reports_its_build(
        self, site: Path, source: Path, tmp_path: Path
    ) -> None:
        """Installed, the package reports the build its wheel recorded, not the unknowns
        of a copy without git."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CENTION_EXPORTER_")}
        result = subprocess.run(
            [sys.executable, "-c", "from exporter.build import version_block as v; print(v())"],
            capture_output=True,
            text=True,
            env={**clean, "PYTHONPATH": str(site)},
            check=True,
            cwd=tmp_path,
        )
        assert result.stdout.splitlines() == [
            f"cention-logio-exporter, version {__version__} (branch: release-0.1, revision: "
            f"{git(source, 'rev-parse', 'HEAD')})",
            "  build user:       ci@build1",
            "  build date:       20260101-12:00:00",
            f"  python version:   {platform.python_version()}",
            f"  platform:         {sys.platform}/{platform.machine()}",
        ]
