"""Build an email and hold the SMTP conversation; classify what the server said."""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

import aiosmtplib
from pydantic import BaseModel

from infra.settings import Settings


class OutgoingEmail(BaseModel):
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str
    unsubscribe_url: str
    date: datetime


class SmtpOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # 5xx: permanent, retrying cannot help


class SmtpResult(BaseModel):
    outcome: SmtpOutcome
    detail: str = ""


class TransientSmtpError(Exception):
    """4xx, refused connection, timeout: the send may succeed if tried again."""


def message_id_for(workflow_id: str, nudge_key: str, domain: str) -> str:
    """Deterministic, so a retried send carries the same Message-ID and receivers can drop the copy."""
    digest = hashlib.sha256(f"{workflow_id}\x00{nudge_key}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


# --- The message -------------------------------------------------------------------------------------
#
# Written out directly as the bytes that go after DATA: the email package's EmailMessage with set_content,
# add_alternative and a policy flattened in as_bytes cost about twenty times as much per email for the same
# headers and parts. Every line is 7-bit and ends in CRLF. Headers are never folded but between RFC 2047
# encoded words, so the one-click List-Unsubscribe URL always stays on one line (RFC 8058).

# RFC 5322 2.1.1: a line is at most 998 characters before its CRLF.
_MAX_LINE = 998
# RFC 2047: an encoded word is at most 75 characters; "=?utf-8?b?" and "?=" leave 60 base64 characters.
_WORD_OCTETS = 45


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A built email: the SMTP envelope and the exact bytes of the message (7-bit, CRLF line endings)."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


def build_message(email: OutgoingEmail, sender: str) -> WireMessage:
    """The email as it goes on the wire: multipart/alternative, plain text then HTML, both UTF-8."""
    sender_name, sender_address = _parsed_sender(sender)
    boundary = f"=_{os.urandom(12).hex()}"  # "=_" never occurs in quoted-printable, and 7bit is checked
    text = _text_part("plain", email.text, boundary)
    html = _text_part("html", email.html, boundary)
    head = (
        f"From: {_mailbox('From', sender_name, sender_address)}\r\n"
        f"To: {_mailbox('To', email.to_name, email.to_address)}\r\n"
        f"Subject: {_unstructured('Subject', email.subject)}\r\n"
        f"Date: {format_datetime(email.date)}\r\n"
        f"Message-ID: {_ascii_line('Message-ID', email.message_id)}\r\n"
        f"List-Unsubscribe: <{_ascii_line('List-Unsubscribe', email.unsubscribe_url)}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        "\r\n"
    )
    delimiter = f"--{boundary}\r\n".encode()
    data = b"".join(
        (head.encode("ascii"), delimiter, text, b"\r\n", delimiter, html, f"\r\n--{boundary}--\r\n".encode())
    )
    return WireMessage(sender=sender_address, recipients=(email.to_address,), data=data)


@lru_cache(maxsize=8)
def _parsed_sender(sender: str) -> tuple[str, str]:
    name, address = parseaddr(sender)
    if not address:
        raise ValueError(f"not an email address: {sender!r}")
    return name, address


def _no_line_break(header: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {header} header may not contain a line break")
    return value


def _ascii_line(header: str, value: str) -> str:
    """A header value that must reach the reader verbatim, on one line."""
    _no_line_break(header, value)
    if not value.isascii() or len(header) + 2 + len(value) + 2 > _MAX_LINE:
        raise ValueError(f"the {header} header must be ASCII and fit on one line: {value[:80]!r}")
    return value


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 words in UTF-8, each at most 75 characters and on a line of its own."""
    words: list[bytes] = []
    word = b""
    for char in value:
        octets = char.encode()
        if len(word) + len(octets) > _WORD_OCTETS:  # never splits a character's octets between words
            words.append(word)
            word = b""
        word += octets
    words.append(word)
    return "\r\n ".join(f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode()}?=" for w in words)


def _unstructured(header: str, value: str) -> str:
    _no_line_break(header, value)
    plain = value.isascii() and value.isprintable() and "=?" not in value
    if plain and len(header) + 2 + len(value) <= _MAX_LINE:
        return value
    return _encoded_words(value)


def _mailbox(header: str, name: str, address: str) -> str:
    _no_line_break(header, name)
    _ascii_line(header, address)
    if not name or (name.isascii() and name.isprintable() and "=?" not in name and len(name) < 900):
        return formataddr((name, address))  # quotes the name if it needs quoting
    return f"{_encoded_words(name)} <{address}>"


def _text_part(subtype: str, content: str, boundary: str) -> bytes:
    """One text part's headers and body: 7bit if it is ASCII in short lines, else quoted-printable."""
    lines = content.encode().splitlines()
    body = b"\r\n".join(lines) + b"\r\n"
    if body.isascii() and max(map(len, lines), default=0) <= _MAX_LINE and boundary.encode() not in body:
        encoding = "7bit"
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(body, istext=True)  # lines of at most 76 characters (RFC 2045 6.7)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    ).encode() + body


# --- The SMTP conversation ---------------------------------------------------------------------------


class Connections(Protocol):
    """Open connections an email can go over (`activities.smtp_pool.SmtpPool`)."""

    async def send(self, msg: WireMessage) -> SmtpResult: ...


async def deliver(settings: Settings, msg: WireMessage, smtp: Connections | None = None) -> SmtpResult:
    """Send one message. 5xx comes back as REJECTED; anything transient raises TransientSmtpError.

    With `smtp`, over one of the pool's open connections (the pool's own settings apply); without, in one
    conversation of its own: connect, EHLO, the message, QUIT.
    """
    if smtp is not None:
        return await smtp.send(msg)
    try:
        conn = await open_connection(settings)
    except (aiosmtplib.SMTPException, OSError) as err:
        raise server_fault("connecting", err) from None
    try:
        try:
            await send_envelope(conn, msg)
        except (aiosmtplib.SMTPException, OSError) as err:
            raise server_fault("MAIL FROM", err) from None
        await send_content(conn, msg)
    except (aiosmtplib.SMTPException, OSError) as err:
        return rejected_or_raise(err)
    finally:
        await quit_quietly(conn, settings.smtp_timeout_seconds)
    return SmtpResult(outcome=SmtpOutcome.ACCEPTED)


def server_fault(step: str, err: aiosmtplib.SMTPException | OSError) -> TransientSmtpError:
    """A refusal before any recipient was named (greeting, EHLO, STARTTLS, AUTH, MAIL FROM) says nothing
    about this email: a wrong password or a sender the relay will not take. Transient, even a 5xx, so the
    email waits (its ledger row in 'sending', alerted on) until the setting is fixed instead of failing
    for good like every other email would."""
    if isinstance(err, aiosmtplib.SMTPResponseException):
        what = f"{err.code} {err.message}"
    else:
        what = f"{type(err).__name__}: {err}"
    return TransientSmtpError(f"SMTP server refused {step} (check the MENTORFLOW_SMTP_* settings): {what}")


async def open_connection(
    settings: Settings, *, tls_context: ssl.SSLContext | None = None
) -> aiosmtplib.SMTP:
    """A connected (and, if configured, encrypted and logged-in) SMTP client."""
    host, port = settings.smtp_target
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    conn = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        username=settings.smtp_user,
        password=password,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout_seconds,
        tls_context=tls_context,
        local_hostname=await _local_hostname(),
    )
    await conn.connect()
    return conn


_LOCAL_HOSTNAME: str | None = None


async def _local_hostname() -> str:
    """What EHLO names us: looked up once per process (aiosmtplib asks the resolver on every connect)."""
    global _LOCAL_HOSTNAME
    if _LOCAL_HOSTNAME is None:
        _LOCAL_HOSTNAME = await asyncio.to_thread(socket.getfqdn)
    return _LOCAL_HOSTNAME


async def send_envelope(conn: aiosmtplib.SMTP, msg: WireMessage) -> None:
    """MAIL FROM: the first command of a transaction, so the one that finds a connection dead."""
    await conn.mail(msg.sender)


async def send_content(conn: aiosmtplib.SMTP, msg: WireMessage) -> None:
    """RCPT TO for each recipient, then DATA. From here on a failure is never retried by us: the server
    may have taken the message, and only the activity's retry (same Message-ID, the ledger) may repeat it."""
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    for recipient in msg.recipients:
        try:
            await conn.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as err:
            refused.append(err)
    if len(refused) == len(msg.recipients):
        raise aiosmtplib.SMTPRecipientsRefused(refused)
    await conn.data(msg.data)


async def quit_quietly(conn: aiosmtplib.SMTP, within: float) -> None:
    """QUIT if the connection is still up; close it whatever the server says (or if it says nothing)."""
    try:
        if conn.is_connected:
            await conn.quit(timeout=within)
    except (aiosmtplib.SMTPException, OSError):
        pass
    finally:
        conn.close()


def rejected_or_raise(err: aiosmtplib.SMTPException | OSError) -> SmtpResult:
    """What a failed conversation means: a 5xx comes back as REJECTED; anything else raises
    TransientSmtpError (4xx, refused recipients that are not all 5xx, connection faults, timeouts)."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in err.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
        if all(code >= 500 for code in codes):
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=detail)
        raise TransientSmtpError(detail) from None
    if isinstance(err, aiosmtplib.SMTPResponseException):
        if err.code >= 500:
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=f"{err.code} {err.message}")
        raise TransientSmtpError(f"{err.code} {err.message}") from None
    raise TransientSmtpError(f"{type(err).__name__}: {err}") from None
