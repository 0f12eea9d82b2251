"""Real headless Chromium (Debian's /usr/bin/chromium, Playwright): what participants and operators see."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright, expect
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.send_nudge import send_nudge
from domain import Mode
from domain.program import Program
from infra.links import Action
from infra.settings import Settings
from store.programs import ProgramCache
from tests.web.conftest import (
    IDS,
    RunningWeb,
    future,
    intent_rows,
    participant_row,
    start_journey,
    view,
    wait_enrolled,
)
from worker.devstack import MailSink, free_port, temporal_cli
from worker.main import run_worker
from workflows.contract import SendNudgeInput, SendStatus
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), "install Debian's chromium: apt-get install -y chromium chromium-driver"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_participant_clicks_a_milestone_link_from_the_email_and_confirms(
    browser: Browser,
    web: RunningWeb,
    web_settings: Settings,
    db_pool: asyncpg.Pool,
    mail_sink: MailSink,
    journey: WorkflowHandle[Any, Any],
) -> None:
    # The welcome email, rendered and sent by the real sender to the sink, with links to this app.
    sent = await send_nudge(
        web_settings,
        db_pool,
        ProgramCache(),
        SendNudgeInput(
            workflow_id=journey.id,
            cohort_id=IDS.cohort,
            participant_id="p1",
            nudge_id="welcome",
            nudge_key="welcome",
            kind="welcome",
            scheduled_at=datetime.now(UTC),
        ),
    )
    assert sent.status is SendStatus.SENT
    [path] = mail_sink.messages()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]

    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    await page.set_content(html)
    await page.get_by_role("link", name="I did this: Created an account with a professional profile").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Record a milestone")
    assert page.url.startswith(f"{web.base_url}/a/milestone/")
    assert list((await view(journey)).milestones) == [], "opening the link changed nothing"

    confirm = page.get_by_role("button", name="Yes, I did this")
    await confirm.focus()
    outline = await confirm.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid", "focus is visible"
    await confirm.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Done")
    await expect(page.get_by_text("Recorded: Created an account with a professional profile")).to_be_visible()
    assert list((await view(journey)).milestones) == ["account_created"]
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no sideways scrolling on a phone"


async def test_participant_sets_a_snooze_in_preferences(
    browser: Browser, web: RunningWeb, db_pool: asyncpg.Pool, journey: WorkflowHandle[Any, Any]
) -> None:
    page = await browser.new_page()
    await page.goto(web.link(Action.PREFERENCES))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    until = future(12)
    await page.get_by_label("Snooze until (optional)").fill(until.isoformat())
    await page.get_by_role("button", name="Save preferences").click()
    await expect(page.get_by_text("Your preferences are saved.")).to_be_visible()

    journey_view = await view(journey)
    assert journey_view.mode is Mode.PAUSED
    paused = (await participant_row(db_pool))["paused_until"]
    assert journey_view.paused_until == paused
    local = paused.astimezone(ZoneInfo("America/New_York"))
    assert local.date() == until and (local.hour, local.minute) == (0, 0)

    # Back on the preferences page, the snooze is shown.
    await page.goto(web.link(Action.PREFERENCES))
    day = f"{local:%A} {local.day} {local:%B %Y}"
    await expect(page.get_by_text(f"We will not email you until {day} (New York time).")).to_be_visible()


@pytest.fixture
async def temporal_with_ui() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        ui=True,
        ui_port=ui_port,
    )
    try:
        yield env, ui_port
    finally:
        await env.shutdown()


async def test_operator_finds_the_journey_in_the_temporal_ui_by_cohort(
    browser: Browser,
    temporal_with_ui: tuple[WorkflowEnvironment, int],
    web_settings: Settings,
    program: Program,
    cohort: str,
) -> None:
    env, ui_port = temporal_with_ui
    settings = web_settings.model_copy(
        update={"temporal_address": env.client.service_client.config.target_host}
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop, client=env.client))
    try:
        handle = await start_journey(env.client, settings, program)
        await wait_enrolled(handle)
        page = await browser.new_page()
        query = quote(f'MentorflowCohort="{IDS.cohort}"')
        await page.goto(f"http://127.0.0.1:{ui_port}/namespaces/default/workflows?query={query}")
        link = page.get_by_role("link", name=IDS.workflow_id)
        await expect(link).to_be_visible(timeout=30_000)
        await link.click()
        # The journey's page: its summary and current details sit under "User Metadata".
        await page.get_by_role("tab", name="User Metadata").click()
        summary = f"participant p1 · cohort {IDS.cohort} · program medtwitter"
        # The UI renders each as Markdown in its own iframe: the static summary, then the current details.
        frames = page.locator("iframe")
        await expect(frames.first.content_frame.get_by_text(summary)).to_be_visible(timeout=30_000)
        details = frames.nth(1).content_frame
        await expect(details.get_by_text("Mode:")).to_be_visible()
        await expect(details.get_by_text("active").first).to_be_visible()
        await handle.terminate("test over")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)


async def test_on_a_phone_a_mistake_takes_the_focus_and_the_time_zone_is_picked_from_a_list(
    browser: Browser, web: RunningWeb, db_pool: asyncpg.Pool, cohort: str
) -> None:
    page = await browser.new_page(viewport={"width": 375, "height": 740})
    await page.goto(web.link(Action.CONFERENCE))
    await page.get_by_label("Conference name").fill("ESMO")
    await page.get_by_label("First day").fill(future(20).isoformat())
    await page.get_by_label("Last day").fill(future(10).isoformat())
    await page.get_by_role("button", name="Tell the program").click()
    await expect(page.get_by_role("alert")).to_contain_text("Last day: the conference ends before it starts.")
    focused = await page.evaluate("document.activeElement.id")
    assert focused == "ends_on", "the field to fix has the focus"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375

    await page.goto(web.link(Action.PREFERENCES))
    zone_list = page.get_by_label("Time zone", exact=True)
    assert await zone_list.evaluate("el => el.tagName") == "SELECT"
    await zone_list.select_option("Europe/Lisbon")
    await page.get_by_role("button", name="Save preferences").click()
    await expect(page.get_by_text("Lisbon time")).to_be_visible()
    schedule = [json.loads(i["command"]) for i in await intent_rows(db_pool)]
    assert [c.get("timezone") for c in schedule if c["type"] == "change_schedule"] == ["Europe/Lisbon"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
