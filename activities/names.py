"""Activity names: the contract between workflows and the worker that registers the activities."""

APPEND_EVENTS = "append_journey_events"
SEND_NUDGE = "send_nudge"
