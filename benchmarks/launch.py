"""Figure 1: participants launched per second by `mentorflow cohort start` (the real CLI, as a subprocess)
versus bare `client.start_workflow` calls at the launch activity's concurrency: of the same journeys (what
the launch machinery costs: validation, Postgres writes, the durable launch) and of a trivial workflow
(the server's ceiling: what a journey costs beyond an empty workflow).

A participant is launched when their journey is live: started and its first workflow task run (its timer
set). Both sides are timed to that point, from the first call (or the CLI's exec): the bare calls return
while the server still holds most of those first tasks (on 2 cores they run after the calls), whereas a
launch's batches run beside them, so timing only the calls would compare different work. The instants
the calls returned are reported too."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from activities.launch import START_CONCURRENCY, cohort_inputs, enrol_all, start_journey
from benchmarks.raw import RAW_QUEUE, TrivialWorkflow
from benchmarks.report import Row
from benchmarks.roster import synthetic_rows
from benchmarks.stack import REPO, BenchStack, settings_env
from domain.roster import RosterRow
from infra.program_files import load_program
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from workflows.contract import JourneyInput

MENTORFLOW = str(Path(sys.executable).parent / "mentorflow")
COLUMNS = "participant_id,name,email,timezone,send_days,send_time,personas,mentor_email,mission,conferences"
GOAL = 0.8
JOURNEY = "JourneyWorkflow"


@dataclass
class LaunchRow(Row):
    rate: float = 0.0  # participants/s: sizes the fan-out's lead


@dataclass(frozen=True)
class Timing:
    """Seconds from the first call until the calls returned, and until every workflow had run its first
    task."""

    calls: float
    live: float

    def cell(self, n: int, what: str, cpu: float) -> str:
        return (
            f"{n / self.live:,.1f} {what}/s live ({n / self.calls:,.1f}/s until the calls returned; "
            f"worker CPU {cpu / n * 1000:,.1f} ms each)"
        )


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


async def bare_starts(stack: BenchStack, n: int, concurrency: int) -> Timing:
    """Start `n` trivial workflows, `concurrency` calls in flight."""
    gate = asyncio.Semaphore(concurrency)
    prefix = f"raw-start-{uuid.uuid4().hex[:6]}"

    async def one(i: int) -> None:
        async with gate:
            await stack.client.start_workflow(TrivialWorkflow.run, id=f"{prefix}-{i}", task_queue=RAW_QUEUE)

    before = await stack.workflow_tasks(TrivialWorkflow.__name__)
    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    calls = time.perf_counter() - began
    return Timing(calls, await stack.first_tasks_done(TrivialWorkflow.__name__, before, n) - began)


async def bare_journey_starts(stack: BenchStack, n: int, cohort: str) -> Timing:
    """Start `n` journeys with the very inputs a launch starts them with (enrolled, search attributes
    set), `START_CONCURRENCY` calls in flight; the participants are saved beforehand, untimed."""
    start = date.today() + timedelta(days=7)
    program = load_program(REPO / "programs" / "medtwitter")
    await save_cohort(stack.pool, cohort, program, start)
    await save_participants(
        stack.pool, cohort, [ParticipantRecord.from_roster(r) for r in synthetic_rows(n, start)]
    )
    inputs, _ = enrol_all(await cohort_inputs(stack.pool, cohort, program.spec, start), datetime.now(UTC))
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(data: JourneyInput) -> None:
        async with gate:
            await start_journey(stack.client, stack.settings.task_queue, data)

    before = await stack.workflow_tasks(JOURNEY)
    began = time.perf_counter()
    await asyncio.gather(*(one(d) for d in inputs))
    calls = time.perf_counter() - began
    return Timing(calls, await stack.first_tasks_done(JOURNEY, before, n) - began)


async def cli_launch(stack: BenchStack, n: int, cohort: str, profile: Path | None = None) -> Timing:
    """`mentorflow cohort start` for a roster of `n` rows, from exec: until it exits (`calls`) and until
    every journey is live."""
    start = date.today() + timedelta(days=7)
    roster = write_roster(stack.root / f"{cohort}.csv", synthetic_rows(n, start))
    argv = [MENTORFLOW, "cohort", "start", str(roster), "--cohort", cohort, "--start-date", str(start)]
    argv += ["--program", str(REPO / "programs" / "medtwitter"), "--json"]
    if profile is not None:
        argv[:0] = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(profile / "cli.txt")]
    before = await stack.workflow_tasks(JOURNEY)
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
    return Timing(seconds, await stack.first_tasks_done(JOURNEY, before, n) - began)


async def bench_launch(
    stack: BenchStack, n: int, cohort: str, profile: Path | None = None
) -> tuple[LaunchRow, Row]:
    """The launch against bare starts of the same journeys (the goal), and against a trivial workflow."""
    cpu = stack.worker_cpu()
    trivial = await bare_starts(stack, n, START_CONCURRENCY)
    await stack.worker_quiet()
    cpu, trivial_cpu = stack.worker_cpu(), stack.worker_cpu() - cpu
    bare = await bare_journey_starts(stack, n, f"{cohort}-bare")
    await stack.worker_quiet()
    cpu, bare_cpu = stack.worker_cpu(), stack.worker_cpu() - cpu
    ours = await cli_launch(stack, n, cohort, profile)
    await stack.worker_quiet()
    # The worker's CPU for the launch (the launch activity and the journeys' first tasks) tells whether
    # our Python or the server is the limit on a 2-core machine.
    ours_cpu = stack.worker_cpu() - cpu
    ours_cell = ours.cell(n, "participants", ours_cpu)
    ratio = bare.live / ours.live
    goal = LaunchRow(
        f"cohort launch: {n:,} participants via `mentorflow cohort start` vs bare `start_workflow` of the "
        f"same journeys ({START_CONCURRENCY} in flight), until every journey is live",
        ours_cell,
        bare.cell(n, "journeys", bare_cpu),
        ratio,
        f">= {GOAL}",
        ratio >= GOAL,
        rate=n / ours.live,
    )
    ceiling = Row(
        f"cohort launch: the same {n:,} vs bare `start_workflow` of a trivial workflow (server ceiling)",
        ours_cell,
        trivial.cell(n, "workflows", trivial_cpu),
        trivial.live / ours.live,
    )
    return goal, ceiling
