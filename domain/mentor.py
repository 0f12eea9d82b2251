"""A mentor's emails, decided purely: when the next send slot is, whether it carries the weekly digest or
an amplify prompt, and the digest's one concrete suggestion. The mentor workflow and its activities run
these; no I/O here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.personas import Persona
from domain.program import ProgramSpec
from domain.timing import WEEKDAYS, local_datetime, next_slot, weekday_of

# An amplify prompt goes at most this often, and not when the digest (which would carry it) is this close.
PROMPT_GAP = timedelta(days=2)
DIGEST_MERGE = timedelta(days=2)
# A mentee without a click for this long is "gone quiet" in the digest.
QUIET_AFTER = timedelta(weeks=3)
# Conferences starting within this window are "upcoming".
UPCOMING = timedelta(weeks=6)


class MentorPrefs(BaseModel):
    model_config = ConfigDict(frozen=True)

    timezone: str
    send_time: time = time(8, 30)
    digest_day: str = "mon"
    digest: str = "weekly"  # weekly | off
    prompts: bool = True
    unsubscribed: bool = False


def next_mentor_slot(after: datetime, prefs: MentorPrefs, program: ProgramSpec) -> datetime | None:
    """The mentor's next send slot strictly after `after`: their local send time, any day, outside the
    program's quiet hours and days in the mentor's own zone. None: nothing will ever go (unsubscribed,
    or digest and prompts both off)."""
    if prefs.unsubscribed or (prefs.digest == "off" and not prefs.prompts):
        return None
    schedule = program.schedule
    return next_slot(
        after,
        tz=prefs.timezone,
        send_days=WEEKDAYS,
        send_time=prefs.send_time,
        quiet_days=schedule.quiet_days,
        quiet_start=schedule.quiet_start,
        quiet_end=schedule.quiet_end,
    )


def is_digest_slot(slot: datetime, prefs: MentorPrefs) -> bool:
    day = weekday_of(local_datetime(slot, prefs.timezone).date())
    return prefs.digest == "weekly" and day == prefs.digest_day


def next_digest_slot(slot: datetime, prefs: MentorPrefs, program: ProgramSpec) -> datetime | None:
    """The first digest slot at or after `slot` (within two weeks), None when the digest is off."""
    if prefs.digest != "weekly":
        return None
    at: datetime | None = slot
    for _ in range(16):
        if at is None:
            return None
        if is_digest_slot(at, prefs):
            return at
        at = next_mentor_slot(at, prefs, program)
    return None


def prompt_due(
    slot: datetime, prefs: MentorPrefs, program: ProgramSpec, *, last_prompt_at: datetime | None
) -> bool:
    """Whether a pending amplify prompt goes at `slot`: prompts on, not too soon after the last one, and
    not when the digest is close (it carries the news instead)."""
    if not prefs.prompts or prefs.unsubscribed:
        return False
    if last_prompt_at is not None and slot - last_prompt_at < PROMPT_GAP:
        return False
    digest = next_digest_slot(slot, prefs, program)
    return digest is None or digest - slot > DIGEST_MERGE


def is_creator_milestone(program: ProgramSpec, milestone_id: str) -> bool:
    return any(m.id == milestone_id and m.persona is Persona.CREATOR for m in program.milestones)


# ---- the digest -------------------------------------------------------------------------------------


class MenteeNews(BaseModel):
    """What happened to one mentee since the last digest: ids and dates only (names are added when the
    email is rendered)."""

    participant_id: str
    milestones: list[str] = Field(default_factory=list)  # achieved since the last digest, in order
    adopted: list[str] = Field(default_factory=list)  # personas adopted since
    last_click: datetime | None = None
    quiet_since: datetime | None = None  # set when the mentee has gone quiet
    conferences: list[tuple[str, date]] = Field(default_factory=list)  # (name, starts_on) upcoming
    amplified: list[str] = Field(default_factory=list)  # milestones the mentor already amplified

    @property
    def newsworthy(self) -> bool:
        return bool(self.milestones or self.adopted or self.quiet_since or self.conferences)


class Suggestion(BaseModel):
    participant_id: str
    kind: str  # amplify | reach_out | conference
    milestone_id: str | None = None


def suggestion(news: list[MenteeNews], program: ProgramSpec) -> Suggestion | None:
    """One concrete thing to do: amplify a creator milestone first, else reach out to whoever has been
    quiet longest, else cheer on a conference."""
    for n in news:
        for m in n.milestones:
            if is_creator_milestone(program, m) and m not in n.amplified:
                return Suggestion(participant_id=n.participant_id, kind="amplify", milestone_id=m)
    quiet = sorted((n for n in news if n.quiet_since), key=lambda n: n.quiet_since or datetime.max)
    if quiet:
        return Suggestion(participant_id=quiet[0].participant_id, kind="reach_out")
    for n in news:
        if n.conferences:
            return Suggestion(participant_id=n.participant_id, kind="conference")
    for n in news:
        if n.milestones:
            return Suggestion(participant_id=n.participant_id, kind="amplify", milestone_id=n.milestones[-1])
    return None
