"""Figures 3 and 4 on the time-skipping server: the same participants' year through `cohort preview`'s
code and through JourneyWorkflow (launched as `cohort start` launches them, real worker, Postgres, mail
sink), and the history those journeys leave: events per participant-year and per run."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.launch import cohort_inputs, launch_journeys
from benchmarks.report import Row
from benchmarks.roster import synthetic_rows
from benchmarks.stack import REPO
from cli.preview import plans_from_roster, run_preview, weeks_for
from domain import AddConference, AdoptPersona, Pause, Persona, RecordMilestone, SteerCommand
from domain.roster import RosterRow
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from worker.devstack import MailSink, free_port, temporal_test_server
from worker.main import build_worker
from workflows.contract import journey_id
from workflows.journey import JOURNEY_UPDATES, JourneyWorkflow
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

PROGRAM = load_program(REPO / "programs" / "medtwitter")
# Temporal suggests continue-as-new at this many events per run (hard limit 51,200).
CAN_SUGGESTED = 4_096


@dataclass
class History:
    runs: list[int]  # events per run along the continue-as-new chain

    @property
    def events(self) -> int:
        return sum(self.runs)


async def history_of(client: Client, workflow_id: str) -> History:
    """Events per run, walking the continue-as-new chain back from the latest run."""
    runs: list[int] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
        if run_id is None:
            return History(list(reversed(runs)))


async def _status(client: Client, wid: str) -> WorkflowExecutionStatus:
    # The raw call: the SDK's describe() cannot decode the test server's datetime search attributes.
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=wid)
        )
    )
    return WorkflowExecutionStatus(raw.workflow_execution_info.status)


async def _time_skipping_env() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=pydantic_data_converter
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in SEARCH_ATTRIBUTES
            },
        )
    )
    return env


def _records(rows: list[RosterRow]) -> list[ParticipantRecord]:
    return [
        ParticipantRecord(
            participant_id=r.participant_id,
            name=r.name,
            email=r.email,
            timezone=r.timezone,
            send_days=list(r.send_days),
            send_time=r.send_time,
            personas=[p.value for p in r.personas],
            conferences=list(r.conferences),
        )
        for r in rows
    ]


async def _journeys_year(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    task_queue: str,
    cohort: str,
    start: date,
    rows: list[RosterRow],
) -> float:
    """Seconds for every participant's journey to run to completion on the time-skipping server."""
    client = env.client
    began = time.perf_counter()
    await save_cohort(pool, cohort, PROGRAM, start)
    await save_participants(pool, cohort, _records(rows))
    inputs = await cohort_inputs(pool, cohort, PROGRAM.spec, start)
    await launch_journeys(pool, client, task_queue, inputs, await env.get_current_time())
    # One journey at a time (concurrent result() waits break the server's time lock, DESIGN.md); the clock
    # runs for all of them meanwhile.
    for data in inputs:
        wid = journey_id(cohort, data.participant_id)
        while (status := await _status(client, wid)) == WorkflowExecutionStatus.RUNNING:
            await env.sleep(timedelta(days=7))
        if status != WorkflowExecutionStatus.COMPLETED:
            raise RuntimeError(f"{wid} ended {status.name}")
    return time.perf_counter() - began


def _script(start: datetime) -> list[tuple[timedelta, SteerCommand]]:
    """tests/journey/test_journey_year.py's year: milestones, a persona, a conference burst, a pause."""
    conf_start = start.date() + timedelta(weeks=11, days=2)
    return [
        (timedelta(weeks=3), RecordMilestone(command_id="m1", milestone_id="followed_ten")),
        (timedelta(weeks=3, days=1), RecordMilestone(command_id="m2", milestone_id="followed_institution")),
        (timedelta(weeks=5), AdoptPersona(command_id="a1", persona=Persona.CREATOR)),
        (
            timedelta(weeks=8),
            AddConference(
                command_id="c1",
                conference_id="nkf",
                name="Spring Clinical Meetings",
                hashtag="#NKFClinicals",
                starts_on=conf_start,
                ends_on=conf_start + timedelta(days=3),
                timezone="America/Chicago",
            ),
        ),
        (timedelta(weeks=16), Pause(command_id="p1", until=start + timedelta(weeks=19))),
        (timedelta(weeks=36), RecordMilestone(command_id="m3", milestone_id="first_original_post")),
    ]


def _next_monday(env_now: datetime) -> date:
    today = env_now.astimezone(ZoneInfo("America/New_York")).date()
    return today + timedelta(days=7 - today.weekday())


async def _scripted_year(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, cohort: str
) -> History:
    # The other journeys' year has moved the server's clock on: start from its now.
    start = _next_monday(await env.get_current_time())
    row = synthetic_rows(1, start)[0].model_copy(
        update={"timezone": "America/New_York", "send_days": ("tue", "thu"), "conferences": ()}
    )
    await save_cohort(pool, cohort, PROGRAM, start)
    await save_participants(pool, cohort, _records([row]))
    (data,) = await cohort_inputs(pool, cohort, PROGRAM.spec, start)
    handle = await env.client.start_workflow(
        JourneyWorkflow.run, data, id=data.enroll.journey_id, task_queue=task_queue
    )
    for offset, command in _script(data.enroll.start):
        target = data.enroll.start + offset + timedelta(hours=15)  # never at a send instant
        await env.sleep(target - await env.get_current_time())
        await handle.execute_update(JOURNEY_UPDATES[type(command)], command, id=command.command_id)
    await handle.result()
    return await history_of(env.client, handle.id)


async def bench_time_skipping(dsn: str, root: Path, participants: int) -> list[Row]:
    env = await _time_skipping_env()
    sink = MailSink(root / "ts-mail", port=free_port())
    await sink.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
    settings = load_settings(
        state_dir=root / "ts-state",
        database_url=dsn,
        smtp_port=sink.port,
        metrics_port=0,
        task_queue=f"ts-{uuid.uuid4().hex[:6]}",
    )
    try:
        now = await env.get_current_time()
        start = _next_monday(now)
        rows = synthetic_rows(participants, start)
        weeks = weeks_for(None, PROGRAM.spec)
        months = weeks * 12 / 52
        began = time.perf_counter()
        plans = plans_from_roster("bench-ts", rows, PROGRAM.spec, start, launched_at=now)
        preview = run_preview(PROGRAM.spec, plans, start_date=start, weeks=weeks)
        preview_rate = participants * months / (time.perf_counter() - began)
        cohort = f"ts-{uuid.uuid4().hex[:6]}"
        async with build_worker(env.client, pool, settings):
            seconds = await _journeys_year(env, pool, settings.task_queue, cohort, start, rows)
            histories = [await history_of(env.client, journey_id(cohort, r.participant_id)) for r in rows]
            scripted = await _scripted_year(env, pool, settings.task_queue, f"{cohort}-s")
        sent = await pool.fetchval("select count(*) from send_ledger where cohort_id = $1", cohort)
    finally:
        await pool.close()
        await sink.stop()
        await env.shutdown()
    server_rate = participants * months / seconds
    per_year = 52 / weeks  # the program runs `weeks`; scale events to a year
    cohort_events = sum(h.events for h in histories) / participants * per_year
    runs = [n for h in histories for n in h.runs]
    preview_ratio = preview_rate / server_rate
    return [
        Row(
            f"preview vs time-skipping server: the same {participants} participants, "
            f"{weeks} weeks each ({len(preview.emails):,} emails previewed, {sent:,} sent by the journeys)",
            f"{preview_rate:,.0f} participant-months/s",
            f"{server_rate:,.2f} participant-months/s ({seconds:.1f} s)",
            preview_ratio,
        ),
        Row(
            "history, scripted year (milestones, persona, conference burst, pause; default program)",
            f"{scripted.events * per_year:,.0f} events/participant-year; "
            f"{len(scripted.runs)} runs, max {max(scripted.runs)}, "
            f"mean {scripted.events / len(scripted.runs):,.0f} events/run",
            f"continue-as-new suggested at {CAN_SUGGESTED:,} events/run",
            max(scripted.runs) / CAN_SUGGESTED,
            f"max run <= {CAN_SUGGESTED:,}",
            max(scripted.runs) <= CAN_SUGGESTED,
        ),
        Row(
            f"history, the {participants} synthetic participants (15% with a conference burst)",
            f"{cohort_events:,.0f} events/participant-year; max {max(runs)}, "
            f"mean {sum(runs) / len(runs):,.0f} events/run",
            f"continue-as-new suggested at {CAN_SUGGESTED:,} events/run",
            max(runs) / CAN_SUGGESTED,
            f"max run <= {CAN_SUGGESTED:,}",
            max(runs) <= CAN_SUGGESTED,
        ),
    ]
