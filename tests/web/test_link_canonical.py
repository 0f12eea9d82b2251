"""One link, one spelling; replay protection keyed on what a link means; small, timely request bodies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from infra.links import Action, LinkError, is_canonical, link_url, sign_link, verify_link
from store.intents import action_id_for
from tests.web.conftest import RunningWeb, intent_rows
from web import server

SECRET = "a-test-secret-that-is-long-enough"
WORKFLOW_ID = "journey-c1~p1"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _same_bytes_other_spelling(token: str) -> str:
    """The token with its last character swapped for one that decodes to the same bytes (it differs only
    in the unused low bits): what the lenient decoder accepted."""
    last = token[-1]
    index = _B64.index(last)
    unused = {2: 0b1111, 3: 0b11}.get(len(token.rsplit(".", 1)[1]) % 4, 0)
    assert unused, "the signature has no unused bits"
    twin = _B64[(index & ~unused) | ((index + 1) & unused)]
    return token[:-1] + twin


def _variants(token: str) -> list[str]:
    return [token + "=", token + "==", token + "é", _same_bytes_other_spelling(token), " " + token]


def test_only_the_canonical_spelling_verifies() -> None:
    token = sign_link(SECRET, WORKFLOW_ID, Action.SNOOZE, {"weeks": "2"}, now=NOW)
    assert is_canonical(token)
    verify_link(SECRET, token, Action.SNOOZE, now=NOW)
    for variant in _variants(token):
        assert not is_canonical(variant), variant
        with pytest.raises(LinkError):
            verify_link(SECRET, variant, Action.SNOOZE, now=NOW)


def test_the_replay_key_is_what_the_link_means_not_its_bytes() -> None:
    old, new = "an-old-secret-that-was-rotated-out", SECRET
    a = sign_link(old, WORKFLOW_ID, Action.SNOOZE, {"weeks": "2"}, now=NOW)
    b = sign_link(new, WORKFLOW_ID, Action.SNOOZE, {"weeks": "2"}, now=NOW)
    assert a != b  # two spellings of one link (the same email, before and after a key rotation)
    ca, cb = (verify_link([new, old], t, Action.SNOOZE, now=NOW) for t in (a, b))
    assert action_id_for(ca.meaning(), {"weeks": "2"}) == action_id_for(cb.meaning(), {"weeks": "2"})
    other = verify_link(
        new, sign_link(new, WORKFLOW_ID, Action.SNOOZE, {"weeks": "4"}, now=NOW), Action.SNOOZE
    )
    assert action_id_for(other.meaning(), {}) != action_id_for(ca.meaning(), {})


async def test_variants_of_one_snooze_link_make_one_pause(
    web: RunningWeb, http: httpx.AsyncClient, db_pool: asyncpg.Pool, cohort: str
) -> None:
    url = web.link(Action.SNOOZE, {"weeks": "2"})
    token = url.rsplit("/", 1)[1]
    ok = await http.post(url, data={})
    assert ok.status_code in (200, 202), ok.status_code  # 202: recorded, the journey hears it later
    for variant in [*_variants(token)[:4], token + "%C3%A9"]:
        got = await http.post(link_url(web.base_url, Action.SNOOZE, variant), data={})
        assert got.status_code == 400, (variant, got.status_code)
    pauses = [i for i in await intent_rows(db_pool) if json.loads(i["command"])["type"] == "pause"]
    assert len(pauses) == 1


async def _raw(port: int, request: bytes, *, then: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if then:
            writer.write(then)
            await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()


async def test_a_huge_body_is_refused_before_it_is_read(web: RunningWeb, cohort: str) -> None:
    path = web.link(Action.SNOOZE, {"weeks": "2"}).split(web.base_url, 1)[1]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
    ).encode()
    # Only the headers and 1 KB are sent: the answer comes without waiting for the other 200 MB.
    reply = await _raw(web.settings.web_port, head, then=b"a" * 1024)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    chunked = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (8192, b"a" * 8192)
    reply = await _raw(web.settings.web_port, chunked, then=chunk * 4)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


async def test_a_stalled_body_times_out(
    web: RunningWeb, cohort: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "BODY_READ_TIMEOUT_SECONDS", 0.5)
    path = web.link(Action.SNOOZE, {"weeks": "2"}).split(web.base_url, 1)[1]
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nweeks=".encode()
    reply = await _raw(web.settings.web_port, head)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
