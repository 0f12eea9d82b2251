"""Key rotation over HTTP: links signed with the previous secret still work; a retired one does not."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from infra.links import Action, link_url, sign_link
from infra.settings import Settings
from tests.web.conftest import IDS, RunningWeb
from worker.devstack import free_port

CURRENT = "the-current-link-secret-Hq81vZ0pLw"
PREVIOUS = "the-previous-link-secret-Rt52nX7kMa"


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    port = free_port()
    return settings.model_copy(
        update={
            "web_port": port,
            "public_base_url": f"http://127.0.0.1:{port}",
            "link_secret": SecretStr(CURRENT),
            "link_secret_previous": [SecretStr(PREVIOUS)],
        }
    )


async def test_links_from_before_a_rotation_keep_working(
    web: RunningWeb, http: httpx.AsyncClient, cohort: str
) -> None:
    now = datetime.now(UTC)
    for secret, status in ((CURRENT, 200), (PREVIOUS, 200), ("a-retired-secret-nobody-lists-9", 400)):
        token = sign_link(secret, IDS.workflow_id, Action.PREFERENCES, now=now)
        got = await http.get(link_url(web.base_url, Action.PREFERENCES, token))
        assert got.status_code == status, (secret, got.status_code)
