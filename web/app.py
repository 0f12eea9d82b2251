"""The participant web app (Starlette): `/a/{action}/{token}` from every email.

GET and HEAD only show a confirmation page (mail scanners fetch every link); POST acts: Postgres first
(the intent and the participant's columns), then the journey update. The one exception to "show first" is
RFC 8058 one-click unsubscribe, which is a POST anyway: 200, no cookie, no redirect, effective even if the
journey has ended (the sender re-checks `participants.unsubscribed_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from activities.intents import (
    Intent,
    IntentStatus,
    Participant,
    action_id_for,
    find_participant,
    intents_of,
    record_action,
)
from activities.program_store import ProgramCache, ProgramNotFound
from activities.render import milestone_title, persona_title
from domain import Persona
from domain.program import Program
from domain.timing import WEEKDAYS, zone
from web import actions, pages
from web.actions import ACTION_TITLES, FormError, Plan
from web.journeys import RETRY_EVERY, Journeys, apply_intents, retry_pending_forever
from web.tokens import Action, LinkClaims, LinkError, verify_link
from worker.postgres import create_pool
from worker.settings import Settings

_DAY_NAMES = {
    "mon": "Mon",
    "tue": "Tue",
    "wed": "Wed",
    "thu": "Thu",
    "fri": "Fri",
    "sat": "Sat",
    "sun": "Sun",
}


class LinkApp:
    """Holds what requests share: settings, the Postgres pool, the Temporal connection, programs."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, journeys: Journeys) -> None:
        self.settings = settings
        self.pool = pool
        self.journeys = journeys
        self.programs = ProgramCache()

    # ---- shared steps ---------------------------------------------------------------------------------

    def _claims(self, action: str, token: str) -> LinkClaims | Response:
        try:
            which = Action(action)
        except ValueError:
            return pages.link_error(404, "This address is not a link the program sends.")
        try:
            return verify_link(self.settings.link_secret.get_secret_value(), token, which)
        except LinkError as err:
            return pages.link_error(410 if err.reason == "expired" else 400, str(err))

    async def _subject(self, claims: LinkClaims) -> tuple[Participant, Program] | Response:
        participant = await find_participant(self.pool, claims.workflow_id)
        if participant is None:
            return pages.link_error(404, "We could not find the enrolment this link belongs to.")
        try:
            program = await self.programs.get(self.pool, participant.cohort_id)
        except ProgramNotFound:
            return pages.link_error(404, "Your program has not started yet.")
        return participant, program

    # ---- GET / HEAD: show, never change ---------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        action, token = request.path_params["action"], request.path_params["token"]
        claims = self._claims(action, token)
        if isinstance(claims, Response):
            return claims
        subject = await self._subject(claims)
        if isinstance(subject, Response):
            return subject
        participant, program = subject
        return await self._confirm(claims, participant, program, request.url.path)

    async def _confirm(
        self,
        claims: LinkClaims,
        participant: Participant,
        program: Program,
        url: str,
        *,
        error: FormError | None = None,
        values: dict[str, str] | None = None,
    ) -> Response:
        title = program.spec.title
        status = 422 if error else 200
        err = pages.error_box(error.message, error.field) if error else ""
        v = values or {}
        match claims.action:
            case Action.MILESTONE:
                name = milestone_title(program, claims.args.get("milestone", ""))
                body = pages.paragraph(f"Did you do this? {name}") + pages.form(url, "", "Yes, I did this")
                return pages.page("Record a milestone", err + body, status=status, program=title)
            case Action.PERSONA:
                persona = claims.args.get("persona", "")
                body = pages.paragraph(f"Add the {persona_title(persona)} persona to your journey?")
                with contextlib.suppress(ValueError):
                    body += pages.paragraph(Persona(persona).description, "hint")
                body += pages.paragraph(
                    "Your emails will start including ideas for it. You can drop it any time."
                )
                body += pages.form(url, "", "Yes, add this persona")
                return pages.page("Try a persona", err + body, status=status, program=title)
            case Action.SNOOZE:
                body = pages.paragraph(
                    "Take a break from the program's emails. Your journey picks up where it left off."
                )
                body += pages.form(url, "", "Snooze for two weeks")
                body += "<h2>Or choose a date</h2>"
                body += pages.form(
                    url,
                    pages.text_input(
                        "until",
                        "Snooze until",
                        v.get("until", ""),
                        kind="date",
                        hint=f"Emails start again on this day ({participant.timezone}).",
                        required=True,
                    ),
                    "Snooze until this date",
                )
                return pages.page("Snooze emails", err + body, status=status, program=title)
            case Action.CONFERENCE:
                body = pages.paragraph("Going to a conference? We'll send a few ideas before and during it.")
                fields = (
                    pages.text_input("name", "Conference name", v.get("name", ""), required=True)
                    + pages.text_input(
                        "hashtag", "Hashtag (optional)", v.get("hashtag", ""), hint="For example #ASCO26"
                    )
                    + pages.text_input(
                        "starts_on", "First day", v.get("starts_on", ""), kind="date", required=True
                    )
                    + pages.text_input(
                        "ends_on", "Last day", v.get("ends_on", ""), kind="date", required=True
                    )
                    + pages.text_input(
                        "timezone",
                        "Time zone of the conference (optional)",
                        v.get("timezone", ""),
                        hint=f"Leave empty if it is yours ({participant.timezone}); e.g. Europe/Paris.",
                    )
                )
                body += pages.form(url, fields, "Tell the program")
                return pages.page("Tell us about a conference", err + body, status=status, program=title)
            case Action.PREFERENCES:
                body = await self._preferences_form(participant, url, v)
                return pages.page("Your preferences", err + body, status=status, program=title)
            case Action.UNSUBSCRIBE:
                if participant.unsubscribed_at is not None:
                    body = pages.paragraph(
                        "You are already unsubscribed: the program sends you no more emails."
                    )
                    return pages.page("Unsubscribe", body, program=title)
                body = pages.paragraph(f"Stop all emails from {title}?")
                body += pages.form(
                    url, '<input type="hidden" name="List-Unsubscribe" value="One-Click">', "Unsubscribe"
                )
                return pages.page("Unsubscribe", err + body, status=status, program=title)
        raise AssertionError(claims.action)

    async def _preferences_form(self, p: Participant, url: str, v: dict[str, str]) -> str:
        now = datetime.now(UTC)
        snoozed = p.paused_until is not None and p.paused_until > now
        status = (
            f"Emails are snoozed until {p.paused_until.astimezone(zone(p.timezone)):%A %d %B %Y}."
            if snoozed and p.paused_until
            else "Emails are not snoozed."
        )
        days = set(v["send_days"].split(",")) if "send_days" in v else set(p.send_days)
        held = set(v["personas"].split(",")) if "personas" in v else set(p.personas)
        fields = (
            "<h2>When emails arrive</h2>"
            + pages.text_input(
                "timezone",
                "Time zone",
                v.get("timezone", p.timezone),
                required=True,
                hint="For example America/Chicago or Europe/London.",
            )
            + pages.checkboxes("send_days", "Send days", [(d, _DAY_NAMES[d]) for d in WEEKDAYS], days)
            + pages.text_input(
                "send_time",
                "Send time",
                v.get("send_time", f"{p.send_time:%H:%M}"),
                kind="time",
                required=True,
            )
            + "<h2>Personas</h2>"
            + pages.checkboxes(
                "personas",
                "Personas you hold",
                [(x.value, x.title) for x in Persona],
                held,
                hint="Each adds its own ideas to your emails.",
            )
            + "<h2>Snooze</h2>"
            + pages.paragraph(status)
            + pages.text_input(
                "snooze_until", "Snooze until (optional)", v.get("snooze_until", ""), kind="date"
            )
            + (pages.checkboxes("resume", "Resume", [("yes", "Resume emails now")], set()) if snoozed else "")
            + "<h2>Conferences</h2>"
            + await self._conference_list(p)
            + pages.text_input("conf_name", "Add a conference: name (optional)", v.get("conf_name", ""))
            + pages.text_input("conf_hashtag", "Hashtag (optional)", v.get("conf_hashtag", ""))
            + pages.text_input("conf_starts_on", "First day", v.get("conf_starts_on", ""), kind="date")
            + pages.text_input("conf_ends_on", "Last day", v.get("conf_ends_on", ""), kind="date")
            + pages.text_input(
                "conf_timezone", "Time zone of the conference (optional)", v.get("conf_timezone", "")
            )
        )
        return pages.form(url, fields, "Save preferences")

    async def _conference_list(self, p: Participant) -> str:
        told = [
            i.command
            for i in await intents_of(self.pool, p.workflow_id)
            if i.update_name == "add_conference" and i.status is not IntentStatus.REJECTED
        ]
        if not told:
            return pages.paragraph("You have not told us about a conference yet.")
        items = "".join(
            f"<li>{pages.e(c['name'])} {pages.e(c.get('hashtag', ''))}: "
            f"{pages.e(c['starts_on'])} to {pages.e(c['ends_on'])}</li>"
            for c in told
        )
        return f"<ul>{items}</ul>"

    # ---- POST: act -------------------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        action, token = request.path_params["action"], request.path_params["token"]
        claims = self._claims(action, token)
        if isinstance(claims, Response):
            return claims
        subject = await self._subject(claims)
        if isinstance(subject, Response):
            return subject
        participant, program = subject
        form = await request.form()
        values = {k: str(v) for k, v in form.items()}
        now = datetime.now(UTC)
        try:
            plan = self._plan(claims, participant, program, form, values, now)
        except FormError as err:
            return await self._confirm(
                claims, participant, program, request.url.path, error=err, values=values
            )
        recorded = await record_action(
            self.pool,
            participant,
            claims.action.value,
            action_id_for(token, plan.form),
            plan.intents,
            plan.write,
        )
        intents = recorded.intents
        if any(i.status is IntentStatus.PENDING for i in intents):
            intents = await apply_intents(self.pool, self.journeys, intents)
        participant = await find_participant(self.pool, claims.workflow_id) or participant
        return self._result(claims, participant, program, plan, intents, repeated=not recorded.new)

    def _plan(
        self,
        claims: LinkClaims,
        participant: Participant,
        program: Program,
        form: FormData,
        values: dict[str, str],
        now: datetime,
    ) -> Plan:
        match claims.action:
            case Action.MILESTONE:
                return actions.plan_milestone(claims)
            case Action.PERSONA:
                return actions.plan_persona(claims, participant)
            case Action.SNOOZE:
                return actions.plan_snooze(values, participant, now)
            case Action.CONFERENCE:
                return actions.plan_conference(values)
            case Action.PREFERENCES:
                days = [str(d) for d in form.getlist("send_days")]
                personas = [str(p) for p in form.getlist("personas")]
                return actions.plan_preferences(values, days, personas, participant, program, now)
            case Action.UNSUBSCRIBE:
                # Whatever the body (RFC 8058's `List-Unsubscribe=One-Click` or our button): unsubscribe.
                return actions.plan_unsubscribe()
        raise AssertionError(claims.action)

    def _result(
        self,
        claims: LinkClaims,
        participant: Participant,
        program: Program,
        plan: Plan,
        intents: list[Intent],
        *,
        repeated: bool,
    ) -> Response:
        title = program.spec.title
        again = pages.paragraph("You already did this; nothing changed.", "hint") if repeated else ""
        if claims.action is Action.UNSUBSCRIBE:
            # Recorded in Postgres: effective now, whatever the journey says or whether it still runs.
            body = pages.paragraph(
                "You are unsubscribed. You will get no more emails from this program.", "ok"
            )
            return pages.page("You are unsubscribed", again + body, program=title)
        rejected = [i for i in intents if i.status is IntentStatus.REJECTED]
        if rejected:
            reasons = "".join(pages.paragraph(f"{_reason(i.detail)}") for i in rejected)
            body = pages.error_box("The program could not do this:") + reasons
            return pages.page("Not changed", again + body, status=409, program=title)
        done = _done_message(claims, participant, program, plan)
        if any(i.status is IntentStatus.PENDING for i in intents):
            body = pages.paragraph(done, "ok") + pages.paragraph(
                "We have recorded this; your journey will catch up with it shortly."
            )
            return pages.page("Recorded", again + body, status=202, program=title)
        return pages.page("Done", again + pages.paragraph(done, "ok"), program=title)


def _reason(detail: str) -> str:
    text = detail.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else "It was refused."


def _done_message(claims: LinkClaims, p: Participant, program: Program, plan: Plan) -> str:
    match claims.action:
        case Action.MILESTONE:
            return f"Recorded: {milestone_title(program, claims.args.get('milestone', ''))}. Well done!"
        case Action.PERSONA:
            return f"You now hold the {persona_title(claims.args.get('persona', ''))} persona."
        case Action.SNOOZE:
            until = p.paused_until.astimezone(zone(p.timezone)) if p.paused_until else None
            return f"Emails are snoozed until {until:%A %d %B %Y}." if until else "Emails are snoozed."
        case Action.CONFERENCE:
            return f"Thanks! We'll help you get ready for {plan.form.get('name', 'the conference')}."
        case Action.PREFERENCES:
            return "Your preferences are saved."
        case Action.UNSUBSCRIBE:
            return "You are unsubscribed."
    raise AssertionError(claims.action)


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
    delivers pending intents (tests drive `apply_pending_intents` themselves)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_pool = pool is None
        the_pool = pool if pool is not None else await create_pool(settings)
        links = LinkApp(settings, the_pool, journeys or Journeys(settings))
        app.state.links = links
        retry = (
            asyncio.create_task(retry_pending_forever(the_pool, links.journeys, retry_every))
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

    async def show(request: Request) -> Response:
        links: LinkApp = request.app.state.links
        return await links.show(request)

    async def act(request: Request) -> Response:
        links: LinkApp = request.app.state.links
        return await links.act(request)

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.link_error(404, "This address is not a link the program sends.")

    return Starlette(
        routes=[
            Route("/a/{action}/{token}", show, methods=["GET", "HEAD"]),
            Route("/a/{action}/{token}", act, methods=["POST"]),
            Route("/healthz", _health, methods=["GET", "HEAD"]),
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )


__all__ = ["ACTION_TITLES", "LinkApp", "create_app"]
