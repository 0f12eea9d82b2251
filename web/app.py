"""The participant web app (Starlette): `/a/{action}/{token}` from every email.

GET and HEAD only show a confirmation page (mail scanners fetch every link); POST acts: Postgres first
(the intent and the participant's columns), then the journey update. The one exception to "show first" is
RFC 8058 one-click unsubscribe, which is a POST anyway: 200, no cookie, no redirect, effective even if the
journey has ended (the sender re-checks `participants.unsubscribed_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from activities.render import milestone_title, persona_title
from domain import AddConference, ChangeSchedule, Pause, Persona, Resume, SteerCommand
from domain.program import Program
from domain.timing import WEEKDAYS, zone
from infra.links import Action, LinkClaims, LinkError, verify_link
from infra.postgres import create_pool
from infra.settings import Settings
from steering import RETRY_EVERY, Journeys, Outcome, Pending, Rejected, Steering
from store.intents import IntentStatus, Participant, action_id_for, find_participant, intents_of
from store.programs import ProgramCache, ProgramNotFound
from web import actions, mentors, pages
from web.actions import ACTION_TITLES, FormError, Plan
from web.mentors import MENTOR_ACTIONS
from web.wording import refusal

_DAY_FULL = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
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
        if participant.unsubscribed_at is not None:
            return _unsubscribed_page(title, claims.action)
        status = 422 if error else 200
        err = pages.error_box(error.message, error.field) if error else ""

        def field_error(name: str) -> str:
            return error.message if error is not None and error.field == name else ""

        v = values or {}
        tz = participant.timezone
        today = datetime.now(UTC).astimezone(zone(tz)).date()
        match claims.action:
            case Action.MILESTONE:
                name = milestone_title(program, claims.args.get("milestone", ""))
                body = pages.paragraph(f"Did you do this? {name}")
                body += pages.paragraph(
                    "We use it to suggest what might come next, never to grade you.", "hint"
                )
                body += pages.form(url, "", "Yes, I did this")
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
                two_weeks = today + timedelta(weeks=actions.SNOOZE_DEFAULT_WEEKS)
                body = pages.paragraph(
                    "Take a break from the program's emails. Your journey picks up where it left off."
                )
                body += pages.form(url, "", "Snooze for two weeks")
                body += pages.paragraph(f"Two weeks: no emails until {pages.human_date(two_weeks)}.", "hint")
                body += "<h2>Or choose a date</h2>"
                body += pages.form(
                    url,
                    pages.text_input(
                        "until",
                        "Snooze until",
                        v.get("until", ""),
                        kind="date",
                        hint=f"Emails start again on this day ({pages.zone_name(tz)} time).",
                        required=True,
                        error=field_error("until"),
                        attrs=_date_range(today, days=366),
                    ),
                    "Snooze until this date",
                )
                return pages.page("Snooze emails", err + body, status=status, program=title)
            case Action.CONFERENCE:
                body = pages.paragraph("Going to a conference? We'll send a few ideas before and during it.")
                body += pages.form(url, _conference_fields("", v, tz, today, field_error), "Tell the program")
                return pages.page("Tell us about a conference", err + body, status=status, program=title)
            case Action.PREFERENCES:
                body = await self._preferences_form(participant, url, v, field_error)
                return pages.page("Your preferences", err + body, status=status, program=title)
            case Action.UNSUBSCRIBE:
                body = pages.paragraph(f"Stop all emails from {title}?")
                body += pages.paragraph(
                    "Only want a break? The snooze and preferences links in your emails pause them instead.",
                    "hint",
                )
                body += pages.form(
                    url, '<input type="hidden" name="List-Unsubscribe" value="One-Click">', "Unsubscribe"
                )
                return pages.page("Unsubscribe", err + body, status=status, program=title)
        raise AssertionError(claims.action)

    async def _preferences_form(
        self, p: Participant, url: str, v: dict[str, str], field_error: Callable[[str], str]
    ) -> str:
        now = datetime.now(UTC)
        today = now.astimezone(zone(p.timezone)).date()
        snoozed = p.paused_until is not None and p.paused_until > now
        status = (
            f"We will not email you until {_local_day(p.paused_until, p.timezone)}."
            if snoozed and p.paused_until
            else "Emails are not snoozed."
        )
        days = set(v["send_days"].split(",")) if "send_days" in v else set(p.send_days)
        held = set(v["personas"].split(",")) if "personas" in v else set(p.personas)
        fields = (
            "<h2>When emails arrive</h2>"
            + pages.timezone_select(
                "timezone",
                "Time zone",
                v.get("timezone", p.timezone),
                hint="Where you are: emails arrive at your send time there. Type a city's first letters.",
                error=field_error("timezone"),
            )
            + pages.checkboxes(
                "send_days",
                "Send days",
                [(d, _DAY_NAMES[d]) for d in WEEKDAYS],
                days,
                error=field_error("send_days"),
            )
            + pages.text_input(
                "send_time",
                "Send time",
                v.get("send_time", f"{p.send_time:%H:%M}"),
                kind="time",
                required=True,
                hint="Your local time.",
                error=field_error("send_time"),
            )
            + "<h2>Personas</h2>"
            + pages.checkboxes(
                "personas",
                "Personas you hold",
                [(x.value, x.title) for x in Persona],
                held,
                hint="Each adds its own ideas to your emails.",
                error=field_error("personas"),
            )
            + "<h2>Snooze</h2>"
            + pages.paragraph(status)
            + pages.text_input(
                "snooze_until",
                "Snooze until (optional)",
                v.get("snooze_until", ""),
                kind="date",
                hint=f"Emails start again on this day ({pages.zone_name(p.timezone)} time).",
                error=field_error("snooze_until"),
                attrs=_date_range(today, days=366),
            )
            + (
                pages.checkboxes(
                    "resume", "Resume", [("yes", "Resume emails now")], set(), error=field_error("resume")
                )
                if snoozed
                else ""
            )
            + "<h2>Conferences</h2>"
            + await self._conference_list(p)
            + "<h3>Add a conference (optional)</h3>"
            + _conference_fields("conf_", v, p.timezone, today, field_error, optional=True)
        )
        return pages.form(url, fields, "Save preferences")

    async def _conference_list(self, p: Participant) -> str:
        told = [
            i.command
            for i in await intents_of(self.pool, p.workflow_id)
            if isinstance(i.command, AddConference) and i.status is not IntentStatus.REJECTED
        ]
        if not told:
            return pages.paragraph("You have not told us about a conference yet.")
        items = "".join(
            f"<li>{pages.e(c.name)} {pages.e(c.hashtag)}: "
            f"{pages.e(_date_span(c.starts_on.isoformat(), c.ends_on.isoformat()))}</li>"
            for c in told
            if isinstance(c, AddConference)
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
        if participant.unsubscribed_at is not None and claims.action is not Action.UNSUBSCRIBE:
            return _unsubscribed_page(program.spec.title, claims.action)
        form = await request.form()
        values = {k: str(v) for k, v in form.items()}
        now = datetime.now(UTC)
        try:
            plan = self._plan(claims, participant, program, form, values, now)
        except FormError as err:
            return await self._confirm(
                claims, participant, program, request.url.path, error=err, values=values
            )
        recorded, outcomes = await self.steering.send_all(
            participant,
            plan.commands,
            action=claims.action.value,
            action_id=action_id_for(claims.meaning(), plan.form),
        )
        told = [(i.command, o) for i, o in zip(recorded.intents, outcomes, strict=True)]
        # What the participant asked for, as it will stand (told now even while the journey catches up).
        participant = _after(participant, [c for c, o in told if not isinstance(o, Rejected)])
        return self._result(claims, participant, program, plan, told, repeated=not recorded.new)

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
        told: list[tuple[SteerCommand, Outcome]],
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
        refusals = [refusal(c, o.code, program) for c, o in told if isinstance(o, Rejected)]
        if refusals and all(r.already for r in refusals) and len(refusals) == len(told):
            body = "".join(pages.paragraph(r.text, "ok") for r in refusals)
            body += pages.paragraph("Nothing needed to change.")
            return pages.page("Already done", again + body, program=title)
        if refusals:
            reasons = "".join(pages.paragraph(r.text) for r in refusals)
            body = pages.error_box("The program could not do this:") + reasons
            body += pages.paragraph(
                "If this looks wrong, reply to your most recent email and your mentor will help.", "hint"
            )
            return pages.page("Not changed", again + body, status=409, program=title)
        what, *then = _done_message(claims, participant, program, plan)
        done = pages.paragraph(what, "ok") + "".join(pages.paragraph(t) for t in then)
        if any(isinstance(o, Pending) for _, o in told):
            body = done + pages.paragraph(
                "We have recorded this; your journey will catch up with it shortly."
            )
            return pages.page("Recorded", again + body, status=202, program=title)
        return pages.page("Done", again + done, program=title)


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


def _local_day(instant: datetime, tz: str) -> str:
    return f"{pages.human_date(instant.astimezone(zone(tz)))} ({pages.zone_name(tz)} time)"


def _date_span(starts_on: str, ends_on: str) -> str:
    start, end = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
    return (
        pages.human_date(start) if start == end else f"{pages.human_date(start)} to {pages.human_date(end)}"
    )


def _date_range(today: date, *, days: int) -> dict[str, str]:
    """The date picker's bounds: from tomorrow (participant's calendar) to `days` ahead."""
    return {"min": (today + timedelta(days=1)).isoformat(), "max": (today + timedelta(days=days)).isoformat()}


def _conference_fields(
    prefix: str,
    v: dict[str, str],
    tz: str,
    today: date,
    field_error: Callable[[str], str],
    *,
    optional: bool = False,
) -> str:
    def n(name: str) -> str:
        return f"{prefix}{name}"

    return (
        pages.text_input(
            n("name"),
            "Conference name",
            v.get(n("name"), ""),
            required=not optional,
            hint="Leave empty if you have no conference to add." if optional else "",
            error=field_error(n("name")),
            attrs={"maxlength": "200"},
        )
        + pages.text_input(
            n("hashtag"),
            "Hashtag (optional)",
            v.get(n("hashtag"), ""),
            hint="For example #ASCO26",
            error=field_error(n("hashtag")),
            attrs={"maxlength": "100"},
        )
        + pages.text_input(
            n("starts_on"),
            "First day",
            v.get(n("starts_on"), ""),
            kind="date",
            required=not optional,
            error=field_error(n("starts_on")),
            attrs={"min": today.isoformat()},
        )
        + pages.text_input(
            n("ends_on"),
            "Last day",
            v.get(n("ends_on"), ""),
            kind="date",
            required=not optional,
            error=field_error(n("ends_on")),
            attrs={"min": today.isoformat()},
        )
        + pages.timezone_select(
            n("timezone"),
            "Time zone of the conference",
            v.get(n("timezone"), ""),
            blank=f"Same as mine ({pages.zone_name(tz)})",
            hint="Emails during the conference arrive at your send time there.",
            error=field_error(n("timezone")),
        )
    )


def _unsubscribed_page(title: str, action: Action) -> Response:
    """Every link of an unsubscribed participant: nothing to confirm, nothing changes."""
    text = (
        "You are already unsubscribed: the program sends you no more emails."
        if action is Action.UNSUBSCRIBE
        else "You are unsubscribed from this program, so there is nothing to change here: "
        "it sends you no more emails."
    )
    return pages.page("You are unsubscribed", pages.paragraph(text), program=title)


def _done_message(claims: LinkClaims, p: Participant, program: Program, plan: Plan) -> list[str]:
    """What happened, then what happens next, in the participant's calendar."""
    match claims.action:
        case Action.MILESTONE:
            name = milestone_title(program, claims.args.get("milestone", ""))
            return [f"Recorded: {name}. Well done!", "Your next emails will suggest what might come next."]
        case Action.PERSONA:
            persona = persona_title(claims.args.get("persona", ""))
            return [f"You now hold the {persona} persona.", "Your next emails will include ideas for it."]
        case Action.SNOOZE:
            if p.paused_until is None:
                return ["Emails are snoozed."]
            return [
                f"We will not email you until {_local_day(p.paused_until, p.timezone)}.",
                "Then your journey picks up where it left off. To resume sooner, use the preferences "
                "link in any of our emails.",
            ]
        case Action.CONFERENCE:
            name = plan.form.get("name", "the conference")
            span = _date_span(plan.form["starts_on"], plan.form["ends_on"])
            return [f"Thanks! We'll help you get ready for {name} ({span})."]
        case Action.PREFERENCES:
            days = [_DAY_FULL[d] for d in p.send_days]
            listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
            lines = [
                "Your preferences are saved.",
                f"Emails arrive on {listed} at {p.send_time:%H:%M}, {pages.zone_name(p.timezone)} time.",
            ]
            if p.paused_until is not None and p.paused_until > datetime.now(UTC):
                lines.append(f"We will not email you until {_local_day(p.paused_until, p.timezone)}.")
            return lines
        case Action.UNSUBSCRIBE:
            return ["You are unsubscribed."]
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
            return await mentors.handle(request, claims, links.pool, links.programs)
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


__all__ = ["ACTION_TITLES", "LinkApp", "create_app"]
