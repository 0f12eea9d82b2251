"""A SIGTERMed worker leaves no workflow task of its cached journeys waiting on its sticky queue.

The stack as separate processes (`benchmarks.chaos`). Thirty journeys start on the first worker, which keeps
them cached; a second worker polls. The first worker is frozen (SIGSTOP) when their timers fire, so the
journeys' next workflow tasks queue on its sticky queue (the test sees the backlog); then it gets SIGTERM
and is let go on (SIGCONT). A worker that stops polling at SIGTERM, as the SDK does once shutdown
begins, leaves those tasks there until the sticky schedule-to-start timeout moves them to the shared
queue: the histories show the timeout (or, for tasks its open polls had taken, a start-to-close
timeout). Asserted on the histories, not on time.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, TaskQueueKind, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import WorkflowHandle

from benchmarks.chaos import Chaos, Script, _launch_burst, chaos_stack
from worker.drain import WorkTracker
from workflows.contract import journey_id

N = 30
WAIT = 240.0  # seconds; generous for a loaded machine, never reached when it works


async def _until(what: str, check: Callable[[], Awaitable[bool] | bool]) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        done = check()
        if await done if inspect.isawaitable(done) else done:
            return
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def _events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def _count(events: list[HistoryEvent], kind: EventType.ValueType) -> int:
    return sum(1 for e in events if e.event_type == kind)


async def _sticky_backlog(chaos: Chaos, name: str) -> int:
    response = await chaos.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=chaos.client.namespace,
            task_queue=TaskQueue(name=name, kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            include_task_queue_status=True,
        )
    )
    return int(response.task_queue_status.backlog_count_hint)


async def test_sigterm_worker_leaves_no_task_of_its_journeys_on_its_sticky_queue(tmp_path: Path) -> None:
    env = {"MENTORFLOW_LOG_LEVEL": "info", "MENTORFLOW_STICKY_TIMEOUT_SECONDS": "20"}
    async with chaos_stack(tmp_path, env) as chaos:
        chaos.relay.restart(Script())
        chaos.cohort = "sigterm-handback"
        await _launch_burst(chaos, N, chaos.cohort)
        first = chaos.workers[0]
        rows = await chaos.pool.fetch(
            "select participant_id from participants where cohort_id = $1", chaos.cohort
        )
        assert len(rows) == N
        handles = [
            chaos.client.get_workflow_handle(journey_id(chaos.cohort, r["participant_id"])) for r in rows
        ]

        async def started_on_first() -> bool:  # each journey has run its first task, on the only worker
            for h in handles:
                if _count(await _events(h), EventType.EVENT_TYPE_TIMER_STARTED) < 1:
                    return False
            return True

        await _until("every journey waiting for its first email", started_on_first)
        os.kill(first.pid, signal.SIGSTOP)
        try:
            await chaos.start_worker()
            sticky: list[str] = []

            async def queued_on_first() -> bool:  # a timer fired and its task waits for the frozen worker
                for h in handles:
                    for e in await _events(h):
                        queue = e.workflow_task_scheduled_event_attributes.task_queue
                        if queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY:
                            sticky[:] = [queue.name]
                return bool(sticky) and await _sticky_backlog(chaos, sticky[0]) > 0

            await _until("tasks queued on the frozen worker's sticky queue", queued_on_first)
            chaos.kill_worker(signal.SIGTERM)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        await asyncio.wait_for(asyncio.to_thread(first.popen.wait), WAIT)

        async def all_sent() -> bool:  # every journey recorded its email (a task after the activity)
            for h in handles:
                events = await _events(h)
                if _count(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) < 1:
                    return False
                if _count(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) < 3:
                    return False
            return True

        await _until("every journey recorded its email", all_sent)
        for h in handles:
            names = [EventType.Name(e.event_type) for e in await _events(h)]
            assert "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT" not in names, (h.id, names)
        assert len(list(chaos.relay.mail_dir.glob("*.eml"))) == N


async def test_drain_waits_for_work_in_flight_and_gives_up_at_its_limit() -> None:
    tracker = WorkTracker(2)
    try:
        tracker.begin()  # an activity or workflow task still running: never quiet, so the limit ends it
        assert await tracker.quiet(quiet=0.05, limit=0.3) is False
        tracker.end()
        assert await tracker.quiet(quiet=0.05, limit=WAIT) is True
        # A workflow activation counts while it runs on the tracker's executor.
        release = threading.Event()
        running = tracker.executor.submit(release.wait)
        assert await tracker.quiet(quiet=0.05, limit=0.3) is False
        release.set()
        await asyncio.wrap_future(running)
        assert await tracker.quiet(quiet=0.05, limit=WAIT) is True
    finally:
        tracker.executor.shutdown(wait=False)
