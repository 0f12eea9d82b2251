"""Every workflow the worker registers. Add yours to WORKFLOWS."""

from __future__ import annotations

from workflows.journey import JourneyWorkflow
from workflows.launch import CohortLaunchWorkflow
from workflows.mentor import MentorWorkflow

WORKFLOWS: list[type] = [JourneyWorkflow, CohortLaunchWorkflow, MentorWorkflow]
