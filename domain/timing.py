"""Local-time arithmetic for send slots: DST-correct, in the participant's IANA time zone.

Every instant that enters or leaves this module is timezone-aware UTC; local wall times exist only inside.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Enough to cross any combination of send days, quiet days and DST edge cases; a slot search that runs
# longer than this has no answer.
_MAX_DAYS = 800


class TimingError(ValueError):
    pass


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises TimingError with a readable message when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimingError(f"unknown time zone {name!r}") from exc


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except TimingError:
        return False
    return True


def utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise TimingError("naive datetime: every instant must carry a time zone")
    return instant.astimezone(UTC)


def weekday_of(day: date) -> Weekday:
    return WEEKDAYS[day.weekday()]


def local_datetime(instant: datetime, tz: str) -> datetime:
    """The wall-clock time at `instant` in `tz` (aware, in that zone)."""
    return utc(instant).astimezone(zone(tz))


def local_date(instant: datetime, tz: str) -> date:
    return local_datetime(instant, tz).date()


def iso_week_key(instant: datetime, tz: str) -> str:
    """The local ISO week (Monday to Sunday) that `instant` falls in, e.g. '2026-W07'."""
    year, week, _ = local_date(instant, tz).isocalendar()
    return f"{year}-W{week:02d}"


def _wall(instant_utc: datetime, tzinfo: ZoneInfo) -> datetime:
    return instant_utc.astimezone(tzinfo).replace(tzinfo=None)


# Pure and hot: a cohort preview resolves the same few (day, time, zone) triples millions of times.
@lru_cache(maxsize=1 << 16)
def resolve_local(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of local wall time `day at` in `tz`.

    An ambiguous time (clocks going back) takes its first occurrence; a time that does not exist (clocks
    going forward) moves forward to the first instant that exists, i.e. the moment of the transition.
    """
    tzinfo = zone(tz)
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tzinfo, fold=0).astimezone(UTC)
    if _wall(first, tzinfo) == naive:
        return first
    # In a gap: fold=1 reads the time with the offset after the transition, which lands before it.
    low = naive.replace(tzinfo=tzinfo, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    # Smallest whole second whose wall time is at or past the requested one: the transition instant.
    while (high - low) > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if _wall(mid, tzinfo) >= naive:
            high = mid
        else:
            low = mid
    return high if _wall(low, tzinfo) < naive else low


def start_of_local_day(day: date, tz: str) -> datetime:
    return resolve_local(day, time(0, 0), tz)


def in_quiet_hours(wall: time, quiet_start: time | None, quiet_end: time | None) -> bool:
    """Whether local wall time `wall` falls in [start, end), a window that may wrap midnight."""
    if quiet_start is None or quiet_end is None or quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= wall < quiet_end
    return wall >= quiet_start or wall < quiet_end


def next_slot(
    after: datetime,
    *,
    tz: str,
    send_days: Collection[str],
    send_time: time,
    quiet_days: Collection[str] = (),
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    inclusive: bool = False,
) -> datetime | None:
    """The first send instant strictly after `after` (at or after when `inclusive`).

    A slot is `send_time` local on a send day that is not a quiet day, and whose resolved wall time is
    not inside the quiet hours (a DST shift can push it there: that day is then skipped).
    None when no slot exists (no usable day).
    """
    return _next_slot(
        utc(after), tz, tuple(send_days), send_time, tuple(quiet_days), quiet_start, quiet_end, inclusive
    )


# Pure and hot: a journey asks for the same slots (the recap's, the one after its last send) at every
# wake-up, and journeys on the same schedule ask for the same ones. Keyed on every input.
@lru_cache(maxsize=1 << 16)
def _next_slot(
    after: datetime,
    tz: str,
    send_days: tuple[str, ...],
    send_time: time,
    quiet_days: tuple[str, ...],
    quiet_start: time | None,
    quiet_end: time | None,
    inclusive: bool,
) -> datetime | None:
    days = set(send_days) - set(quiet_days)
    if not days:
        return None
    tzinfo = zone(tz)
    day = after.astimezone(tzinfo).date() - timedelta(days=1)
    for _ in range(_MAX_DAYS):
        if weekday_of(day) in days:
            candidate = resolve_local(day, send_time, tz)
            later = candidate >= after if inclusive else candidate > after
            if later and not in_quiet_hours(_wall(candidate, tzinfo).time(), quiet_start, quiet_end):
                return candidate
        day += timedelta(days=1)
    return None


def start_of_next_local_week(instant: datetime, tz: str) -> datetime:
    """Local Monday 00:00 of the ISO week after the one `instant` falls in."""
    today = local_date(instant, tz)
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return start_of_local_day(monday, tz)
