"""What the program promises participants, point by point: pauses compose by origin, the track keeps its
order and its weekly cap, a late conference still gets its prep, the demo moves only the first email."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from domain import (
    AddConference,
    Command,
    Event,
    JourneyState,
    Mode,
    NudgeDue,
    NudgeKind,
    Pause,
    RecordMilestone,
    Resume,
    fold,
    simulate,
    simulate_state,
    validate,
)
from domain.rejections import RejectionCode
from domain.timing import local_datetime
from infra.program_files import load_program
from tests.domain.small_program import SMALL, START, enroll

NY = "America/New_York"
MEDTWITTER = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter").spec


def sends(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue)]


def local(e: Event, tz: str = NY) -> str:
    return local_datetime(e.at, tz).strftime("%a %m-%d %H:%M")


# ---- pauses compose -------------------------------------------------------------------------------------


def test_a_cohort_pause_and_resume_leave_the_participants_own_snooze_alone() -> None:
    snoozed = START + timedelta(days=3)
    own_until = START + timedelta(weeks=6)
    script: list[tuple[datetime, Command]] = [
        (snoozed, Pause(command_id="snooze", until=own_until)),  # from the email link
        (
            START + timedelta(weeks=2),
            Pause(command_id="cp", until=START + timedelta(weeks=3), origin="cohort"),
        ),
        (START + timedelta(weeks=2, days=2), Resume(command_id="cr", origin="cohort")),
    ]
    _, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=8), script)
    assert not [s for s in sends(events) if snoozed < s.at < own_until], "no email during their own snooze"
    assert min(s.at for s in sends(events) if s.at > snoozed) >= own_until
    # While both held, the journey was paused until the later one; after the cohort resume, still paused.
    state = fold(JourneyState(), [e for e in events if e.at <= START + timedelta(weeks=2, days=2)])
    assert state.mode is Mode.PAUSED and state.paused_until == own_until
    assert [e.type for e in events].count("dormancy_ended") == 1  # the planned rest ends once, at its end


def test_a_shorter_staff_pause_does_not_shorten_the_participants_snooze() -> None:
    own_until = START + timedelta(weeks=6)
    script = [
        (START + timedelta(days=3), Pause(command_id="snooze", until=own_until)),
        (
            START + timedelta(weeks=1),
            Pause(command_id="sp", until=START + timedelta(weeks=2), origin="staff"),
        ),
    ]
    _, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=8), script)
    first_after = min(s.at for s in sends(events) if s.at > START + timedelta(days=3))
    assert first_after >= own_until


def test_a_resume_lifts_only_its_own_pause() -> None:
    script = [
        (START + timedelta(days=3), Pause(command_id="snooze", until=START + timedelta(weeks=6))),
        (START + timedelta(days=4), Pause(command_id="sp", until=START + timedelta(weeks=3), origin="staff")),
    ]
    state, _ = simulate_state(SMALL, enroll(), START + timedelta(days=5), script)
    now = START + timedelta(days=5)
    refused = validate(state, Resume(command_id="r1", origin="cohort"), now, SMALL)
    assert refused is not None and refused.code is RejectionCode.NOT_PAUSED
    assert refused.message == "the journey is not paused by a cohort pause"
    _, events = simulate_state(
        SMALL,
        enroll(),
        START + timedelta(weeks=8),
        [*script, (now, Resume(command_id="r2", origin="staff"))],
    )
    assert not [s for s in sends(events) if START + timedelta(days=3) < s.at < START + timedelta(weeks=6)]


# ---- the order and the promises of the track ------------------------------------------------------------


def test_a_note_whose_milestone_is_recorded_is_skipped() -> None:
    # They already have an account when they join: "An account that looks like you at work" is not sent.
    done = (START + timedelta(hours=1), RecordMilestone(command_id="m", milestone_id="account_created"))
    start = START  # Monday 2026-01-05
    joined = enroll(start=start).model_copy(update={"program": "medtwitter"})
    events = simulate(MEDTWITTER, joined, start + timedelta(weeks=6), [done])
    sent = [s.nudge_id for s in sends(events)]
    assert "consumer-01" not in sent and sent[:2] == ["welcome", "consumer-02"]


def test_a_note_for_a_few_weeks_in_waits_for_its_week_also_when_it_offers_a_persona() -> None:
    # Day 2 they follow ten people and their institution: the program suggests the creator persona, and
    # the note that offers it (consumer-05, written for "a few weeks in") still waits for week 4.
    clicks = [
        (START + timedelta(days=1), RecordMilestone(command_id="a", milestone_id="followed_ten")),
        (
            START + timedelta(days=1, hours=1),
            RecordMilestone(command_id="b", milestone_id="followed_institution"),
        ),
    ]
    joined = enroll().model_copy(update={"program": "medtwitter"})
    events = simulate(MEDTWITTER, joined, START + timedelta(weeks=6), clicks)
    note = next(s for s in sends(events) if s.nudge_id == "consumer-05")
    assert MEDTWITTER.nudge("consumer-05").not_before_week == 4
    assert note.at >= START + timedelta(weeks=3)


def test_at_most_twice_a_week_counts_the_welcome() -> None:
    # Monday, Wednesday and Friday: Wednesday's welcome, Friday's note and Monday's used to be three
    # emails in five days; seven days now pass between an email and the one two after it.
    events = simulate(SMALL, enroll(send_days=["mon", "wed", "fri"]), START + timedelta(weeks=2))
    assert [(s.nudge_id, local(s)) for s in sends(events)][:4] == [
        ("welcome", "Wed 01-07 08:30"),
        ("consumer-01", "Fri 01-09 08:30"),
        ("consumer-02", "Wed 01-14 08:30"),
        ("consumer-03", "Fri 01-16 08:30"),
    ]


def test_a_conference_added_after_its_prep_day_still_gets_its_prep_before_it_begins() -> None:
    # Added on Wednesday for a meeting that starts on Saturday: the prep (5 days ahead) is already past,
    # so it goes at the next instant before the meeting (Thursday at the send time).
    added = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)
    meeting = AddConference(
        command_id="c",
        conference_id="m",
        name="Meeting",
        starts_on=date(2026, 1, 17),
        ends_on=date(2026, 1, 18),
    )
    events = simulate(SMALL, enroll(), START + timedelta(weeks=3), [(added, meeting)])
    (prep,) = [s for s in sends(events) if s.kind is NudgeKind.BURST_PREP]
    assert local(prep) == "Thu 01-15 08:30"


def test_the_demo_moves_only_the_first_email() -> None:
    first = datetime(2026, 1, 5, 17, 3, 20, tzinfo=UTC)  # Monday 12:03:20 in New York
    events = simulate(SMALL, enroll(first_send_at=first), START + timedelta(weeks=2))
    sent = sends(events)
    assert sent[0].kind is NudgeKind.WELCOME and sent[0].at == first
    assert {local(s)[-5:] for s in sent[1:]} == {"08:30"} and {local(s)[:3] for s in sent[1:]} <= {
        "Tue",
        "Thu",
    }
    # A first send in quiet hours where they live is ignored: the welcome keeps its own slot.
    night = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 23:00 in New York
    late = sends(simulate(SMALL, enroll(first_send_at=night), START + timedelta(weeks=1)))
    assert local(late[0]) == "Tue 01-06 08:30"


def test_send_time_is_kept_across_the_demo_welcome() -> None:
    first = datetime(2026, 1, 5, 17, 3, 20, tzinfo=UTC)
    state, _ = simulate_state(SMALL, enroll(first_send_at=first), START + timedelta(days=1))
    assert state.send_time == time(8, 30) and state.send_days == ("tue", "thu")


# ---- editing after launch ---------------------------------------------------------------------------------


def test_a_removed_conference_sends_nothing_more_and_an_edit_is_remove_then_add() -> None:
    from domain import RemoveConference

    meeting = AddConference(
        command_id="c",
        conference_id="m",
        name="Meeting",
        starts_on=date(2026, 2, 10),
        ends_on=date(2026, 2, 12),
    )
    removed_at = datetime(2026, 2, 3, 18, 0, tzinfo=UTC)
    corrected = AddConference(
        command_id="c2",
        conference_id="m2",
        name="Meeting",
        starts_on=date(2026, 3, 10),
        ends_on=date(2026, 3, 12),
    )
    script: list[tuple[datetime, Command]] = [
        (START + timedelta(days=1), meeting),
        (removed_at, RemoveConference(command_id="r", conference_id="m")),
        (removed_at + timedelta(minutes=1), corrected),
    ]
    final, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=12), script)
    burst = [s for s in sends(events) if s.conference_id is not None]
    assert {s.conference_id for s in burst} == {"m2"}, "nothing for the removed one, not even its prep"
    assert [s.kind for s in burst][:1] == [NudgeKind.BURST_PREP]
    assert final.removed_conferences == ("m",)
    now = removed_at + timedelta(hours=1)
    state = fold(JourneyState(), [e for e in events if e.at <= now])
    again = validate(state, meeting.model_copy(update={"command_id": "c3"}), now, SMALL)
    assert again is not None and again.code is RejectionCode.CONFERENCE_ADDED
    unknown = validate(state, RemoveConference(command_id="r2", conference_id="nope"), now, SMALL)
    assert unknown is not None and unknown.code is RejectionCode.UNKNOWN_CONFERENCE


def test_removing_a_conference_under_way_stops_its_daily_emails() -> None:
    from domain import RemoveConference

    meeting = AddConference(
        command_id="c",
        conference_id="m",
        name="Meeting",
        starts_on=date(2026, 2, 10),
        ends_on=date(2026, 2, 14),
    )
    stop = datetime(2026, 2, 11, 18, 0, tzinfo=UTC)
    script: list[tuple[datetime, Command]] = [
        (START + timedelta(days=1), meeting),
        (stop, RemoveConference(command_id="r", conference_id="m")),
    ]
    final, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=8), script)
    daily = [s for s in sends(events) if s.kind is NudgeKind.BURST_DAILY]
    assert daily and all(s.at < stop for s in daily)
    assert not [s for s in sends(events) if s.kind is NudgeKind.BURST_RECAP]
    # The previous cadence resumes (here the check-ins: the consumer track was done before the meeting).
    assert final.mode is not Mode.BURST
    assert [s for s in sends(events) if s.conference_id is None and s.at > stop]
