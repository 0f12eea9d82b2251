"""Export how many send-ledger rows sit in 'sending' too long: a send that neither finished nor failed."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
from temporalio.common import MetricMeter

from infra.logging import get_logger
from store.ledger import count_stuck, count_uncertain

log = get_logger(__name__)

CHECK_EVERY = timedelta(minutes=1)


async def watch_ledger(pool: asyncpg.Pool, meter: MetricMeter, stop: asyncio.Event) -> None:
    """Set the `mentorflow_ledger_sending_stuck` and `mentorflow_ledger_uncertain` gauges every minute
    until `stop`."""
    gauge = meter.create_gauge(
        "mentorflow_ledger_sending_stuck", "Send-ledger rows in 'sending' for over 15 minutes"
    )
    uncertain = meter.create_gauge(
        "mentorflow_ledger_uncertain", "Send-ledger rows handed over with no reply, awaiting staff"
    )
    while not stop.is_set():
        # Postgres restarting: the next round reports again. Whatever else fails is logged, and the watch
        # goes on: the gauges are what the alerts read.
        try:
            gauge.set(await count_stuck(pool))
            uncertain.set(await count_uncertain(pool))
        except (OSError, asyncpg.PostgresError):
            pass
        except Exception as err:
            log.error("reading the send ledger's gauges failed; will try again", error=repr(err))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_EVERY.total_seconds())
