"""A 12-month journey on the time-skipping server, with a real worker, Postgres and SMTP sink.

Persona adoption, a conference burst, a planned snooze and detected dormancy: every email lands in the
sink exactly once, at the participant's local send time, and the workflow agrees with the simulator.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain import (
    AddConference,
    AdoptPersona,
    Enroll,
    JourneyView,
    KeepGoing,
    Mode,
    Pause,
    Persona,
    RecordMilestone,
    SteerCommand,
    simulate,
)
from domain.timing import start_of_local_day
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from worker.devstack import MailSink
from worker.main import build_worker
from workflows.contract import JourneyInput, journey_id
from workflows.journey import JOURNEY_UPDATES, JourneyWorkflow

REPO = Path(__file__).resolve().parents[2]
PROGRAM = load_program(REPO / "programs" / "medtwitter")
TZ = "America/New_York"
CONF_TZ = "America/Chicago"
HISTORIES = REPO / "tests" / "histories"


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


async def _history_lengths(client: Client, workflow_id: str, first_run_id: str) -> list[int]:
    """Events per run, following the continue-as-new chain from the first run."""
    lengths: list[int] = []
    run_id: str | None = first_run_id
    record = os.environ.get("MENTORFLOW_RECORD_HISTORIES") == "1"
    if record:
        # This code's runs become the committed set CI replays. Nothing has been deployed, so no older
        # set is kept; once journeys run in production, add sets beside theirs instead.
        HISTORIES.mkdir(exist_ok=True)
        for old in HISTORIES.glob("journey-*.json"):
            old.unlink()
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        if record:
            (HISTORIES / f"journey-year-run{len(lengths):02d}.json").write_text(history.to_json())
        last = history.events[-1]
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        else:
            run_id = None
    return lengths


async def test_a_year_of_journey(
    time_skipping_env: WorkflowEnvironment, database: str, mail_sink: MailSink, tmp_path: Path
) -> None:
    env = time_skipping_env
    client = env.client
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=mail_sink.port,
        metrics_port=0,
        task_queue=f"year-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    now = await env.get_current_time()
    start_date = _next_monday(now.astimezone(ZoneInfo(TZ)).date())
    cohort, pid = "fall", "p-0001"
    wid = journey_id(cohort, pid)
    await save_cohort(pool, cohort, PROGRAM, start_date)
    await save_participants(
        pool,
        cohort,
        [
            ParticipantRecord(
                participant_id=pid,
                name="Ada Okafor",
                email="ada@example.org",
                timezone=TZ,
                send_days=["tue", "thu"],
                send_time=time(8, 30),
                personas=["consumer"],
            )
        ],
    )
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
    conf_start = start_date + timedelta(weeks=11, days=2)  # a Wednesday
    script: list[tuple[timedelta, SteerCommand]] = [
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
                timezone=CONF_TZ,
            ),
        ),
        (timedelta(weeks=16), Pause(command_id="p1", until=start + timedelta(weeks=19))),
        (timedelta(weeks=36), RecordMilestone(command_id="m3", milestone_id="first_original_post")),
        # Twelve weeks without a click: "shall we keep writing?" goes in week 49; they answer yes.
        (timedelta(weeks=49, days=2), KeepGoing(command_id="k1")),
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
            assert first_run is not None
            for offset, command in script:
                target = start + offset + timedelta(hours=15)  # mid-afternoon local, never at a send instant
                await env.sleep(target - await env.get_current_time())
                await handle.execute_update(JOURNEY_UPDATES[type(command)], command, id=command.command_id)
            final = await handle.result()
            lengths = await _history_lengths(client, wid, first_run)
    finally:
        ledger = await pool.fetch(
            "select * from send_ledger where workflow_id = $1 order by scheduled_at", wid
        )
        events = await pool.fetch(
            "select event_id, type, at, payload from journey_events where workflow_id = $1 order by seq", wid
        )
        await pool.close()

    assert final.mode is Mode.COMPLETED
    assert max(lengths) < 2000, f"a run grew to {max(lengths)} events"
    assert len(lengths) >= 12, "the journey continues as new at least monthly"

    # Every email decided is in the sink exactly once, with the ledger's Message-ID.
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in mail_sink.messages()
    ]
    by_id = {m["Message-ID"]: m for m in messages}
    assert len(by_id) == len(messages), "a Message-ID arrived twice"
    assert all(row["status"] == "sent" for row in ledger)
    assert sorted(by_id) == sorted(row["message_id"] for row in ledger)

    kinds = [row["kind"] for row in ledger]
    for kind in (
        "welcome",
        "burst_prep",
        "burst_daily",
        "burst_recap",
        "checkin",
        "welcome_back",
        "sunset",
        "recap",
    ):
        assert kind in kinds, f"no {kind} email"
    assert kinds[0] == "welcome" and kinds[-1] == "recap"
    assert kinds.count("burst_daily") == 4

    # At the local send time, on send days, never on the quiet Sunday, nothing while paused.
    pause_from, pause_to = start + timedelta(weeks=16, hours=15), start + timedelta(weeks=19)
    for row in ledger:
        # Daily burst emails follow the conference clock; the prep (still at home) and the recap do not.
        zone = ZoneInfo(CONF_TZ if row["kind"] == "burst_daily" else TZ)
        local = row["scheduled_at"].astimezone(zone)
        assert local.time() == time(8, 30), (row["nudge_key"], local)
        assert local.strftime("%a") != "Sun", row["nudge_key"]
        if row["kind"] == "track":
            assert local.strftime("%a") in ("Tue", "Thu"), (row["nudge_key"], local)
        assert not (pause_from <= row["scheduled_at"] < pause_to), f"{row['nudge_key']} sent while paused"

    # Subjects are the program's, rendered.
    subjects = {n.id: n.subject for n in PROGRAM.spec.nudges}
    for row in ledger:
        if "{{" not in subjects[row["nudge_id"]]:
            assert by_id[row["message_id"]]["Subject"] == subjects[row["nudge_id"]]

    # The recap lists the participant's own milestones.
    recap = by_id[ledger[-1]["message_id"]]
    recap_text = recap.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    titles = {m.id: m.title for m in PROGRAM.spec.milestones}
    for milestone in ("followed_ten", "followed_institution", "first_original_post"):
        assert titles[milestone] in recap_text

    # The workflow agrees with the simulator fed the same commands at the instants the workflow applied them.
    applied_at = {
        json.loads(row["payload"]).get("command_id"): row["at"]
        for row in events
        if row["type"] != "nudge_due"
    }
    scripted = [(applied_at[c.command_id], c) for _, c in script]
    simulated = simulate(
        PROGRAM.spec,
        enroll,
        datetime.max.replace(tzinfo=UTC) - timedelta(days=1),
        scripted,
        enrolled_at=applied_at["enroll"],
    )
    expected = [(e.nudge_key, e.at) for e in simulated if e.type == "nudge_due"]
    assert [(row["nudge_key"], row["scheduled_at"]) for row in ledger] == expected
