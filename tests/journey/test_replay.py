"""Committed histories of real journey runs replay against the current workflow code.

A change that would break a running journey (a command added, removed or reordered without
`workflow.patched`) fails here before it ships. Nothing has been deployed yet: when the workflow changes
shape, rewrite the set from the new code with
`MENTORFLOW_RECORD_HISTORIES=1 pytest tests/journey/test_journey_year.py` (files
`journey-year-runNN.json`). Once journeys run in production, keep their sets beside new ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.journey.changed_journey import ChangedJourney
from workflows.journey import JourneyWorkflow

HISTORIES = {
    p.stem: p.read_text()
    for p in sorted((Path(__file__).resolve().parents[1] / "histories").glob("journey-*.json"))
}


def test_histories_are_committed() -> None:
    assert len(HISTORIES) >= 12, "the year-long journey's runs should be committed under tests/histories/"


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=[JourneyWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


async def test_a_changed_workflow_fails_replay() -> None:
    """The check has teeth: a workflow that issues different commands is caught."""
    history = WorkflowHistory.from_json("changed", HISTORIES[min(HISTORIES)])
    replayer = Replayer(workflows=[ChangedJourney], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
