"""Append journey events to Postgres and update the projections in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from domain import Event, JourneyState, ProgramSpec, journey_view


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


def append_input(
    ids: tuple[str, str, str], events: list[Event], state: JourneyState, program: ProgramSpec, version: int
) -> AppendEventsInput:
    """The store's view of `events` and of the journey after them; `ids` = (workflow, cohort, participant).

    Pure, so the workflow and a cohort launch (which records enrolments in bulk) build the same rows.
    """
    workflow_id, cohort_id, participant_id = ids
    view = journey_view(state, program)
    return AppendEventsInput(
        workflow_id=workflow_id,
        cohort_id=cohort_id,
        participant_id=participant_id,
        events=[
            StoredEvent(
                id=e.id, type=e.type, at=e.at, payload=e.model_dump(mode="json", exclude={"id", "type", "at"})
            )
            for e in events
        ],
        projection=JourneyProjection(
            version=version,
            mode=view.mode.value,
            personas=[p.value for p in view.personas],
            milestones=dict(state.milestones),
            next_nudge_at=view.next_nudge_at,
            next_nudge_id=view.next_nudge_id,
            paused_until=view.paused_until,
        ),
    )


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
                 next_nudge_at, next_nudge_id, paused_until, updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
            on conflict (cohort_id, participant_id) do update set
                version = excluded.version, mode = excluded.mode, personas = excluded.personas,
                next_nudge_at = excluded.next_nudge_at, next_nudge_id = excluded.next_nudge_id,
                paused_until = excluded.paused_until, updated_at = now()
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
