"""``make bench`` starts: every benchmark module imports, and a name it lacks is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_unknown_name_is_refused_once_everything_imports() -> None:
    """``python -m benchmarks`` imports every benchmark before it reads its arguments."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "no_such_bench"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert (result.returncode, result.stderr) == (2, "")
    assert result.stdout.startswith("unknown benchmark no_such_bench; choose from ingest_csv,")
