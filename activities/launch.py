"""Start a cohort's journeys in batches: read ids and schedule preferences from Postgres, start each
journey at most once (USE_EXISTING while it runs, REJECT_DUPLICATE once it closed), add its conferences."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import asyncpg
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.program_store import ProgramCache
from domain import AddConference, Enroll, ProgramSpec
from domain.roster import RosterConference
from domain.timing import start_of_local_day
from workflows import search_attributes as sa
from workflows.journey_models import JourneyInput, journey_id

LAUNCH_BATCH = "launch_journey_batch"
# Journeys started concurrently by one batch: enough to use the server, few enough for a 2-core machine.
START_CONCURRENCY = 16


class LaunchBatchInput(BaseModel):
    cohort_id: str
    task_queue: str
    after: str | None = None  # participant ids are processed in order; resume after this one
    limit: int = 100


class LaunchBatchResult(BaseModel):
    processed: int = 0
    closed: int = 0  # journeys that had already ended (unsubscribed or completed): left alone
    last: str | None = None
    total: int = 0  # participants in the cohort now
    done: bool = False


def conference_id(conf: RosterConference) -> str:
    """Stable across re-runs, so adding the same roster conference twice is one command."""
    digest = hashlib.sha256(f"{conf.name}|{conf.starts_on}".encode()).hexdigest()[:12]
    return f"roster-{conf.starts_on:%Y%m%d}-{digest}"


def roster_conference_command(conf: RosterConference) -> AddConference:
    """The roster's conference as the journey's command; its id is stable, so re-runs add it once."""
    cid = conference_id(conf)
    return AddConference(
        command_id=f"roster-conference:{cid}",
        conference_id=cid,
        name=conf.name,
        hashtag=conf.hashtag,
        starts_on=conf.starts_on,
        ends_on=conf.ends_on,
        timezone=conf.timezone,
    )


def journey_input(
    cohort_id: str, row: Mapping[str, Any] | asyncpg.Record, program: ProgramSpec, start_date: date
) -> JourneyInput:
    """A participants row (from Postgres, or a roster row with the same columns) as the journey's input."""
    wid = journey_id(cohort_id, row["participant_id"])
    enroll = Enroll(
        command_id="enroll",
        journey_id=wid,
        program=program.name,
        timezone=row["timezone"],
        send_days=tuple(row["send_days"]),
        send_time=row["send_time"],
        personas=tuple(row["personas"] or ()),
        start=start_of_local_day(start_date, row["timezone"]),
    )
    return JourneyInput(
        cohort_id=cohort_id, participant_id=row["participant_id"], program=program, enroll=enroll
    )


async def start_journey(client: Client, task_queue: str, data: JourneyInput, conferences: list[Any]) -> bool:
    """Start (or find running) one journey and add its roster conferences; False if it already closed."""
    wid = data.enroll.journey_id
    try:
        handle = await client.start_workflow(
            "JourneyWorkflow",
            data,
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=(
                f"participant {data.participant_id} · cohort {data.cohort_id} · program {data.program.name}"
            ),
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.COHORT, data.cohort_id),
                    SearchAttributePair(sa.PROGRAM, data.program.name),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False  # closed already (completed or unsubscribed): never start it again
    for raw in conferences:
        command = roster_conference_command(RosterConference.model_validate(raw))
        await _add_conference(handle, command, wid)
    return True


async def _add_conference(handle: WorkflowHandle[Any, Any], command: AddConference, wid: str) -> None:
    # The journey enrols in its workflow init, so an update right after the start already finds it enrolled.
    try:
        await handle.execute_update("add_conference", command, id=command.command_id)
    except WorkflowUpdateFailedError as exc:
        # Rejected for good (e.g. the journey already ended): the roster asked, the journey said no.
        reason = str(getattr(exc.cause, "message", None) or exc.cause)
        activity.logger.info("roster conference rejected", extra={"workflow_id": wid, "reason": reason})


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
        rows = await self.pool.fetch(
            """
            select participant_id, timezone, send_days, send_time, personas, conferences::text as conferences
            from participants where cohort_id = $1 and participant_id > $2
            order by participant_id limit $3
            """,
            data.cohort_id,
            data.after or "",
            data.limit,
        )
        total = await self.pool.fetchval(
            "select count(*) from participants where cohort_id = $1", data.cohort_id
        )
        client = activity.client()
        gate = asyncio.Semaphore(START_CONCURRENCY)
        done = 0

        async def one(row: asyncpg.Record) -> bool:
            nonlocal done
            async with gate:
                running = await start_journey(
                    client,
                    data.task_queue,
                    journey_input(data.cohort_id, row, program, start_date),
                    json.loads(row["conferences"]),
                )
                done += 1
                activity.heartbeat(done)
                return running

        results = await asyncio.gather(*(one(r) for r in rows))
        return LaunchBatchResult(
            processed=len(rows),
            closed=results.count(False),
            last=rows[-1]["participant_id"] if rows else data.after,
            total=total,
            done=len(rows) < data.limit,
        )
