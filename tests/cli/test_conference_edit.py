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
