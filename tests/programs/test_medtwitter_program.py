"""The default program `programs/medtwitter/`: it loads, covers every persona, and every message renders.

Rendering uses the same kind of Jinja2 environment as the sender (sandboxed, StrictUndefined), with only
the variables programs/README.md documents for each kind, so a template that uses an undocumented or
misspelled variable fails here rather than in a participant's inbox.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from domain.personas import Persona
from domain.program import SPECIAL_KINDS, VARIED_KINDS, NudgeKind, NudgeSpec, Program
from infra.program_files import load_program

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "programs" / "medtwitter"
NUDGE_IDS = sorted(p.stem for p in (PROGRAM_DIR / "nudges").glob("*.md"))
BURST_KINDS = {NudgeKind.BURST_PREP, NudgeKind.BURST_DAILY, NudgeKind.BURST_RECAP}
RECAP_KINDS = {NudgeKind.RECAP, NudgeKind.BURST_RECAP}

_JINJA = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@pytest.fixture(scope="module")
def program() -> Program:
    return load_program(PROGRAM_DIR)


def _context(nudge: NudgeSpec, program: Program, *, full: bool) -> dict[str, Any]:
    """A sample context: `full` fills every optional value, otherwise they are empty as they can be."""
    context: dict[str, Any] = {
        "first_name": "Amara",
        "program_title": program.spec.title,
        "mentor_name": "Dr. Okafor" if full else "",
        "mentor_email": "okafor@example.org" if full else "",
        "mission": "humanism in medical education" if full else "",
        "personas": ["Consumer", "Content creator"] if full else [],
        "weeks_left": 31 if full else 0,
    }
    if nudge.kind in BURST_KINDS:
        context["conference"] = {
            "name": "Kidney Week",
            "hashtag": "#KidneyWk" if full else "",
            "starts_on": date(2025, 11, 5),
            "ends_on": date(2025, 11, 9),
        }
    if nudge.kind is NudgeKind.RECAP:
        context["ended_early"] = False
    if nudge.kind in RECAP_KINDS or nudge.kind is NudgeKind.CHECKIN:
        context["achieved"] = (
            ["Followed ten people whose real-life work interests you", "Answered the five questions"]
            if full
            else []
        )
    return context


def _render(program: Program, nudge_id: str, *, full: bool) -> tuple[str, str]:
    nudge = program.spec.nudge(nudge_id)
    context = _context(nudge, program, full=full)
    subject = _JINJA.from_string(nudge.subject).render(context).strip()
    body = _JINJA.from_string(program.bodies[nudge_id]).render(context).strip()
    return subject, body


def test_program_loads_with_its_schedule(program: Program) -> None:
    spec = program.spec
    assert (spec.name, spec.title, spec.duration_weeks) == ("medtwitter", "#medtwitter mentorship", 52)
    s = spec.schedule
    assert s.send_days == ("tue", "thu")
    assert f"{s.send_time:%H:%M}" == "08:30"
    assert str(s.quiet_hours) == "21:00-07:00"
    assert s.quiet_days == ("sun",)
    assert (s.weekly_cap, s.burst_daily_cap, s.twittermittent_weekly_cap) == (2, 1, 1)
    assert (s.dormancy_after_weeks, s.checkin_every_weeks, s.burst_prep_days) == (4, 4, 5)


def test_every_file_is_a_nudge_of_the_program(program: Program) -> None:
    # One file per message, named after its id, so an operator can find a message's file from its id.
    assert sorted(n.id for n in program.spec.nudges) == NUDGE_IDS


def test_every_persona_has_a_track_and_there_are_at_least_24_track_nudges(program: Program) -> None:
    tracks = {persona: program.spec.track(persona) for persona in Persona}
    assert sum(len(t) for t in tracks.values()) >= 24
    for persona, track in tracks.items():
        assert len(track) >= 4, f"{persona.value} has only {len(track)} track nudges"
        # Orders run 1..n, so the track's files read in the order participants receive them.
        assert [n.order for n in track] == list(range(1, len(track) + 1)), persona.value


def test_each_special_kind_once_and_several_texts_for_those_that_repeat(program: Program) -> None:
    kinds = Counter(n.kind for n in program.spec.nudges if n.kind is not NudgeKind.TRACK)
    assert set(kinds) == set(SPECIAL_KINDS)
    # Check-ins, welcome-backs and the sunset email can come more than once a year: a new text each time.
    assert {k for k, n in kinds.items() if n > 1} == set(VARIED_KINDS)
    assert kinds[NudgeKind.CHECKIN] >= 3


def test_every_milestone_is_offered_and_every_persona_has_milestones(program: Program) -> None:
    offered = {m for n in program.spec.nudges for m in n.milestones}
    assert sorted(program.spec.milestone_ids - offered) == []
    per_persona = Counter(m.persona for m in program.spec.milestones)
    assert all(per_persona[p] >= 3 for p in Persona), per_persona
    # Track nudges offer their own persona's milestones, so a link never records the wrong thing.
    for nudge in program.spec.nudges:
        if nudge.kind is NudgeKind.TRACK:
            for ms in nudge.milestones:
                assert program.spec.milestone(ms).persona is nudge.persona, (nudge.id, ms)


def test_every_persona_beyond_consumer_can_be_suggested(program: Program) -> None:
    suggested_by_rule = {s.persona for s in program.spec.suggestions}
    offered_by_link = {n.suggests for n in program.spec.nudges if n.suggests}
    beyond_entry = set(Persona) - {Persona.CONSUMER}
    assert beyond_entry <= suggested_by_rule
    assert beyond_entry <= offered_by_link
    # A nudge never suggests the persona whose track it belongs to.
    assert all(n.suggests is None or n.suggests is not n.persona for n in program.spec.nudges)


@pytest.mark.parametrize("full", [True, False], ids=["full-context", "empty-optionals"])
@pytest.mark.parametrize("nudge_id", NUDGE_IDS)
def test_message_renders_short_personal_and_link_free(program: Program, nudge_id: str, full: bool) -> None:
    subject, body = _render(program, nudge_id, full=full)
    assert subject and "\n" not in subject and len(subject) <= 78
    assert body.startswith("Hi Amara,")
    words = len(body.split())
    assert 120 <= words <= 250, f"{nudge_id}: {words} words"
    # The renderer appends the action links; a body never writes its own.
    assert not re.search(r"https?://|www\.|\]\(|<a\s", body, re.IGNORECASE)
    # A line starting with '#' (a hashtag, the program title) would render as a Markdown heading.
    assert not [line for line in body.splitlines() if line.lstrip().startswith("#")]
    assert "{{" not in body and "{%" not in body
    mentions_mentor = "Dr. Okafor" in body
    if not full:
        assert not mentions_mentor


def test_recaps_list_the_participants_own_milestones(program: Program) -> None:
    for kind in RECAP_KINDS:
        nudge = program.spec.special(kind)
        _, body = _render(program, nudge.id, full=True)
        assert "- Followed ten people whose real-life work interests you" in body
        assert "- Answered the five questions" in body
        _, empty = _render(program, nudge.id, full=False)
        assert "Answered the five questions" not in empty


def test_an_early_end_has_its_own_wording(program: Program) -> None:
    nudge = program.spec.special(NudgeKind.RECAP)
    context = _context(nudge, program, full=True) | {"ended_early": True}
    subject = _JINJA.from_string(nudge.subject).render(context)
    body = _JINJA.from_string(program.bodies[nudge.id]).render(context)
    assert "ending early" in subject and "is ending early" in body and "ends today" not in body
    _, natural = _render(program, nudge.id, full=True)
    assert "ends today" in natural and "ending early" not in natural


def test_burst_messages_name_the_conference(program: Program) -> None:
    for kind in BURST_KINDS:
        nudge = program.spec.special(kind)
        subject, body = _render(program, nudge.id, full=True)
        assert "Kidney Week" in subject + body
    _, prep = _render(program, program.spec.special(NudgeKind.BURST_PREP).id, full=True)
    assert "#KidneyWk" in prep and "2025-11-05" in prep and "2025-11-09" in prep


def test_mission_track_uses_the_participants_mission(program: Program) -> None:
    bodies = [_render(program, n.id, full=True)[1] for n in program.spec.track(Persona.MISSION)]
    assert any("humanism in medical education" in body for body in bodies)
