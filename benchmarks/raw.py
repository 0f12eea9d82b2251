"""The raw-Temporal baselines: no mentorflow code, just what the figures are compared against."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from temporalio import activity, workflow

RAW_QUEUE = "bench-raw"


@workflow.defn
class TrivialWorkflow:
    """What a bare `start_workflow` starts: one workflow task, then done."""

    @workflow.run
    async def run(self) -> None:
        return None


@activity.defn
async def noop_activity() -> float:
    """Does nothing but say when it ran (wall clock), so a burst's rate can be measured."""
    return time.time()


@workflow.defn
class TimerActivityWorkflow:
    """The fan-out baseline: sleep until a shared instant, then one no-op activity."""

    @workflow.run
    async def run(self, due: datetime) -> float:
        await workflow.sleep(max(due - workflow.now(), timedelta(milliseconds=1)))
        ran_at: float = await workflow.execute_activity(
            noop_activity, start_to_close_timeout=timedelta(minutes=2)
        )
        return ran_at


RAW_WORKFLOWS = [TrivialWorkflow, TimerActivityWorkflow]
RAW_ACTIVITIES = [noop_activity]
