"""Greetings use the name people want, never a bare title ("Hi Dr.,")."""

from __future__ import annotations

from datetime import date

from domain.greeting import greeting_name
from domain.roster import validate_roster
from tests.domain.test_enrolment import SPEC


def test_a_title_is_never_the_greeting() -> None:
    assert greeting_name("Dr. Sofia Alvarez") == "Sofia"
    assert greeting_name("Prof Dr. Sofia Alvarez") == "Sofia"
    assert greeting_name("Sofia Alvarez, MD") == "Sofia"
    assert greeting_name("Dr. Lee") == "Dr. Lee"
    assert greeting_name("Dr.") == "colleague"
    assert greeting_name("Ada") == "Ada"


def test_the_chosen_greeting_name_wins() -> None:
    assert greeting_name("Dr. Sofia Alvarez", "Dr. Alvarez") == "Dr. Alvarez"
    assert greeting_name("Dr. Sofia Alvarez", "  ") == "Sofia"


def test_the_roster_reads_greeting_and_mentor_names_and_a_spaced_time_zone_header() -> None:
    header = ["Participant ID", "Name", "Email", "Time zone", "Greeting name", "Mentor email", "Mentor name"]
    row = [
        "p1",
        "Dr. Sofia Alvarez",
        "sofia@example.org",
        "Europe/Madrid",
        "Sofía",
        "lee@example.org",
        "Dr. Lee",
    ]
    roster = validate_roster(header, [(2, row)], program=SPEC, today=date(2027, 1, 1))
    assert roster.ok, roster.problems
    (r,) = roster.rows
    assert (r.timezone, r.greeting_name, r.mentor_email, r.mentor_name) == (
        "Europe/Madrid",
        "Sofía",
        "lee@example.org",
        "Dr. Lee",
    )


def test_a_send_day_that_is_a_quiet_day_is_refused_on_the_roster() -> None:
    header = ["participant_id", "name", "email", "timezone", "send_days"]
    roster = validate_roster(
        header,
        [(2, ["p1", "Ada", "ada@example.org", "UTC", "tue,sun"])],
        program=SPEC,
        today=date(2027, 1, 1),
    )
    assert [p.message("r.csv") for p in roster.problems] == [
        "r.csv: line 2, column send_days: 'tue,sun': sun is a quiet day of the program: no email goes then"
    ]
