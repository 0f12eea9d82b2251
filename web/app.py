"""The participant web app (Starlette): `/a/{action}/{token}` from every email.

GET and HEAD only show a confirmation page (mail scanners fetch every link); POST acts through the
steering service: the intent (and what the sender re-checks) in Postgres first, then the journey update.
The one exception to "show first" is RFC 8058 one-click unsubscribe, which is a POST anyway: 200, no
cookie, no redirect, effective even if the journey has ended (the sender re-checks
`participants.unsubscribed_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from domain import AddConference, ChangeSchedule, Pause, Resume, SteerCommand
from domain.timing import WEEKDAYS
from infra.links import Action, LinkClaims, LinkError, verify_link
from infra.postgres import create_pool
from infra.settings import Settings
from steering import RETRY_EVERY, Journeys, Outcome, Pending, Rejected, Steering
from store.cohorts import ContactChange, update_contact
from store.intents import IntentStatus, Participant, action_id_for, find_participant, intents_of
from store.programs import ProgramCache, ProgramNotFound
from web import mentors, pages
from web.actions import LINK_ACTIONS, FormError, LinkAction, Plan, Visit
from web.mentors import MENTOR_ACTIONS
from web.wording import refusal
from workflows.contract import ConferenceInfo


class LinkApp:
    """Holds what requests share: settings, the Postgres pool, the steering service, programs."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, journeys: Journeys) -> None:
        self.settings = settings
        self.pool = pool
        self.steering = Steering(pool, journeys)
        self.programs = ProgramCache()

    # ---- shared steps ---------------------------------------------------------------------------------

    def _claims(self, action: str, token: str) -> LinkClaims | Response:
        try:
            which = Action(action)
        except ValueError:
            return pages.link_error(404, "This address is not a link the program sends.")
        try:
            return verify_link(self.settings.link_secrets, token, which)
        except LinkError as err:
            return pages.link_error(410 if err.reason == "expired" else 400, str(err))

    async def _visit(self, request: Request) -> Visit | Response:
        """Who and what the link is for; a page of its own when it cannot be used."""
        claims = self._claims(request.path_params["action"], request.path_params["token"])
        if isinstance(claims, Response):
            return claims
        participant = await find_participant(self.pool, claims.workflow_id)
        if participant is None:
            return pages.link_error(404, "We could not find the enrolment this link belongs to.")
        try:
            program = await self.programs.get(self.pool, participant.cohort_id)
        except ProgramNotFound:
            return pages.link_error(404, "Your program has not started yet.")
        visit = Visit(claims, participant, program, request.url.path, datetime.now(UTC))
        if participant.unsubscribed_at is not None and (
            request.method != "POST" or claims.action is not Action.UNSUBSCRIBE
        ):
            return _unsubscribed_page(program.spec.title, claims.action)
        return visit

    # ---- GET / HEAD: show, never change ---------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        visit = await self._visit(request)
        return visit if isinstance(visit, Response) else await self._page(visit)

    async def _page(self, visit: Visit) -> Response:
        """The action's page: its form, with the mistake and what was typed when shown again."""
        link = LINK_ACTIONS[visit.claims.action]
        told = await self._told_conferences(visit.participant)
        return pages.render(
            link.template,
            status=422 if visit.error else 200,
            title=link.title,
            program=visit.program.spec.title,
            url=visit.url,
            error=visit.error,
            values=visit.values,
            field_error=visit.field_error,
            today=visit.today,
            zone_label=pages.zone_name(visit.participant.timezone),
            **link.context(visit, told),
        )

    async def _told_conferences(self, p: Participant) -> list[ConferenceInfo]:
        """The journey's conferences (its projection), then those told that it has not taken yet."""
        waiting = [
            ConferenceInfo.model_validate(i.command.model_dump())
            for i in await intents_of(self.pool, p.workflow_id)
            if isinstance(i.command, AddConference) and i.status is IntentStatus.PENDING
        ]
        return p.conferences + [c for c in waiting if c not in p.conferences]

    # ---- POST: act -------------------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        visit = await self._visit(request)
        if isinstance(visit, Response):
            return visit
        form = await request.form()
        visit = replace(
            visit,
            values={k: str(v) for k, v in form.items()},
            lists={k: [str(x) for x in form.getlist(k)] for k in form},
        )
        link = LINK_ACTIONS[visit.claims.action]
        try:
            plan = link.plan(visit)
        except FormError as err:
            return await self._page(replace(visit, error=err))
        if plan.greeting is not None:
            # Contact data: Postgres only (the journey never holds names), effective from the next email.
            p = visit.participant
            await update_contact(
                self.pool, p.cohort_id, p.participant_id, ContactChange(greeting_name=plan.greeting)
            )
            visit = replace(visit, participant=p.model_copy(update={"greeting_name": plan.greeting or None}))
            if not plan.commands:
                return self._result(link, visit, plan, [], repeated=False)
        recorded, outcomes = await self.steering.send_all(
            visit.participant,
            plan.commands,
            action=visit.claims.action.value,
            action_id=action_id_for(visit.claims.meaning(), plan.form),
        )
        told = [(i.command, o) for i, o in zip(recorded.intents, outcomes, strict=True)]
        return self._result(link, visit, plan, told, repeated=not recorded.new)

    def _result(
        self,
        link: LinkAction,
        visit: Visit,
        plan: Plan,
        told: list[tuple[SteerCommand, Outcome]],
        *,
        repeated: bool,
    ) -> Response:
        common: dict[str, Any] = {
            "program": visit.program.spec.title,
            "repeated": repeated,
            "note": "",
            "ok": 1,
        }
        # What the participant asked for, as it will stand (told now even while the journey catches up).
        after = _after(visit.participant, [c for c, o in told if not isinstance(o, Rejected)])
        done = link.done(visit, plan, after)
        if link.effective_at_once:
            return pages.render("result.html", title=link.done_title, lines=done, refused=False, **common)
        refusals = [refusal(c, o.code, visit.program) for c, o in told if isinstance(o, Rejected)]
        if refusals and all(r.already for r in refusals) and len(refusals) == len(told):
            lines = [r.text for r in refusals]
            common |= {"note": "Nothing needed to change.", "ok": len(lines)}
            return pages.render("result.html", title="Already done", lines=lines, refused=False, **common)
        if refusals:
            lines = [r.text for r in refusals]
            return pages.render(
                "result.html", status=409, title="Not changed", lines=lines, refused=True, **common
            )
        if any(isinstance(o, Pending) for _, o in told):
            common["note"] = "We have recorded this; your journey will catch up with it shortly."
            return pages.render(
                "result.html", status=202, title="Recorded", lines=done, refused=False, **common
            )
        return pages.render("result.html", title=link.done_title, lines=done, refused=False, **common)


def _after(p: Participant, commands: list[SteerCommand]) -> Participant:
    """The participant's preferences once `commands` are applied."""
    for command in commands:
        match command:
            case ChangeSchedule():
                days = (
                    p.send_days
                    if command.send_days is None
                    else [d for d in WEEKDAYS if d in command.send_days]
                )
                p = p.model_copy(
                    update={
                        "timezone": command.timezone or p.timezone,
                        "send_days": days,
                        "send_time": command.send_time or p.send_time,
                    }
                )
            case Pause():
                p = p.model_copy(update={"paused_until": command.until})
            case Resume():
                p = p.model_copy(update={"paused_until": None})
    return p


def _unsubscribed_page(title: str, action: Action) -> Response:
    """Every link of an unsubscribed participant: nothing to confirm, nothing changes."""
    text = (
        "You are already unsubscribed: the program sends you no more emails."
        if action is Action.UNSUBSCRIBE
        else "You are unsubscribed from this program, so there is nothing to change here: "
        "it sends you no more emails."
    )
    return pages.render("message.html", title="You are unsubscribed", program=title, lines=[text])


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    journeys: Journeys | None = None,
    retry_every: timedelta | None = RETRY_EVERY,
) -> Starlette:
    """The ASGI app. Without a pool it opens one from settings; `retry_every=None` turns off the loop that
    delivers pending intents (tests drive `Steering.deliver_due` themselves)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_pool = pool is None
        the_pool = pool if pool is not None else await create_pool(settings)
        links = LinkApp(settings, the_pool, journeys or Journeys(settings))
        app.state.links = links
        retry = (
            asyncio.create_task(links.steering.retry_forever(retry_every))
            if retry_every is not None
            else None
        )
        try:
            yield
        finally:
            if retry is not None:
                retry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retry
            if own_pool:
                await the_pool.close()

    async def link(request: Request) -> Response:
        links: LinkApp = request.app.state.links
        if request.path_params["action"] in MENTOR_ACTIONS:
            claims = links._claims(request.path_params["action"], request.path_params["token"])
            if isinstance(claims, Response):
                return claims
            return await mentors.handle(request, claims, links.pool, links.programs, links.steering)
        # GET and HEAD show; only POST acts. One route, so a 405 lists every method the link takes.
        return await (links.act(request) if request.method == "POST" else links.show(request))

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.link_error(404, "This address is not a link the program sends.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        page = pages.link_error(405, "Open the link from your email; this kind of request does nothing.")
        page.headers.update(getattr(exc, "headers", None) or {})  # Allow: ...
        return page

    app = Starlette(
        routes=[
            Route("/a/{action}/{token}", link, methods=["GET", "HEAD", "POST"]),
            # Some mail clients add a slash; serve it rather than redirect (RFC 8058: never redirect).
            Route("/a/{action}/{token}/", link, methods=["GET", "HEAD", "POST"]),
            Route("/healthz", _health, methods=["GET", "HEAD"]),
        ],
        exception_handlers={404: not_found, 405: not_allowed},
        lifespan=lifespan,
    )
    # Starlette would answer a stray slash with a redirect built from the Host header: an open redirect.
    app.router.redirect_slashes = False
    return app


__all__ = ["LinkApp", "create_app"]
