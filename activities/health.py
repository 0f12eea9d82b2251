"""A trivial activity that proves the worker reaches Postgres."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel
from temporalio import activity


class HealthResult(BaseModel):
    postgres_ok: bool = False


class HealthActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="health_check")
    async def health_check(self) -> HealthResult:
        value = await self.pool.fetchval("select 1")
        activity.logger.info("health check", extra={"postgres_ok": value == 1})
        return HealthResult(postgres_ok=value == 1)
