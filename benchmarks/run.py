"""`python -m benchmarks.run [--quick]`: measure, then print a Markdown table. Not a test: no asserts.

Implemented so far: preview speed (participant-months simulated per second) on a realistic synthetic
roster (participants share profiles as in a real cohort) and on one where every journey is distinct.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.roster import synthetic_rows
from cli.preview import plans_from_roster, run_preview
from worker.program_files import load_program

REPO = Path(__file__).resolve().parents[1]
START = date(2027, 1, 4)
LAUNCHED = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Row:
    figure: str
    measured: str
    baseline: str
    ratio: str
    goal: str


def bench_preview(participants: int, months: int, *, distinct: bool) -> Row:
    program = load_program(REPO / "programs" / "medtwitter").spec
    weeks = round(months * 52 / 12)
    rows = synthetic_rows(participants, START, distinct=distinct)
    began = time.perf_counter()
    plans = plans_from_roster("bench", rows, program, START, launched_at=LAUNCHED)
    result = run_preview(program, plans, start_date=START, weeks=weeks)
    seconds = time.perf_counter() - began
    rate = participants * months / seconds
    kind = "all distinct" if distinct else f"{result.distinct_journeys} distinct journeys"
    goal = "10,000 x 12 months < 10 s" if participants >= 10_000 and months == 12 and not distinct else "-"
    return Row(
        f"preview: {participants} participants x {months} months ({kind}), {os.cpu_count()} cores",
        f"{seconds:.2f} s, {rate:,.0f} participant-months/s, {len(result.emails):,} emails",
        "-",
        "-",
        goal,
    )


def table(rows: list[Row]) -> str:
    lines = ["| figure | measured | baseline | ratio | goal |", "|---|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.measured} | {r.baseline} | {r.ratio} | {r.goal} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="Smallest sizes: a smoke run, not a measurement."
    )
    args = parser.parse_args(argv)
    if args.quick:
        rows = [bench_preview(20, 3, distinct=False), bench_preview(10, 3, distinct=True)]
    else:
        rows = [bench_preview(10_000, 12, distinct=False), bench_preview(1_000, 12, distinct=True)]
    print(table(rows))


if __name__ == "__main__":
    main()
