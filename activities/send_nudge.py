"""Send one nudge exactly once: claim the ledger row, re-check the participant, render, send, mark."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from activities.mailer import (
    OutgoingEmail,
    SmtpOutcome,
    build_message,
    deliver,
    message_id_for,
    redact,
)
from activities.render import Link, milestone_title, persona_title, render_nudge
from activities.smtp_pool import SmtpPool
from domain.program import Program
from domain.template_context import NudgeContext
from infra.links import Action, link_url, sign_link
from infra.settings import Settings
from store.programs import ProgramCache
from workflows.contract import SendNudgeInput, SendNudgeResult, SendStatus


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
                                     scheduled_at, status, message_id, attempts)
            values ($1, $2, $3, $4, $5, $6, $7, 'sending', $8, 1)
            on conflict (workflow_id, nudge_key) do update
                set attempts = send_ledger.attempts + 1, updated_at = now()
            returning status, message_id, coalesce(error, '') as error
            """,
            data.workflow_id,
            data.nudge_key,
            data.cohort_id,
            data.participant_id,
            data.nudge_id,
            data.kind,
            data.scheduled_at,
            message_id,
        )
        assert claimed is not None
        if claimed["status"] != "sending":
            # Settled by an earlier attempt: never send twice.
            return SendNudgeResult(
                status=SendStatus(claimed["status"]),
                message_id=claimed["message_id"],
                detail=redact(claimed["error"]),
            )
        person = await conn.fetchrow(
            """
            select p.name, p.email, p.mission, p.unsubscribed_at, p.paused_until,
                   -- a mentor who is in the cohort too is named; otherwise their address is all we know
                   coalesce(m.name, p.mentor_email) as mentor
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
        first_name=person["name"].split()[0] if person["name"].split() else person["name"],
        program_title=program.spec.title,
        mentor_name=person["mentor"] or "",
        mission=person["mission"] or "",
        personas=[persona_title(p) for p in data.personas],
        achieved=[milestone_title(program, m) for m in data.achieved],
        weeks_left=data.weeks_left,
        conference=data.conference.model_dump() if data.conference else None,
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
    )
    try:
        message = build_message(email, settings.mail_from)
    except ValueError as err:  # e.g. a line break in the name: the same on every attempt
        reason = f"the message could not be built: {redact(str(err))}"
        return await _settle(pool, data, SendStatus.FAILED, message_id, reason, rendered.subject)
    result = await deliver(settings, message, smtp=smtp)
    if result.outcome is SmtpOutcome.REJECTED:
        # The full reply (it may name the address) in Postgres; the result (Temporal) redacted.
        return await _settle(
            pool, data, SendStatus.FAILED, message_id, result.reply, rendered.subject, shown=result.detail
        )
    return await _settle(pool, data, SendStatus.SENT, message_id, "", rendered.subject)


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


async def _settle(
    pool: asyncpg.Pool,
    data: SendNudgeInput,
    status: SendStatus,
    message_id: str,
    detail: str,
    subject: str | None = None,
    *,
    shown: str | None = None,
) -> SendNudgeResult:
    await pool.execute(
        """
        update send_ledger
        set status = $3, error = nullif($4, ''), subject = coalesce($5, subject),
            sent_at = case when $3 = 'sent' then now() else sent_at end, updated_at = now()
        where workflow_id = $1 and nudge_key = $2
        """,
        data.workflow_id,
        data.nudge_key,
        status.value,
        detail,
        subject,
    )
    return SendNudgeResult(status=status, message_id=message_id, detail=detail if shown is None else shown)
