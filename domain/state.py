"""The journey's state and `evolve`, the pure fold of events into it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.events import (
    CADENCE_KINDS,
    CAPPED_KINDS,
    BurstEnded,
    BurstStarted,
    Completed,
    ConferenceAdded,
    ConferenceChanged,
    ConferenceRemoved,
    DormancyEnded,
    DormancyStarted,
    EmailNotSent,
    EmailSettled,
    Enrolled,
    Event,
    KeptGoing,
    MilestoneAchieved,
    NudgeDue,
    NudgeSkipped,
    Paused,
    PersonaAdopted,
    PersonaDropped,
    PersonaSuggested,
    ProgramEndScheduled,
    Resumed,
    ScheduleChanged,
    Unsubscribed,
    UtcDatetime,
)
from domain.personas import Persona
from domain.program import NudgeKind
from domain.timing import Weekday, local_date

# The weekly cap holds in every 7-day window.
WEEK = timedelta(weeks=1)


class Mode(StrEnum):
    NOT_ENROLLED = "not_enrolled"
    ACTIVE = "active"
    PAUSED = "paused"
    SLOWED = "slowed"  # weeks without a click: the track goes on at a gentler pace
    QUIET = "quiet"  # no answer to "shall we keep writing?": no email until the participant acts
    BURST = "burst"
    UNSUBSCRIBED = "unsubscribed"
    COMPLETED = "completed"


class ConferenceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    conference_id: str
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None
    added_at: UtcDatetime
    prep_done: bool = False
    started: bool = False
    ended: bool = False
    last_daily_on: date | None = None


class JourneyState(BaseModel):
    """Everything `decide` needs, folded from events. `JourneyState()` is a journey not yet enrolled.

    What falls due next is not stored: it is derived from this state and the program's rules
    (`domain.agenda.next_due`), because `evolve` does not see the program.
    """

    model_config = ConfigDict(frozen=True)

    journey_id: str = ""
    program: str = ""
    enrolled_at: UtcDatetime | None = None
    start: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    timezone: str = "UTC"
    send_days: tuple[Weekday, ...] = ()
    send_time: time = time(8, 30)

    personas: tuple[Persona, ...] = ()
    milestones: dict[str, UtcDatetime] = Field(default_factory=dict)  # in the order achieved
    suggested: tuple[Persona, ...] = ()
    suggested_at: dict[str, UtcDatetime] = Field(default_factory=dict)  # persona -> when suggested

    sent_nudges: tuple[str, ...] = ()  # ids of nudges sent (each track nudge goes at most once)
    persona_last_served: dict[str, UtcDatetime] = Field(default_factory=dict)  # fair rotation
    sends: int = 0  # emails that went (or may yet, while in flight): due, less those recorded not sent
    # Emails that did not go, by nudge key: failed | suppressed | uncertain (only those: the rest went).
    not_sent: dict[str, str] = Field(default_factory=dict)
    settled_emails: tuple[str, ...] = ()  # nudge keys the send ledger settled: its word is final
    last_cadence_send: UtcDatetime | None = None  # at most one cadence nudge per send slot
    recent_capped: tuple[UtcDatetime, ...] = ()  # capped sends of the last 8 days (the weekly cap)
    last_track_send: UtcDatetime | None = None
    burst_day: date | None = None  # conference-local day of the last burst nudge ...
    burst_day_sends: int = 0  # ... and how many went that day (burst daily cap)

    welcome_sent: bool = False
    first_send_at: UtcDatetime | None = None  # the welcome's instant when set at enrolment (demo)
    welcome_back_from: UtcDatetime | None = None  # pending welcome-back since this instant
    pauses: dict[str, UtcDatetime] = Field(default_factory=dict)  # origin -> until; paused while any holds
    dormant_since: UtcDatetime | None = None  # silence detected: the slowed cadence
    sunset_sent_at: UtcDatetime | None = None  # the latest "shall we keep writing?"
    quiet_since: UtcDatetime | None = None  # no answer to it: nothing is sent
    last_checkin_at: UtcDatetime | None = None
    last_activity: UtcDatetime | None = None
    conferences: tuple[ConferenceState, ...] = ()
    removed_conferences: tuple[str, ...] = ()  # ids taken back: never added again (their email keys)
    ended_early_at: UtcDatetime | None = None  # staff ended the program early (ends_at moved here)
    unsubscribed_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None

    processed_commands: tuple[str, ...] = ()
    clock: UtcDatetime | None = None  # instant of the latest event: the journey never goes back before it

    @property
    def enrolled(self) -> bool:
        return self.enrolled_at is not None

    @property
    def finished(self) -> bool:
        """Nothing more will ever happen: unsubscribed or completed."""
        return self.unsubscribed_at is not None or self.completed_at is not None

    @property
    def paused_until(self) -> datetime | None:
        """When the last pause that holds ends; None when not paused."""
        return max(self.pauses.values()) if self.pauses else None

    @property
    def in_burst(self) -> bool:
        return any(c.started and not c.ended for c in self.conferences)

    @property
    def mode(self) -> Mode:
        if not self.enrolled:
            return Mode.NOT_ENROLLED
        if self.unsubscribed_at is not None:
            return Mode.UNSUBSCRIBED
        if self.completed_at is not None:
            return Mode.COMPLETED
        if self.paused_until is not None:
            return Mode.PAUSED
        if self.in_burst:
            return Mode.BURST
        if self.quiet_since is not None:
            return Mode.QUIET
        if self.dormant_since is not None:
            return Mode.SLOWED
        return Mode.ACTIVE

    def email_outcome(self, nudge_key: str) -> str:
        """sent | failed | suppressed | uncertain: what the journey holds of a due email."""
        return self.not_sent.get(nudge_key, "sent")

    def conference(self, conference_id: str) -> ConferenceState | None:
        for c in self.conferences:
            if c.conference_id == conference_id:
                return c
        return None

    def burst_timezone(self, conference: ConferenceState) -> str:
        return conference.timezone or self.timezone


def _conferences_with(
    state: JourneyState, conference_id: str | None, **changes: object
) -> tuple[ConferenceState, ...]:
    return tuple(
        c.model_copy(update=changes) if c.conference_id == conference_id else c for c in state.conferences
    )


def _activity(state: JourneyState, at: datetime) -> datetime:
    return max(state.last_activity, at) if state.last_activity else at


def evolve(state: JourneyState, event: Event) -> JourneyState:
    """The state after `event`. Pure; folding a journey's events from `JourneyState()` rebuilds it."""
    at = event.at
    clock = max(state.clock, at) if state.clock else at
    update: dict[str, object] = {"clock": clock}
    if event.command_id is not None and event.command_id not in state.processed_commands:
        update["processed_commands"] = (*state.processed_commands, event.command_id)
    # One copy per event (it is the hot path of every journey): no change reads the clock or the commands.
    update.update(_changes(state, event))
    return state.model_copy(update=update)


def _changes(state: JourneyState, event: Event) -> dict[str, object]:
    """The fields `event` changes, besides the clock and the processed commands."""
    at = event.at
    match event:
        case Enrolled():
            return {
                "journey_id": event.journey_id,
                "program": event.program,
                "enrolled_at": at,
                "start": event.start,
                "ends_at": event.ends_at,
                "timezone": event.timezone,
                "send_days": event.send_days,
                "send_time": event.send_time,
                "personas": event.personas,
                "first_send_at": event.first_send_at,
                "last_activity": max(at, event.start),
            }
        case PersonaAdopted():
            personas = tuple(p for p in Persona if p in state.personas or p is event.persona)
            return {"personas": personas, "last_activity": _activity(state, at)}
        case PersonaDropped():
            personas = tuple(p for p in state.personas if p is not event.persona)
            return {"personas": personas, "last_activity": _activity(state, at)}
        case PersonaSuggested():
            return {
                "suggested": (*state.suggested, event.persona),
                "suggested_at": {**state.suggested_at, event.persona.value: at},
            }
        case MilestoneAchieved():
            return {
                "milestones": {**state.milestones, event.milestone_id: at},
                "last_activity": _activity(state, at),
            }
        case NudgeDue():
            return _sent_changes(state, event)
        case EmailNotSent():
            # `sends` counts emails that went: this one was counted when it fell due. The schedule it took
            # (its slot, the weekly cap, the track's progress) stays taken: the journey goes on. After the
            # ledger's final word (a settlement that came first) a report changes nothing.
            if event.nudge_key in state.settled_emails:
                return {}
            return _email_changes(state, event.nudge_key, event.outcome)
        case EmailSettled():
            settled = state.settled_emails
            if event.nudge_key not in settled:
                settled = (*settled, event.nudge_key)
            return {**_email_changes(state, event.nudge_key, event.outcome), "settled_emails": settled}
        case NudgeSkipped():
            if event.kind is NudgeKind.BURST_PREP:
                return {"conferences": _conferences_with(state, event.conference_id, prep_done=True)}
            if event.kind is NudgeKind.BURST_DAILY:
                conference = state.conference(event.conference_id or "")
                if conference is not None:
                    day = local_date(at, state.burst_timezone(conference))
                    return {"conferences": _conferences_with(state, event.conference_id, last_daily_on=day)}
            return {}
        case ConferenceAdded():
            conference = ConferenceState(
                conference_id=event.conference_id,
                name=event.name,
                hashtag=event.hashtag,
                starts_on=event.starts_on,
                ends_on=event.ends_on,
                timezone=event.timezone,
                added_at=at,
            )
            return {"conferences": (*state.conferences, conference), "last_activity": _activity(state, at)}
        case ConferenceRemoved():
            return {
                "conferences": tuple(c for c in state.conferences if c.conference_id != event.conference_id),
                "removed_conferences": (*state.removed_conferences, event.conference_id),
                "last_activity": _activity(state, at),
            }
        case ConferenceChanged():
            fields = {
                "name": event.name,
                "hashtag": event.hashtag,
                "starts_on": event.starts_on,
                "ends_on": event.ends_on,
                "timezone": event.timezone,
            }
            return {
                "conferences": _conferences_with(state, event.conference_id, **fields),
                "last_activity": _activity(state, at),
            }
        case BurstStarted():
            # The burst's daily emails are their welcome back: no separate one after the burst recap.
            return {
                "conferences": _conferences_with(state, event.conference_id, started=True),
                "last_activity": _activity(state, at),
                "welcome_back_from": None,
            }
        case BurstEnded():
            return {
                "conferences": _conferences_with(state, event.conference_id, ended=True),
                "last_activity": _activity(state, at),
            }
        case DormancyStarted():
            if event.kind == "detected":
                return {"dormant_since": at}
            if event.kind == "quiet":
                return {"quiet_since": at}
            return {}
        case DormancyEnded():
            if event.kind == "detected":
                return {"dormant_since": None, "welcome_back_from": at}
            if event.kind == "quiet":
                return {"quiet_since": None, "welcome_back_from": at}
            return {}
        case Paused():
            return {
                "pauses": {**state.pauses, event.origin: event.until},
                "last_activity": _activity(state, at),
            }
        case Resumed():
            pauses = {o: u for o, u in state.pauses.items() if o != event.origin}
            # Silence is counted from the end of a pause, however it ended.
            return {"pauses": pauses, "last_activity": _activity(state, at)}
        case KeptGoing():
            return {"last_activity": _activity(state, at)}
        case ScheduleChanged():
            return _schedule_changes(state, event)
        case ProgramEndScheduled():
            ends_at = min(at, state.ends_at) if state.ends_at else at
            return {"ended_early_at": at, "ends_at": ends_at}
        case Unsubscribed():
            return {"unsubscribed_at": at}
        case Completed():
            return {"completed_at": at}
    return {}


def _email_changes(state: JourneyState, nudge_key: str, outcome: str) -> dict[str, object]:
    """An email's outcome is now `outcome`: counted once whichever way it went before."""
    was_sent = state.email_outcome(nudge_key) == "sent"
    not_sent = {k: v for k, v in state.not_sent.items() if k != nudge_key}
    if outcome != "sent":
        not_sent[nudge_key] = outcome
    return {"not_sent": not_sent, "sends": max(state.sends + (outcome == "sent") - was_sent, 0)}


def _schedule_changes(state: JourneyState, event: ScheduleChanged) -> dict[str, object]:
    update: dict[str, object] = {
        "timezone": event.timezone,
        "send_days": event.send_days,
        "send_time": event.send_time,
        "last_activity": _activity(state, event.at),
    }
    if event.timezone != state.timezone:
        # A conference told without a zone happens where the participant lived when they told us: pin it,
        # so a burst keeps its days and daily send instants when the participant's zone changes.
        update["conferences"] = tuple(
            c if c.timezone is not None or c.ended else c.model_copy(update={"timezone": state.timezone})
            for c in state.conferences
        )
    return update


def _sent_changes(state: JourneyState, event: NudgeDue) -> dict[str, object]:
    at = event.at
    update: dict[str, object] = {"sends": state.sends + 1}
    if event.kind in CADENCE_KINDS or event.kind is NudgeKind.BURST_PREP:
        # The prep goes at the participant's send time: on a send day it takes that slot, never two emails.
        update["last_cadence_send"] = at
    if event.nudge_id not in state.sent_nudges:
        update["sent_nudges"] = (*state.sent_nudges, event.nudge_id)
    if event.kind in CAPPED_KINDS:
        # Eight days kept: the cap counts seven local days, and a zone change can stretch a day.
        update["recent_capped"] = (*(t for t in state.recent_capped if t > at - WEEK - timedelta(days=1)), at)
    match event.kind:
        case NudgeKind.TRACK:
            update["last_track_send"] = at
            if event.persona is not None:
                update["persona_last_served"] = {**state.persona_last_served, event.persona.value: at}
        case NudgeKind.WELCOME:
            update["welcome_sent"] = True
        case NudgeKind.WELCOME_BACK:
            update["welcome_back_from"] = None
        case NudgeKind.CHECKIN:
            update["last_checkin_at"] = at
        case NudgeKind.SUNSET:
            update["sunset_sent_at"] = at
        case NudgeKind.BURST_PREP | NudgeKind.BURST_DAILY:
            conference = state.conference(event.conference_id or "")
            if conference is not None:
                day = local_date(at, state.burst_timezone(conference))
                update["burst_day"] = day
                update["burst_day_sends"] = state.burst_day_sends + 1 if day == state.burst_day else 1
                field = "prep_done" if event.kind is NudgeKind.BURST_PREP else "last_daily_on"
                value: object = True if event.kind is NudgeKind.BURST_PREP else day
                update["conferences"] = _conferences_with(state, event.conference_id, **{field: value})
        case _:
            pass
    return update
