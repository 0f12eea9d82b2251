"""What activities share in one worker process."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from activities.smtp_pool import SmtpPool
from infra.settings import Settings


@dataclass(frozen=True)
class ActivityDeps:
    """What activities share in one worker process: settings, the one Postgres pool, the SMTP pool."""

    settings: Settings
    pool: asyncpg.Pool
    smtp: SmtpPool | None = None  # the worker's open SMTP connections; None: a conversation per email
