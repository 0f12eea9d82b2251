"""The send activity heartbeats: a relay that takes longer to answer the end of DATA than the activity's
heartbeat timeout is waited for (one email, `sent`), because the attempt reports it is alive; a worker
that stops reporting (dead) has its emails retried after that timeout instead of the start-to-close one.
Real dev server (real time), worker, Postgres and a slow scripted relay."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.smtp import SMTP
from temporalio.testing import WorkflowEnvironment

from activities.launch import cohort_inputs, launch_journeys
from benchmarks.fanout import burst_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_roster
from worker.devstack import free_port
from worker.devstack.mailsink import _StoreHandler
from worker.main import build_worker
from workflows import journey as journey_module

SLOWER_THAN_HEARTBEAT = journey_module._HEARTBEAT.total_seconds() + 5


class SlowRelay(_StoreHandler):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.to_thread(self._store, envelope.original_content or envelope.content)
        await asyncio.sleep(SLOWER_THAN_HEARTBEAT)
        return "250 stored at last"


async def test_a_reply_slower_than_the_heartbeat_timeout_is_waited_for(
    temporal_env: WorkflowEnvironment, settings: Settings, database: str, tmp_path: Path
) -> None:
    mail_dir = tmp_path / "relay"
    mail_dir.mkdir()
    relay = SlowRelay(mail_dir)
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(relay, hostname="slow"), host="127.0.0.1", port=port
    )
    settings = settings.model_copy(update={"smtp_port": port})
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    try:
        program = burst_program()
        due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        cohort = f"hb{uuid.uuid4().hex[:6]}"
        await save_roster(
            pool,
            cohort,
            program,
            due.date(),
            [
                ParticipantRecord(
                    participant_id="p",
                    name="Ines Duarte",
                    email="ines@example.org",
                    timezone="UTC",
                    send_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    send_time=time(9),
                )
            ],
        )
        inputs = await cohort_inputs(pool, cohort, program.spec, due.date(), first_send_at=due)
        async with build_worker(temporal_env.client, pool, settings):
            await launch_journeys(pool, temporal_env.client, settings.task_queue, inputs, datetime.now(UTC))
            status = None
            for _ in range(int(SLOWER_THAN_HEARTBEAT + 40) * 4):
                status = await pool.fetchval(
                    "select status from send_ledger where cohort_id = $1 and status <> 'sending'", cohort
                )
                if status is not None:
                    break
                await asyncio.sleep(0.25)
            await temporal_env.client.get_workflow_handle(inputs[0].enroll.journey_id).terminate("test done")
        row = await pool.fetchrow("select status, attempts from send_ledger where cohort_id = $1", cohort)
    finally:
        await pool.close()
        server.close()
    assert row is not None and (row["status"], row["attempts"]) == ("sent", 1)
    assert len(list(mail_dir.glob("*.eml"))) == 1
