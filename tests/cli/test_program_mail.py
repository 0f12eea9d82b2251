"""`program validate|show` and `mail list|show` as staff run them."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from cli.errors import EXIT_INVALID
from tests.cli.stack import write_program
from tests.foundation.clirun import run_cli


def test_program_validate_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: the tables do not wrap
    program = write_program(tmp_path / "program")
    ok = run_cli("program", "validate", str(program), cwd=tmp_path)
    assert ok.returncode == 0 and "program 'small' is valid" in ok.stderr
    shown = json.loads(run_cli("program", "show", str(program), "--json", cwd=tmp_path).stdout)
    consumer = next(p for p in shown["personas"] if p["persona"] == "consumer")
    assert consumer["nudges"][:2] == ["consumer-01", "consumer-02"]
    assert shown["schedule"]["send_days"] == ["tue", "thu"]
    consumer_01 = next(n for n in shown["nudges"] if n["id"] == "consumer-01")
    assert consumer_01["subject"] == "About consumer-01" and consumer_01["milestones"] == ["followed_ten"]
    assert {"id": "first_post", "persona": "creator", "title": "First original post"} in shown["milestones"]
    creator = next(s for s in shown["suggestions"] if s["persona"] == "creator")
    assert creator["after_titles"] == ["Followed ten people", "Followed your institution"]
    text = run_cli("program", "show", str(program), cwd=tmp_path).stderr
    for shown_text in (
        "About consumer-01",
        "First original post",
        "offered after",
        "Followed your institution",
    ):
        assert shown_text in text
    (program / "nudges" / "welcome.md").unlink()
    bad = run_cli("program", "validate", str(program), cwd=tmp_path)
    assert bad.returncode == EXIT_INVALID
    assert f"{program}/nudges/: field 'kind': no message of kind 'welcome'" in bad.stderr


def test_mail_list_and_show(tmp_path: Path) -> None:
    mail = tmp_path / "state" / "mail"
    mail.mkdir(parents=True)
    msg = EmailMessage()
    msg["To"] = "ada@example.org"
    msg["Subject"] = "Welcome, Ada"
    msg["Message-ID"] = "<m1@mentorflow>"
    msg.set_content("Hello Ada")
    (mail / "20261125T000000.000000Z-m1-mentorflow.eml").write_bytes(bytes(msg))
    listed = json.loads(
        run_cli("mail", "list", "--json", cwd=tmp_path, state_dir=str(tmp_path / "state")).stdout
    )
    assert [(m["to"], m["subject"]) for m in listed] == [("ada@example.org", "Welcome, Ada")]
    shown = run_cli("mail", "show", "m1", cwd=tmp_path, state_dir=str(tmp_path / "state"))
    assert shown.returncode == 0 and "Subject: Welcome, Ada" in shown.stdout and "Hello Ada" in shown.stdout
    missing = run_cli("mail", "show", "nope", cwd=tmp_path, state_dir=str(tmp_path / "state"))
    assert missing.returncode == EXIT_INVALID and "no message matching 'nope'" in missing.stderr
