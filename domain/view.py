"""What a journey looks like from outside: the workflow's query answer, built from the state."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.agenda import fire, next_due
from domain.events import NudgeDue
from domain.personas import Persona
from domain.program import NudgeKind, ProgramSpec
from domain.state import JourneyState, Mode, evolve

# Looking ahead for the next send crosses at most a few bookkeeping items (resume, burst start...).
_PEEK_STEPS = 200


class UpcomingBurst(BaseModel):
    model_config = ConfigDict(frozen=True)

    conference_id: str
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date
    timezone: str | None = None
    in_progress: bool = False


class JourneyView(BaseModel):
    model_config = ConfigDict(frozen=True)

    journey_id: str = ""
    program: str = ""
    mode: Mode = Mode.NOT_ENROLLED
    personas: list[Persona] = Field(default_factory=list)
    milestones: dict[str, datetime] = Field(default_factory=dict)  # id -> when, in the order achieved
    suggested_personas: list[Persona] = Field(default_factory=list)  # suggested and not (yet) adopted
    next_nudge_at: datetime | None = None
    next_nudge_id: str | None = None
    next_nudge_kind: NudgeKind | None = None
    paused_until: datetime | None = None
    upcoming_bursts: list[UpcomingBurst] = Field(default_factory=list)
    sends: int = 0
    enrolled_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str = "UTC"  # the participant's, so staff read every instant above on their clock


def next_send(state: JourneyState, program: ProgramSpec) -> NudgeDue | None:
    """The next nudge that will go out if nothing else happens (running the journey's clock ahead)."""
    for _ in range(_PEEK_STEPS):
        due = next_due(state, program)
        if due is None:
            return None
        for event in fire(state, due, program):
            if isinstance(event, NudgeDue):
                return event
            state = evolve(state, event)
    return None


def journey_view(state: JourneyState, program: ProgramSpec) -> JourneyView:
    upcoming = next_send(state, program)
    return JourneyView(
        journey_id=state.journey_id,
        program=state.program,
        mode=state.mode,
        personas=list(state.personas),
        milestones=dict(state.milestones),
        suggested_personas=[p for p in state.suggested if p not in state.personas],
        next_nudge_at=upcoming.at if upcoming else None,
        next_nudge_id=upcoming.nudge_id if upcoming else None,
        next_nudge_kind=upcoming.kind if upcoming else None,
        paused_until=state.paused_until,
        upcoming_bursts=[
            UpcomingBurst(
                conference_id=c.conference_id,
                name=c.name,
                hashtag=c.hashtag,
                starts_on=c.starts_on,
                ends_on=c.ends_on,
                timezone=c.timezone,
                in_progress=c.started,
            )
            for c in state.conferences
            if not c.ended
        ],
        sends=state.sends,
        enrolled_at=state.enrolled_at,
        ends_at=state.ends_at,
        timezone=state.timezone,
    )
