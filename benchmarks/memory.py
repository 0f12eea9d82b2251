"""Figure 5: the worker process's resident set size with `n` journeys cached, per journey, versus the
same process idle (after start-up, before any journey)."""

from __future__ import annotations

import asyncio
import time

from benchmarks.report import Row
from benchmarks.stack import BenchStack

MIB = 1024 * 1024


async def settled(stack: BenchStack, cohort: str, n: int, seconds: float = 600) -> int:
    """Wait until all `n` journeys of `cohort` have recorded their enrolment (so each has run in the
    worker and sits in its cache, waiting for its first send); return how many did."""
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        done = await stack.pool.fetchval(
            "select count(distinct workflow_id) from journey_events where cohort_id = $1", cohort
        )
        if done >= n:
            break
        await asyncio.sleep(1.0)
    return int(done)


async def bench_memory(stack: BenchStack, idle_rss: int, cohort: str, n: int) -> Row:
    cached = await settled(stack, cohort, n)
    await asyncio.sleep(3.0)  # let the last activities and workflow tasks finish
    rss = stack.worker_rss()
    per = (rss - idle_rss) / max(cached, 1)
    return Row(
        f"worker memory: RSS with {cached:,} journeys cached (of {n:,}) vs the same worker idle",
        f"{rss / MIB:,.0f} MiB, {per / 1024:,.1f} KiB/journey",
        f"{idle_rss / MIB:,.0f} MiB idle",
        rss / idle_rss,
    )
