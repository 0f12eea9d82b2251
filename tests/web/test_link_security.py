"""Security properties of the participant links, over HTTP against the served app and a real Postgres.

Each test would fail if the property broke: a token moved to another journey, a method that must not act,
a redirect (open or otherwise), an external asset, or a conference name that runs as script.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from html.parser import HTMLParser
from typing import Any

import asyncpg
import httpx
from itsdangerous.encoding import base64_decode, base64_encode
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain import JourneyView
from infra.links import Action, link_url, sign_link
from store.cohorts import ParticipantRecord, save_participants
from tests.web.conftest import IDS, RunningWeb, future, intent_rows, participant_row, view
from web.mentors import MENTOR_ACTIONS
from web.pages import SECURITY_HEADERS

CSP = SECURITY_HEADERS["Content-Security-Policy"]


async def _everything(pool: asyncpg.Pool) -> tuple[object, ...]:
    participants = await pool.fetch("select * from participants order by participant_id")
    return ([dict(r) for r in participants], [dict(r) for r in await intent_rows(pool)])


def _with_payload_of(token: str, other: str) -> str:
    """`token`'s signature on `other`'s payload: what someone editing the journey id in a link produces."""
    return other.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]


def _payload(token: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(base64_decode(token.rsplit(".", 1)[0]))
    return data


async def test_a_token_cannot_be_moved_to_another_journey(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    await save_participants(
        db_pool,
        IDS.cohort,
        [
            ParticipantRecord(
                participant_id="p2",
                name="Bea Lind",
                email="bea@example.org",
                timezone="Europe/Stockholm",
                send_days=["mon"],
                send_time=time(9, 0),
            )
        ],
    )
    before = await _everything(db_pool)
    secret = web.settings.link_secret.get_secret_value()
    now = datetime.now(UTC)
    mine = sign_link(secret, f"journey-{IDS.cohort}~p1", Action.UNSUBSCRIBE, now=now)
    # Edit the journey id inside p1's token (payload re-encoded, p1's signature kept).
    edited = _payload(mine) | {"workflow_id": f"journey-{IDS.cohort}~p2"}
    payload = base64_encode(json.dumps(edited, separators=(",", ":"))).decode()
    forged = payload + "." + mine.rsplit(".", 1)[1]
    theirs = sign_link(secret, f"journey-{IDS.cohort}~p2", Action.UNSUBSCRIBE, now=now)
    spliced = _with_payload_of(mine, theirs)  # p2's payload under p1's signature
    for token in (forged, spliced):
        url = link_url(web.base_url, Action.UNSUBSCRIBE, token)
        got = await http.post(url, data={"List-Unsubscribe": "One-Click"})
        assert got.status_code == 400, got.text
        assert "Nothing was changed" in got.text
    assert await _everything(db_pool) == before

    # The genuine token for p2 acts on p2 only.
    ok = await http.post(link_url(web.base_url, Action.UNSUBSCRIBE, theirs), data={"x": "y"})
    assert ok.status_code == 200
    rows = {
        r["participant_id"]: r["unsubscribed_at"] for r in await db_pool.fetch("select * from participants")
    }
    assert rows["p2"] is not None and rows["p1"] is None


async def test_every_action_swap_is_refused(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    before = await _everything(db_pool)
    for signed_for in Action:
        token = web.link(signed_for, {"milestone": "account_created", "persona": "creator"}).rsplit("/", 1)[1]
        for used_as in Action:
            if used_as is signed_for:
                continue
            got = await http.post(
                f"{web.base_url}/a/{used_as.value}/{token}", data={"until": future(9).isoformat()}
            )
            assert got.status_code == 400, (signed_for, used_as)
    assert await _everything(db_pool) == before


async def test_only_post_on_a_full_link_acts(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    before = await _everything(db_pool)
    url = web.link(Action.UNSUBSCRIBE)
    for path in ("/a/unsubscribe", "/a/unsubscribe/", "/a/", "/a", "/", "/unsubscribe"):
        got = await http.post(web.base_url + path, data={"List-Unsubscribe": "One-Click"})
        assert got.status_code in (404, 405), (path, got.status_code)
    for method in ("PUT", "DELETE", "PATCH"):
        got = await http.request(method, url, data={"List-Unsubscribe": "One-Click"})
        assert got.status_code == 405 and "POST" in got.headers["allow"], method
        assert got.headers["content-security-policy"] == CSP
    for method in ("GET", "HEAD", "OPTIONS"):
        await http.request(method, url)
        await http.request(method, url + "?List-Unsubscribe=One-Click")
    assert await _everything(db_pool) == before
    assert (await participant_row(db_pool))["unsubscribed_at"] is None


async def test_no_redirects_whatever_the_host_header_or_path(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    link = web.link(Action.UNSUBSCRIBE)
    token_path = link.removeprefix(web.base_url)
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    for method, path in (
        ("GET", token_path + "/"),
        ("GET", "/healthz/"),
        ("GET", "//evil.example/"),
        ("GET", "/a/milestone/x/?next=https://evil.example/"),
        ("HEAD", token_path + "/"),
    ):
        got = await http.request(method, web.base_url + path, headers=evil)
        assert not got.is_redirect and "location" not in got.headers, (method, path, got.status_code)
    # A link with a slash added by a mail client still works, with no redirect (RFC 8058).
    got = await http.post(
        link + "/",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", **evil},
    )
    assert got.status_code == 200 and "location" not in got.headers and "set-cookie" not in got.headers
    assert (await participant_row(db_pool))["unsubscribed_at"] is not None


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.attrs: set[str] = set()
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        self.attrs |= {name for name, _ in attrs}
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def _assert_self_contained(response: httpx.Response, base_url: str) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    html = response.text
    urls = re.findall(r"https?://[^\s\"'<>]+", html)
    assert all(u.startswith(base_url + "/") for u in urls), urls
    # Parsed as a browser would: no element that loads anything, no attribute that does.
    tags = _Tags()
    tags.feed(html)
    assert not tags.seen & {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source"}
    assert not tags.attrs & {"src", "srcset", "background", "poster"}
    assert not any(a.startswith("on") for a in tags.attrs), "no event handler attributes"
    assert "url(" not in tags.style and "@import" not in tags.style


async def test_every_page_is_self_contained_under_a_strict_csp(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    pages = [
        await http.get(web.link(a, {"milestone": "account_created", "persona": "creator"}))
        for a in Action
        if a not in MENTOR_ACTIONS  # a mentor's links sign a mentor's workflow (tests/mentors)
    ]
    token = web.link(Action.SNOOZE).rsplit("/", 1)[1]
    pages += [
        await http.get(f"{web.base_url}/a/snooze/{token[:-3]}xyz"),  # 400
        await http.get(f"{web.base_url}/nowhere"),  # 404
        await http.put(web.link(Action.SNOOZE)),  # 405
        await http.post(web.link(Action.SNOOZE), data={"until": "2001-01-01"}),  # 422
        await http.post(web.link(Action.SNOOZE)),  # 202: recorded, no journey running
        await http.post(web.link(Action.UNSUBSCRIBE)),  # 200
        await http.get(web.link(Action.PREFERENCES)),  # the unsubscribed page
    ]
    participant_pages = len(Action) - len(MENTOR_ACTIONS)
    assert [p.status_code for p in pages] == [200] * participant_pages + [400, 404, 405, 422, 202, 200, 200]
    for page in pages:
        _assert_self_contained(page, web.base_url)


async def test_what_a_participant_types_is_shown_inert(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    script = "<script>alert(1)</script>"
    attr = '"><img src=x onerror=alert(1)>'
    # A form error re-shows what was typed: escaped, in the value attribute.
    shown = await http.post(
        web.link(Action.CONFERENCE),
        data={
            "name": script,
            "hashtag": attr,
            "starts_on": future(20).isoformat(),
            "ends_on": future(21).isoformat(),
        },
    )
    assert shown.status_code == 422 and "Hashtag: no spaces" in shown.text
    # Accepted (recorded while no journey runs), then listed on the preferences page.
    told = await http.post(
        web.link(Action.CONFERENCE),
        data={"name": script, "starts_on": future(20).isoformat(), "ends_on": future(21).isoformat()},
    )
    assert told.status_code == 202
    listed = await http.get(web.link(Action.PREFERENCES))
    for page in (shown, told, listed):
        assert "<script" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        _assert_self_contained(page, web.base_url)


async def test_get_and_head_leave_postgres_and_the_running_journey_unchanged(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    """What a mail scanner does: fetch every link of an email, with and without the one-click body."""
    before_rows = await _everything(db_pool)
    before = _wishes(await view(journey))
    args = {"milestone": "account_created", "persona": "creator"}
    for action in Action:
        if action in MENTOR_ACTIONS:
            continue  # a mentor's links (tests/mentors)
        url = web.link(action, args)
        for method in ("GET", "HEAD"):
            got = await http.request(method, url + "?List-Unsubscribe=One-Click")
            assert got.status_code == 200, (action, method)
    assert await _everything(db_pool) == before_rows
    # The journey goes on by itself (its welcome email), but nothing a participant asks for happened.
    assert _wishes(await view(journey)) == before
    acted = await db_pool.fetchval(
        "select count(*) from journey_events where workflow_id = $1 and type = any($2)",
        journey.id,
        list(_PARTICIPANT_EVENTS),
    )
    assert acted == 0
    updates = [
        e
        async for e in journey.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert updates == [], "no update reached the journey"


_PARTICIPANT_EVENTS = (
    "persona_adopted",
    "persona_dropped",
    "milestone_achieved",
    "conference_added",
    "paused",
    "resumed",
    "schedule_changed",
    "unsubscribed",
)


def _wishes(v: JourneyView) -> tuple[object, ...]:
    return (v.mode, list(v.milestones), list(v.personas), v.paused_until, list(v.upcoming_bursts))
