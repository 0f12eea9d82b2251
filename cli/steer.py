"""Staff commands go through the steering service (recorded in Postgres, then delivered to the journey);
this module turns its outcomes into what staff read and the exit code."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from cli.errors import EXIT_PENDING, EXIT_REJECTED, CliError

if TYPE_CHECKING:
    import asyncpg

    from domain import RejectionCode
    from steering import Outcome, Steering

T = TypeVar("T")

# What staff read for each rejection code; the journey's message follows, with the ids it names.
STAFF_WORDS: dict[str, str] = {
    "journey_closed": "the journey has ended; nothing changes it any more",
    "unsubscribed": "the participant is unsubscribed",
    "completed": "the program is over for this participant",
    "already_ending": "the program is already ending",
    "schedule_unchanged": "nothing to change",
    "withdrawn": "withdrawn: the participant resubscribed (their consent is recorded)",
}


def staff_reason(code: RejectionCode, message: str) -> str:
    words = STAFF_WORDS.get(code.value)
    return f"{words} [{code.value}: {message}]" if words else f"{message} [{code.value}]"


def staff_command_id(kind: str) -> str:
    """A fresh id per staff command: each call is a new intent (repeating one is the journey's to refuse)."""
    return f"staff-{kind}-{uuid.uuid4().hex}"


async def with_steering(settings: Any, go: Callable[[asyncpg.Pool, Steering], Awaitable[T]]) -> T:
    """A pool and the steering service for one CLI command."""
    from infra.logging import configure_logging
    from infra.postgres import create_pool
    from steering import Journeys, Steering

    configure_logging(settings)  # the service's warnings (Temporal unreachable) on stderr, never in --json
    pool = await create_pool(settings, min_size=1, max_size=4)
    try:
        return await go(pool, Steering(pool, Journeys(settings)))
    finally:
        await pool.close()


def exit_for(outcome: Outcome, what: str) -> None:
    """Rejected: exit 8 with the reason; pending: exit 9, recorded for the retry loop to deliver."""
    from steering import Pending, Rejected

    if isinstance(outcome, Rejected):
        raise CliError(f"rejected: {what}: {staff_reason(outcome.code, outcome.message)}", EXIT_REJECTED)
    if isinstance(outcome, Pending):
        raise CliError(
            f"recorded, not yet applied: {what}: {outcome.reason}; it is delivered when the journey can "
            "take it (the web app retries pending commands)",
            EXIT_PENDING,
        )
