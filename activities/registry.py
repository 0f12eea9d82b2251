"""Every activity the worker registers. Add yours to `build_activities`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from activities.health import HealthActivities
from worker.settings import Settings


@dataclass(frozen=True)
class ActivityDeps:
    """What activities share in one worker process: settings and the one Postgres pool."""

    settings: Settings
    pool: asyncpg.Pool


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    from activities.journey import JourneyActivities
    from activities.launch import LaunchActivities

    health = HealthActivities(deps.pool)
    launch = LaunchActivities(deps.pool)
    journey = JourneyActivities(deps)
    return [health.health_check, launch.launch_batch, journey.append_events, journey.send_nudge]
