"""What starts a journey, and its workflow id: ids and schedule preferences only, never contact data."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field

from domain import AddConference, Enroll, JourneyState, ProgramSpec

_ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


def journey_id(cohort_id: str, participant_id: str) -> str:
    """`journey-{cohort}-{participant}`: what operators search for in the Temporal UI."""
    for label, value in (("cohort id", cohort_id), ("participant id", participant_id)):
        if not _ID_PART.match(value):
            raise ValueError(
                f"{label} {value!r} must be 1-100 characters of letters, digits and _ . : - "
                "starting with a letter or digit"
            )
    return f"journey-{cohort_id}-{participant_id}"


class Performing(StrEnum):
    """How a run performs a decision: the shape of the commands it issues, fixed for the whole run."""

    PER_EMAIL = "per-email"  # `send_nudge` per email, then `append_journey_events`: runs from before 2026-12
    ONE_ACTIVITY = "one-activity"  # `perform_journey_decision`: the emails, then the record of the events


class JourneyInput(BaseModel):
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
    # Changed only at a run boundary, so a running journey never sees it change and needs no patch marker
    # (whose TemporalChangeVersion upsert would cost the server a visibility write per run). Inputs from
    # before the field decode as PER_EMAIL; every run started (`activities.launch.journey_input`) or
    # continued as new by the current code is ONE_ACTIVITY. Runs last at most 30 days: then PER_EMAIL can go.
    performing: Performing = Performing.PER_EMAIL
