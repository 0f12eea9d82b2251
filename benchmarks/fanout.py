"""Figure 2: due-time fan-out. `n` journeys whose first email falls due in the same minute: emails accepted
by the sink per second (first to last), and each exactly once; versus `n` bare workflows that sleep until
one shared instant and then run one no-op activity, on the same worker process with the same tuning."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.launch import cohort_inputs, launch_journeys
from benchmarks.raw import RAW_QUEUE, TimerActivityWorkflow
from benchmarks.report import Row
from benchmarks.roster import ZONES, synthetic_rows
from benchmarks.stack import REPO, BenchStack, CpuSampler
from domain.program import Program
from domain.timing import local_datetime
from infra.program_files import load_program
from store.cohorts import ParticipantRecord, save_cohort, save_participants

GOAL = 0.7
# Starts in flight while setting the baseline's burst up (not measured).
SETUP_CONCURRENCY = 64
# Bounded result() long-polls: thousands at once hit the namespace's poller limit (DESIGN.md).
RESULT_CONCURRENCY = 32


def burst_program() -> Program:
    """The default program without quiet hours or days, so the burst's minute need not avoid them."""
    program = load_program(REPO / "programs" / "medtwitter")
    schedule = program.spec.schedule.model_copy(update={"quiet_hours": None, "quiet_days": ()})
    return program.model_copy(update={"spec": program.spec.model_copy(update={"schedule": schedule})})


def _accepted_at(path: Path) -> datetime:
    # The sink names each file after the instant it accepted the message (worker/devstack/mailsink.py).
    return datetime.strptime(path.name[:23], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def _rate(instants: list[float]) -> float:
    span = max(instants) - min(instants)
    return (len(instants) - 1) / span if span > 0 else float("inf")


async def journeys_burst(
    stack: BenchStack, n: int, cohort: str, start_rate: float
) -> tuple[list[float], str]:
    """When the sink accepted each email (epoch seconds) and the exactly-once verdict. `start_rate`
    (journeys/s, from the launch figure) sizes the lead: every journey must be started before the minute,
    or its first slot moves to the next send day and it drops out of the burst."""
    program = burst_program()
    lead = timedelta(seconds=20 + 1.3 * n / start_rate)
    due = (datetime.now(UTC) + lead).replace(microsecond=0)
    start = due.date()
    # Zones whose local date at `due` is the cohort's start date, so `due` is their first send slot.
    zones = [z for z in (*ZONES, "UTC") if local_datetime(due, z).date() == start]
    rows = [
        r.model_copy(update={"timezone": zones[i % len(zones)], "conferences": ()})
        for i, r in enumerate(synthetic_rows(n, start))
    ]
    await save_cohort(stack.pool, cohort, program, start)
    await save_participants(stack.pool, cohort, [ParticipantRecord.from_roster(r) for r in rows])
    inputs = await cohort_inputs(stack.pool, cohort, program.spec, start, first_send_at=due)
    await launch_journeys(stack.pool, stack.client, stack.settings.task_queue, inputs, datetime.now(UTC))
    late = datetime.now(UTC) > due
    deadline = time.monotonic() + lead.total_seconds() + 120 + n / 2
    last, stalled = -1, time.monotonic()
    while time.monotonic() < deadline:
        sent = await stack.pool.fetchval(
            "select count(*) from send_ledger where cohort_id = $1 and status = 'sent'", cohort
        )
        if sent >= n and len(stack.mail.messages()) >= n:
            break
        if sent != last:
            last, stalled = sent, time.monotonic()
        elif datetime.now(UTC) > due + timedelta(seconds=60) and time.monotonic() - stalled > 60:
            break  # nothing new for a minute after the burst: report what arrived
        await asyncio.sleep(1.0)
    files = stack.mail.messages()
    verdict = await _exactly_once(stack, cohort, n, files)
    late_note = " (launch ran past the minute)" if late else ""
    return [_accepted_at(p).timestamp() for p in files], verdict + late_note


async def _exactly_once(stack: BenchStack, cohort: str, n: int, files: list[Path]) -> str:
    ledger = await stack.pool.fetch("select message_id, status from send_ledger where cohort_id = $1", cohort)
    ids = [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"])
        for p in files
    ]
    sent = {r["message_id"] for r in ledger if r["status"] == "sent"}
    ok = len(ledger) == len(files) == n and len(set(ids)) == n and set(ids) == sent
    verdict = "exactly once" if ok else "**NOT exactly once**"
    counts = f"{len(ledger)} ledger rows, {len(files)} .eml, {len(set(ids))} Message-IDs, {n} journeys"
    return f"{verdict}: {counts}"


async def raw_burst(stack: BenchStack, n: int) -> list[float]:
    """When each no-op activity ran (epoch seconds), after `n` timers fire at one instant."""
    due = datetime.now(UTC) + timedelta(seconds=10 + n / 60)
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    prefix = f"raw-fanout-{uuid.uuid4().hex[:6]}"

    async def start(i: int) -> Any:
        async with gate:
            return await stack.client.start_workflow(
                TimerActivityWorkflow.run, due, id=f"{prefix}-{i}", task_queue=RAW_QUEUE
            )

    handles = await asyncio.gather(*(start(i) for i in range(n)))
    results = asyncio.Semaphore(RESULT_CONCURRENCY)

    async def result(handle: Any) -> float:
        async with results:
            ran_at: float = await handle.result()
            return ran_at

    return list(await asyncio.gather(*(result(h) for h in handles)))


def _per_op(cpu: dict[str, float], n: int) -> str:
    """CPU per operation by part, largest first."""
    largest = sorted(cpu.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {seconds / n * 1000:,.1f}" for name, seconds in largest)


async def bench_fanout(stack: BenchStack, n: int, cohort: str, start_rate: float) -> Row:
    # What each part of the stack spends inside each burst (first to last email or activity) shows who
    # limits it: on 2 cores the server, the worker, Postgres and the sink share the same CPU.
    async with CpuSampler(stack) as cpu:
        base_at = await raw_burst(stack, n)
        await stack.worker_quiet()
        ours_at, verdict = await journeys_burst(stack, n, cohort, start_rate)
    base, ours = _rate(base_at), _rate(ours_at)
    base_cpu = cpu.between(min(base_at), max(base_at))
    ours_cpu = cpu.between(min(ours_at), max(ours_at))
    ratio = ours / base
    return Row(
        f"due-time fan-out: {n:,} journeys' first email due in one minute, emails accepted by the sink/s "
        f"vs bare timer + no-op activity ({verdict})",
        f"{ours:,.1f} emails/s (CPU ms per email in the burst: {_per_op(ours_cpu, n)})",
        f"{base:,.1f} activities/s (CPU ms per workflow in the burst: {_per_op(base_cpu, n)})",
        ratio,
        f">= {GOAL}, exactly once",
        ratio >= GOAL and verdict.startswith("exactly once"),
    )
