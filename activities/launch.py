"""Start a cohort's journeys in batches: read ids and schedule preferences from Postgres, decide each
enrolment (with its roster conferences) with the domain decider, record the batch's events in one
transaction, then start each journey, already enrolled, at most once (USE_EXISTING while it runs,
REJECT_DUPLICATE once it closed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import NudgeDue, ProgramSpec, enrol, journey_view
from domain.enrolment import enrolment
from domain.roster import Enrolee
from store.cohorts import read_enrolees
from store.events import append_many
from store.programs import ProgramCache
from workflows import search_attributes as sa
from workflows.contract import (
    LAUNCH_BATCH,
    AppendEventsInput,
    JourneyInput,
    LaunchBatchInput,
    LaunchBatchResult,
    LaunchFailure,
    append_input,
    journey_id,
)

# Journeys started concurrently by one batch: enough to use the server, few enough for a 2-core machine.
START_CONCURRENCY = 16


def journey_input(
    cohort_id: str,
    row: Enrolee,
    program: ProgramSpec,
    start_date: date,
    first_send_at: datetime | None = None,
) -> JourneyInput:
    """The participant's journey input: their enrolment (and roster conferences), ids only."""
    enrolled = enrolment(
        row,
        journey_id=journey_id(cohort_id, row.participant_id),
        program=program,
        start_date=start_date,
        first_send_at=first_send_at,
    )
    return JourneyInput(
        cohort_id=cohort_id,
        participant_id=row.participant_id,
        program=program,
        enroll=enrolled.enroll,
        conferences=list(enrolled.conferences),
    )


async def cohort_inputs(
    pool: asyncpg.Pool,
    cohort_id: str,
    program: ProgramSpec,
    start_date: date,
    *,
    after: str = "",
    limit: int | None = None,
    first_send_at: datetime | None = None,
) -> list[JourneyInput]:
    """The cohort's journeys, in participant id order, after `after`: what a launch batch starts."""
    rows = await read_enrolees(pool, cohort_id, after=after, limit=limit)
    return _inputs(cohort_id, rows, program, start_date, None, first_send_at)


def _inputs(
    cohort_id: str,
    rows: Sequence[Enrolee],
    program: ProgramSpec,
    start_date: date,
    failed: list[LaunchFailure] | None,
    first_send_at: datetime | None = None,
) -> list[JourneyInput]:
    """With `failed`, a row that cannot be a journey (an id no workflow id can carry) is listed there
    instead of failing the whole batch."""
    inputs: list[JourneyInput] = []
    for row in rows:
        try:
            inputs.append(journey_input(cohort_id, row, program, start_date, first_send_at))
        except ValueError as exc:
            if failed is None:
                raise
            failed.append(LaunchFailure(participant_id=row.participant_id, reason=str(exc)))
    return inputs


def enrolled_input(data: JourneyInput, now: datetime) -> tuple[JourneyInput, AppendEventsInput] | None:
    """The journey's input already enrolled at `now` (with its conferences), and the events to record.

    Deciding here, in bulk, spares each journey its first event-store activity and a workflow task. None
    when the enrolment sends an email at once (a late launch): the journey then enrols itself, so that
    send goes through its workflow like every other.
    """
    decision, state = enrol(data.enroll, data.conferences, now, data.program)
    if any(isinstance(e, NudgeDue) for e in decision.events):
        return None
    folded = len(decision.events)
    ids = (data.enroll.journey_id, data.cohort_id, data.participant_id)
    record = append_input(ids, decision.events, state, data.program, folded)
    return data.model_copy(update={"state": state, "events_folded": folded, "conferences": []}), record


async def start_journey(client: Client, task_queue: str, data: JourneyInput) -> bool:
    """Start (or find running) one journey; False if it already closed."""
    wid = data.enroll.journey_id
    view = journey_view(data.state, data.program) if data.state is not None else None
    try:
        await client.start_workflow(
            "JourneyWorkflow",
            data,
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=(
                f"participant {data.participant_id} · cohort {data.cohort_id} · program {data.program.name}"
            ),
            # All of them when the launch enrolled it: operators filter by mode and next email at once.
            search_attributes=TypedSearchAttributes(
                sa.pairs(sa.journey_values(data.cohort_id, data.program.name, view))
            ),
        )
    except WorkflowAlreadyStartedError:
        return False  # closed already (completed or unsubscribed): never start it again
    return True


def enrol_all(
    inputs: Sequence[JourneyInput], now: datetime
) -> tuple[list[JourneyInput], list[AppendEventsInput]]:
    """What to start for each journey (enrolled where `enrolled_input` can), and the events to record."""
    starts: list[JourneyInput] = []
    records: list[AppendEventsInput] = []
    for data in inputs:
        enrolled = enrolled_input(data, now)
        starts.append(data if enrolled is None else enrolled[0])
        if enrolled is not None:
            records.append(enrolled[1])
    return starts, records


async def launch_journeys(
    pool: asyncpg.Pool,
    client: Client,
    task_queue: str,
    inputs: Sequence[JourneyInput],
    now: datetime,
    on_started: Callable[[int], None] = lambda _: None,
    failed: list[LaunchFailure] | None = None,
) -> list[bool]:
    """Enrol the journeys at `now`, record those enrolments in one transaction, then start them
    (START_CONCURRENCY at a time); for each, False if it had already closed (or, listed in `failed`,
    could not start for a reason retrying cannot fix; without `failed` that raises)."""
    starts, records = enrol_all(inputs, now)
    # Recorded before the starts: events are idempotent on their ids and the projection on its version, so
    # a journey already running (a re-run) or already closed keeps what it has.
    refused = await _append_isolating(pool, records) if failed is not None else {}
    if failed is None:
        await append_many(pool, records)
    gate = asyncio.Semaphore(START_CONCURRENCY)
    done = 0

    async def one(data: JourneyInput) -> bool:
        nonlocal done
        async with gate:
            try:
                if data.participant_id in refused:
                    return False
                try:
                    return await start_journey(client, task_queue, data)
                except RPCError as err:
                    # The server refuses the start itself (e.g. an id or attribute it cannot take).
                    if failed is None or err.status != RPCStatusCode.INVALID_ARGUMENT:
                        raise
                    refused[data.participant_id] = f"Temporal refused the journey: {err.message}"
                    return False
            finally:
                done += 1
                on_started(done)

    results = list(await asyncio.gather(*(one(d) for d in starts)))
    if failed is not None:
        failed.extend(LaunchFailure(participant_id=p, reason=r) for p, r in sorted(refused.items()))
    return results


async def _append_isolating(pool: asyncpg.Pool, records: list[AppendEventsInput]) -> dict[str, str]:
    """`append_many`; if the batch breaks a constraint, each record alone, so one bad row fails alone.
    Participant id -> reason for the records Postgres refused."""
    try:
        await append_many(pool, records)
        return {}
    except asyncpg.IntegrityConstraintViolationError:
        pass
    refused: dict[str, str] = {}
    for record in records:
        try:
            await append_many(pool, [record])
        except asyncpg.IntegrityConstraintViolationError as err:
            what = f"{type(err).__name__}: {err.constraint_name or ''}"
            refused[record.participant_id] = f"Postgres refused the journey's enrolment ({what})"
    return refused


class LaunchActivities:
    def __init__(self, pool: asyncpg.Pool, programs: ProgramCache | None = None) -> None:
        self.pool = pool
        self.programs = programs or ProgramCache()

    @activity.defn(name=LAUNCH_BATCH)
    async def launch_batch(self, data: LaunchBatchInput) -> LaunchBatchResult:
        program = (await self.programs.get(self.pool, data.cohort_id)).spec
        start_date = await self.pool.fetchval(
            "select start_date from cohorts where cohort_id = $1", data.cohort_id
        )
        rows = await read_enrolees(self.pool, data.cohort_id, after=data.after or "", limit=data.limit)
        # A row that retrying cannot start (a bad id, a refused enrolment) is listed, not retried forever.
        failed: list[LaunchFailure] = []
        inputs = _inputs(data.cohort_id, rows, program, start_date, failed, data.first_send_at)
        total = await self.pool.fetchval(
            "select count(*) from participants where cohort_id = $1", data.cohort_id
        )
        results = await launch_journeys(
            self.pool,
            activity.client(),
            data.task_queue,
            inputs,
            data.decided_at or datetime.now(UTC),
            on_started=activity.heartbeat,
            failed=failed,
        )
        refused = {f.participant_id for f in failed}
        closed = sum(
            1 for d, r in zip(inputs, results, strict=True) if not r and d.participant_id not in refused
        )
        if failed:
            activity.logger.warning("launch rows refused", extra={"participants": sorted(refused)})
        return LaunchBatchResult(
            processed=len(rows),
            closed=closed,
            failed=failed,
            last=rows[-1].participant_id if rows else data.after,
            total=total,
            done=len(rows) < data.limit,
        )
