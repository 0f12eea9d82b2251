"""Mentors in Postgres from the roster's mentor_email; `mentor list|show`; the mentors of `cohort status`."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain import RecordMilestone
from infra.settings import Settings
from store.mentors import mentor_id_for, sync_mentors
from tests.cli.stack import cli, roster, write_program
from tests.cli.test_launch import START
from tests.domain.small_program import small_program
from tests.reports.journeys import monday_weeks_ago, run_journey, save
from tests.reports.test_cohort_report import COHORT, seed
from worker.devstack import MailSink
from worker.main import build_worker
from workflows.contract import MentorInput, mentor_workflow_id
from workflows.mentor import MentorWorkflow


async def _seed(pool: asyncpg.Pool) -> None:
    await seed(pool, datetime.now(UTC))
    # p4's mentor is p5, a participant too (the roster's case is kept; mentors are matched without it).
    await pool.execute("update participants set mentor_email = 'P5@Example.org' where participant_id = 'p4'")
    assert await sync_mentors(pool, COHORT) == 3
    assert await sync_mentors(pool, COHORT) == 0  # a re-run of the launch adds nobody twice


async def test_mentors_from_the_roster(db_pool: asyncpg.Pool) -> None:
    await _seed(db_pool)
    rows = await db_pool.fetch("select mentor_id, email, name, timezone from mentors order by email")
    assert [(r["email"], r["name"]) for r in rows] == [
        ("amara@mentors.org", "amara"),
        ("bo@mentors.org", "bo"),
        ("p5@example.org", "Dr. P5 Ñandú"),  # also a participant: their own name and zone
    ]
    assert all(
        r["mentor_id"] == mentor_id_for(r["email"]) and r["timezone"] == "America/New_York" for r in rows
    )
    assert mentor_id_for("P5@Example.org ") == mentor_id_for("p5@example.org")


async def test_mentor_list_show_and_cohort_status(
    settings: Settings, db_pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    await _seed(db_pool)
    listed = await cli(settings, "mentor", "list", "--cohort", COHORT, "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    by_email = {s["mentor"]["email"]: s for s in json.loads(listed.stdout)}
    assert (by_email["amara@mentors.org"]["mentees"], by_email["amara@mentors.org"]["quiet"]) == (2, 1)
    assert (by_email["bo@mentors.org"]["mentees"], by_email["bo@mentors.org"]["quiet"]) == (1, 1)
    table = await cli(settings, "mentor", "list", "--cohort", COHORT, cwd=tmp_path)
    assert "amara@mentors.org" in table.stderr and "Mentors of rep1 (3)" in table.stderr

    shown = await cli(settings, "mentor", "show", "AMARA@mentors.org", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert [m["participant_id"] for m in detail["mentees"]] == ["p1", "p3"]
    p1 = detail["mentees"][0]
    assert p1["milestones"] == ["followed_ten", "followed_institution"] and p1["quiet"] is False
    assert detail["mentees"][1]["quiet"] is True
    also = await cli(settings, "mentor", "show", "p5@example.org", cwd=tmp_path)
    assert "also a participant" in also.stderr and "p4" in also.stderr

    missing = await cli(settings, "mentor", "show", "nobody@x.org", cwd=tmp_path)
    assert missing.returncode == 2 and "no mentor 'nobody@x.org'" in missing.stderr
    no_cohort = await cli(settings, "mentor", "list", "--cohort", "nope", cwd=tmp_path)
    assert no_cohort.returncode == 2 and "no cohort 'nope'" in no_cohort.stderr

    status = await cli(settings, "cohort", "status", COHORT, "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    mentors = {m["email"]: m["mentees"] for m in json.loads(status.stdout)["mentors"]}
    assert mentors == {"amara@mentors.org": 2, "bo@mentors.org": 1, "p5@example.org": 1}
    text = await cli(settings, "cohort", "status", COHORT, cwd=tmp_path)
    assert "Mentors (3)" in text.stderr and "bo@mentors.org" in text.stderr


async def test_cohort_start_saves_the_rosters_mentors_and_starts_their_workflows(
    settings: Settings, temporal_env: WorkflowEnvironment, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    program = write_program(tmp_path / "program")
    rows = [
        "a1,Ada One,a1@example.org,Europe/Paris,tue,08:30,consumer,Lee@Mentors.org,,",
        "a2,Ada Two,a2@example.org,Europe/Paris,tue,08:30,consumer,lee@mentors.org,,",
        "a3,Ada Three,a3@example.org,Asia/Tokyo,tue,08:30,consumer,,,",
    ]
    path = roster(tmp_path / "roster.csv", rows)
    args = ["cohort", "start", str(path), "--cohort", "mc1", "--program", str(program), "--start-date", START]
    started = await cli(settings, *args, "--no-wait", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "1 mentor workflow(s) running" in started.stderr
    row = await db_pool.fetchrow(
        "select mentor_id, email, name, timezone from mentors where cohort_id = 'mc1'"
    )
    assert row is not None
    assert (row["email"], row["name"], row["timezone"]) == ("lee@mentors.org", "lee", "Europe/Paris")
    mentor = temporal_env.client.get_workflow_handle(mentor_workflow_id("mc1", row["mentor_id"]))
    described = await mentor.describe()
    assert described.workflow_type == "MentorWorkflow"
    again = await cli(settings, *args, "--no-wait", cwd=tmp_path)  # a re-run starts no mentor twice
    assert again.returncode == 0, again.stderr
    runs = [w async for w in temporal_env.client.list_workflows(f"WorkflowId = '{described.id}'")]
    assert len(runs) == 1
    await mentor.terminate("test over")


async def test_mentor_set_changes_preferences_and_the_workflow_plans_again(
    settings: Settings, temporal_env: WorkflowEnvironment, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await _seed(db_pool)
    mentor_id = mentor_id_for("bo@mentors.org")
    wid = mentor_workflow_id(COHORT, mentor_id)
    client = temporal_env.client
    async with build_worker(client, db_pool, settings):
        handle = await client.start_workflow(
            MentorWorkflow.run,
            MentorInput(cohort_id=COHORT, mentor_id=mentor_id),
            id=wid,
            task_queue=settings.task_queue,
        )
        changed = await cli(
            settings,
            "mentor",
            "set",
            "bo@mentors.org",
            "--name",
            "Bo Lindqvist",
            "--timezone",
            "Europe/Oslo",
            "--send-time",
            "07:45",
            "--digest-day",
            "Friday",
            "--prompts",
            "off",
            "--json",
            cwd=tmp_path,
        )
        assert changed.returncode == 0, changed.stderr
        mentor = json.loads(changed.stdout)
        assert (mentor["name"], mentor["timezone"], mentor["send_time"], mentor["digest_day"]) == (
            "Bo Lindqvist",
            "Europe/Oslo",
            "07:45:00",
            "fri",
        )
        assert mentor["prompts"] is False and mentor["digest"] == "weekly"
        for _ in range(100):  # the signal makes the workflow ask for its next slot again
            planned = [
                e
                async for e in handle.fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ]
            if len(planned) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(planned) == 2
        await handle.terminate("test over")
    for args, message in (
        (("--send-time", "23:00"), "--send-time: 23:00 is inside the quiet hours"),
        (("--timezone", "Mars/Olympus"), "--timezone 'Mars/Olympus': not an IANA time zone"),
        (("--digest", "daily"), "--digest 'daily': expected weekly or off"),
        ((), "give at least one of"),
    ):
        bad = await cli(settings, "mentor", "set", "bo@mentors.org", *args, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    assert await db_pool.fetchval("select send_time from mentors where mentor_id = $1", mentor_id) == time(
        7, 45
    )


async def test_mentor_send_now_sends_the_digest_with_the_milestone_a_mentee_clicked(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    mail_sink: MailSink,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    start = monday_weeks_ago(1, now)
    program = small_program()
    await save(db_pool, "now1", program, start, [("amara", "lee@mentors.org")])
    clicked = RecordMilestone(command_id="link-x1-0", milestone_id="first_post")
    await run_journey(db_pool, "now1", "amara", program, start, now, [(now - timedelta(minutes=5), clicked)])
    await sync_mentors(db_pool, "now1")
    mentor_id = mentor_id_for("lee@mentors.org")
    client = temporal_env.client
    async with build_worker(client, db_pool, settings):
        handle = await client.start_workflow(
            MentorWorkflow.run,
            MentorInput(cohort_id="now1", mentor_id=mentor_id),
            id=mentor_workflow_id("now1", mentor_id),
            task_queue=settings.task_queue,
        )
        for flag, subject in ((["--prompt"], "Amara just posted"), ([], "Your mentees this week")):
            asked = await cli(settings, "mentor", "send-now", "lee@mentors.org", *flag, cwd=tmp_path)
            assert asked.returncode == 0, asked.stderr
            for _ in range(200):
                subjects = [
                    email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
                    for p in sorted(mail_sink.mail_dir.glob("*.eml"))
                ]
                if any(subject in s for s in subjects):
                    break
                await asyncio.sleep(0.1)
            assert any(subject in s for s in subjects), subjects
        await handle.terminate("test over")
    digest = next(
        m
        for m in (
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in mail_sink.mail_dir.glob("*.eml")
        )
        if "Your mentees" in m["Subject"]
    )
    body = digest.get_body(("plain",))
    assert body is not None and "Dr. Amara Ñandú: reached: First original post" in body.get_content()
    not_running = await cli(settings, "mentor", "send-now", "bo@nowhere.org", cwd=tmp_path)
    assert not_running.returncode == 2 and "no mentor 'bo@nowhere.org'" in not_running.stderr
