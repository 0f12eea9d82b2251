"""Correcting a conference after launch (issue 14, section 6): a command and an event, in the domain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain import (
    AddConference,
    ChangeConference,
    Command,
    ConferenceChanged,
    Event,
    JourneyState,
    NudgeDue,
    NudgeKind,
    fold,
    simulate_state,
    validate,
)
from domain.rejections import RejectionCode
from tests.domain.small_program import SMALL, START, enroll

MEETING = AddConference(
    command_id="c", conference_id="m", name="Meeting", starts_on=date(2026, 2, 10), ends_on=date(2026, 2, 12)
)


def _burst(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue) and e.conference_id is not None]


def test_postponed_conference_keeps_its_id_and_its_burst_follows_the_new_dates() -> None:
    moved_at = datetime(2026, 2, 3, 18, 0, tzinfo=UTC)
    move = ChangeConference(
        command_id="move", conference_id="m", starts_on=date(2026, 3, 10), ends_on=date(2026, 3, 12)
    )
    script: list[tuple[datetime, Command]] = [(START + timedelta(days=1), MEETING), (moved_at, move)]
    final, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=12), script)
    [changed] = [e for e in events if isinstance(e, ConferenceChanged)]
    assert (changed.conference_id, changed.name, changed.starts_on, changed.ends_on) == (
        "m",
        "Meeting",
        date(2026, 3, 10),
        date(2026, 3, 12),
    )
    burst = _burst(events)
    daily_days = {e.at.date() for e in burst if e.kind is NudgeKind.BURST_DAILY}
    assert daily_days and all(date(2026, 3, 10) <= d <= date(2026, 3, 13) for d in daily_days)
    assert not [e for e in burst if date(2026, 2, 9) <= e.at.date() <= date(2026, 2, 13)]
    assert [e.kind for e in burst if e.kind is NudgeKind.BURST_PREP] == [NudgeKind.BURST_PREP]
    conference = final.conference("m")
    assert conference is not None and conference.ends_on == date(2026, 3, 12)


def test_a_change_is_checked_as_a_new_conference_is_and_a_started_one_keeps_its_first_day() -> None:
    script: list[tuple[datetime, Command]] = [(START + timedelta(days=1), MEETING)]
    _, events = simulate_state(SMALL, enroll(), datetime(2026, 2, 11, 18, 0, tzinfo=UTC), script)
    before = datetime(2026, 2, 3, 18, 0, tzinfo=UTC)
    during = datetime(2026, 2, 11, 18, 0, tzinfo=UTC)

    def code(now: datetime, **change: object) -> RejectionCode | None:
        state = fold(JourneyState(), [e for e in events if e.at <= now])
        command = ChangeConference.model_validate({"command_id": "x", "conference_id": "m", **change})
        refused = validate(state, command, now, SMALL)
        return None if refused is None else refused.code

    assert code(before, name="Meeting 2026") is None
    assert code(before, name="Meeting") is RejectionCode.CONFERENCE_UNCHANGED
    assert code(before, ends_on=date(2026, 2, 9)) is RejectionCode.CONFERENCE_DATES
    assert code(before, ends_on=date(2026, 3, 30)) is RejectionCode.CONFERENCE_TOO_LONG
    assert code(before, timezone="Mars/Olympus") is RejectionCode.UNKNOWN_TIME_ZONE
    assert code(before, conference_id="nope") is RejectionCode.UNKNOWN_CONFERENCE
    assert code(before, starts_on=date(2027, 6, 1), ends_on=date(2027, 6, 2)) is (
        RejectionCode.CONFERENCE_AFTER_PROGRAM
    )
    # Under way: its last day may move, its first day may not.
    assert code(during, ends_on=date(2026, 2, 13)) is None
    assert code(during, starts_on=date(2026, 2, 11)) is RejectionCode.CONFERENCE_DATES
