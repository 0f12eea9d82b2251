"""The worker runs the registered activities with the shared pool and stops gracefully."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.health import HealthResult
from infra.logging import configure_logging
from infra.settings import Settings
from worker.main import run_worker


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


def test_every_contract_activity_is_registered_under_its_name(settings: Settings) -> None:
    """Workflows call the contract's definitions; the worker must register an implementation of each."""
    from activities.deps import ActivityDeps
    from activities.registry import build_activities
    from workflows import contract

    declared = {
        defn.name
        for api in (contract.JourneyActivities, contract.LaunchActivities)
        for member in vars(api).values()
        if (defn := activity._Definition.from_callable(member)) is not None
    }
    registered = {
        defn.name
        for fn in build_activities(ActivityDeps(settings=settings, pool=None))  # type: ignore[arg-type]
        if (defn := activity._Definition.from_callable(fn)) is not None
    }
    assert declared == {contract.PERFORM_DECISION, contract.LAUNCH_BATCH}
    assert declared <= registered
