"""A roster row becomes a journey's enrolment in the domain: the same for launch, preview and benchmarks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from domain import NudgeDue, Persona, enrol, simulate
from domain.enrolment import enrolment, roster_conference_command
from domain.roster import RosterRow, validate_roster
from infra.program_files import load_program

SPEC = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter").spec
HEADER = ["Participant ID", "Name", "Email", "Timezone", "Send days", "Send time", "Personas", "Conferences"]


def _row(*cells: str) -> RosterRow:
    roster = validate_roster(HEADER, [(2, list(cells))], program=SPEC, today=date(2027, 1, 1))
    assert roster.ok, roster.problems
    return roster.rows[0]


def test_a_roster_row_is_an_enroll_and_its_conferences() -> None:
    row = _row(
        "p-1",
        "Noor Haddad",
        "noor@example.org",
        "America/Chicago",
        "mon wed",
        "7:45 AM",
        "creator",
        "NKF|2027-04-08|2027-04-11|America/Chicago|NKF27",
    )
    made = enrolment(row, journey_id="journey-c-p-1", program=SPEC, start_date=date(2027, 1, 4))
    assert made.participant_id == "p-1"
    assert made.enroll.journey_id == "journey-c-p-1" and made.enroll.program == SPEC.name
    assert made.enroll.start == datetime(2027, 1, 4, 6, tzinfo=UTC)  # 00:00 in Chicago
    assert (made.enroll.send_days, made.enroll.send_time) == (("mon", "wed"), time(7, 45))
    (conference,) = made.conferences
    assert conference == roster_conference_command(row.conferences[0])
    assert (conference.name, conference.hashtag, conference.timezone) == ("NKF", "#NKF27", "America/Chicago")
    # Re-deciding the same row gives the same ids: a re-run of a launch adds nothing twice.
    again = enrolment(row, journey_id="journey-c-p-1", program=SPEC, start_date=date(2027, 1, 4))
    assert again == made
    _, state = enrol(made.enroll, made.conferences, datetime(2027, 1, 1, tzinfo=UTC), SPEC)
    assert [c.conference_id for c in state.conferences] == [conference.conference_id]


def test_a_row_with_no_persona_starts_as_a_reader() -> None:
    # Not check-ins only: the seed's way in is reading, so the row starts on the consumer track.
    row = _row("p-2", "Ben Whitaker", "ben@example.org", "America/New_York", "", "", "", "")
    assert row.personas == (Persona.CONSUMER,)
    made = enrolment(row, journey_id="journey-c~p-2", program=SPEC, start_date=date(2027, 1, 4))
    events = simulate(SPEC, made.enroll, datetime(2027, 1, 20, tzinfo=UTC))
    sent = [e.nudge_id for e in events if isinstance(e, NudgeDue)]
    assert sent[:2] == ["welcome", "consumer-01"]
