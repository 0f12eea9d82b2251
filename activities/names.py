"""Activity names: the contract between workflows and the worker that registers the activities."""

PERFORM_DECISION = "perform_journey_decision"
# Used by journeys that started before `PERFORM_DECISION` (patch "one-activity-per-decision"); kept
# registered until none of those runs remains (deploy/README.md, patching).
APPEND_EVENTS = "append_journey_events"
SEND_NUDGE = "send_nudge"
