"""Perform one decision of a journey in one activity: its emails, then the record of its events.

One activity per decision (rather than one per email plus one for the append) halves the workflow tasks
and activity tasks a due email costs. Order is kept: the store never runs ahead of the sends. Each part
is idempotent on its own (the send ledger, event ids, the projection's version), so a retried attempt
sends nothing twice and records nothing twice.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from activities.event_store import AppendEventsInput
from activities.send_nudge import SendNudgeInput, SendNudgeResult


class PerformDecisionInput(BaseModel):
    sends: list[SendNudgeInput] = Field(default_factory=list)
    record: AppendEventsInput


class PerformDecisionResult(BaseModel):
    sends: list[SendNudgeResult] = Field(default_factory=list)
    appended: int = 0
