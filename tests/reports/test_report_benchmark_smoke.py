"""The report benchmark runs end to end at its smallest size (own embedded Postgres, seeded cohort, the
store call and the CLI) and prints both figures (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.report import HEADER

REPO = Path(__file__).resolve().parents[2]


def test_report_benchmark_smoke_prints_both_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cohort_report", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert lines[0] == HEADER and len(lines) == 4
    assert lines[2].startswith("| cohort report, store query (100 participants, 53 weeks")
    assert lines[3].startswith("| `mentorflow cohort report --json --csv --html`")
