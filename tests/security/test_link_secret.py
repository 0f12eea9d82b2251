"""Production never runs on the dev link secret; placeholders are refused; old secrets still verify."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.errors import EXIT_INVALID
from infra.links import Action, LinkError, sign_link, verify_link
from infra.settings import EMBEDDED_LINK_SECRET, SettingsError, load_settings
from tests.foundation.clirun import run_cli
from worker.devstack import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REAL = "Zq8v3nW0xY7tK2pL9sR4mB6cH1dF5gJ0aE3uI8oP"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("command", [["web"], ["worker"], ["dev", "up"]])
@pytest.mark.parametrize(
    "external",
    [
        {"database_url": "postgresql://app@db.example.internal:5432/mentorflow"},
        {"temporal_address": "temporal.example.internal:7233"},
        {"smtp_host": "smtp.example.org"},
    ],
)
def test_link_commands_refuse_the_dev_secret_against_external_components(
    tmp_path: Path, command: list[str], external: dict[str, str]
) -> None:
    closed = free_port()  # if the check came too late, the command would try to reach these
    settings: dict[str, Any] = {"dev_temporal_port": closed, "dev_postgres_port": closed, **external}
    result = run_cli(*command, cwd=tmp_path, **settings)
    assert result.returncode == EXIT_INVALID, result.stderr
    line = _one_line(result.stderr)
    assert "MENTORFLOW_LINK_SECRET" in line and "not set" in line


def _example_values() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (DEPLOY / "compose" / ".env.example").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    k8s = (DEPLOY / "kubernetes" / "secret.example.yaml").read_text()
    for key, value in re.findall(r"^\s+(MENTORFLOW_\w+):\s*(\S+)\s*$", k8s, re.M):
        found[f"k8s:{key}"] = value
    return found


def test_the_deploy_examples_cannot_be_used_as_they_are() -> None:
    values = _example_values()
    # compose refuses an empty LINK_SECRET (`${LINK_SECRET:?...}`); a filled-in placeholder is refused here
    assert values["LINK_SECRET"] == "" or _refused(link_secret=values["LINK_SECRET"])
    for key in ("APP_DB_PASSWORD", "SMTP_PASSWORD", "POSTGRES_PASSWORD", "TEMPORAL_DB_PASSWORD"):
        assert values[key] == "", f"{key} in .env.example has a usable value"
    assert _refused(link_secret=values["k8s:MENTORFLOW_LINK_SECRET"])
    assert _refused(database_url=values["k8s:MENTORFLOW_DATABASE_URL"])
    assert _refused(smtp_password=values["k8s:MENTORFLOW_SMTP_PASSWORD"])
    assert _refused(temporal_api_key=values["k8s:MENTORFLOW_TEMPORAL_API_KEY"])


def _refused(**setting: str) -> bool:
    try:
        load_settings(**setting)
    except SettingsError:
        return True
    return False


@pytest.mark.parametrize(
    "value",
    [
        "change-me-to-48-random-characters-from-secrets-token",
        "CHANGE-ME-48-random-characters-from-secrets-token-urlsafe",
        EMBEDDED_LINK_SECRET,
    ],
)
def test_placeholder_secrets_are_refused_everywhere(tmp_path: Path, value: str) -> None:
    # `db migrate` on the embedded stack: even where the dev secret is fine, a set placeholder is not.
    result = run_cli("db", "migrate", cwd=tmp_path, link_secret=value, dev_postgres_port=free_port())
    assert result.returncode == EXIT_INVALID
    line = _one_line(result.stderr)
    assert "MENTORFLOW_LINK_SECRET" in line and "placeholder" in line and value not in line
    previous = run_cli("db", "migrate", cwd=tmp_path, link_secret=REAL, link_secret_previous=value)
    assert previous.returncode == EXIT_INVALID
    assert "MENTORFLOW_LINK_SECRET_PREVIOUS" in _one_line(previous.stderr)


def test_a_real_secret_lets_the_production_check_pass() -> None:
    settings = load_settings(link_secret=REAL, database_url="postgresql://app@db.example.internal/mentorflow")
    settings.require_link_secret("web")
    load_settings().require_link_secret("web")  # everything embedded: the dev secret is fine


def test_rotation_verifies_old_links_and_signs_with_the_current_secret(monkeypatch) -> None:
    old, older = "an-old-secret-that-was-rotated-out", "an-even-older-secret-still-honoured"
    monkeypatch.setenv("MENTORFLOW_LINK_SECRET", REAL)
    monkeypatch.setenv("MENTORFLOW_LINK_SECRET_PREVIOUS", f"{old}, {older}")
    settings = load_settings()
    assert settings.link_secrets == [REAL, old, older]
    for secret in (REAL, old, older):
        token = sign_link(secret, "journey-c1~p1", Action.SNOOZE, {"weeks": "2"}, now=NOW)
        assert verify_link(settings.link_secrets, token, Action.SNOOZE, now=NOW).args == {"weeks": "2"}
    retired = sign_link("a-retired-secret-nobody-lists", "journey-c1~p1", Action.SNOOZE, now=NOW)
    with pytest.raises(LinkError):
        verify_link(settings.link_secrets, retired, Action.SNOOZE, now=NOW)
    # New links are signed with the current secret only: the old one alone does not verify them.
    assert settings.link_secrets[0] == REAL
