"""Readers are not dormant: the cohort's counts name the slowed pace and the quiet state (issue 14)."""

from __future__ import annotations

from datetime import date, time

import asyncpg

from store.cohorts import ParticipantRecord, save_roster
from store.reports import list_cohorts
from tests.domain.small_program import small_program


async def test_cohort_counts_slowed_and_quiet_journeys(db_pool: asyncpg.Pool) -> None:
    people = [
        ParticipantRecord(
            participant_id=f"p{i}",
            name=f"Person {i}",
            email=f"p{i}@example.org",
            timezone="UTC",
            send_days=["tue"],
            send_time=time(8, 30),
        )
        for i in range(4)
    ]
    await save_roster(db_pool, "m1", small_program(), date(2027, 1, 4), people)
    for pid, mode in (("p0", "active"), ("p1", "slowed"), ("p2", "quiet"), ("p3", "quiet")):
        await db_pool.execute(
            "insert into journey_status (cohort_id, participant_id, workflow_id, version, mode)"
            " values ('m1', $1, $2, 1, $3)",
            pid,
            f"journey-m1~{pid}",
            mode,
        )
    (cohort,) = await list_cohorts(db_pool)
    assert {m: n for m, n in cohort.modes.items() if n} == {"active": 1, "slowed": 1, "quiet": 2}
    assert "dormant" not in cohort.modes
