"""The cohort report's HTML page in real headless Chromium: it renders its charts, logs no error, and
fetches nothing."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright

from cli.report_html import render_html
from store.cohort_report import cohort_report
from tests.reports.test_cohort_report import COHORT, seed
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_report_page_renders_charts_without_errors_or_requests(
    browser: Browser, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    await seed(db_pool, now)
    report = await cohort_report(db_pool, COHORT, now=now)
    assert report is not None
    path = tmp_path / "report.html"
    path.write_text(render_html(report), encoding="utf-8")

    page = await browser.new_page(viewport={"width": 1200, "height": 800})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    await page.goto(path.as_uri())
    assert problems == []
    assert requests == [path.as_uri()]  # the page itself and nothing else

    funnel = page.get_by_role("img", name="milestone funnel consumer")
    assert await funnel.count() == 1
    box = await funnel.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 20
    modes = page.get_by_role("img", name="participants by mode per week")
    assert await modes.locator("rect").count() >= 7  # at least one bar per week
    assert await page.locator("table.attention tr", has_text="bo@mentors.org").count() == 1

    shot = await page.screenshot(full_page=True)
    width, height = png_size(shot)
    assert width == 1200 and 800 <= height <= 20_000
    assert len(shot) > 20_000  # charts and tables, not a blank page
    (tmp_path / "report.png").write_bytes(shot)
