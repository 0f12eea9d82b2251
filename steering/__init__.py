"""The steering service: staff's and participants' commands, recorded first, then delivered to journeys."""

from steering.service import (
    RETRY_EVERY,
    Applied,
    Journeys,
    Outcome,
    Pending,
    Rejected,
    Steering,
    deliver_intent,
    outcome_of,
)

__all__ = [
    "RETRY_EVERY",
    "Applied",
    "Journeys",
    "Outcome",
    "Pending",
    "Rejected",
    "Steering",
    "deliver_intent",
    "outcome_of",
]
