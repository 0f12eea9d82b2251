"""Figure 5: the worker process's resident set size with `n` journeys cached, per journey, versus the
same process idle (after start-up, before any journey)."""

from __future__ import annotations

from benchmarks.report import Row
from benchmarks.stack import BenchStack

MIB = 1024 * 1024


async def bench_memory(stack: BenchStack, idle_rss: int, cached: int) -> Row:
    await stack.worker_quiet()
    rss = stack.worker_rss()
    per = (rss - idle_rss) / max(cached, 1)
    return Row(
        f"worker memory: RSS with {cached:,} journeys cached vs the same worker idle",
        f"{rss / MIB:,.0f} MiB, {per / 1024:,.1f} KiB/journey",
        f"{idle_rss / MIB:,.0f} MiB idle",
        rss / idle_rss,
    )
