"""The journey's activities, bound to the worker's shared settings, Postgres pool and program cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.exactly_once import record_outcome
from activities.mailer import SmtpConfigError, TransientSmtpError
from activities.send_nudge import send_nudge
from store.events import append_events
from store.programs import ProgramCache, ProgramNotFound
from workflows.contract import (
    PERFORM_DECISION,
    PerformDecisionInput,
    PerformDecisionResult,
    SendNudgeInput,
    SendNudgeResult,
)


class JourneyActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self._deps = deps
        self._programs = ProgramCache()

    @activity.defn(name=PERFORM_DECISION)
    async def perform_decision(self, data: PerformDecisionInput) -> PerformDecisionResult:
        # A retry after a transient failure finds the emails already sent settled in the ledger.
        async with heartbeating():
            sent = [await self._send(s) for s in data.sends]
            recorded = await append_events(self._deps.pool, data.record)
        return PerformDecisionResult(sends=sent, appended=recorded.appended)

    async def _send(self, data: SendNudgeInput) -> SendNudgeResult:
        try:
            result = await send_nudge(
                self._deps.settings, self._deps.pool, self._programs, data, smtp=self._deps.smtp
            )
        except ProgramNotFound as err:
            raise ApplicationError(str(err), type="ProgramNotFound", non_retryable=True) from None
        except SmtpConfigError as err:
            # Retried too (nothing is lost while it is fixed), but every email fails alike until an
            # operator changes the setting the message names: an error and a metric to alert on at once.
            activity.metric_meter().create_counter(
                "mentorflow_smtp_config_errors", "Sends that found the SMTP relay unusable as configured"
            ).add(1)
            activity.logger.error(
                "smtp configuration error", extra={"nudge_key": data.nudge_key, "error": str(err)}
            )
            raise
        except TransientSmtpError as err:
            # Retried by the workflow's policy; the ledger row stays 'sending' so operators can see it.
            activity.logger.warning(
                "smtp transient failure", extra={"nudge_key": data.nudge_key, "error": str(err)}
            )
            raise
        record_outcome(result, data.nudge_key)
        return result


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat while the body runs (an SMTP reply may take minutes), so a dead worker's activity is
    noticed within the heartbeat timeout rather than the start-to-close timeout. The first beat waits a
    third of the timeout (the server counts it from the start): most attempts end in milliseconds, and a
    heartbeat each would cost the server a write per email."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(timeout.total_seconds() / 3)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
