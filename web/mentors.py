"""A mentor's links: one-click unsubscribe (RFC 8058: POST acts, no cookie, no redirect) and "I amplified
it". GET and HEAD only show a page (mail scanners fetch every link); POST acts."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from infra.links import Action, LinkClaims
from store import mentors as store
from store.programs import ProgramCache, ProgramNotFound
from web import pages
from workflows.contract import parse_mentor_workflow_id

MENTOR_ACTIONS = frozenset({Action.MENTOR_UNSUBSCRIBE, Action.AMPLIFIED})


async def handle(
    request: Request, claims: LinkClaims, pool: asyncpg.Pool, programs: ProgramCache
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
    participant = claims.args.get("participant", "")
    milestone = claims.args.get("milestone", "")
    names = await store.names(pool, mentor.cohort_id, [participant])
    if participant not in names or milestone not in program.spec.milestone_ids:
        return pages.link_error(404, "We could not find what this link is about.")
    what = f"{names[participant]}: {program.spec.milestone(milestone).title}"
    if acting:
        await store.record_amplified(pool, mentor, participant, milestone, datetime.now(UTC))
        return pages.page("Thank you", pages.paragraph(f"Recorded: you amplified {what}."), program=title)
    body = pages.paragraph(f"Did you amplify {what}?") + pages.form(
        str(request.url.path), "", "Yes, I amplified it"
    )
    return pages.page("I amplified it", body, program=title)
