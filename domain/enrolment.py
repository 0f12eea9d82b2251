"""A participant's row as their journey's enrolment: the `Enroll` command and the roster's conferences.

One place for it: a cohort launch (rows read back from Postgres), the cohort preview (rows straight from
the roster file) and the benchmarks all enrol the same way.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from domain.commands import AddConference, Enroll
from domain.conferences import conference_id
from domain.program import ProgramSpec
from domain.roster import Enrolee, RosterConference
from domain.timing import start_of_local_day


class Enrolment(BaseModel):
    model_config = ConfigDict(frozen=True)

    participant_id: str
    enroll: Enroll
    conferences: tuple[AddConference, ...] = ()


def roster_conference_command(conf: RosterConference) -> AddConference:
    """The roster's conference as the journey's command; its id is stable, so re-runs add it once."""
    cid = conference_id(conf.name, conf.starts_on, conf.ends_on)
    return AddConference(
        command_id=f"roster-conference:{cid}",
        conference_id=cid,
        name=conf.name,
        hashtag=conf.hashtag,
        starts_on=conf.starts_on,
        ends_on=conf.ends_on,
        timezone=conf.timezone,
    )


def enrolment(
    row: Enrolee,
    *,
    journey_id: str,
    program: ProgramSpec,
    start_date: date,
    first_send_at: datetime | None = None,
) -> Enrolment:
    """The enrolment of `row` in a cohort starting on `start_date` (00:00 where the participant lives);
    `first_send_at` moves the welcome alone (the demo)."""
    return Enrolment(
        participant_id=row.participant_id,
        enroll=Enroll(
            command_id="enroll",
            journey_id=journey_id,
            program=program.name,
            timezone=row.timezone,
            send_days=row.send_days,
            send_time=row.send_time,
            personas=row.personas,
            start=start_of_local_day(start_date, row.timezone),
            first_send_at=first_send_at,
        ),
        conferences=tuple(roster_conference_command(c) for c in row.conferences),
    )
