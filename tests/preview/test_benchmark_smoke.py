"""The benchmark command runs at its smallest sizes and prints its Markdown table (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_prints_a_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "| figure | measured | baseline | ratio | goal |"
    assert len(lines) >= 4 and all(line.startswith("| preview: ") for line in lines[2:4])
    assert "participant-months/s" in lines[2]
