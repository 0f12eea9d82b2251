"""The worker runs the registered activities with the shared pool and stops gracefully."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.health import HealthResult
from worker.logging import configure_logging
from worker.main import run_worker
from worker.settings import Settings


@workflow.defn(sandboxed=False)
class HealthProbe:
    @workflow.run
    async def run(self, activity_queue: str) -> HealthResult:
        result: HealthResult = await workflow.execute_activity(
            "health_check",
            task_queue=activity_queue,
            start_to_close_timeout=timedelta(seconds=10),
            result_type=HealthResult,
        )
        return result


async def test_worker_runs_health_check_on_postgres_and_stops(
    settings: Settings, temporal_env: WorkflowEnvironment, monkeypatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root_handlers = list(logging.getLogger().handlers)
    configure_logging(settings.model_copy(update={"log_format": "json"}))
    client = temporal_env.client
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(settings, stop=stop, client=client))
    # The probe workflow runs on its own worker and queue; its activity goes to the mentorflow worker.
    probe_queue = f"probe-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=probe_queue,
        workflows=[HealthProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        workflow_id = f"health-{uuid.uuid4().hex[:8]}"
        result = await client.execute_workflow(
            HealthProbe.run,
            settings.task_queue,
            id=workflow_id,
            task_queue=probe_queue,
            execution_timeout=timedelta(seconds=30),
        )
    assert result == HealthResult(postgres_ok=True)
    stop.set()
    await asyncio.wait_for(running, timeout=30)
    for handler in logging.getLogger().handlers:
        if handler not in root_handlers:
            logging.getLogger().removeHandler(handler)
    # The activity's log line is JSON carrying its Temporal context as fields.
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    health = next(r for r in lines if r["event"] == "health check")
    assert health["activity_type"] == "health_check"
    assert health["workflow_id"] == workflow_id
    assert health["postgres_ok"] is True
    assert "worker stopped" in [r["event"] for r in lines]
