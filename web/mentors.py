"""A mentor's links: one-click unsubscribe (RFC 8058: POST acts, no cookie, no redirect) and "I amplified
it". GET and HEAD only show a page (mail scanners fetch every link); POST acts."""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from domain import RecordAmplified
from infra.links import Action, LinkClaims
from steering import Rejected, Steering
from store import mentors as store
from store.programs import ProgramCache, ProgramNotFound
from web import pages
from workflows.contract import parse_mentor_workflow_id

MENTOR_ACTIONS = frozenset({Action.MENTOR_UNSUBSCRIBE, Action.AMPLIFIED, Action.MENTOR_PREFERENCES})


async def handle(
    request: Request, claims: LinkClaims, pool: asyncpg.Pool, programs: ProgramCache, steering: Steering
) -> Response:
    parsed = parse_mentor_workflow_id(claims.workflow_id)
    mentor = await store.get_mentor(pool, *parsed) if parsed else None
    if mentor is None:
        return pages.link_error(404, "We could not find the mentor this link belongs to.")
    try:
        program = await programs.get(pool, mentor.cohort_id)
    except ProgramNotFound:
        return pages.link_error(404, "This program has not started yet.")
    title = program.spec.title
    acting = request.method == "POST"
    if claims.action is Action.MENTOR_UNSUBSCRIBE:
        if acting:
            await store.unsubscribe(pool, mentor.cohort_id, mentor.mentor_id)
            return pages.page(
                "Unsubscribed", pages.paragraph("You will get no more mentor emails."), program=title
            )
        if mentor.unsubscribed_at is not None:
            return pages.page("Unsubscribed", pages.paragraph("You get no mentor emails."), program=title)
        body = pages.paragraph("Stop the weekly digest and the prompts about your mentees?") + pages.form(
            str(request.url.path), "", "Unsubscribe"
        )
        return pages.page("Stop mentor emails", body, program=title)
    if claims.action is Action.MENTOR_PREFERENCES:
        return await _preferences(request, mentor, pool, title, acting)
    participant = claims.args.get("participant", "")
    milestone = claims.args.get("milestone", "")
    names = await store.names(pool, mentor.cohort_id, [participant])
    mentee = await store.mentee(pool, mentor, participant)
    if participant not in names or mentee is None or milestone not in program.spec.milestone_ids:
        return pages.link_error(404, "We could not find what this link is about.")
    what = f"{names[participant]}: {program.spec.milestone(milestone).title}"
    if acting:
        # On the mentee's journey, through the steering service like every command: once per mentor and
        # milestone however often the link is used (the command id says what the click means).
        command = RecordAmplified(
            command_id=f"mentor-{mentor.mentor_id}-amplified-{milestone}",
            mentor_id=mentor.mentor_id,
            milestone_id=milestone,
        )
        outcome = await steering.send(mentee, command, action="amplified")
        if isinstance(outcome, Rejected):
            return pages.page(
                "Not recorded",
                pages.paragraph(f"{names[participant]}'s program has ended, so this was not recorded."),
                program=title,
            )
        return pages.page("Thank you", pages.paragraph(f"Recorded: you amplified {what}."), program=title)
    body = pages.paragraph(f"Did you amplify {what}?") + pages.form(
        str(request.url.path), "", "Yes, I amplified it"
    )
    return pages.page("I amplified it", body, program=title)


async def _preferences(
    request: Request, mentor: store.Mentor, pool: asyncpg.Pool, title: str, acting: bool
) -> Response:
    """The mentor's own switches: the weekly digest, the amplify prompts (and back in after unsubscribing)."""
    if acting:
        form = await request.form()
        change = store.MentorChange(
            digest="weekly" if form.get("digest") == "weekly" else "off",
            prompts=form.get("prompts") == "on",
            resubscribe=form.get("digest") == "weekly" or form.get("prompts") == "on",
        )
        mentor = await store.update_mentor(pool, mentor, change)
        said = (
            f"Weekly digest: {'on' if mentor.digest == 'weekly' else 'off'}. "
            f"Prompts to amplify a mentee's post: {'on' if mentor.prompts else 'off'}."
        )
        return pages.page("Saved", pages.paragraph(said), program=title)
    fields = pages.checkboxes(
        "digest",
        "Weekly digest",
        [("weekly", "Send me a weekly digest of my mentees")],
        {"weekly"} if mentor.digest == "weekly" and mentor.unsubscribed_at is None else set(),
    ) + pages.checkboxes(
        "prompts",
        "Prompts",
        [("on", "Tell me when a mentee posts something worth amplifying")],
        {"on"} if mentor.prompts and mentor.unsubscribed_at is None else set(),
    )
    return pages.page("Mentor emails", pages.form(str(request.url.path), fields, "Save"), program=title)
