"""The default program, as shipped in programs/medtwitter/, through a year of journey."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import (
    AddConference,
    AdoptPersona,
    Command,
    DormancyStarted,
    Enroll,
    NudgeDue,
    NudgeKind,
    NudgeSkipped,
    Pause,
    Persona,
    RecordMilestone,
    simulate_state,
)
from infra.program_files import load_program
from tests.domain.test_properties import ZONES, check_invariants

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")
SPEC = PROGRAM.spec


def test_every_persona_has_a_track_and_every_nudge_a_body() -> None:
    for persona in Persona:
        assert SPEC.track(persona), persona
    assert set(PROGRAM.bodies) == {n.id for n in SPEC.nudges}


@settings(max_examples=25, deadline=None)
@given(tz=st.sampled_from(ZONES), start_day=st.integers(0, 364), seed=st.integers(0, 3))
def test_a_year_on_medtwitter_keeps_the_promises(tz: str, start_day: int, seed: int) -> None:
    start = datetime(2026, 1, 1, 15, tzinfo=UTC) + timedelta(days=start_day)
    milestones = sorted(SPEC.milestone_ids)
    script: list[tuple[datetime, Command]] = [
        (start + timedelta(days=9 + 3 * i), RecordMilestone(command_id=f"m{i}", milestone_id=m))
        for i, m in enumerate(milestones[seed : seed + 4])
    ]
    first = (start + timedelta(days=60)).date()
    script += [
        (start + timedelta(days=20), AdoptPersona(command_id="adopt", persona=Persona.TWITTERMITTENT)),
        (
            start + timedelta(days=30),
            AddConference(
                command_id="conf",
                conference_id="meeting",
                name="Annual meeting",
                hashtag="#Meet26",
                starts_on=first,
                ends_on=first + timedelta(days=3),
                timezone="America/Chicago",
            ),
        ),
        (start + timedelta(days=100), Pause(command_id="snooze", until=start + timedelta(days=114))),
    ]
    enroll = Enroll(
        command_id="enroll",
        journey_id="j",
        program="medtwitter",
        timezone=tz,
        personas=("consumer",),
        start=start,
    )
    final, events = simulate_state(SPEC, enroll, start + timedelta(weeks=54), script)
    check_invariants(SPEC, enroll, events, final)
    sent = [e for e in events if isinstance(e, NudgeDue)]
    kinds = {s.kind for s in sent}
    assert {NudgeKind.WELCOME, NudgeKind.BURST_PREP, NudgeKind.BURST_DAILY, NudgeKind.BURST_RECAP} <= kinds
    # No click after the burst, with every track done: check-ins, each a new text; the snooze on day 100
    # is a sign of life, so a welcome-back follows once the snooze is over.
    assert any(isinstance(e, DormancyStarted) and e.kind == "detected" for e in events)
    assert [s.nudge_id for s in sent if s.kind is NudgeKind.CHECKIN] == ["checkin", "checkin-2", "checkin-3"]
    welcome_back = [s for s in sent if s.kind is NudgeKind.WELCOME_BACK]
    assert len(welcome_back) == 1 and welcome_back[0].at >= start + timedelta(days=114)
    # Twelve weeks of silence after that: one "shall we keep writing?"; no answer, so nothing more (not
    # even the recap), and the journey still completes at the program's end.
    (sunset,) = [s for s in sent if s.kind is NudgeKind.SUNSET]
    assert sunset.at >= start + timedelta(days=114, weeks=12) and sent[-1] == sunset
    recap = events[-2]
    assert isinstance(recap, NudgeSkipped) and recap.kind is NudgeKind.RECAP and recap.reason == "quiet"
    assert final.completed_at is not None and final.completed_at >= start + timedelta(weeks=52)
    assert list(final.milestones) == milestones[seed : seed + 4]
