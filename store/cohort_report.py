"""`cohort report`: how a cohort is doing, read from the event store (projections and journey_events, never
Temporal). Each part is one aggregate query; they run side by side on the pool's connections."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from domain import MentorAmplified

# Modes in the order staff read them; a mode the journey gains later is listed after these.
MODE_ORDER = ("active", "slowed", "quiet", "burst", "paused", "unsubscribed", "completed")
FINISHED = frozenset({"unsubscribed", "completed"})
# A click is an event a signed link caused: its command id is the link intent's id.
CLICK_PREFIX = "link-"
CLICK_KINDS = {
    "milestone_achieved": "milestones",
    "paused": "snoozes",
    "schedule_changed": "preferences",
    "persona_adopted": "preferences",
    "persona_dropped": "preferences",
    "resumed": "preferences",
    "conference_added": "conferences",
    "unsubscribed": "unsubscribes",
}
# A mentor's "I amplified it" (web/mentors.py): an event on the mentee's journey.
AMPLIFIED: str = MentorAmplified.model_fields["type"].default
# A send still `sending` after this long is stuck (the same bar as the worker's ledger alert).
STUCK_AFTER = timedelta(minutes=30)


class FunnelStep(BaseModel):
    milestone_id: str
    title: str
    reached: int = 0


class PersonaFunnel(BaseModel):
    persona: str
    holders: int = 0  # participants holding the persona now
    steps: list[FunnelStep] = Field(default_factory=list)  # the persona's milestones in program order


class WeekRow(BaseModel):
    week: date  # Monday (UTC) the week starts on
    # ledger status -> emails scheduled that week, to participants and mentors alike
    emails: dict[str, int] = Field(default_factory=dict)
    mentor_emails: int = 0  # of those, the mentors' digests and amplify prompts (any status)
    clicks: dict[str, int] = Field(default_factory=dict)  # milestones | snoozes | preferences | ...
    modes: dict[str, int] = Field(default_factory=dict)  # participants in each mode at the week's end


class Attention(BaseModel):
    kind: str  # silent | send | unsubscribed | mentor
    who: str  # participant id, or the mentor's email
    detail: str
    at: datetime | None = None


class ParticipantLine(BaseModel):
    participant_id: str
    name: str
    email: str
    mentor_email: str | None = None
    personas: list[str] = Field(default_factory=list)
    milestones: list[str] = Field(default_factory=list)  # in the order achieved
    last_click: datetime | None = None
    amplified: int = 0  # milestones the participant's mentor amplified
    emails_sent: int = 0
    mode: str | None = None  # None: the journey has recorded nothing yet


class CohortReport(BaseModel):
    cohort_id: str
    program: str
    start_date: date
    generated_at: datetime
    since: date
    quiet_weeks: int
    participants: int = 0
    modes: list[str] = Field(default_factory=list)  # the modes the weeks mention, in display order
    funnel: list[PersonaFunnel] = Field(default_factory=list)
    weeks: list[WeekRow] = Field(default_factory=list)
    attention: list[Attention] = Field(default_factory=list)
    people: list[ParticipantLine] = Field(default_factory=list)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


_PEOPLE = """
    select p.participant_id, p.name, p.email, p.mentor_email,
           coalesce(s.personas, p.personas) as personas, s.mode
    from participants p left join journey_status s using (cohort_id, participant_id)
    where p.cohort_id = $1 order by p.participant_id
"""
_MILESTONES = """
    select participant_id, milestone_id from participant_milestones where cohort_id = $1
    order by participant_id, achieved_at, milestone_id
"""
_SENT = """
    select participant_id, count(*) as n from send_ledger
    where cohort_id = $1 and status = 'sent' and recipient = 'participant'
    group by participant_id
"""
_CLICK_WHERE = f"cohort_id = $1 and payload ->> 'command_id' like '{CLICK_PREFIX}%'"
_LAST_CLICK = f"select participant_id, max(at) as at from journey_events where {_CLICK_WHERE} group by 1"
_FIRST_SEEN = "select participant_id, min(at) as at from journey_modes where cohort_id = $1 group by 1"
_AMPLIFIED = f"""
    select participant_id, count(*) as n from journey_events where cohort_id = $1 and type = '{AMPLIFIED}'
    group by 1
"""
_WEEK_AMPLIFIED = f"""
    select date_trunc('week', at, 'UTC')::date as week, count(*) as n from journey_events
    where cohort_id = $1 and type = '{AMPLIFIED}' and at >= $2 and at < $3 group by 1
"""
# Unsubscribed lately: the participant's own word (written first) or the journey's event.
_UNSUBSCRIBED = """
    select participant_id, min(at) as at from (
        select participant_id, unsubscribed_at as at from participants
        where cohort_id = $1 and unsubscribed_at >= $2
        union all
        select participant_id, at from journey_modes
        where cohort_id = $1 and mode = 'unsubscribed' and at >= $2
    ) u group by 1 order by 2, 1
"""
_WEEK_EMAILS = """
    select date_trunc('week', scheduled_at, 'UTC')::date as week, status, recipient, count(*) as n
    from send_ledger where cohort_id = $1 and scheduled_at >= $2 and scheduled_at < $3 group by 1, 2, 3
"""
# One click (a submitted link, `link-{action}-{step}`) can cause several events: counted once per kind.
_WEEK_CLICKS = f"""
    select date_trunc('week', at, 'UTC')::date as week, type,
           count(distinct regexp_replace(payload ->> 'command_id', '-[0-9]+$', '')) as n
    from journey_events
    where {_CLICK_WHERE} and at >= $2 and at < $3 and type = any($4::text[]) group by 1, 2
"""
# The mode at a week's end is the last change before it. A change at `at`, superseded at `until`, counts
# +1 for its mode from the week holding `at` and -1 from the week holding `until`: per (week, mode) deltas
# summed in order give the count at every week's end (weeks without a change carry the last count).
_WEEK_MODES = """
    with changes as (
        select mode, at, lead(at) over (partition by participant_id order by at, seq) as until
        from journey_modes where cohort_id = $1
    ), deltas as (
        select date_trunc('week', at, 'UTC') as wk, mode, 1 as d from changes
        union all
        select date_trunc('week', until, 'UTC'), mode, -1 from changes where until is not null
    ), per_week as (
        select wk, mode, sum(d)::int as d from deltas group by 1, 2
    )
    select wk::date as week, mode, (sum(d) over (partition by mode order by wk))::int as n
    from per_week where wk <= $2 order by mode, wk
"""
# A mentor's email is named by the mentor's email address, as the report's mentor lines are.
_BAD_SENDS = """
    select l.recipient, coalesce(l.participant_id, m.email) as who, l.nudge_id, l.status, l.scheduled_at,
           l.updated_at, l.error
    from send_ledger l left join mentors m on m.cohort_id = l.cohort_id and m.mentor_id = l.mentor_id
    where l.cohort_id = $1 and l.scheduled_at >= $2
      and l.status <> all(array['sent', 'suppressed'])
      and (l.status <> 'sending' or l.updated_at < $3)
    order by l.scheduled_at, who
"""


async def cohort_report(
    pool: asyncpg.Pool,
    cohort_id: str,
    *,
    now: datetime,
    since: date | None = None,
    quiet_weeks: int = 3,
) -> CohortReport | None:
    """The cohort's report as of `now`; weeks from `since` (default: the cohort's start). None: no cohort."""
    cohort = await pool.fetchrow(
        # Milestones in program order, read as stored (importing the domain costs this command more).
        "select program, start_date, program_json -> 'spec' -> 'milestones' as milestones from cohorts "
        "where cohort_id = $1",
        cohort_id,
    )
    if cohort is None:
        return None
    first = week_start(since or cohort["start_date"])
    last = week_start(now.astimezone(UTC).date())
    lo, hi = _utc_midnight(first), _utc_midnight(last)
    end = hi + timedelta(weeks=1)

    async def fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, cohort_id, *args)
            return rows

    (
        people,
        milestones,
        sent,
        clicks,
        seen,
        w_emails,
        w_clicks,
        w_modes,
        bad,
        unsub,
        amplified,
        w_amplified,
    ) = await asyncio.gather(
        fetch(_PEOPLE),
        fetch(_MILESTONES),
        fetch(_SENT),
        fetch(_LAST_CLICK),
        fetch(_FIRST_SEEN),
        fetch(_WEEK_EMAILS, lo, end),
        fetch(_WEEK_CLICKS, lo, end, list(CLICK_KINDS)),
        fetch(_WEEK_MODES, hi),
        fetch(_BAD_SENDS, lo, now - STUCK_AFTER),
        fetch(_UNSUBSCRIBED, now - timedelta(days=7)),
        fetch(_AMPLIFIED),
        fetch(_WEEK_AMPLIFIED, lo, end),
    )
    achieved: dict[str, list[str]] = {}
    for r in milestones:
        achieved.setdefault(r["participant_id"], []).append(r["milestone_id"])
    sent_by = {r["participant_id"]: r["n"] for r in sent}
    click_by = {r["participant_id"]: r["at"] for r in clicks}
    amplified_by = {r["participant_id"]: r["n"] for r in amplified}
    # Thousands of rows straight from Postgres's typed columns: built without validation.
    lines = [
        ParticipantLine.model_construct(
            participant_id=r["participant_id"],
            name=r["name"],
            email=r["email"],
            mentor_email=r["mentor_email"],
            personas=list(r["personas"]),
            milestones=achieved.get(r["participant_id"], []),
            last_click=click_by.get(r["participant_id"]),
            amplified=amplified_by.get(r["participant_id"], 0),
            emails_sent=sent_by.get(r["participant_id"], 0),
            mode=r["mode"],
        )
        for r in people
    ]
    program_milestones = json.loads(cohort["milestones"]) if cohort["milestones"] else []
    weeks = _weeks(first, last, w_emails, w_clicks, w_modes)
    for r in w_amplified:
        for w in weeks:
            if w.week == r["week"]:
                w.clicks["amplified"] = r["n"]
    seen_at = {r["participant_id"]: r["at"] for r in seen}
    unsubscribed = {r["participant_id"]: r["at"] for r in unsub}
    return CohortReport(
        cohort_id=cohort_id,
        program=cohort["program"],
        start_date=cohort["start_date"],
        generated_at=now,
        since=first,
        quiet_weeks=quiet_weeks,
        participants=len(lines),
        modes=_mode_order({m for w in weeks for m in w.modes} | {p.mode for p in lines if p.mode}),
        funnel=_funnel(program_milestones, lines),
        weeks=weeks,
        attention=_attention(lines, seen_at, unsubscribed, bad, now, quiet_weeks),
        people=lines,
    )


def _mode_order(modes: set[str]) -> list[str]:
    return [m for m in MODE_ORDER if m in modes] + sorted(modes - set(MODE_ORDER))


def _funnel(milestones: list[dict[str, str]], lines: list[ParticipantLine]) -> list[PersonaFunnel]:
    reached: dict[str, int] = {}
    holders: dict[str, int] = {}
    for line in lines:
        for mid in line.milestones:
            reached[mid] = reached.get(mid, 0) + 1
        for p in line.personas:
            holders[p] = holders.get(p, 0) + 1
    funnels: dict[str, PersonaFunnel] = {}
    for m in milestones:
        persona = m["persona"]
        funnel = funnels.setdefault(persona, PersonaFunnel(persona=persona, holders=holders.get(persona, 0)))
        funnel.steps.append(
            FunnelStep(milestone_id=m["id"], title=m["title"], reached=reached.get(m["id"], 0))
        )
    return list(funnels.values())


def _weeks(
    first: date,
    last: date,
    emails: list[asyncpg.Record],
    clicks: list[asyncpg.Record],
    modes: list[asyncpg.Record],
) -> list[WeekRow]:
    rows: dict[date, WeekRow] = {}
    day = first
    while day <= last:
        rows[day] = WeekRow(week=day)
        day += timedelta(weeks=1)
    for r in emails:
        if r["week"] in rows:
            row = rows[r["week"]]
            row.emails[r["status"]] = row.emails.get(r["status"], 0) + r["n"]
            if r["recipient"] == "mentor":
                row.mentor_emails += r["n"]
    for r in clicks:
        if r["week"] in rows:
            kind = CLICK_KINDS[r["type"]]
            row = rows[r["week"]]
            row.clicks[kind] = row.clicks.get(kind, 0) + r["n"]
    # Cumulative counts per mode at the weeks something changed: carried to the weeks in between.
    by_mode: dict[str, list[tuple[date, int]]] = {}
    for r in modes:
        by_mode.setdefault(r["mode"], []).append((r["week"], r["n"]))
    for mode, points in by_mode.items():
        i, n = 0, 0
        for day, row in rows.items():
            while i < len(points) and points[i][0] <= day:
                n = points[i][1]
                i += 1
            if n:
                row.modes[mode] = n
    return list(rows.values())


def _attention(
    lines: list[ParticipantLine],
    seen_at: dict[str, datetime],
    unsubscribed: dict[str, datetime],
    bad_sends: list[asyncpg.Record],
    now: datetime,
    quiet_weeks: int,
) -> list[Attention]:
    """Who staff should look at: silent readers, emails that did not go, this week's unsubscribes, and
    mentors none of whose mentees clicked lately."""
    out: list[Attention] = []
    bar = now - timedelta(weeks=quiet_weeks)
    silent: set[str] = set()
    for line in lines:
        if line.mode is None or line.mode in FINISHED:
            continue
        since = line.last_click or seen_at.get(line.participant_id)
        if since is not None and since < bar:
            silent.add(line.participant_id)
            what = f"last click {since:%Y-%m-%d}" if line.last_click else "no click since the journey began"
            out.append(
                Attention.model_construct(
                    kind="silent",
                    who=line.participant_id,
                    detail=f"no click for {(now - since).days // 7} weeks ({what})",
                    at=since,
                )
            )
    for r in bad_sends:
        state = "stuck in sending" if r["status"] == "sending" else r["status"]
        reason = f": {r['error']}" if r["error"] else ""
        what = "mentor email" if r["recipient"] == "mentor" else "email"
        out.append(
            Attention(
                kind="send",
                who=r["who"],
                detail=f"{what} {r['nudge_id']} {state}{reason}"[:300],
                at=r["scheduled_at"],
            )
        )
    for pid, at in unsubscribed.items():
        out.append(Attention(kind="unsubscribed", who=pid, detail="unsubscribed this week", at=at))
    mentees: dict[str, list[ParticipantLine]] = {}
    for line in lines:
        if line.mentor_email and line.mode is not None and line.mode not in FINISHED:
            mentees.setdefault(line.mentor_email, []).append(line)
    for mentor, group in sorted(mentees.items()):
        if all(m.participant_id in silent for m in group):
            out.append(
                Attention(
                    kind="mentor",
                    who=mentor,
                    detail=f"all {len(group)} mentee(s) quiet for {quiet_weeks}+ weeks: "
                    + ", ".join(m.participant_id for m in group[:10]),
                )
            )
    return out
