"""Postgres goes away mid-journey and comes back: the journey waits, then catches up; nothing lost, nothing
sent twice (time-skipping server, a real worker, a Postgres server of this test's own, the mail sink)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from temporalio.testing import WorkflowEnvironment

from activities.launch import journey_input, start_journey
from domain.timing import start_of_local_day
from infra.migrations import DEFAULT_MIGRATIONS_DIR, migrate
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, read_enrolees, save_cohort, save_participants
from worker.devstack import EmbeddedPostgres, MailSink, free_port
from worker.main import build_worker

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")
TZ = "America/Denver"


async def test_journey_survives_a_postgres_restart(
    time_skipping_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: Path
) -> None:
    env = time_skipping_env
    root = Path(tempfile.mkdtemp(prefix="mentorflow-test-pg-restart-"))
    server = EmbeddedPostgres(root / "data", port=free_port(), unsafe_fast=True)
    await server.start()
    pool: asyncpg.Pool | None = None
    try:
        dsn = await server.ensure_database("mentorflow")
        conn = await asyncpg.connect(dsn)
        await migrate(conn, DEFAULT_MIGRATIONS_DIR)
        await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        settings = load_settings(
            state_dir=tmp_path / "state",
            database_url=dsn,
            smtp_port=mail_sink.port,
            metrics_port=0,
            task_queue=f"pgr-{uuid.uuid4().hex[:8]}",
        )
        now = await env.get_current_time()
        today = now.astimezone(ZoneInfo(TZ)).date()
        start = today + timedelta(days=7 - today.weekday())  # a Monday: welcome Tue, then Thu, Tue, ...
        cohort = f"r{uuid.uuid4().hex[:8]}"
        await save_cohort(pool, cohort, PROGRAM, start)
        await save_participants(
            pool,
            cohort,
            [
                ParticipantRecord(
                    participant_id="p",
                    name="Noor Haddad",
                    email="noor@example.org",
                    timezone=TZ,
                    send_days=["tue", "thu"],
                    send_time=time(8, 30),
                    personas=["consumer"],
                )
            ],
        )
        (row,) = await read_enrolees(pool, cohort)
        data = journey_input(cohort, row, PROGRAM.spec, start)
        handle = env.client.get_workflow_handle(data.enroll.journey_id)

        def until(day_offset: int) -> timedelta:
            return start_of_local_day(start + timedelta(days=day_offset), TZ) - now

        async with build_worker(env.client, pool, settings):
            assert await start_journey(env.client, settings.task_queue, data)
            await env.sleep(until(2))  # Wednesday: the welcome went on Tuesday
            server.stop()  # Postgres is down over Thursday's send
            await env.sleep(timedelta(days=2))
            assert len(mail_sink.messages()) == 1, "nothing can be sent without its ledger claim"
            await server.start()
            await asyncio.sleep(1)  # the activity's next retry finds Postgres back
            await env.sleep(until(9) - (await env.get_current_time() - now))  # past next Tuesday
            await handle.terminate("test done")
        ledger = await pool.fetch(
            "select kind, status, scheduled_at from send_ledger where workflow_id = $1 order by scheduled_at",
            handle.id,
        )
        events = await pool.fetchval("select count(*) from journey_events where workflow_id = $1", handle.id)
    finally:
        if pool is not None:
            await pool.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    # Welcome (Tue), Thursday's email late but sent once Postgres was back, then the next Tuesday's.
    assert [(r["kind"], r["status"]) for r in ledger] == [
        ("welcome", "sent"),
        ("track", "sent"),
        ("track", "sent"),
    ]
    local = [r["scheduled_at"].astimezone(ZoneInfo(TZ)) for r in ledger]
    assert [d.strftime("%a %H:%M") for d in local] == ["Tue 08:30", "Thu 08:30", "Tue 08:30"]
    assert len(mail_sink.messages()) == 3
    assert events >= 4  # enrolled and each send's event reached the store
