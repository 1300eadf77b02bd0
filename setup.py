"""The build hook: every wheel and sdist gets ``exporter/_build.py``, the revision, branch,
build user and date that ``exporter/build.py`` reports; the rest is in pyproject.toml.

An editable install records nothing, so that it reports the checkout's revision as it moves.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the exporter being built, not one installed elsewhere

from exporter import build  # noqa: E402 -- needs the line above


def record(package: Path) -> None:
    """Write the record anew, never through a link to the source's own copy."""
    path = package / build.RECORD.name
    path.unlink(missing_ok=True)
    path.write_text(build.render_record(build.at_build(ROOT, os.environ, time.time())), "utf-8")


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            record(Path(self.build_lib) / "exporter")


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        record(Path(base_dir) / "exporter")


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
