"""Send recorded intents to journeys as workflow updates, and retry the ones that could not be delivered.

The intent id is both the Temporal update id and the domain command id, so a retry after a lost answer
is deduplicated by Temporal (same run) and by the journey (processed command ids).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from infra.logging import get_logger
from infra.settings import Settings
from infra.temporal_client import TemporalUnreachableError, connect
from store.intents import Intent, IntentStatus, claim_due_intents, settle_intent

log = get_logger(__name__)

# How long a participant's request waits for the journey before the page says "recorded, on its way".
UPDATE_TIMEOUT = timedelta(seconds=10)
# How often the web app looks for pending intents to deliver.
RETRY_EVERY = timedelta(seconds=30)


class Journeys:
    """A Temporal client connected on first use and again after a failed connect."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client | None:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings, connect_timeout=timedelta(seconds=3))
                except TemporalUnreachableError as err:
                    log.warning("temporal unreachable; intents stay pending", error=str(err))
                    return None
        return self._client


async def deliver(
    journeys: Journeys, intent: Intent, wait: timedelta = UPDATE_TIMEOUT
) -> tuple[IntentStatus, str]:
    """Send one intent as its update; say whether it was applied, rejected (why), or is still pending."""
    client = await journeys.client()
    if client is None:
        return IntentStatus.PENDING, "Temporal is unreachable"
    handle = client.get_workflow_handle(intent.workflow_id)
    try:
        await asyncio.wait_for(
            handle.execute_update(intent.update_name, intent.command, id=intent.intent_id),
            wait.total_seconds(),
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        # The journey's validator raises ValueError with a reason for the participant.
        if isinstance(cause, ApplicationError) and cause.type == "ValueError":
            return IntentStatus.REJECTED, cause.message
        return IntentStatus.PENDING, f"journey did not finish the update: {cause or err}"
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return IntentStatus.PENDING, "the journey is not running"
        return IntentStatus.PENDING, f"Temporal: {err.message[:200]}"
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return IntentStatus.PENDING, "the journey did not answer in time"
    return IntentStatus.APPLIED, ""


async def apply_intents(pool: asyncpg.Pool, journeys: Journeys, intents: list[Intent]) -> list[Intent]:
    """Deliver pending intents in order; after one stays pending, the later ones of that journey wait too
    (an adopt and a drop of the same persona must arrive in the order given)."""
    out: list[Intent] = []
    blocked: set[str] = set()
    for intent in intents:
        if intent.status is not IntentStatus.PENDING:
            out.append(intent)
            continue
        if intent.workflow_id in blocked:
            status, detail = IntentStatus.PENDING, "waiting for an earlier request"
        else:
            status, detail = await deliver(journeys, intent)
        if status is IntentStatus.PENDING:
            blocked.add(intent.workflow_id)
        await settle_intent(pool, intent.intent_id, status, detail)
        out.append(intent.model_copy(update={"status": status, "detail": detail}))
    return out


async def apply_pending_intents(pool: asyncpg.Pool, journeys: Journeys, *, limit: int = 100) -> int:
    """Deliver the pending intents whose retry time has come; return how many were settled for good."""
    intents = await claim_due_intents(pool, limit)
    settled = await apply_intents(pool, journeys, intents)
    done = sum(1 for i in settled if i.status is not IntentStatus.PENDING)
    if intents:
        log.info("pending intents retried", claimed=len(intents), settled=done)
    return done


async def retry_pending_forever(
    pool: asyncpg.Pool, journeys: Journeys, every: timedelta = RETRY_EVERY
) -> None:
    """The web app's background loop; cancelled when the app stops."""
    while True:
        try:
            await apply_pending_intents(pool, journeys)
        except (OSError, asyncpg.PostgresError) as err:
            log.warning("retrying pending intents failed; will try again", error=str(err))
        await asyncio.sleep(every.total_seconds())
