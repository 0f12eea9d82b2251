"""Operators see send-ledger rows stuck in 'sending' (by when they were first claimed) and rows in
'uncertain' as Prometheus gauges."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from infra.program_files import load_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from worker.devstack import free_port
from worker.ledger_watch import watch_ledger

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


async def test_stuck_sending_rows_are_exported(db_pool: asyncpg.Pool) -> None:
    await save_cohort(db_pool, "c", PROGRAM, datetime.now(UTC).date())
    await save_participants(
        db_pool,
        "c",
        [
            ParticipantRecord(
                participant_id="p",
                name="N",
                email="n@example.org",
                timezone="UTC",
                send_days=["tue"],
                send_time=time(9),
            )
        ],
    )
    now = datetime.now(UTC)
    old = now - timedelta(hours=1)
    # "a" was first claimed an hour ago and retried a moment ago (451 after 451): stuck all the same.
    for key, status, claimed in (("a", "sending", old), ("b", "sending", now), ("c", "sent", old)):
        await db_pool.execute(
            """
            insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind,
                                     scheduled_at, status, message_id, claimed_at, updated_at)
            values ('journey-c~p', $1, 'c', 'p', 'welcome', 'welcome', $3, $2, $1, $3, now())
            """,
            key,
            status,
            claimed,
        )
    await db_pool.execute(
        """
        insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind,
                                 scheduled_at, status, message_id)
        values ('journey-c~p', 'd', 'c', 'p', 'welcome', 'welcome', now(), 'uncertain', 'd')
        """
    )
    gauges = await ledger_gauges(db_pool)
    assert gauges == {"mentorflow_ledger_sending_stuck": "1", "mentorflow_ledger_uncertain": "1"}, gauges


async def ledger_gauges(pool: asyncpg.Pool) -> dict[str, str]:
    """The worker's ledger gauges (name -> value), scraped from a real Prometheus endpoint."""
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    stop = asyncio.Event()
    task = asyncio.create_task(watch_ledger(pool, runtime.metric_meter, stop))
    try:
        for _ in range(50):
            text = await asyncio.to_thread(_scrape, port)
            lines = [line for line in text.splitlines() if line.startswith("mentorflow_ledger_")]
            if len(lines) == 2:
                return {line.split("{")[0]: line.rsplit(" ", 1)[1] for line in lines}
            await asyncio.sleep(0.1)
        raise AssertionError(f"the ledger gauges were not exported: {lines}")
    finally:
        stop.set()
        await task


async def test_the_workers_background_loops_outlive_an_unexpected_error(
    database: str, settings: Settings
) -> None:
    """The gauges' watch and the delivery of pending commands run for the worker's whole life: an error
    they did not expect (here the pool closed under them: asyncpg's InterfaceError, not a PostgresError)
    is logged and the next round tries again. A loop that died would stop alerts and deliveries silently."""
    from steering import Journeys, Steering

    closed = await asyncpg.create_pool(database, min_size=1, max_size=1)
    await closed.close()
    meter = Runtime(telemetry=TelemetryConfig()).metric_meter
    stop = asyncio.Event()
    watch = asyncio.create_task(watch_ledger(closed, meter, stop))
    steering = Steering(closed, Journeys(settings))
    deliver = asyncio.create_task(steering.retry_forever(timedelta(seconds=0.05)))
    try:
        await asyncio.sleep(0.5)  # the watch's first round and several delivery rounds have failed by now
        assert not watch.done(), "the gauges' watch died"
        assert not deliver.done(), "the delivery of pending commands died"
    finally:
        stop.set()
        deliver.cancel()
        await asyncio.gather(watch, deliver, return_exceptions=True)
