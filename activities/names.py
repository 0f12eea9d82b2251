"""Activity names: the contract between workflows and the worker that registers the activities."""

PERFORM_DECISION = "perform_journey_decision"
# Used by runs from before `PERFORM_DECISION` (`Performing.PER_EMAIL`); kept registered until none of
# those runs remains (deploy/README.md).
APPEND_EVENTS = "append_journey_events"
SEND_NUDGE = "send_nudge"
