"""Every activity the worker registers. Add yours to `build_activities`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from activities.health import HealthActivities
from activities.smtp_pool import SmtpPool
from worker.settings import Settings


@dataclass(frozen=True)
class ActivityDeps:
    """What activities share in one worker process: settings, the one Postgres pool, the SMTP pool."""

    settings: Settings
    pool: asyncpg.Pool
    smtp: SmtpPool | None = None  # the worker's open SMTP connections; None: a conversation per email


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    from activities.journey import JourneyActivities
    from activities.launch import LaunchActivities

    health = HealthActivities(deps.pool)
    launch = LaunchActivities(deps.pool)
    journey = JourneyActivities(deps)
    return [
        health.health_check,
        launch.launch_batch,
        journey.perform_decision,
        journey.append_events,
        journey.send_nudge,
    ]
