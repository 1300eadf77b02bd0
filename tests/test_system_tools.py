"""The system-tool set-up of ``make test`` and the CI entry point that calls it.

``scripts/install-system-tools.sh`` runs against a folder of fake commands on ``PATH``:
``id``, ``sudo`` and ``apt-get`` record what they were asked, so each test knows exactly
which packages would be installed and how, without touching the machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "install-system-tools.sh"
TOOLS = {  # each command the tests drive -> the Debian package that provides it
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "systemd-analyze": "systemd",
    "kubectl": "kubernetes-client",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}
EXIT_0 = "#!/bin/sh\nexit 0\n"


class FakeSystem:
    """A ``PATH`` of one folder holding only the commands a test puts there."""

    def __init__(self, root: Path) -> None:
        self.bin, self.calls = root / "bin", root / "calls"
        self.bin.mkdir()
        self.calls.touch()
        (self.bin / "env").symlink_to("/usr/bin/env")
        self.command("python3", EXIT_0)  # ensurepip is importable
        self.command("id", "#!/bin/sh\necho 1000\n")

    def command(self, name: str, script: str) -> None:
        path = self.bin / name
        path.write_text(script, encoding="utf-8")
        path.chmod(0o755)

    def tools(self, *names: str) -> None:
        for name in names:
            self.command(name, EXIT_0)

    def apt_get(self, provides: dict[str, str] = TOOLS) -> None:
        """``apt-get install`` creates the commands of each package it is given."""
        commands: dict[str, list[str]] = {}
        for command, package in provides.items():
            commands.setdefault(package, []).append(f"$bin/{command}")
        installs = "".join(
            f'    {package}) for c in {" ".join(paths)}; do echo "exit 0" > $c; /bin/chmod +x $c; '
            "done;;\n"
            for package, paths in commands.items()
        )
        self.command(
            "apt-get",
            f'#!/bin/bash\necho "apt-get $* frontend=${{DEBIAN_FRONTEND:-}}" >> {self.calls}\n'
            f'bin={self.bin}\n[ "$1" = install ] || exit 0\n'
            f'for package in "$@"; do case "$package" in\n{installs}esac; done\n',
        )

    def sudo(self, passwordless: bool) -> None:
        self.command(
            "sudo",
            f'#!/bin/bash\nif [ "$1" = -n ]; then exit {0 if passwordless else 1}; fi\n'
            f'echo "sudo $1" >> {self.calls}\nexec "$@"\n',
        )

    def run(self) -> tuple[int, list[str], list[str]]:
        """Exit status, stderr lines and the recorded calls of one run of the script."""
        result = subprocess.run(
            ["/bin/bash", str(SCRIPT)],
            env={"PATH": str(self.bin), "PYTHON": "python3"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.stdout == ""
        calls = self.calls.read_text(encoding="utf-8").splitlines()
        return result.returncode, result.stderr.splitlines(), calls


@pytest.fixture(name="system")
def _system(tmp_path: Path) -> FakeSystem:
    return FakeSystem(tmp_path)


class TestInstallSystemTools:
    def test_nothing_missing_does_nothing(self, system: FakeSystem) -> None:
        """With every tool on PATH the script neither asks apt nor prints a word."""
        system.tools(*TOOLS)
        system.apt_get()
        assert system.run() == (0, [], [])

    def test_root_installs_only_the_missing_packages(self, system: FakeSystem) -> None:
        """As root: apt-get update once, then one install of each missing tool's package."""
        system.tools("prometheus-alertmanager", "amtool", "systemd-analyze", "chromium")
        system.command("id", "#!/bin/sh\necho 0\n")
        system.apt_get()
        status, stderr, calls = system.run()
        assert (status, calls) == (
            0,
            [
                "apt-get update -qq frontend=",
                "apt-get install -y -qq --no-install-recommends prometheus kubernetes-client "
                "chromium-driver frontend=noninteractive",
            ],
        )
        assert stderr == [
            "missing: promtool prometheus kubectl chromedriver "
            "(Debian packages: prometheus kubernetes-client chromium-driver)"
        ]

    def test_a_kubectl_from_elsewhere_is_kept(self, system: FakeSystem) -> None:
        """kubectl on PATH from another package is used; kubernetes-client is not installed."""
        system.tools(*(name for name in TOOLS if name != "chromedriver"))
        system.command("id", "#!/bin/sh\necho 0\n")
        system.apt_get()
        _, _, calls = system.run()
        assert calls[1:] == [
            "apt-get install -y -qq --no-install-recommends chromium-driver frontend=noninteractive"
        ]

    def test_passwordless_sudo_installs(self, system: FakeSystem) -> None:
        """A user with sudo that needs no password gets the same two apt-get runs via sudo."""
        system.tools(*(name for name in TOOLS if name != "kubectl"))
        system.sudo(passwordless=True)
        system.apt_get()
        assert system.run()[0::2] == (
            0,
            [
                "sudo env",
                "apt-get update -qq frontend=",
                "sudo env",
                "apt-get install -y -qq --no-install-recommends kubernetes-client "
                "frontend=noninteractive",
            ],
        )

    def test_sudo_with_a_password_stops_with_the_command(self, system: FakeSystem) -> None:
        """Without a way to install, it stops before apt with the one command to run."""
        system.tools(*(name for name in TOOLS if name not in ("promtool", "prometheus")))
        system.sudo(passwordless=False)
        system.apt_get()
        assert system.run() == (
            1,
            [
                "missing: promtool prometheus (Debian packages: prometheus)",
                "run: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends "
                "prometheus'",
            ],
            [],
        )

    def test_no_sudo_stops_with_su(self, system: FakeSystem) -> None:
        """A user without sudo is told the command to run through su."""
        system.tools(*(name for name in TOOLS if name != "systemd-analyze"))
        system.apt_get()
        assert system.run() == (
            1,
            [
                "missing: systemd-analyze (Debian packages: systemd)",
                "run: su -c 'apt-get update && apt-get install -y --no-install-recommends systemd'",
            ],
            [],
        )

    def test_missing_venv_support_is_installed(self, system: FakeSystem) -> None:
        """Debian's python3 without ensurepip cannot create .venv: python3-venv is added."""
        system.tools(*TOOLS)
        system.command("python3", "#!/bin/sh\nexit 1\n")
        system.command("id", "#!/bin/sh\necho 0\n")
        system.apt_get()
        _, stderr, calls = system.run()
        assert (stderr[0], calls[1]) == (
            "missing: venv (Debian packages: python3-venv)",
            "apt-get install -y -qq --no-install-recommends python3-venv frontend=noninteractive",
        )

    def test_a_package_without_the_command_fails(self, system: FakeSystem) -> None:
        """An install that leaves a tool missing (another distribution's package) fails."""
        system.tools(*(name for name in TOOLS if name != "kubectl"))
        system.command("id", "#!/bin/sh\necho 0\n")
        system.apt_get(provides={})
        status, stderr, _ = system.run()
        assert (status, stderr[-1]) == (1, "still missing after the install: kubectl")

    def test_without_apt_it_names_the_tools(self, system: FakeSystem) -> None:
        """On a system without apt-get it stops and names what to install."""
        system.tools(*(name for name in TOOLS if name != "chromium"))
        assert system.run() == (
            1,
            [
                "missing: chromium (Debian packages: chromium)",
                "no apt-get here: install chromium with this system's package manager",
            ],
            [],
        )


class TestEntryPoints:
    def test_ci_sets_ci_and_runs_make_test(self, system: FakeSystem) -> None:
        """.ci/run does nothing but run ``make test`` with CI=true, from the project root."""
        system.command("make", f'#!/bin/sh\necho "CI=$CI $(pwd) make $*" >> {system.calls}\n')
        for name in ("bash", "dirname"):
            (system.bin / name).symlink_to(f"/usr/bin/{name}")
        subprocess.run(
            [str(ROOT / ".ci" / "run")],
            env={"PATH": str(system.bin)},
            cwd="/",
            timeout=60,
            check=True,
        )
        assert system.calls.read_text(encoding="utf-8") == f"CI=true {ROOT} make test\n"

    @pytest.mark.parametrize(
        ("target", "first"),
        [("test", "PYTHON=python3 scripts/install-system-tools.sh"), ("demo", None)],
    )
    def test_make_test_sets_up_the_tools_and_demo_does_not(
        self, target: str, first: str | None
    ) -> None:
        """``make test`` runs the tool set-up first; ``make demo`` never needs it."""
        dry_run = subprocess.run(
            ["make", "--no-print-directory", "-n", "-B", target, "PYTHON=python3"],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.splitlines()
        setup = [line for line in dry_run if "install-system-tools" in line]
        assert setup == ([first] if first else [])
        if first:
            assert dry_run[0] == first
