"""The send activity against a real Postgres and real SMTP servers: once, and only once."""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities.deps import ActivityDeps
from activities.journey import JourneyActivities
from activities.mailer import SmtpConfigError, TransientSmtpError
from activities.send_nudge import send_nudge
from activities.smtp_pool import SmtpPool
from infra.program_files import load_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from store.programs import ProgramCache
from worker.devstack import MailSink, free_port
from worker.devstack.mailsink import _StoreHandler
from workflows.contract import SendNudgeInput, SendStatus

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "programs" / "medtwitter"
WORKFLOW_ID = "journey-c1~p1"


@pytest.fixture
async def cohort(db_pool: asyncpg.Pool) -> None:
    program = load_program(PROGRAM_DIR)
    await save_cohort(db_pool, "c1", program, datetime(2026, 12, 1).date())
    await save_participants(
        db_pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="p1",
                name="Ada Okafor",
                email="ada@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
            )
        ],
    )


def _input(nudge_key: str = "welcome") -> SendNudgeInput:
    return SendNudgeInput(
        workflow_id=WORKFLOW_ID,
        cohort_id="c1",
        participant_id="p1",
        nudge_id="welcome",
        nudge_key=nudge_key,
        kind="welcome",
        scheduled_at=datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
    )


def _settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"smtp_port": port})


async def _ledger(pool: asyncpg.Pool, key: str = "welcome") -> asyncpg.Record:
    row = await pool.fetchrow(
        "select * from send_ledger where workflow_id = $1 and nudge_key = $2", WORKFLOW_ID, key
    )
    assert row is not None
    return row


async def test_sends_once_with_unsubscribe_headers(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.SENT
    [path] = mail_sink.messages()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Ada Okafor <ada@example.org>"
    assert msg["Message-ID"] == result.message_id
    assert len(msg.get_all("List-Unsubscribe") or []) == 1
    assert msg["List-Unsubscribe"].startswith("<http://") and "/a/unsubscribe/" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = path.read_bytes().decode()
    unsub_line = next(line for line in raw.splitlines() if line.startswith("List-Unsubscribe:"))
    assert unsub_line.endswith(">"), "the one-click header must not be folded"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Ada" in text and "Unsubscribe:" in text
    assert "<a href=" in html and "Unsubscribe" in html
    assert (await _ledger(db_pool))["status"] == "sent"

    # A retry after the send (say the worker died before reporting) sends nothing more.
    again = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert again.status is SendStatus.SENT and again.message_id == result.message_id
    assert len(mail_sink.messages()) == 1


async def test_unsubscribed_participant_gets_nothing(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    await db_pool.execute("update participants set unsubscribed_at = now() where participant_id = 'p1'")
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.SUPPRESSED
    assert mail_sink.messages() == []
    assert (await _ledger(db_pool))["status"] == "suppressed"


class _Refusing:
    """A real SMTP server that refuses every recipient with the given reply."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.attempts = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.attempts += 1
        return self.reply


@pytest.fixture
async def refusing_smtp() -> AsyncIterator[tuple[_Refusing, int]]:
    handler = _Refusing("550 5.1.1 mailbox unavailable")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


async def test_550_is_recorded_as_failed_without_retry(
    settings: Settings, db_pool: asyncpg.Pool, cohort: None, refusing_smtp: tuple[_Refusing, int]
) -> None:
    handler, port = refusing_smtp
    result = await send_nudge(_settings(settings, port), db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.FAILED
    assert "550" in result.detail
    row = await _ledger(db_pool)
    assert row["status"] == "failed" and "550" in row["error"]
    # Settled: a repeat does not talk to the server again.
    await send_nudge(_settings(settings, port), db_pool, ProgramCache(), _input())
    assert handler.attempts == 1


async def test_4xx_retries_then_sends_once(
    settings: Settings,
    db_pool: asyncpg.Pool,
    cohort: None,
    refusing_smtp: tuple[_Refusing, int],
    mail_sink: MailSink,
) -> None:
    handler, port = refusing_smtp
    handler.reply = "451 4.3.0 try again later"
    with pytest.raises(TransientSmtpError, match="451"):
        await send_nudge(_settings(settings, port), db_pool, ProgramCache(), _input())
    row = await _ledger(db_pool)
    assert row["status"] == "sending", "a transient failure leaves the row visible as in flight"
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.SENT
    assert len(mail_sink.messages()) == 1
    assert (await _ledger(db_pool))["attempts"] == 2


async def test_mentor_in_the_cohort_is_named(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    await save_participants(
        db_pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="m1",
                name="Rosa Lindqvist",
                email="Rosa@Example.org",
                timezone="Europe/Stockholm",
                send_days=["tue"],
                send_time=time(8, 30),
            )
        ],
    )
    await db_pool.execute(
        "update participants set mentor_email = 'rosa@example.org' where participant_id = 'p1'"
    )
    await send_nudge(settings, db_pool, ProgramCache(), _input())
    [path] = mail_sink.messages()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Rosa Lindqvist" in text


async def test_sends_over_the_workers_open_connection(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    smtp = SmtpPool(settings)
    try:
        first = await send_nudge(settings, db_pool, ProgramCache(), _input("welcome"), smtp=smtp)
        second = await send_nudge(settings, db_pool, ProgramCache(), _input("welcome-again"), smtp=smtp)
        # A retry of a settled send talks to nobody.
        await send_nudge(settings, db_pool, ProgramCache(), _input("welcome"), smtp=smtp)
    finally:
        await smtp.close()
    assert first.status is SendStatus.SENT and second.status is SendStatus.SENT
    assert smtp.opened == 1
    ids = sorted(
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"]
        for p in mail_sink.messages()
    )
    assert ids == sorted([first.message_id, second.message_id])
    assert (await _ledger(db_pool, "welcome-again"))["status"] == "sent"


class _RefusingSender:
    """A real SMTP server that will not take mail from our sender (a relay not set up for it)."""

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.7.1 sender not allowed"


def _password_check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=auth_data.password == b"right-password", handled=False)


@pytest.fixture(params=["refused sender", "wrong password"])
async def misconfigured_relay(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Settings]:
    """A relay that refuses before any recipient is named, and the settings that reach it."""
    port = free_port()
    if request.param == "refused sender":
        controller = Controller(_RefusingSender(), hostname="127.0.0.1", port=port)
        changed: dict[str, Any] = {"smtp_port": port}
    else:
        controller = Controller(
            object(),
            hostname="127.0.0.1",
            port=port,
            authenticator=_password_check,
            auth_required=True,
            auth_require_tls=False,
        )
        changed = {"smtp_port": port, "smtp_user": "mentorflow", "smtp_password": SecretStr("wrong")}
    controller.start()
    yield settings.model_copy(update=changed)
    controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a local test server
@pytest.mark.parametrize("pooled", [False, True], ids=["own connection", "pooled"])
async def test_a_misconfigured_relay_fails_no_email_for_good(
    settings: Settings,
    db_pool: asyncpg.Pool,
    cohort: None,
    misconfigured_relay: Settings,
    mail_sink: MailSink,
    pooled: bool,
) -> None:
    """A wrong password or a refused sender is a setting to fix, not a verdict on this email: it stays in
    flight (retried, alerted on) and goes once the settings are right."""
    smtp = SmtpPool(misconfigured_relay) if pooled else None
    try:
        with pytest.raises(TransientSmtpError, match="MENTORFLOW_SMTP_"):
            await send_nudge(misconfigured_relay, db_pool, ProgramCache(), _input(), smtp=smtp)
    finally:
        if smtp is not None:
            await smtp.close()
    assert (await _ledger(db_pool))["status"] == "sending"
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.SENT and len(mail_sink.messages()) == 1


async def test_a_relay_unusable_as_configured_is_an_error_and_a_metric_naming_the_setting(
    settings: Settings,
    db_pool: asyncpg.Pool,
    mail_sink: MailSink,
    cohort: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """STARTTLS asked of a relay that does not offer it: retried (the email waits in 'sending'), but an
    ERROR naming MENTORFLOW_SMTP_SECURITY and `mentorflow_smtp_config_errors` for the alert."""
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    starttls = settings.model_copy(update={"smtp_security": "starttls"})
    activities = JourneyActivities(ActivityDeps(settings=starttls, pool=db_pool))
    with pytest.raises(SmtpConfigError, match="MENTORFLOW_SMTP_SECURITY"):
        await env.run(activities._send, _input())
    [record] = [r for r in caplog.records if r.getMessage().startswith("smtp configuration error")]
    assert record.levelno == logging.ERROR and "MENTORFLOW_SMTP_SECURITY" in repr(vars(record))
    row = await _ledger(db_pool)
    # The row waits, saying why and which setting fixes it (`mail list --stuck`).
    assert row["status"] == "sending" and "MENTORFLOW_SMTP_SECURITY" in row["error"]
    assert mail_sink.messages() == []
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert re.search(r"^mentorflow_smtp_config_errors(_total)?(\{[^}]*\})? 1$", metrics, re.M), metrics


class _Counting(_StoreHandler):
    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.mails = 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails += 1
        envelope.mail_from = address
        return "250 OK"


async def test_a_non_ascii_address_without_smtputf8_fails_once_with_the_reason(
    settings: Settings, db_pool: asyncpg.Pool, cohort: None, tmp_path: Path
) -> None:
    """The relay offers no SMTPUTF8: that email is `failed` at once with the reason (retrying cannot
    help), nothing is sent, and what leaves the activity does not name the address."""
    await db_pool.execute("update participants set email = 'josé@example.org' where participant_id = 'p1'")
    handler = _Counting(tmp_path)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        result = await send_nudge(_settings(settings, port), db_pool, ProgramCache(), _input())
    finally:
        controller.stop()
    assert result.status is SendStatus.FAILED and "SMTPUTF8" in result.detail and "josé" not in result.detail
    row = await _ledger(db_pool)
    assert row["status"] == "failed" and "SMTPUTF8" in row["error"] and row["attempts"] == 1
    assert handler.mails == 0  # not even MAIL FROM: nothing was handed over


async def test_greets_by_name_never_a_title_and_replies_go_to_the_mentor(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink
) -> None:
    program = load_program(PROGRAM_DIR)
    await save_cohort(db_pool, "c1", program, datetime(2026, 12, 1).date())
    await save_participants(
        db_pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="p1",
                name="Dr. Sofia Alvarez",
                email="sofia@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
                mentor_email="lee@example.org",
                mentor_name="Dr. Lee",
            )
        ],
    )
    await send_nudge(settings, db_pool, ProgramCache(), _input())
    [path] = mail_sink.messages()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hi Sofia,") and msg["Subject"].endswith(", Sofia")
    assert "Dr.," not in text and "Dr.." not in text
    assert "your mentor for the program is dr. lee (lee@example.org)" in text.lower()
    (mentor,) = msg["Reply-To"].addresses
    assert (mentor.display_name, mentor.addr_spec) == ("Dr. Lee", "lee@example.org")


async def test_the_recap_of_an_early_end_says_so(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    early = _input("recap").model_copy(update={"nudge_id": "recap", "kind": "recap", "ended_early": True})
    await send_nudge(settings, db_pool, ProgramCache(), early)
    [path] = mail_sink.messages()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "ending early" in msg["Subject"] and "is ending early" in text
    assert "ends today" not in text and "Your year" not in msg["Subject"]


async def test_the_sunset_email_offers_one_click_to_keep_going(
    settings: Settings, db_pool: asyncpg.Pool, mail_sink: MailSink, cohort: None
) -> None:
    sunset = _input("sunset:2027-03-02").model_copy(update={"nudge_id": "sunset", "kind": "sunset"})
    await send_nudge(settings, db_pool, ProgramCache(), sunset)
    [path] = mail_sink.messages()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Shall we keep writing" in msg["Subject"]
    link = next(line for line in text.splitlines() if line.startswith("- Yes, keep writing to me: "))
    assert "/a/keep_going/" in link
