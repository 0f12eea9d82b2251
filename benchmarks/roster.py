"""Synthetic rosters for the benchmarks: deterministic, with the variety of a real multi-site cohort."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from domain.personas import Persona
from domain.roster import RosterConference, RosterRow
from domain.timing import Weekday

ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Rome",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
DAYS: tuple[tuple[Weekday, ...], ...] = (
    ("tue", "thu"),
    ("mon", "wed", "fri"),
    ("tue", "fri"),
    ("mon", "thu"),
)
TIMES = (time(8, 30), time(7, 45), time(12, 15), time(17, 0))
PERSONAS = (
    (Persona.CONSUMER,),
    (Persona.CONSUMER, Persona.CREATOR),
    (Persona.CONSUMER, Persona.AMPLIFIER),
    (Persona.CREATOR, Persona.MISSION),
    (Persona.CONSUMER, Persona.TWITTERMITTENT),
    (Persona.MISSION,),
    (Persona.CONSUMER, Persona.CREATOR, Persona.AMPLIFIER),
    (Persona.AMPLIFIER,),
)


def synthetic_rows(n: int, start: date, *, distinct: bool = False, seed: int = 6) -> list[RosterRow]:
    """`n` participants; most share a profile with others, as in a real roster. With `distinct`, every
    participant gets its own send time (a different minute), so no two journeys are the same."""
    rng = random.Random(seed)
    conferences = tuple(
        RosterConference(
            name=f"Meeting {i}",
            starts_on=start + timedelta(weeks=8 + 9 * i, days=2),
            ends_on=start + timedelta(weeks=8 + 9 * i, days=5),
            timezone=ZONES[i],
        )
        for i in range(3)
    )
    rows: list[RosterRow] = []
    for i in range(n):
        send_time = TIMES[rng.randrange(len(TIMES))]
        if distinct:
            send_time = time(8 + (i // 60) % 12, i % 60)
        rows.append(
            RosterRow(
                line=i + 2,
                participant_id=f"p{i:06d}",
                name=f"Participant {i}",
                email=f"p{i}@example.org",
                timezone=ZONES[rng.randrange(len(ZONES))],
                send_days=DAYS[0] if rng.random() < 0.7 else DAYS[rng.randrange(len(DAYS))],
                send_time=send_time,
                personas=PERSONAS[rng.randrange(len(PERSONAS))],
                conferences=(conferences[rng.randrange(3)],) if rng.random() < 0.15 else (),
            )
        )
    return rows
