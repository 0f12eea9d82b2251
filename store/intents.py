"""Postgres side of steering: who a link is for, and the intents recorded before the journey hears.

An intent is one command for a journey, from a participant's link or from staff. It is written (with the
participant's own columns) before anything is sent to Temporal, so an unreachable Temporal or a journey
not started yet loses nothing. Its id is the command id and the Temporal update id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, time
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from domain import Pause, RejectionCode, Resubscribe, Resume, SteerCommand, Unsubscribe
from infra.postgres import Connection
from workflows.contract import ConferenceInfo, parse_journey_id

# A pending intent is retried after 1, 2, 4 ... minutes, at most this many minutes apart.
MAX_RETRY_MINUTES = 360
# A claimed intent is not handed to another applier for this long (several web replicas may run).
CLAIM_SECONDS = 120


class IntentStatus(StrEnum):
    PENDING = "pending"  # recorded; the journey has not confirmed it yet
    APPLIED = "applied"  # the journey accepted it
    REJECTED = "rejected"  # the journey refused it (e.g. milestone already recorded); final


class Participant(BaseModel):
    """Who a command is for, with the preferences in force: the journey's (its `journey_status`
    projection) once it has started, the roster's before."""

    cohort_id: str
    participant_id: str
    workflow_id: str
    timezone: str
    send_days: list[str]
    send_time: time
    personas: list[str]
    paused_until: datetime | None
    unsubscribed_at: datetime | None
    greeting_name: str | None = None  # contact data: what emails greet them by (None: from the name)
    conferences: list[ConferenceInfo] = Field(default_factory=list)  # the journey's, not over yet


class Intent(BaseModel):
    intent_id: str
    action_id: str
    step: int
    workflow_id: str
    cohort_id: str
    participant_id: str
    action: str  # the link's action, or "staff"
    command: SteerCommand
    status: IntentStatus
    code: RejectionCode | None = None  # why rejected
    detail: str = ""  # the journey's message when rejected, or why still pending


class ParticipantWrite(BaseModel):
    """What the sender re-checks before every email, written with the intent (the participant's word
    first, effective even while the journey cannot hear it). Nothing else of a command is written here:
    the journey's events are the truth, `journey_status` their projection."""

    unsubscribe: bool = False
    paused_until: datetime | None = None
    resume: bool = False
    # The participant's consent lifts their unsubscribe at once, and withdraws one still on its way.
    resubscribe: bool = False

    @classmethod
    def of(cls, commands: list[SteerCommand]) -> ParticipantWrite:
        write = cls()
        for command in commands:
            match command:
                case Unsubscribe():
                    write.unsubscribe, write.resubscribe = True, False
                case Resubscribe():
                    write.unsubscribe, write.resubscribe = False, True
                case Pause():
                    write.paused_until, write.resume = command.until, False
                case Resume():
                    write.paused_until, write.resume = None, True
        return write


class Recorded(BaseModel):
    new: bool  # False: this exact submission was recorded before, and nothing changed now
    intents: list[Intent] = Field(default_factory=list)


def action_id_for(link_meaning: str, form: dict[str, str]) -> str:
    """Deterministic: the same link (what it means: journey, action, arguments, expiry, never the token's
    spelling; `LinkClaims.meaning()`) with the same form always gives the same id."""
    canonical = json.dumps(form, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{link_meaning}\x00{canonical}".encode()).hexdigest()[:32]


def intent_id_for(action_id: str, step: int) -> str:
    return f"link-{action_id}-{step}"


async def find_participant(pool: asyncpg.Pool, workflow_id: str) -> Participant | None:
    """The participant whose journey id is `workflow_id` (see `workflows.contract.journey_id`)."""
    ids = parse_journey_id(workflow_id)
    if ids is None:
        return None
    row = await pool.fetchrow(
        """
        select p.cohort_id, p.participant_id, p.unsubscribed_at, p.greeting_name,
               coalesce(s.timezone, p.timezone) as timezone,
               coalesce(s.send_days, p.send_days) as send_days,
               coalesce(s.send_time, p.send_time) as send_time,
               case when s.cohort_id is null then p.personas else s.personas end as personas,
               case when s.cohort_id is null then p.paused_until else s.paused_until end as paused_until,
               coalesce(s.conferences, '[]') as conferences
        from participants p left join journey_status s using (cohort_id, participant_id)
        where p.cohort_id = $1 and p.participant_id = $2
        """,
        *ids,
    )
    if row is None:
        return None
    data = dict(row) | {"conferences": json.loads(row["conferences"])}
    return Participant(workflow_id=workflow_id, **data)


_INTENT_COLUMNS = """intent_id, action_id, step, workflow_id, cohort_id, participant_id, action, command,
                     status, code, coalesce(detail, '') as detail"""


def _intent(row: asyncpg.Record) -> Intent:
    data = dict(row)
    data["command"] = json.loads(data["command"])  # the model reads the command by its type
    return Intent.model_validate(data)


async def record_action(
    pool: asyncpg.Pool,
    participant: Participant,
    action: str,
    action_id: str,
    commands: list[SteerCommand],
    *,
    ids: list[str] | None = None,
    also: Callable[[Connection], Awaitable[None]] | None = None,
) -> Recorded:
    """In one transaction: the intents (skipped if recorded before), then what the sender re-checks, then
    `also` (what the caller records with them, e.g. a consent).

    Each command's id becomes its intent's: `ids` when given (staff's), else derived from `action_id`."""
    async with pool.acquire() as conn, conn.transaction():
        # Serialises two identical submissions arriving together: the second sees the first's rows.
        await conn.execute("select pg_advisory_xact_lock(hashtext($1))", action_id)
        existing = await conn.fetch(
            f"select {_INTENT_COLUMNS} from participant_intents where action_id = $1 order by step", action_id
        )
        if existing:
            return Recorded(new=False, intents=[_intent(r) for r in existing])
        rows = await insert_intents(
            conn,
            (participant.workflow_id, participant.cohort_id, participant.participant_id),
            action,
            action_id,
            commands,
            ids=ids,
        )
        await _write_participant(conn, participant, ParticipantWrite.of(commands))
        if also is not None:
            await also(conn)
        return Recorded(new=True, intents=rows)


async def insert_intents(
    conn: Connection,
    journey: tuple[str, str, str],
    action: str,
    action_id: str,
    commands: list[SteerCommand],
    *,
    ids: list[str] | None = None,
) -> list[Intent]:
    """Write the commands as pending intents on `conn` (in the caller's transaction); `journey` is
    (workflow id, cohort id, participant id)."""
    rows = []
    for step, new in enumerate(commands):
        intent_id = ids[step] if ids is not None else intent_id_for(action_id, step)
        command = new.model_copy(update={"command_id": intent_id})
        row = await conn.fetchrow(
            f"""
            insert into participant_intents (intent_id, action_id, step, workflow_id, cohort_id,
                participant_id, action, command, status)
            values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'pending')
            returning {_INTENT_COLUMNS}
            """,
            intent_id,
            action_id,
            step,
            *journey,
            action,
            command.model_dump_json(),
        )
        assert row is not None
        rows.append(_intent(row))
    return rows


async def _write_participant(conn: Any, p: Participant, w: ParticipantWrite) -> None:
    if w == ParticipantWrite():
        return
    await conn.execute(
        """
        update participants set
            unsubscribed_at = case when $3 then coalesce(unsubscribed_at, now())
                                   when $6 then null else unsubscribed_at end,
            paused_until = case when $5 then null else coalesce($4, paused_until) end
        where cohort_id = $1 and participant_id = $2
        """,
        p.cohort_id,
        p.participant_id,
        w.unsubscribe,
        w.paused_until,
        w.resume,
        w.resubscribe,
    )
    if w.resubscribe:
        # An unsubscribe not delivered yet would otherwise reach the journey after the consent and end it.
        await conn.execute(
            """
            update participant_intents set status = 'rejected', code = $2, detail = $3, updated_at = now()
            where workflow_id = $1 and status = 'pending' and command->>'type' = 'unsubscribe'
            """,
            p.workflow_id,
            RejectionCode.WITHDRAWN.value,
            "withdrawn: the participant resubscribed before it reached the journey",
        )


async def settle_intent(
    pool: asyncpg.Pool,
    intent_id: str,
    status: IntentStatus,
    detail: str = "",
    code: RejectionCode | None = None,
) -> None:
    """Applied/rejected are final; pending backs off (1, 2, 4 ... minutes) before the next attempt."""
    await pool.execute(
        """
        update participant_intents set
            status = $2,
            detail = nullif($3, ''),
            code = $5,
            attempts = attempts + 1,
            applied_at = case when $2 = 'applied' then now() else applied_at end,
            next_attempt_at = now() + make_interval(mins => least(power(2, attempts)::int, $4)),
            updated_at = now()
        where intent_id = $1 and status = 'pending'
        """,
        intent_id,
        status.value,
        detail,
        MAX_RETRY_MINUTES,
        code.value if code is not None else None,
    )


async def claim_due_intents(pool: asyncpg.Pool, limit: int = 100) -> list[Intent]:
    """Pending intents whose retry time has come, oldest first, leased so another applier skips them."""
    rows = await pool.fetch(
        f"""
        with due as (
            select intent_id from participant_intents
            where status = 'pending' and next_attempt_at <= now()
            order by created_at, action_id, step
            limit $1
            for update skip locked
        ), claimed as (
            update participant_intents i
            set next_attempt_at = now() + make_interval(secs => $2)
            from due where i.intent_id = due.intent_id
            returning i.*
        )
        -- Within a journey the order the participant acted in matters (adopt, then drop).
        select {_INTENT_COLUMNS} from claimed order by created_at, action_id, step
        """,
        limit,
        CLAIM_SECONDS,
    )
    return [_intent(r) for r in rows]


async def intents_of(pool: asyncpg.Pool, workflow_id: str) -> list[Intent]:
    rows = await pool.fetch(
        f"select {_INTENT_COLUMNS} from participant_intents where workflow_id = $1 order by created_at, step",
        workflow_id,
    )
    return [_intent(r) for r in rows]


async def pending_of(pool: asyncpg.Pool, workflow_id: str) -> list[Intent]:
    """A journey's pending intents in the order given: a new one is delivered after the older ones."""
    rows = await pool.fetch(
        f"""select {_INTENT_COLUMNS} from participant_intents where workflow_id = $1 and status = 'pending'
            order by created_at, action_id, step""",
        workflow_id,
    )
    return [_intent(r) for r in rows]
