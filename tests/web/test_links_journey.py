"""Each action over HTTP reaches a real journey on the Temporal dev server, and Postgres, exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain import Mode, Persona
from domain.program import Program
from domain.roster import RosterConference
from infra.links import Action, verify_link
from infra.settings import Settings
from steering import Journeys, Pending, Steering
from store.intents import action_id_for, find_participant
from tests.web.conftest import (
    RunningWeb,
    future,
    intent_rows,
    participant_row,
    start_journey,
    status_row,
    view,
    wait_enrolled,
)
from web.actions import plan_persona


async def test_milestone_reaches_the_journey_once_and_a_replay_changes_nothing(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    url = web.link(Action.MILESTONE, {"milestone": "account_created"})
    done = await http.post(url)
    assert done.status_code == 200, done.text
    assert "Recorded: Created an account with a professional profile" in done.text
    assert list((await view(journey)).milestones) == ["account_created"]
    [row] = await intent_rows(db_pool)
    assert (json.loads(row["command"])["type"], row["status"]) == ("record_milestone", "applied")
    stored = await db_pool.fetchval(
        "select count(*) from journey_events where workflow_id = $1 and type = 'milestone_achieved'",
        journey.id,
    )
    assert stored == 1

    replay = await http.post(url)
    assert replay.status_code == 200 and "nothing changed" in replay.text
    assert len(await intent_rows(db_pool)) == 1

    # The same milestone from another email: the journey refuses; the page says so in the participant's
    # words (no ids), calmly, since what they asked for already holds.
    other = await http.post(
        web.link(
            Action.MILESTONE, {"milestone": "account_created"}, now=datetime.now(UTC) - timedelta(seconds=5)
        )
    )
    assert other.status_code == 200
    assert "You had already recorded this: Created an account with a professional profile." in other.text
    assert "account_created" not in other.text
    assert (await intent_rows(db_pool))[-1]["status"] == "rejected"
    assert list((await view(journey)).milestones) == ["account_created"]


async def test_persona_snooze_and_conference_reach_the_journey_and_postgres(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    persona = await http.post(web.link(Action.PERSONA, {"persona": "creator"}))
    assert persona.status_code == 200 and "Content creator" in persona.text
    assert Persona.CREATOR in (await view(journey)).personas
    assert list((await status_row(db_pool))["personas"]) == ["creator"]

    until = future(21)
    snooze = await http.post(web.link(Action.SNOOZE, {"weeks": "2"}), data={"until": until.isoformat()})
    assert snooze.status_code == 200, snooze.text
    journey_view = await view(journey)
    assert journey_view.mode is Mode.PAUSED and journey_view.paused_until is not None
    assert journey_view.paused_until == (await participant_row(db_pool))["paused_until"]
    assert f"until {until:%A} {until.day} {until:%B %Y} (New York time)" in snooze.text

    conference = await http.post(
        web.link(Action.CONFERENCE),
        data={
            "name": "ASCO Annual Meeting",
            "hashtag": "ASCO26",
            "starts_on": future(40).isoformat(),
            "ends_on": future(43).isoformat(),
            "timezone": "America/Chicago",
        },
    )
    assert conference.status_code == 200, conference.text
    [burst] = (await view(journey)).upcoming_bursts
    assert (burst.name, burst.hashtag, burst.timezone) == (
        "ASCO Annual Meeting",
        "#ASCO26",
        "America/Chicago",
    )
    assert {r["status"] for r in await intent_rows(db_pool)} == {"applied"}


async def test_preferences_change_personas_snooze_schedule_and_conferences(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    url = web.link(Action.PREFERENCES)
    page = await http.get(url)
    assert 'value="America/New_York"' in page.text and 'value="08:30"' in page.text
    form = {
        "timezone": "Europe/London",
        "send_days": ["mon", "wed"],
        "send_time": "09:15",
        "personas": ["amplifier", "mission"],
        "snooze_until": future(10).isoformat(),
        "conf_name": "DDW",
        "conf_starts_on": future(30).isoformat(),
        "conf_ends_on": future(32).isoformat(),
    }
    saved = await http.post(url, data=form)
    assert saved.status_code == 200, saved.text
    assert "Your preferences are saved." in saved.text
    # The journey's projection holds the preferences; participants keep what the sender re-checks.
    row = await status_row(db_pool)
    assert (row["timezone"], list(row["send_days"]), f"{row['send_time']:%H:%M}") == (
        "Europe/London",
        ["mon", "wed"],
        "09:15",
    )
    assert list(row["personas"]) == ["amplifier", "mission"]
    assert row["paused_until"] == (await participant_row(db_pool))["paused_until"]
    journey_view = await view(journey)
    assert set(journey_view.personas) == {Persona.AMPLIFIER, Persona.MISSION}
    assert journey_view.paused_until == row["paused_until"]
    assert [b.name for b in journey_view.upcoming_bursts] == ["DDW"]

    # Dropping one persona and resuming: the journey drops it and resumes.
    resumed = await http.post(
        url,
        data={
            **form,
            "personas": ["mission"],
            "snooze_until": "",
            "resume": "yes",
            "conf_name": "",
            "conf_starts_on": "",
            "conf_ends_on": "",
        },
    )
    assert resumed.status_code == 200, resumed.text
    journey_view = await view(journey)
    assert journey_view.personas == [Persona.MISSION] and journey_view.paused_until is None
    assert (await participant_row(db_pool))["paused_until"] is None


async def test_one_click_unsubscribe_reaches_the_journey_and_works_after_it_ended(
    web: RunningWeb,
    http: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    journey: WorkflowHandle[Any, Any],
) -> None:
    got = await one_click(http, web.link(Action.UNSUBSCRIBE))
    assert got.status_code == 200 and "set-cookie" not in got.headers and "location" not in got.headers
    assert (await view(journey)).mode is Mode.UNSUBSCRIBED
    assert (await participant_row(db_pool))["unsubscribed_at"] is not None
    await journey.result()  # an unsubscribed journey ends

    # Another email's link, after the journey ended: still 200, still recorded, no error; the intent is
    # settled (the journey will never take it), not retried for ever.
    again = await one_click(http, web.link(Action.UNSUBSCRIBE, now=datetime.now(UTC) - timedelta(days=3)))
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    last = (await intent_rows(db_pool))[-1]
    assert (last["status"], last["code"], last["detail"]) == (
        "rejected",
        "journey_closed",
        "the journey has ended",
    )


async def one_click(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """What a mail provider sends for RFC 8058: a bare form POST, no cookies, redirects not followed."""
    return await http.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_intents_wait_for_an_unreachable_temporal_and_a_journey_not_yet_running(
    web: RunningWeb,
    http: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    cohort: str,
    worker: None,
    temporal_env: WorkflowEnvironment,
    web_settings: Settings,
    program: Program,
) -> None:
    # Temporal unreachable: recorded, pending, the participant told it is on its way.
    dead = web_settings.model_copy(update={"temporal_address": "127.0.0.1:1"})

    url = web.link(Action.PERSONA, {"persona": "consumer"})
    token = url.rsplit("/", 1)[1]
    claims = verify_link(web_settings.link_secret.get_secret_value(), token, Action.PERSONA)
    participant = await find_participant(db_pool, claims.workflow_id)
    assert participant is not None
    plan = plan_persona(claims, participant)
    _, [pending] = await Steering(db_pool, Journeys(dead)).send_all(
        participant,
        plan.commands,
        action="persona",
        action_id=action_id_for(claims.meaning(), plan.form),
    )
    assert pending == Pending(reason="Temporal is unreachable")

    # The journey does not run yet: the link still answers, recorded.
    snooze = await http.post(web.link(Action.SNOOZE, {"weeks": "2"}))
    assert snooze.status_code == 202

    handle = await start_journey(temporal_env.client, web_settings, program)
    await wait_enrolled(handle)
    await db_pool.execute("update participant_intents set next_attempt_at = now()")  # their retry time came
    assert await Steering(db_pool, Journeys(web_settings)).deliver_due() == 2
    journey_view = await view(handle)
    assert journey_view.personas == [Persona.CONSUMER] and journey_view.mode is Mode.PAUSED
    assert {r["status"] for r in await intent_rows(db_pool)} == {"applied"}
    assert await Steering(db_pool, Journeys(web_settings)).deliver_due() == 0
    await handle.terminate("test over")


async def test_a_conference_already_on_the_roster_is_already_added_not_an_overlap(
    web: RunningWeb,
    http: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    temporal_env: WorkflowEnvironment,
    web_settings: Settings,
    program: Program,
    cohort: str,
    worker: None,
) -> None:
    starts, ends = future(20), future(22)
    on_roster = RosterConference(name="ESMO Congress", starts_on=starts, ends_on=ends, hashtag="#ESMO")
    handle = await start_journey(temporal_env.client, web_settings, program, conferences=(on_roster,))
    await wait_enrolled(handle)
    for _ in range(200):  # the enrolment's events (and so the projection) are recorded just after the start
        if await db_pool.fetchval("select count(*) from journey_status"):
            break
        await asyncio.sleep(0.05)
    # The preferences page lists it (from the journey's projection, wherever it was told).
    page = (await http.get(web.link(Action.PREFERENCES))).text
    assert "ESMO Congress #ESMO:" in page and "You have not told us about a conference yet." not in page
    # The participant tells it again from an email, typed a little differently.
    told = await http.post(
        web.link(Action.CONFERENCE),
        data={"name": "esmo  congress", "starts_on": starts.isoformat(), "ends_on": ends.isoformat()},
    )
    assert told.status_code == 200, told.text
    assert "You had already told us about esmo  congress." in told.text and "overlap" not in told.text
    [intent] = await intent_rows(db_pool)
    assert (intent["status"], intent["code"]) == ("rejected", "conference_added")
    assert [b.name for b in (await view(handle)).upcoming_bursts] == ["ESMO Congress"]
    await handle.terminate("test over")


async def test_keep_going_from_the_sunset_email_reaches_the_journey(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    url = web.link(Action.KEEP_GOING)
    page = await http.get(url)
    assert page.status_code == 200 and "Yes, keep writing to me" in page.text
    done = await http.post(url)
    assert done.status_code == 200, done.text
    assert "the notes keep coming" in done.text
    [row] = await intent_rows(db_pool)
    assert (json.loads(row["command"])["type"], row["status"]) == ("keep_going", "applied")
    stored = await db_pool.fetchval(
        "select count(*) from journey_events where workflow_id = $1 and type = 'kept_going'", journey.id
    )
    assert stored == 1
