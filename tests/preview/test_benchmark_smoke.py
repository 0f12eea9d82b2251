"""The benchmark command runs end to end at its smallest sizes (real dev server, Postgres, mail sink,
worker process, time-skipping server) and prints its table with every figure (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.report import HEADER

REPO = Path(__file__).resolve().parents[2]


def test_smoke_benchmark_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The SDK's Rust core may log a warning to stdout before the table.
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert lines[0] == HEADER
    figures = [line.split(" | ")[0].removeprefix("| ") for line in lines[2:]]
    for prefix in (
        "preview: ",
        "cohort launch: ",
        "due-time fan-out: ",
        "preview vs time-skipping server: ",
        "history, scripted year",
        "worker memory: ",
    ):
        assert any(f.startswith(prefix) for f in figures), (prefix, figures)
    # Every email exactly once is a correctness claim, not a timing: it holds at any size, in each fan-out
    # run and so in the figure (the median of the runs).
    run = next(line for line in lines if line.startswith("| fan-out run 1 of 1: "))
    assert "exactly once: 20 ledger rows, 20 .eml, 20 Message-IDs, 20 journeys" in run
    fanout = next(line for line in lines if line.startswith("| due-time fan-out: "))
    assert "(exactly once in every run)" in fanout
    assert all(line.count(" | ") == 5 for line in lines[2:])
