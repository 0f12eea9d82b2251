"""A mentor's activities: the next send slot, and what a slot sends (the weekly digest, an amplify prompt,
or nothing), exactly once through the mentor ledger. Names and emails are read here, from Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
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
from activities.render import milestone_title, persona_title
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
from store import mentors as store
from store.programs import ProgramCache, ProgramNotFound
from workflows.contract import (
    NEXT_MENTOR_SLOT,
    PERFORM_MENTOR_SLOT,
    MentorSlotInput,
    MentorSlotResult,
    NextMentorSlot,
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
        pool = self._deps.pool
        mentor = await store.get_mentor(pool, data.cohort_id, data.mentor_id)
        if mentor is None or mentor.unsubscribed_at is not None:
            return MentorSlotResult(detail="unsubscribed" if mentor else "mentor not found")
        program = await self._program(data.cohort_id)
        prefs = prefs_of(mentor)
        slot = data.slot
        email: MentorEmail | None = None
        if data.force == "digest" or (data.force is None and is_digest_slot(slot, prefs)):
            since = mentor.last_digest_at or slot - FIRST_WINDOW
            news = [n for n in await store.mentee_news(pool, mentor, since=since, until=slot) if n.newsworthy]
            if news:
                who = await store.names(pool, mentor.cohort_id, [n.participant_id for n in news])
                email = self._digest(mentor, program, news, who, data)
        elif prefs.prompts or data.force == "amplify":
            last_prompt = await store.last_sent(pool, mentor.cohort_id, mentor.mentor_id, "amplify")
            since = max(t for t in (last_prompt, mentor.last_digest_at, slot - FIRST_WINDOW) if t is not None)
            news = await store.mentee_news(pool, mentor, since=since, until=slot)
            wins = [
                (n.participant_id, m)
                for n in news
                for m in n.milestones
                if is_creator_milestone(program.spec, m) and m not in n.amplified
            ]
            due = data.force == "amplify" or prompt_due(slot, prefs, program.spec, last_prompt_at=last_prompt)
            if wins and due:
                who = await store.names(pool, mentor.cohort_id, [p for p, _ in wins])
                email = self._prompt(mentor, program, wins, who, data)
        if email is None:
            return MentorSlotResult(detail="nothing to report")
        status, detail = await self._send(mentor, email, data)
        if email.nudge_id == "digest" and status == "sent":
            await store.mark_digest(pool, mentor, slot)
        return MentorSlotResult(sent=email.nudge_id, status=status, detail=detail)

    # ---- sending, exactly once -------------------------------------------------------------------------

    async def _send(self, mentor: store.Mentor, email: MentorEmail, data: MentorSlotInput) -> tuple[str, str]:
        settings, pool = self._deps.settings, self._deps.pool
        key = f"{email.nudge_id}-{data.slot:%Y%m%dT%H%M}"
        domain = str(settings.mail_from).rpartition("@")[2] or "mentorflow.local"
        message_id = message_id_for(data.workflow_id, key, domain)
        claimed = await store.claim(
            pool, data.workflow_id, key, mentor, email.nudge_id, data.slot, message_id
        )
        if claimed["status"] != "sending":
            return claimed["status"], redact(claimed["error"])  # settled before: never twice
        outgoing = OutgoingEmail(
            to_name=mentor.name,
            to_address=mentor.email,
            subject=email.subject,
            text=email.text,
            html=email.html,
            message_id=message_id,
            unsubscribe_url=self._url(data, Action.MENTOR_UNSUBSCRIBE),
            date=datetime.now(UTC),
        )

        async def crossing() -> bool:
            return await store.handover(pool, data.workflow_id, key)

        try:
            result = await deliver(
                settings, build_message(outgoing, settings.mail_from), smtp=self._deps.smtp, handover=crossing
            )
        except HandedOverNoReply as err:
            await store.settle(pool, data.workflow_id, key, "uncertain", str(err), email.subject)
            return "uncertain", str(err)
        except HandoverDeclined as err:
            raise TransientSmtpError(str(err)) from None  # the retry's claim finds what happened
        if result.outcome is SmtpOutcome.REJECTED:
            await store.settle(pool, data.workflow_id, key, "failed", result.reply, email.subject)
            return "failed", result.detail
        await store.settle(pool, data.workflow_id, key, "sent", "", email.subject)
        activity.metric_meter().create_counter("mentorflow_mentor_emails_sent", "Emails sent to mentors").add(
            1
        )
        return "sent", ""

    def _url(self, data: MentorSlotInput, action: Action, args: dict[str, str] | None = None) -> str:
        settings = self._deps.settings
        secret = settings.link_secret.get_secret_value()
        token = sign_link(secret, data.workflow_id, action, args, now=datetime.now(UTC))
        return link_url(settings.base_url, action, token)

    # ---- what the emails say ---------------------------------------------------------------------------

    def _footer_text(self, data: MentorSlotInput) -> list[str]:
        return [
            f"Your mentor emails: {self._url(data, Action.MENTOR_PREFERENCES)}",
            f"Stop these emails: {self._url(data, Action.MENTOR_UNSUBSCRIBE)}",
        ]

    def _footer_html(self, data: MentorSlotInput) -> str:
        prefs = escape(self._url(data, Action.MENTOR_PREFERENCES))
        stop = escape(self._url(data, Action.MENTOR_UNSUBSCRIBE))
        return (
            f'<p style="color:#666;font-size:12px"><a href="{prefs}">Your mentor emails</a> · '
            f'<a href="{stop}">Stop these emails</a></p>'
        )

    def _amplify_link(self, data: MentorSlotInput, participant_id: str, milestone_id: str) -> str:
        return self._url(data, Action.AMPLIFIED, {"participant": participant_id, "milestone": milestone_id})

    def _digest(
        self,
        mentor: store.Mentor,
        program: Program,
        news: list[MenteeNews],
        who: dict[str, str],
        data: MentorSlotInput,
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
                url = self._amplify_link(data, tip.participant_id, tip.milestone_id)
                lines.append(f"I amplified it: {url}")
                html.append(f'<p><a href="{escape(url)}">I amplified it</a></p>')
        lines += ["", *self._footer_text(data)]
        html.append(self._footer_html(data))
        return MentorEmail(
            "digest", f"Your mentees this week ({program.spec.title})", "\n".join(lines), "".join(html)
        )

    def _prompt(
        self,
        mentor: store.Mentor,
        program: Program,
        wins: list[tuple[str, str]],
        who: dict[str, str],
        data: MentorSlotInput,
    ) -> MentorEmail:
        first = _first(mentor.name)
        lines = [f"Hi {first},", ""]
        html = [f"<p>Hi {escape(first)},</p>"]
        for pid, m in wins:
            text, _ = _suggestion_text(program, "amplify", _first(who.get(pid, pid)), m)
            url = self._amplify_link(data, pid, m)
            lines += [text, f"I amplified it: {url}", ""]
            html.append(f'<p>{escape(text)}</p><p><a href="{escape(url)}">I amplified it</a></p>')
        lines += self._footer_text(data)
        html.append(self._footer_html(data))
        name = _first(who.get(wins[0][0], wins[0][0]))
        return MentorEmail(
            "amplify", f"{name} just posted: a moment to amplify", "\n".join(lines), "".join(html)
        )


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
