"""The program a cohort runs, stored with the cohort at launch and read back by the senders."""

from __future__ import annotations

import asyncio

import asyncpg

from domain.program import Program


class ProgramNotFound(Exception):
    pass


class ProgramCache:
    """Programs are frozen at launch, so a worker can keep each cohort's program after the first read."""

    def __init__(self) -> None:
        self._programs: dict[str, Program] = {}
        self._lock = asyncio.Lock()

    async def get(self, pool: asyncpg.Pool, cohort_id: str) -> Program:
        if cohort_id in self._programs:
            return self._programs[cohort_id]
        async with self._lock:
            if cohort_id not in self._programs:
                raw = await pool.fetchval(
                    "select program_json::text from cohorts where cohort_id = $1", cohort_id
                )
                if raw is None:
                    raise ProgramNotFound(f"cohort {cohort_id!r} has no stored program")
                self._programs[cohort_id] = Program.model_validate_json(raw)
        return self._programs[cohort_id]
