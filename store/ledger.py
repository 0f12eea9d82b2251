"""The send ledger as staff see it: rows in flight too long, rows nobody can settle alone (`uncertain`),
and staff's word on them (`mentorflow mail list --stuck|--uncertain`, `mail resolve`, `mail resend`). One
ledger for every email: a row is a participant's nudge or a mentor's digest or prompt (`recipient`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
from pydantic import BaseModel

from domain import NudgeKind, SettleEmail
from infra.postgres import Connection
from store.intents import insert_intents
from store.mentors import mark_digest
from workflows.contract import parse_journey_id

# A row in 'sending' for longer than this from its first claim is stuck (the alert's threshold too).
STUCK_AFTER = timedelta(minutes=15)


class LedgerError(Exception):
    """A staff command that cannot apply to the row; the message says why in one line."""


class LedgerRow(BaseModel):
    id: int
    workflow_id: str
    cohort_id: str
    recipient: str  # participant | mentor
    recipient_id: str  # the participant's id, or the mentor's (`mentorflow mentor list` shows whose)
    nudge_id: str
    status: str
    attempts: int
    claimed_at: datetime
    handed_over_at: datetime | None = None
    sent_at: datetime | None = None
    error: str | None = None
    resolution: str | None = None


_COLUMNS = """id, workflow_id, cohort_id, recipient, recipient_id, nudge_id, status, attempts, claimed_at,
              handed_over_at, sent_at, error, resolution"""


async def count_stuck(pool: asyncpg.Pool, older_than: timedelta = STUCK_AFTER) -> int:
    """Rows first claimed over `older_than` ago and still in flight (every retry refreshes updated_at)."""
    n = await pool.fetchval(
        "select count(*) from send_ledger where status = 'sending' and claimed_at < now() - $1::interval",
        older_than,
    )
    return int(n)


async def count_uncertain(pool: asyncpg.Pool) -> int:
    """Rows handed over with no reply, waiting for staff (`mentorflow mail resolve|resend`)."""
    return int(await pool.fetchval("select count(*) from send_ledger where status = 'uncertain'"))


async def stuck_rows(
    pool: asyncpg.Pool, *, cohort_id: str | None = None, older_than: timedelta = STUCK_AFTER
) -> list[LedgerRow]:
    """Rows still in 'sending' this long after their first claim, with the last reason they did not go."""
    rows = await pool.fetch(
        f"""
        select {_COLUMNS} from send_ledger
        where status = 'sending' and claimed_at < now() - $1::interval
          and ($2::text is null or cohort_id = $2)
        order by claimed_at, id
        """,
        older_than,
        cohort_id,
    )
    return [LedgerRow(**dict(r)) for r in rows]


async def uncertain_rows(pool: asyncpg.Pool, *, cohort_id: str | None = None) -> list[LedgerRow]:
    rows = await pool.fetch(
        f"""
        select {_COLUMNS} from send_ledger
        where status = 'uncertain' and ($1::text is null or cohort_id = $1)
        order by handed_over_at, id
        """,
        cohort_id,
    )
    return [LedgerRow(**dict(r)) for r in rows]


async def resolve(pool: asyncpg.Pool, row_id: int, *, sent: bool, by: str) -> LedgerRow:
    """Staff's word on an uncertain row (they asked the relay or the recipient): sent, or not sent
    (then `failed`; `mail resend` is the way to send it after all). A participant's journey is told in the
    same transaction (an intent the steering service delivers); a mentor's digest resolved sent moves the
    mentor's next digest on past it, as a digest that went does."""
    resolution = f"{'sent' if sent else 'not sent'} (resolved by {by})"
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""
            update send_ledger set
                status = case when $2 then 'sent' else 'failed' end,
                sent_at = case when $2 then handed_over_at else sent_at end,
                resolution = $3, updated_at = now()
            where id = $1 and status = 'uncertain'
            returning {_COLUMNS}, nudge_key, kind, mentor_id, scheduled_at
            """,
            row_id,
            sent,
            resolution,
        )
        if row is None:
            raise LedgerError(await _why_not(pool, row_id, "resolve"))
        await tell_journey(conn, row, row["status"], resolution, by="staff")
        if sent and row["recipient"] == "mentor" and row["nudge_id"] == "digest":
            await mark_digest(conn, row["cohort_id"], row["mentor_id"], row["scheduled_at"])
    return LedgerRow(**{k: v for k, v in dict(row).items() if k in LedgerRow.model_fields})


async def tell_journey(
    conn: Connection, row: asyncpg.Record, status: str, reason: str, *, by: Literal["staff", "relay"]
) -> None:
    """Record the ledger's final word on one of a journey's emails as the journey's command
    (`SettleEmail`), pending, in the caller's transaction: the steering service delivers it, so the
    journey's record and counts follow the ledger. `row` names the email (workflow_id, nudge_key,
    nudge_id, kind). A row that is no journey's email (a mentor's) has no journey to tell."""
    ids = parse_journey_id(row["workflow_id"])
    if ids is None:
        return
    command_id = f"{by}-settle-{uuid.uuid4().hex}"  # `by` first: reports read who made it from the id
    command = SettleEmail(
        command_id=command_id,
        nudge_id=row["nudge_id"],
        kind=NudgeKind(row["kind"]),
        nudge_key=row["nudge_key"],
        outcome=status,  # the ledger's final statuses are the outcomes (pydantic checks it)
        reason=reason[:500],
    )
    await insert_intents(conn, (row["workflow_id"], *ids), by, command_id, [command], ids=[command_id])


class Resend(BaseModel):
    """A row put back in flight: whose email it is and the send's own input (JSON), as the journey or the
    mentor's workflow asked for it."""

    workflow_id: str
    recipient: str  # participant | mentor
    input: str


async def reopen_for_resend(pool: asyncpg.Pool, row_id: int, *, by: str) -> Resend:
    """Put an uncertain (or failed) row back in flight for one more send, staff's explicit choice."""
    row = await pool.fetchrow(
        """
        update send_ledger set
            status = 'sending', handed_over_at = null, claimed_at = now(), updated_at = now(),
            resent_at = now(), resolution = $2
        where id = $1 and status in ('uncertain', 'failed') and input is not null
        returning workflow_id, recipient, input::text as input
        """,
        row_id,
        f"resent (by {by})",
    )
    if row is None:
        raise LedgerError(await _why_not(pool, row_id, "resend"))
    return Resend(workflow_id=row["workflow_id"], recipient=row["recipient"], input=row["input"])


async def not_resent(pool: asyncpg.Pool, row_id: int, reason: str) -> None:
    """A resend met a transient fault before the handover: failed again (no worker retries it); the
    journey is told."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """
            update send_ledger set status = 'failed', error = $2, updated_at = now()
            where id = $1 and status = 'sending'
            returning workflow_id, nudge_key, nudge_id, kind
            """,
            row_id,
            reason,
        )
        if row is not None:
            await tell_journey(conn, row, "failed", "sent again by staff: not sent", by="staff")


async def _why_not(pool: asyncpg.Pool, row_id: int, what: str) -> str:
    status = await pool.fetchval("select status from send_ledger where id = $1", row_id)
    if status is None:
        return f"no email {row_id} in the send ledger (see `mentorflow mail list --uncertain`)"
    if what == "resolve":
        return f"email {row_id} is {status}; only an uncertain email can be resolved"
    return f"email {row_id} is {status}; only an uncertain or failed email can be sent again"
