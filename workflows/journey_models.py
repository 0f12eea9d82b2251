"""What starts a journey, and its workflow id: ids and schedule preferences only, never contact data."""

from __future__ import annotations

import re

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
