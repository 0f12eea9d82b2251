"""One steering service: every command for a journey, from staff (CLI) or from a participant's link (web),
is recorded as an intent in Postgres first, then delivered to the journey as its typed update.

`send` answers `Applied`, `Rejected(code, message)` or `Pending`. A pending intent stays in Postgres and
is retried (`deliver_due`, `retry_forever`) until the journey answers; the intent id is both the Temporal
update id and the domain command id, so a retry after a lost answer is applied once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.client import WorkflowExecutionStatus as Status
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain import JourneyView, RejectionCode, SettleEmail, SteerCommand
from infra.logging import get_logger
from infra.postgres import Connection
from infra.settings import Settings
from infra.temporal_client import TemporalUnreachableError, connect
from store.events import settle_ended_journey
from store.intents import (
    Intent,
    IntentStatus,
    Participant,
    Recorded,
    claim_due_intents,
    pending_of,
    record_action,
    settle_intent,
)
from workflows.journey import JOURNEY_UPDATES

log = get_logger(__name__)

# How long a caller waits for the journey before the answer is "recorded, on its way".
UPDATE_TIMEOUT = timedelta(seconds=10)
# How often pending intents are looked for and delivered again.
RETRY_EVERY = timedelta(seconds=30)


class Applied(BaseModel):
    status: Literal["applied"] = "applied"
    view: JourneyView | None = None  # None when applied earlier (a repeated submission)


class Rejected(BaseModel):
    status: Literal["rejected"] = "rejected"
    code: RejectionCode
    message: str


class Pending(BaseModel):
    status: Literal["pending"] = "pending"
    reason: str


Outcome = Applied | Rejected | Pending


def outcome_of(intent: Intent) -> Outcome:
    """What a recorded intent has come to so far."""
    match intent.status:
        case IntentStatus.APPLIED:
            return Applied()
        case IntentStatus.REJECTED:
            return Rejected(code=intent.code or RejectionCode.JOURNEY_CLOSED, message=intent.detail)
    return Pending(reason=intent.detail or "recorded")


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


async def deliver_intent(journeys: Journeys, intent: Intent, wait: timedelta = UPDATE_TIMEOUT) -> Outcome:
    """Send one intent as its journey's typed update."""
    client = await journeys.client()
    if client is None:
        return Pending(reason="Temporal is unreachable")
    handle = client.get_workflow_handle(intent.workflow_id)
    command = intent.command
    try:
        view = await asyncio.wait_for(
            handle.execute_update(JOURNEY_UPDATES[type(command)], command, id=intent.intent_id),
            wait.total_seconds(),
        )
    except WorkflowUpdateFailedError as err:
        refused = _refusal(err.cause)
        if refused is not None:
            return refused
        return Pending(reason=f"journey did not finish the update: {err.cause or err}")
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return await _not_running(handle)
        return Pending(reason=f"Temporal: {err.message[:200]}")
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return Pending(reason="the journey did not answer in time")
    return Applied(view=view)


def _refusal(cause: BaseException | None) -> Rejected | None:
    """The journey's validator raises ApplicationError(message, type=<RejectionCode>): read it back here."""
    if isinstance(cause, ApplicationError) and cause.type in set(RejectionCode):
        return Rejected(code=RejectionCode(cause.type), message=cause.message)
    return None


async def _not_running(handle: WorkflowHandle[Any, Any]) -> Outcome:
    """A journey that completed (its program over, or unsubscribed) is a final answer: nothing will change
    it, so the intent is settled, not retried. One not started yet, or stopped by an operator (terminated,
    failed), may run again: the intent waits for it."""
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return Pending(reason="the journey has not started")
        return Pending(reason=f"Temporal: {err.message[:200]}")
    if described.status == Status.COMPLETED:
        return Rejected(code=RejectionCode.JOURNEY_CLOSED, message="the journey has ended")
    return Pending(reason="the journey is not running")


class Steering:
    """Records and delivers commands for journeys; shared by the CLI and the web app."""

    def __init__(self, pool: asyncpg.Pool, journeys: Journeys, wait: timedelta = UPDATE_TIMEOUT) -> None:
        self.pool = pool
        self.journeys = journeys
        self.wait = wait

    async def send(
        self,
        participant: Participant,
        command: SteerCommand,
        *,
        action: str = "staff",
        also: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> Outcome:
        """One command; its id is its intent's (staff give a fresh one per call). `also` records what goes
        with it in the same transaction (a consent)."""
        _, (outcome,) = await self.send_all(
            participant,
            [command],
            action=action,
            action_id=command.command_id,
            ids=[command.command_id],
            also=also,
        )
        return outcome

    async def send_all(
        self,
        participant: Participant,
        commands: list[SteerCommand],
        *,
        action: str,
        action_id: str,
        ids: list[str] | None = None,
        also: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> tuple[Recorded, list[Outcome]]:
        """Record the commands (once per `action_id`: the same submission twice records nothing new),
        then deliver this journey's pending intents in order; the outcome of each of these commands."""
        recorded = await record_action(
            self.pool, participant, action, action_id, commands, ids=ids, also=also
        )
        delivered: dict[str, Outcome] = {}
        if any(i.status is IntentStatus.PENDING for i in recorded.intents):
            # Older pending intents of this journey go first: an adopt then a drop arrive in that order.
            delivered = dict(await self.apply(await pending_of(self.pool, participant.workflow_id)))
        return recorded, [delivered.get(i.intent_id) or outcome_of(i) for i in recorded.intents]

    async def apply(self, intents: list[Intent]) -> list[tuple[str, Outcome]]:
        """Deliver pending intents in order, settling each in Postgres; after one stays pending, the later
        ones of that journey wait too. (intent id, outcome) for each."""
        out: list[tuple[str, Outcome]] = []
        blocked: set[str] = set()
        for intent in intents:
            outcome: Outcome
            if intent.status is not IntentStatus.PENDING:
                outcome = outcome_of(intent)
            elif intent.workflow_id in blocked:
                outcome = Pending(reason="waiting for an earlier request")
            else:
                outcome = await deliver_intent(self.journeys, intent, self.wait)
                if _closed(outcome) and isinstance(intent.command, SettleEmail):
                    outcome = await self._settle_ended(intent, intent.command)
            if intent.status is IntentStatus.PENDING:
                await _settle(self.pool, intent, outcome)
            if isinstance(outcome, Pending):
                blocked.add(intent.workflow_id)
            out.append((intent.intent_id, outcome))
        return out

    async def _settle_ended(self, intent: Intent, command: SettleEmail) -> Outcome:
        """The ledger's word on an email of a journey that has ended: its record in Postgres takes it
        (the workflow, closed, can take no update; nothing else writes that record any more)."""
        journey = (intent.workflow_id, intent.cohort_id, intent.participant_id)
        refused = await settle_ended_journey(self.pool, journey, command, datetime.now(UTC))
        if refused is not None:
            return Rejected(code=refused.code, message=refused.message)
        return Applied()

    async def deliver_due(self, *, limit: int = 100) -> int:
        """Deliver the pending intents whose retry time has come; how many were settled for good."""
        intents = await claim_due_intents(self.pool, limit)
        settled = await self.apply(intents)
        done = sum(1 for _, o in settled if not isinstance(o, Pending))
        if intents:
            log.info("pending intents retried", claimed=len(intents), settled=done)
        return done

    async def retry_forever(self, every: timedelta = RETRY_EVERY) -> None:
        """The background loop (web app); cancelled when the app stops."""
        while True:
            try:
                await self.deliver_due()
            except (OSError, asyncpg.PostgresError) as err:
                log.warning("retrying pending intents failed; will try again", error=str(err))
            except Exception as err:  # a loop that died would deliver nothing again, silently
                log.error("retrying pending intents failed; will try again", error=repr(err))
            await asyncio.sleep(every.total_seconds())


def _closed(outcome: Outcome) -> bool:
    return isinstance(outcome, Rejected) and outcome.code is RejectionCode.JOURNEY_CLOSED


async def _settle(pool: asyncpg.Pool, intent: Intent, outcome: Outcome) -> None:
    match outcome:
        case Applied():
            await settle_intent(pool, intent.intent_id, IntentStatus.APPLIED)
        case Rejected():
            await settle_intent(pool, intent.intent_id, IntentStatus.REJECTED, outcome.message, outcome.code)
        case Pending():
            await settle_intent(pool, intent.intent_id, IntentStatus.PENDING, outcome.reason)
