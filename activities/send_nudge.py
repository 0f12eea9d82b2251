"""Send one nudge at most once: claim the ledger row, re-check the participant, render, then the send
ledger's exactly-once path (`activities/exactly_once.py`: the point of no return, `uncertain`, the retry
budget), the same path every mentor email takes."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from activities.exactly_once import LedgerEntry, Recipient, claim, send_once, settle
from activities.mailer import OutgoingEmail, build_message, redact
from activities.render import Link, milestone_title, persona_title, render_nudge
from activities.smtp_pool import SmtpPool
from domain.greeting import greeting_name
from domain.program import NudgeKind, Program
from domain.template_context import NudgeContext
from infra.links import Action, link_url, sign_link
from infra.settings import Settings
from store.programs import ProgramCache
from workflows.contract import SendNudgeInput, SendNudgeResult, SendStatus


def ledger_entry(data: SendNudgeInput) -> LedgerEntry:
    return LedgerEntry(
        workflow_id=data.workflow_id,
        nudge_key=data.nudge_key,
        cohort_id=data.cohort_id,
        recipient=Recipient.PARTICIPANT,
        recipient_id=data.participant_id,
        nudge_id=data.nudge_id,
        kind=data.kind,
        scheduled_at=data.scheduled_at,
        input=data.model_dump_json(),
    )


async def send_nudge(
    settings: Settings,
    pool: asyncpg.Pool,
    programs: ProgramCache,
    data: SendNudgeInput,
    *,
    smtp: SmtpPool | None = None,
) -> SendNudgeResult:
    """`smtp`: the worker's open SMTP connections; without, the email has a conversation of its own."""
    entry = ledger_entry(data)
    claimed = await claim(pool, settings, entry)
    if claimed.settled is not None:
        return claimed.settled
    message_id = claimed.message_id
    person = await pool.fetchrow(
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
        return await settle(pool, entry, SendStatus.FAILED, message_id, "participant not found in Postgres")
    now = datetime.now(UTC)
    if person["unsubscribed_at"] is not None:
        return await settle(pool, entry, SendStatus.SUPPRESSED, message_id, "unsubscribed")
    if person["paused_until"] is not None and person["paused_until"] > now:
        return await settle(pool, entry, SendStatus.SUPPRESSED, message_id, "paused")

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
        return await settle(pool, entry, SendStatus.FAILED, message_id, reason)
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
    try:
        msg = build_message(email, settings.mail_from)
    except ValueError as err:  # e.g. a line break in the name: the same on every attempt
        reason = f"the message could not be built: {redact(str(err))}"
        return await settle(pool, entry, SendStatus.FAILED, message_id, reason, rendered.subject)
    return await send_once(settings, pool, entry, msg, message_id, rendered.subject, smtp=smtp)


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
