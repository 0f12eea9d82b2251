"""A mentor's send slots, prompts and suggestion, decided purely; and a digest slot with no news sends
nothing (the real activity against Postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg

from activities.deps import ActivityDeps
from activities.mentor import MentorActivities
from domain import Unsubscribe
from domain.mentor import MenteeNews, MentorPrefs, next_mentor_slot, prompt_due, suggestion
from domain.timing import local_datetime
from infra.settings import Settings
from store.ledger import count_stuck, count_uncertain
from store.mentors import mentor_id_for, sync_mentors
from tests.domain.small_program import SMALL, small_program
from tests.journey.test_send_handover import FaultySmtp, _drop, relay  # noqa: F401 - its fixture
from tests.reports.journeys import monday_weeks_ago, run_journey, save
from workflows.contract import MentorSlotInput, mentor_workflow_id

TOKYO = MentorPrefs(timezone="Asia/Tokyo", send_time=time(8, 30), digest_day="mon")


def test_slots_are_the_mentors_local_time_every_day_but_quiet_days() -> None:
    after = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # Friday 21:00 in Tokyo
    slot = next_mentor_slot(after, TOKYO, SMALL)
    assert slot is not None and local_datetime(slot, "Asia/Tokyo").strftime("%a %H:%M") == "Sat 08:30"
    nxt = next_mentor_slot(slot, TOKYO, SMALL)  # the small program's quiet day is Sunday
    assert nxt is not None and local_datetime(nxt, "Asia/Tokyo").strftime("%a %H:%M") == "Mon 08:30"
    assert next_mentor_slot(after, TOKYO.model_copy(update={"unsubscribed": True}), SMALL) is None
    off = TOKYO.model_copy(update={"digest": "off", "prompts": False})
    assert next_mentor_slot(after, off, SMALL) is None


def test_prompts_are_capped_and_merge_into_a_close_digest() -> None:
    saturday = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)  # Sat 08:30 Tokyo; the digest is Monday
    assert not prompt_due(saturday, TOKYO, SMALL, last_prompt_at=None)  # merged into Monday's digest
    thursday = saturday - timedelta(days=2)
    assert prompt_due(thursday, TOKYO, SMALL, last_prompt_at=None)
    assert not prompt_due(thursday, TOKYO, SMALL, last_prompt_at=thursday - timedelta(days=1))
    assert not prompt_due(thursday, TOKYO.model_copy(update={"prompts": False}), SMALL, last_prompt_at=None)


def test_one_suggestion_amplify_first_then_the_quietest() -> None:
    quiet = MenteeNews(participant_id="ben", quiet_since=datetime(2026, 1, 1, tzinfo=UTC))
    posted = MenteeNews(participant_id="amara", milestones=["followed_ten", "first_post"])
    tip = suggestion([quiet, posted], SMALL)
    assert tip is not None and (tip.participant_id, tip.kind, tip.milestone_id) == (
        "amara",
        "amplify",
        "first_post",
    )
    done = posted.model_copy(update={"amplified": ["first_post"]})
    tip = suggestion([quiet, done], SMALL)
    assert tip is not None and (tip.participant_id, tip.kind) == ("ben", "reach_out")
    assert suggestion([MenteeNews(participant_id="x")], SMALL) is None
    assert not MenteeNews(participant_id="x").newsworthy


async def test_a_digest_slot_without_news_sends_nothing(
    db_pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    start = monday_weeks_ago(2, now)
    await save(db_pool, "quiet1", small_program(), start, [("p1", "lee@mentors.org")])
    await run_journey(db_pool, "quiet1", "p1", small_program(), start, now)  # enrolled two weeks ago
    await sync_mentors(db_pool, "quiet1")
    mentor_id = mentor_id_for("lee@mentors.org")
    day = local_datetime(now, "America/New_York").strftime("%a").lower()
    await db_pool.execute("update mentors set digest_day = $1", day)
    activities = MentorActivities(ActivityDeps(settings=settings, pool=db_pool))
    ask = MentorSlotInput(
        workflow_id=mentor_workflow_id("quiet1", mentor_id), cohort_id="quiet1", mentor_id=mentor_id, slot=now
    )
    result = await activities.perform_slot(ask)
    assert (result.sent, result.detail) == (None, "nothing to report")
    assert await db_pool.fetchval("select count(*) from send_ledger where recipient = 'mentor'") == 0


async def test_a_mentor_email_dropped_after_data_is_uncertain_and_never_sent_twice(
    db_pool: asyncpg.Pool,
    settings: Settings,
    relay: tuple[FaultySmtp, int],  # noqa: F811
) -> None:
    handler, port = relay
    handler.after_data = _drop
    now = datetime.now(UTC)
    start = monday_weeks_ago(6, now)
    await save(db_pool, "drop1", small_program(), start, [("p1", "lee@mentors.org")])
    await run_journey(db_pool, "drop1", "p1", small_program(), start, now)  # quiet for six weeks: news
    await sync_mentors(db_pool, "drop1")
    mentor_id = mentor_id_for("lee@mentors.org")
    await db_pool.execute(
        "update mentors set digest_day = $1", local_datetime(now, "America/New_York").strftime("%a").lower()
    )
    activities = MentorActivities(
        ActivityDeps(settings=settings.model_copy(update={"smtp_port": port}), pool=db_pool)
    )
    ask = MentorSlotInput(
        workflow_id=mentor_workflow_id("drop1", mentor_id), cohort_id="drop1", mentor_id=mentor_id, slot=now
    )
    outcomes = []
    for _ in range(3):  # as Temporal retries a raised error
        try:
            outcomes.append((await activities.perform_slot(ask)).status)
        except Exception as err:
            outcomes.append(type(err).__name__)
    assert handler.stored() == 1
    assert outcomes[0] == "uncertain" and outcomes[1:] == ["uncertain", "uncertain"]
    row = await db_pool.fetchrow("select status, handed_over_at from send_ledger where recipient = 'mentor'")
    assert row is not None and row["status"] == "uncertain" and row["handed_over_at"] is not None
    assert await count_uncertain(db_pool) == 1  # the worker's gauge (and its alert) sees mentors' emails too
    await db_pool.execute(
        "update send_ledger set status = 'sending', claimed_at = now() - interval '1 hour' "
        "where recipient = 'mentor'"
    )
    assert await count_stuck(db_pool) == 1


async def test_a_mentor_whose_mentees_all_ended_has_no_next_slot(
    db_pool: asyncpg.Pool, settings: Settings
) -> None:
    now = datetime.now(UTC)
    start = monday_weeks_ago(2, now)
    program = small_program()
    await save(db_pool, "end1", program, start, [("p1", "lee@mentors.org"), ("p2", "lee@mentors.org")])
    await run_journey(
        db_pool, "end1", "p1", program, start, now, [(now - timedelta(days=1), Unsubscribe(command_id="x"))]
    )
    await run_journey(db_pool, "end1", "p2", program, start, now)
    await sync_mentors(db_pool, "end1")
    mentor_id = mentor_id_for("lee@mentors.org")
    activities = MentorActivities(ActivityDeps(settings=settings, pool=db_pool))
    ask = MentorSlotInput(
        workflow_id=mentor_workflow_id("end1", mentor_id), cohort_id="end1", mentor_id=mentor_id, slot=now
    )
    still = await activities.next_slot(ask)
    assert not still.ended and still.at is not None and still.at > now
    await run_journey(
        db_pool,
        "end1",
        "p2",
        program,
        start,
        now + timedelta(minutes=1),
        [(now + timedelta(minutes=1), Unsubscribe(command_id="y"))],
    )
    ended = await activities.next_slot(ask)
    assert ended.ended and ended.at is None
