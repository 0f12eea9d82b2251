"""A small program built in memory, in the real file format, for the domain tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import Enroll, Program, ProgramSpec, parse_program

PROGRAM_TOML = """
name = "small"
title = "Small test program"
duration_weeks = 12

[schedule]
send_days = ["tue", "thu"]
send_time = "08:30"
quiet_hours = { start = "21:00", end = "07:00" }
quiet_days = ["sun"]
weekly_cap = 2
burst_daily_cap = 1
twittermittent_weekly_cap = 1
dormancy_after_weeks = 4
checkin_every_weeks = 2
burst_prep_days = 5

[[milestones]]
id = "followed_ten"
persona = "consumer"
title = "Followed ten people"

[[milestones]]
id = "followed_institution"
persona = "consumer"
title = "Followed your institution"

[[milestones]]
id = "first_post"
persona = "creator"
title = "First original post"

[[suggestions]]
persona = "creator"
after = ["followed_ten", "followed_institution"]

[[suggestions]]
persona = "amplifier"
after = ["first_post"]
"""


def nudge(
    nudge_id: str,
    kind: str,
    *,
    persona: str | None = None,
    order: int | None = None,
    milestones: tuple[str, ...] = (),
    suggests: str | None = None,
    not_before_week: int | None = None,
    body: str = "Hi {{ first_name }}.",
) -> str:
    lines = ["+++", f'id = "{nudge_id}"', f'kind = "{kind}"']
    if persona is not None:
        lines.append(f'persona = "{persona}"')
    if order is not None:
        lines.append(f"order = {order}")
    lines.append(f'subject = "About {nudge_id}"')
    lines.append("milestones = [" + ", ".join(f'"{m}"' for m in milestones) + "]")
    if suggests is not None:
        lines.append(f'suggests = "{suggests}"')
    if not_before_week is not None:
        lines.append(f"not_before_week = {not_before_week}")
    lines += ["+++", body, ""]
    return "\n".join(lines)


def small_files() -> dict[str, str]:
    files = {"program.toml": PROGRAM_TOML}
    kinds = (
        "welcome",
        "welcome_back",
        "checkin",
        "burst_prep",
        "burst_daily",
        "burst_recap",
        "recap",
        "sunset",
    )
    for kind in kinds:
        files[f"nudges/{kind}.md"] = nudge(kind, kind)
    # Several texts for the kinds that come more than once: none is ever sent twice.
    for kind in ("checkin", "welcome_back"):
        files[f"nudges/{kind}-2.md"] = nudge(f"{kind}-2", kind)
    for i in range(1, 7):
        files[f"nudges/consumer-{i:02d}.md"] = nudge(
            f"consumer-{i:02d}",
            "track",
            persona="consumer",
            order=i,
            milestones={1: ("followed_ten",), 2: ("followed_institution",)}.get(i, ()),
            suggests="creator" if i == 3 else None,
            not_before_week=3 if i == 5 else None,  # written for "a few weeks in"
        )
    for persona in ("creator", "amplifier", "twittermittent", "mission"):
        for i in range(1, 5):
            # creator-02 offers amplifier: a suggestion carried by one persona's track.
            suggests = "amplifier" if (persona, i) == ("creator", 2) else None
            files[f"nudges/{persona}-{i:02d}.md"] = nudge(
                f"{persona}-{i:02d}", "track", persona=persona, order=i, suggests=suggests
            )
    return files


def small_program() -> Program:
    return parse_program(small_files(), origin="programs/small")


SMALL: ProgramSpec = small_program().spec

START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # a Monday


def enroll(
    timezone: str = "America/New_York",
    personas: tuple[str, ...] = ("consumer",),
    start: datetime = START,
    command_id: str = "enroll",
    **prefs: object,
) -> Enroll:
    return Enroll.model_validate(
        {
            "command_id": command_id,
            "journey_id": "journey-c1~p1",
            "program": "small",
            "timezone": timezone,
            "personas": personas,
            "start": start,
            **prefs,
        }
    )
