"""What this build of the exporter is, for ``--version``, the start-up log line and
``cention_exporter_build_info``, in the block Prometheus' own exporters print::

    >>> print(version_block(BuildInfo("0.1.0", "4f2a9c1", "main", "ci@build1",
    ...       "20260101-12:00:00", "3.12.3", "linux/x86_64")))
    cention-logio-exporter, version 0.1.0 (branch: main, revision: 4f2a9c1)
      build user:       ci@build1
      build date:       20260101-12:00:00
      python version:   3.12.3
      platform:         linux/x86_64

The version is the package's; the Python version and platform are the running
interpreter's. Revision, branch, build user and build date each come from the first
source that knows them, and are ``unknown`` otherwise; finding out never fails:

1. ``exporter/_build.py``, which ``setup.py`` writes into every wheel and sdist it builds;
2. ``CENTION_EXPORTER_REVISION``, ``_BRANCH``, ``_BUILD_USER`` and ``_BUILD_DATE`` in the
   environment, for sources run or packaged without git;
3. git, when the package runs from a checkout of this repository.

A build records, in order: the same variables (``docker build --build-arg REVISION=...``
passes them), the record of the sdist it is built from, git, and else who builds and when
(``SOURCE_DATE_EPOCH`` if set, for reproducible builds).
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import runpy
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from exporter import __version__

NAME = "cention-logio-exporter"
UNKNOWN = "unknown"
RECORDED = ("revision", "branch", "build_user", "build_date")
"""The fields a build records; the others are known wherever the code runs."""
ENV_PREFIX = "CENTION_EXPORTER_"
PACKAGE = Path(__file__).resolve().parent
RECORD = PACKAGE / "_build.py"
DATE_FORMAT = "%Y%m%d-%H:%M:%S"
"""promu's, as in ``prometheus --version``; in UTC."""


def _platform() -> str:
    return f"{sys.platform}/{platform.machine() or UNKNOWN}"


@dataclass(frozen=True)
class BuildInfo:
    version: str
    revision: str = UNKNOWN
    branch: str = UNKNOWN
    build_user: str = UNKNOWN
    build_date: str = UNKNOWN
    python_version: str = field(default_factory=platform.python_version)
    platform: str = field(default_factory=_platform)

    def fields(self) -> dict[str, str]:
        """Every field by name, in order: the start-up log line's fields."""
        return asdict(self)

    def labels(self) -> list[str]:
        """The values of ``cention_exporter_build_info``'s labels, in the catalogue's order."""
        return [self.version, self.revision, self.branch, self.python_version]


def version_block(info: BuildInfo | None = None) -> str:
    """What ``--version`` prints, without a final newline."""
    info = info or current()
    return (
        f"{NAME}, version {info.version} (branch: {info.branch}, revision: {info.revision})\n"
        f"  build user:       {info.build_user}\n"
        f"  build date:       {info.build_date}\n"
        f"  python version:   {info.python_version}\n"
        f"  platform:         {info.platform}"
    )


@functools.cache
def current() -> BuildInfo:
    """This process's build, found once."""
    return running(RECORD, os.environ, PACKAGE.parent)


def running(record: Path, environ: Mapping[str, str], root: Path) -> BuildInfo:
    """What the package at ``root`` reports: the build's ``record``, then ``environ``,
    then git."""
    return resolve(_running(record, environ, root))


def _running(record: Path, environ: Mapping[str, str], root: Path) -> Iterator[Mapping[str, str]]:
    yield from_record(record)
    yield from_env(environ)
    yield from_git(root)


def at_build(root: Path, environ: Mapping[str, str], now: float) -> BuildInfo:
    """What a wheel or sdist built at ``now`` from the project at ``root`` records:
    ``environ``, the sdist's record, git, then who builds and when."""
    return resolve(_building(root, environ, now))


def _building(root: Path, environ: Mapping[str, str], now: float) -> Iterator[Mapping[str, str]]:
    yield from_env(environ)
    yield from_record(root / "exporter" / RECORD.name)
    yield from_git(root)
    epoch = environ.get("SOURCE_DATE_EPOCH", "")
    when = float(epoch) if epoch.isdigit() else now
    yield {"build_user": _user(), "build_date": time.strftime(DATE_FORMAT, time.gmtime(when))}


def resolve(sources: Iterable[Mapping[str, str]], version: str = __version__) -> BuildInfo:
    """Each recorded field from the first source with a value for it: the sources are
    read lazily, and no further once every field is known."""
    known: dict[str, str] = {}
    for source in sources:
        for name in RECORDED:
            value = source.get(name, "").strip()
            if value and value != UNKNOWN:
                known.setdefault(name, value)
        if len(known) == len(RECORDED):
            break
    return BuildInfo(version, **known)


def from_record(path: Path) -> dict[str, str]:
    """The fields a build wrote to ``path``; none if there is no such file."""
    if not path.is_file():
        return {}
    try:
        written = runpy.run_path(str(path))
    except (OSError, SyntaxError):
        return {}
    return {name: v for name in RECORDED if isinstance(v := written.get(name.upper()), str)}


def render_record(info: BuildInfo) -> str:
    """The text of ``exporter/_build.py`` for ``info``."""
    assignments = "".join(f"{name.upper()} = {getattr(info, name)!r}\n" for name in RECORDED)
    return f'"""Written when this package was built; read by exporter/build.py."""\n\n{assignments}'


def from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``CENTION_EXPORTER_REVISION`` and its siblings."""
    names = {name: ENV_PREFIX + name.upper() for name in RECORDED}
    return {name: environ[variable] for name, variable in names.items() if variable in environ}


def from_git(root: Path) -> dict[str, str]:
    """Revision and branch of the checkout whose top level is ``root``: a package
    installed inside some other repository must not report that one's. Detached, the
    branch is unknown."""
    if not (root / ".git").exists():
        return {}
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return {
        "revision": _git(root, "rev-parse", "HEAD"),
        "branch": "" if branch == "HEAD" else branch,
    }


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 -- fixed arguments, no shell
            ["git", "-C", str(root), *args],  # noqa: S607 -- git from PATH, as a user runs it
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hangs
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _user() -> str:
    """``user@host``, as promu records the build user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid, as in some containers
        user = UNKNOWN
    return f"{user}@{socket.gethostname()}"
