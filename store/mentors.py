"""Mentors in Postgres: who they are, their mentees and their preferences. Temporal sees `mentor_id` only."""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta

import asyncpg
from pydantic import BaseModel, Field

from store.cohort_report import CLICK_PREFIX, FINISHED


def mentor_id_for(email: str) -> str:
    """A stable id for an email (case-insensitive): what workflow ids, ledgers and links carry."""
    return "m" + hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:16]


class Mentor(BaseModel):
    cohort_id: str
    mentor_id: str
    email: str
    name: str
    timezone: str
    digest_day: str = "mon"
    send_time: time = time(8, 30)
    digest: str = "weekly"  # weekly | off
    prompts: bool = True
    unsubscribed_at: datetime | None = None
    last_digest_at: datetime | None = None
    is_participant: bool = False


class Mentee(BaseModel):
    participant_id: str
    name: str
    mode: str | None = None
    personas: list[str] = Field(default_factory=list)
    milestones: list[str] = Field(default_factory=list)
    last_click: datetime | None = None
    quiet: bool = False  # no click for the report's quiet weeks (and not ended)


class MentorSummary(BaseModel):
    mentor: Mentor
    mentees: int = 0
    quiet: int = 0


async def sync_mentors(pool: asyncpg.Pool, cohort_id: str) -> int:
    """Add a mentor for each distinct roster `mentor_email` not yet known; the number added.

    Name and zone: the mentor's own participant row when they are also a participant, else the email's
    local part and the zone most of their mentees live in (staff can change both later).
    """
    rows = await pool.fetch(
        """
        with wanted as (
            select lower(mentor_email) as email, mode() within group (order by timezone) as zone
            from participants where cohort_id = $1 and mentor_email is not null group by 1
        )
        select w.email, coalesce(p.name, split_part(w.email, '@', 1)) as name,
               coalesce(p.timezone, w.zone) as timezone
        from wanted w left join participants p on p.cohort_id = $1 and lower(p.email) = w.email
        """,
        cohort_id,
    )
    if not rows:
        return 0
    added = await pool.fetch(
        """
        insert into mentors (cohort_id, mentor_id, email, name, timezone)
        select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::text[])
        on conflict do nothing returning mentor_id
        """,
        cohort_id,
        [mentor_id_for(r["email"]) for r in rows],
        [r["email"] for r in rows],
        [r["name"] for r in rows],
        [r["timezone"] for r in rows],
    )
    return len(added)


_MENTOR = """
    select m.*, exists (select 1 from participants p
                        where p.cohort_id = m.cohort_id and lower(p.email) = m.email) as is_participant
    from mentors m
"""


def _mentor(row: asyncpg.Record) -> Mentor:
    return Mentor.model_validate(dict(row))


async def get_mentor(pool: asyncpg.Pool, cohort_id: str, mentor_id: str) -> Mentor | None:
    row = await pool.fetchrow(_MENTOR + " where m.cohort_id = $1 and m.mentor_id = $2", cohort_id, mentor_id)
    return _mentor(row) if row else None


async def find_mentor(pool: asyncpg.Pool, email: str) -> list[Mentor]:
    """Every cohort's mentor with this email (case-insensitive)."""
    rows = await pool.fetch(_MENTOR + " where m.email = lower($1) order by m.cohort_id", email.strip())
    return [_mentor(r) for r in rows]


async def cohort_mentors(pool: asyncpg.Pool, cohort_id: str) -> list[Mentor]:
    rows = await pool.fetch(_MENTOR + " where m.cohort_id = $1 order by m.email", cohort_id)
    return [_mentor(r) for r in rows]


async def mentees(pool: asyncpg.Pool, mentor: Mentor, *, now: datetime, quiet_weeks: int = 3) -> list[Mentee]:
    """The mentor's mentees with where they stand, in participant id order."""
    rows = await pool.fetch(
        f"""
        select p.participant_id, p.name, s.mode, coalesce(s.personas, p.personas) as personas,
               coalesce((select array_agg(milestone_id order by achieved_at) from participant_milestones pm
                         where pm.cohort_id = p.cohort_id and pm.participant_id = p.participant_id),
                        '{{}}') as milestones,
               (select max(at) from journey_events e
                where e.cohort_id = p.cohort_id and e.participant_id = p.participant_id
                  and e.payload ->> 'command_id' like '{CLICK_PREFIX}%') as last_click,
               (select min(at) from journey_modes jm
                where jm.cohort_id = p.cohort_id and jm.participant_id = p.participant_id) as began
        from participants p left join journey_status s using (cohort_id, participant_id)
        where p.cohort_id = $1 and lower(p.mentor_email) = $2
        order by p.participant_id
        """,
        mentor.cohort_id,
        mentor.email,
    )
    bar = now - timedelta(weeks=quiet_weeks)
    out = []
    for r in rows:
        since = r["last_click"] or r["began"]
        quiet = r["mode"] is not None and r["mode"] not in FINISHED and since is not None and since < bar
        out.append(
            Mentee(
                participant_id=r["participant_id"],
                name=r["name"],
                mode=r["mode"],
                personas=list(r["personas"]),
                milestones=list(r["milestones"]),
                last_click=r["last_click"],
                quiet=quiet,
            )
        )
    return out


async def mentor_summaries(
    pool: asyncpg.Pool, cohort_id: str, *, now: datetime, quiet_weeks: int = 3
) -> list[MentorSummary]:
    out = []
    for mentor in await cohort_mentors(pool, cohort_id):
        group = await mentees(pool, mentor, now=now, quiet_weeks=quiet_weeks)
        out.append(MentorSummary(mentor=mentor, mentees=len(group), quiet=sum(m.quiet for m in group)))
    return out
