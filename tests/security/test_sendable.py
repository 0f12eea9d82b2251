"""Validation accepts only what can be sent, everywhere; what still cannot be sent fails once, clearly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from activities.send_nudge import send_nudge
from domain import AddConference
from domain.program import Program, ProgramError, parse_program
from domain.roster import validate_roster
from infra.program_files import load_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from store.programs import ProgramCache
from tests.cli.stack import cli
from tests.foundation.clirun import run_cli
from worker.devstack import MailSink
from workflows.contract import SendNudgeInput, SendStatus

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "programs" / "medtwitter"
PROGRAM = load_program(PROGRAM_DIR)
TODAY = date(2026, 11, 1)
HEADER = ["participant_id", "name", "email", "timezone", "mission", "conferences"]


def _problems(*cells: str) -> list[tuple[str, str]]:
    roster = validate_roster(HEADER, [(2, list(cells))], program=PROGRAM.spec, today=TODAY)
    return [(p.column, p.reason) for p in roster.problems]


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        (("p1", "Ada\r\nBcc: all@example.org", "ada@example.org", "UTC", "", ""), "name"),
        (("p1", "Ada", "ada@example.org", "UTC", "wellness\nand more", ""), "mission"),
        (("p1", "Ada", "ada@example.org", "UTC", "", "AS\r\nCO|2026-12-01|2026-12-02"), "conferences"),
        (("p1", "Ada\x00", "ada@example.org", "UTC", "", ""), "name"),
    ],
)
def test_control_characters_are_refused_in_the_roster(cells: tuple[str, ...], column: str) -> None:
    [(where, reason)] = _problems(*cells)
    assert where == column and "control character" in reason


def test_an_address_the_relay_cannot_take_is_refused_with_the_reason() -> None:
    [(where, reason)] = _problems("p1", "José", "josé@example.org", "UTC", "", "")
    assert where == "email" and "SMTPUTF8" in reason
    roster = validate_roster(
        HEADER,
        [(2, ["p1", "José", "josé@example.org", "UTC", "", ""])],
        program=PROGRAM.spec,
        today=TODAY,
        smtputf8=True,
    )
    assert roster.ok and roster.rows[0].email == "josé@example.org"
    # An international domain is fine: it is sent in its ASCII form.
    roster = validate_roster(
        HEADER, [(2, ["p1", "Ann", "ann@exämple.org", "UTC", "", ""])], program=PROGRAM.spec, today=TODAY
    )
    assert roster.ok and roster.rows[0].email == "ann@xn--exmple-cua.org"
    # Unicode names are text, not control characters.
    assert _problems("p1", "Zoë Ńowak 👩‍⚕️", "zoe@example.org", "UTC", "", "") == []


def test_cohort_start_follows_the_relays_smtputf8_setting(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("participant_id,name,email,timezone\np1,José,josé@example.org,UTC\n", encoding="utf-8")
    args = ["cohort", "start", str(roster), "--cohort", "u1", "--program", str(PROGRAM_DIR)]
    args += ["--start-date", "2099-01-05", "--dry-run"]
    off = run_cli(*args, cwd=tmp_path, smtp_utf8="off")
    assert off.returncode == 2, off.stderr
    assert "column email" in off.stderr and "MENTORFLOW_SMTP_UTF8=off" in off.stderr
    auto = run_cli(*args, cwd=tmp_path)
    assert auto.returncode == 0, auto.stderr


def test_a_conference_name_with_a_line_break_is_refused_by_the_command() -> None:
    with pytest.raises(ValidationError, match="control character"):
        AddConference(command_id="c", conference_id="x", name="ASCO\r\nX", starts_on=TODAY, ends_on=TODAY)


def test_the_staff_cli_refuses_a_conference_name_with_a_line_break(tmp_path: Path) -> None:
    result = run_cli(
        "participant",
        "conference",
        "p1",
        "--name",
        "ASCO\nX",
        "--starts",
        "2027-01-01",
        "--ends",
        "2027-01-02",
        "--cohort",
        "c1",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "--name: contains a control character" in result.stderr and "Traceback" not in result.stderr


def _files(**changes: str) -> dict[str, str]:
    files = {
        str(p.relative_to(PROGRAM_DIR)): p.read_text(encoding="utf-8")
        for p in PROGRAM_DIR.rglob("*")
        if p.is_file()
    }
    return files | changes


def test_program_validate_renders_every_template_and_names_file_and_line(tmp_path: Path) -> None:
    program = tmp_path / "program"
    for rel, text in _files().items():
        (program / rel).parent.mkdir(parents=True, exist_ok=True)
        (program / rel).write_text(text, encoding="utf-8")
    welcome = program / "nudges" / "welcome.md"
    lines = welcome.read_text(encoding="utf-8").splitlines()
    body_start = [i for i, line in enumerate(lines) if line.strip() == "+++"][1]
    typo_line = next(i for i, line in enumerate(lines) if i > body_start and "{{ first_name }}" in line)
    lines[typo_line] = lines[typo_line].replace("{{ first_name }}", "{{ frist_name }}")
    welcome.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prep = program / "nudges" / "burst-prep.md"
    prep.write_text(
        prep.read_text(encoding="utf-8").replace("{{ conference.name }}", "{{ conference.nmae }}", 1)
    )
    result = run_cli("program", "validate", str(program), cwd=tmp_path)
    assert result.returncode == 2
    assert f"nudges/welcome.md: line {typo_line + 1}: body: 'frist_name' is undefined" in result.stderr
    assert "nudges/burst-prep.md: line" in result.stderr and "nmae" in result.stderr


def test_program_titles_and_subjects_are_one_line() -> None:
    files = _files()
    files["program.toml"] = files["program.toml"].replace('title = "', 'title = "Line\\nbreak ', 1)
    with pytest.raises(ProgramError, match="control character"):
        parse_program(files)


# ---- the send path: a fault that retrying cannot fix fails that email once -------------------------


async def _cohort(pool: asyncpg.Pool, program: Program = PROGRAM) -> None:
    await save_cohort(pool, "c1", program, date(2026, 12, 1))
    await save_participants(
        pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="p1",
                name="Ada Okafor",
                email="ada@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
            )
        ],
    )


def _input(**extra: object) -> SendNudgeInput:
    return SendNudgeInput.model_validate(
        {
            "workflow_id": "journey-c1~p1",
            "cohort_id": "c1",
            "participant_id": "p1",
            "nudge_id": "welcome",
            "nudge_key": "welcome",
            "kind": "welcome",
            "scheduled_at": datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
        }
        | extra
    )


async def _ledger(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow("select status, error from send_ledger where workflow_id = 'journey-c1~p1'")
    assert row is not None
    return row


async def test_a_template_that_fails_for_this_participant_fails_the_email_once(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink
) -> None:
    # Valid for the samples, broken for someone with three milestones: only sending finds it.
    body = PROGRAM.bodies["welcome"] + "\n{% if achieved | length > 2 %}{{ achieved[7] }}{% endif %}\n"
    program = PROGRAM.model_copy(update={"bodies": PROGRAM.bodies | {"welcome": body}})
    await _cohort(db_pool, program)
    achieved = [m.id for m in PROGRAM.spec.milestones[:3]]
    result = await send_nudge(settings, db_pool, ProgramCache(), _input(achieved=achieved))
    assert result.status is SendStatus.FAILED
    assert "could not be rendered" in result.detail and "UndefinedError" in result.detail
    row = await _ledger(db_pool)
    assert row["status"] == "failed" and "could not be rendered" in row["error"]
    assert mail_sink.messages() == []
    again = await send_nudge(settings, db_pool, ProgramCache(), _input(achieved=achieved))
    assert again.status is SendStatus.FAILED  # settled: a retry neither raises nor sends


async def test_a_message_that_cannot_be_built_fails_once_without_the_address(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, tmp_path: Path
) -> None:
    await _cohort(db_pool)
    # Stored before validation existed (or by another tool): a line break in the name.
    await db_pool.execute("update participants set name = E'Ada\\r\\nBcc: spy@example.org'")
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.FAILED
    assert "could not be built" in result.detail and "@" not in result.detail
    assert (await _ledger(db_pool))["status"] == "failed"
    assert mail_sink.messages() == []
    # Staff see it, with the reason, where they look.
    show = await cli(settings, "participant", "show", "p1", "--cohort", "c1", "--json", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    [row] = json.loads(show.stdout)["participant"]["emails"]
    assert row["status"] == "failed" and "could not be built" in row["error"]
    status = await cli(settings, "cohort", "status", "c1", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    [failed] = json.loads(status.stdout)["failed"]
    assert (failed["recipient"], failed["recipient_id"]) == ("participant", "p1")
    assert "could not be built" in failed["error"]
    table = await cli(settings, "cohort", "status", "c1", cwd=tmp_path)
    assert "Failed emails" in table.stderr and "could not be" in table.stderr
