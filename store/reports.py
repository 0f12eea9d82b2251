"""Cohort and participant reports, read from the Postgres projections (never from Temporal)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

MODES = ("not_started", "active", "in_burst", "paused", "slowed", "quiet", "unsubscribed", "completed")


class CohortRow(BaseModel):
    cohort_id: str
    program: str
    start_date: date
    participants: int = 0
    modes: dict[str, int] = Field(default_factory=dict)


class NextSend(BaseModel):
    participant_id: str
    next_nudge_at: datetime
    next_nudge_id: str | None = None


class MentorCount(BaseModel):
    email: str
    mentees: int = 0
    digests_sent: int = 0


class FailedEmail(BaseModel):
    """An email that failed for good (a permanent reply, or one that could not be rendered or built)."""

    recipient: str  # participant | mentor
    recipient_id: str  # the participant's id, or the mentor's
    nudge_id: str
    scheduled_at: datetime
    error: str | None = None


class CohortStatus(BaseModel):
    cohort: CohortRow
    personas: dict[str, int] = Field(default_factory=dict)
    milestones: dict[str, int] = Field(default_factory=dict)
    # sent | failed | sending | uncertain | suppressed: every email of the cohort, participants' and mentors'
    emails: dict[str, int] = Field(default_factory=dict)
    next_sends: list[NextSend] = Field(default_factory=list)
    mentors: list[MentorCount] = Field(default_factory=list)
    failed: list[FailedEmail] = Field(default_factory=list)  # the most recent, at most `failed_limit`


class TimelineEvent(BaseModel):
    at: datetime
    type: str
    by: str = "program"  # who made it: participant (link) | staff | staff (cohort) | roster | program
    detail: dict[str, Any] = Field(default_factory=dict)


class ConferenceRow(BaseModel):
    conference_id: str
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None


class EmailRow(BaseModel):
    nudge_id: str
    kind: str
    status: str
    subject: str | None = None
    scheduled_at: datetime
    sent_at: datetime | None = None
    error: str | None = None


class ParticipantReport(BaseModel):
    cohort_id: str
    participant_id: str
    name: str
    email: str
    timezone: str
    send_days: list[str]
    send_time: time
    mode: str | None = None  # None: the journey has not recorded anything yet
    emails_sent: int | None = None  # as the journey's record counts them (settlements included)
    unsubscribed_at: datetime | None = None
    paused_until: datetime | None = None
    events: list[TimelineEvent] = Field(default_factory=list)
    emails: list[EmailRow] = Field(default_factory=list)
    ended: str | None = None  # completed | ended early | unsubscribed, with when and by whom
    conferences: list[ConferenceRow] = Field(default_factory=list)  # told and not over yet


def origin_of(command_id: str | None, payload: dict[str, Any]) -> str:
    """Who made an event, from what it carries: the command id's source (link intents are `link-...`, staff
    commands `staff-...` (`staff-cohort-...` for a whole cohort), the relay's `relay-...`, the launch's
    `enroll` and `roster-conference:...`), else a pause's origin; an event of the journey's own clock (a
    pause running out included) is the program's."""
    if command_id is None:
        return "program"
    for prefix, who in (
        ("link-", "participant (link)"),
        ("mentor-", "mentor (link)"),
        ("relay-", "relay"),  # its late reply settled an email (`store.ledger.tell_journey`)
        ("staff-cohort-", "staff (cohort)"),
        ("staff-", "staff"),
        ("roster-", "roster"),
        ("enroll", "roster"),
    ):
        if command_id.startswith(prefix):
            return who
    origin = payload.get("origin")
    if isinstance(origin, str) and origin:
        return _PAUSE_ORIGINS.get(origin, origin)
    return "program"


_PAUSE_ORIGINS = {"participant": "participant", "staff": "staff", "cohort": "staff (cohort)"}


def _ending(events: list[TimelineEvent]) -> str | None:
    """How the journey ended, or is ending, in words: read from its events."""
    by_type = {e.type: e for e in events}
    early = by_type.get("program_end_scheduled")
    early_text = f"ended early by {early.by} on {early.at:%Y-%m-%d}" if early else ""
    if (gone := by_type.get("unsubscribed")) is not None:
        return f"unsubscribed on {gone.at:%Y-%m-%d %H:%M} UTC (by {gone.by})"
    if (done := by_type.get("completed")) is not None:
        return f"completed on {done.at:%Y-%m-%d %H:%M} UTC" + (f"; {early_text}" if early else "")
    if early is not None:
        return f"ending: {early_text}; the recap goes at the next send slot"
    return None


def _conferences(events: list[TimelineEvent]) -> list[ConferenceRow]:
    ended = {e.detail.get("conference_id") for e in events if e.type == "burst_ended"}
    return [
        ConferenceRow.model_validate(e.detail)
        for e in events
        if e.type == "conference_added" and e.detail.get("conference_id") not in ended
    ]


def _cohort_row(row: asyncpg.Record) -> CohortRow:
    return CohortRow(
        cohort_id=row["cohort_id"],
        program=row["program"],
        start_date=row["start_date"],
        participants=row["participants"] or 0,
        modes={m: row[m] or 0 for m in MODES},
    )


_COHORTS = """
    select c.cohort_id, c.program, c.start_date, s.participants,
           s.not_started, s.active, s.in_burst, s.paused, s.slowed, s.quiet, s.unsubscribed, s.completed
    from cohorts c left join cohort_summary s using (cohort_id)
"""


async def list_cohorts(pool: asyncpg.Pool) -> list[CohortRow]:
    rows = await pool.fetch(_COHORTS + " order by c.created_at, c.cohort_id")
    return [_cohort_row(r) for r in rows]


async def cohort_status(
    pool: asyncpg.Pool, cohort_id: str, *, next_limit: int = 10, failed_limit: int = 20
) -> CohortStatus | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_COHORTS + " where c.cohort_id = $1", cohort_id)
        if row is None:
            return None
        personas = await conn.fetch(
            """
            select p as persona, count(*) as n from journey_status, unnest(personas) as p
            where cohort_id = $1 group by p order by p
            """,
            cohort_id,
        )
        milestones = await conn.fetch(
            """
            select milestone_id, count(*) as n from participant_milestones where cohort_id = $1
            group by milestone_id order by n desc, milestone_id
            """,
            cohort_id,
        )
        emails = await conn.fetch(
            "select status, count(*) as n from send_ledger where cohort_id = $1 group by status", cohort_id
        )
        upcoming = await conn.fetch(
            """
            select participant_id, next_nudge_at, next_nudge_id from journey_status
            where cohort_id = $1 and next_nudge_at is not null
            order by next_nudge_at, participant_id limit $2
            """,
            cohort_id,
            next_limit,
        )
        failed = await conn.fetch(
            """
            select recipient, recipient_id, nudge_id, scheduled_at, error from send_ledger
            where cohort_id = $1 and status = 'failed' order by updated_at desc, recipient_id limit $2
            """,
            cohort_id,
            failed_limit,
        )
        mentors = await conn.fetch(
            """
            select m.email,
                   (select count(*) from participants p
                    where p.cohort_id = m.cohort_id and lower(p.mentor_email) = m.email) as mentees,
                   (select count(*) from send_ledger l
                    where l.recipient = 'mentor' and l.cohort_id = m.cohort_id and l.mentor_id = m.mentor_id
                      and l.status = 'sent')
                       as digests_sent
            from mentors m where m.cohort_id = $1 order by m.email
            """,
            cohort_id,
        )
    sent = {r["status"]: r["n"] for r in emails}
    return CohortStatus(
        cohort=_cohort_row(row),
        personas={r["persona"]: r["n"] for r in personas},
        milestones={r["milestone_id"]: r["n"] for r in milestones},
        emails={k: sent.get(k, 0) for k in ("sent", "failed", "sending", "uncertain", "suppressed")},
        next_sends=[NextSend(**dict(r)) for r in upcoming],
        mentors=[MentorCount(**dict(r)) for r in mentors],
        failed=[FailedEmail(**dict(r)) for r in failed],
    )


async def cohorts_of_participant(pool: asyncpg.Pool, participant_id: str) -> list[str]:
    rows = await pool.fetch(
        "select cohort_id from participants where participant_id = $1 order by cohort_id", participant_id
    )
    return [r["cohort_id"] for r in rows]


async def cohort_participants(pool: asyncpg.Pool, cohort_id: str) -> list[str]:
    rows = await pool.fetch(
        "select participant_id from participants where cohort_id = $1 order by participant_id", cohort_id
    )
    return [r["participant_id"] for r in rows]


async def journey_modes(pool: asyncpg.Pool, cohort_id: str, participant_ids: list[str]) -> dict[str, str]:
    """Each participant's mode in the projection (absent: the journey has recorded nothing yet)."""
    if not participant_ids:
        return {}
    rows = await pool.fetch(
        "select participant_id, mode from journey_status where cohort_id = $1 and participant_id = any($2)",
        cohort_id,
        participant_ids,
    )
    return {r["participant_id"]: r["mode"] for r in rows}


async def participant_report(
    pool: asyncpg.Pool, cohort_id: str, participant_id: str
) -> ParticipantReport | None:
    async with pool.acquire() as conn:
        person = await conn.fetchrow(
            """
            -- The journey's preferences once it runs (its projection), the roster's before.
            select p.name, p.email, p.unsubscribed_at, p.paused_until, s.mode, s.emails_sent,
                   coalesce(s.timezone, p.timezone) as timezone,
                   coalesce(s.send_days, p.send_days) as send_days,
                   coalesce(s.send_time, p.send_time) as send_time
            from participants p
            left join journey_status s using (cohort_id, participant_id)
            where p.cohort_id = $1 and p.participant_id = $2
            """,
            cohort_id,
            participant_id,
        )
        if person is None:
            return None
        events = await conn.fetch(
            """
            select at, type, payload::text as payload from journey_events
            where cohort_id = $1 and participant_id = $2 order by at, seq
            """,
            cohort_id,
            participant_id,
        )
        emails = await conn.fetch(
            """
            select nudge_id, kind, status, subject, scheduled_at, sent_at, error from send_ledger
            where cohort_id = $1 and participant_id = $2 order by scheduled_at, nudge_key
            """,
            cohort_id,
            participant_id,
        )
    timeline = []
    for e in events:
        payload = json.loads(e["payload"])
        timeline.append(
            TimelineEvent(
                at=e["at"],
                type=e["type"],
                by=origin_of(payload.get("command_id"), payload),
                detail={k: v for k, v in payload.items() if v not in (None, [], {}, "")},
            )
        )
    return ParticipantReport(
        cohort_id=cohort_id,
        participant_id=participant_id,
        name=person["name"],
        email=person["email"],
        timezone=person["timezone"],
        send_days=list(person["send_days"]),
        send_time=person["send_time"],
        mode=person["mode"],
        emails_sent=person["emails_sent"],
        unsubscribed_at=person["unsubscribed_at"],
        paused_until=person["paused_until"],
        events=timeline,
        emails=[EmailRow(**dict(r)) for r in emails],
        ended=_ending(timeline),
        conferences=_conferences(timeline),
    )
