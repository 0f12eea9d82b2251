"""ChangeSchedule then EndProgram on the time-skipping server: the workflow agrees with the simulator, the
emails follow the new zone and time, and the early end sends the recap then completes (no unsubscribe).
The journey spans several runs (continued as new every 30 days), with nothing lost or repeated across them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain import ChangeSchedule, EndProgram, Enroll, JourneyView, Mode, Persona, SteerCommand, simulate
from domain.timing import start_of_local_day
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from tests.journey.test_journey_year import PROGRAM, TZ, _next_monday
from worker.devstack import MailSink
from worker.main import build_worker
from workflows.contract import JourneyInput, journey_id
from workflows.journey import JOURNEY_UPDATES, JourneyWorkflow

KOLKATA = "Asia/Kolkata"


async def _activities_by_run(client: Client, workflow_id: str, run_id: str | None) -> list[set[str]]:
    """The activity types each run scheduled, following the continue-as-new chain from `run_id`."""
    runs: list[set[str]] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(
            {
                e.activity_task_scheduled_event_attributes.activity_type.name
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            }
        )
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        is_cut = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = attrs.new_execution_run_id if is_cut else None
    return runs


async def test_schedule_change_then_early_end_agree_with_the_simulator(
    time_skipping_env: WorkflowEnvironment, database: str, mail_sink: MailSink, tmp_path: Path
) -> None:
    env, client = time_skipping_env, time_skipping_env.client
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=mail_sink.port,
        metrics_port=0,
        task_queue=f"sched-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    start_date = _next_monday((await env.get_current_time()).astimezone(ZoneInfo(TZ)).date())
    cohort, pid = "early", "p-0002"
    wid = journey_id(cohort, pid)
    await save_cohort(pool, cohort, PROGRAM, start_date)
    record = ParticipantRecord(
        participant_id=pid,
        name="Ada Okafor",
        email="ada@example.org",
        timezone=TZ,
        send_days=["tue", "thu"],
        send_time=time(8, 30),
        personas=["consumer"],
    )
    await save_participants(pool, cohort, [record])
    start = start_of_local_day(start_date, TZ)
    enroll = Enroll(
        command_id="enroll",
        journey_id=wid,
        program=PROGRAM.spec.name,
        timezone=TZ,
        send_days=("tue", "thu"),
        send_time=time(8, 30),
        personas=(Persona.CONSUMER,),
        start=start,
    )
    script: list[tuple[timedelta, SteerCommand]] = [
        (timedelta(weeks=2), ChangeSchedule(command_id="s1", timezone=KOLKATA, send_time=time(7, 0))),
        (timedelta(weeks=4, days=2), EndProgram(command_id="e1")),  # a Wednesday
    ]
    try:
        async with build_worker(client, pool, settings):
            handle: WorkflowHandle[JourneyWorkflow, JourneyView] = await client.start_workflow(
                JourneyWorkflow.run,
                JourneyInput(
                    cohort_id=cohort,
                    participant_id=pid,
                    program=PROGRAM.spec,
                    enroll=enroll,
                ),
                id=wid,
                task_queue=settings.task_queue,
            )
            first_run = handle.result_run_id
            for offset, command in script:
                await env.sleep(start + offset + timedelta(hours=15) - await env.get_current_time())
                await handle.execute_update(JOURNEY_UPDATES[type(command)], command, id=command.command_id)
            final = await handle.result()
            runs = await _activities_by_run(client, wid, first_run)
    finally:
        ledger = await pool.fetch(
            "select * from send_ledger where workflow_id = $1 order by scheduled_at", wid
        )
        events = await pool.fetch(
            "select type, at, payload from journey_events where workflow_id = $1 order by seq", wid
        )
        unsubscribed = await pool.fetchval(
            "select unsubscribed_at from participants where participant_id = $1", pid
        )
        await pool.close()

    assert final.mode is Mode.COMPLETED and unsubscribed is None
    # Every run performs each decision in one activity.
    assert len(runs) >= 2
    assert all(r == {"perform_journey_decision"} for r in runs)
    types = [row["type"] for row in events]
    assert "unsubscribed" not in types and types[-1] == "completed"
    changed_at = start + timedelta(weeks=2, hours=15)
    ended_at = start + timedelta(weeks=4, days=2, hours=15)
    kinds = [row["kind"] for row in ledger]
    assert kinds[0] == "welcome" and kinds[-1] == "recap" and kinds.count("recap") == 1
    for row in ledger:
        zone = ZoneInfo(TZ if row["scheduled_at"] < changed_at else KOLKATA)
        local = row["scheduled_at"].astimezone(zone)
        assert (local.strftime("%a"), local.time()) in (
            [("Tue", time(8, 30)), ("Thu", time(8, 30))]
            if zone.key == TZ
            else [("Tue", time(7)), ("Thu", time(7))]
        ), (row["nudge_key"], local)
    # The recap at the first slot after the end (Thursday 07:00 in Kolkata), nothing between.
    after_end = [row for row in ledger if row["scheduled_at"] > ended_at]
    assert [row["kind"] for row in after_end] == ["recap"]
    assert after_end[0]["scheduled_at"] - ended_at < timedelta(days=2)
    assert len(mail_sink.messages()) == len(ledger)

    applied_at = {json.loads(row["payload"]).get("command_id"): row["at"] for row in events}
    simulated = simulate(
        PROGRAM.spec,
        enroll,
        datetime.max.replace(tzinfo=UTC) - timedelta(days=1),
        [(applied_at[c.command_id], c) for _, c in script],
        enrolled_at=applied_at["enroll"],
    )
    expected = [(e.nudge_key, e.at) for e in simulated if e.type == "nudge_due"]
    assert [(row["nudge_key"], row["scheduled_at"]) for row in ledger] == expected
