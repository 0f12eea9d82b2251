"""The link actions' registry and wording: every action one object with its own page; every refusal code
read in the participant's words."""

from __future__ import annotations

from importlib.resources import files

from domain import RecordMilestone, RejectionCode
from domain.program import Program
from infra.links import Action
from web.actions import LINK_ACTIONS
from web.mentors import MENTOR_ACTIONS
from web.wording import refusal


def test_every_participant_link_action_is_one_registered_object_with_a_shipped_template() -> None:
    assert set(LINK_ACTIONS) == set(Action) - MENTOR_ACTIONS
    templates = files("web") / "templates"
    for action, link in LINK_ACTIONS.items():
        assert link.action is action and link.title
        assert (templates / link.template).is_file(), link.template


def test_every_rejection_code_has_participant_words(program: Program) -> None:
    command = RecordMilestone(command_id="x", milestone_id=program.spec.milestones[0].id)
    for code in RejectionCode:
        text = refusal(command, code, program).text
        assert text and "_" not in text and "journey_" not in text, (code, text)  # no code or id leaks
