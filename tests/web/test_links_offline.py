"""The app over HTTP when the journey is not (yet, or any more) reachable: nothing is lost.

A journey that is not running stands for both "ended" and "Temporal cannot deliver it now": the intent is
recorded as pending in Postgres and the participant's own columns change at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from domain.program import Program
from infra.links import Action
from infra.settings import Settings
from tests.web.conftest import RunningWeb, future, intent_rows, participant_row


async def _snapshot(pool: asyncpg.Pool) -> tuple[object, ...]:
    row = await participant_row(pool)
    return (dict(row), [dict(r) for r in await intent_rows(pool)])


async def test_get_and_head_show_pages_and_change_nothing(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str, program: Program
) -> None:
    before = await _snapshot(db_pool)
    links = {
        Action.MILESTONE: web.link(Action.MILESTONE, {"milestone": "account_created"}),
        Action.PERSONA: web.link(Action.PERSONA, {"persona": "creator"}),
        Action.SNOOZE: web.link(Action.SNOOZE, {"weeks": "2"}),
        Action.CONFERENCE: web.link(Action.CONFERENCE),
        Action.PREFERENCES: web.link(Action.PREFERENCES),
        Action.UNSUBSCRIBE: web.link(Action.UNSUBSCRIBE),
    }
    for action, url in links.items():
        got = await http.get(url)
        assert got.status_code == 200, (action, got.text)
        assert '<html lang="en">' in got.text and got.text.count("<h1>") == 1
        assert 'name="viewport"' in got.text and '<form method="post"' in got.text
        assert "http" not in got.text and "<link" not in got.text and "src=" not in got.text, (
            "no external assets"
        )
        assert got.headers["cache-control"] == "no-store" and got.headers["referrer-policy"] == "no-referrer"
        head = await http.head(url)
        assert head.status_code == 200 and head.content == b""
    milestone_page = (await http.get(links[Action.MILESTONE])).text
    assert f"Did you do this? {program.spec.milestones[0].title}" in milestone_page
    assert await _snapshot(db_pool) == before


async def test_bad_tokens_get_clear_pages_and_change_nothing(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    before = await _snapshot(db_pool)
    good = web.link(Action.UNSUBSCRIBE)
    token = good.rsplit("/", 1)[1]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    swapped = f"{web.base_url}/a/snooze/{token}"
    expired = web.link(
        Action.MILESTONE, {"milestone": "account_created"}, now=datetime.now(UTC) - timedelta(days=400)
    )
    for method in ("GET", "POST"):
        body = {"List-Unsubscribe": "One-Click"}
        for url, status, words in (
            (tampered, 400, "not valid"),
            (swapped, 400, "another action"),
            (expired, 410, "expired"),
            (f"{web.base_url}/a/launch-missiles/{token}", 404, "not a link"),
        ):
            got = await http.request(method, url, data=body if method == "POST" else None)
            assert got.status_code == status, (method, url, got.text)
            assert words in got.text and "Nothing was changed" in got.text
    assert await _snapshot(db_pool) == before


async def test_actions_are_recorded_while_the_journey_is_unreachable(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    """No journey runs for this participant: every action is recorded pending, Postgres changes now."""
    snooze = await http.post(web.link(Action.SNOOZE, {"weeks": "2"}))
    assert snooze.status_code == 202 and "recorded" in snooze.text
    paused = (await participant_row(db_pool))["paused_until"]
    assert paused is not None and timedelta(days=13) < paused - datetime.now(UTC) <= timedelta(days=14)

    persona = await http.post(web.link(Action.PERSONA, {"persona": "amplifier"}))
    assert persona.status_code == 202
    # Only the journey records a persona (its events are the truth): participants keep the roster's.
    assert list((await participant_row(db_pool))["personas"]) == []

    rows = await intent_rows(db_pool)
    assert [(json.loads(r["command"])["type"], r["status"]) for r in rows] == [
        ("pause", "pending"),
        ("adopt_persona", "pending"),
    ]
    # The persona waits behind the snooze: a journey takes a participant's commands in the order given.
    assert [r["detail"] for r in rows] == ["the journey has not started", "waiting for an earlier request"]
    assert rows[0]["command"] is not None and rows[0]["intent_id"] in rows[0]["command"]


async def test_repeating_an_action_changes_nothing(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    url = web.link(Action.SNOOZE, {"weeks": "2"})
    until = future(30).isoformat()
    first = await http.post(url, data={"until": until})
    assert first.status_code == 202
    after_first = await _snapshot(db_pool)
    again = await http.post(url, data={"until": until})
    assert again.status_code == 202 and "nothing changed" in again.text
    row_after = await participant_row(db_pool)
    assert row_after["paused_until"] == after_first[0]["paused_until"]  # type: ignore[index]
    assert len(await intent_rows(db_pool)) == 1


async def test_form_mistakes_are_shown_and_nothing_is_recorded(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    past = await http.post(web.link(Action.SNOOZE, {"weeks": "2"}), data={"until": "2020-01-01"})
    assert past.status_code == 422 and "not in the future" in past.text and 'role="alert"' in past.text
    conf = await http.post(
        web.link(Action.CONFERENCE),
        data={"name": "ASCO", "starts_on": future(20).isoformat(), "ends_on": future(10).isoformat()},
    )
    assert conf.status_code == 422 and "ends before it starts" in conf.text
    assert 'value="ASCO"' in conf.text, "the form keeps what was typed"
    prefs = await http.post(
        web.link(Action.PREFERENCES), data={"timezone": "Mars/Olympus", "send_time": "08:30"}
    )
    assert prefs.status_code == 422 and "Mars/Olympus" in prefs.text
    assert await intent_rows(db_pool) == []
    assert (await participant_row(db_pool))["paused_until"] is None


async def test_one_click_unsubscribe_needs_no_journey_cookie_or_redirect(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str, web_settings: Settings
) -> None:
    got = await http.post(
        web.link(Action.UNSUBSCRIBE),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert got.status_code == 200 and "unsubscribed" in got.text
    assert "set-cookie" not in got.headers and "location" not in got.headers
    assert (await participant_row(db_pool))["unsubscribed_at"] is not None
    [row] = await intent_rows(db_pool)
    assert (json.loads(row["command"])["type"], row["status"]) == ("unsubscribe", "pending")
