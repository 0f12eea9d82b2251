"""Cohorts and their participants' contact data in Postgres (the only place names and emails live)."""

from __future__ import annotations

import json
from datetime import date, time

import asyncpg
from pydantic import BaseModel, Field

from domain.program import Program
from domain.roster import Enrolee, RosterConference, RosterRow
from infra.postgres import Connection


class ParticipantRecord(BaseModel):
    participant_id: str
    name: str
    email: str
    timezone: str
    send_days: list[str]
    send_time: time
    personas: list[str] = Field(default_factory=list)
    greeting_name: str | None = None
    mentor_email: str | None = None
    mentor_name: str | None = None
    mission: str | None = None
    conferences: list[RosterConference] = Field(default_factory=list)

    @classmethod
    def from_roster(cls, row: RosterRow) -> ParticipantRecord:
        return cls(
            participant_id=row.participant_id,
            name=row.name,
            email=row.email,
            timezone=row.timezone,
            send_days=list(row.send_days),
            send_time=row.send_time,
            personas=[p.value for p in row.personas],
            greeting_name=row.greeting_name,
            mentor_email=row.mentor_email,
            mentor_name=row.mentor_name,
            mission=row.mission,
            conferences=list(row.conferences),
        )


class CohortConflict(Exception):
    """The cohort id exists with another program or start date."""


async def save_cohort(pool: asyncpg.Pool, cohort_id: str, program: Program, start_date: date) -> None:
    """Create the cohort, or accept it again unchanged (a re-run of the same launch)."""
    async with pool.acquire() as conn, conn.transaction():
        await _insert_cohort(conn, cohort_id, program, start_date)


async def save_roster(
    pool: asyncpg.Pool,
    cohort_id: str,
    program: Program,
    start_date: date,
    rows: list[ParticipantRecord],
    contacts: dict[str, ContactChange] | None = None,
) -> int:
    """The cohort and its participants in one transaction: all saved, or (a Postgres failure midway, say a
    full disk; an address another participant has) nothing. Participants already present are left as they
    are, but for the `contacts` changes asked for; returns how many were new."""
    async with pool.acquire() as conn, conn.transaction():
        await _insert_cohort(conn, cohort_id, program, start_date)
        for participant_id, change in (contacts or {}).items():
            await _update_contact(conn, cohort_id, participant_id, change)
        new = 0
        for i in range(0, len(rows), 2000):
            new += await _insert_participants(conn, cohort_id, rows[i : i + 2000])
        return new


async def _insert_cohort(conn: Connection, cohort_id: str, program: Program, start_date: date) -> None:
    await conn.execute(
        """
        insert into cohorts (cohort_id, program, start_date, program_json)
        values ($1, $2, $3, $4::jsonb) on conflict (cohort_id) do nothing
        """,
        cohort_id,
        program.spec.name,
        start_date,
        program.model_dump_json(),
    )
    row = await conn.fetchrow("select program, start_date from cohorts where cohort_id = $1", cohort_id)
    assert row is not None
    if row["program"] != program.spec.name or row["start_date"] != start_date:
        raise CohortConflict(
            f"cohort {cohort_id!r} already exists with program {row['program']!r} "
            f"starting {row['start_date']}; choose another cohort id"
        )


async def save_participants(pool: asyncpg.Pool, cohort_id: str, rows: list[ParticipantRecord]) -> int:
    """Bulk insert; rows already present are left as they are. Returns how many were new."""
    async with pool.acquire() as conn:
        return await _insert_participants(conn, cohort_id, rows)


async def _insert_participants(conn: Connection, cohort_id: str, rows: list[ParticipantRecord]) -> int:
    if not rows:
        return 0
    inserted = await conn.fetch(
        """
        insert into participants (cohort_id, participant_id, name, email, timezone, send_days, send_time,
                                  personas, mentor_email, mission, conferences, greeting_name, mentor_name)
        select $1, r.participant_id, r.name, r.email, r.timezone,
               string_to_array(r.send_days, ','), r.send_time,
               coalesce(string_to_array(nullif(r.personas, ''), ','), '{}'), r.mentor_email, r.mission,
               r.conferences, r.greeting_name, r.mentor_name
        from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::time[], $8::text[],
                    $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[])
             as r(participant_id, name, email, timezone, send_days, send_time, personas, mentor_email,
                  mission, conferences, greeting_name, mentor_name)
        on conflict (cohort_id, participant_id) do nothing
        returning participant_id
        """,
        cohort_id,
        [r.participant_id for r in rows],
        [r.name for r in rows],
        [r.email for r in rows],
        [r.timezone for r in rows],
        [",".join(r.send_days) for r in rows],
        [r.send_time for r in rows],
        [",".join(r.personas) for r in rows],
        [r.mentor_email for r in rows],
        [r.mission for r in rows],
        [json.dumps([c.model_dump(mode="json") for c in r.conferences]) for r in rows],
        [r.greeting_name for r in rows],
        [r.mentor_name for r in rows],
    )
    return len(inserted)


async def read_enrolees(
    pool: asyncpg.Pool, cohort_id: str, *, after: str = "", limit: int | None = None
) -> list[Enrolee]:
    """The cohort's participants as the domain enrols them, in participant id order, after `after`."""
    rows = await pool.fetch(
        """
        select participant_id, timezone, send_days, send_time, personas, conferences::text as conferences
        from participants where cohort_id = $1 and participant_id > $2
        order by participant_id limit $3
        """,
        cohort_id,
        after,
        limit,
    )
    return [Enrolee.model_validate({**row, "conferences": json.loads(row["conferences"])}) for row in rows]


class ContactChange(BaseModel):
    """New contact data for one participant (None keeps the column); validated by the caller."""

    name: str | None = None
    email: str | None = None
    greeting_name: str | None = None
    mentor_email: str | None = None
    mentor_name: str | None = None

    def columns(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EmailTaken(Exception):
    """Another participant of the cohort has this address."""


async def update_contact(
    pool: asyncpg.Pool, cohort_id: str, participant_id: str, change: ContactChange
) -> dict[str, str | None] | None:
    """Apply `change` (contact data lives only here: Temporal never had it); the changed columns' values
    before it (unchanged ones left out), or None if there is no such participant. An empty string clears
    an optional column (greeting, mentor)."""
    async with pool.acquire() as conn, conn.transaction():
        return await _update_contact(conn, cohort_id, participant_id, change)


async def _update_contact(
    conn: Connection, cohort_id: str, participant_id: str, change: ContactChange
) -> dict[str, str | None] | None:
    columns = change.columns()
    before = await conn.fetchrow(
        f"select {', '.join(CONTACT_COLUMNS)} from participants"
        " where cohort_id = $1 and participant_id = $2 for update",
        cohort_id,
        participant_id,
    )
    if before is None:
        return None
    changed = {c: before[c] for c, v in columns.items() if (before[c] or "") != v}
    if not changed:
        return {}
    sets = ", ".join(f"{column} = nullif(${i + 3}, '')" for i, column in enumerate(changed))
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives the refusal
            await conn.execute(
                f"update participants set {sets} where cohort_id = $1 and participant_id = $2",
                cohort_id,
                participant_id,
                *(columns[c] for c in changed),
            )
    except asyncpg.UniqueViolationError:
        raise EmailTaken(
            f"another participant of cohort {cohort_id!r} has the email {change.email!r}"
        ) from None
    return changed


CONTACT_COLUMNS = ("name", "email", "greeting_name", "mentor_email", "mentor_name")


async def contact_differences(
    pool: asyncpg.Pool, cohort_id: str, rows: list[ParticipantRecord]
) -> list[tuple[str, str, str | None, str | None]]:
    """(participant, column, saved, roster) for each contact cell a re-run's roster changes; emails are
    compared without case, as the roster's uniqueness rule does."""
    saved = {
        r["participant_id"]: r
        for r in await pool.fetch(
            f"select participant_id, {', '.join(CONTACT_COLUMNS)} from participants"
            " where cohort_id = $1 and participant_id = any($2::text[])",
            cohort_id,
            [r.participant_id for r in rows],
        )
    }
    out: list[tuple[str, str, str | None, str | None]] = []
    for row in rows:
        old = saved.get(row.participant_id)
        if old is None:
            continue
        for column in CONTACT_COLUMNS:
            before, after = old[column], getattr(row, column)
            same = (before or "").lower() == (after or "").lower() if "email" in column else before == after
            if not same:
                out.append((row.participant_id, column, before, after))
    return out
