"""Staff commands take the participants' path: recorded first, delivered to the journey when it can take
them (here: a journey that starts after the command)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from temporalio.testing import WorkflowEnvironment

from cli.errors import EXIT_PENDING
from domain import Mode
from domain.program import Program
from infra.settings import Settings
from steering import Journeys, Steering
from tests.cli.stack import cli
from tests.web.conftest import future, intent_rows, participant_row, start_journey, view, wait_enrolled


async def test_a_staff_pause_before_the_journey_starts_is_recorded_then_delivered(
    web_settings: Settings,
    db_pool: asyncpg.Pool,
    cohort: str,
    temporal_env: WorkflowEnvironment,
    program: Program,
    worker: None,
    tmp_path: Path,
) -> None:
    until = future(20).isoformat()
    paused = await cli(web_settings, "participant", "pause", "p1", "--until", until, cwd=tmp_path)
    assert paused.returncode == EXIT_PENDING, paused.stderr
    assert "recorded, not yet applied" in paused.stderr and "the journey has not started" in paused.stderr
    [intent] = await intent_rows(db_pool)
    assert (intent["action"], intent["status"]) == ("staff", "pending")
    # What the sender re-checks holds at once, as for a participant's snooze.
    assert (await participant_row(db_pool))["paused_until"] is not None

    handle = await start_journey(temporal_env.client, web_settings, program)
    await wait_enrolled(handle)
    await db_pool.execute("update participant_intents set next_attempt_at = now()")  # its retry time came
    assert await Steering(db_pool, Journeys(web_settings)).deliver_due() == 1
    assert (await view(handle)).mode is Mode.PAUSED
    assert [r["status"] for r in await intent_rows(db_pool)] == ["applied"]
    await handle.terminate("test over")
