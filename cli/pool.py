"""One short-lived Postgres pool for a staff command that only reads or writes Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def with_pool(func: Callable[[Any], Awaitable[T]]) -> T:
    """Run `func(pool)` on a pool of its own (a few connections: a report queries side by side)."""
    from infra.postgres import create_pool
    from infra.settings import get_settings

    async def go() -> T:
        pool = await create_pool(get_settings(), min_size=1, max_size=4)
        try:
            return await func(pool)
        finally:
            await pool.close()

    return asyncio.run(go())
