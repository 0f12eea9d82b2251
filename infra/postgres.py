"""The one asyncpg pool a process uses."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from infra.settings import Settings, redact_secrets, redact_url

# A connection of our own or one borrowed from the pool.
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"


class PostgresUnreachableError(Exception):
    """Postgres did not answer; the message is one line naming the server (never the password)."""


def redact(dsn: str) -> str:
    """The DSN without its password (in the userinfo or as `?password=`), for messages."""
    return redact_url(dsn)


async def create_pool(settings: Settings, *, dsn: str | None = None, **kw: Any) -> asyncpg.Pool:
    """A pool of `settings.db_pool_size` connections; PostgresUnreachableError if nothing answers."""
    target = dsn or settings.postgres_dsn
    kw.setdefault("min_size", 1)
    kw.setdefault("max_size", settings.db_pool_size)
    kw.setdefault("timeout", 10)
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(target, **kw)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        reason = redact_secrets(reason, settings.secret_values)
        verdict = "refused the connection" if isinstance(err, asyncpg.PostgresError) else "is unreachable"
        raise PostgresUnreachableError(
            f"Postgres at {redact(target)} {verdict}: {reason}"
            "; is `mentorflow dev up` running or MENTORFLOW_DATABASE_URL set?"
        ) from None
    return pool
