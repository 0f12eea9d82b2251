"""Typed search attributes of a journey: ids and states only, never personal data."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, SearchAttributeUpdate

from domain import JourneyView

COHORT = SearchAttributeKey.for_keyword("MentorflowCohort")
PERSONAS = SearchAttributeKey.for_keyword_list("MentorflowPersonas")
MODE = SearchAttributeKey.for_keyword("MentorflowMode")
NEXT_NUDGE_AT = SearchAttributeKey.for_datetime("MentorflowNextNudgeAt")
PROGRAM = SearchAttributeKey.for_keyword("MentorflowProgram")

ALL: list[SearchAttributeKey] = [COHORT, PERSONAS, MODE, NEXT_NUDGE_AT, PROGRAM]  # type: ignore[type-arg]
# The order a journey upserts them in (recorded in histories).
_UPSERT_ORDER = (COHORT, PROGRAM, MODE, PERSONAS, NEXT_NUDGE_AT)

Values = dict[str, Any]  # attribute name -> value, None when unset


def journey_values(cohort_id: str, program: str, view: JourneyView | None) -> Values:
    """What a journey shows operators; before it has enrolled (`view` None), only cohort and program."""
    values: Values = dict.fromkeys((k.name for k in ALL), None)
    values[COHORT.name], values[PROGRAM.name] = cohort_id, program
    if view is not None:
        values[MODE.name] = view.mode.value
        values[PERSONAS.name] = [p.value for p in view.personas]
        values[NEXT_NUDGE_AT.name] = view.next_nudge_at
    return values


def pairs(values: Values) -> list[SearchAttributePair[Any]]:
    """The set values, as a workflow start takes them."""
    return [SearchAttributePair(k, values[k.name]) for k in _UPSERT_ORDER if values[k.name] is not None]


def updates(values: Values) -> list[SearchAttributeUpdate[Any]]:
    """Every attribute, set or unset, as `workflow.upsert_search_attributes` takes them."""
    return [
        key.value_unset() if values[key.name] is None else key.value_set(values[key.name])
        for key in _UPSERT_ORDER
    ]
