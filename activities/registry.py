"""Every activity the worker registers. Add yours to `build_activities`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.deps import ActivityDeps
from activities.health import HealthActivities
from activities.journey import JourneyActivities
from activities.launch import LaunchActivities
from activities.mentor import MentorActivities


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    health = HealthActivities(deps.pool)
    launch = LaunchActivities(deps.pool)
    journey = JourneyActivities(deps)
    mentor = MentorActivities(deps)
    return [
        health.health_check,
        launch.launch_batch,
        journey.perform_decision,
        mentor.next_slot,
        mentor.perform_slot,
    ]
