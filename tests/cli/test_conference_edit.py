"""`participant conference ID --edit CONF_ID`: a conference corrected through the journey (issue 14, 6)."""

from __future__ import annotations

import json
from datetime import date, timedelta

from cli.errors import EXIT_INVALID, EXIT_REJECTED
from tests.cli.stack import cli, worker
from tests.cli.test_steer import _journey, _launch


async def test_a_conference_is_corrected_in_place_and_a_bad_correction_is_refused_with_its_reason(
    settings, temporal_env, tmp_path, database
):
    day = date.today() + timedelta(days=20)
    async with worker(settings):
        await _launch(settings, tmp_path, "ce1", 1)
        add = ["participant", "conference", "p0000", "--name", "Kidney Week", "--starts", day.isoformat()]
        added = await cli(settings, *add, "--ends", (day + timedelta(days=2)).isoformat(), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
        (burst,) = (await _journey(settings, tmp_path, "p0000"))["upcoming_bursts"]
        edit = ["participant", "conference", "p0000", "--edit", burst["conference_id"]]
        moved = await cli(
            settings,
            *edit,
            "--name",
            "ASN Kidney Week",
            "--starts",
            (day + timedelta(days=7)).isoformat(),
            "--ends",
            (day + timedelta(days=10)).isoformat(),
            "--hashtag",
            "KidneyWk26",
            "--json",
            cwd=tmp_path,
        )
        assert moved.returncode == 0, moved.stderr
        (after,) = json.loads(moved.stdout)["upcoming_bursts"]
        assert (after["conference_id"], after["name"], after["hashtag"]) == (
            burst["conference_id"],
            "ASN Kidney Week",
            "#KidneyWk26",
        )
        assert (after["starts_on"], after["ends_on"]) == (
            (day + timedelta(days=7)).isoformat(),
            (day + timedelta(days=10)).isoformat(),
        )
        backwards = await cli(settings, *edit, "--ends", (day + timedelta(days=5)).isoformat(), cwd=tmp_path)
        assert backwards.returncode == EXIT_REJECTED and "[conference_dates]" in backwards.stderr
        nothing = await cli(settings, *edit, cwd=tmp_path)
        assert nothing.returncode == EXIT_INVALID and "--edit: give at least one of" in nothing.stderr
        unknown = await cli(
            settings, "participant", "conference", "p0000", "--edit", "c-nope", "--name", "X", cwd=tmp_path
        )
        assert unknown.returncode == EXIT_REJECTED and "unknown_conference" in unknown.stderr
        shown = await cli(settings, "participant", "show", "p0000", cwd=tmp_path)
        assert "conference_changed" in shown.stderr


async def test_cohort_conference_counts_applied_rejected_pending_and_ended_journeys(
    settings, temporal_env, tmp_path, database
):
    from datetime import time

    import asyncpg

    from store.cohorts import ParticipantRecord, save_participants

    day = date.today() + timedelta(days=20)
    async with worker(settings):
        await _launch(settings, tmp_path, "ce2", 3)
        gone = await cli(settings, "participant", "unsubscribe", "p0002", cwd=tmp_path)
        assert gone.returncode == 0, gone.stderr
        # Saved after the launch and not started yet: recorded, delivered once its journey runs.
        pool = await asyncpg.create_pool(database, min_size=1, max_size=1)
        try:
            late = ParticipantRecord(
                participant_id="p0009",
                name="Late Comer",
                email="late@example.org",
                timezone="America/Chicago",
                send_days=["tue"],
                send_time=time(8, 30),
            )
            await save_participants(pool, "ce2", [late])
        finally:
            await pool.close()
        # p0001 already told us about it (same name and dates: the same conference).
        args = [
            "--name",
            "Kidney Week",
            "--starts",
            day.isoformat(),
            "--ends",
            (day + timedelta(days=2)).isoformat(),
        ]
        told = await cli(settings, "participant", "conference", "p0001", *args, cwd=tmp_path)
        assert told.returncode == 0, told.stderr
        counted = await cli(settings, "cohort", "conference", "ce2", *args, "--json", cwd=tmp_path)
        assert counted.returncode == 0, counted.stderr
        report = json.loads(counted.stdout)
        assert (report["update"], report["applied"], report["pending"]) == ("add_conference", 1, 1)
        assert list(report["rejected"].values()) == [1] and "conference_added" in next(
            iter(report["rejected"])
        )
        assert report["ended"] == {"unsubscribed": 1}
        said = await cli(settings, "cohort", "conference", "ce2", *args, cwd=tmp_path)
        assert "recorded, not applied yet" in said.stderr and "left alone: unsubscribed" in said.stderr
