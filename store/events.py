"""Append journey events to Postgres and update the projections in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
from pydantic import BaseModel, TypeAdapter

from domain import Event, JourneyState, Rejection, SettleEmail, decide_and_evolve, fold, validate
from infra.postgres import Connection
from store.programs import ProgramCache
from workflows.contract import AppendEventsInput, append_input

_EVENTS = TypeAdapter(list[Event])


class AppendEventsResult(BaseModel):
    appended: int = 0


async def append_events(pool: asyncpg.Pool, data: AppendEventsInput) -> AppendEventsResult:
    """Insert the events (ignoring ids already stored) and upsert the projection, atomically.

    Safe to repeat: a retried call appends nothing and an older projection never overwrites a newer one.
    """
    return AppendEventsResult(appended=await append_many(pool, [data]))


async def append_many(pool: asyncpg.Pool, items: list[AppendEventsInput]) -> int:
    """`append_events` for many journeys (a launch batch) in one transaction of three statements; the
    number of events appended."""
    if not items:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        return await _append(conn, items)


async def _append(conn: Connection, items: list[AppendEventsInput]) -> int:
    events = [(d, e) for d in items for e in d.events]
    milestones = [(d, m, at) for d in items for m, at in d.projection.milestones.items()]
    rows = await conn.fetch(
        """
        insert into journey_events (event_id, workflow_id, cohort_id, participant_id, type, at, payload)
        select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::timestamptz[], $7::jsonb[])
        on conflict (event_id) do nothing
        returning event_id
        """,
        [e.id for _, e in events],
        [d.workflow_id for d, _ in events],
        [d.cohort_id for d, _ in events],
        [d.participant_id for d, _ in events],
        [e.type for _, e in events],
        [e.at for _, e in events],
        [json.dumps(e.payload, default=str) for _, e in events],
    )
    await conn.executemany(
        """
        insert into journey_status
            (cohort_id, participant_id, workflow_id, version, mode, personas,
             next_nudge_at, next_nudge_id, paused_until, timezone, send_days, send_time, conferences,
             emails_sent, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, now())
        on conflict (cohort_id, participant_id) do update set
            version = excluded.version, mode = excluded.mode, personas = excluded.personas,
            next_nudge_at = excluded.next_nudge_at, next_nudge_id = excluded.next_nudge_id,
            paused_until = excluded.paused_until, timezone = excluded.timezone,
            send_days = excluded.send_days, send_time = excluded.send_time,
            conferences = excluded.conferences, emails_sent = excluded.emails_sent, updated_at = now()
        where journey_status.version <= excluded.version
        """,
        [
            (
                d.cohort_id,
                d.participant_id,
                d.workflow_id,
                d.projection.version,
                d.projection.mode,
                sorted(d.projection.personas),
                d.projection.next_nudge_at,
                d.projection.next_nudge_id,
                d.projection.paused_until,
                d.projection.timezone,
                d.projection.send_days,
                d.projection.send_time,
                json.dumps([c.model_dump(mode="json") for c in d.projection.conferences]),
                d.projection.emails_sent,
            )
            for d in items
        ],
    )
    if milestones:
        await conn.execute(
            """
            insert into participant_milestones (cohort_id, participant_id, milestone_id, achieved_at)
            select * from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
            on conflict do nothing
            """,
            [d.cohort_id for d, _, _ in milestones],
            [d.participant_id for d, _, _ in milestones],
            [m for _, m, _ in milestones],
            [at for _, _, at in milestones],
        )
    return len(rows)


async def settle_ended_journey(
    pool: asyncpg.Pool, journey: tuple[str, str, str], command: SettleEmail, now: datetime
) -> Rejection | None:
    """The ledger's final word on an email of a journey whose workflow has ended (no update reaches it
    any more): the journey's own record in Postgres, which nothing else writes now, takes it. The state
    is folded from the journey's stored events and the domain decides, exactly as the workflow would;
    the events and the projection are written in one transaction. `journey` is (workflow id, cohort id,
    participant id). Why the domain refuses it, or None once recorded (also when recorded before)."""
    workflow_id, cohort_id, _ = journey
    program = (await ProgramCache().get(pool, cohort_id)).spec
    async with pool.acquire() as conn, conn.transaction():
        # One writer per journey at a time: two settlements of the same journey fold one after the other.
        await conn.execute("select pg_advisory_xact_lock(hashtext($1))", workflow_id)
        rows = await conn.fetch(
            "select event_id, type, at, payload::text as payload from journey_events "
            "where workflow_id = $1 order by seq",
            workflow_id,
        )
        stored = _EVENTS.validate_python(
            [json.loads(r["payload"]) | {"id": r["event_id"], "type": r["type"], "at": r["at"]} for r in rows]
        )
        state = fold(JourneyState(), stored)
        refused = validate(state, command, now, program)
        if refused is not None:
            return refused
        decision, after = decide_and_evolve(state, command, now, program)
        if decision.events:
            version = await conn.fetchval(
                "select version from journey_status where workflow_id = $1", workflow_id
            )
            data = append_input(
                journey, decision.events, after, program, (version or len(stored)) + len(decision.events)
            )
            await _append(conn, [data])
    return None
