"""CohortLaunchWorkflow `launch-{cohort}`: starts every journey of a cohort in batches, durably.

The CLI only saves the roster to Postgres and starts (or attaches to) this workflow; closing the terminal
changes nothing. Each batch is one activity that starts journeys idempotently, so a retried batch, a
re-run launch or a second CLI starts no one twice. Progress is the `progress` query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contract import LaunchActivities, LaunchBatchInput, LaunchFailure

# Batches per run before continue-as-new: each is a handful of history events.
_BATCHES_PER_RUN = 200
# Refused rows kept by name (the count is exact): bounds the payload for a roster that fails wholesale.
MAX_LISTED_FAILURES = 200


def launch_id(cohort_id: str) -> str:
    return f"launch-{cohort_id}"


class LaunchInput(BaseModel):
    cohort_id: str
    program: str
    task_queue: str
    batch_size: int = 100
    first_send_at: datetime | None = None  # the demo: every welcome at this instant (see Enroll)
    # Carried across continue-as-new.
    after: str | None = None
    processed: int = 0
    closed: int = 0
    total: int = 0
    failed: list[LaunchFailure] = Field(default_factory=list)
    failed_count: int = 0


class LaunchProgress(BaseModel):
    cohort_id: str
    total: int = 0
    # rows handled: journeys started or found running (or already ended: `closed`), or refused (`failed`)
    processed: int = 0
    closed: int = 0
    # Rows that cannot start for a reason retrying cannot fix (first MAX_LISTED_FAILURES; all counted).
    failed: list[LaunchFailure] = Field(default_factory=list)
    failed_count: int = 0
    done: bool = False


@workflow.defn
class CohortLaunchWorkflow:
    @workflow.init
    def __init__(self, data: LaunchInput) -> None:
        self._progress = LaunchProgress(
            cohort_id=data.cohort_id,
            total=data.total,
            processed=data.processed,
            closed=data.closed,
            failed=data.failed,
            failed_count=data.failed_count,
        )

    @workflow.run
    async def run(self, data: LaunchInput) -> LaunchProgress:
        after = data.after
        for _ in range(_BATCHES_PER_RUN):
            batch = await workflow.execute_activity_method(
                LaunchActivities.launch_batch,
                LaunchBatchInput(
                    cohort_id=data.cohort_id,
                    task_queue=data.task_queue,
                    after=after,
                    limit=data.batch_size,
                    decided_at=workflow.now(),
                    first_send_at=data.first_send_at,
                ),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
                ),
                summary=f"start journeys after {after or 'the first'}",
            )
            after = batch.last
            p = self._progress
            self._progress = p.model_copy(
                update={
                    "processed": p.processed + batch.processed,
                    "closed": p.closed + batch.closed,
                    "failed": (p.failed + batch.failed)[:MAX_LISTED_FAILURES],
                    "failed_count": p.failed_count + len(batch.failed),
                    "total": max(batch.total, p.processed + batch.processed),
                }
            )
            workflow.set_current_details(
                f"**Cohort** `{data.cohort_id}` ({data.program}): "
                f"{self._progress.processed} of {self._progress.total} journeys started"
                + (f", {self._progress.failed_count} refused" if self._progress.failed_count else "")
            )
            if batch.done:
                self._progress = self._progress.model_copy(update={"done": True})
                return self._progress
        await workflow.wait_condition(workflow.all_handlers_finished)
        p = self._progress
        workflow.continue_as_new(
            data.model_copy(
                update={
                    "after": after,
                    "processed": p.processed,
                    "closed": p.closed,
                    "total": p.total,
                    "failed": p.failed,
                    "failed_count": p.failed_count,
                }
            )
        )

    @workflow.query
    def progress(self) -> LaunchProgress:
        return self._progress
