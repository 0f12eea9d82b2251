"""`mentorflow cohort start` when Postgres or Temporal fails it midway: one line, exit 4 or 3, and nothing
half-saved (the cohort and its participants are one transaction)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cli.errors import EXIT_POSTGRES_UNREACHABLE, EXIT_TEMPORAL_UNREACHABLE, exit_code_for, one_line
from infra.settings import Settings
from tests.cli.stack import cli, roster, write_program
from worker.devstack import temporal_cli
from workflows.launch import CohortLaunchWorkflow, LaunchInput

START = (date.today() + timedelta(days=3)).isoformat()


async def test_a_full_disk_midway_saves_nothing_and_exits_4(
    settings: Settings, database: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(database)
    try:
        # The server's own "could not extend file": raised by the third participant's row.
        await conn.execute(
            """
            create function fill_disk() returns trigger language plpgsql as $$
            begin
                if new.participant_id = 'p2' then
                    raise exception 'could not extend file "base/16384/16999": No space left on device'
                        using errcode = 'disk_full';
                end if;
                return new;
            end $$;
            create trigger fill_disk before insert on participants for each row execute function fill_disk();
            """
        )
        program = write_program(tmp_path / "program")
        path = roster(
            tmp_path / "r.csv", [f"p{i},P {i},p{i}@example.org,UTC,tue,08:30,,,," for i in range(4)]
        )
        done = await cli(
            settings,
            *(
                "cohort",
                "start",
                str(path),
                "--cohort",
                "full",
                "--program",
                str(program),
                "--start-date",
                START,
            ),
            cwd=tmp_path,
        )
        assert done.returncode == EXIT_POSTGRES_UNREACHABLE, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("mentorflow: error: Postgres failed (53100): could not extend file"), line
        assert await conn.fetchval("select count(*) from cohorts where cohort_id = 'full'") == 0
        assert await conn.fetchval("select count(*) from participants where cohort_id = 'full'") == 0
    finally:
        await conn.close()


async def test_temporal_lost_after_connecting_is_exit_3_on_one_line() -> None:
    """What `cohort start` meets when the server goes away between connecting and starting the launch."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), data_converter=pydantic_data_converter, ui=False
    )
    client = env.client
    await env.shutdown()
    with pytest.raises(RPCError) as caught:
        await client.start_workflow(
            CohortLaunchWorkflow.run,
            LaunchInput(cohort_id="c", program="small", task_queue="q", batch_size=10, total=1),
            id="launch-c",
            task_queue="q",
            rpc_timeout=timedelta(seconds=5),
        )
    assert exit_code_for(caught.value) == EXIT_TEMPORAL_UNREACHABLE
    line = one_line(caught.value)
    assert "\n" not in line and line.startswith("mentorflow: error: Temporal failed the request ("), line
