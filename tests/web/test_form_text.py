"""Text posted from the web forms follows the same rules as the roster: one line, no control characters."""

from __future__ import annotations

import asyncpg
import httpx

from infra.links import Action
from tests.web.conftest import RunningWeb, future, intent_rows


async def test_a_conference_name_with_a_line_break_is_refused_and_nothing_is_recorded(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    start, end = future(20).isoformat(), future(22).isoformat()
    conference = {"name": "ASCO\r\nBcc: x", "starts_on": start, "ends_on": end, "timezone": ""}
    refused = await http.post(web.link(Action.CONFERENCE), data=conference)
    assert refused.status_code == 422, refused.status_code
    assert "control character" in refused.text
    prefs = {
        "timezone": "America/New_York",
        "send_days": ["tue", "thu"],
        "send_time": "08:30",
        "conf_name": "Kidney\nWeek",
        "conf_starts_on": start,
        "conf_ends_on": end,
    }
    refused = await http.post(web.link(Action.PREFERENCES), data=prefs)
    assert refused.status_code == 422, refused.status_code
    assert "control character" in refused.text
    assert await intent_rows(db_pool) == []
