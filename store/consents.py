"""Consents staff record for a participant (to be written to again after unsubscribing): who, when, what.

Postgres only: the journey's `resubscribed` event carries the consent's id, never its words.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from infra.postgres import Connection


class Consent(BaseModel):
    consent_id: str
    cohort_id: str
    participant_id: str
    kind: str
    consent: str
    recorded_by: str
    recorded_at: datetime
    unsubscribed_at: datetime | None = None


async def record_resubscribe(
    conn: Connection,
    *,
    consent_id: str,
    cohort_id: str,
    participant_id: str,
    consent: str,
    recorded_by: str,
    unsubscribed_at: datetime | None,
) -> None:
    await conn.execute(
        """
        insert into participant_consents
            (consent_id, cohort_id, participant_id, kind, consent, recorded_by, unsubscribed_at)
        values ($1, $2, $3, 'resubscribe', $4, $5, $6)
        """,
        consent_id,
        cohort_id,
        participant_id,
        consent,
        recorded_by,
        unsubscribed_at,
    )


async def consents_of(pool: asyncpg.Pool, cohort_id: str, participant_id: str) -> list[Consent]:
    rows = await pool.fetch(
        """
        select consent_id, cohort_id, participant_id, kind, consent, recorded_by, recorded_at, unsubscribed_at
        from participant_consents where cohort_id = $1 and participant_id = $2 order by recorded_at
        """,
        cohort_id,
        participant_id,
    )
    return [Consent.model_validate(dict(r)) for r in rows]
