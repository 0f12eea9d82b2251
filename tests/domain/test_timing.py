from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.timing import (
    TimingError,
    iso_week_key,
    local_datetime,
    next_slot,
    resolve_local,
    start_of_next_local_week,
    zone,
)


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "day", "wall", "expected"),
    [
        # Clocks go forward: a time inside the gap moves to the first instant that exists (the transition).
        ("America/New_York", date(2026, 3, 8), time(2, 30), z(2026, 3, 8, 7, 0)),
        ("Europe/London", date(2026, 3, 29), time(1, 30), z(2026, 3, 29, 1, 0)),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 30), z(2026, 10, 3, 16, 0)),
        # Clocks go back: an ambiguous time takes its first occurrence (still on summer time).
        ("America/New_York", date(2026, 11, 1), time(1, 30), z(2026, 11, 1, 5, 30)),
        ("Europe/London", date(2026, 10, 25), time(1, 30), z(2026, 10, 25, 0, 30)),
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), z(2026, 4, 4, 15, 30)),
        # No DST at all, and a half-hour offset.
        ("Asia/Kolkata", date(2026, 3, 8), time(8, 30), z(2026, 3, 8, 3, 0)),
    ],
)
def test_resolve_local_handles_gaps_and_folds(tz: str, day: date, wall: time, expected: datetime) -> None:
    assert resolve_local(day, wall, tz) == expected


@pytest.mark.parametrize(
    ("tz", "first_day"),
    [
        ("America/New_York", date(2026, 3, 1)),  # forward 8 March
        ("America/New_York", date(2026, 10, 25)),  # back 1 November
        ("Europe/London", date(2026, 3, 22)),  # forward 29 March
        ("Europe/London", date(2026, 10, 18)),  # back 25 October
        ("Australia/Sydney", date(2026, 3, 29)),  # back 5 April
        ("Australia/Sydney", date(2026, 9, 27)),  # forward 4 October
        ("Asia/Kolkata", date(2026, 3, 1)),
    ],
)
def test_a_0830_send_stays_0830_local_across_dst(tz: str, first_day: date) -> None:
    after = resolve_local(first_day, time(0, 0), tz)
    slots = []
    for _ in range(6):
        slot = next_slot(after, tz=tz, send_days=("mon", "wed", "sun"), send_time=time(8, 30))
        assert slot is not None
        slots.append(slot)
        after = slot
    offsets = {local_datetime(s, tz).utcoffset() for s in slots}
    assert all(local_datetime(s, tz).time() == time(8, 30) for s in slots)
    assert all(local_datetime(s, tz).strftime("%a") in ("Mon", "Wed", "Sun") for s in slots)
    if tz != "Asia/Kolkata":
        assert len(offsets) == 2, "the window should cross a DST change"


def test_next_slot_is_strictly_after_unless_inclusive() -> None:
    slot = z(2026, 1, 6, 13, 30)  # Tue 08:30 New York
    kwargs = {"tz": "America/New_York", "send_days": ("tue",), "send_time": time(8, 30)}
    assert next_slot(slot, **kwargs) == slot + timedelta(weeks=1)  # type: ignore[arg-type]
    assert next_slot(slot, inclusive=True, **kwargs) == slot  # type: ignore[arg-type]


def test_next_slot_skips_quiet_days_and_quiet_hours() -> None:
    after = z(2026, 1, 4, 0, 0)
    # Sunday is a send day but quiet: Monday is the first slot.
    slot = next_slot(after, tz="UTC", send_days=("sun", "mon"), send_time=time(9), quiet_days=("sun",))
    assert slot == z(2026, 1, 5, 9, 0)
    assert next_slot(after, tz="UTC", send_days=("sun",), send_time=time(9), quiet_days=("sun",)) is None
    # A send time inside the quiet hours never yields a slot.
    quiet = {"quiet_start": time(21), "quiet_end": time(7)}
    assert next_slot(after, tz="UTC", send_days=("mon",), send_time=time(6), **quiet) is None  # type: ignore[arg-type]


def test_local_week_key_and_next_week() -> None:
    # Sunday 23:30 in New York is already Monday in UTC: the local week is the one that counts.
    instant = z(2026, 1, 12, 4, 30)
    assert iso_week_key(instant, "America/New_York") == "2026-W02"
    assert iso_week_key(instant, "UTC") == "2026-W03"
    assert start_of_next_local_week(instant, "America/New_York") == z(2026, 1, 12, 5, 0)


def test_unknown_zone_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(TimingError, match="unknown time zone 'Mars/Base'"):
        zone("Mars/Base")
    with pytest.raises(TimingError, match="naive"):
        next_slot(datetime(2026, 1, 1), tz="UTC", send_days=("mon",), send_time=time(9))
