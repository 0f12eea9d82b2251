"""The journey's state and `evolve`, the pure fold of events into it."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.events import (
    CADENCE_KINDS,
    BurstEnded,
    BurstStarted,
    Completed,
    ConferenceAdded,
    DormancyEnded,
    DormancyStarted,
    EmailNotSent,
    Enrolled,
    Event,
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
from domain.timing import Weekday, iso_week_key, local_date


class Mode(StrEnum):
    NOT_ENROLLED = "not_enrolled"
    ACTIVE = "active"
    PAUSED = "paused"
    DORMANT = "dormant"
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
    sends: int = 0
    last_cadence_send: UtcDatetime | None = None  # at most one cadence nudge per send slot
    week_key: str | None = None  # local ISO week of the last track nudge ...
    week_track_sends: int = 0  # ... and how many went that week (weekly cap)
    burst_day: date | None = None  # conference-local day of the last burst nudge ...
    burst_day_sends: int = 0  # ... and how many went that day (burst daily cap)

    welcome_sent: bool = False
    welcome_back_from: UtcDatetime | None = None  # pending welcome-back since this instant
    paused_until: UtcDatetime | None = None
    dormant_since: UtcDatetime | None = None  # detected dormancy
    last_checkin_at: UtcDatetime | None = None
    last_activity: UtcDatetime | None = None
    conferences: tuple[ConferenceState, ...] = ()
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
        if self.dormant_since is not None:
            return Mode.DORMANT
        return Mode.ACTIVE

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
            # (its slot, the weekly cap, the track's progress) stays taken: the journey goes on.
            return {"sends": max(state.sends - 1, 0)}
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
            return {}
        case DormancyEnded():
            if event.kind == "detected":
                return {"dormant_since": None, "welcome_back_from": at}
            return {}
        case Paused():
            return {"paused_until": event.until, "last_activity": _activity(state, at)}
        case Resumed():
            return {"paused_until": None, "last_activity": _activity(state, at)}
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
    # The weekly cap across a zone change: the count is kept by local week label. Track sends counted in
    # the old zone's week W still count against week W in the new zone, and a send in the new zone's
    # week W-1 (still running there, say after moving west) counts against W too (see `_sent_changes`), so
    # a zone change never lets a week get more than the cap.
    return update


def _sent_changes(state: JourneyState, event: NudgeDue) -> dict[str, object]:
    at = event.at
    update: dict[str, object] = {"sends": state.sends + 1}
    if event.kind in CADENCE_KINDS or event.kind is NudgeKind.BURST_PREP:
        # The prep goes at the participant's send time: on a send day it takes that slot, never two emails.
        update["last_cadence_send"] = at
    if event.nudge_id not in state.sent_nudges:
        update["sent_nudges"] = (*state.sent_nudges, event.nudge_id)
    match event.kind:
        case NudgeKind.TRACK:
            week = iso_week_key(at, state.timezone)
            if state.week_key is not None and week <= state.week_key:
                # Same week; or an earlier label, which only a zone change westwards produces: that
                # send counts against the week already counting (labels like 2026-W07 sort in order).
                update["week_track_sends"] = state.week_track_sends + 1
            else:
                update["week_key"] = week
                update["week_track_sends"] = 1
            if event.persona is not None:
                update["persona_last_served"] = {**state.persona_last_served, event.persona.value: at}
        case NudgeKind.WELCOME:
            update["welcome_sent"] = True
        case NudgeKind.WELCOME_BACK:
            update["welcome_back_from"] = None
        case NudgeKind.CHECKIN:
            update["last_checkin_at"] = at
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
