"""Staff steering after a launch: `participant schedule`, `cohort pause|resume|end` against real journeys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from cli.errors import EXIT_REJECTED
from domain.timing import local_datetime
from tests.cli.stack import cli, roster, worker, write_program
from tests.cli.test_launch import START, rows


async def _launch(settings, tmp_path, cohort: str, n: int) -> None:
    program = write_program(tmp_path / "program")
    path = roster(tmp_path / "roster.csv", rows(n))
    args = [
        "cohort",
        "start",
        str(path),
        "--cohort",
        cohort,
        "--program",
        str(program),
        "--start-date",
        START,
    ]
    launched = await cli(settings, *args, cwd=tmp_path)
    assert launched.returncode == 0, launched.stderr


async def _journey(settings, tmp_path, pid: str) -> dict[str, Any]:
    shown = await cli(settings, "participant", "show", pid, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    journey: dict[str, Any] = json.loads(shown.stdout)["journey"]
    return journey


async def test_participant_schedule_moves_the_next_send_through_the_steering_service(
    settings, temporal_env, tmp_path, database
):
    async with worker(settings):
        await _launch(settings, tmp_path, "sc1", 1)
        before = await _journey(settings, tmp_path, "p0000")
        first = datetime.fromisoformat(before["next_nudge_at"])
        assert local_datetime(first, "America/Chicago").strftime("%a %H:%M") == "Tue 08:30"

        changed = await cli(
            settings,
            "participant",
            "schedule",
            "p0000",
            "--timezone",
            "Asia/Kolkata",
            "--send-days",
            "mon,wed",
            "--send-time",
            "07:00",
            "--json",
            cwd=tmp_path,
        )
        assert changed.returncode == 0, changed.stderr
        nxt = datetime.fromisoformat(json.loads(changed.stdout)["next_nudge_at"])
        assert local_datetime(nxt, "Asia/Kolkata").strftime("%a %H:%M") in ("Mon 07:00", "Wed 07:00")
        conn = await asyncpg.connect(database)
        try:
            row = await conn.fetchrow("select timezone, send_days, send_time from journey_status")
            assert row is not None
            assert (row["timezone"], list(row["send_days"]), f"{row['send_time']:%H:%M}") == (
                "Asia/Kolkata",
                ["mon", "wed"],
                "07:00",
            )

            # Quiet hours: refused before anything is written, one line, no traceback.
            quiet = await cli(
                settings, "participant", "schedule", "p0000", "--send-time", "22:00", cwd=tmp_path
            )
            assert quiet.returncode not in (0, EXIT_REJECTED)
            assert "--send-time: 22:00 is inside the quiet hours" in quiet.stderr
            assert "Traceback" not in quiet.stderr
            assert f"{await conn.fetchval('select send_time from journey_status'):%H:%M}" == "07:00"
            assert await conn.fetchval("select count(*) from participant_intents") == 1
        finally:
            await conn.close()
        bad_day = await cli(
            settings, "participant", "schedule", "p0000", "--send-days", "tue,fun", cwd=tmp_path
        )
        assert bad_day.returncode != 0 and "--send-days 'tue,fun'" in bad_day.stderr
        quiet_day = await cli(
            settings, "participant", "schedule", "p0000", "--send-days", "tue,sun", cwd=tmp_path
        )
        assert quiet_day.returncode != 0
        assert "sun is a quiet day of the program" in quiet_day.stderr
        # The schedule in force already (the time read as the roster reads it): the journey says so.
        same = await cli(settings, "participant", "schedule", "p0000", "--send-time", "7:00 AM", cwd=tmp_path)
        assert same.returncode == EXIT_REJECTED and "nothing to change" in same.stderr
        # Both went through the steering service: recorded as intents first, settled with the outcome.
        conn = await asyncpg.connect(database)
        try:
            intents = await conn.fetch(
                "select action, status, code from participant_intents order by created_at"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in intents] == [
            ("staff", "applied", None),
            ("staff", "rejected", "schedule_unchanged"),
        ]


async def test_cohort_pause_resume_then_end_before_any_email_completes_without_recap_or_unsubscribing(
    settings, temporal_env, tmp_path, database
):
    async with worker(settings):
        await _launch(settings, tmp_path, "sc2", 2)
        until = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
        paused = await cli(settings, "cohort", "pause", "sc2", "--until", until, "--json", cwd=tmp_path)
        assert paused.returncode == 0, paused.stderr
        assert json.loads(paused.stdout)["applied"] == 2
        assert [(await _journey(settings, tmp_path, p))["mode"] for p in ("p0000", "p0001")] == ["paused"] * 2
        resumed = await cli(settings, "cohort", "resume", "sc2", "--json", cwd=tmp_path)
        assert resumed.returncode == 0 and json.loads(resumed.stdout)["applied"] == 2
        assert [(await _journey(settings, tmp_path, p))["mode"] for p in ("p0000", "p0001")] == ["active"] * 2

        # A conference for the whole cohort: one id, so a second run adds nothing twice.
        day = (datetime.now(UTC) + timedelta(days=30)).date()
        conf = ["cohort", "conference", "sc2", "--name", "Kidney Week", "--starts", day.isoformat()]
        conf += ["--ends", (day + timedelta(days=2)).isoformat(), "--hashtag", "KidneyWk"]
        added = await cli(settings, *conf, "--json", cwd=tmp_path)
        assert added.returncode == 0 and json.loads(added.stdout)["applied"] == 2, added.stderr
        (burst,) = (await _journey(settings, tmp_path, "p0001"))["upcoming_bursts"]
        assert burst["hashtag"] == "#KidneyWk"
        # One participant cannot go after all: taken back from their journey only.
        removed = await cli(
            settings, "participant", "conference", "p0001", "--remove", burst["conference_id"], cwd=tmp_path
        )
        assert removed.returncode == 0, removed.stderr
        assert (await _journey(settings, tmp_path, "p0001"))["upcoming_bursts"] == []
        assert len((await _journey(settings, tmp_path, "p0000"))["upcoming_bursts"]) == 1
        twice = await cli(settings, *conf, "--json", cwd=tmp_path)
        assert twice.returncode == 0 and json.loads(twice.stdout)["applied"] == 0
        assert sum(json.loads(twice.stdout)["rejected"].values()) == 2  # added, or added and removed

        unconfirmed = await cli(settings, "cohort", "end", "sc2", cwd=tmp_path)
        assert unconfirmed.returncode != 0 and "add --yes" in unconfirmed.stderr
        assert (await _journey(settings, tmp_path, "p0000"))["next_nudge_kind"] != "recap"

        ended = await cli(settings, "cohort", "end", "sc2", "--yes", "--json", cwd=tmp_path)
        assert ended.returncode == 0, ended.stderr
        report = json.loads(ended.stdout)
        assert (report["update"], report["applied"], report["rejected"]) == ("end_program", 2, {})
        for pid in ("p0000", "p0001"):
            journey = await _journey(settings, tmp_path, pid)
            # Ended before their first email (the welcome was due on Tuesday): no "your year ends" email,
            # the journey completes at once.
            assert journey["next_nudge_kind"] is None and journey["mode"] == "completed"
            assert datetime.fromisoformat(journey["ends_at"]) <= datetime.now(UTC)
        conn = await asyncpg.connect(database)
        try:
            assert (
                await conn.fetchval("select count(*) from participants where unsubscribed_at is not null")
                == 0
            )
        finally:
            await conn.close()
        again = await cli(settings, "cohort", "end", "sc2", "--yes", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "2 left alone: journey completed" in again.stderr
