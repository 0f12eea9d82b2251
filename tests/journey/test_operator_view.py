"""What an operator sees of a journey in Temporal (dev server): who, where, waiting for what; no PII."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from activities.launch import journey_input, start_journey
from domain import DormancyStarted, Event, JourneyView, Mode, NudgeDue, Unsubscribe
from domain.program import NudgeKind
from infra.program_files import load_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, read_enrolees, save_cohort, save_participants
from worker.main import build_worker
from workflows import search_attributes as sa
from workflows.journey import JourneyWorkflow, decision_summary

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")


async def test_operator_sees_who_where_and_what_next(
    settings: Settings, temporal_env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    client = temporal_env.client
    start = date.today() + timedelta(days=3)
    await save_cohort(db_pool, "ops", PROGRAM, start)
    person = ParticipantRecord(
        participant_id="p-42",
        name="Grace Mbeki",
        email="grace.mbeki@example.org",
        timezone="Europe/London",
        send_days=["tue", "thu"],
        send_time=time(8, 30),
        personas=["consumer", "amplifier"],
    )
    await save_participants(db_pool, "ops", [person])
    (row,) = await read_enrolees(db_pool, "ops")
    data = journey_input("ops", row, PROGRAM.spec, start)
    async with build_worker(client, db_pool, settings):
        assert await start_journey(client, settings.task_queue, data)
        handle = client.get_workflow_handle(data.enroll.journey_id)
        for _ in range(100):  # until the enrolment is recorded and published
            desc = await handle.describe()
            if desc.typed_search_attributes.get(sa.MODE) is not None:
                break
            await asyncio.sleep(0.1)
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        history = await handle.fetch_history()

    assert handle.id == "journey-ops~p-42"
    attrs = desc.typed_search_attributes
    assert attrs.get(sa.COHORT) == "ops"
    assert attrs.get(sa.PROGRAM) == "medtwitter"
    assert attrs.get(sa.MODE) == "active"
    assert sorted(attrs.get(sa.PERSONAS) or []) == ["amplifier", "consumer"]
    next_at = attrs.get(sa.NEXT_NUDGE_AT)
    assert next_at is not None and next_at.date() >= start

    summary = await desc.static_summary()
    assert summary is not None and "p-42" in summary and "ops" in summary
    details = metadata.current_details
    assert "`p-42`" in details and "**Mode:** active" in details and "next email welcome" in details

    timers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert timers, "the journey waits on a durable timer"
    assert "next email welcome" in timers[-1].user_metadata.summary.data.decode()

    # Names and emails stay in Postgres: nothing of them in the history or the search attributes.
    raw = history.to_json()
    for secret in ("Grace", "Mbeki", "grace.mbeki@example.org"):
        assert secret not in raw and secret not in str(attrs) and secret not in (summary or "")


async def test_unsubscribed_journey_told_apart_and_each_activity_names_its_events(
    settings: Settings, temporal_env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    client = temporal_env.client
    start = date.today() + timedelta(days=3)
    await save_cohort(db_pool, "ops2", PROGRAM, start)
    person = ParticipantRecord(
        participant_id="p-7",
        name="Ines Duarte",
        email="ines@example.org",
        timezone="America/Sao_Paulo",
        send_days=["tue", "thu"],
        send_time=time(8, 30),
        personas=["consumer"],
    )
    await save_participants(db_pool, "ops2", [person])
    (row,) = await read_enrolees(db_pool, "ops2")
    data = journey_input("ops2", row, PROGRAM.spec, start)
    async with build_worker(client, db_pool, settings):
        assert await start_journey(client, settings.task_queue, data)
        handle = client.get_workflow_handle(data.enroll.journey_id)
        await handle.execute_update(
            JourneyWorkflow.unsubscribe, Unsubscribe(command_id="staff-unsubscribe-1")
        )
        result = JourneyView.model_validate(await handle.result())
        desc = await handle.describe()
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        history = await handle.fetch_history()

    assert result.mode is Mode.UNSUBSCRIBED
    assert desc.typed_search_attributes.get(sa.MODE) == "unsubscribed"
    assert "**Mode:** unsubscribed" in metadata.current_details
    assert "**Ended:** unsubscribed on" in metadata.current_details
    # Each activity names the events it records.
    summaries = [
        e.user_metadata.summary.data.decode()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert summaries[-1] == '"record unsubscribed"'
    assert any(s.startswith('"record enrolled') for s in summaries)


def test_decision_summary_names_emails_then_events() -> None:
    at = datetime(2026, 3, 3, 13, 30, tzinfo=UTC)
    events: list[Event] = [
        NudgeDue(id="j/a/0", at=at, nudge_id="consumer-02", kind=NudgeKind.TRACK, nudge_key="k"),
        DormancyStarted(id="j/b/0", at=at, kind="detected"),
    ]
    assert decision_summary(events) == "email consumer-02; record nudge due, dormancy started"
    assert decision_summary(events[1:]) == "record dormancy started"
