"""When a stopping worker may stop polling: once the journeys it has cached have no work left for it.

Temporal routes a cached journey's next workflow task to the worker's own sticky queue. Once the worker
stops polling (the SDK stops every poller as soon as shutdown begins), tasks already on that queue, and
those routed there until the SDK's closing `ShutdownWorker` call, wait out the sticky schedule-to-start
timeout before any other worker may take them. So after SIGTERM the worker keeps polling until it has
been idle for a moment (no workflow task or activity running, none begun or ended lately): idle while
polling means its sticky queue is empty. Then it shuts down, and `ShutdownWorker` sends the journeys'
later tasks to the shared queue.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

P = ParamSpec("P")
T = TypeVar("T")


class WorkTracker:
    """Counts the worker's workflow activations (through the executor they run on) and activities (an
    interceptor) in flight, and when one last began or ended."""

    def __init__(self, max_workflow_tasks: int) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = time.monotonic()
        # As the SDK sizes its own executor; activations run on it, so it sees every workflow task.
        self.executor = _CountingExecutor(
            self, max_workers=max_workflow_tasks or 500, thread_name_prefix="temporal_workflow_"
        )
        self.interceptor = _ActivityCounting(self)

    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._last = time.monotonic()

    def end(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last = time.monotonic()

    def idle_since(self) -> float | None:
        """When the last work began or ended (monotonic), None while any is in flight."""
        with self._lock:
            return None if self._in_flight else self._last

    async def quiet(self, quiet: float, limit: float) -> bool:
        """Wait until nothing has run for `quiet` seconds since this call (True: then its sticky queue is
        empty) or until `limit` seconds pass (False)."""
        start = time.monotonic()
        while True:
            now = time.monotonic()
            since = self.idle_since()
            if since is not None and now - max(since, start) >= quiet:
                return True
            if now - start >= limit:
                return False
            await asyncio.sleep(0.05)


class _CountingExecutor(ThreadPoolExecutor):
    def __init__(self, tracker: WorkTracker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tracker = tracker

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self._tracker.begin()
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._tracker.end()
            raise
        future.add_done_callback(lambda _: self._tracker.end())
        return future


class _ActivityCounting(Interceptor):
    def __init__(self, tracker: WorkTracker) -> None:
        self._tracker = tracker

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountedActivity(next, self._tracker)


class _CountedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, tracker: WorkTracker) -> None:
        super().__init__(next)
        self._tracker = tracker

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        self._tracker.begin()
        try:
            return await super().execute_activity(input)
        finally:
            self._tracker.end()
