"""`participant update`: contact data changes after launch, checked as the roster checks it."""

from __future__ import annotations

import json
from datetime import date, time

import asyncpg

from cli.errors import EXIT_INVALID
from domain.program import Program
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from tests.cli.stack import cli
from tests.domain.small_program import small_program


def _person(pid: str, email: str) -> ParticipantRecord:
    return ParticipantRecord(
        participant_id=pid,
        name="Dr. Sofia Alvarez",
        email=email,
        timezone="Europe/Madrid",
        send_days=["tue", "thu"],
        send_time=time(8, 30),
        mentor_email="lee@example.org",
    )


async def test_update_changes_contact_data_and_refuses_what_the_roster_would(settings, tmp_path, database):
    program: Program = small_program()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        await save_cohort(pool, "u1", program, date(2027, 1, 4))
        await save_participants(
            pool, "u1", [_person("p1", "sofia@example.org"), _person("p2", "ben@example.org")]
        )
        done = await cli(
            settings,
            "participant",
            "update",
            "p1",
            "--email",
            "sofia.alvarez@example.org",
            "--greeting-name",
            "Sofía",
            "--mentor-name",
            "Dr. Lee",
            "--json",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["changed"] == {
            "email": "sofia.alvarez@example.org",
            "greeting_name": "Sofía",
            "mentor_name": "Dr. Lee",
        }
        row = await pool.fetchrow("select * from participants where participant_id = 'p1'")
        assert row is not None
        assert (row["email"], row["greeting_name"], row["mentor_name"], row["mentor_email"]) == (
            "sofia.alvarez@example.org",
            "Sofía",
            "Dr. Lee",
            "lee@example.org",
        )
        # Clearing the mentor; refusing a bad address, another participant's address, a line break.
        cleared = await cli(settings, "participant", "update", "p1", "--mentor-email", "", cwd=tmp_path)
        assert cleared.returncode == 0, cleared.stderr
        assert (
            await pool.fetchval("select mentor_email from participants where participant_id = 'p1'") is None
        )
        bad = await cli(settings, "participant", "update", "p1", "--email", "not-an-email", cwd=tmp_path)
        assert (
            bad.returncode == EXIT_INVALID
            and "--email 'not-an-email': not a valid email address" in bad.stderr
        )
        taken = await cli(settings, "participant", "update", "p1", "--email", "ben@example.org", cwd=tmp_path)
        assert taken.returncode == EXIT_INVALID and "another participant of cohort 'u1'" in taken.stderr
        broken = await cli(settings, "participant", "update", "p1", "--name", "Sofia\nBcc: x", cwd=tmp_path)
        assert broken.returncode == EXIT_INVALID and "--name" in broken.stderr
        row = await pool.fetchrow("select name, email from participants where participant_id = 'p1'")
        assert row is not None and (row["name"], row["email"]) == (
            "Dr. Sofia Alvarez",
            "sofia.alvarez@example.org",
        )
    finally:
        await pool.close()


async def test_update_says_old_to_new_refuses_what_the_relay_cannot_take_and_starts_a_new_mentor(
    settings, temporal_env, tmp_path, database
):
    import asyncio
    import subprocess

    from store.mentors import mentor_id_for
    from tests.cli.stack import cli_env, worker
    from tests.cli.test_steer import _launch
    from tests.foundation.clirun import MENTORFLOW
    from workflows.contract import mentor_workflow_id

    async with worker(settings):
        await _launch(settings, tmp_path, "u2", 1)
        # MENTORFLOW_SMTP_UTF8=off: an address with a non-ASCII local part could never be sent.
        no_utf8 = await asyncio.to_thread(
            subprocess.run,
            [MENTORFLOW, "participant", "update", "p0000", "--email", "josé@example.org"],
            cwd=tmp_path,
            env={**cli_env(settings), "MENTORFLOW_SMTP_UTF8": "off"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert no_utf8.returncode == EXIT_INVALID
        [line] = no_utf8.stderr.strip().splitlines()
        assert line.startswith("mentorflow: error: --email 'josé@example.org'") and "SMTPUTF8" in line
        moved = await cli(
            settings,
            "participant",
            "update",
            "p0000",
            "--email",
            "p0.new@example.org",
            "--mentor-email",
            "mentor.kim@example.org",
            cwd=tmp_path,
        )
        assert moved.returncode == 0, moved.stderr
        assert "participant p0000 (u2): email 'p0@example.org' -> 'p0.new@example.org'" in moved.stderr
        assert "mentor_email '(none)' -> 'mentor.kim@example.org'" in moved.stderr
        again = ["participant", "update", "p0000", "--email", "p0.new@example.org"]
        same = await cli(settings, *again, cwd=tmp_path)
        assert same.returncode == 0 and "nothing to change" in same.stderr
        # The new mentor is a mentor of the cohort, with a running workflow (their weekly digest).
        conn = await asyncpg.connect(database)
        try:
            assert await conn.fetchval("select email from mentors where cohort_id = 'u2'") == (
                "mentor.kim@example.org"
            )
            # Contact data only: the journey heard nothing (no intent, no event).
            assert await conn.fetchval("select count(*) from participant_intents") == 0
        finally:
            await conn.close()
        handle = temporal_env.client.get_workflow_handle(
            mentor_workflow_id("u2", mentor_id_for("mentor.kim@example.org"))
        )
        from temporalio.client import WorkflowExecutionStatus

        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
