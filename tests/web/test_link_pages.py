"""What a participant reads: errors at the field they name, a list of time zones, their own calendar."""

from __future__ import annotations

import json

import asyncpg
import httpx

from infra.links import Action
from tests.web.conftest import RunningWeb, future, intent_rows, participant_row


async def test_a_form_error_is_shown_at_the_field_it_names(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    got = await http.post(
        web.link(Action.CONFERENCE),
        data={"name": "ASCO", "starts_on": future(20).isoformat(), "ends_on": future(10).isoformat()},
    )
    assert got.status_code == 422
    html = got.text
    # The summary at the top links to the field; the field says what is wrong and takes the focus.
    assert '<a href="#ends_on">Last day: the conference ends before it starts.</a>' in html
    assert (
        '<p class="field-error" id="ends_on-error">Last day: the conference ends before it starts.</p>'
        in html
    )
    field = html.split('id="ends_on"', 1)[1].split(">", 1)[0]
    assert 'aria-invalid="true"' in field and "autofocus" in field and "ends_on-error" in field
    assert html.count('aria-invalid="true"') == 1 and html.count(" autofocus") == 1, "only the wrong field"


async def test_time_zones_are_chosen_from_a_list_in_the_participants_own_zone(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    page = (await http.get(web.link(Action.PREFERENCES))).text
    select = page.split('<select id="timezone" name="timezone"', 1)[1].split("</select>", 1)[0]
    assert '<option value="America/New_York" selected>New York (UTC-0' in select
    assert '<optgroup label="Europe">' in select and 'value="Asia/Kolkata"' in select
    assert select.count(" selected") == 1
    assert 'type="text" id="timezone"' not in page
    conference = (await http.get(web.link(Action.CONFERENCE))).text
    assert '<option value="" selected>Same as mine (New York)</option>' in conference

    saved = await http.post(
        web.link(Action.PREFERENCES),
        data={"timezone": "Asia/Kolkata", "send_days": ["mon"], "send_time": "07:00"},
    )
    assert saved.status_code == 202, saved.text  # recorded; no journey runs in this test
    assert "Emails arrive on Monday at 07:00, Kolkata time." in saved.text
    [intent] = await intent_rows(db_pool)
    assert (intent["status"], json.loads(intent["command"])["timezone"]) == ("pending", "Asia/Kolkata")


async def test_snooze_says_until_when_in_words_and_in_the_participants_calendar(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    day = future(30)
    page = (await http.get(web.link(Action.SNOOZE))).text
    assert 'min="' in page and 'max="' in page, "the date picker offers only dates that work"
    got = await http.post(web.link(Action.SNOOZE), data={"until": day.isoformat()})
    assert f"We will not email you until {day:%A} {day.day} {day:%B %Y} (New York time)." in got.text
    assert day.isoformat() not in got.text and "UTC" not in got.text


async def test_an_unsubscribed_participants_links_change_nothing_and_say_why(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    await http.post(web.link(Action.UNSUBSCRIBE), data={"List-Unsubscribe": "One-Click"})
    recorded = await intent_rows(db_pool)
    for action in (Action.MILESTONE, Action.SNOOZE, Action.PREFERENCES):
        url = web.link(action, {"milestone": "account_created"})
        shown = await http.get(url)
        assert shown.status_code == 200 and "You are unsubscribed" in shown.text
        assert "<form" not in shown.text
        posted = await http.post(url, data={"until": future(9).isoformat(), "timezone": "Europe/Paris"})
        assert posted.status_code == 200 and "nothing to change here" in posted.text
    assert await intent_rows(db_pool) == recorded
    row = await participant_row(db_pool)
    assert row["paused_until"] is None and row["timezone"] == "America/New_York"


async def test_the_preferences_page_changes_how_emails_greet_the_participant(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    url = web.link(Action.PREFERENCES)
    page = (await http.get(url)).text
    assert 'name="greeting_name"' in page and "Greet me as" in page
    same = {"timezone": "America/New_York", "send_days": ["tue", "thu"], "send_time": "08:30"}
    saved = await http.post(url, data={**same, "greeting_name": "  Dr.  Okafor "})
    assert saved.status_code == 200, saved.text
    assert "Our emails will greet you as Dr. Okafor." in saved.text
    assert (await participant_row(db_pool))["greeting_name"] == "Dr. Okafor"
    assert await intent_rows(db_pool) == [], "contact data only: nothing for the journey"
    assert 'value="Dr. Okafor"' in (await http.get(url)).text
    cleared = await http.post(url, data={**same, "greeting_name": ""})
    assert "greet you by your first name" in cleared.text
    assert (await participant_row(db_pool))["greeting_name"] is None
    bad = await http.post(url, data={**same, "greeting_name": "Ada\u0007"})
    assert bad.status_code == 422 and "Greet me as" in bad.text
