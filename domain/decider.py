"""`decide`: from the state, a command (or a timer tick) and the current time, the new events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain.agenda import catch_up_and_peek, next_due
from domain.commands import (
    AddConference,
    AdoptPersona,
    ChangeConference,
    ChangeSchedule,
    Command,
    DropPersona,
    EndProgram,
    Enroll,
    KeepGoing,
    Pause,
    RecordAmplified,
    RecordEmailOutcome,
    RecordMilestone,
    RemoveConference,
    Resubscribe,
    Resume,
    SettleEmail,
    Tick,
    Unsubscribe,
    changed_conference,
    new_schedule,
    rejection,
)
from domain.events import (
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
    MentorAmplified,
    MilestoneAchieved,
    Paused,
    PersonaAdopted,
    PersonaDropped,
    PersonaSuggested,
    ProgramEndScheduled,
    Resubscribed,
    Resumed,
    ScheduleChanged,
    Unsubscribed,
)
from domain.personas import Persona
from domain.program import ProgramSpec
from domain.state import JourneyState, evolve
from domain.timing import utc


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    events: list[Event]
    next_wake_up: datetime | None  # when to call decide(Tick) next; None: nothing will ever fall due


def fold(state: JourneyState, events: list[Event]) -> JourneyState:
    for event in events:
        state = evolve(state, event)
    return state


def next_wake_up(state: JourneyState, program: ProgramSpec) -> datetime | None:
    due = next_due(state, program)
    return due.at if due else None


def _enrolled(command: Enroll, now: datetime, program: ProgramSpec) -> Enrolled:
    schedule = program.schedule
    return Enrolled(
        id=f"{command.journey_id}/{command.command_id}/0",
        at=now,
        command_id=command.command_id,
        journey_id=command.journey_id,
        program=program.name,
        timezone=command.timezone,
        send_days=command.send_days if command.send_days is not None else schedule.send_days,
        send_time=command.send_time if command.send_time is not None else schedule.send_time,
        personas=tuple(p for p in Persona if p in command.personas),
        start=command.start,
        ends_at=command.start + timedelta(weeks=program.duration_weeks),
        first_send_at=command.first_send_at,
    )


def _suggestions(state: JourneyState, milestone_id: str, program: ProgramSpec) -> list[Persona]:
    achieved = {*state.milestones, milestone_id}
    out: list[Persona] = []
    for suggestion in program.suggestions:
        persona = suggestion.persona
        if persona in state.personas or persona in state.suggested or persona in out:
            continue
        if all(m in achieved for m in suggestion.after):
            out.append(persona)
    return out


def _command_events(
    state: JourneyState, command: Command, now: datetime, program: ProgramSpec
) -> list[Event]:
    """The events of an accepted command, in order, at `now`."""
    cid = command.command_id
    events: list[Event] = []

    def ident() -> str:
        return f"{state.journey_id}/{command.command_id}/{len(events)}"

    # Any sign of life ends the silence (slowed or quiet), restores the cadence and earns a welcome-back.
    if not isinstance(command, Unsubscribe | EndProgram | RecordEmailOutcome | SettleEmail | Tick):
        if state.quiet_since is not None:
            events.append(DormancyEnded(id=ident(), kind="quiet", at=now, command_id=cid))
        if state.dormant_since is not None:
            events.append(DormancyEnded(id=ident(), kind="detected", at=now, command_id=cid))
    match command:
        case RecordMilestone():
            events.append(
                MilestoneAchieved(id=ident(), milestone_id=command.milestone_id, at=now, command_id=cid)
            )
            for persona in _suggestions(state, command.milestone_id, program):
                events.append(PersonaSuggested(id=ident(), persona=persona, at=now, command_id=cid))
        case AdoptPersona():
            events.append(
                PersonaAdopted(
                    id=ident(), persona=command.persona, source=command.source, at=now, command_id=cid
                )
            )
        case DropPersona():
            events.append(PersonaDropped(id=ident(), persona=command.persona, at=now, command_id=cid))
        case Pause():
            was_paused = state.paused_until is not None
            events.append(
                Paused(id=ident(), until=command.until, origin=command.origin, at=now, command_id=cid)
            )
            if not was_paused:
                events.append(
                    DormancyStarted(id=ident(), kind="planned", until=command.until, at=now, command_id=cid)
                )
        case Resume():
            if state.pauses.keys() == {command.origin}:  # the last pause that held
                events.append(DormancyEnded(id=ident(), kind="planned", at=now, command_id=cid))
            events.append(
                Resumed(id=ident(), reason="command", origin=command.origin, at=now, command_id=cid)
            )
        case KeepGoing():
            events.append(KeptGoing(id=ident(), at=now, command_id=cid))
        case AddConference():
            events.append(
                ConferenceAdded(
                    id=ident(),
                    conference_id=command.conference_id,
                    name=command.name,
                    hashtag=command.hashtag,
                    starts_on=command.starts_on,
                    ends_on=command.ends_on,
                    timezone=command.timezone,
                    at=now,
                    command_id=cid,
                )
            )
        case RemoveConference():
            events.append(
                ConferenceRemoved(id=ident(), conference_id=command.conference_id, at=now, command_id=cid)
            )
        case ChangeConference():
            conference = state.conference(command.conference_id)
            assert conference is not None  # validated
            name, hashtag, starts_on, ends_on, zone = changed_conference(conference, command)
            events.append(
                ConferenceChanged(
                    id=ident(),
                    conference_id=command.conference_id,
                    name=name,
                    hashtag=hashtag,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    timezone=zone,
                    at=now,
                    command_id=cid,
                )
            )
        case ChangeSchedule():
            timezone, send_days, send_time = new_schedule(state, command)
            events.append(
                ScheduleChanged(
                    id=ident(),
                    timezone=timezone,
                    send_days=send_days,
                    send_time=send_time,
                    at=now,
                    command_id=cid,
                )
            )
        case EndProgram():
            events.append(ProgramEndScheduled(id=ident(), at=now, command_id=cid))
        case Unsubscribe():
            events.append(Unsubscribed(id=ident(), at=now, command_id=cid))
        case Resubscribe():
            events.append(Resubscribed(id=ident(), consent_id=command.consent_id, at=now, command_id=cid))
        case RecordAmplified():
            events.append(
                MentorAmplified(
                    id=ident(),
                    mentor_id=command.mentor_id,
                    milestone_id=command.milestone_id,
                    at=now,
                    command_id=cid,
                )
            )
        case RecordEmailOutcome():
            events.append(
                EmailNotSent(
                    id=ident(),
                    nudge_id=command.nudge_id,
                    kind=command.kind,
                    nudge_key=command.nudge_key,
                    outcome=command.outcome,
                    reason=command.reason,
                    at=now,
                    command_id=cid,
                )
            )
        case SettleEmail():
            events.append(
                EmailSettled(
                    id=ident(),
                    nudge_id=command.nudge_id,
                    kind=command.kind,
                    nudge_key=command.nudge_key,
                    outcome=command.outcome,
                    reason=command.reason,
                    at=now,
                    command_id=cid,
                )
            )
        case _:
            pass
    return events


def decide(state: JourneyState, command: Command, now: datetime, program: ProgramSpec) -> Decision:
    """The events that `command` at `now` adds to the journey, and when to wake up next.

    First everything that fell due at or before `now` happens, each stamped with the instant it fell due
    (not `now`), then the command at `now`. A command already applied (same command_id) or rejected by
    `validate` adds nothing.
    """
    return _decide(state, command, now, program)[0]


def decide_and_evolve(
    state: JourneyState, command: Command, now: datetime, program: ProgramSpec
) -> tuple[Decision, JourneyState]:
    """`decide`, plus the state after its events: what the workflow and the simulator both need."""
    return _decide(state, command, now, program)


def _decide(
    state: JourneyState, command: Command, now: datetime, program: ProgramSpec
) -> tuple[Decision, JourneyState]:
    now = utc(now)
    if state.clock is not None:
        now = max(now, state.clock)
    events: list[Event] = []
    if isinstance(command, Enroll):
        if command.command_id in state.processed_commands or rejection(state, command, now, program):
            return Decision(events=[], next_wake_up=next_wake_up(state, program)), state
        enrolled = _enrolled(command, now, program)
        state = evolve(state, enrolled)
        events.append(enrolled)
    due_events, state, upcoming = catch_up_and_peek(state, program, now)
    events.extend(due_events)
    if (
        not isinstance(command, Enroll | Tick)
        and command.command_id not in state.processed_commands
        and rejection(state, command, now, program) is None
    ):
        new = _command_events(state, command, now, program)
        state = fold(state, new)
        events.extend(new)
        # The command may make something due already (a conference that has started): it happens now too.
        due_events, state, upcoming = catch_up_and_peek(state, program, now)
        events.extend(due_events)
    return Decision(events=events, next_wake_up=upcoming.at if upcoming else None), state


def enrol(
    enroll: Enroll, conferences: Sequence[AddConference], now: datetime, program: ProgramSpec
) -> tuple[Decision, JourneyState]:
    """A journey's first decision: the enrolment, then the roster's conferences, all at `now`.

    The workflow decides it in its init; a cohort launch decides it beforehand, in bulk, with this same
    function (see `activities.launch`).
    """
    decision, state = decide_and_evolve(JourneyState(), enroll, now, program)
    events = list(decision.events)
    for command in conferences:
        decision, state = decide_and_evolve(state, command, now, program)
        events.extend(decision.events)
    return Decision(events=events, next_wake_up=decision.next_wake_up), state
