"""ChangeSchedule and EndProgram: later sends follow the new schedule; an early end is the natural one."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain import (
    AddConference,
    ChangeSchedule,
    Command,
    Completed,
    EndProgram,
    Event,
    Mode,
    NudgeDue,
    NudgeKind,
    NudgeSkipped,
    Pause,
    RecordMilestone,
    Resumed,
    ScheduleChanged,
    decide_and_evolve,
    journey_view,
    simulate_state,
    validate,
)
from domain.timing import local_datetime
from tests.domain.small_program import SMALL, START, enroll

NY, KOLKATA, LONDON = "America/New_York", "Asia/Kolkata", "Europe/London"


def message(*args: Any) -> str | None:
    """The domain's message for a rejection (its code is checked in test_rejection_codes)."""
    refused = validate(*args)
    return refused.message if refused is not None else None


def sends(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue)]


def local(e: Event, tz: str) -> str:
    return local_datetime(e.at, tz).strftime("%a %Y-%m-%d %H:%M")


def test_new_york_0830_to_kolkata_0700_moves_the_next_send_to_0700_ist() -> None:
    # After New York's DST change (2026-03-08): the last send there is 08:30 EDT, the next 07:00 IST.
    changed_at = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # Wednesday, 17:30 in Kolkata
    change = ChangeSchedule(command_id="prefs", timezone=KOLKATA, send_time=time(7, 0))
    # A cohort that started two weeks before: the journey is in its track cadence.
    joined = enroll(start=datetime(2026, 2, 23, 14, 0, tzinfo=UTC))
    state, events = simulate_state(SMALL, joined, changed_at)
    assert sends(events)[-1].at == datetime(2026, 3, 10, 12, 30, tzinfo=UTC)  # Tue 08:30 EDT

    decision, after = decide_and_evolve(state, change, changed_at, SMALL)
    assert [type(e) for e in decision.events][-1] is ScheduleChanged
    view = journey_view(after, SMALL)
    assert view.next_nudge_at == datetime(2026, 3, 12, 1, 30, tzinfo=UTC)
    assert local_datetime(view.next_nudge_at, KOLKATA).strftime("%a %Y-%m-%d %H:%M") == "Thu 2026-03-12 07:00"

    _, events = simulate_state(SMALL, joined, changed_at + timedelta(weeks=12), [(changed_at, change)])
    later = [s for s in sends(events) if s.at > changed_at]
    assert later and {local(s, KOLKATA)[:3] for s in later} <= {"Tue", "Thu"}
    assert {local(s, KOLKATA)[-5:] for s in later} == {"07:00"}
    assert later[-1].kind is NudgeKind.RECAP and isinstance(events[-1], Completed)


def test_change_during_a_pause_applies_after_it_and_keeps_the_resume_instant() -> None:
    paused_at = START + timedelta(days=8)
    until = START + timedelta(days=22, hours=5)  # Tue 2026-01-27 19:00 UTC
    change = ChangeSchedule(command_id="prefs", send_days=("wed", "mon"), send_time="09:15")
    script: list[tuple[datetime, Command]] = [
        (paused_at, Pause(command_id="snooze", until=until)),
        (paused_at + timedelta(days=2), change),
    ]
    _, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=6), script)
    changed = next(e for e in events if isinstance(e, ScheduleChanged))
    assert changed.send_days == ("mon", "wed")  # week order, whatever order they came in
    assert not [s for s in sends(events) if paused_at <= s.at < until]
    assert next(e for e in events if isinstance(e, Resumed)).at == until
    after = [s for s in sends(events) if s.at >= until]
    assert local(after[0], NY) == "Wed 2026-01-28 09:15"
    assert {local(s, NY)[:3] for s in after} <= {"Mon", "Wed"}


def test_change_during_a_burst_keeps_the_conference_zone_then_the_cadence_follows_the_new_one() -> None:
    # A conference told without a zone happens where the participant lived then (New York).
    conference = AddConference(
        command_id="conf",
        conference_id="acc26",
        name="ACC.26",
        starts_on=date(2026, 2, 7),
        ends_on=date(2026, 2, 10),
    )
    moved = datetime(2026, 2, 8, 12, 0, tzinfo=UTC)
    script: list[tuple[datetime, Command]] = [
        (START + timedelta(days=1), conference),
        (moved, ChangeSchedule(command_id="move", timezone=LONDON)),
    ]
    _, events = simulate_state(
        SMALL, enroll(personas=("consumer", "creator")), START + timedelta(weeks=7), script
    )
    burst = [(s.kind.value, local(s, NY)) for s in sends(events) if s.conference_id == "acc26"]
    assert burst == [
        ("burst_prep", "Mon 2026-02-02 08:30"),
        ("burst_daily", "Sat 2026-02-07 08:30"),
        ("burst_daily", "Mon 2026-02-09 08:30"),  # Sunday is quiet; days stay New York days
        ("burst_daily", "Tue 2026-02-10 08:30"),
        ("burst_recap", "Thu 2026-02-12 03:30"),  # the participant's next slot: 08:30 London
    ]
    after = [s for s in sends(events) if s.at > moved and s.conference_id is None]
    assert after and {local(s, LONDON)[-5:] for s in after} == {"08:30"}


def test_change_schedule_rejections_read_well() -> None:
    state, _ = simulate_state(SMALL, enroll(), START + timedelta(days=1))
    now = START + timedelta(days=1)

    def reason(**fields: object) -> str | None:
        return message(state, ChangeSchedule.model_validate({"command_id": "x", **fields}), now, SMALL)

    assert reason(timezone="Mars/Olympus") == "unknown time zone 'Mars/Olympus'"
    assert reason(send_time="22:00") == "send_time: 22:00 is inside the quiet hours 21:00-07:00"
    assert reason(send_days=["sun"]) == "send_days: sun is a quiet day of the program: no email goes then"
    # One quiet day among others is refused too: the participant would wait for an email that never comes.
    assert (
        reason(send_days=["tue", "sun"]) == "send_days: sun is a quiet day of the program: no email goes then"
    )
    assert reason(timezone=NY, send_time="08:30") == (
        "nothing to change: the time zone, send days and send time are already these"
    )
    assert reason() is not None
    assert reason(send_days=["thu", "tue"]) is not None  # the same days in another order: no change
    assert reason(send_time="07:00") is None


def test_end_program_sends_the_recap_at_the_next_slot_then_completes() -> None:
    ended_at = datetime(2026, 2, 4, 15, 0, tzinfo=UTC)  # Wednesday, long before the natural end
    conference = AddConference(
        command_id="conf",
        conference_id="late",
        name="Late",
        starts_on=date(2026, 2, 4),
        ends_on=date(2026, 2, 6),
    )
    script: list[tuple[datetime, Command]] = [
        (START + timedelta(days=2), RecordMilestone(command_id="m", milestone_id="followed_ten")),
        (START + timedelta(days=3), conference),
        (ended_at, EndProgram(command_id="end")),
    ]
    state, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=20), script)
    after = [e for e in events if e.at > ended_at]
    # Nothing else (no burst daily, no track nudge) before the recap at Thursday's 08:30 slot.
    assert [e.type for e in after] == ["nudge_due", "completed"]
    recap = after[0]
    assert isinstance(recap, NudgeDue) and recap.kind is NudgeKind.RECAP and recap.nudge_key == "recap"
    assert local(recap, NY) == "Thu 2026-02-05 08:30" and after[1].at == recap.at
    assert state.mode is Mode.COMPLETED and state.unsubscribed_at is None
    assert list(state.milestones) == ["followed_ten"]


def test_end_program_is_validated() -> None:
    state, _ = simulate_state(SMALL, enroll(), START + timedelta(days=10))
    now = START + timedelta(days=10)
    assert message(state, EndProgram(command_id="e1"), now, SMALL) is None
    _, ending = decide_and_evolve(state, EndProgram(command_id="e1"), now, SMALL)
    assert message(ending, EndProgram(command_id="e1"), now, SMALL) is None  # the same command: a no-op
    assert message(ending, EndProgram(command_id="e2"), now, SMALL) == (
        "the program is already ending: the recap goes out at the next send slot"
    )
    later = now + timedelta(weeks=1)
    assert message(ending, EndProgram(command_id="e3"), later, SMALL) == "the journey has completed"
    assert message(ending, ChangeSchedule(command_id="c", send_time=time(7)), later, SMALL) == (
        "the journey has completed"
    )


def test_a_zone_change_that_puts_the_recap_slot_behind_sends_it_at_the_next_slot() -> None:
    # Ended early on Monday: the recap waits for Tuesday 08:30 in New York (13:30 UTC). At New York's
    # midnight the participant moves to Kolkata, where Tuesday 08:30 (03:00 UTC) has already gone by.
    ended = (datetime(2026, 1, 5, 20, 0, tzinfo=UTC), EndProgram(command_id="end"))
    moved_at = datetime(2026, 1, 6, 5, 0, tzinfo=UTC)
    moved = (moved_at, ChangeSchedule(command_id="prefs", timezone=KOLKATA))
    # The cohort started the week before: the welcome has gone, so the recap goes too.
    _, events = simulate_state(
        SMALL, enroll(start=START - timedelta(weeks=1)), START + timedelta(weeks=2), [ended, moved]
    )
    recap = [s for s in sends(events) if s.kind is NudgeKind.RECAP]
    assert [local(s, KOLKATA) for s in recap] == ["Thu 2026-01-08 08:30"]
    assert isinstance(events[-1], Completed)


def test_a_send_time_moved_earlier_mid_burst_skips_the_day_it_has_passed() -> None:
    conference = AddConference(
        command_id="conf",
        conference_id="meeting",
        name="Meeting",
        starts_on=date(2026, 1, 6),
        ends_on=date(2026, 1, 7),
        timezone="UTC",
    )
    # Tuesday 08:00 UTC: the day's burst email (08:30) is still ahead until 07:30 becomes the send time.
    earlier = ChangeSchedule(command_id="prefs", send_time=time(7, 30))
    script: list[tuple[datetime, Command]] = [
        (START, conference),
        (datetime(2026, 1, 6, 8, 0, tzinfo=UTC), earlier),
    ]
    _, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=1), script)
    daily = [s for s in sends(events) if s.kind is NudgeKind.BURST_DAILY]
    assert [local(s, "UTC") for s in daily] == ["Wed 2026-01-07 07:30"]


def test_ended_before_the_first_email_gets_no_recap() -> None:
    # `cohort end` on the Monday of enrolment, before Tuesday's welcome: no "your year ends" email at all.
    ended = (START + timedelta(hours=2), EndProgram(command_id="end"))
    final, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=2), [ended])
    assert sends(events) == []
    skipped = events[-2]
    assert isinstance(skipped, NudgeSkipped) and skipped.kind is NudgeKind.RECAP
    assert skipped.reason == "never_started" and final.completed_at == ended[0]  # at once


def test_a_pause_over_the_end_holds_the_recap_until_it_ends() -> None:
    # Snoozed from week 11 to two weeks after the end (Tue 03-31): the recap goes at the first slot after.
    until = datetime(2026, 4, 14, 4, 0, tzinfo=UTC)  # Tue 00:00 in New York
    snooze = (START + timedelta(weeks=11), Pause(command_id="s", until=until))
    final, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=16), [snooze])
    (recap,) = [s for s in sends(events) if s.kind is NudgeKind.RECAP]
    assert local(recap, NY) == "Tue 2026-04-14 08:30"
    assert not [e for e in events if isinstance(e, NudgeSkipped)]
    assert final.completed_at == recap.at
