"""Typed search attributes of a journey: ids and states only, never personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

COHORT = SearchAttributeKey.for_keyword("MentorflowCohort")
PERSONAS = SearchAttributeKey.for_keyword_list("MentorflowPersonas")
MODE = SearchAttributeKey.for_keyword("MentorflowMode")
NEXT_NUDGE_AT = SearchAttributeKey.for_datetime("MentorflowNextNudgeAt")
PROGRAM = SearchAttributeKey.for_keyword("MentorflowProgram")

ALL: list[SearchAttributeKey] = [COHORT, PERSONAS, MODE, NEXT_NUDGE_AT, PROGRAM]  # type: ignore[type-arg]
