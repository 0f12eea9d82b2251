"""Append journey events to Postgres and update the projections in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, Field


class StoredEvent(BaseModel):
    """A domain event as the store keeps it: the id and time as columns, the rest as JSON."""

    id: str
    type: str
    at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class JourneyProjection(BaseModel):
    """Where the journey stands after the events: what reports read."""

    version: int
    mode: str
    personas: list[str] = Field(default_factory=list)
    milestones: dict[str, datetime] = Field(default_factory=dict)
    next_nudge_at: datetime | None = None
    next_nudge_id: str | None = None
    paused_until: datetime | None = None


class AppendEventsInput(BaseModel):
    workflow_id: str
    cohort_id: str
    participant_id: str
    events: list[StoredEvent] = Field(default_factory=list)
    projection: JourneyProjection


class AppendEventsResult(BaseModel):
    appended: int = 0


async def append_events(pool: asyncpg.Pool, data: AppendEventsInput) -> AppendEventsResult:
    """Insert the events (ignoring ids already stored) and upsert the projection, atomically.

    Safe to repeat: a retried call appends nothing and an older projection never overwrites a newer one.
    """
    async with pool.acquire() as conn, conn.transaction():
        appended = 0
        if data.events:
            rows = await conn.fetch(
                """
                insert into journey_events
                    (event_id, workflow_id, cohort_id, participant_id, type, at, payload)
                select e.id, $1, $2, $3, e.type, e.at, e.payload
                from unnest($4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
                     as e(id, type, at, payload)
                on conflict (event_id) do nothing
                returning event_id
                """,
                data.workflow_id,
                data.cohort_id,
                data.participant_id,
                [e.id for e in data.events],
                [e.type for e in data.events],
                [e.at for e in data.events],
                [json.dumps(e.payload, default=str) for e in data.events],
            )
            appended = len(rows)
        p = data.projection
        await conn.execute(
            """
            insert into journey_status
                (cohort_id, participant_id, workflow_id, version, mode, personas,
                 next_nudge_at, next_nudge_id, paused_until, updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
            on conflict (cohort_id, participant_id) do update set
                version = excluded.version, mode = excluded.mode, personas = excluded.personas,
                next_nudge_at = excluded.next_nudge_at, next_nudge_id = excluded.next_nudge_id,
                paused_until = excluded.paused_until, updated_at = now()
            where journey_status.version <= excluded.version
            """,
            data.cohort_id,
            data.participant_id,
            data.workflow_id,
            p.version,
            p.mode,
            sorted(p.personas),
            p.next_nudge_at,
            p.next_nudge_id,
            p.paused_until,
        )
        if p.milestones:
            await conn.execute(
                """
                insert into participant_milestones (cohort_id, participant_id, milestone_id, achieved_at)
                select $1, $2, m.id, m.at from unnest($3::text[], $4::timestamptz[]) as m(id, at)
                on conflict do nothing
                """,
                data.cohort_id,
                data.participant_id,
                list(p.milestones),
                list(p.milestones.values()),
            )
    return AppendEventsResult(appended=appended)
