"""The simulated-clock loop: the journey workflow runs exactly this, with durable timers instead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.commands import Command, Enroll, Tick
from domain.decider import decide_and_evolve
from domain.events import Event
from domain.program import ProgramSpec
from domain.state import JourneyState
from domain.timing import utc


def simulate(
    program: ProgramSpec,
    enroll: Enroll,
    until: datetime,
    scripted: Sequence[tuple[datetime, Command]] = (),
    *,
    enrolled_at: datetime | None = None,
) -> list[Event]:
    """Every event of a journey enrolled at `enrolled_at` (default: the cohort start) up to `until`.

    Ticks are fed at each wake-up instant and the scripted commands at theirs (in time order, a command
    at the same instant as a wake-up going after it); nothing after `until` happens.
    """
    _, events = simulate_state(program, enroll, until, scripted, enrolled_at=enrolled_at)
    return events


def simulate_state(
    program: ProgramSpec,
    enroll: Enroll,
    until: datetime,
    scripted: Sequence[tuple[datetime, Command]] = (),
    *,
    enrolled_at: datetime | None = None,
) -> tuple[JourneyState, list[Event]]:
    """`simulate`, also returning the final state."""
    until = utc(until)
    script = sorted(((utc(at), command) for at, command in scripted), key=lambda item: item[0])
    decision, state = decide_and_evolve(JourneyState(), enroll, utc(enrolled_at or enroll.start), program)
    events = list(decision.events)
    wake = decision.next_wake_up
    i = 0
    while True:
        command_at = script[i][0] if i < len(script) else None
        if wake is not None and wake <= until and (command_at is None or wake <= command_at):
            decision, state = decide_and_evolve(state, Tick(), wake, program)
        elif command_at is not None and command_at <= until:
            decision, state = decide_and_evolve(state, script[i][1], command_at, program)
            i += 1
        else:
            return state, events
        events.extend(decision.events)
        wake = decision.next_wake_up
