"""A deliberately incompatible JourneyWorkflow, to prove the replay check catches changes.

In its own module because the workflow sandbox re-imports the module that defines a workflow.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import JourneyInput


@workflow.defn(name="JourneyWorkflow")
class ChangedJourney:
    """Sleeps where the real journey records its enrolment."""

    @workflow.run
    async def run(self, data: JourneyInput) -> None:
        await workflow.sleep(1)
