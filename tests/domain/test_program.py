from pathlib import Path

import pytest

from domain import NudgeKind, Persona, Program, ProgramError, parse_program
from infra.program_files import load_program
from tests.domain.small_program import nudge, small_files


def errors(files: dict[str, str]) -> list[str]:
    with pytest.raises(ProgramError) as info:
        parse_program(files, origin="programs/small")
    return str(info.value).splitlines()


def test_small_program_parses_with_bodies_and_tracks() -> None:
    program = parse_program(small_files())
    spec = program.spec
    assert spec.name == "small"
    assert [n.id for n in spec.track(Persona.CONSUMER)] == [f"consumer-{i:02d}" for i in range(1, 7)]
    assert spec.special(NudgeKind.RECAP).id == "recap"
    assert program.bodies["welcome"].startswith("Hi {{ first_name }}.")
    assert "+++" not in program.bodies["welcome"]
    # The program travels as JSON (cohort table, workflow input) and comes back equal.
    assert Program.model_validate_json(program.model_dump_json()) == program


def test_unknown_persona_names_file_field_and_reason() -> None:
    files = small_files()
    files["nudges/consumer-01.md"] = files["nudges/consumer-01.md"].replace(
        'persona = "consumer"', 'persona = "foo"'
    )
    assert (
        "programs/small/nudges/consumer-01.md: field 'persona': unknown persona 'foo' "
        "(one of consumer, creator, amplifier, twittermittent, mission)"
    ) in errors(files)


def test_cross_checks_each_name_their_file_and_field() -> None:
    files = small_files()
    files["program.toml"] = (
        files["program.toml"]
        .replace('send_time = "08:30"', 'send_time = "22:00"')
        .replace('after = ["followed_ten", "followed_institution"]', 'after = ["followed_ten", "nope"]')
    )
    files["nudges/consumer-02.md"] = nudge("consumer-01", "track", persona="consumer", order=2)
    files["nudges/consumer-04.md"] = nudge("consumer-04", "track", persona="consumer", order=3)
    files["nudges/creator-01.md"] = nudge(
        "creator-01", "track", persona="creator", order=1, milestones=("ghost",)
    )
    files["nudges/recap2.md"] = nudge("recap2", "recap")
    del files["nudges/checkin.md"]
    del files["nudges/checkin-2.md"]
    files["nudges/creator-02.md"] = nudge("creator-02", "welcome_back").replace(
        "+++\nHi", "not_before_week = 2\n+++\nHi"
    )
    files["nudges/amplifier-01.md"] = nudge(
        "amplifier-01", "track", persona="amplifier", order=1, body="{% if %}"
    )
    files["nudges/amplifier-02.md"] = "no front matter"
    files["nudges/mission-01.md"] = nudge("mission-01", "welcome", persona="mission", order=1)
    lines = errors(files)
    expected = [
        "programs/small/program.toml: field 'schedule.send_time': "
        "22:00 is inside the quiet hours 21:00-07:00",
        "programs/small/program.toml: field 'suggestions[0].after': unknown milestone 'nope'",
        "programs/small/nudges/consumer-02.md: field 'id': "
        "duplicate id 'consumer-01' (also in nudges/consumer-01.md)",
        "programs/small/nudges/consumer-04.md: field 'order': order 3 already used by nudges/consumer-03.md",
        "programs/small/nudges/creator-01.md: field 'milestones': unknown milestone 'ghost'",
        "programs/small/nudges/recap2.md: field 'kind': a second 'recap' message (also nudges/recap.md)",
        "programs/small/nudges/: field 'kind': no message of kind 'checkin'",
        "programs/small/nudges/amplifier-02.md: no TOML front matter: the file must start with a '+++' line",
        "programs/small/nudges/mission-01.md: field 'persona': only for kind 'track', not 'welcome'",
        "programs/small/nudges/creator-02.md: field 'not_before_week': "
        "only for kind 'track', not 'welcome_back'",
    ]
    for line in expected:
        assert line in lines
    assert any(
        line.startswith(
            "programs/small/nudges/amplifier-01.md: field 'body': template syntax error on line 1"
        )
        for line in lines
    )


def test_schema_errors_are_one_line_each() -> None:
    files = small_files()
    files["program.toml"] = (
        files["program.toml"]
        .replace("weekly_cap = 2", 'weekly_cap = "two"')
        .replace('name = "small"', 'name = "Small Program"\ncolour = "red"')
        .replace('quiet_days = ["sun"]', 'quiet_days = ["sunday"]')
    )
    files["nudges/welcome.md"] = files["nudges/welcome.md"].replace('subject = "About welcome"\n', "")
    lines = errors(files)
    assert "programs/small/program.toml: field 'colour': unknown field" in lines
    assert (
        "programs/small/program.toml: field 'name': 'Small Program' is not a program name "
        "(lowercase letters, digits and '-')" in lines
    )
    assert (
        "programs/small/program.toml: field 'schedule.quiet_days': unknown day 'sunday' "
        "(one of mon, tue, wed, thu, fri, sat, sun)" in lines
    )
    assert any(
        line.startswith("programs/small/program.toml: field 'schedule.weekly_cap': ") for line in lines
    )
    assert "programs/small/nudges/welcome.md: field 'subject': required" in lines


def test_all_quiet_send_days_and_missing_toml() -> None:
    files = small_files()
    files["program.toml"] = files["program.toml"].replace(
        'quiet_days = ["sun"]', 'quiet_days = ["tue", "thu"]'
    )
    assert (
        "programs/small/program.toml: field 'schedule.send_days': "
        "tue, thu are quiet days of the program: no email goes then" in errors(files)
    )
    del files["program.toml"]
    assert "programs/small/program.toml: missing" in errors(files)


def test_suggestion_needs_a_nudge_that_offers_it() -> None:
    files = small_files()
    files["nudges/consumer-03.md"] = nudge("consumer-03", "track", persona="consumer", order=3)
    assert (
        "programs/small/program.toml: field 'suggestions[0].persona': no track nudge offers 'creator' "
        "(set suggests = 'creator' on one)" in errors(files)
    )


def test_load_program_reads_a_directory(tmp_path: Path) -> None:
    for rel, text in small_files().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    (tmp_path / "README.md").write_text("ignored")
    assert load_program(tmp_path) == parse_program(small_files())
    (tmp_path / "nudges" / "welcome.md").write_text(nudge("welcome", "welcome", body="{{ oops"))
    with pytest.raises(ProgramError) as info:
        load_program(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}/nudges/welcome.md: field 'body': template syntax error")


def test_load_program_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProgramError) as info:
        load_program(tmp_path / "nope")
    assert str(info.value) == f"{tmp_path / 'nope'}: no such program directory"
