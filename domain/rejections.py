"""Why a journey refuses a command: a code callers map to their reader's words, and an operator's message."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RejectionCode(StrEnum):
    """Why a journey refuses a command. Callers map the code to their reader's words (the web app to a
    participant's, the CLI to staff's); the message is for logs and operators and may be reworded."""

    NOT_ENROLLED = "not_enrolled"
    ALREADY_ENROLLED = "already_enrolled"
    WRONG_PROGRAM = "wrong_program"
    PROGRAM_OVER = "program_over"  # an enrolment after the program's end
    UNSUBSCRIBED = "unsubscribed"
    COMPLETED = "completed"
    JOURNEY_CLOSED = "journey_closed"  # its workflow has closed: said by the steering service, not here
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    BAD_SCHEDULE = "bad_schedule"  # send days / send time outside what the program allows
    SCHEDULE_UNCHANGED = "schedule_unchanged"
    UNKNOWN_MILESTONE = "unknown_milestone"
    MILESTONE_RECORDED = "milestone_recorded"
    PERSONA_HELD = "persona_held"
    PERSONA_NOT_HELD = "persona_not_held"
    PAUSE_IN_PAST = "pause_in_past"
    NOT_PAUSED = "not_paused"
    CONFERENCE_DATES = "conference_dates"  # ends before it starts
    CONFERENCE_TOO_LONG = "conference_too_long"
    CONFERENCE_PAST = "conference_past"
    CONFERENCE_AFTER_PROGRAM = "conference_after_program"
    CONFERENCE_ADDED = "conference_added"  # the same conference (same id) was told before
    CONFERENCE_OVERLAP = "conference_overlap"
    CONFERENCE_TEXT = "conference_text"  # a name or hashtag that cannot go in an email
    UNKNOWN_CONFERENCE = "unknown_conference"  # removing a conference the journey does not have
    CONFERENCE_OVER = "conference_over"  # removing (or changing) one that has already ended
    CONFERENCE_UNCHANGED = "conference_unchanged"  # a change that changes nothing
    ALREADY_ENDING = "already_ending"
    UNKNOWN_EMAIL = "unknown_email"  # settling an email that never fell due on this journey
    EMAIL_SETTLED = "email_settled"  # the journey already holds this final word on the email
    WITHDRAWN = "withdrawn"  # a pending unsubscribe lifted by the participant's recorded consent


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: RejectionCode
    message: str
