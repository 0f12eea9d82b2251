"""An ended journey's record in Postgres takes the ledger's final word on an email (its workflow can take no
update): folded from the stored events, decided by the domain, written with the projection once; the same
settlement again writes nothing, the same word under another id is refused. Real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import asyncpg

from domain import (
    Event,
    JourneyState,
    NudgeDue,
    RecordEmailOutcome,
    RejectionCode,
    SettleEmail,
    Tick,
    Unsubscribe,
    decide_and_evolve,
    email_outcome_id,
)
from domain.commands import Command
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from store.events import append_many, settle_ended_journey
from tests.domain.small_program import SMALL, START, enroll, small_program
from workflows.contract import append_input

JOURNEY = ("journey-c1~p1", "c1", "p1")


async def _ended_journey(pool: asyncpg.Pool) -> NudgeDue:
    """The welcome fell due, went `uncertain`, then the participant unsubscribed: recorded as the workflow
    records it. The welcome's event."""
    await save_cohort(pool, "c1", small_program(), START.date())
    await save_participants(
        pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="p1",
                name="Ada Okafor",
                email="ada@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
            )
        ],
    )
    state, events = JourneyState(), list[Event]()
    at = START + timedelta(days=1, hours=14)
    commands: list[tuple[Command, datetime]] = [(enroll(), START), (Tick(), at)]
    for command, when in commands:
        decision, state = decide_and_evolve(state, command, when, SMALL)
        events += decision.events
    welcome = next(e for e in events if isinstance(e, NudgeDue))
    report = RecordEmailOutcome(
        command_id=email_outcome_id(welcome.nudge_key),
        nudge_id=welcome.nudge_id,
        kind=welcome.kind,
        nudge_key=welcome.nudge_key,
        outcome="uncertain",
    )
    for command in (report, Unsubscribe(command_id="bye")):
        decision, state = decide_and_evolve(state, command, at + timedelta(minutes=1), SMALL)
        events += decision.events
    assert state.finished and state.sends == 0
    await append_many(pool, [append_input(JOURNEY, events, state, SMALL, len(events))])
    return welcome


async def test_an_ended_journeys_record_takes_a_settlement_once(db_pool: asyncpg.Pool) -> None:
    welcome = await _ended_journey(db_pool)
    assert await db_pool.fetchval("select emails_sent from journey_status") == 0
    settle = SettleEmail(
        command_id="staff-settle-1",
        nudge_id=welcome.nudge_id,
        kind=welcome.kind,
        nudge_key=welcome.nudge_key,
        outcome="sent",
        reason="sent (resolved by staff)",
    )
    now = datetime.now(UTC)
    assert await settle_ended_journey(db_pool, JOURNEY, settle, now) is None
    assert await settle_ended_journey(db_pool, JOURNEY, settle, now) is None  # redelivered: nothing new
    other = settle.model_copy(update={"command_id": "staff-settle-2"})
    refused = await settle_ended_journey(db_pool, JOURNEY, other, now)
    assert refused is not None and refused.code is RejectionCode.EMAIL_SETTLED
    rows = await db_pool.fetch("select event_id, payload from journey_events where type = 'email_settled'")
    assert [r["event_id"] for r in rows] == ["journey-c1~p1/staff-settle-1/0"]
    status = await db_pool.fetchrow("select emails_sent, mode from journey_status")
    assert status is not None and (status["emails_sent"], status["mode"]) == (1, "unsubscribed")
