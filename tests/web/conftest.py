"""Fixtures for the participant links: a cohort in Postgres, the web app on a free port, signed links.

Everything is real: the app is uvicorn serving `web.app` on 127.0.0.1:<free port>, backed by this test's
Postgres database and the session's Temporal dev server.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from domain import JourneyView
from domain.program import Program
from domain.roster import RosterConference
from infra.links import Action, link_url, sign_link
from infra.program_files import load_program
from infra.settings import Settings
from steering import Journeys
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from web.app import create_app
from web.server import serve
from worker.devstack import free_port
from workflows import search_attributes as sa

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "programs" / "medtwitter"
PARTICIPANT = "p1"


class _Ids:
    """This test's cohort: tests share the Temporal server, and a journey an earlier test completed must
    not stand for this test's (the steering service settles commands for a completed journey for good)."""

    cohort = "web1"

    @property
    def workflow_id(self) -> str:
        return f"journey-{self.cohort}~{PARTICIPANT}"


IDS = _Ids()


@pytest.fixture(scope="session")
def program() -> Program:
    return load_program(PROGRAM_DIR)


@pytest.fixture
async def cohort(db_pool: asyncpg.Pool, program: Program) -> str:
    """One participant in Postgres (no journey yet), in a cohort of this test's own; its workflow id."""
    IDS.cohort = f"web-{uuid.uuid4().hex[:8]}"
    await save_cohort(db_pool, IDS.cohort, program, datetime.now(UTC).date())
    await save_participants(
        db_pool,
        IDS.cohort,
        [
            ParticipantRecord(
                participant_id=PARTICIPANT,
                name="Ada Okafor",
                email="ada@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
            )
        ],
    )
    return IDS.workflow_id


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    port = free_port()
    return settings.model_copy(update={"web_port": port, "public_base_url": f"http://127.0.0.1:{port}"})


@dataclass
class RunningWeb:
    settings: Settings
    base_url: str

    def link(self, action: Action, args: dict[str, str] | None = None, *, now: datetime | None = None) -> str:
        secret = self.settings.link_secret.get_secret_value()
        token = sign_link(secret, IDS.workflow_id, action, args, now=now or datetime.now(UTC))
        return link_url(self.base_url, action, token)


@pytest.fixture
async def web(web_settings: Settings, db_pool: asyncpg.Pool) -> AsyncIterator[RunningWeb]:
    """The app served by uvicorn on a free port, in this event loop; no background retry loop."""
    stop = asyncio.Event()
    app = create_app(web_settings, pool=db_pool, journeys=Journeys(web_settings), retry_every=None)
    task = asyncio.create_task(serve(web_settings, stop=stop, app=app))
    base = f"http://127.0.0.1:{web_settings.web_port}"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.05)
    yield RunningWeb(web_settings, base)
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client that never follows redirects and keeps no cookies, like a mail provider's POST."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
        yield client


async def participant_row(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "select * from participants where cohort_id = $1 and participant_id = $2", IDS.cohort, PARTICIPANT
    )
    assert row is not None
    return row


async def status_row(pool: asyncpg.Pool) -> asyncpg.Record:
    """The journey's projection: where its preferences are read from once it runs."""
    row = await pool.fetchrow(
        "select * from journey_status where cohort_id = $1 and participant_id = $2", IDS.cohort, PARTICIPANT
    )
    assert row is not None
    return row


async def intent_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("select * from participant_intents order by created_at, step"))


def future(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


Signer = Callable[..., str]


@pytest.fixture
async def worker(web_settings: Settings) -> AsyncIterator[None]:
    """The real worker, in-process, on this test's task queue (emails link to this test's web app)."""
    from worker.main import run_worker

    stop = asyncio.Event()
    # These tests deliver pending intents themselves (Steering.deliver_due), as the app's loop is off.
    task = asyncio.create_task(run_worker(web_settings, stop=stop, retry_every=None))
    await asyncio.sleep(0)
    yield
    stop.set()
    await asyncio.wait_for(task, 30)


async def start_journey(
    client: Client,
    settings: Settings,
    program: Program,
    workflow_id: str | None = None,
    conferences: tuple[RosterConference, ...] = (),
) -> WorkflowHandle[Any, Any]:
    from domain import Enroll
    from domain.enrolment import roster_conference_command
    from workflows.journey import JourneyInput, JourneyWorkflow

    workflow_id = workflow_id or IDS.workflow_id
    cohort_id, participant_id = IDS.cohort, workflow_id.removeprefix(f"journey-{IDS.cohort}~")
    data = JourneyInput(
        cohort_id=cohort_id,
        participant_id=participant_id,
        program=program.spec,
        enroll=Enroll(
            command_id="enroll",
            journey_id=workflow_id,
            program=program.spec.name,
            timezone="America/New_York",
            send_days=("tue", "thu"),
            start=datetime.now(UTC) - timedelta(minutes=1),
        ),
        conferences=[roster_conference_command(c) for c in conferences],
    )
    # As the cohort launch starts it: the operator's summary and the cohort search attribute.
    return await client.start_workflow(
        JourneyWorkflow.run,
        data,
        id=workflow_id,
        task_queue=settings.task_queue,
        static_summary=f"participant {participant_id} · cohort {cohort_id} · program {program.spec.name}",
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(sa.COHORT, cohort_id), SearchAttributePair(sa.PROGRAM, program.spec.name)]
        ),
    )


@pytest.fixture
async def journey(
    temporal_env: WorkflowEnvironment, web_settings: Settings, program: Program, cohort: str, worker: None
) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """The participant's journey, running on the dev server with the in-process worker."""
    handle = await start_journey(temporal_env.client, web_settings, program)
    await wait_enrolled(handle)
    yield handle
    with contextlib.suppress(Exception):
        await handle.terminate("test over")


async def view(handle: WorkflowHandle[Any, Any]) -> JourneyView:
    from workflows.journey import JourneyWorkflow

    result: JourneyView = await handle.query(JourneyWorkflow.view)
    return result


async def wait_enrolled(handle: WorkflowHandle[Any, Any]) -> None:
    """Emails (and so links) exist only once the journey has enrolled; wait for that first step."""
    from domain import Mode

    for _ in range(200):
        if (await view(handle)).mode is not Mode.NOT_ENROLLED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not enroll")
