"""The worker process: one Temporal client, one Postgres pool, every registered workflow and activity."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from typing import TypedDict

import asyncpg
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import PollerBehavior, PollerBehaviorAutoscaling, Worker

from activities.deps import ActivityDeps
from activities.mailer import ehlo_name
from activities.registry import build_activities
from activities.smtp_pool import SmtpPool
from infra.logging import get_logger
from infra.postgres import create_pool
from infra.settings import Settings
from infra.temporal_client import connect
from steering import RETRY_EVERY, Journeys, Steering
from worker.drain import WorkTracker
from worker.ledger_watch import watch_ledger
from worker.metrics import metrics_runtime
from workflows.registry import WORKFLOWS

# After SIGTERM the worker keeps polling until it has been idle this long, at most SHUTDOWN_DRAIN
# (worker/drain.py: tasks queued on its sticky queue when it stops polling would wait out the sticky
# timeout); then it stops polling and in-flight activities get GRACEFUL_SHUTDOWN to finish before they
# are cancelled. The pod's grace period must cover all three.
SHUTDOWN_QUIET = timedelta(seconds=1)
SHUTDOWN_DRAIN = timedelta(seconds=20)
GRACEFUL_SHUTDOWN = timedelta(seconds=20)

log = get_logger(__name__)


class Tuning(TypedDict):
    max_concurrent_activities: int
    max_concurrent_workflow_tasks: int
    max_cached_workflows: int
    workflow_task_poller_behavior: PollerBehavior
    activity_task_poller_behavior: PollerBehavior
    sticky_queue_schedule_to_start_timeout: timedelta


def tuning(settings: Settings) -> Tuning:
    """The worker's slots, cache and pollers (the benchmarks' baseline worker uses the same)."""
    return Tuning(
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_cached_workflows=settings.max_cached_workflows,
        # Pollers follow the backlog (the server says when to add some): a fixed five leaves one poller
        # for new journeys' first tasks, which held a 2,000-journey launch to about 50 live per second.
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
        activity_task_poller_behavior=PollerBehaviorAutoscaling(),
        # A burst (thousands of emails due in one minute) queues tasks on this worker's sticky queue for
        # longer than the SDK's 10 s; a timed-out task goes to the shared queue with its whole history and
        # costs the server and this worker a replay. Measured: 75 -> 98 emails/s for 2,000 due at once.
        # The price: a crashed worker's journeys whose tasks were already queued for it wait up to this
        # long before another worker takes them (a SIGTERMed one drains them first, `run_worker`;
        # measured: deploy/README.md, Scaling by hand).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_seconds),
    )


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    smtp: SmtpPool | None = None,
    tracker: WorkTracker | None = None,
) -> Worker:
    """The worker; with `tracker`, its workflow tasks and activities are counted (for the drain)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(ActivityDeps(settings=settings, pool=pool, smtp=smtp)),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_task_executor=tracker.executor if tracker else None,
        interceptors=[tracker.interceptor] if tracker else [],
        **tuning(settings),
    )


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    client: Client | None = None,
    retry_every: timedelta | None = RETRY_EVERY,
) -> None:
    """Run until `stop` is set (or, without one, until SIGTERM/SIGINT); then drain and shut down
    gracefully. Meanwhile deliver pending intents every `retry_every`: the send path records some for the
    journeys (a relay's late answer), and a deployment may run no web app (None: tests deliver them)."""
    await ehlo_name(settings)  # fail closed: a relay would refuse every email of a worker named localhost
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    if client is None:
        client = await connect(settings, runtime=metrics_runtime(settings))
    pool = await create_pool(settings)
    smtp = SmtpPool(settings)
    tracker = WorkTracker(settings.max_concurrent_workflow_tasks)
    try:
        worker = build_worker(client, pool, settings, smtp, tracker)
        run = asyncio.create_task(worker.run())
        stopped = asyncio.create_task(stop.wait())
        runtime = client.service_client.config.runtime or Runtime.default()
        watch = asyncio.create_task(watch_ledger(pool, runtime.metric_meter, stop))
        steering = Steering(pool, Journeys(settings, client))
        deliver = asyncio.create_task(steering.retry_forever(retry_every)) if retry_every else None
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            namespace=settings.temporal_namespace,
            workflows=len(WORKFLOWS),
        )
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            log.info("worker stopping; polling until its journeys have no work left for it")
            drained = asyncio.create_task(
                tracker.quiet(SHUTDOWN_QUIET.total_seconds(), SHUTDOWN_DRAIN.total_seconds())
            )
            await asyncio.wait({run, drained}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                # Not quiet within the limit: what is queued for it now waits out the sticky timeout.
                log.info("worker drained; letting in-flight activities finish", quiet=drained.result())
                await worker.shutdown()
            drained.cancel()
        stopped.cancel()
        watch.cancel()
        if deliver is not None:
            deliver.cancel()
        await run  # re-raises a worker crash
        log.info("worker stopped")
    finally:
        await smtp.close()  # after the in-flight activities: none is using a connection now
        await pool.close()
        tracker.executor.shutdown(wait=False)  # ours, so the SDK leaves it running
