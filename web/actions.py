"""The participant's link actions: what each page asks, the commands a submission leads to, what it says
when done. One `LinkAction` per action, in `LINK_ACTIONS`; `web.app` runs the flow they share.

Planning is pure: form fields in, a `Plan` (or a `FormError` naming the field) out. The domain checks the
fields; the journey's own validator decides the rest when the command arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from activities.render import milestone_title, persona_title
from domain import (
    AddConference,
    AdoptPersona,
    ChangeSchedule,
    DropPersona,
    KeepGoing,
    Pause,
    Persona,
    RecordMilestone,
    Resume,
    SteerCommand,
    Unsubscribe,
)
from domain.conferences import conference_id, conference_problem, normal_hashtag
from domain.program import Program, send_preference_problems
from domain.text import text_problem
from domain.timing import WEEKDAYS, is_valid_zone, zone
from infra.links import Action, LinkClaims
from store.intents import Participant
from web.pages import human_date, zone_name
from workflows.contract import ConferenceInfo

SNOOZE_DEFAULT_WEEKS = 2
_PLACEHOLDER_ID = "pending"  # replaced by the intent id when recorded


class FormError(Exception):
    """A field the participant filled in wrongly; shown next to the form, nothing recorded."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Plan:
    form: dict[str, str]  # the fields that make this submission what it is (hashed into the action id)
    commands: list[SteerCommand] = field(default_factory=list)  # ids are given when recorded
    notes: list[str] = field(default_factory=list)  # what changed in Postgres only, for the result page
    greeting: str | None = None  # a new greeting name (contact data, Postgres only); "" = from the name


def _date(form: dict[str, str], name: str, label: str, *, required: bool = True) -> date | None:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            raise FormError(name, f"{label}: please choose a date.")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormError(name, f"{label}: {raw!r} is not a date (use YYYY-MM-DD).") from None


def local_midnight(day: date, timezone: str) -> datetime:
    """The start of `day` where the participant lives, in UTC."""
    return datetime.combine(day, time(0), zone(timezone)).astimezone(UTC)


def plan_milestone(claims: LinkClaims) -> Plan:
    milestone = claims.args.get("milestone", "")
    return Plan(form={}, commands=[RecordMilestone(command_id=_PLACEHOLDER_ID, milestone_id=milestone)])


def plan_persona(claims: LinkClaims, participant: Participant) -> Plan:
    try:
        persona = Persona(claims.args.get("persona", ""))
    except ValueError:
        raise FormError("persona", "This link names a persona the program does not know.") from None
    return Plan(form={}, commands=[AdoptPersona(command_id=_PLACEHOLDER_ID, persona=persona)])


def plan_snooze(form: dict[str, str], participant: Participant, now: datetime) -> Plan:
    if form.get("until", "").strip():
        day = _date(form, "until", "Snooze until")
        assert day is not None
        until = local_midnight(day, participant.timezone)
        if until <= now:
            raise FormError("until", f"Snooze until: {day.isoformat()} is not in the future.")
        if until > now + timedelta(days=366):
            raise FormError(
                "until", "Snooze until: choose a date within a year; unsubscribe to stop for good."
            )
        key = {"until": day.isoformat()}
    else:
        until = now + timedelta(weeks=SNOOZE_DEFAULT_WEEKS)
        key = {"weeks": str(SNOOZE_DEFAULT_WEEKS)}
    return Plan(form=key, commands=[Pause(command_id=_PLACEHOLDER_ID, until=until)])


_FIELD_LABELS = {
    "name": "Conference name",
    "hashtag": "Hashtag",
    "starts_on": "First day",
    "ends_on": "Last day",
    "timezone": "Time zone",
}


def conference_command(form: dict[str, str], prefix: str) -> AddConference | None:
    """The conference a form describes; None when its name is left empty (preferences: optional)."""
    name = form.get(f"{prefix}name", "").strip()
    if not name:
        return None
    hashtag = form.get(f"{prefix}hashtag", "").strip()
    starts = _date(form, f"{prefix}starts_on", "First day")
    ends = _date(form, f"{prefix}ends_on", "Last day")
    assert starts is not None and ends is not None
    tz = form.get(f"{prefix}timezone", "").strip() or None
    problem = conference_problem(name, hashtag, starts, ends, tz)
    if problem is not None:
        raise FormError(f"{prefix}{problem.field}", f"{_FIELD_LABELS[problem.field]}: {problem.message}.")
    return AddConference(
        command_id=_PLACEHOLDER_ID,
        # The same conference told twice (on the roster, from two emails) gets the same id: "already added".
        conference_id=conference_id(name, starts, ends),
        name=name[:200],
        hashtag=normal_hashtag(hashtag)[:100],
        starts_on=starts,
        ends_on=ends,
        timezone=tz,
    )


_CONFERENCE_FIELDS = ("name", "hashtag", "starts_on", "ends_on", "timezone")


def plan_conference(form: dict[str, str]) -> Plan:
    key = {f: form.get(f, "").strip() for f in _CONFERENCE_FIELDS}
    if not key["name"]:
        raise FormError("name", "Conference name: please fill it in.")
    command = conference_command(form, "")
    assert command is not None
    return Plan(form=key, commands=[command])


PREFERENCE_FIELDS = ("timezone", "send_time", "snooze_until", "resume", "greeting_name")


def preferences_key(form: dict[str, str], days: list[str], personas: list[str]) -> dict[str, str]:
    key = {f: form.get(f, "").strip() for f in PREFERENCE_FIELDS}
    key |= {f"conf_{f}": form.get(f"conf_{f}", "").strip() for f in _CONFERENCE_FIELDS}
    key["send_days"] = ",".join(days)
    key["personas"] = ",".join(personas)
    return key


def plan_preferences(
    form: dict[str, str],
    days: list[str],
    personas: list[str],
    participant: Participant,
    program: Program,
    now: datetime,
) -> Plan:
    """Compare the form with the journey's preferences; each difference becomes a command (schedule
    changed, personas adopted/dropped, snooze, resume, conference)."""
    plan = Plan(form=preferences_key(form, days, personas))
    if "greeting_name" in form:
        greeting = " ".join(form["greeting_name"].split())
        problem = text_problem(greeting)
        if problem:
            raise FormError("greeting_name", f"Greet me as: {problem}.")
        if greeting != (participant.greeting_name or ""):
            plan.greeting = greeting

    timezone = form.get("timezone", "").strip()
    if not timezone or not is_valid_zone(timezone):
        raise FormError("timezone", f"Time zone: {timezone!r} is not a time zone (e.g. America/Chicago).")
    unknown_days = [d for d in days if d not in WEEKDAYS]
    if unknown_days:
        raise FormError("send_days", f"Send days: {unknown_days[0]!r} is not a day.")
    ordered_days: list[str] = [d for d in WEEKDAYS if d in days]
    try:
        send_time = time.fromisoformat(form.get("send_time", "").strip())
    except ValueError:
        raise FormError("send_time", "Send time: use HH:MM, e.g. 08:30.") from None
    problems = send_preference_problems(program.spec.schedule, ordered_days, send_time)
    if problems:
        name, reason = problems[0]
        raise FormError(name, f"{'Send days' if name == 'send_days' else 'Send time'}: {reason}.")
    changed = {
        "timezone": timezone if timezone != participant.timezone else None,
        "send_days": ordered_days if ordered_days != participant.send_days else None,
        "send_time": send_time
        if send_time.replace(second=0) != participant.send_time.replace(second=0)
        else None,
    }
    if any(v is not None for v in changed.values()):
        # First, so a conference told in the same form without a zone is in the new one.
        plan.commands.append(ChangeSchedule.model_validate({"command_id": _PLACEHOLDER_ID, **changed}))

    try:
        wanted = [Persona(p) for p in personas]
    except ValueError:
        raise FormError("personas", "Personas: one of them is not a persona.") from None
    held = set(participant.personas)
    for persona in wanted:
        if persona.value not in held:
            plan.commands.append(AdoptPersona(command_id=_PLACEHOLDER_ID, persona=persona))
    for name in participant.personas:
        if name not in {p.value for p in wanted}:
            plan.commands.append(DropPersona(command_id=_PLACEHOLDER_ID, persona=Persona(name)))

    if form.get("resume"):
        if participant.paused_until is None or participant.paused_until <= now:
            raise FormError("resume", "Resume: your emails are not snoozed.")
        plan.commands.append(Resume(command_id=_PLACEHOLDER_ID))
    elif form.get("snooze_until", "").strip():
        try:
            snooze = plan_snooze({"until": form["snooze_until"]}, participant, now)
        except FormError as err:
            raise FormError("snooze_until", err.message) from None
        plan.commands += snooze.commands

    conference = conference_command(form, "conf_")
    if conference is not None:
        plan.commands.append(conference)
    elif any(form.get(f"conf_{f}", "").strip() for f in ("hashtag", "starts_on", "ends_on")):
        raise FormError("conf_name", "Conference name: please fill it in, or clear the conference fields.")
    return plan


def plan_unsubscribe() -> Plan:
    return Plan(form={}, commands=[Unsubscribe(command_id=_PLACEHOLDER_ID)])


# ---- one object per link action: its page, its plan, what it says when done --------------------------

_DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday"}
_DAY_NAMES |= {"sat": "Saturday", "sun": "Sunday"}


@dataclass(frozen=True)
class Visit:
    """One request on a link: who and what it is for, and what was typed (a POST, or a form shown again
    after a mistake)."""

    claims: LinkClaims
    participant: Participant
    program: Program
    url: str
    now: datetime
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)  # checkbox groups
    error: FormError | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(zone(self.participant.timezone)).date()

    def field_error(self, name: str) -> str:
        return self.error.message if self.error is not None and self.error.field == name else ""


def local_day(instant: datetime, tz: str) -> str:
    return f"{human_date(instant.astimezone(zone(tz)))} ({zone_name(tz)} time)"


def date_span(starts_on: date, ends_on: date) -> str:
    return (
        human_date(starts_on) if starts_on == ends_on else f"{human_date(starts_on)} to {human_date(ends_on)}"
    )


def date_range(today: date, *, days: int) -> dict[str, str]:
    """The date picker's bounds: from tomorrow (participant's calendar) to `days` ahead."""
    return {"min": (today + timedelta(days=1)).isoformat(), "max": (today + timedelta(days=days)).isoformat()}


class LinkAction:
    """A link action: its page (`template` with `context`), the commands a submission leads to (`plan`)
    and what the participant reads once it is done (`done`: the headline, then what happens next)."""

    action: Action
    title: str
    template: str
    done_title = "Done"
    effective_at_once = False  # Postgres alone makes it so: "done" even while the journey catches up

    def context(self, visit: Visit, told: list[ConferenceInfo]) -> dict[str, Any]:
        return {}

    def plan(self, visit: Visit) -> Plan:
        raise NotImplementedError

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        raise NotImplementedError


class MilestoneAction(LinkAction):
    action, title, template = Action.MILESTONE, "Record a milestone", "actions/milestone.html"

    def context(self, visit: Visit, told: list[ConferenceInfo]) -> dict[str, Any]:
        return {"milestone": milestone_title(visit.program, visit.claims.args.get("milestone", ""))}

    def plan(self, visit: Visit) -> Plan:
        return plan_milestone(visit.claims)

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        name = milestone_title(visit.program, visit.claims.args.get("milestone", ""))
        return [f"Recorded: {name}. Well done!", "Your next emails will suggest what might come next."]


class PersonaAction(LinkAction):
    action, title, template = Action.PERSONA, "Try a persona", "actions/persona.html"

    def context(self, visit: Visit, told: list[ConferenceInfo]) -> dict[str, Any]:
        persona = visit.claims.args.get("persona", "")
        known = {p.value: p for p in Persona}
        return {
            "persona": persona_title(persona),
            "description": known[persona].description if persona in known else "",
        }

    def plan(self, visit: Visit) -> Plan:
        return plan_persona(visit.claims, visit.participant)

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        persona = persona_title(visit.claims.args.get("persona", ""))
        return [f"You now hold the {persona} persona.", "Your next emails will include ideas for it."]


class SnoozeAction(LinkAction):
    action, title, template = Action.SNOOZE, "Snooze emails", "actions/snooze.html"

    def context(self, visit: Visit, told: list[ConferenceInfo]) -> dict[str, Any]:
        return {
            "two_weeks": visit.today + timedelta(weeks=SNOOZE_DEFAULT_WEEKS),
            "date_range": date_range(visit.today, days=366),
        }

    def plan(self, visit: Visit) -> Plan:
        return plan_snooze(visit.values, visit.participant, visit.now)

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        if after.paused_until is None:
            return ["Emails are snoozed."]
        return [
            f"We will not email you until {local_day(after.paused_until, after.timezone)}.",
            "Then your journey picks up where it left off. To resume sooner, use the preferences "
            "link in any of our emails.",
        ]


class ConferenceAction(LinkAction):
    action, title, template = Action.CONFERENCE, "Tell us about a conference", "actions/conference.html"

    def plan(self, visit: Visit) -> Plan:
        return plan_conference(visit.values)

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        name = plan.form.get("name", "the conference")
        span = date_span(date.fromisoformat(plan.form["starts_on"]), date.fromisoformat(plan.form["ends_on"]))
        return [f"Thanks! We'll help you get ready for {name} ({span})."]


class PreferencesAction(LinkAction):
    action, title, template = Action.PREFERENCES, "Your preferences", "actions/preferences.html"

    def context(self, visit: Visit, told: list[ConferenceInfo]) -> dict[str, Any]:
        p = visit.participant
        snoozed = p.paused_until is not None and p.paused_until > visit.now
        posted = bool(visit.values)
        return {
            "greeting_name": p.greeting_name or "",
            "timezone": p.timezone,
            "send_time": f"{p.send_time:%H:%M}",
            "send_days": visit.lists.get("send_days", []) if posted else p.send_days,
            "personas": visit.lists.get("personas", []) if posted else p.personas,
            "day_options": [(d, _DAY_NAMES[d][:3]) for d in WEEKDAYS],
            "persona_options": [(x.value, x.title) for x in Persona],
            "snoozed_until": local_day(p.paused_until, p.timezone) if snoozed and p.paused_until else "",
            "date_range": date_range(visit.today, days=366),
            "conferences": [
                {"name": c.name, "hashtag": c.hashtag, "span": date_span(c.starts_on, c.ends_on)}
                for c in told
            ],
        }

    def plan(self, visit: Visit) -> Plan:
        days, personas = visit.lists.get("send_days", []), visit.lists.get("personas", [])
        return plan_preferences(visit.values, days, personas, visit.participant, visit.program, visit.now)

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        days = [_DAY_NAMES[d] for d in after.send_days]
        listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
        lines = [
            "Your preferences are saved.",
            f"Emails arrive on {listed} at {after.send_time:%H:%M}, {zone_name(after.timezone)} time.",
        ]
        if after.paused_until is not None and after.paused_until > visit.now:
            lines.append(f"We will not email you until {local_day(after.paused_until, after.timezone)}.")
        if plan.greeting is not None:
            lines.append(
                f"Our emails will greet you as {plan.greeting}."
                if plan.greeting
                else "Our emails will greet you by your first name."
            )
        return lines


class KeepGoingAction(LinkAction):
    """The sunset email's "yes, keep writing to me": after a long silence the journey would go quiet."""

    action, title, template = Action.KEEP_GOING, "Keep the notes coming", "actions/keep_going.html"

    def plan(self, visit: Visit) -> Plan:
        return Plan(form={}, commands=[KeepGoing(command_id=_PLACEHOLDER_ID)])

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        return ["Thank you: the notes keep coming, at your usual pace."]


class UnsubscribeAction(LinkAction):
    action, title, template = Action.UNSUBSCRIBE, "Unsubscribe", "actions/unsubscribe.html"
    done_title = "You are unsubscribed"
    effective_at_once = True  # the sender re-checks participants.unsubscribed_at before every email

    def plan(self, visit: Visit) -> Plan:
        # Whatever the body (RFC 8058's `List-Unsubscribe=One-Click` or our button): unsubscribe.
        return plan_unsubscribe()

    def done(self, visit: Visit, plan: Plan, after: Participant) -> list[str]:
        return ["You are unsubscribed. You will get no more emails from this program."]


# Adding a link action: its `Action` (infra/links.py, which signs it) and one object here.
LINK_ACTIONS: dict[Action, LinkAction] = {
    a.action: a
    for a in (
        MilestoneAction(),
        PersonaAction(),
        SnoozeAction(),
        ConferenceAction(),
        PreferencesAction(),
        KeepGoingAction(),
        UnsubscribeAction(),
    )
}
