"""Journeys run through the real decider on a simulated clock and recorded decision by decision through the
real event store (as JourneyWorkflow records them), with the send ledger's rows for their emails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import asyncpg

from domain import Command, Enroll, JourneyState, NudgeDue, Program, Tick, decide_and_evolve
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from store.events import append_events
from workflows.contract import append_input, journey_id


def monday_weeks_ago(weeks: int, now: datetime | None = None) -> datetime:
    today = (now or datetime.now(UTC)).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks)
    return datetime.combine(monday, time(14, 0), tzinfo=UTC)


async def save(
    pool: asyncpg.Pool,
    cohort: str,
    program: Program,
    start: datetime,
    people: Sequence[tuple[str, str | None]],
) -> None:
    """The cohort and its participants: (participant id, mentor email) each."""
    await save_cohort(pool, cohort, program, start.date())
    await save_participants(
        pool,
        cohort,
        [
            ParticipantRecord(
                participant_id=pid,
                name=f"Dr. {pid.title()} Ñandú",
                email=f"{pid}@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
                personas=["consumer"],
                mentor_email=mentor,
            )
            for pid, mentor in people
        ],
    )


async def run_journey(
    pool: asyncpg.Pool,
    cohort: str,
    pid: str,
    program: Program,
    start: datetime,
    until: datetime,
    script: Sequence[tuple[datetime, Command]] = (),
) -> JourneyState:
    """Enrol at `start`, then feed ticks and the scripted commands up to `until`, recording each decision."""
    spec = program.spec
    wid = journey_id(cohort, pid)
    enroll = Enroll(
        command_id="enroll",
        journey_id=wid,
        program=spec.name,
        timezone="America/New_York",
        personas=("consumer",),
        start=start,
    )
    pending = sorted(script, key=lambda item: item[0])
    state, version = JourneyState(), 0
    command: Command = enroll
    at = start
    while True:
        decision, state = decide_and_evolve(state, command, at, spec)
        if decision.events:
            version += len(decision.events)
            await append_events(pool, append_input((wid, cohort, pid), decision.events, state, spec, version))
            for e in decision.events:
                if isinstance(e, NudgeDue):
                    await ledger(pool, cohort, pid, e.nudge_id, e.nudge_key, e.kind, e.at, "sent")
        wake = decision.next_wake_up
        nxt = pending[0][0] if pending else None
        if wake is not None and wake <= until and (nxt is None or wake <= nxt):
            command, at = Tick(), wake
        elif nxt is not None and nxt <= until:
            at, command = pending.pop(0)
        else:
            return state


async def ledger(
    pool: asyncpg.Pool,
    cohort: str,
    pid: str,
    nudge_id: str,
    key: str,
    kind: str,
    at: datetime,
    status: str,
    *,
    updated_at: datetime | None = None,
    error: str | None = None,
) -> None:
    await pool.execute(
        """
        insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind,
                                 scheduled_at, status, message_id, error, sent_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::text, $2 || '@test', $9,
                case when $8::text = 'sent' then $7::timestamptz end,
                coalesce($10::timestamptz, $7::timestamptz))
        on conflict (workflow_id, nudge_key) do nothing
        """,
        journey_id(cohort, pid),
        key,
        cohort,
        pid,
        nudge_id,
        kind,
        at,
        status,
        error,
        updated_at,
    )
