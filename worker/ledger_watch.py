"""Export how many send-ledger rows sit in 'sending' too long: a send that neither finished nor failed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
from temporalio.common import MetricMeter

# Longer than a send can take with its retries' first backoffs; past this, an operator should look.
STUCK_AFTER = timedelta(minutes=15)
CHECK_EVERY = timedelta(minutes=1)


async def count_stuck(pool: asyncpg.Pool, older_than: timedelta = STUCK_AFTER) -> int:
    n = await pool.fetchval(
        "select count(*) from send_ledger where status = 'sending' and updated_at < now() - $1::interval",
        older_than,
    )
    return int(n)


async def watch_ledger(pool: asyncpg.Pool, meter: MetricMeter, stop: asyncio.Event) -> None:
    """Set the `mentorflow_ledger_sending_stuck` gauge every minute until `stop`."""
    gauge = meter.create_gauge(
        "mentorflow_ledger_sending_stuck", "Send-ledger rows in 'sending' for over 15 minutes"
    )
    while not stop.is_set():
        # Postgres restarting: the next round reports again.
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            gauge.set(await count_stuck(pool))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_EVERY.total_seconds())
