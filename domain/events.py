"""The journey's events: the truth the state is folded from. Ids are deterministic, never random.

An event caused by a command has id `{journey_id}/{command_id}/{n}`; one that fell due on the journey's own
clock has `{journey_id}/{what}/{n}` where `what` names the due item (unique within the journey). The
journey id prefix keeps ids unique across journeys, as the event store requires.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from domain.personas import Persona
from domain.program import NudgeKind
from domain.timing import Weekday


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# planned: a pause; detected: weeks without a click, the track slows down; quiet: no answer to the sunset
# email, nothing is sent until the participant acts.
DormancyKind = Literal["planned", "detected", "quiet"]
# Who paused: the participant (a snooze), staff for this participant, staff for the whole cohort. Each
# resume lifts only its own pause.
PauseOrigin = Literal["participant", "staff", "cohort"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    at: UtcDatetime
    command_id: str | None = None  # the command that caused it; None when it fell due on the clock


class Enrolled(_Event):
    type: Literal["enrolled"] = "enrolled"
    journey_id: str
    program: str
    timezone: str
    send_days: tuple[Weekday, ...]
    send_time: time
    personas: tuple[Persona, ...] = ()
    start: UtcDatetime
    ends_at: UtcDatetime  # start + the program's duration
    first_send_at: UtcDatetime | None = None  # the welcome goes then instead of at the first slot (demo)


class PersonaAdopted(_Event):
    type: Literal["persona_adopted"] = "persona_adopted"
    persona: Persona
    source: str = "participant"  # participant | staff


class PersonaDropped(_Event):
    type: Literal["persona_dropped"] = "persona_dropped"
    persona: Persona


class PersonaSuggested(_Event):
    type: Literal["persona_suggested"] = "persona_suggested"
    persona: Persona


class MilestoneAchieved(_Event):
    type: Literal["milestone_achieved"] = "milestone_achieved"
    milestone_id: str


class NudgeDue(_Event):
    """A nudge fell due at `at` and is handed to the sender (idempotent on (journey, nudge_key)). Whether
    it went is the send's outcome: an `EmailNotSent` follows if it did not."""

    type: Literal["nudge_due"] = "nudge_due"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str  # unique within the journey and stable: the send ledger's key
    persona: Persona | None = None  # the track it came from
    conference_id: str | None = None


class EmailNotSent(_Event):
    """The email of a due nudge did not go: refused for good (`failed`), held back because the participant
    had unsubscribed or paused by the time it was sent (`suppressed`), or handed over with no reply
    (`uncertain`: it may have arrived; staff settle it in the send ledger)."""

    type: Literal["email_not_sent"] = "email_not_sent"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str
    outcome: Literal["failed", "suppressed", "uncertain"]
    reason: str = ""  # what the relay or the ledger said, addresses redacted


# What became of an email in the end, as the send ledger says: it went, it was refused for good, held
# back (unsubscribed or paused), or handed over with no reply.
EmailOutcome = Literal["sent", "failed", "suppressed", "uncertain"]


class EmailSettled(_Event):
    """The send ledger's final word on an email the journey had recorded (staff resolved it or sent it
    again, or the relay's reply reached an attempt given up on): the journey counts it as the ledger
    says from now on, and an outcome reported later for it changes nothing."""

    type: Literal["email_settled"] = "email_settled"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str
    outcome: EmailOutcome
    reason: str = ""  # how it was settled, addresses redacted


class NudgeSkipped(_Event):
    type: Literal["nudge_skipped"] = "nudge_skipped"
    nudge_id: str
    kind: NudgeKind
    nudge_key: str
    reason: str  # paused | burst_daily_cap | quiet | never_started
    conference_id: str | None = None


class ConferenceAdded(_Event):
    type: Literal["conference_added"] = "conference_added"
    conference_id: str
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None


class ConferenceRemoved(_Event):
    type: Literal["conference_removed"] = "conference_removed"
    conference_id: str


class ConferenceChanged(_Event):
    """A conference's corrected details, in full (what the journey follows from now on)."""

    type: Literal["conference_changed"] = "conference_changed"
    conference_id: str
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None


class BurstStarted(_Event):
    type: Literal["burst_started"] = "burst_started"
    conference_id: str


class BurstEnded(_Event):
    type: Literal["burst_ended"] = "burst_ended"
    conference_id: str


class DormancyStarted(_Event):
    type: Literal["dormancy_started"] = "dormancy_started"
    kind: DormancyKind
    until: UtcDatetime | None = None


class DormancyEnded(_Event):
    type: Literal["dormancy_ended"] = "dormancy_ended"
    kind: DormancyKind


class Paused(_Event):
    type: Literal["paused"] = "paused"
    until: UtcDatetime
    origin: PauseOrigin = "participant"


class Resumed(_Event):
    type: Literal["resumed"] = "resumed"
    reason: Literal["command", "until"] = "command"
    origin: PauseOrigin = "participant"


class KeptGoing(_Event):
    """The participant answered the sunset email: yes, keep writing."""

    type: Literal["kept_going"] = "kept_going"


class ScheduleChanged(_Event):
    """The send preferences in force from `at` on (all three, whichever the command changed)."""

    type: Literal["schedule_changed"] = "schedule_changed"
    timezone: str
    send_days: tuple[Weekday, ...]
    send_time: time


class ProgramEndScheduled(_Event):
    """Staff ended the program early: it now ends at `at`; the recap and `Completed` follow at the next
    send slot, exactly as at the natural end."""

    type: Literal["program_end_scheduled"] = "program_end_scheduled"


class Unsubscribed(_Event):
    type: Literal["unsubscribed"] = "unsubscribed"


class Resubscribed(_Event):
    """The participant consented to be written to again (before their unsubscribe reached the journey);
    the consent's words are in Postgres under `consent_id`."""

    type: Literal["resubscribed"] = "resubscribed"
    consent_id: str


class MentorAmplified(_Event):
    """The mentee's mentor brought attention to one of their milestones (counted in reports)."""

    type: Literal["mentor_amplified"] = "mentor_amplified"
    mentor_id: str
    milestone_id: str


class Completed(_Event):
    type: Literal["completed"] = "completed"


Event = Annotated[
    Enrolled
    | PersonaAdopted
    | PersonaDropped
    | PersonaSuggested
    | MilestoneAchieved
    | NudgeDue
    | EmailNotSent
    | EmailSettled
    | NudgeSkipped
    | ConferenceAdded
    | ConferenceRemoved
    | ConferenceChanged
    | BurstStarted
    | BurstEnded
    | DormancyStarted
    | DormancyEnded
    | Paused
    | Resumed
    | KeptGoing
    | ScheduleChanged
    | ProgramEndScheduled
    | Unsubscribed
    | Resubscribed
    | MentorAmplified
    | Completed,
    Field(discriminator="type"),
]

# Kinds sent at the participant's regular send slots: at most one of them per slot.
CADENCE_KINDS: frozenset[NudgeKind] = frozenset(
    {
        NudgeKind.WELCOME,
        NudgeKind.WELCOME_BACK,
        NudgeKind.CHECKIN,
        NudgeKind.TRACK,
        NudgeKind.BURST_RECAP,
        NudgeKind.RECAP,
        NudgeKind.SUNSET,
    }
)
# Kinds the weekly cap counts, in every 7-day window: everything but the burst's and the program's end.
CAPPED_KINDS: frozenset[NudgeKind] = frozenset(
    {NudgeKind.WELCOME, NudgeKind.WELCOME_BACK, NudgeKind.CHECKIN, NudgeKind.TRACK, NudgeKind.SUNSET}
)
