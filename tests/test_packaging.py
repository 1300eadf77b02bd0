"""The wheel and sdist build offline from the tracked files, install, and run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from exporter import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(name="dist", scope="module")
def _dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build from a copy of the tracked files, so the work tree gains no build/ folder."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return out


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

    def test_installed_wheel_runs(self, dist: Path, tmp_path: Path) -> None:
        """The console script installed from the wheel prints the version."""
        target = tmp_path / "site"
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
        env = {**os.environ, "PYTHONPATH": str(target)}
        result = subprocess.run(
            [str(target / "bin" / "cention-logio-exporter"), "--version"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=tmp_path,
        )
        assert (result.returncode, result.stdout) == (0, f"cention-logio-exporter {__version__}\n")
        where = subprocess.run(
            [sys.executable, "-c", "import exporter; print(exporter.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=tmp_path,
        )
        assert where.stdout.strip() == str(target / "exporter" / "__init__.py")
