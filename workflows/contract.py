"""The contract between the workflows and the worker's activities: payload models, activity definitions
and the journey's workflow id. Workflows import only this (never `activities/`); the activities
implement the definitions declared here under the same names.

No contact data crosses it: ids, schedule preferences and what the domain decided.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field
from temporalio import activity

from domain import AddConference, Enroll, Event, JourneyState, ProgramSpec, journey_view

# ---- the journey's workflow id ---------------------------------------------------------------------

_ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
# Neither id may contain it (see _ID_PART), so the id is injective: `sec1`+`p-x` and `sec1-p`+`x` differ.
JOURNEY_ID_SEPARATOR = "~"
_PREFIX = "journey-"


def journey_id(cohort_id: str, participant_id: str) -> str:
    """`journey-{cohort}~{participant}`: readable in the Temporal UI, one id per (cohort, participant)."""
    for label, value in (("cohort id", cohort_id), ("participant id", participant_id)):
        if not _ID_PART.match(value):
            raise ValueError(
                f"{label} {value!r} must be 1-100 characters of letters, digits and _ . : - "
                "starting with a letter or digit"
            )
    return f"{_PREFIX}{cohort_id}{JOURNEY_ID_SEPARATOR}{participant_id}"


def parse_journey_id(workflow_id: str) -> tuple[str, str] | None:
    """(cohort id, participant id) of a journey id; None if it is not one `journey_id` builds."""
    cohort_id, sep, participant_id = workflow_id.removeprefix(_PREFIX).partition(JOURNEY_ID_SEPARATOR)
    if not workflow_id.startswith(_PREFIX) or not sep:
        return None
    try:
        return (cohort_id, participant_id) if journey_id(cohort_id, participant_id) == workflow_id else None
    except ValueError:
        return None


class JourneyInput(BaseModel):
    """What starts a journey: ids and schedule preferences only, never contact data."""

    cohort_id: str
    participant_id: str
    program: ProgramSpec
    enroll: Enroll
    # The roster's conferences, added with the enrolment (one decision, no update round trips).
    conferences: list[AddConference] = Field(default_factory=list)
    # Carried across continue-as-new; on the first run None (the journey enrols itself) or the state a
    # cohort launch already enrolled it to (`activities.launch.enrolled_input`).
    state: JourneyState | None = None
    events_folded: int = 0  # the projection's version: an older write never overwrites a newer one


# ---- recording events ------------------------------------------------------------------------------


class StoredEvent(BaseModel):
    """A domain event as the store keeps it: the id and time as columns, the rest as JSON."""

    id: str
    type: str
    at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class ConferenceInfo(BaseModel):
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date


class JourneyProjection(BaseModel):
    """Where the journey stands after the events: what pages and reports read (the participant's
    preferences included; nothing else holds them once the journey runs)."""

    version: int
    mode: str
    personas: list[str] = Field(default_factory=list)
    milestones: dict[str, datetime] = Field(default_factory=dict)
    next_nudge_at: datetime | None = None
    next_nudge_id: str | None = None
    paused_until: datetime | None = None
    timezone: str
    send_days: list[str]
    send_time: time
    conferences: list[ConferenceInfo] = Field(default_factory=list)  # not over yet, in date order
    emails_sent: int = 0  # emails that went, as the journey counts them (settlements included)


class AppendEventsInput(BaseModel):
    workflow_id: str
    cohort_id: str
    participant_id: str
    events: list[StoredEvent] = Field(default_factory=list)
    projection: JourneyProjection


def append_input(
    ids: tuple[str, str, str], events: list[Event], state: JourneyState, program: ProgramSpec, version: int
) -> AppendEventsInput:
    """The store's view of `events` and of the journey after them; `ids` = (workflow, cohort, participant).

    Pure, so the workflow and a cohort launch (which records enrolments in bulk) build the same rows.
    """
    workflow_id, cohort_id, participant_id = ids
    view = journey_view(state, program)
    return AppendEventsInput(
        workflow_id=workflow_id,
        cohort_id=cohort_id,
        participant_id=participant_id,
        events=[
            StoredEvent(
                id=e.id, type=e.type, at=e.at, payload=e.model_dump(mode="json", exclude={"id", "type", "at"})
            )
            for e in events
        ],
        projection=JourneyProjection(
            version=version,
            mode=view.mode.value,
            personas=[p.value for p in view.personas],
            milestones=dict(state.milestones),
            next_nudge_at=view.next_nudge_at,
            next_nudge_id=view.next_nudge_id,
            paused_until=view.paused_until,
            timezone=state.timezone,
            send_days=list(state.send_days),
            send_time=state.send_time,
            conferences=[
                ConferenceInfo(name=c.name, hashtag=c.hashtag, starts_on=c.starts_on, ends_on=c.ends_on)
                for c in sorted(state.conferences, key=lambda c: c.starts_on)
                if not c.ended
            ],
            emails_sent=state.sends,
        ),
    )


# ---- sending emails --------------------------------------------------------------------------------


class SendNudgeInput(BaseModel):
    workflow_id: str
    cohort_id: str
    participant_id: str
    nudge_id: str
    nudge_key: str
    kind: str
    scheduled_at: datetime
    personas: list[str] = Field(default_factory=list)
    achieved: list[str] = Field(default_factory=list)  # milestone ids, in the order achieved
    conference: ConferenceInfo | None = None
    weeks_left: int = 0
    ended_early: bool = False  # staff ended the program early: the recap says so


class SendStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx), or transient faults past the retry budget
    SUPPRESSED = "suppressed"  # unsubscribed or paused when it came to sending
    # Handed over to the relay with no reply (timeout, dropped connection, worker killed): it may have
    # gone or not, so it is never sent again unless staff say so (`mentorflow mail resolve|resend`).
    UNCERTAIN = "uncertain"


class SendNudgeResult(BaseModel):
    status: SendStatus
    message_id: str
    detail: str = ""


class PerformDecisionInput(BaseModel):
    """One decision of a journey: its emails, then the record of its events (the store never runs ahead
    of the sends). Each part is idempotent (the send ledger, event ids, the projection's version)."""

    sends: list[SendNudgeInput] = Field(default_factory=list)
    record: AppendEventsInput


class PerformDecisionResult(BaseModel):
    sends: list[SendNudgeResult] = Field(default_factory=list)
    appended: int = 0


# ---- launching a cohort ----------------------------------------------------------------------------


class LaunchBatchInput(BaseModel):
    cohort_id: str
    task_queue: str
    after: str | None = None  # participant ids are processed in order; resume after this one
    limit: int = 100
    # When the batch's enrolments are decided: fixed by the launch workflow, so a retried batch decides
    # exactly the same events. None: now.
    decided_at: datetime | None = None
    first_send_at: datetime | None = None  # the demo's: each welcome then, when not a quiet hour there


class LaunchFailure(BaseModel):
    """A row the launch could not start for a reason retrying cannot fix (ids and reasons only)."""

    participant_id: str
    reason: str


class LaunchBatchResult(BaseModel):
    processed: int = 0  # rows handled: started, found running or closed, or failed
    failed: list[LaunchFailure] = Field(default_factory=list)
    closed: int = 0  # journeys that had already ended (unsubscribed or completed): left alone
    last: str | None = None
    total: int = 0  # participants in the cohort now
    done: bool = False


# ---- the activities, as workflows call them --------------------------------------------------------
# Workflows call these definitions (`workflow.execute_activity_method`); `activities/` implements each
# under the same name, and the worker test checks that every one is registered.

PERFORM_DECISION = "perform_journey_decision"
LAUNCH_BATCH = "launch_journey_batch"


class JourneyActivities(Protocol):
    @activity.defn(name=PERFORM_DECISION)
    async def perform_decision(self, data: PerformDecisionInput) -> PerformDecisionResult: ...


class LaunchActivities(Protocol):
    @activity.defn(name=LAUNCH_BATCH)
    async def launch_batch(self, data: LaunchBatchInput) -> LaunchBatchResult: ...


# ---- mentors ---------------------------------------------------------------------------------------
# A mentor's workflow carries ids only: their name, email and preferences stay in Postgres.

_MENTOR_PREFIX = "mentor-"


def mentor_workflow_id(cohort_id: str, mentor_id: str) -> str:
    """`mentor-{cohort}~{mentor_id}`: one durable workflow per mentor of a cohort."""
    journey_id(cohort_id, mentor_id)  # the same rules for both parts
    return f"{_MENTOR_PREFIX}{cohort_id}{JOURNEY_ID_SEPARATOR}{mentor_id}"


def parse_mentor_workflow_id(workflow_id: str) -> tuple[str, str] | None:
    if not workflow_id.startswith(_MENTOR_PREFIX):
        return None
    parsed = parse_journey_id("journey-" + workflow_id.removeprefix(_MENTOR_PREFIX))
    return parsed


class MentorInput(BaseModel):
    cohort_id: str
    mentor_id: str
    slots_done: int = 0  # across continue-as-new: for operators only


class MentorSlotInput(BaseModel):
    workflow_id: str
    cohort_id: str
    mentor_id: str
    slot: datetime  # the send slot this is for (the ledger keys on it)
    force: str | None = None  # digest | amplify: staff asked for it now, whatever the day


class NextMentorSlot(BaseModel):
    at: datetime | None = None  # None: nothing planned (unsubscribed, or both off): look again later
    ended: bool = False  # every mentee's journey has ended (completed or unsubscribed): the workflow ends


class MentorSlotResult(BaseModel):
    sent: str | None = None  # digest | amplify, or None: nothing to report at this slot
    status: str | None = None  # the ledger status of what was sent
    detail: str = ""


NEXT_MENTOR_SLOT = "next_mentor_slot"
PERFORM_MENTOR_SLOT = "perform_mentor_slot"


class MentorActivities(Protocol):
    @activity.defn(name=NEXT_MENTOR_SLOT)
    async def next_slot(self, data: MentorSlotInput) -> NextMentorSlot: ...

    @activity.defn(name=PERFORM_MENTOR_SLOT)
    async def perform_slot(self, data: MentorSlotInput) -> MentorSlotResult: ...
