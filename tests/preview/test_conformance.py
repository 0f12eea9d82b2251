"""The preview and the real journeys agree: same emails, same instants.

Four participants from a roster file (a conference burst, a snooze, milestones and a persona adoption,
time zones whose clocks change during the year) run through `cohort preview`'s code and through
JourneyWorkflow on the time-skipping server, launched the way `cohort start` launches them
(`activities.launch.launch_journeys`), with a real worker, Postgres and mail sink.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.launch import cohort_inputs, launch_journeys
from cli.preview import plans_from_roster, run_preview, weeks_for
from cli.roster_file import load_roster
from domain import Enroll, RecordEmailOutcome, Tick
from domain.preview import parse_script
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from worker.devstack import MailSink
from worker.main import build_worker
from workflows.contract import journey_id
from workflows.journey import JOURNEY_UPDATES

REPO = Path(__file__).resolve().parents[2]
PROGRAM = load_program(REPO / "programs" / "medtwitter")


def _roster(start: date) -> str:
    conf = start + timedelta(weeks=3, days=2)  # a Wednesday, in Chicago
    return (
        "participant_id,name,email,timezone,send_days,send_time,personas,conferences\n"
        f'p-burst,A One,a1@example.org,America/New_York,"tue,thu",08:30,"consumer,creator",'
        f"Spring Clinical|{conf}|{conf + timedelta(days=3)}|America/Chicago|#NKF\n"
        'p-snooze,B Two,b2@example.org,Europe/London,"mon,wed,fri",07:45,consumer,\n'
        'p-adopt,C Three,c3@example.org,Australia/Sydney,"tue,fri",08:30,consumer,\n'
        'p-quiet,D Four,d4@example.org,America/Los_Angeles,"tue,thu",09:15,twittermittent,\n'
    )


SCRIPT = """
p-snooze weeks 6-8 snooze
p-snooze week 30 milestone followed_ten         # back after the quiet: mail on both sides of a clock change
p-adopt week 2 milestone followed_ten
p-adopt week 2 milestone followed_institution   # suggests a persona
p-adopt week 4 adopt creator
p-adopt week 12 milestone first_original_post
p-adopt week 44 milestone first_teaching_thread  # clicks late in the year: the recap reaches them
p-quiet week 20 milestone account_created        # wakes from the slowed pace
p-burst week 30 keep_going                       # answers the sunset email late, from quiet
"""


async def _status(client: Client, wid: str) -> WorkflowExecutionStatus:
    # The raw call: the SDK's describe() cannot decode the test server's datetime search attributes.
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=wid)
        )
    )
    return WorkflowExecutionStatus(raw.workflow_execution_info.status)


async def test_preview_matches_the_journeys(
    time_skipping_env: WorkflowEnvironment, database: str, mail_sink: MailSink, tmp_path: Path
) -> None:
    env = time_skipping_env
    client = env.client
    now = await env.get_current_time()
    today = now.astimezone(ZoneInfo("America/New_York")).date()
    start_date = today + timedelta(days=14 - today.weekday())  # a Monday, at least a week ahead
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text(_roster(start_date))
    roster = load_roster(roster_file, program=PROGRAM.spec, today=today)
    assert roster.ok, roster.problems
    weeks = weeks_for(None, PROGRAM.spec)
    lines, problems = parse_script(
        SCRIPT, program=PROGRAM.spec, participants=[r.participant_id for r in roster.rows], weeks=weeks
    )
    assert not problems
    cohort = f"conf{uuid.uuid4().hex[:6]}"
    plans = plans_from_roster(cohort, roster.rows, PROGRAM.spec, start_date, launched_at=now, script=lines)
    preview = run_preview(PROGRAM.spec, plans, start_date=start_date, weeks=weeks, workers=1)

    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=mail_sink.port,
        metrics_port=0,
        task_queue=f"conf-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    try:
        await save_cohort(pool, cohort, PROGRAM, start_date)
        await save_participants(
            pool,
            cohort,
            [ParticipantRecord.from_roster(r) for r in roster.rows],
        )
        inputs = await cohort_inputs(pool, cohort, PROGRAM.spec, start_date)
        async with build_worker(client, pool, settings):
            # Launched as the launch activity does it: same inputs, enrolled in bulk at the launch instant.
            launched = await launch_journeys(
                pool, client, settings.task_queue, inputs, await env.get_current_time()
            )
            assert launched == [True] * len(inputs)
            scripted = sorted(
                ((at, plan.participant_id, command) for plan in plans for at, command in plan.script),
                key=lambda item: item[0],
            )
            for at, pid, command in scripted:
                await env.sleep(max(at - await env.get_current_time(), timedelta(0)))
                handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(journey_id(cohort, pid))
                assert not isinstance(command, Enroll | RecordEmailOutcome | Tick)  # a script only steers
                update = command
                await handle.execute_update(JOURNEY_UPDATES[type(update)], update, id=update.command_id)
            # Run the clock on to the end. (Not result(): launch handles do not unlock
            # time-skipping, and concurrent result() calls would break the server's time lock.)
            for data in inputs:
                wid = journey_id(cohort, data.participant_id)
                while (status := await _status(client, wid)) == WorkflowExecutionStatus.RUNNING:
                    await env.sleep(timedelta(days=7))
                assert status == WorkflowExecutionStatus.COMPLETED, (wid, status)
        ledger = await pool.fetch(
            "select workflow_id, nudge_id, nudge_key, scheduled_at, status from send_ledger"
            " order by workflow_id, scheduled_at, nudge_key"
        )
    finally:
        await pool.close()

    prefix = f"journey-{cohort}~"
    journeys = sorted(
        (r["workflow_id"].removeprefix(prefix), r["nudge_id"], r["nudge_key"], r["scheduled_at"])
        for r in ledger
    )
    previewed = sorted((e.participant_id, e.nudge_id, e.nudge_key, e.at) for e in preview.emails)
    assert journeys == previewed
    assert all(r["status"] == "sent" for r in ledger)
    assert len(mail_sink.messages()) == len(ledger)

    # The scenario has what it claims: a burst, a snooze band, an adopted persona's track, a DST change.
    kinds = {e.kind for e in preview.emails}
    assert {"burst_prep", "burst_daily", "burst_recap", "welcome_back", "sunset", "recap"} <= kinds
    assert any(b.kind == "quiet" and b.participant_id == "p-burst" for b in preview.bands)
    assert any(b.kind == "planned" and b.participant_id == "p-snooze" for b in preview.bands)
    assert any(e.persona == "creator" and e.participant_id == "p-adopt" for e in preview.emails)
    london = [e.at for e in preview.emails if e.participant_id == "p-snooze"]
    offsets = {at.astimezone(ZoneInfo("Europe/London")).utcoffset() for at in london}
    assert len(offsets) == 2, "the snoozing participant's year crosses a clock change"
