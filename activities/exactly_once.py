"""The send ledger's exactly-once path, for every email (a participant's nudge, a mentor's digest or
prompt): claim the row, hand the message over behind a recorded point of no return, settle.

SMTP cannot be exactly-once: once the message is handed over (DATA), a lost reply leaves it unknown
whether the relay stored it. So the ledger records the handover before it happens; an attempt that finds
the mark and no outcome (the one before it died, timed out or lost the connection) never sends again: the
row becomes `uncertain` for staff to resolve (`mentorflow mail resolve|resend`). Before the mark, every
fault is retried freely, within the settings' retry budget counted from the first claim.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import asyncpg
from pydantic import BaseModel
from temporalio import activity

from activities.mailer import (
    HandedOverNoReply,
    HandoverDeclined,
    SmtpOutcome,
    TransientSmtpError,
    WireMessage,
    deliver,
    message_id_for,
    redact,
)
from activities.smtp_pool import SmtpPool
from infra.logging import get_logger
from infra.settings import Settings
from store.ledger import tell_journey
from workflows.contract import SendNudgeResult, SendStatus

# Postgres errors that mean "not reachable right now", as opposed to a statement it refused.
POSTGRES_AWAY = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
)
# A settle after the handover is retried this often (doubling) until Postgres answers.
SETTLE_RETRY_FIRST = 0.2
SETTLE_RETRY_MAX = 5.0

log = get_logger(__name__)
T = TypeVar("T")


class Recipient(StrEnum):
    PARTICIPANT = "participant"
    MENTOR = "mentor"


class LedgerEntry(BaseModel):
    """One email's row: keyed by (workflow_id, nudge_key); `input` is what `mail resend` needs to make the
    send again (ids and facts, no contact data)."""

    workflow_id: str
    nudge_key: str
    cohort_id: str
    recipient: Recipient
    recipient_id: str  # the participant's or the mentor's id
    nudge_id: str
    kind: str
    scheduled_at: datetime
    input: str  # JSON

    def message_id(self, settings: Settings) -> str:
        domain = settings.mail_from_address.rpartition("@")[2] or "mentorflow.local"
        return message_id_for(self.workflow_id, self.nudge_key, domain)


class Claimed(BaseModel):
    """The row as this attempt found it. `settled`: not this attempt's to send (its result says why)."""

    settled: SendNudgeResult | None = None
    message_id: str


async def claim(pool: asyncpg.Pool, settings: Settings, entry: LedgerEntry) -> Claimed:
    """Claim the row before anything else; settled (or handed over) already: never sent again; past the
    retry budget: failed."""
    message_id = entry.message_id(settings)
    participant = entry.recipient_id if entry.recipient is Recipient.PARTICIPANT else None
    mentor = entry.recipient_id if entry.recipient is Recipient.MENTOR else None
    claimed = await pool.fetchrow(
        """
        insert into send_ledger (workflow_id, nudge_key, cohort_id, recipient, participant_id, mentor_id,
                                 nudge_id, kind, scheduled_at, status, message_id, attempts, input)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'sending', $10, 1, $11::jsonb)
        on conflict (workflow_id, nudge_key) do update set
            attempts = send_ledger.attempts + 1,
            updated_at = now(),
            -- handed over by an attempt that never recorded the reply: nobody may send it again
            status = case when send_ledger.status = 'sending' and send_ledger.handed_over_at is not null
                          then 'uncertain' else send_ledger.status end,
            error = case when send_ledger.status = 'sending' and send_ledger.handed_over_at is not null
                         then 'handed over to the relay at '
                              || to_char(send_ledger.handed_over_at at time zone 'UTC',
                                         'YYYY-MM-DD HH24:MI:SS "UTC"')
                              || '; that attempt ended without recording a reply (worker stopped or died)'
                         else send_ledger.error end
        returning status, message_id, coalesce(error, '') as error,
                  claimed_at < now() - $12::interval as over_budget
        """,
        entry.workflow_id,
        entry.nudge_key,
        entry.cohort_id,
        entry.recipient.value,
        participant,
        mentor,
        entry.nudge_id,
        entry.kind,
        entry.scheduled_at,
        message_id,
        entry.input,
        settings.send_retry_budget,
    )
    assert claimed is not None
    if claimed["status"] != "sending":
        # Settled by an earlier attempt, or handed over by one: never send twice.
        done = SendNudgeResult(
            status=SendStatus(claimed["status"]),
            message_id=claimed["message_id"],
            detail=redact(claimed["error"]),
        )
        return Claimed(settled=done, message_id=message_id)
    if claimed["over_budget"]:
        budget = _budget(settings.send_retry_budget)
        last = claimed["error"] or "no reply recorded"
        detail = f"retried for {budget} without success; last: {last}"
        failed = await settle(pool, entry, SendStatus.FAILED, message_id, detail, shown=redact(detail))
        return Claimed(settled=failed, message_id=message_id)
    return Claimed(message_id=message_id)


async def send_once(
    settings: Settings,
    pool: asyncpg.Pool,
    entry: LedgerEntry,
    msg: WireMessage,
    message_id: str,
    subject: str,
    *,
    smtp: SmtpPool | None = None,
) -> SendNudgeResult:
    """Hand the claimed row's message over (the point of no return recorded first) and settle the row with
    the outcome. Raises TransientSmtpError for a definite "not now" before the mark (retry freely)."""
    token = uuid.uuid4().hex  # this attempt's mark, so that it can clear its own and nobody else's
    marked = False

    async def handover() -> bool:
        """The point of no return, recorded only if no other attempt settled or crossed it meanwhile."""
        nonlocal marked
        marked = (
            await pool.fetchval(
                """
            update send_ledger set handed_over_at = now(), handover_token = $3, updated_at = now()
            where workflow_id = $1 and nudge_key = $2 and status = 'sending' and handed_over_at is null
            returning true
            """,
                entry.workflow_id,
                entry.nudge_key,
                token,
            )
            is not None
        )
        return marked

    try:
        result = await deliver(settings, msg, smtp=smtp, handover=handover)
    except HandedOverNoReply as err:  # (redacted already)
        return await settle(pool, entry, SendStatus.UNCERTAIN, message_id, str(err), subject, surely=True)
    except HandoverDeclined as err:
        if err.unknown:  # the mark may have been written though nothing went: take back ours
            await _until_written(lambda: _unmark(pool, entry, token), surely=True)
        settled = await _current(pool, entry)
        if settled is not None:  # another attempt settled or handed it over: its word stands
            return settled
        raise TransientSmtpError(str(err)) from None  # Postgres away before the handover: retry freely
    except TransientSmtpError as err:
        # A definite "not now" (before DATA, or a 4xx to the message): nothing was taken; retry freely.
        # The full reply (it may name the address) in Postgres; what leaves the activity is redacted.
        if await _note_transient(pool, entry, err.reply, settings.send_retry_budget, surely=marked):
            budget = _budget(settings.send_retry_budget)
            detail = f"retried for {budget} without success; last: "
            return await settle(
                pool,
                entry,
                SendStatus.FAILED,
                message_id,
                detail + err.reply,
                subject,
                surely=marked,
                shown=detail + str(err),
            )
        raise
    if result.outcome is SmtpOutcome.REJECTED:
        # The full reply (it may name the address) in Postgres; the result (Temporal) redacted.
        return await settle(
            pool,
            entry,
            SendStatus.FAILED,
            message_id,
            result.reply,
            subject,
            surely=marked,
            shown=result.detail,
        )
    return await settle(pool, entry, SendStatus.SENT, message_id, "", subject, surely=True)


def record_outcome(result: SendNudgeResult, nudge_key: str) -> None:
    """The worker's metrics and log lines for a send's outcome, whoever it was for (nothing outside an
    activity: a staff `mail resend` has no worker metrics)."""
    if not activity.in_activity():
        return
    meter = activity.metric_meter()
    if result.status is SendStatus.UNCERTAIN:
        meter.create_counter(
            "mentorflow_emails_uncertain", "Emails handed over with no reply: staff must resolve them"
        ).add(1)
        activity.logger.warning("email uncertain", extra={"nudge_key": nudge_key, "detail": result.detail})
    elif result.status is SendStatus.SENT:
        meter.create_counter("mentorflow_emails_sent", "Emails accepted by the SMTP server").add(1)
    elif result.status is SendStatus.FAILED:
        meter.create_counter("mentorflow_emails_failed", "Emails refused for good (5xx)").add(1)
        activity.logger.warning("email refused", extra={"nudge_key": nudge_key, "detail": result.detail})


def _budget(budget: timedelta) -> str:
    hours = budget.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


async def _until_written(write: Callable[[], Awaitable[T]], surely: bool) -> T:
    """`write()`; with `surely`, retried until Postgres answers. After the relay took (or may hold) the
    message, a lost write must not become a retry of the whole send (a second copy). The activity's
    heartbeat keeps it alive meanwhile; cancelling it (timeout, shutdown) leaves the mark, so the next
    attempt makes the row `uncertain`, never a second send."""
    delay = SETTLE_RETRY_FIRST
    while True:
        try:
            return await write()
        except POSTGRES_AWAY as err:
            if not surely:
                raise
            log.warning("ledger write failed after the handover; retrying", error=repr(err), delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, SETTLE_RETRY_MAX)


async def settle(
    pool: asyncpg.Pool,
    entry: LedgerEntry,
    status: SendStatus,
    message_id: str,
    detail: str,
    subject: str | None = None,
    *,
    surely: bool = False,
    shown: str | None = None,
) -> SendNudgeResult:
    """Write the row's outcome (the full `detail` in Postgres; `shown`, redacted, in the result)."""

    async def write() -> None:
        # 'uncertain' too: an attempt that outlived its timeout may still learn the reply (the truth wins).
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                with old as (
                    select id, status, resent_at from send_ledger
                    where workflow_id = $1 and nudge_key = $2 for update
                )
                update send_ledger l
                set status = $3, error = nullif($4, ''), subject = coalesce($5, l.subject),
                    sent_at = case when $3 = 'sent' then now() else l.sent_at end, updated_at = now()
                from old
                where l.id = old.id and old.status in ('sending', 'uncertain')
                returning old.status as was, old.resent_at is not null as resent,
                          l.workflow_id, l.nudge_key, l.nudge_id, l.kind
                """,
                entry.workflow_id,
                entry.nudge_key,
                status.value,
                detail,
                subject,
            )
            # The journey was told `uncertain` (or, for a resend, what the first send came to): the
            # ledger's new word goes to it too. A late reply to an attempt given up on is the relay's.
            # (A mentor's email is no journey's: `tell_journey` leaves it.)
            if row is not None and (
                row["resent"] or (row["was"] == "uncertain" and status is not SendStatus.UNCERTAIN)
            ):
                reason = redact(shown if shown is not None else detail) or status.value
                await tell_journey(conn, row, status.value, reason, by="staff" if row["resent"] else "relay")

    await _until_written(write, surely)
    return SendNudgeResult(status=status, message_id=message_id, detail=detail if shown is None else shown)


async def _note_transient(
    pool: asyncpg.Pool, entry: LedgerEntry, error: str, budget: timedelta, *, surely: bool
) -> bool:
    """Write why this attempt failed (for `mail list --stuck`), clearing a handover the relay answered;
    True if the retry budget is spent. Postgres away before the handover: the retry finds out."""

    async def write() -> bool:
        spent = await pool.fetchval(
            """
            update send_ledger
            set error = $3, handed_over_at = null, handover_token = null, updated_at = now()
            where workflow_id = $1 and nudge_key = $2 and status = 'sending'
            returning claimed_at < now() - $4::interval
            """,
            entry.workflow_id,
            entry.nudge_key,
            error,
            budget,
        )
        return bool(spent)

    try:
        return await _until_written(write, surely)
    except POSTGRES_AWAY:
        return False


async def _unmark(pool: asyncpg.Pool, entry: LedgerEntry, token: str) -> None:
    await pool.execute(
        """
        update send_ledger set handed_over_at = null, handover_token = null, updated_at = now()
        where workflow_id = $1 and nudge_key = $2 and status = 'sending' and handover_token = $3
        """,
        entry.workflow_id,
        entry.nudge_key,
        token,
    )


async def _current(pool: asyncpg.Pool, entry: LedgerEntry) -> SendNudgeResult | None:
    """The row's outcome if it is no longer this attempt's to decide; None if it is still 'sending'.
    Handed over by another attempt with no reply recorded: written `uncertain` here, as a claim would, so
    the ledger says what this attempt answers even if that other attempt never settles (it was given up
    on by Temporal and is cancelled); if it does learn the reply, its settle still wins."""
    try:
        await pool.execute(
            """
            update send_ledger set status = 'uncertain', updated_at = now(),
                error = 'handed over to the relay at '
                        || to_char(handed_over_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
                        || ' by another attempt, which had not recorded a reply'
            where workflow_id = $1 and nudge_key = $2 and status = 'sending' and handed_over_at is not null
            """,
            entry.workflow_id,
            entry.nudge_key,
        )
        row = await pool.fetchrow(
            """
            select status, message_id, coalesce(error, '') as error
            from send_ledger where workflow_id = $1 and nudge_key = $2
            """,
            entry.workflow_id,
            entry.nudge_key,
        )
    except POSTGRES_AWAY:
        return None
    if row is None or row["status"] == "sending":
        return None
    status = SendStatus(row["status"])
    return SendNudgeResult(status=status, message_id=row["message_id"], detail=redact(row["error"]))
