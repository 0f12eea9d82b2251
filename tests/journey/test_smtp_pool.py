"""The worker's pooled SMTP connections against real aiosmtpd servers that count what reaches them:
emails share connections, a connection the server dropped is replaced without losing or doubling an
email, refusals leave the connection clean, and nothing is ever sent twice once DATA went out."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from activities.mailer import (
    HandedOverNoReply,
    OutgoingEmail,
    SmtpOutcome,
    TransientSmtpError,
    WireMessage,
    build_message,
    deliver,
)
from activities.smtp_pool import SmtpPool
from infra.settings import Settings, load_settings
from worker.devstack import free_port
from worker.devstack.mailsink import _StoreHandler


class CountingSmtp(_StoreHandler):
    """Stores every message like the mail sink and counts the conversations and commands it sees.

    `rcpt_replies`: replies to the next RCPTs (None: accept). `hang_up_at_mail`: on the second MAIL of a
    connection, "close" hangs up without a reply and "421" answers 421 and hangs up, as a server does
    that has just timed the connection out. `hang_up_after_data`: store the message, then hang up
    instead of replying to it.
    """

    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.connections = 0
        self.open_connections = 0
        self.most_open = 0
        self.mails = 0
        self.datas = 0
        self.rsets = 0
        self.quits = 0
        self.rcpt_replies: list[str | None] = []
        self.hang_up_at_mail: str | None = None
        self.hang_up_after_data = False
        self._mails_per_session: dict[int, int] = {}

    def stored(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.mail_dir.glob("*.eml"))
        ]

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails += 1
        count = self._mails_per_session[id(session)] = self._mails_per_session.get(id(session), 0) + 1
        if count > 1 and self.hang_up_at_mail is not None:
            how, self.hang_up_at_mail = self.hang_up_at_mail, None
            if how == "close":
                server.transport.close()
                return "250 OK"  # never arrives
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.4.2 idle too long, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        reply = await super().handle_DATA(server, session, envelope)
        if self.hang_up_after_data:
            self.hang_up_after_data = False
            server.transport.close()
        return reply

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self.rsets += 1
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


class _CountingServer(SMTP):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler: CountingSmtp = self.event_handler
        handler.connections += 1
        handler.open_connections += 1
        handler.most_open = max(handler.most_open, handler.open_connections)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.event_handler.open_connections -= 1
        super().connection_lost(error)


Server = Callable[..., Awaitable[tuple[CountingSmtp, Settings]]]


@pytest.fixture
async def smtp_server(tmp_path: Path) -> AsyncIterator[Server]:
    """Starts a counting SMTP server; returns its handler and settings that point at it."""
    servers: list[asyncio.Server] = []

    async def start(*, idle_timeout: float = 300) -> tuple[CountingSmtp, Settings]:
        mail_dir = tmp_path / f"mail{len(servers)}"
        mail_dir.mkdir()
        handler = CountingSmtp(mail_dir)
        port = free_port()
        servers.append(
            await asyncio.get_running_loop().create_server(
                lambda: _CountingServer(handler, hostname="counting", timeout=idle_timeout),
                host="127.0.0.1",
                port=port,
            )
        )
        settings = load_settings(
            state_dir=tmp_path / "state", smtp_port=port, smtp_mail_timeout_seconds=5, metrics_port=0
        )
        return handler, settings

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


UNSUBSCRIBE = "http://127.0.0.1:8000/a/unsubscribe/eyJ3Ijoiam91cm5leS1jMS1wMSJ9." + "x" * 120


def _email(n: int = 0, **changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to_name": "Ada Okafor",
        "to_address": "ada@example.org",
        "subject": f"Week {n}: your first thread",
        "text": f"Hello Ada,\n\nemail number {n}.\n",
        "html": f"<p>Hello Ada,</p><p>email number {n}.</p>",
        "message_id": f"<m{n}@example.org>",
        "unsubscribe_url": UNSUBSCRIBE,
        "date": datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
    }
    return OutgoingEmail(**(fields | changes))


def _message(n: int = 0, **changes: Any) -> WireMessage:
    return build_message(_email(n, **changes), "mentorflow@example.org")


def _ids(handler: CountingSmtp) -> list[str]:
    return sorted(str(m["Message-ID"]) for m in handler.stored())


async def test_emails_share_one_connection(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    for n in range(5):
        result = await deliver(settings, _message(n), smtp=pool)
        assert result.outcome is SmtpOutcome.ACCEPTED
    assert _ids(handler) == [f"<m{n}@example.org>" for n in range(5)]
    assert handler.connections == 1 and pool.opened == 1
    bodies = [m.get_body(("plain",)).get_content() for m in handler.stored()]  # type: ignore[union-attr]
    assert sorted(b.replace("\r\n", "\n") for b in bodies) == [
        f"Hello Ada,\n\nemail number {n}.\n" for n in range(5)
    ]
    await pool.close()
    assert handler.quits == 1 and pool.idle == 0


async def test_without_a_pool_each_email_has_its_own_conversation(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    for n in range(3):
        assert (await deliver(settings, _message(n))).outcome is SmtpOutcome.ACCEPTED
    assert len(handler.stored()) == 3
    assert handler.connections == 3 and handler.quits == 3


async def test_connection_the_server_closed_while_idle_is_replaced(smtp_server: Server) -> None:
    handler, settings = await smtp_server(idle_timeout=0.3)
    pool = SmtpPool(settings)
    await deliver(settings, _message(1), smtp=pool)
    await asyncio.sleep(0.8)  # the server times the idle connection out and hangs up
    assert (await deliver(settings, _message(2), smtp=pool)).outcome is SmtpOutcome.ACCEPTED
    assert _ids(handler) == ["<m1@example.org>", "<m2@example.org>"]
    assert handler.connections == 2
    await pool.close()


@pytest.mark.parametrize("how", ["close", "421"])
async def test_connection_found_dead_at_mail_from_is_replaced_once(smtp_server: Server, how: str) -> None:
    """The server hangs up just as the next email starts (its FIN crossed our MAIL FROM): nothing of the
    email reached it, so the pool sends it on a new connection, once."""
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    await deliver(settings, _message(1), smtp=pool)
    handler.hang_up_at_mail = how
    assert (await deliver(settings, _message(2), smtp=pool)).outcome is SmtpOutcome.ACCEPTED
    assert _ids(handler) == ["<m1@example.org>", "<m2@example.org>"]
    assert handler.connections == 2 and handler.mails == 3 and handler.datas == 2
    # The replacement stays in the pool.
    await deliver(settings, _message(3), smtp=pool)
    assert handler.connections == 2
    await pool.close()


async def test_after_mail_from_a_dropped_connection_is_not_tried_again(smtp_server: Server) -> None:
    """MAIL FROM was accepted, so the connection was alive: a failure after it is the server's answer
    about this email, raised as from a conversation of its own, not a reason to try another connection."""
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    await deliver(settings, _message(1), smtp=pool)
    handler.rcpt_replies = ["421 4.3.2 shutting down"]
    with pytest.raises(TransientSmtpError, match="421"):
        await deliver(settings, _message(2), smtp=pool)
    assert handler.connections == 1 and handler.mails == 2 and _ids(handler) == ["<m1@example.org>"]
    # The server said it is closing that connection: the next email has a new one.
    await deliver(settings, _message(2), smtp=pool)
    assert handler.connections == 2 and _ids(handler) == ["<m1@example.org>", "<m2@example.org>"]
    await pool.close()


async def test_never_sent_twice_once_data_went_out(smtp_server: Server) -> None:
    """The server took the message but hung up before saying so: ambiguous, so the pool raises that it was
    handed over with no reply (the ledger makes it `uncertain`) and does not send it again itself."""
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    await deliver(settings, _message(1), smtp=pool)
    handler.hang_up_after_data = True
    with pytest.raises(HandedOverNoReply, match="SMTPServerDisconnected"):
        await deliver(settings, _message(2), smtp=pool)
    assert _ids(handler) == ["<m1@example.org>", "<m2@example.org>"]
    assert handler.datas == 2 and handler.connections == 1
    # The next email goes out on a new connection.
    assert (await deliver(settings, _message(3), smtp=pool)).outcome is SmtpOutcome.ACCEPTED
    assert handler.connections == 2 and len(handler.stored()) == 3
    await pool.close()


async def test_refusals_reset_the_connection_for_the_next_email(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    handler.rcpt_replies = ["550 5.1.1 no such mailbox", "451 4.7.1 greylisted, try later"]
    rejected = await deliver(settings, _message(1), smtp=pool)
    assert rejected.outcome is SmtpOutcome.REJECTED and "550" in rejected.detail
    with pytest.raises(TransientSmtpError, match="451"):
        await deliver(settings, _message(2), smtp=pool)
    # The 4xx email, tried again (as the activity's retry would), goes out once.
    assert (await deliver(settings, _message(2), smtp=pool)).outcome is SmtpOutcome.ACCEPTED
    assert _ids(handler) == ["<m2@example.org>"]
    assert handler.rsets == 2 and handler.connections == 1
    await pool.close()


async def test_at_most_size_connections_however_many_send_at_once(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings, size=2)
    results = await asyncio.gather(*(deliver(settings, _message(n), smtp=pool) for n in range(12)))
    assert all(r.outcome is SmtpOutcome.ACCEPTED for r in results)
    assert _ids(handler) == sorted(f"<m{n}@example.org>" for n in range(12))
    assert handler.most_open <= 2 and handler.connections <= 2
    await pool.close()
    assert handler.quits == handler.connections


async def test_idle_connections_are_closed(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings, idle_seconds=0.2)
    await deliver(settings, _message(1), smtp=pool)
    assert pool.idle == 1
    await asyncio.sleep(0.6)
    assert pool.idle == 0 and handler.quits == 1 and handler.open_connections == 0
    await deliver(settings, _message(2), smtp=pool)
    assert handler.connections == 2
    await pool.close()


async def test_a_connection_carries_at_most_max_messages(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings, max_messages=2)
    for n in range(5):
        await deliver(settings, _message(n), smtp=pool)
    assert len(handler.stored()) == 5 and handler.connections == 3
    await pool.close()
    assert handler.quits == 3


async def test_sends_after_close_still_go_out_and_keep_nothing_open(smtp_server: Server) -> None:
    handler, settings = await smtp_server()
    pool = SmtpPool(settings)
    await pool.close()
    assert (await deliver(settings, _message(1), smtp=pool)).outcome is SmtpOutcome.ACCEPTED
    await pool.close()
    assert len(handler.stored()) == 1 and handler.quits == 1 and pool.idle == 0


async def test_unreachable_server_is_transient(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path / "state", smtp_port=free_port(), metrics_port=0)
    pool = SmtpPool(settings)
    with pytest.raises(TransientSmtpError, match="SMTPConnectError"):
        await deliver(settings, _message(1), smtp=pool)
    with pytest.raises(TransientSmtpError, match="SMTPConnectError"):
        await deliver(settings, _message(1))
    await pool.close()
