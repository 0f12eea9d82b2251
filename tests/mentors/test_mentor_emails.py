"""A mentor's durable workflow on the time-skipping server, with a real worker, Postgres, mail sink and the
link web app: an amplify prompt at the next slot after a mentee's creator milestone, the weekly digest at
the mentor's local time (milestones, quiet mentees, one suggestion), nothing when there is no news, the
"I amplified it" link recorded on the mentee's journey and counted by the report, one-click unsubscribe."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import os
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain import Enroll, Persona, RecordMilestone
from domain.timing import WEEKDAYS, local_datetime
from infra.program_files import load_program
from infra.settings import Settings, load_settings
from steering import Journeys
from store.cohort_report import cohort_report
from store.mentors import mentor_id_for, sync_mentors
from tests.reports.journeys import run_journey, save
from web.app import create_app
from web.server import serve
from worker.devstack import MailSink, free_port
from worker.main import build_worker
from workflows.contract import JourneyInput, MentorInput, journey_id, mentor_workflow_id
from workflows.journey import JourneyWorkflow
from workflows.mentor import MentorWorkflow

REPO = Path(__file__).resolve().parents[2]
PROGRAM = load_program(REPO / "programs" / "medtwitter")
COHORT = "mfall"
MENTOR = "lee@mentors.org"
TZ = "America/Chicago"
HISTORY = REPO / "tests" / "histories" / "mentor-prompt-digest-unsubscribe.json"


def _mails(sink: MailSink) -> list[email.message.EmailMessage]:
    """The mentor's emails (Amara's journey, running for the link, may write to her too)."""
    out = []
    for path in sorted(sink.mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        if MENTOR in str(msg["To"]):
            out.append(msg)
    return out


def _text(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@contextlib.asynccontextmanager
async def _web(settings: Settings, pool: asyncpg.Pool, temporal: Client):
    stop = asyncio.Event()
    app = create_app(settings, pool=pool, journeys=Journeys(settings, temporal), retry_every=None)
    task = asyncio.create_task(serve(settings, stop=stop, app=app))
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{settings.base_url}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
        try:
            yield client
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def test_mentor_prompt_digest_amplified_link_and_unsubscribe(
    own_time_skipping_env: WorkflowEnvironment, database: str, mail_sink: MailSink, tmp_path: Path
) -> None:
    env = own_time_skipping_env
    port = free_port()
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=mail_sink.port,
        metrics_port=0,
        web_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        task_queue=f"mentor-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    now = await env.get_current_time()
    start = now - timedelta(weeks=5)
    await save(
        pool, COHORT, PROGRAM, start, [("amara", MENTOR), ("ben", MENTOR), ("cleo", "other@mentors.org")]
    )
    # Amara posted her first original post through an email link an hour ago; Ben never clicked.
    posted = RecordMilestone(command_id="link-a1-0", milestone_id="first_original_post")
    amara = await run_journey(
        pool, COHORT, "amara", PROGRAM, start, now, [(now - timedelta(hours=1), posted)]
    )
    await run_journey(pool, COHORT, "ben", PROGRAM, start, now)
    await run_journey(pool, COHORT, "cleo", PROGRAM, start, now)
    assert await sync_mentors(pool, COHORT) == 2
    # The digest on the weekday four days from now (local), at 07:15 in Chicago.
    digest_day = WEEKDAYS[(local_datetime(now, TZ) + timedelta(days=4)).weekday()]
    await pool.execute(
        "update mentors set timezone = $1, send_time = $2, digest_day = $3", TZ, time(7, 15), digest_day
    )
    mentor_id = mentor_id_for(MENTOR)
    wid = mentor_workflow_id(COHORT, mentor_id)
    async with build_worker(env.client, pool, settings), _web(settings, pool, env.client) as http:
        handle = await env.client.start_workflow(
            MentorWorkflow.run,
            MentorInput(cohort_id=COHORT, mentor_id=mentor_id),
            id=wid,
            task_queue=settings.task_queue,
        )
        await env.sleep(timedelta(days=1, hours=1))
        mails = _mails(mail_sink)
        assert len(mails) == 1, [m["Subject"] for m in mails]
        prompt = mails[0]
        assert prompt["To"] == f"lee <{MENTOR}>" and "Amara just posted" in prompt["Subject"]
        assert prompt["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        sent_at = local_datetime(prompt["Date"].datetime, TZ)
        text = _text(prompt)
        assert "Amara reached 'Published your first original post': amplify it" in text

        await env.sleep(timedelta(days=4))  # past the digest slot; the days between had no news
        mails = _mails(mail_sink)
        assert len(mails) == 2, [m["Subject"] for m in mails]
        digest = mails[1]
        assert digest["Subject"].startswith("Your mentees this week")
        body = _text(digest)
        assert "Dr. Amara Ñandú: reached: Published your first original post" in body
        assert "Dr. Ben Ñandú: has gone quiet (no click yet)" in body
        assert "Cleo" not in body  # not Lee's mentee
        assert "One thing to do: Amara reached 'Published your first original post': amplify it" in body
        rows = await pool.fetch(
            "select nudge_id, status, scheduled_at from send_ledger where recipient = 'mentor' "
            "order by scheduled_at"
        )
        assert [(r["nudge_id"], r["status"]) for r in rows] == [("amplify", "sent"), ("digest", "sent")]
        digest_local = local_datetime(rows[1]["scheduled_at"], TZ)
        assert (digest_local.strftime("%a %H:%M").lower()[:3], f"{digest_local:%H:%M}") == (
            digest_day,
            "07:15",
        )
        assert sent_at is not None

        # "I amplified it": GET shows a page and changes nothing; POST records it on Amara's journey.
        link = next(line for line in body.splitlines() if line.startswith("I amplified it: ")).split(": ", 1)[
            1
        ]
        assert (await http.get(link)).status_code == 200
        assert await pool.fetchval("select count(*) from journey_events where type = 'mentor_amplified'") == 0
        # The link acts on Amara's journey like every command: it runs for real from where it stood.
        wid_amara = journey_id(COHORT, "amara")
        folded = await pool.fetchval("select count(*) from journey_events where workflow_id = $1", wid_amara)
        enroll = Enroll(
            command_id="enroll",
            journey_id=wid_amara,
            program=PROGRAM.spec.name,
            timezone="America/New_York",
            personas=(Persona.CONSUMER,),
            start=start,
        )
        mentee = await env.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(
                cohort_id=COHORT,
                participant_id="amara",
                program=PROGRAM.spec,
                enroll=enroll,
                state=amara,
                events_folded=folded,
            ),
            id=wid_amara,
            task_queue=settings.task_queue,
        )
        for _ in range(2):  # twice: recorded once
            done = await http.post(link)
            assert done.status_code == 200 and "you amplified" in done.text
        row = await pool.fetchrow(
            "select participant_id, payload from journey_events where type = 'mentor_amplified'"
        )
        assert row is not None and row["participant_id"] == "amara"
        updates = [
            e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            for e in (await mentee.fetch_history()).events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]
        assert updates == ["record_amplified"]
        await mentee.terminate("test over")
        # The link was used on the wall clock, the journeys ran on the test server's (maybe far ahead).
        wall = datetime.now(UTC)
        since = (min(wall, start) - timedelta(days=7)).date()
        report = await cohort_report(pool, COHORT, now=max(wall, now) + timedelta(days=30), since=since)
        assert report is not None
        assert sum(w.clicks.get("amplified", 0) for w in report.weeks) == 1
        assert next(p for p in report.people if p.participant_id == "amara").amplified == 1

        # The mentor's own switches: digest off, prompts kept.
        prefs = next(line for line in body.splitlines() if line.startswith("Your mentor emails: ")).split(
            ": ", 1
        )[1]
        page = await http.get(prefs)
        assert page.status_code == 200 and 'value="weekly" id="digest" checked' in page.text
        saved = await http.post(prefs, data={"prompts": "on"})
        assert saved.status_code == 200 and "Weekly digest: off" in saved.text
        row = await pool.fetchrow("select digest, prompts from mentors where email = $1", MENTOR)
        assert row is not None and (row["digest"], row["prompts"]) == ("off", True)

        # The next week has nothing new but Ben's silence: still a digest; after one-click unsubscribe, none.
        unsubscribe = digest["List-Unsubscribe"].strip("<>")
        one_click = await http.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200
        assert await pool.fetchval("select unsubscribed_at is not null from mentors where email = $1", MENTOR)
        await env.sleep(timedelta(days=8))
        assert len(_mails(mail_sink)) == 2
        # Ids only in Temporal: no name or address of the mentor or the mentees in the history.
        raw = (await handle.fetch_history()).to_json()
        if os.environ.get("MENTORFLOW_RECORD_HISTORIES") == "1":  # the committed set CI replays
            HISTORY.write_text(raw)
        # Payloads are base64 in the JSON: read them decoded too.
        decoded = [
            base64.b64decode(d).decode("utf-8", "replace") for d in re.findall(r'"data": ?"([^"]+)"', raw)
        ]
        assert any(mentor_id in d for d in decoded)  # the ids are there, readable
        history = raw + "".join(decoded)
        for secret in (MENTOR, "Amara", "Ñandú", "amara@example.org", "lee <"):
            assert secret not in history, secret
        await handle.terminate("test over")
    await pool.close()
