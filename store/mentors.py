"""Mentors in Postgres: who they are, their mentees and their preferences. Temporal sees `mentor_id` only."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta

import asyncpg
from pydantic import BaseModel, Field

from domain.mentor import QUIET_AFTER, UPCOMING, MenteeNews
from infra.postgres import Connection
from store.cohort_report import AMPLIFIED, CLICK_PREFIX, FINISHED
from store.intents import Participant, find_participant
from workflows.contract import journey_id


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

    Name and zone: the mentor's own participant row when they are also a participant, else the roster's
    `mentor_name` (or the email's local part) and the zone most of their mentees live in (staff can
    change both later).
    """
    rows = await pool.fetch(
        """
        with wanted as (
            select lower(mentor_email) as email, mode() within group (order by timezone) as zone,
                   max(mentor_name) as roster_name
            from participants where cohort_id = $1 and mentor_email is not null group by 1
        )
        select w.email, coalesce(p.name, w.roster_name, split_part(w.email, '@', 1)) as name,
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


# ---- what a mentor's emails say -------------------------------------------------


async def mentee_news(
    pool: asyncpg.Pool, mentor: Mentor, *, since: datetime, until: datetime
) -> list[MenteeNews]:
    """Each mentee's news in (since, until]: milestones, persona adoptions, going quiet (no click for
    three weeks), upcoming conferences; and the milestones the mentor already amplified."""
    rows = await pool.fetch(
        f"""
        select p.participant_id, s.mode,
               (select min(at) from journey_modes jm
                where jm.cohort_id = p.cohort_id and jm.participant_id = p.participant_id) as began,
               coalesce((select array_agg(milestone_id order by achieved_at) from participant_milestones pm
                         where pm.cohort_id = p.cohort_id and pm.participant_id = p.participant_id
                           and pm.achieved_at > $3 and pm.achieved_at <= $4), '{{}}') as milestones,
               coalesce((select array_agg(e.payload ->> 'persona' order by e.at) from journey_events e
                         where e.cohort_id = p.cohort_id and e.participant_id = p.participant_id
                           and e.type = 'persona_adopted' and e.at > $3 and e.at <= $4), '{{}}') as adopted,
               (select max(at) from journey_events e
                where e.cohort_id = p.cohort_id and e.participant_id = p.participant_id and e.at <= $4
                  and e.payload ->> 'command_id' like '{CLICK_PREFIX}%') as last_click,
               coalesce((select array_agg(e.payload ->> 'milestone_id') from journey_events e
                         where e.cohort_id = p.cohort_id and e.participant_id = p.participant_id
                           and e.type = '{AMPLIFIED}'), '{{}}') as amplified,
               coalesce((select jsonb_agg(e.payload) from journey_events e
                         where e.cohort_id = p.cohort_id and e.participant_id = p.participant_id
                           and e.type = 'conference_added'
                           and (e.payload ->> 'starts_on')::date between $4::date and $5::date),
                        '[]') as conferences
        from participants p left join journey_status s using (cohort_id, participant_id)
        where p.cohort_id = $1 and lower(p.mentor_email) = $2
        order by p.participant_id
        """,
        mentor.cohort_id,
        mentor.email,
        since,
        until,
        (until + UPCOMING).date(),
    )
    out = []
    for r in rows:
        if r["mode"] is None or r["mode"] in FINISHED:
            continue
        seen = r["last_click"] or r["began"]
        quiet = seen if seen is not None and seen < until - QUIET_AFTER else None
        conferences = [(c["name"], date.fromisoformat(c["starts_on"])) for c in json.loads(r["conferences"])]
        out.append(
            MenteeNews(
                participant_id=r["participant_id"],
                milestones=list(r["milestones"]),
                adopted=list(r["adopted"]),
                last_click=r["last_click"],
                quiet_since=quiet,
                conferences=conferences,
                amplified=list(r["amplified"]),
            )
        )
    return out


async def names(pool: asyncpg.Pool, cohort_id: str, participant_ids: list[str]) -> dict[str, str]:
    rows = await pool.fetch(
        "select participant_id, name from participants where cohort_id = $1 and participant_id = any($2)",
        cohort_id,
        participant_ids,
    )
    return {r["participant_id"]: r["name"] for r in rows}


async def last_sent(pool: asyncpg.Pool, cohort_id: str, mentor_id: str, nudge_id: str) -> datetime | None:
    value: datetime | None = await pool.fetchval(
        """
        select max(scheduled_at) from send_ledger
        where recipient = 'mentor' and cohort_id = $1 and mentor_id = $2 and nudge_id = $3
          and status = 'sent'
        """,
        cohort_id,
        mentor_id,
        nudge_id,
    )
    return value


async def all_mentees_ended(pool: asyncpg.Pool, mentor: Mentor) -> bool:
    """Every mentee's journey completed or unsubscribed (a journey not yet begun has not ended)."""
    ended: bool = await pool.fetchval(
        """
        select count(*) > 0 and bool_and(coalesce(s.mode = any($3::text[]), false))
        from participants p left join journey_status s using (cohort_id, participant_id)
        where p.cohort_id = $1 and lower(p.mentor_email) = $2
        """,
        mentor.cohort_id,
        mentor.email,
        sorted(FINISHED),
    )
    return ended


async def mark_digest(pool: Connection | asyncpg.Pool, cohort_id: str, mentor_id: str, at: datetime) -> None:
    """The mentor's digest of `at` went: the next one covers what came after it (never moves back)."""
    await pool.execute(
        "update mentors set last_digest_at = greatest(last_digest_at, $3) "
        "where cohort_id = $1 and mentor_id = $2",
        cohort_id,
        mentor_id,
        at,
    )


async def unsubscribe(pool: asyncpg.Pool, cohort_id: str, mentor_id: str) -> bool:
    """The mentor's one-click unsubscribe: no mentor email goes again. False: no such mentor."""
    done = await pool.execute(
        "update mentors set unsubscribed_at = coalesce(unsubscribed_at, now()) "
        "where cohort_id = $1 and mentor_id = $2",
        cohort_id,
        mentor_id,
    )
    return bool(done.endswith(" 1"))


async def mentee(pool: asyncpg.Pool, mentor: Mentor, participant_id: str) -> Participant | None:
    """The participant, if they are this mentor's mentee (a mentor's link acts on their journey)."""
    is_mentee = await pool.fetchval(
        "select 1 from participants "
        "where cohort_id = $1 and participant_id = $2 and lower(mentor_email) = $3",
        mentor.cohort_id,
        participant_id,
        mentor.email,
    )
    if is_mentee is None:
        return None
    return await find_participant(pool, journey_id(mentor.cohort_id, participant_id))


class MentorChange(BaseModel):
    """A mentor's preferences to change; None leaves one as it is."""

    name: str | None = None
    timezone: str | None = None
    send_time: time | None = None
    digest_day: str | None = None
    digest: str | None = None  # weekly | off
    prompts: bool | None = None
    resubscribe: bool = False


async def update_mentor(pool: asyncpg.Pool, mentor: Mentor, change: MentorChange) -> Mentor:
    await pool.execute(
        """
        update mentors set name = coalesce($3, name), timezone = coalesce($4, timezone),
                           send_time = coalesce($5, send_time), digest_day = coalesce($6, digest_day),
                           digest = coalesce($7, digest), prompts = coalesce($8, prompts),
                           unsubscribed_at = case when $9 then null else unsubscribed_at end
        where cohort_id = $1 and mentor_id = $2
        """,
        mentor.cohort_id,
        mentor.mentor_id,
        change.name,
        change.timezone,
        change.send_time,
        change.digest_day,
        change.digest,
        change.prompts,
        change.resubscribe,
    )
    updated = await get_mentor(pool, mentor.cohort_id, mentor.mentor_id)
    assert updated is not None
    return updated
