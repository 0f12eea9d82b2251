"""The preferences form moves the journey's schedule: the next email goes at the new local time and day."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import WorkflowHandle

from domain import Persona
from domain.timing import local_datetime
from infra.links import Action
from tests.cli.stack import cli
from tests.web.conftest import RunningWeb, intent_rows, status_row, view


async def test_preferences_form_moves_the_journeys_next_send(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    before = await view(journey)
    assert before.next_nudge_at is not None
    assert local_datetime(before.next_nudge_at, "America/New_York").strftime("%a %H:%M") in (
        "Tue 08:30",
        "Thu 08:30",
    )
    url = web.link(Action.PREFERENCES)
    form = {"timezone": "Asia/Kolkata", "send_days": ["mon", "wed"], "send_time": "07:00", "personas": []}
    saved = await http.post(url, data=form)
    assert saved.status_code == 200, saved.text
    assert "Your preferences are saved." in saved.text

    # The journey's projection (what pages read) holds the new schedule.
    row = await status_row(db_pool)
    assert (row["timezone"], list(row["send_days"]), f"{row['send_time']:%H:%M}") == (
        "Asia/Kolkata",
        ["mon", "wed"],
        "07:00",
    )
    schedule = [
        i for i in await intent_rows(db_pool) if json.loads(i["command"])["type"] == "change_schedule"
    ]
    assert [i["status"] for i in schedule] == ["applied"]
    after = await view(journey)
    assert after.next_nudge_at is not None
    assert local_datetime(after.next_nudge_at, "Asia/Kolkata").strftime("%a %H:%M") in (
        "Mon 07:00",
        "Wed 07:00",
    )

    # The same schedule again changes nothing: no new intent, and the journey is not asked.
    again = await http.post(url, data={**form, "snooze_until": ""})
    assert again.status_code == 200, again.text
    assert (
        len([i for i in await intent_rows(db_pool) if json.loads(i["command"])["type"] == "change_schedule"])
        == 1
    )
    assert (await view(journey)).next_nudge_at == after.next_nudge_at


async def test_personas_changed_from_the_cli_show_on_the_preferences_page(
    web: RunningWeb,
    http: httpx.AsyncClient,
    db_pool: asyncpg.Pool,
    journey: WorkflowHandle[Any, Any],
    tmp_path: Path,
) -> None:
    url = web.link(Action.PREFERENCES)
    assert _ticked(await http.get(url), "creator") is False
    adopted = await cli(web.settings, "participant", "persona", "p1", "adopt", "creator", cwd=tmp_path)
    assert adopted.returncode == 0, adopted.stderr
    assert Persona.CREATOR in (await view(journey)).personas
    # The page reads the journey's projection: the staff change shows, as a participant's would.
    assert _ticked(await http.get(url), "creator") is True
    dropped = await cli(web.settings, "participant", "persona", "p1", "drop", "creator", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    assert _ticked(await http.get(url), "creator") is False


def _ticked(page: httpx.Response, persona: str) -> bool:
    assert page.status_code == 200, page.text
    match = re.search(rf'<input type="checkbox" name="personas" value="{persona}"[^>]*>', page.text)
    assert match is not None, page.text
    return " checked" in match.group(0)
