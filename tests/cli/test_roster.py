"""The roster as staff export it: every bad row named with line, column, value and reason."""

from __future__ import annotations

import codecs
from datetime import date, time
from pathlib import Path

import pytest

from cli.errors import CliError
from cli.roster_file import load_roster
from domain.personas import Persona
from domain.program import ProgramSpec, QuietHours, Schedule
from domain.roster import parse_conferences

TODAY = date(2026, 9, 1)


@pytest.fixture(scope="module")
def spec() -> ProgramSpec:
    schedule = Schedule(quiet_hours=QuietHours(start=time(21), end=time(7)), quiet_days=("sun",))
    return ProgramSpec(name="medtwitter", title="T", duration_weeks=52, schedule=schedule)


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", bom: bytes = b"") -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(bom + text.encode(encoding))
    return path


HEADER = "participant_id,name,email,timezone,send_days,send_time,personas,mentor_email,mission,conferences\n"


def test_excel_export_with_bom_crlf_and_quotes(tmp_path, spec):
    text = (
        HEADER.replace("\n", "\r\n")
        + 'p1,"Okafor, Ada",ada@example.org,America/Chicago,"tue,thu",07:45,"consumer,creator",'
        'mentor@example.org,"Wellness, for all",'
        '"NKF Spring Clinical|2026-10-08|2026-10-11|America/Chicago|NKFClinicals"\r\n'
        "p2,Bo Li,bo@example.org,Europe/London,,,,,,\r\n"
        ",,,,,,,,,\r\n"
    )
    roster = load_roster(write(tmp_path, text, bom=codecs.BOM_UTF8), program=spec, today=TODAY)
    assert roster.problems == []
    first, second = roster.rows
    assert first.name == "Okafor, Ada"
    assert first.send_days == ("tue", "thu") and first.send_time == time(7, 45)
    assert first.personas == (Persona.CONSUMER, Persona.CREATOR)
    assert first.mission == "Wellness, for all"
    (conf,) = first.conferences
    assert (conf.name, conf.starts_on, conf.timezone, conf.hashtag) == (
        "NKF Spring Clinical",
        date(2026, 10, 8),
        "America/Chicago",
        "#NKFClinicals",
    )
    # Empty optional cells take the program's defaults.
    assert second.send_days == spec.schedule.send_days and second.send_time == spec.schedule.send_time


def test_semicolon_delimited_and_utf16(tmp_path, spec):
    text = "Participant ID;Name;Email;Timezone\np1;Zoë Müller;zoe@example.org;Europe/Berlin\n"
    roster = load_roster(write(tmp_path, text, encoding="utf-16"), program=spec, today=TODAY)
    assert roster.problems == [] and roster.rows[0].name == "Zoë Müller"


def test_every_error_kind_is_reported_with_line_column_value_reason(tmp_path, spec):
    text = HEADER + (
        "p1,Ada,ada@example.org,America/Chicago,,,,,,\n"
        "p2,Bo,not-an-email,America/Chicago,,,,,,\n"
        "p3,Cy,cy@example.org,Mars/Olympus,,,,,,\n"
        "p4,Di,di@example.org,UTC,,,influencer,,,\n"
        "p1,Ed,ed@example.org,UTC,,,,,,\n"
        "p6,Flo,ADA@example.org,UTC,,,,,,\n"
        "p7,Gus,gus@example.org,UTC,,,,,,Old Meeting|2026-03-01|2026-03-03\n"
        "p8,Hal,hal@example.org,UTC,,23:00,,,,\n"
    )
    roster = load_roster(write(tmp_path, text), program=spec, today=TODAY)
    messages = [p.message("roster.csv") for p in roster.problems]
    assert messages == [
        "roster.csv: line 3, column email: 'not-an-email': not a valid email address: "
        "An email address must have an @-sign.",
        "roster.csv: line 4, column timezone: 'Mars/Olympus': unknown time zone "
        "(use an IANA name like America/Chicago)",
        "roster.csv: line 5, column personas: 'influencer': unknown persona 'influencer' "
        "(one of consumer, creator, amplifier, twittermittent, mission)",
        "roster.csv: line 6, column participant_id: 'p1': duplicate participant id (first on line 2)",
        "roster.csv: line 7, column email: 'ADA@example.org': duplicate email (first on line 2)",
        "roster.csv: line 8, column conferences: 'Old Meeting|2026-03-01|2026-03-03': "
        "conference 'Old Meeting': it ended on 2026-03-03 (in the past)",
        "roster.csv: line 9, column send_time: '23:00': 23:00 is inside the quiet hours 21:00-07:00",
    ]
    assert [r.participant_id for r in roster.rows] == ["p1"]
    assert roster.invalid_lines == [3, 4, 5, 6, 7, 8, 9]


def test_missing_and_unknown_columns_are_fatal(tmp_path, spec):
    roster = load_roster(
        write(tmp_path, "participant_id,name,mail,timezone\np1,A,a@x.org,UTC\n"), program=spec, today=TODAY
    )
    assert roster.fatal
    assert [p.message("r.csv") for p in roster.problems] == [
        "r.csv: line 1, column mail: 'mail': unknown column (known: participant_id, name, email, timezone, "
        "send_days, send_time, personas, greeting_name, mentor_email, mentor_name, mission, conferences)",
        "r.csv: line 1, column email: missing column",
    ]


def test_multiline_quoted_field_reports_the_line_it_starts_on(tmp_path, spec):
    text = HEADER + 'p1,Ada,ada@example.org,UTC,,,,,"line one\nline two",\np2,Bo,bad,UTC,,,,,,\n'
    roster = load_roster(write(tmp_path, text), program=spec, today=TODAY)
    # A mission goes into emails as one line: the line break itself is a problem too.
    assert [(p.line, p.column) for p in roster.problems] == [(2, "mission"), (4, "email")]


def test_not_utf8_is_one_clear_error(tmp_path, spec):
    path = write(tmp_path, HEADER + "p1,Zo\xeb,z@example.org,UTC,,,,,,\n", encoding="latin-1")
    with pytest.raises(CliError, match=r"line 2: not UTF-8 text"):
        load_roster(path, program=spec, today=TODAY)


def test_conference_format():
    (a, b) = parse_conferences("A|2026-10-01|2026-10-02; B|2026-11-01|2026-11-03|Asia/Tokyo|#b", TODAY)
    assert (a.timezone, b.timezone, b.hashtag) == (None, "Asia/Tokyo", "#b")
    with pytest.raises(ValueError, match=r"conference 'A': the conference ends before it starts"):
        parse_conferences("A|2026-10-05|2026-10-01", TODAY)
    with pytest.raises(ValueError, match="not 'Name"):
        parse_conferences("A 2026-10-05", TODAY)
