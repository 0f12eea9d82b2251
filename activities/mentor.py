"""A mentor's activities: the next send slot, and what a slot sends (the weekly digest, an amplify prompt,
or nothing), exactly once through the send ledger (`activities/exactly_once.py`, the path every
participant email takes too). Names and emails are read here, from Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

import asyncpg
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.exactly_once import LedgerEntry, Recipient, claim, record_outcome, send_once, settle
from activities.mailer import OutgoingEmail, build_message, redact
from activities.render import milestone_title, persona_title
from activities.smtp_pool import SmtpPool
from domain.mentor import (
    MenteeNews,
    MentorPrefs,
    is_creator_milestone,
    is_digest_slot,
    next_mentor_slot,
    prompt_due,
    suggestion,
)
from domain.program import Program
from infra.links import Action, link_url, sign_link
from infra.settings import Settings
from store import mentors as store
from store.programs import ProgramCache, ProgramNotFound
from workflows.contract import (
    NEXT_MENTOR_SLOT,
    PERFORM_MENTOR_SLOT,
    MentorSlotInput,
    MentorSlotResult,
    NextMentorSlot,
    SendNudgeResult,
    SendStatus,
)

# Without a digest yet, the first one covers the week before it.
FIRST_WINDOW = timedelta(days=7)


def prefs_of(mentor: store.Mentor) -> MentorPrefs:
    return MentorPrefs(
        timezone=mentor.timezone,
        send_time=mentor.send_time,
        digest_day=mentor.digest_day,
        digest=mentor.digest,
        prompts=mentor.prompts,
        unsubscribed=mentor.unsubscribed_at is not None,
    )


class MentorSend(BaseModel):
    """One mentor email: which, at which slot, and the window of news it covers. Ids and instants only;
    the send ledger row's `input`, so `mentorflow mail resend` makes the same email again."""

    workflow_id: str
    cohort_id: str
    mentor_id: str
    nudge_id: str  # digest | amplify
    slot: datetime
    since: datetime

    def entry(self) -> LedgerEntry:
        return LedgerEntry(
            workflow_id=self.workflow_id,
            nudge_key=f"{self.nudge_id}-{self.slot:%Y%m%dT%H%M}",
            cohort_id=self.cohort_id,
            recipient=Recipient.MENTOR,
            recipient_id=self.mentor_id,
            nudge_id=self.nudge_id,
            kind=self.nudge_id,
            scheduled_at=self.slot,
            input=self.model_dump_json(),
        )


@dataclass(frozen=True)
class MentorEmail:
    nudge_id: str  # digest | amplify
    subject: str
    text: str
    html: str


class MentorActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps
        self._programs = ProgramCache()

    async def _program(self, cohort_id: str) -> Program:
        try:
            return await self._programs.get(self._deps.pool, cohort_id)
        except ProgramNotFound as err:
            raise ApplicationError(str(err), type="ProgramNotFound", non_retryable=True) from None

    @activity.defn(name=NEXT_MENTOR_SLOT)
    async def next_slot(self, data: MentorSlotInput) -> NextMentorSlot:
        mentor = await store.get_mentor(self._deps.pool, data.cohort_id, data.mentor_id)
        if mentor is None:
            return NextMentorSlot()
        if await store.all_mentees_ended(self._deps.pool, mentor):
            return NextMentorSlot(ended=True)
        program = await self._program(data.cohort_id)
        return NextMentorSlot(at=next_mentor_slot(data.slot, prefs_of(mentor), program.spec))

    @activity.defn(name=PERFORM_MENTOR_SLOT)
    async def perform_slot(self, data: MentorSlotInput) -> MentorSlotResult:
        settings, pool = self._deps.settings, self._deps.pool
        mentor = await store.get_mentor(pool, data.cohort_id, data.mentor_id)
        if mentor is None or mentor.unsubscribed_at is not None:
            return MentorSlotResult(detail="unsubscribed" if mentor else "mentor not found")
        program = await self._program(data.cohort_id)
        prefs = prefs_of(mentor)
        slot = data.slot
        send: MentorSend | None = None
        ids = {"workflow_id": data.workflow_id, "cohort_id": data.cohort_id, "mentor_id": data.mentor_id}
        if data.force == "digest" or (data.force is None and is_digest_slot(slot, prefs)):
            since = mentor.last_digest_at or slot - FIRST_WINDOW
            send = MentorSend(**ids, nudge_id="digest", slot=slot, since=since)
        elif prefs.prompts or data.force == "amplify":
            last_prompt = await store.last_sent(pool, mentor.cohort_id, mentor.mentor_id, "amplify")
            since = max(t for t in (last_prompt, mentor.last_digest_at, slot - FIRST_WINDOW) if t is not None)
            if data.force == "amplify" or prompt_due(slot, prefs, program.spec, last_prompt_at=last_prompt):
                send = MentorSend(**ids, nudge_id="amplify", slot=slot, since=since)
        email = await compose(settings, pool, mentor, program, send) if send is not None else None
        if send is None or email is None:
            return MentorSlotResult(detail="nothing to report")
        result = await send_mentor_email(
            settings, pool, self._programs, send, smtp=self._deps.smtp, composed=email
        )
        record_outcome(result, send.entry().nudge_key)
        if result.status is SendStatus.SENT and activity.in_activity():
            activity.metric_meter().create_counter(
                "mentorflow_mentor_emails_sent", "Emails sent to mentors"
            ).add(1)
        return MentorSlotResult(sent=send.nudge_id, status=result.status.value, detail=result.detail)


async def send_mentor_email(
    settings: Settings,
    pool: asyncpg.Pool,
    programs: ProgramCache,
    send: MentorSend,
    *,
    smtp: SmtpPool | None = None,
    composed: MentorEmail | None = None,
) -> SendNudgeResult:
    """Claim the row and send the mentor's email at most once (as a participant's nudge is sent);
    `composed`: the email as the slot just made it, else it is made again from Postgres (a resend). A
    digest that went (now, or by an earlier attempt) moves the mentor's next digest past its slot."""
    result = await _send_mentor_email(settings, pool, programs, send, smtp=smtp, composed=composed)
    if result.status is SendStatus.SENT and send.nudge_id == "digest":
        await store.mark_digest(pool, send.cohort_id, send.mentor_id, send.slot)
    return result


async def _send_mentor_email(
    settings: Settings,
    pool: asyncpg.Pool,
    programs: ProgramCache,
    send: MentorSend,
    *,
    smtp: SmtpPool | None,
    composed: MentorEmail | None,
) -> SendNudgeResult:
    entry = send.entry()
    claimed = await claim(pool, settings, entry)
    if claimed.settled is not None:
        return claimed.settled
    message_id = claimed.message_id
    mentor = await store.get_mentor(pool, send.cohort_id, send.mentor_id)
    if mentor is None:
        return await settle(pool, entry, SendStatus.FAILED, message_id, "mentor not found in Postgres")
    if mentor.unsubscribed_at is not None:
        return await settle(pool, entry, SendStatus.SUPPRESSED, message_id, "unsubscribed")
    email = composed
    if email is None:
        email = await compose(settings, pool, mentor, await programs.get(pool, send.cohort_id), send)
    if email is None:  # the mentees' journeys ended since: nothing left to say
        return await settle(pool, entry, SendStatus.SUPPRESSED, message_id, "nothing to report any more")
    outgoing = OutgoingEmail(
        to_name=mentor.name,
        to_address=mentor.email,
        subject=email.subject,
        text=email.text,
        html=email.html,
        message_id=message_id,
        unsubscribe_url=_url(settings, send.workflow_id, Action.MENTOR_UNSUBSCRIBE),
        date=datetime.now(UTC),
    )
    try:
        msg = build_message(outgoing, settings.mail_from)
    except ValueError as err:  # e.g. a line break in the name: the same on every attempt
        reason = f"the message could not be built: {redact(str(err))}"
        return await settle(pool, entry, SendStatus.FAILED, message_id, reason, email.subject)
    return await send_once(settings, pool, entry, msg, message_id, email.subject, smtp=smtp)


async def compose(
    settings: Settings, pool: asyncpg.Pool, mentor: store.Mentor, program: Program, send: MentorSend
) -> MentorEmail | None:
    """The digest or prompt for the send's window of news; None: nothing to report."""
    news = await store.mentee_news(pool, mentor, since=send.since, until=send.slot)
    if send.nudge_id == "digest":
        news = [n for n in news if n.newsworthy]
        if not news:
            return None
        who = await store.names(pool, mentor.cohort_id, [n.participant_id for n in news])
        return _digest(settings, mentor, program, news, who, send.workflow_id)
    wins = [
        (n.participant_id, m)
        for n in news
        for m in n.milestones
        if is_creator_milestone(program.spec, m) and m not in n.amplified
    ]
    if not wins:
        return None
    who = await store.names(pool, mentor.cohort_id, [p for p, _ in wins])
    return _prompt(settings, mentor, program, wins, who, send.workflow_id)


# ---- what the emails say ---------------------------------------------------------------------------


def _url(settings: Settings, workflow_id: str, action: Action, args: dict[str, str] | None = None) -> str:
    secret = settings.link_secret.get_secret_value()
    token = sign_link(secret, workflow_id, action, args, now=datetime.now(UTC))
    return link_url(settings.base_url, action, token)


def _footer_text(settings: Settings, workflow_id: str) -> list[str]:
    return [
        f"Your mentor emails: {_url(settings, workflow_id, Action.MENTOR_PREFERENCES)}",
        f"Stop these emails: {_url(settings, workflow_id, Action.MENTOR_UNSUBSCRIBE)}",
    ]


def _footer_html(settings: Settings, workflow_id: str) -> str:
    prefs = escape(_url(settings, workflow_id, Action.MENTOR_PREFERENCES))
    stop = escape(_url(settings, workflow_id, Action.MENTOR_UNSUBSCRIBE))
    return (
        f'<p style="color:#666;font-size:12px"><a href="{prefs}">Your mentor emails</a> · '
        f'<a href="{stop}">Stop these emails</a></p>'
    )


def _amplify_link(settings: Settings, workflow_id: str, participant_id: str, milestone_id: str) -> str:
    args = {"participant": participant_id, "milestone": milestone_id}
    return _url(settings, workflow_id, Action.AMPLIFIED, args)


def _digest(
    settings: Settings,
    mentor: store.Mentor,
    program: Program,
    news: list[MenteeNews],
    who: dict[str, str],
    workflow_id: str,
) -> MentorEmail:
    first = _first(mentor.name)
    lines: list[str] = [f"Hi {first},", "", f"Your mentees in {program.spec.title} this week:", ""]
    html: list[str] = [
        f"<p>Hi {escape(first)},</p><p>Your mentees in {escape(program.spec.title)} this week:</p>"
    ]
    for n in news:
        name = who.get(n.participant_id, n.participant_id)
        items: list[str] = []
        items += [f"reached: {milestone_title(program, m)}" for m in n.milestones]
        items += [f"took up the {persona_title(p)} persona" for p in n.adopted]
        if n.quiet_since is not None:
            last = f"last click {n.last_click:%d %b %Y}" if n.last_click else "no click yet"
            items.append(f"has gone quiet ({last})")
        items += [f"goes to {c} on {day:%d %b}" for c, day in n.conferences]
        lines.append(f"- {name}: " + "; ".join(items))
        html.append(f"<p><strong>{escape(name)}</strong></p><ul>")
        html += [f"<li>{escape(i)}</li>" for i in items]
        html.append("</ul>")
    tip = suggestion(news, program.spec)
    if tip is not None:
        name = _first(who.get(tip.participant_id, tip.participant_id))
        text, link = _suggestion_text(program, tip.kind, name, tip.milestone_id)
        lines += ["", f"One thing to do: {text}"]
        html.append(f"<p><strong>One thing to do:</strong> {escape(text)}</p>")
        if link and tip.milestone_id:
            url = _amplify_link(settings, workflow_id, tip.participant_id, tip.milestone_id)
            lines.append(f"I amplified it: {url}")
            html.append(f'<p><a href="{escape(url)}">I amplified it</a></p>')
    lines += ["", *_footer_text(settings, workflow_id)]
    html.append(_footer_html(settings, workflow_id))
    return MentorEmail(
        "digest", f"Your mentees this week ({program.spec.title})", "\n".join(lines), "".join(html)
    )


def _prompt(
    settings: Settings,
    mentor: store.Mentor,
    program: Program,
    wins: list[tuple[str, str]],
    who: dict[str, str],
    workflow_id: str,
) -> MentorEmail:
    first = _first(mentor.name)
    lines = [f"Hi {first},", ""]
    html = [f"<p>Hi {escape(first)},</p>"]
    for pid, m in wins:
        text, _ = _suggestion_text(program, "amplify", _first(who.get(pid, pid)), m)
        url = _amplify_link(settings, workflow_id, pid, m)
        lines += [text, f"I amplified it: {url}", ""]
        html.append(f'<p>{escape(text)}</p><p><a href="{escape(url)}">I amplified it</a></p>')
    lines += _footer_text(settings, workflow_id)
    html.append(_footer_html(settings, workflow_id))
    name = _first(who.get(wins[0][0], wins[0][0]))
    return MentorEmail("amplify", f"{name} just posted: a moment to amplify", "\n".join(lines), "".join(html))


def _first(name: str) -> str:
    parts = [p for p in name.split() if not p.endswith(".")]  # "Dr. Amara Okafor" -> "Amara"
    return parts[0] if parts else name


def _suggestion_text(program: Program, kind: str, name: str, milestone_id: str | None) -> tuple[str, bool]:
    """(the sentence, whether an "I amplified it" link goes with it)."""
    if kind == "amplify" and milestone_id:
        title = milestone_title(program, milestone_id)
        return f"{name} reached '{title}': amplify it, quote-post it with a comment.", True
    if kind == "reach_out":
        return f"{name} has gone quiet: a short note asking how it goes might help.", False
    return f"{name} has a conference coming up: offer to amplify their live posts.", False
