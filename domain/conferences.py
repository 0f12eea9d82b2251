"""A conference's identity and its checks: one place for the roster, the staff CLI, the web form and the
journey's own validator.

The id comes from the content (name, first and last day), so the same conference told twice (on the
roster and then from an email, or from two emails) is the same conference: the journey says "already
added", never "the dates overlap".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal

from domain.rejections import RejectionCode
from domain.text import text_problem
from domain.timing import is_valid_zone

# Longer "conferences" would make a burst the journey's normal cadence.
MAX_CONFERENCE_DAYS = 31

Field = Literal["name", "hashtag", "starts_on", "ends_on", "timezone"]


@dataclass(frozen=True)
class ConferenceProblem:
    """What is wrong, on which field, in words that read after a label ("Last day: ...")."""

    field: Field
    code: RejectionCode
    message: str


def conference_id(name: str, starts_on: date, ends_on: date) -> str:
    """The conference's id from its content: case and spacing of the name do not matter."""
    key = f"{' '.join(name.split()).casefold()}|{starts_on.isoformat()}|{ends_on.isoformat()}"
    return f"c-{starts_on:%Y%m%d}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def normal_hashtag(hashtag: str) -> str:
    hashtag = hashtag.strip()
    return f"#{hashtag}" if hashtag and not hashtag.startswith("#") else hashtag


def conference_problem(
    name: str,
    hashtag: str,
    starts_on: date,
    ends_on: date,
    timezone: str | None,
    *,
    today: date | None = None,
) -> ConferenceProblem | None:
    """Why this conference cannot be added, or None. `today` (the teller's calendar) refuses one already
    over; without it the journey decides that in the participant's zone."""
    if not name.strip():
        return ConferenceProblem("name", RejectionCode.CONFERENCE_TEXT, "please fill it in")
    for field, text in (("name", name), ("hashtag", hashtag)):
        problem = text_problem(text)
        if problem:
            return ConferenceProblem(field, RejectionCode.CONFERENCE_TEXT, problem)  # type: ignore[arg-type]
    if any(c.isspace() for c in hashtag.strip()):
        return ConferenceProblem("hashtag", RejectionCode.CONFERENCE_TEXT, "no spaces, please (e.g. #ASCO26)")
    if ends_on < starts_on:
        return ConferenceProblem(
            "ends_on", RejectionCode.CONFERENCE_DATES, "the conference ends before it starts"
        )
    if (ends_on - starts_on).days >= MAX_CONFERENCE_DAYS:
        return ConferenceProblem(
            "ends_on",
            RejectionCode.CONFERENCE_TOO_LONG,
            f"a conference lasts at most {MAX_CONFERENCE_DAYS} days",
        )
    if timezone is not None and not is_valid_zone(timezone):
        return ConferenceProblem(
            "timezone",
            RejectionCode.UNKNOWN_TIME_ZONE,
            f"{timezone!r} is not a time zone (e.g. Europe/Paris)",
        )
    if today is not None and ends_on < today:
        return ConferenceProblem(
            "ends_on", RejectionCode.CONFERENCE_PAST, f"it ended on {ends_on} (in the past)"
        )
    return None


def change_problem(
    *,
    started: bool,
    before: tuple[str, str, date, date, str | None],
    after: tuple[str, str, date, date, str | None],
    today: date,
) -> ConferenceProblem | None:
    """Why a conference (name, hashtag, first day, last day, zone) cannot become `after`, or None: the same
    checks as a new one, nothing to change, and a first day that has passed (a burst under way) stays."""
    name, hashtag, starts_on, ends_on, timezone = after
    problem = conference_problem(name, hashtag, starts_on, ends_on, timezone, today=today)
    if problem is not None:
        return problem
    if after == before:
        return ConferenceProblem(
            "name", RejectionCode.CONFERENCE_UNCHANGED, "nothing to change: it already has these details"
        )
    if started and starts_on != before[2]:
        return ConferenceProblem(
            "starts_on",
            RejectionCode.CONFERENCE_DATES,
            f"it started on {before[2]}: its first day cannot move (change its last day, or remove it)",
        )
    return None
