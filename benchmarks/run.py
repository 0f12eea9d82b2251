"""`python -m benchmarks.run [--quick|--smoke]`: measure, then print one Markdown table. Not a test.

Every Temporal figure runs beside its raw-Temporal baseline in the same run, on a stack of its own (dev
server with SQLite in WAL mode, Postgres, mail sink; free ports, temporary state directory), with the
worker as a separate process: 1. cohort launch, 2. due-time fan-out (each run, then the median of the
runs: `benchmarks.fanout`), 5. worker memory; then on the
time-skipping server 3. preview vs workflow speed and 4. history size. Preview speed on large synthetic
rosters needs no server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.fanout import bench_fanout
from benchmarks.launch import bench_launch
from benchmarks.memory import bench_memory
from benchmarks.report import Row, table
from benchmarks.roster import synthetic_rows
from benchmarks.stack import bench_stack
from benchmarks.timeskip import bench_time_skipping
from cli.preview import plans_from_roster, run_preview
from infra.program_files import load_program

REPO = Path(__file__).resolve().parents[1]
START = date(2027, 1, 4)
LAUNCHED = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sizes:
    preview: tuple[tuple[int, int, bool], ...]  # (participants, months, distinct)
    launch: int  # also the journeys cached for the memory figure
    fanout: int
    fanout_repeat: int  # fan-out runs, each the baseline's burst then ours: the figure is their median
    time_skipping: int


FULL = Sizes(
    ((10_000, 12, False), (1_000, 12, True)), launch=5_000, fanout=2_000, fanout_repeat=3, time_skipping=50
)
QUICK = Sizes(((20, 3, False),), launch=200, fanout=100, fanout_repeat=2, time_skipping=3)
SMOKE = Sizes(((20, 3, False),), launch=30, fanout=20, fanout_repeat=1, time_skipping=1)


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
    goal = participants >= 10_000 and months == 12 and not distinct
    return Row(
        f"preview: {participants:,} participants x {months} months ({kind}), {os.cpu_count()} cores",
        f"{seconds:.2f} s, {rate:,.0f} participant-months/s, {len(result.emails):,} emails",
        goal="10,000 x 12 months < 10 s" if goal else "-",
        met=seconds < 10 if goal else None,
    )


async def bench_servers(sizes: Sizes, profile: Path | None = None) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix="mentorflow-bench-"))
    try:
        async with bench_stack(root, profile=profile) as stack:
            await asyncio.sleep(3.0)
            idle = stack.worker_rss()
            launch, ceiling = await bench_launch(stack, sizes.launch, "bench-launch", profile)
            # Both launch figures' journeys (the bare starts' and the CLI's) sit in the worker's cache.
            memory = await bench_memory(stack, idle, 2 * sizes.launch)
            fanout = await bench_fanout(
                stack, sizes.fanout, "bench-fanout", launch.rate, repeat=sizes.fanout_repeat
            )
            rows = [launch, ceiling, *fanout]
            # Same Postgres (other cohorts), its own mail sink; the dev server sits idle meanwhile.
            rows += await bench_time_skipping(stack.settings.postgres_dsn, root, sizes.time_skipping)
            rows.append(memory)
            return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="Small sizes (about 2 minutes): a smoke run.")
    size.add_argument("--smoke", action="store_true", help="Smallest sizes, for the test suite.")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="Run the worker and the `cohort start` CLI under pyinstrument; text reports in DIR.",
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    rows = [bench_preview(p, m, distinct=d) for p, m, d in sizes.preview]
    rows += asyncio.run(bench_servers(sizes, args.profile.resolve() if args.profile else None))
    print(table(rows))


if __name__ == "__main__":
    main()
