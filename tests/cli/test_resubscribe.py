"""`participant resubscribe`: the participant's consent lifts an unsubscribe (issue 14, section 6)."""

from __future__ import annotations

import json

import asyncpg

from cli.errors import EXIT_INVALID
from domain import Unsubscribe
from store.intents import find_participant, record_action
from tests.cli.stack import cli, worker
from tests.cli.test_steer import _journey, _launch
from workflows.contract import journey_id

CONSENT = "Replied to the recap email on 2026-12-01: 'please keep writing to me'"


async def test_resubscribe_before_the_unsubscribe_reached_the_journey_keeps_it_running(
    settings, temporal_env, tmp_path, database
):
    async with worker(settings):
        await _launch(settings, tmp_path, "rs1", 1)
        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            # The participant's unsubscribe link was recorded, but the journey has not heard of it yet.
            wid = journey_id("rs1", "p0000")
            participant = await find_participant(pool, wid)
            assert participant is not None
            await record_action(
                pool, participant, "unsubscribe", "link-unsub", [Unsubscribe(command_id="unsub")]
            )
            assert await pool.fetchval("select unsubscribed_at from participants") is not None

            done = await cli(
                settings,
                "participant",
                "resubscribe",
                "p0000",
                "--consent",
                CONSENT,
                "--by",
                "Ana (program staff)",
                "--json",
                cwd=tmp_path,
            )
            assert done.returncode == 0, done.stderr
            out = json.loads(done.stdout)
            assert out["journey"] == "running" and out["mode"] == "active"
            # Postgres: the consent (who, what, the unsubscribe it lifted); the sender writes again.
            row = await pool.fetchrow("select * from participant_consents")
            assert row is not None
            assert (row["consent_id"], row["consent"], row["recorded_by"], row["kind"]) == (
                out["consent_id"],
                CONSENT,
                "Ana (program staff)",
                "resubscribe",
            )
            assert row["unsubscribed_at"] is not None and row["recorded_at"] is not None
            assert await pool.fetchval("select unsubscribed_at from participants") is None
            # The unsubscribe on its way is withdrawn, so no retry ends the journey after the consent.
            intents = await pool.fetch(
                "select command->>'type' as type, status, code from participant_intents order by created_at"
            )
            assert [tuple(r) for r in intents] == [
                ("unsubscribe", "rejected", "withdrawn"),
                ("resubscribe", "applied", None),
            ]
            # The journey records it by the consent's id only (no words of the consent in Temporal).
            event = await pool.fetchrow("select payload from journey_events where type = 'resubscribed'")
            assert event is not None
            payload = json.loads(event["payload"])
            assert payload["consent_id"] == out["consent_id"] and "keep writing" not in event["payload"]
        finally:
            await pool.close()
        assert (await _journey(settings, tmp_path, "p0000"))["mode"] == "active"


async def test_resubscribe_after_the_journey_ended_records_consent_and_says_no_journey_restarts(
    settings, temporal_env, tmp_path, database
):
    async with worker(settings):
        await _launch(settings, tmp_path, "rs2", 1)
        # Nothing to lift yet: refused on one line, nothing recorded.
        early = await cli(settings, "participant", "resubscribe", "p0000", "--consent", CONSENT, cwd=tmp_path)
        assert early.returncode == EXIT_INVALID and "is not unsubscribed" in early.stderr
        gone = await cli(settings, "participant", "unsubscribe", "p0000", cwd=tmp_path)
        assert gone.returncode == 0, gone.stderr
        broken = await cli(
            settings, "participant", "resubscribe", "p0000", "--consent", "yes\nBcc: x", cwd=tmp_path
        )
        assert (
            broken.returncode == EXIT_INVALID and "--consent: contains a control character" in broken.stderr
        )
        done = await cli(settings, "participant", "resubscribe", "p0000", "--consent", CONSENT, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "no new journey starts automatically" in done.stderr
        assert "Traceback" not in done.stderr
        # Staff see it where they look: who recorded it, when, how the participant asked.
        shown = await cli(settings, "participant", "show", "p0000", "--json", cwd=tmp_path)
        [consent] = json.loads(shown.stdout)["consents"]
        assert consent["consent"] == CONSENT and consent["recorded_by"] and consent["unsubscribed_at"]
        table = await cli(settings, "participant", "show", "p0000", cwd=tmp_path)
        assert "Consents" in table.stderr and "Traceback" not in table.stderr
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("select count(*) from participant_consents") == 1
        assert await conn.fetchval("select unsubscribed_at from participants") is None
        # The journey's truth is unchanged: it ended with the unsubscribe.
        assert await conn.fetchval("select mode from journey_status") == "unsubscribed"
        assert await conn.fetchval("select count(*) from journey_events where type = 'resubscribed'") == 0
    finally:
        await conn.close()
