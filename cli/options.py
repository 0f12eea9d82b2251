"""Option values the staff commands share: cohort ids and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from cli.errors import CliError


def check_cohort_id(cohort_id: str) -> None:
    from workflows.contract import journey_id

    try:
        journey_id(cohort_id, "x")
    except ValueError as exc:
        raise CliError(f"--cohort: {exc}") from None


def parse_day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option} {value!r}: expected a date like 2026-10-01") from None


def until_option(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC) + timedelta(weeks=4)
    day = parse_day("--until", value)
    until = datetime.combine(day, time(0), tzinfo=UTC)
    if until <= datetime.now(UTC):
        raise CliError(f"--until {day}: date in the past")
    return until
