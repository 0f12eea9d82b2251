"""The year a program director reads in each participant's inbox, on the shipped medtwitter program."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from domain import (
    AddConference,
    DormancyStarted,
    Enroll,
    Event,
    NudgeDue,
    NudgeKind,
    NudgeSkipped,
    Persona,
    RecordMilestone,
    simulate,
)
from domain.timing import local_datetime, resolve_local
from infra.program_files import load_program

SPEC = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter").spec
START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # a Monday
YEAR = START + timedelta(weeks=53)
CHICAGO = "America/Chicago"


def enroll(tz: str, *personas: Persona) -> Enroll:
    return Enroll(
        command_id="enroll", journey_id="j", program="medtwitter", timezone=tz, personas=personas, start=START
    )


def sends(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue)]


def afternoon(day: date, tz: str = CHICAGO) -> datetime:
    return resolve_local(day, time(15, 0), tz)


def test_a_suggestion_is_offered_by_a_held_track_never_by_another_personas_nudge() -> None:
    # A creator answers the five questions after creator-02 (which offers mission) has already gone: the
    # mission suggestion stands, but no amplifier email is sent to someone who never chose amplifier.
    click = (afternoon(date(2026, 1, 21)), RecordMilestone(command_id="m", milestone_id="five_questions"))
    events = simulate(SPEC, enroll(CHICAGO, Persona.CREATOR), YEAR, [click])
    track = [s for s in sends(events) if s.kind is NudgeKind.TRACK]
    assert {s.persona for s in track} == {Persona.CREATOR}
    assert [s.nudge_id for s in track] == [f"creator-0{i}" for i in range(1, 9)]


def test_the_prep_email_reaches_a_participant_at_home_at_their_own_send_time() -> None:
    # A Chicago participant flying to a Berlin meeting: prep at 08:30 in Chicago (not 01:30), the daily
    # emails at 08:30 Berlin while they are there, the recap at home.
    conference = AddConference(
        command_id="c",
        conference_id="era",
        name="ERA Congress",
        starts_on=date(2026, 6, 3),
        ends_on=date(2026, 6, 6),
        timezone="Europe/Berlin",
    )
    events = simulate(
        SPEC, enroll(CHICAGO, Persona.CONSUMER), YEAR, [(afternoon(date(2026, 5, 1)), conference)]
    )
    burst = [s for s in sends(events) if s.conference_id == "era"]
    shown = [
        (s.kind.value, local_datetime(s.at, "Europe/Berlin" if s.kind is NudgeKind.BURST_DAILY else CHICAGO))
        for s in burst
    ]
    assert [(kind, f"{at:%a %m-%d %H:%M}") for kind, at in shown] == [
        ("burst_prep", "Fri 05-29 08:30"),
        ("burst_daily", "Wed 06-03 08:30"),
        ("burst_daily", "Thu 06-04 08:30"),
        ("burst_daily", "Fri 06-05 08:30"),
        ("burst_daily", "Sat 06-06 08:30"),
        ("burst_recap", "Tue 06-09 08:30"),
    ]


def test_the_prep_email_takes_the_send_slot_instead_of_doubling_it() -> None:
    # Five days before a Tuesday meeting is a Thursday, a regular send day: one email that morning.
    conference = AddConference(
        command_id="c",
        conference_id="m",
        name="Meeting",
        starts_on=date(2026, 1, 27),
        ends_on=date(2026, 1, 28),
    )
    events = simulate(
        SPEC,
        enroll(CHICAGO, Persona.CONSUMER, Persona.CREATOR),
        YEAR,
        [(afternoon(date(2026, 1, 6)), conference)],
    )
    instants = [s.at for s in sends(events)]
    assert len(instants) == len(set(instants)), "two emails in the same minute"
    prep = next(s for s in sends(events) if s.kind is NudgeKind.BURST_PREP)
    assert f"{local_datetime(prep.at, CHICAGO):%a %m-%d %H:%M}" == "Thu 01-22 08:30"


def test_twittermittent_rests_between_planned_bursts_instead_of_being_called_dormant() -> None:
    # Kidney Week in March, ASN in October, nothing in between but the planned rest: no detected dormancy
    # before either meeting, and no "welcome back" straight after a burst that already brought them back.
    kidney = AddConference(
        command_id="c1",
        conference_id="kw",
        name="Kidney Week",
        starts_on=date(2026, 3, 10),
        ends_on=date(2026, 3, 14),
    )
    asn = AddConference(
        command_id="c2",
        conference_id="asn",
        name="ASN",
        starts_on=date(2026, 10, 20),
        ends_on=date(2026, 10, 24),
    )
    script = [(afternoon(date(2026, 2, 1)), kidney), (afternoon(date(2026, 3, 20)), asn)]
    events = simulate(SPEC, enroll(CHICAGO, Persona.CONSUMER, Persona.TWITTERMITTENT), YEAR, script)
    asn_over = afternoon(date(2026, 10, 27))
    assert not [e for e in events if isinstance(e, DormancyStarted) and e.at < asn_over]
    assert not [s for s in sends(events) if s.kind is NudgeKind.WELCOME_BACK]
    # Between the bursts, once the two tracks are done: check-ins four weeks apart, each a new text; no
    # sunset email while a meeting is ahead (they told us when they will be back).
    between = [s for s in sends(events) if afternoon(date(2026, 3, 20)) < s.at < afternoon(date(2026, 10, 1))]
    checkins = [s for s in between if s.kind is NudgeKind.CHECKIN]
    assert [c.nudge_id for c in checkins] == [n.id for n in SPEC.variants(NudgeKind.CHECKIN)]
    assert all(b.at - a.at >= timedelta(weeks=4) for a, b in itertools.pairwise(checkins))
    assert NudgeKind.SUNSET not in {s.kind for s in sends(events) if s.at < asn_over}


def test_a_dormant_participant_who_plans_a_burst_is_welcomed_back_by_the_burst() -> None:
    # Silent since enrolment, then on a Wednesday evening they add a meeting that starts the next morning.
    meeting = AddConference(
        command_id="c",
        conference_id="m",
        name="Meeting",
        starts_on=date(2026, 4, 2),
        ends_on=date(2026, 4, 4),
    )
    added = resolve_local(date(2026, 4, 1), time(19, 0), CHICAGO)
    events = simulate(SPEC, enroll(CHICAGO, Persona.CONSUMER), YEAR, [(added, meeting)])
    after = [s.kind for s in sends(events) if s.at > added]
    assert after[:4] == [NudgeKind.BURST_DAILY] * 3 + [NudgeKind.BURST_RECAP]
    assert NudgeKind.WELCOME_BACK not in after


def test_a_participant_who_finished_every_track_still_hears_from_the_program() -> None:
    # An engaged consumer marks each milestone soon after its email; once the track is done the program
    # keeps in touch with check-ins four weeks apart (a new text each), then, after twelve weeks without a
    # click, asks once whether to keep writing; with no answer it goes quiet and sends nothing more.
    clicks = {
        "account_created": date(2026, 1, 8),
        "followed_ten": date(2026, 1, 14),
        "followed_institution": date(2026, 1, 16),
        "curated_lists": date(2026, 1, 21),
        "followed_societies": date(2026, 1, 23),
    }
    script = [(afternoon(day), RecordMilestone(command_id=m, milestone_id=m)) for m, day in clicks.items()]
    events = simulate(SPEC, enroll(CHICAGO, Persona.CONSUMER), YEAR, script)
    sent = sends(events)
    track_done = max(s.at for s in sent if s.kind is NudgeKind.TRACK)
    # consumer-05 is written for "a few weeks in": it waits for week 4 (Monday 01-26).
    assert f"{local_datetime(track_done, CHICAGO):%a %m-%d %H:%M}" == "Tue 01-27 08:30"
    later = [s for s in sent if s.at > track_done]
    assert [s.nudge_id for s in later] == ["checkin", "checkin-2", "sunset"]
    assert [f"{local_datetime(s.at, CHICAGO):%a %m-%d}" for s in later] == [
        "Tue 02-24",
        "Tue 03-24",
        "Tue 04-21",
    ]
    quiet = next(e for e in events if isinstance(e, DormancyStarted) and e.kind == "quiet")
    assert quiet.at == later[-1].at + timedelta(weeks=2)
    recap = events[-2]
    assert isinstance(recap, NudgeSkipped) and recap.kind is NudgeKind.RECAP and recap.reason == "quiet"
