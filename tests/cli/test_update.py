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
