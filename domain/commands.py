"""What callers ask of a journey, and `validate`, which says why a command would be rejected."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.agenda import catch_up
from domain.conferences import change_problem, conference_problem, normal_hashtag
from domain.events import EmailOutcome, PauseOrigin, UtcDatetime
from domain.personas import Persona
from domain.program import LocalTime, NudgeKind, ProgramSpec, Weekdays, send_preference_problems
from domain.rejections import Rejection, RejectionCode
from domain.state import ConferenceState, JourneyState
from domain.text import PlainText
from domain.timing import WEEKDAYS, Weekday, is_valid_zone, local_date, utc


def _no(code: RejectionCode, message: str) -> Rejection:
    return Rejection(code=code, message=message)


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: str = Field(min_length=1)  # caller-supplied; the same id twice is applied once


class Enroll(_Command):
    type: Literal["enroll"] = "enroll"
    journey_id: str = Field(min_length=1)  # ids only: the workflow id, never a name or email
    program: str
    timezone: str
    send_days: Weekdays | None = None  # None: the program's default
    send_time: LocalTime | None = None  # None: the program's default
    personas: tuple[Persona, ...] = ()
    start: UtcDatetime  # the cohort's start: the program runs duration_weeks from here
    # The welcome goes at this instant instead of the first send slot, unless it is a quiet hour or day
    # there (`dev up --demo`); every later email keeps the participant's schedule.
    first_send_at: UtcDatetime | None = None


class RecordMilestone(_Command):
    type: Literal["record_milestone"] = "record_milestone"
    milestone_id: str


class AdoptPersona(_Command):
    type: Literal["adopt_persona"] = "adopt_persona"
    persona: Persona
    source: Literal["participant", "staff"] = "participant"


class DropPersona(_Command):
    type: Literal["drop_persona"] = "drop_persona"
    persona: Persona


class Pause(_Command):
    type: Literal["pause"] = "pause"
    until: UtcDatetime
    origin: PauseOrigin = "participant"  # a pause of the same origin replaces it; others hold on


class Resume(_Command):
    """Lifts the pause of this origin only: the journey stays paused while another holds."""

    type: Literal["resume"] = "resume"
    origin: PauseOrigin = "participant"


class KeepGoing(_Command):
    """The participant's answer to the sunset email: yes, keep writing to me."""

    type: Literal["keep_going"] = "keep_going"


class AddConference(_Command):
    type: Literal["add_conference"] = "add_conference"
    conference_id: str = Field(min_length=1)
    name: PlainText = Field(min_length=1)
    hashtag: PlainText = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None  # None: the participant's


class RemoveConference(_Command):
    """Staff (or the participant) take a conference back: no prep, no daily emails, no recap for it; one
    under way stops. Editing one is removing it and adding the corrected one under a new id."""

    type: Literal["remove_conference"] = "remove_conference"
    conference_id: str = Field(min_length=1)


class ChangeConference(_Command):
    """Correct a conference the journey has (its name, hashtag, dates or zone; None keeps a field): the
    burst follows the new details; an email already sent for it is not sent again."""

    type: Literal["change_conference"] = "change_conference"
    conference_id: str = Field(min_length=1)
    name: PlainText | None = None
    hashtag: PlainText | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    timezone: str | None = None


def changed_conference(
    conference: ConferenceState, command: ChangeConference
) -> tuple[str, str, date, date, str | None]:
    """(name, hashtag, first day, last day, zone) of `conference` after `command`."""
    return (
        conference.name if command.name is None else " ".join(command.name.split()),
        conference.hashtag if command.hashtag is None else normal_hashtag(command.hashtag),
        conference.starts_on if command.starts_on is None else command.starts_on,
        conference.ends_on if command.ends_on is None else command.ends_on,
        conference.timezone if command.timezone is None else command.timezone,
    )


class Unsubscribe(_Command):
    type: Literal["unsubscribe"] = "unsubscribe"


class Resubscribe(_Command):
    """Staff record the participant's consent to be written to again (the consent itself stays in
    Postgres: `participant_consents`; the journey holds its id only)."""

    type: Literal["resubscribe"] = "resubscribe"
    consent_id: str = Field(min_length=1)


class RecordAmplified(_Command):
    """A mentor's "I amplified it" (their email's link) for one of the mentee's milestones."""

    type: Literal["record_amplified"] = "record_amplified"
    mentor_id: str = Field(min_length=1)  # an id, never the mentor's address
    milestone_id: str


class ChangeSchedule(_Command):
    """New send preferences (participant or staff); None leaves that preference as it is."""

    type: Literal["change_schedule"] = "change_schedule"
    timezone: str | None = None
    send_days: Weekdays | None = None
    send_time: LocalTime | None = None


class EndProgram(_Command):
    """Staff end the program early: the recap goes at the next send slot, then the journey completes."""

    type: Literal["end_program"] = "end_program"


class RecordEmailOutcome(_Command):
    """The sender's word on a due nudge's email when it did not go (the workflow feeds it back)."""

    type: Literal["record_email_outcome"] = "record_email_outcome"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str
    outcome: Literal["failed", "suppressed", "uncertain"]
    reason: str = ""


def email_outcome_id(nudge_key: str) -> str:
    """One outcome per email: the command id that makes a repeated report add nothing."""
    return f"email-outcome:{nudge_key}"


class SettleEmail(_Command):
    """The send ledger's final word on one of the journey's emails (staff's `mail resolve` or `mail
    resend`, or the relay's late reply to an attempt given up on), delivered by the steering service so
    the journey's record and counts follow the ledger. Accepted after the journey ended too."""

    type: Literal["settle_email"] = "settle_email"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str = Field(min_length=1)
    outcome: EmailOutcome
    reason: str = ""


class Tick(_Command):
    """The journey's timer fired: apply whatever fell due."""

    type: Literal["tick"] = "tick"
    command_id: str = "tick"


# What staff and participants may ask of a running journey (each one a JourneyWorkflow update).
SteerCommand = Annotated[
    RecordMilestone
    | AdoptPersona
    | DropPersona
    | Pause
    | Resume
    | KeepGoing
    | AddConference
    | RemoveConference
    | ChangeConference
    | Unsubscribe
    | Resubscribe
    | RecordAmplified
    | ChangeSchedule
    | EndProgram
    | SettleEmail,
    Field(discriminator="type"),
]

Command = Annotated[
    Enroll
    | RecordMilestone
    | AdoptPersona
    | DropPersona
    | Pause
    | Resume
    | KeepGoing
    | AddConference
    | RemoveConference
    | ChangeConference
    | Unsubscribe
    | Resubscribe
    | RecordAmplified
    | ChangeSchedule
    | EndProgram
    | SettleEmail
    | RecordEmailOutcome
    | Tick,
    Field(discriminator="type"),
]


_ORIGIN_WORDS = {"participant": "the participant", "staff": "staff", "cohort": "a cohort pause"}


def _enroll_rejection(
    state: JourneyState, command: Enroll, now: datetime, program: ProgramSpec
) -> Rejection | None:
    if state.enrolled:
        return _no(RejectionCode.ALREADY_ENROLLED, "already enrolled")
    if command.program != program.name:
        return _no(
            RejectionCode.WRONG_PROGRAM, f"enrolment names program {command.program!r}, not {program.name!r}"
        )
    if not is_valid_zone(command.timezone):
        return _no(RejectionCode.UNKNOWN_TIME_ZONE, f"unknown time zone {command.timezone!r}")
    send_days = command.send_days if command.send_days is not None else program.schedule.send_days
    send_time = command.send_time if command.send_time is not None else program.schedule.send_time
    problems = send_preference_problems(program.schedule, send_days, send_time)
    if problems:
        field, reason = problems[0]
        return _no(RejectionCode.BAD_SCHEDULE, f"{field}: {reason}")
    if command.start + timedelta(weeks=program.duration_weeks) <= now:
        return _no(RejectionCode.PROGRAM_OVER, "the program has already ended")
    return None


def _conference_rejection(state: JourneyState, command: AddConference, now: datetime) -> Rejection | None:
    if any(c.conference_id == command.conference_id for c in state.conferences):
        return _no(RejectionCode.CONFERENCE_ADDED, f"conference {command.conference_id!r} was already added")
    if command.conference_id in state.removed_conferences:
        return _no(
            RejectionCode.CONFERENCE_ADDED,
            f"conference {command.conference_id!r} was added and removed; add it again with other dates",
        )
    problem = conference_problem(
        command.name, command.hashtag, command.starts_on, command.ends_on, command.timezone
    )
    if problem is not None:
        return _no(problem.code, problem.message)
    if command.ends_on < local_date(now, command.timezone or state.timezone):
        return _no(RejectionCode.CONFERENCE_PAST, "the conference is in the past")
    assert state.ends_at is not None
    if command.starts_on > local_date(state.ends_at, state.timezone):
        return _no(RejectionCode.CONFERENCE_AFTER_PROGRAM, "the conference starts after the program ends")
    for other in state.conferences:
        if not other.ended and other.starts_on <= command.ends_on and command.starts_on <= other.ends_on:
            return _no(
                RejectionCode.CONFERENCE_OVERLAP, f"the dates overlap conference {other.conference_id!r}"
            )
    return None


def _change_conference_rejection(
    state: JourneyState, command: ChangeConference, now: datetime
) -> Rejection | None:
    conference = state.conference(command.conference_id)
    if conference is None:
        return _no(RejectionCode.UNKNOWN_CONFERENCE, f"no conference {command.conference_id!r}")
    if conference.ended:
        return _no(RejectionCode.CONFERENCE_OVER, f"conference {command.conference_id!r} is over")
    before = (
        conference.name,
        conference.hashtag,
        conference.starts_on,
        conference.ends_on,
        conference.timezone,
    )
    after = changed_conference(conference, command)
    # The venue's calendar decides what is past (the participant's when the zone is not one: refused below).
    venue = after[4] if after[4] is not None and is_valid_zone(after[4]) else state.timezone
    today = local_date(now, venue)
    problem = change_problem(started=conference.started, before=before, after=after, today=today)
    if problem is not None:
        return _no(problem.code, problem.message)
    assert state.ends_at is not None
    starts_on, ends_on = after[2], after[3]
    if starts_on > local_date(state.ends_at, state.timezone):
        return _no(RejectionCode.CONFERENCE_AFTER_PROGRAM, "the conference starts after the program ends")
    for other in state.conferences:
        if other.conference_id == conference.conference_id or other.ended:
            continue
        if other.starts_on <= ends_on and starts_on <= other.ends_on:
            return _no(
                RejectionCode.CONFERENCE_OVERLAP, f"the dates overlap conference {other.conference_id!r}"
            )
    return None


def _schedule_rejection(
    state: JourneyState, command: ChangeSchedule, program: ProgramSpec
) -> Rejection | None:
    if command.timezone is not None and not is_valid_zone(command.timezone):
        return _no(RejectionCode.UNKNOWN_TIME_ZONE, f"unknown time zone {command.timezone!r}")
    timezone, send_days, send_time = new_schedule(state, command)
    problems = send_preference_problems(program.schedule, send_days, send_time)
    if problems:
        field, reason = problems[0]
        return _no(RejectionCode.BAD_SCHEDULE, f"{field}: {reason}")
    if (timezone, send_days, send_time) == (state.timezone, state.send_days, state.send_time):
        return _no(
            RejectionCode.SCHEDULE_UNCHANGED,
            "nothing to change: the time zone, send days and send time are already these",
        )
    return None


def new_schedule(state: JourneyState, command: ChangeSchedule) -> tuple[str, tuple[Weekday, ...], time]:
    """The (time zone, send days in week order, send time) in force after `command`."""
    days = state.send_days if command.send_days is None else command.send_days
    return (
        state.timezone if command.timezone is None else command.timezone,
        tuple(d for d in WEEKDAYS if d in days),
        state.send_time if command.send_time is None else command.send_time,
    )


def rejection(state: JourneyState, command: Command, now: datetime, program: ProgramSpec) -> Rejection | None:
    """Why `command` cannot apply to `state` (already caught up to `now`), or None."""
    if isinstance(command, Tick):
        return None
    if isinstance(command, Enroll):
        return _enroll_rejection(state, command, now, program)
    if not state.enrolled:
        return _no(RejectionCode.NOT_ENROLLED, "the journey is not enrolled")
    # What happened to an email is recorded whatever the journey's state since (it may have ended).
    if isinstance(command, RecordEmailOutcome | SettleEmail):
        return _email_rejection(state, command)
    if state.unsubscribed_at is not None:
        return _no(RejectionCode.UNSUBSCRIBED, "already unsubscribed")
    if state.completed_at is not None:
        return _no(RejectionCode.COMPLETED, "the journey has completed")
    match command:
        case RecordAmplified() if command.milestone_id not in program.milestone_ids:
            return _no(RejectionCode.UNKNOWN_MILESTONE, f"unknown milestone {command.milestone_id!r}")
        case RecordMilestone():
            if command.milestone_id not in program.milestone_ids:
                valid = ", ".join(m.id for m in program.milestones)
                return _no(
                    RejectionCode.UNKNOWN_MILESTONE,
                    f"unknown milestone {command.milestone_id!r} (valid: {valid})",
                )
            if command.milestone_id in state.milestones:
                return _no(
                    RejectionCode.MILESTONE_RECORDED,
                    f"milestone {command.milestone_id!r} is already recorded",
                )
        case AdoptPersona():
            if command.persona in state.personas:
                return _no(RejectionCode.PERSONA_HELD, f"persona {command.persona.value!r} is already held")
        case DropPersona():
            if command.persona not in state.personas:
                return _no(RejectionCode.PERSONA_NOT_HELD, f"persona {command.persona.value!r} is not held")
        case Pause():
            if command.until <= now:
                return _no(RejectionCode.PAUSE_IN_PAST, "the pause would end in the past")
        case Resume():
            if command.origin not in state.pauses:
                return _no(
                    RejectionCode.NOT_PAUSED, f"the journey is not paused by {_ORIGIN_WORDS[command.origin]}"
                )
        case AddConference():
            return _conference_rejection(state, command, now)
        case RemoveConference():
            conference = state.conference(command.conference_id)
            if conference is None:
                return _no(RejectionCode.UNKNOWN_CONFERENCE, f"no conference {command.conference_id!r}")
            if conference.ended:
                return _no(RejectionCode.CONFERENCE_OVER, f"conference {command.conference_id!r} is over")
        case ChangeConference():
            return _change_conference_rejection(state, command, now)
        case ChangeSchedule():
            return _schedule_rejection(state, command, program)
        case EndProgram():
            assert state.ends_at is not None
            if state.ended_early_at is not None or state.ends_at <= now:
                return _no(
                    RejectionCode.ALREADY_ENDING,
                    "the program is already ending: the recap goes out at the next send slot",
                )
        case Unsubscribe() | Resubscribe():
            pass  # a running journey is subscribed: a resubscription is recorded (an unsubscribe ends it)
    return None


def _email_rejection(state: JourneyState, command: RecordEmailOutcome | SettleEmail) -> Rejection | None:
    key = command.nudge_key
    if command.nudge_id not in state.sent_nudges:
        return _no(RejectionCode.UNKNOWN_EMAIL, f"no email {command.nudge_id!r} fell due on this journey")
    if key not in state.settled_emails:
        return None  # the ledger's first word on it (the sender's report, or a settlement) stands
    held = state.email_outcome(key)
    if isinstance(command, RecordEmailOutcome) or command.outcome == held:
        # A report that comes after the ledger's final word (it raced a settlement) changes nothing.
        return _no(RejectionCode.EMAIL_SETTLED, f"email {key!r} is already settled as {held}")
    return None


def validate(state: JourneyState, command: Command, now: datetime, program: ProgramSpec) -> Rejection | None:
    """Why `command` would be rejected at `now` (a code and an operator's message), or None to accept it.

    A command already applied (same command_id) is accepted: applying it again changes nothing.
    Whatever fell due before `now` is taken into account (a journey that just completed rejects).
    """
    now = utc(now)
    if command.command_id in state.processed_commands or isinstance(command, Tick):
        return None
    if state.enrolled:
        _, state = catch_up(state, program, now)
    return rejection(state, command, now, program)
