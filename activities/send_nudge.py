"""Send one nudge at most once: claim the ledger row, re-check the participant, render, mark the point of
no return, send, settle.

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
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg

from activities.mailer import (
    HandedOverNoReply,
    HandoverDeclined,
    OutgoingEmail,
    SmtpOutcome,
    TransientSmtpError,
    build_message,
    deliver,
    message_id_for,
    redact,
)
from activities.render import Link, milestone_title, persona_title, render_nudge
from activities.smtp_pool import SmtpPool
from domain.greeting import greeting_name
from domain.program import NudgeKind, Program
from domain.template_context import NudgeContext
from infra.links import Action, link_url, sign_link
from infra.logging import get_logger
from infra.settings import Settings
from store.ledger import tell_journey
from store.programs import ProgramCache
from workflows.contract import SendNudgeInput, SendNudgeResult, SendStatus

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


async def send_nudge(
    settings: Settings,
    pool: asyncpg.Pool,
    programs: ProgramCache,
    data: SendNudgeInput,
    *,
    smtp: SmtpPool | None = None,
) -> SendNudgeResult:
    """`smtp`: the worker's open SMTP connections; without, the email has a conversation of its own."""
    mail_domain = settings.mail_from_address.rpartition("@")[2] or "mentorflow.local"
    message_id = message_id_for(data.workflow_id, data.nudge_key, mail_domain)
    async with pool.acquire() as conn:
        claimed = await conn.fetchrow(
            """
            insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind,
                                     scheduled_at, status, message_id, attempts, input)
            values ($1, $2, $3, $4, $5, $6, $7, 'sending', $8, 1, $9::jsonb)
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
                      claimed_at < now() - $10::interval as over_budget
            """,
            data.workflow_id,
            data.nudge_key,
            data.cohort_id,
            data.participant_id,
            data.nudge_id,
            data.kind,
            data.scheduled_at,
            message_id,
            data.model_dump_json(),
            settings.send_retry_budget,
        )
        assert claimed is not None
        if claimed["status"] != "sending":
            # Settled by an earlier attempt, or handed over by one: never send twice.
            return SendNudgeResult(
                status=SendStatus(claimed["status"]),
                message_id=claimed["message_id"],
                detail=redact(claimed["error"]),
            )
        if claimed["over_budget"]:
            budget = _budget(settings.send_retry_budget)
            last = claimed["error"] or "no reply recorded"
            detail = f"retried for {budget} without success; last: {last}"
            return await _settle(pool, data, SendStatus.FAILED, message_id, detail, shown=redact(detail))
        person = await conn.fetchrow(
            """
            select p.name, p.greeting_name, p.email, p.mission, p.unsubscribed_at, p.paused_until,
                   p.mentor_email,
                   -- the roster's mentor name, else a mentor who is in the cohort too; else no name
                   coalesce(p.mentor_name, m.name) as mentor
            from participants p
            left join participants m on m.cohort_id = p.cohort_id and lower(m.email) = lower(p.mentor_email)
            where p.cohort_id = $1 and p.participant_id = $2
            """,
            data.cohort_id,
            data.participant_id,
        )
    if person is None:
        return await _settle(pool, data, SendStatus.FAILED, message_id, "participant not found in Postgres")
    now = datetime.now(UTC)
    if person["unsubscribed_at"] is not None:
        return await _settle(pool, data, SendStatus.SUPPRESSED, message_id, "unsubscribed")
    if person["paused_until"] is not None and person["paused_until"] > now:
        return await _settle(pool, data, SendStatus.SUPPRESSED, message_id, "paused")

    program = await programs.get(pool, data.cohort_id)
    context = NudgeContext(
        first_name=greeting_name(person["name"], person["greeting_name"]),
        program_title=program.spec.title,
        mentor_name=person["mentor"] or person["mentor_email"] or "",
        mentor_email=person["mentor_email"] or "",
        mission=person["mission"] or "",
        personas=[persona_title(p) for p in data.personas],
        achieved=[milestone_title(program, m) for m in data.achieved],
        weeks_left=data.weeks_left,
        conference=data.conference.model_dump() if data.conference else None,
        ended_early=data.ended_early,
    )
    links = action_links(settings, program, data, now)
    unsubscribe = links[-1].url
    try:
        rendered = render_nudge(program, data.nudge_id, context, links)
    except Exception as err:  # a template fault fails every attempt alike: this email fails, once
        reason = f"the nudge could not be rendered: {type(err).__name__}: {redact(str(err))}"
        return await _settle(pool, data, SendStatus.FAILED, message_id, reason)
    email = OutgoingEmail(
        to_name=person["name"],
        to_address=person["email"],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        unsubscribe_url=unsubscribe,
        date=now,
        reply_to_name=person["mentor"] or "",
        reply_to_address=person["mentor_email"],
    )
    token = uuid.uuid4().hex  # this attempt's mark, so that it can clear its own and nobody else's
    try:
        msg = build_message(email, settings.mail_from)
    except ValueError as err:  # e.g. a line break in the name: the same on every attempt
        reason = f"the message could not be built: {redact(str(err))}"
        return await _settle(pool, data, SendStatus.FAILED, message_id, reason, rendered.subject)
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
                data.workflow_id,
                data.nudge_key,
                token,
            )
            is not None
        )
        return marked

    subject = rendered.subject
    try:
        result = await deliver(settings, msg, smtp=smtp, handover=handover)
    except HandedOverNoReply as err:  # (redacted already)
        return await _settle(pool, data, SendStatus.UNCERTAIN, message_id, str(err), subject, surely=True)
    except HandoverDeclined as err:
        if err.unknown:  # the mark may have been written though nothing went: take back ours
            await _until_written(lambda: _unmark(pool, data, token), surely=True)
        settled = await _current(pool, data)
        if settled is not None:  # another attempt settled or handed it over: its word stands
            return settled
        raise TransientSmtpError(str(err)) from None  # Postgres away before the handover: retry freely
    except TransientSmtpError as err:
        # A definite "not now" (before DATA, or a 4xx to the message): nothing was taken; retry freely.
        # The full reply (it may name the address) in Postgres; what leaves the activity is redacted.
        if await _note_transient(pool, data, err.reply, settings.send_retry_budget, surely=marked):
            budget = _budget(settings.send_retry_budget)
            detail = f"retried for {budget} without success; last: "
            return await _settle(
                pool,
                data,
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
        return await _settle(
            pool,
            data,
            SendStatus.FAILED,
            message_id,
            result.reply,
            subject,
            surely=marked,
            shown=result.detail,
        )
    return await _settle(pool, data, SendStatus.SENT, message_id, "", subject, surely=True)


def action_links(settings: Settings, program: Program, data: SendNudgeInput, now: datetime) -> list[Link]:
    """The links every email offers; unsubscribe always last."""
    secret = settings.link_secret.get_secret_value()
    spec = next(n for n in program.spec.nudges if n.id == data.nudge_id)

    def url(action: Action, args: dict[str, str] | None = None) -> str:
        return link_url(settings.base_url, action, sign_link(secret, data.workflow_id, action, args, now=now))

    links = [
        Link(f"I did this: {milestone_title(program, m)}", url(Action.MILESTONE, {"milestone": m}))
        for m in spec.milestones
    ]
    if spec.kind is NudgeKind.SUNSET:
        links.append(Link("Yes, keep writing to me", url(Action.KEEP_GOING)))
    if spec.suggests:
        links.append(
            Link(
                f"Try the {persona_title(spec.suggests)} persona",
                url(Action.PERSONA, {"persona": spec.suggests}),
            )
        )
    links += [
        Link("Snooze for two weeks", url(Action.SNOOZE, {"weeks": "2"})),
        Link("Tell us about a conference", url(Action.CONFERENCE)),
        Link("Preferences", url(Action.PREFERENCES)),
        Link("Unsubscribe", url(Action.UNSUBSCRIBE)),
    ]
    return links


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


async def _settle(
    pool: asyncpg.Pool,
    data: SendNudgeInput,
    status: SendStatus,
    message_id: str,
    detail: str,
    subject: str | None = None,
    *,
    surely: bool = False,
    shown: str | None = None,
) -> SendNudgeResult:
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
                data.workflow_id,
                data.nudge_key,
                status.value,
                detail,
                subject,
            )
            # The journey was told `uncertain` (or, for a resend, what the first send came to): the
            # ledger's new word goes to it too. A late reply to an attempt given up on is the relay's.
            if row is not None and (
                row["resent"] or (row["was"] == "uncertain" and status is not SendStatus.UNCERTAIN)
            ):
                reason = redact(shown if shown is not None else detail) or status.value
                await tell_journey(conn, row, status.value, reason, by="staff" if row["resent"] else "relay")

    await _until_written(write, surely)
    return SendNudgeResult(status=status, message_id=message_id, detail=detail if shown is None else shown)


async def _note_transient(
    pool: asyncpg.Pool, data: SendNudgeInput, error: str, budget: timedelta, *, surely: bool
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
            data.workflow_id,
            data.nudge_key,
            error,
            budget,
        )
        return bool(spent)

    try:
        return await _until_written(write, surely)
    except POSTGRES_AWAY:
        return False


async def _unmark(pool: asyncpg.Pool, data: SendNudgeInput, token: str) -> None:
    await pool.execute(
        """
        update send_ledger set handed_over_at = null, handover_token = null, updated_at = now()
        where workflow_id = $1 and nudge_key = $2 and status = 'sending' and handover_token = $3
        """,
        data.workflow_id,
        data.nudge_key,
        token,
    )


async def _current(pool: asyncpg.Pool, data: SendNudgeInput) -> SendNudgeResult | None:
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
            data.workflow_id,
            data.nudge_key,
        )
        row = await pool.fetchrow(
            """
            select status, message_id, coalesce(error, '') as error
            from send_ledger where workflow_id = $1 and nudge_key = $2
            """,
            data.workflow_id,
            data.nudge_key,
        )
    except POSTGRES_AWAY:
        return None
    if row is None or row["status"] == "sending":
        return None
    status = SendStatus(row["status"])
    return SendNudgeResult(status=status, message_id=row["message_id"], detail=redact(row["error"]))
