"""Figure 1: participants launched per second by `mentorflow cohort start` (the real CLI, as a subprocess)
versus bare `client.start_workflow` of a trivial workflow at the launch activity's concurrency."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from activities.launch import START_CONCURRENCY
from benchmarks.raw import RAW_QUEUE, TrivialWorkflow
from benchmarks.report import Row
from benchmarks.roster import synthetic_rows
from benchmarks.stack import REPO, BenchStack, settings_env
from domain.roster import RosterRow

MENTORFLOW = str(Path(sys.executable).parent / "mentorflow")
COLUMNS = "participant_id,name,email,timezone,send_days,send_time,personas,mentor_email,mission,conferences"
GOAL = 0.8


@dataclass
class LaunchRow(Row):
    rate: float = 0.0  # participants/s: sizes the fan-out's lead


def write_roster(path: Path, rows: list[RosterRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS.split(","))
        for r in rows:
            conferences = ";".join(
                f"{c.name}|{c.starts_on}|{c.ends_on}|{c.timezone or ''}|{c.hashtag}" for c in r.conferences
            )
            out.writerow(
                [
                    r.participant_id,
                    r.name,
                    r.email,
                    r.timezone,
                    ",".join(r.send_days),
                    f"{r.send_time:%H:%M}",
                    ",".join(p.value for p in r.personas),
                    r.mentor_email or "",
                    r.mission or "",
                    conferences,
                ]
            )
    return path


async def bare_starts(stack: BenchStack, n: int, concurrency: int) -> float:
    """Seconds to start `n` trivial workflows, `concurrency` calls in flight."""
    gate = asyncio.Semaphore(concurrency)
    prefix = f"raw-start-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        async with gate:
            await stack.client.start_workflow(TrivialWorkflow.run, id=f"{prefix}-{i}", task_queue=RAW_QUEUE)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - began


async def cli_launch(stack: BenchStack, n: int, cohort: str, profile: Path | None = None) -> float:
    """Seconds `mentorflow cohort start` takes, from exec to exit, for a roster of `n` rows."""
    start = date.today() + timedelta(days=7)
    roster = write_roster(stack.root / f"{cohort}.csv", synthetic_rows(n, start))
    argv = [MENTORFLOW, "cohort", "start", str(roster), "--cohort", cohort, "--start-date", str(start)]
    argv += ["--program", str(REPO / "programs" / "medtwitter"), "--json"]
    if profile is not None:
        argv[:0] = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(profile / "cli.txt")]
    began = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run,
        argv,
        cwd=stack.root,
        env=settings_env(stack.settings),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"cohort start exited {done.returncode}: {done.stderr.strip()[-500:]}")
    launched = json.loads(done.stdout)["launch"]
    if launched["processed"] != n:
        raise RuntimeError(f"cohort start launched {launched['processed']} of {n}")
    return seconds


async def bench_launch(stack: BenchStack, n: int, cohort: str, profile: Path | None = None) -> LaunchRow:
    cpu = stack.worker_cpu()
    base = n / await bare_starts(stack, n, START_CONCURRENCY)
    cpu, base_cpu = stack.worker_cpu(), stack.worker_cpu() - cpu
    ours = n / await cli_launch(stack, n, cohort, profile)
    # The worker's CPU while launching (the launch activity and the journeys' first tasks) tells whether
    # our Python or the server is the limit on a 2-core machine.
    ours_cpu = stack.worker_cpu() - cpu
    ratio = ours / base
    return LaunchRow(
        f"cohort launch: {n:,} participants via `mentorflow cohort start` vs bare `start_workflow` "
        f"({START_CONCURRENCY} in flight)",
        f"{ours:,.1f} participants/s (worker CPU {ours_cpu / n * 1000:,.0f} ms each)",
        f"{base:,.1f} starts/s (worker CPU {base_cpu / n * 1000:,.1f} ms each)",
        ratio,
        f">= {GOAL}",
        ratio >= GOAL,
        rate=ours,
    )
