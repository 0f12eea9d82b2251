"""Sending a staff command to one journey through its update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from temporalio.client import Client


async def send_update(
    client: Client, cohort: str, participant_id: str, update: str, command: Any
) -> tuple[bool, str | None]:
    """(accepted, reason). Not accepted with no reason: the journey does not exist or has closed."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from domain import JourneyView
    from workflows.contract import journey_id

    handle = client.get_workflow_handle(journey_id(cohort, participant_id))
    try:
        await handle.execute_update(update, command, id=command.command_id, result_type=JourneyView)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        return False, str(getattr(cause, "message", None) or cause or exc)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False, None
        raise
    return True, None
