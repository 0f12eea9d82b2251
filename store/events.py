"""Append journey events to Postgres and update the projections in the same transaction."""

from __future__ import annotations

import json

import asyncpg
from pydantic import BaseModel

from workflows.contract import AppendEventsInput


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
    events = [(d, e) for d in items for e in d.events]
    milestones = [(d, m, at) for d in items for m, at in d.projection.milestones.items()]
    async with pool.acquire() as conn, conn.transaction():
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
                 updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, now())
            on conflict (cohort_id, participant_id) do update set
                version = excluded.version, mode = excluded.mode, personas = excluded.personas,
                next_nudge_at = excluded.next_nudge_at, next_nudge_id = excluded.next_nudge_id,
                paused_until = excluded.paused_until, timezone = excluded.timezone,
                send_days = excluded.send_days, send_time = excluded.send_time,
                conferences = excluded.conferences, updated_at = now()
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
