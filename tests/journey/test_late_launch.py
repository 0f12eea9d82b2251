"""A launch that reaches participants after their welcome fell due (a slow launch on a busy machine: the
fan-out benchmark's "997 of 1,000") still sends it at once, through the journey: the launch finds the
welcome due, leaves the enrolment to the journey, whose first task runs later still. Before, each such
welcome moved to the participant's next send day. Real dev server, worker, Postgres and mail sink."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from activities.launch import cohort_inputs, enrolled_input, launch_journeys
from benchmarks.fanout import burst_program
from benchmarks.roster import synthetic_rows
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_roster
from worker.devstack import MailSink
from worker.main import build_worker

# Far more than a welcome sent at once needs; far less than the day it used to slip.
WAIT_SECONDS = 30


async def test_welcomes_the_launch_reaches_after_their_instant_go_at_once(
    temporal_env: WorkflowEnvironment, settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink
) -> None:
    program = burst_program()
    now = datetime.now(UTC)
    due = (now - timedelta(seconds=5)).replace(microsecond=0)
    # Today's send slot passed an hour ago, so no regular slot falls inside the wait either.
    send_time = (now - timedelta(hours=1)).time().replace(minute=0, second=0, microsecond=0)
    cohort = f"late{uuid.uuid4().hex[:6]}"
    every_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    rows = [
        ParticipantRecord.from_roster(
            r.model_copy(
                update={"timezone": "UTC", "send_days": every_day, "send_time": send_time, "conferences": ()}
            )
        )
        for r in synthetic_rows(2, due.date())
    ]
    await save_roster(db_pool, cohort, program, due.date(), rows)
    inputs = await cohort_inputs(db_pool, cohort, program.spec, due.date(), first_send_at=due)
    decided = datetime.now(UTC)
    # The launch sees the welcome due now, so each journey enrols itself in its first task (later still).
    self_enrolled = [enrolled_input(data, decided) is None for data in inputs]
    async with build_worker(temporal_env.client, db_pool, settings):
        await launch_journeys(db_pool, temporal_env.client, settings.task_queue, inputs, decided)
        sent = 0
        for _ in range(WAIT_SECONDS * 4):
            sent = await db_pool.fetchval(
                "select count(*) from send_ledger where cohort_id = $1 and status = 'sent'", cohort
            )
            if sent == len(rows):
                break
            await asyncio.sleep(0.25)
        for data in inputs:
            await temporal_env.client.get_workflow_handle(data.enroll.journey_id).terminate("test done")
    assert sent == len(rows), f"{len(rows) - sent} welcomes not sent within {WAIT_SECONDS} s"
    kinds = await db_pool.fetch("select nudge_key from send_ledger where cohort_id = $1", cohort)
    assert sorted(r["nudge_key"] for r in kinds) == ["welcome", "welcome"]
    assert len(mail_sink.messages()) == len(rows)
    assert all(self_enrolled)
