"""What a real relay asks of the mailer, against real SMTP servers on this machine: RFC 5321's timeouts
step by step, TLS verified by a configured name and CA, the EHLO name, the sender's display name,
SMTPUTF8 for a non-ASCII address, and no address in anything that leaves the activity."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP

import activities.mailer as mailer
from activities.mailer import (
    HandedOverNoReply,
    OutgoingEmail,
    SmtpConfigError,
    SmtpOutcome,
    TransientSmtpError,
    build_message,
    deliver,
    redact,
)
from activities.smtp_pool import SmtpPool
from cli.errors import EXIT_INVALID
from infra.settings import Settings, SettingsError, address_refusal, load_settings
from tests.foundation.clirun import run_cli
from worker.devstack import free_port
from worker.devstack.mailsink import _StoreHandler
from worker.main import run_worker

RELAY_NAME = "relay.mentorflow.test"
EHLO_NAME = "worker.mentorflow.test"


def _email(**changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to_name": "Ada Okafor",
        "to_address": "ada@example.org",
        "subject": "Week 1",
        "text": "Hello Ada,\n",
        "html": "<p>Hello Ada,</p>",
        "message_id": "<m1@example.org>",
        "unsubscribe_url": "http://127.0.0.1:8000/a/unsubscribe/x",
        "date": datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
    }
    return OutgoingEmail(**(fields | changes))


def _settings(tmp_path: Path, port: int, **changes: Any) -> Settings:
    return load_settings(state_dir=tmp_path / "state", smtp_port=port, metrics_port=0, **changes)


# --- Timeouts (RFC 5321 4.5.3.2) ----------------------------------------------------------------------


@dataclass
class SlowRelay:
    """A scripted SMTP server on raw streams: `delays` holds seconds to wait before answering a step
    (greeting, mail, rcpt, data, end); `stored` the messages it accepted."""

    port: int
    delays: dict[str, float] = field(default_factory=dict)
    stored: list[bytes] = field(default_factory=list)
    stall_data: bool = False  # after its 354, read nothing of the message until released
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(step: str, line: bytes) -> None:
            await asyncio.sleep(self.delays.get(step, 0))
            writer.write(line)
            await writer.drain()

        try:
            await reply("greeting", b"220 slow.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    await reply("ehlo", b"250-slow.test\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    await reply("mail", b"250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    await reply("rcpt", b"250 2.1.5 Ok\r\n")
                elif verb == b"DATA":
                    await reply("data", b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    if self.stall_data:
                        await self.released.wait()
                        break
                    message = b""
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        message += chunk
                    self.stored.append(message)
                    await reply("end", b"250 2.0.0 Ok: queued\r\n")
                elif verb == b"QUIT":
                    await reply("quit", b"221 2.0.0 Bye\r\n")
                    break
                else:
                    await reply("other", b"250 Ok\r\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def slow_relay() -> AsyncIterator[SlowRelay]:
    relay = SlowRelay(port=free_port())
    server = await asyncio.start_server(relay.handle, "127.0.0.1", relay.port)
    yield relay
    relay.released.set()
    server.close()


STEPS = {
    "greeting": "smtp_greeting_timeout_seconds",
    "ehlo": "smtp_mail_timeout_seconds",
    "mail": "smtp_mail_timeout_seconds",
    "rcpt": "smtp_rcpt_timeout_seconds",
    "data": "smtp_data_timeout_seconds",
    "end": "smtp_data_end_timeout_seconds",
}
GENEROUS = {name: 30.0 for name in STEPS.values()}
# Far above what a local reply takes, even on a loaded machine; far below the scripted delays.
SHORT = 1.0


def test_timeouts_default_to_rfc_5321s() -> None:
    settings = load_settings()
    assert settings.smtp_greeting_timeout_seconds == 5 * 60
    assert settings.smtp_mail_timeout_seconds == 5 * 60
    assert settings.smtp_rcpt_timeout_seconds == 5 * 60
    assert settings.smtp_data_timeout_seconds == 2 * 60
    assert settings.smtp_data_block_timeout_seconds == 3 * 60
    assert settings.smtp_data_end_timeout_seconds == 10 * 60
    assert settings.smtp_connect_timeout_seconds <= 60


async def test_a_slow_reply_to_the_end_of_data_is_waited_for(slow_relay: SlowRelay, tmp_path: Path) -> None:
    """Giving up on the reply to "." while the relay is still storing the message makes duplicates."""
    slow_relay.delays = {"end": 2.5}
    short = {name: SHORT for name in STEPS.values()} | {"smtp_data_end_timeout_seconds": 30.0}
    settings = _settings(tmp_path, slow_relay.port, **short)
    result = await deliver(settings, build_message(_email(), "mentorflow@example.org"))
    assert result.outcome is SmtpOutcome.ACCEPTED
    assert len(slow_relay.stored) == 1


@pytest.mark.parametrize("step", list(STEPS))
async def test_each_step_waits_as_long_as_its_own_setting(
    slow_relay: SlowRelay, tmp_path: Path, step: str
) -> None:
    slow_relay.delays = {step: 2.5}
    settings = _settings(tmp_path, slow_relay.port, **(GENEROUS | {STEPS[step]: SHORT}))
    # Giving up on the reply to the message is no verdict: it was handed over (the ledger: `uncertain`).
    with pytest.raises(HandedOverNoReply if step == "end" else TransientSmtpError):
        await deliver(settings, build_message(_email(), "mentorflow@example.org"))
    # The same delay under the other steps' short timeouts only: waited for.
    others = {name: SHORT for name in STEPS.values() if name != STEPS[step]} | {STEPS[step]: 30.0}
    if step in ("ehlo", "mail"):  # one setting covers both
        others |= {"smtp_mail_timeout_seconds": 30.0}
    result = await deliver(
        _settings(tmp_path, slow_relay.port, **others), build_message(_email(), "mentorflow@example.org")
    )
    assert result.outcome is SmtpOutcome.ACCEPTED


async def test_a_relay_that_stops_reading_the_message_is_given_up_on_after_the_block_timeout(
    slow_relay: SlowRelay, tmp_path: Path
) -> None:
    """RFC 5321 4.5.3.2.5: each block of the message must be taken within its timeout. 32 MB is more
    than the kernel's socket buffers hold, so sending stalls once the relay stops reading."""
    slow_relay.stall_data = True
    settings = _settings(tmp_path, slow_relay.port, **(GENEROUS | {"smtp_data_block_timeout_seconds": 0.5}))
    big = build_message(_email(text=("y" * 70 + "\n") * 460_000), "m@example.org")
    assert len(big.data) > 32_000_000
    started = asyncio.get_running_loop().time()
    with pytest.raises(TransientSmtpError, match="MENTORFLOW_SMTP_DATA_BLOCK_TIMEOUT_SECONDS"):
        await deliver(settings, big)
    assert asyncio.get_running_loop().time() - started < 20  # not the 30 s of the reply to "."


# --- TLS, EHLO --------------------------------------------------------------------------------------


class Recording(_StoreHandler):
    """Stores like the mail sink; remembers what EHLO said, MAIL's options and whether TLS was on."""

    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.ehlo: list[str] = []
        self.mail_options: list[list[str]] = []
        self.recipients: list[str] = []
        self.tls: list[bool] = []
        self.mails = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.ehlo.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails += 1
        self.mail_options.append(list(options))
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.recipients.append(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"


Relay = Callable[..., Awaitable[tuple[Recording, int]]]


@pytest.fixture
def relay_ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
async def relay(tmp_path: Path, relay_ca: tuple[trustme.CA, Path]) -> AsyncIterator[Relay]:
    """Starts an aiosmtpd relay whose certificate names RELAY_NAME: `tls` "starttls" or "implicit"."""
    servers: list[asyncio.Server] = []

    async def start(*, tls: str = "starttls", smtputf8: bool = True) -> tuple[Recording, int]:
        mail_dir = tmp_path / f"relay{len(servers)}"
        mail_dir.mkdir()
        handler = Recording(mail_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        relay_ca[0].issue_cert(RELAY_NAME).configure_cert(context)
        port = free_port()

        def factory() -> SMTP:
            return SMTP(
                handler,
                hostname=RELAY_NAME,
                enable_SMTPUTF8=smtputf8,
                tls_context=context if tls == "starttls" else None,
            )

        ssl_arg = context if tls == "implicit" else None
        servers.append(
            await asyncio.get_running_loop().create_server(factory, host="127.0.0.1", port=port, ssl=ssl_arg)
        )
        return handler, port

    yield start
    for server in servers:
        server.close()


async def test_starttls_to_an_ip_address_verifies_with_the_server_name_and_ca_settings(
    relay: Relay, relay_ca: tuple[trustme.CA, Path], tmp_path: Path
) -> None:
    handler, port = await relay()
    settings = _settings(
        tmp_path,
        port,
        smtp_host="127.0.0.1",
        smtp_security="starttls",
        smtp_tls_server_name=RELAY_NAME,
        smtp_ca_file=relay_ca[1],
        smtp_ehlo_name=EHLO_NAME,
    )
    result = await deliver(settings, build_message(_email(), "mentorflow@example.org"))
    assert result.outcome is SmtpOutcome.ACCEPTED
    assert handler.tls == [True]
    assert handler.ehlo == [EHLO_NAME, EHLO_NAME]  # before and after STARTTLS
    # The pool verifies the same way.
    pool = SmtpPool(settings)
    try:
        assert (
            await pool.send(build_message(_email(), "mentorflow@example.org"))
        ).outcome is SmtpOutcome.ACCEPTED
    finally:
        await pool.close()
    assert handler.tls == [True, True]


async def test_implicit_tls_verifies_with_the_server_name_setting(
    relay: Relay, relay_ca: tuple[trustme.CA, Path], tmp_path: Path
) -> None:
    handler, port = await relay(tls="implicit")
    settings = _settings(
        tmp_path,
        port,
        smtp_host="127.0.0.1",
        smtp_security="tls",
        smtp_tls_server_name=RELAY_NAME,
        smtp_ca_file=relay_ca[1],
        smtp_ehlo_name=EHLO_NAME,
    )
    result = await deliver(settings, build_message(_email(), "mentorflow@example.org"))
    assert result.outcome is SmtpOutcome.ACCEPTED and handler.tls == [True]


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("smtp_tls_server_name", "MENTORFLOW_SMTP_TLS_SERVER_NAME"),
        ("smtp_ca_file", "MENTORFLOW_SMTP_CA_FILE"),
    ],
)
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_a_certificate_that_does_not_verify_is_a_configuration_error_naming_the_setting(
    relay: Relay, relay_ca: tuple[trustme.CA, Path], tmp_path: Path, missing: str, named: str, tls: str
) -> None:
    handler, port = await relay(tls=tls)
    good: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_security": "starttls" if tls == "starttls" else "tls",
        "smtp_tls_server_name": RELAY_NAME,
        "smtp_ca_file": relay_ca[1],
        "smtp_ehlo_name": EHLO_NAME,
    }
    settings = _settings(tmp_path, port, **(good | {missing: None}))
    for attempt in (
        deliver(settings, build_message(_email(), "mentorflow@example.org")),
        SmtpPool(settings).send(build_message(_email(), "mentorflow@example.org")),
    ):
        with pytest.raises(SmtpConfigError, match=named) as caught:
            await attempt
        # Retried like any fault before the message is handed over: no email is lost while it is fixed.
        assert isinstance(caught.value, TransientSmtpError)
    assert handler.mails == 0


async def test_ehlo_names_us_as_the_setting_says(relay: Relay, tmp_path: Path) -> None:
    handler, port = await relay(tls="none")
    settings = _settings(tmp_path, port, smtp_ehlo_name=EHLO_NAME)
    assert (await deliver(settings, build_message(_email(), "a@example.org"))).outcome is SmtpOutcome.ACCEPTED
    assert handler.ehlo == [EHLO_NAME]


@pytest.mark.parametrize("fqdn", ["localhost", "localhost.localdomain", "vm", "worker.local"])
async def test_outside_the_embedded_stack_a_localhost_ehlo_name_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fqdn: str
) -> None:
    monkeypatch.setattr(mailer, "_FQDN", None)
    monkeypatch.setattr(socket, "getfqdn", lambda *_: fqdn)
    external = _settings(
        tmp_path,
        free_port(),
        smtp_host="relay.example.org",
        temporal_address=f"127.0.0.1:{free_port()}",  # never reached: the check comes first
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
    )
    with pytest.raises(SettingsError, match=r"^setting MENTORFLOW_SMTP_EHLO_NAME: ") as caught:
        await run_worker(external)
    assert "\n" not in str(caught.value)
    # Named explicitly, it is used as it is; the embedded stack may use this machine's name.
    assert await mailer.ehlo_name(external.model_copy(update={"smtp_ehlo_name": EHLO_NAME})) == EHLO_NAME
    assert await mailer.ehlo_name(_settings(tmp_path, free_port())) == fqdn


def test_acceptable_ehlo_names() -> None:
    assert mailer.acceptable_ehlo_name("mail.example.org")
    for name in ("localhost", "LOCALHOST.localdomain", "vm", "localhost.example", "a.localhost"):
        assert not mailer.acceptable_ehlo_name(name), name


# --- The sender's name --------------------------------------------------------------------------------


def test_mail_from_keeps_its_display_name() -> None:
    settings = load_settings(mail_from="Program <program@example.net>")
    msg = build_message(_email(), settings.mail_from)
    parsed = email.message_from_bytes(msg.data, policy=email.policy.default)
    assert parsed["From"] == "Program <program@example.net>"
    assert parsed["From"].addresses[0].display_name == "Program"
    assert msg.sender == "program@example.net"
    assert settings.mail_from_address == "program@example.net"
    quoted = load_settings(mail_from='"Dr. O\'Neil, Program" <program@example.net>')
    parsed = email.message_from_bytes(
        build_message(_email(), quoted.mail_from).data, policy=email.policy.default
    )
    assert parsed["From"].addresses[0].display_name == "Dr. O'Neil, Program"


@pytest.mark.parametrize("bad", ["Program", "Program <not-an-address>", "a@b\r\nBcc: x@example.org"])
def test_mail_from_must_be_an_address(bad: str) -> None:
    with pytest.raises(SettingsError, match=r"^setting MENTORFLOW_MAIL_FROM"):
        load_settings(mail_from=bad)


# --- SMTPUTF8 ---------------------------------------------------------------------------------------


async def test_a_non_ascii_local_part_goes_with_smtputf8_when_the_relay_offers_it(
    relay: Relay, tmp_path: Path
) -> None:
    handler, port = await relay(tls="none", smtputf8=True)
    settings = _settings(tmp_path, port, smtp_ehlo_name=EHLO_NAME)
    msg = build_message(_email(to_name="José Núñez", to_address="josé@example.org"), "mentorflow@example.org")
    assert msg.smtputf8
    pool = SmtpPool(settings)
    try:
        for send in (deliver(settings, msg), pool.send(msg)):
            assert (await send).outcome is SmtpOutcome.ACCEPTED
    finally:
        await pool.close()
    assert handler.recipients == ["josé@example.org"] * 2
    assert all("SMTPUTF8" in options for options in handler.mail_options)
    [stored, _] = sorted(handler.mail_dir.glob("*.eml"))
    # RFC 6532: the headers are UTF-8 (the stdlib's bytes parser would read them as ASCII).
    parsed = email.message_from_string(stored.read_bytes().decode(), policy=email.policy.SMTPUTF8)
    # The stdlib notes a non-ASCII local part as a "defect": legal with SMTPUTF8, and the only one.
    assert not parsed.defects
    assert [type(d).__name__ for d in parsed["To"].defects] == ["NonASCIILocalPartDefect"]
    assert parsed["To"].addresses[0].addr_spec == "josé@example.org"
    assert parsed["To"].addresses[0].display_name == "José Núñez"
    # An ASCII address goes without it, and an internationalised domain as its ASCII form.
    plain = build_message(_email(to_address="ada@bücher.example"), "mentorflow@example.org")
    assert not plain.smtputf8 and plain.recipients == ("ada@xn--bcher-kva.example",)


@pytest.mark.parametrize("how", ["relay without SMTPUTF8", "MENTORFLOW_SMTP_UTF8=off"])
async def test_without_smtputf8_a_non_ascii_address_fails_for_good_and_nothing_is_sent(
    relay: Relay, tmp_path: Path, how: str
) -> None:
    handler, port = await relay(tls="none", smtputf8=how != "relay without SMTPUTF8")
    settings = _settings(
        tmp_path, port, smtp_ehlo_name=EHLO_NAME, smtp_utf8="auto" if "relay" in how else "off"
    )
    msg = build_message(_email(to_address="josé@example.org"), "mentorflow@example.org")
    pool = SmtpPool(settings)
    try:
        for send in (deliver(settings, msg), pool.send(msg)):
            result = await send
            assert result.outcome is SmtpOutcome.REJECTED, result
            assert "SMTPUTF8" in result.detail and "josé" not in result.detail
        # The pooled connection stays usable for the next (ASCII) email.
        assert (await pool.send(build_message(_email(), "m@example.org"))).outcome is SmtpOutcome.ACCEPTED
    finally:
        await pool.close()
    assert handler.mails == 1


# --- Redaction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.1.1 <person@example.org>: Recipient address rejected: User unknown",
        "550 5.1.1 person@example.org... User unknown",
        '553 5.1.3 "john doe"@example.org bad address',
        "550 5.1.1 <josé@exämple.org>: no such user",
        "451 4.7.1 <PERSON+tag@sub.example.org>, <other@example.org> greylisted",
    ],
)
def test_redact_removes_every_address(reply: str) -> None:
    redacted = redact(reply)
    assert "@" not in redacted and "<address>" in redacted
    assert redacted[:3] == reply[:3]
    error = TransientSmtpError(reply)
    assert "@" not in str(error) and error.reply == reply


def test_validation_can_ask_whether_an_address_is_sendable() -> None:
    assert address_refusal(load_settings(), "josé@example.org") is None
    assert address_refusal(load_settings(smtp_utf8="off"), "ada@bücher.example") is None
    refusal = address_refusal(load_settings(smtp_utf8="off"), "josé@example.org")
    assert refusal is not None and "MENTORFLOW_SMTP_UTF8" in refusal


@pytest.mark.parametrize("named", ["localhost", "localhost.localdomain", "mailhost"])
def test_the_worker_command_refuses_a_localhost_ehlo_name_with_one_line(tmp_path: Path, named: str) -> None:
    closed = free_port()  # if the check came too late, the worker would try to reach these
    result = run_cli(
        "worker",
        cwd=tmp_path,
        smtp_host="relay.example.org",
        smtp_ehlo_name=named,
        link_secret="a-real-production-secret-0123456789",
        temporal_address=f"127.0.0.1:{closed}",
        database_url=f"postgresql://app@127.0.0.1:{closed}/mentorflow",
    )
    assert result.returncode == EXIT_INVALID, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "MENTORFLOW_SMTP_EHLO_NAME" in line and "localhost" in line
