"""`mentorflow --version` prints the installed package's version and exits 0."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from tests.foundation.clirun import run_cli


def test_version(tmp_path: Path) -> None:
    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mentorflow {version('mentorflow')}"
