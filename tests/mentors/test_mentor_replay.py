"""A committed history of a mentor's workflow (a prompt, a digest, a preferences change, an unsubscribe)
replays against the current MentorWorkflow. Rewrite it when the workflow changes shape (nothing is
deployed): `MENTORFLOW_RECORD_HISTORIES=1 pytest tests/mentors/test_mentor_emails.py`."""

from __future__ import annotations

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.mentors.test_mentor_emails import HISTORY
from workflows.mentor import MentorWorkflow


async def test_mentor_history_replays() -> None:
    history = WorkflowHistory.from_json("mentor", HISTORY.read_text())
    assert len(history.events) > 20
    replayer = Replayer(workflows=[MentorWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
