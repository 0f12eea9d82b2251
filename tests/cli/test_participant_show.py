"""What staff see of one journey (`participant show`) and of a cohort command after some journeys ended."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus

from cli.errors import EXIT_REJECTED
from cli.participant import when
from infra.settings import Settings
from tests.cli.stack import cli, worker
from tests.cli.test_steer import _launch
from workflows.contract import journey_id


async def _closed(settings: Settings, temporal_env, wid: str) -> None:
    handle = temporal_env.client.get_workflow_handle(wid)
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


def test_when_shows_the_local_clock_then_utc_without_seconds() -> None:
    at = datetime(2026, 3, 3, 14, 30, 12, 345678, tzinfo=UTC)
    assert when(at, "America/Chicago") == "2026-03-03 08:30 CST (14:30 UTC)"
    assert when(at, "Asia/Tokyo") == "2026-03-03 23:30 JST (14:30 UTC)"
    assert when(at, "Pacific/Kiritimati") == "2026-03-04 04:30 +14 (2026-03-03 14:30 UTC)"
    assert when(None, "UTC") is None


async def test_show_says_who_did_what_in_local_time_and_cohort_commands_count_ended_journeys(
    settings: Settings, temporal_env, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: the tables do not wrap
    async with worker(settings):
        await _launch(settings, tmp_path, "sh1", 3)
        gone = await cli(settings, "participant", "unsubscribe", "p0000", cwd=tmp_path)
        assert gone.returncode == 0, gone.stderr
        await _closed(settings, temporal_env, journey_id("sh1", "p0000"))

        until = (date.today() + timedelta(days=20)).isoformat()
        paused = await cli(settings, "cohort", "pause", "sh1", "--until", until, "--json", cwd=tmp_path)
        assert paused.returncode == 0, paused.stderr
        outcome = json.loads(paused.stdout)
        assert (outcome["applied"], outcome["ended"], outcome["pending"]) == (2, {"unsubscribed": 1}, 0)
        resumed = await cli(settings, "cohort", "resume", "sh1", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert "1 left alone: unsubscribed" in resumed.stderr and "no journey yet" not in resumed.stderr

        conf = await cli(
            settings,
            "participant",
            "conference",
            "p0001",
            "--name",
            "ASCO Annual",
            "--starts",
            (date.today() + timedelta(days=40)).isoformat(),
            "--ends",
            (date.today() + timedelta(days=43)).isoformat(),
            "--hashtag",
            "ASCO26",
            cwd=tmp_path,
        )
        assert conf.returncode == 0, conf.stderr
        ghost = await cli(settings, "participant", "milestone", "p0001", "ghost", cwd=tmp_path)
        assert ghost.returncode == EXIT_REJECTED
        assert (
            "unknown milestone 'ghost' (valid: followed_ten, followed_institution, first_post)"
            in ghost.stderr
        )
        marked = await cli(settings, "participant", "milestone", "p0001", "followed_ten", cwd=tmp_path)
        assert marked.returncode == 0, marked.stderr
        # The view a staff command prints is on the participant's clock too, not UTC twice.
        assert re.search(r"followed_ten \(\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T \(", marked.stderr), marked.stderr
        assert not re.search(r"UTC \(\d\d:\d\d UTC\)", marked.stderr)

        shown = await cli(settings, "participant", "show", "p0001", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        out = shown.stderr
        assert "at (America/Chicago)" in out and "scheduled (America/Chicago)" in out
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T \(", out)
        assert not re.search(r"\d\d:\d\d:\d\d", out), "no seconds or microseconds"
        assert "Upcoming conferences" in out and "ASCO Annual" in out and "#ASCO26" in out
        lines = out.splitlines()

        def by(event: str) -> set[str]:
            cells = [[c.strip() for c in line.split("│")] for line in lines if line.count("│") == 5]
            return {c[3] for c in cells if c[2] == event}

        assert by("paused") == {"staff (cohort)"} and by("resumed") == {"staff (cohort)"}
        assert by("milestone_achieved") == {"staff"} and by("enrolled") == {"roster"}

        ended = await cli(settings, "participant", "show", "p0000", cwd=tmp_path)
        assert ended.returncode == 0, ended.stderr
        assert re.search(r"unsubscribed on \d{4}-\d\d-\d\d \d\d:\d\d UTC \(by staff\)", ended.stderr)
        assert "mode active" not in ended.stderr
