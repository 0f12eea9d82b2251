"""Build an email and hold the SMTP conversation; classify what the server said."""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import os
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import aiosmtplib
from pydantic import BaseModel

from infra.settings import Settings, SettingsError


class OutgoingEmail(BaseModel):
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str
    unsubscribe_url: str
    date: datetime
    # Replies go to the participant's mentor when they have one: "reply to this email" reaches a person.
    reply_to_name: str = ""
    reply_to_address: str | None = None


class SmtpOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # 5xx, or a message this relay cannot take: permanent, retrying cannot help


class SmtpResult(BaseModel):
    outcome: SmtpOutcome
    detail: str = ""  # addresses redacted: may leave the activity (Temporal history, logs)
    reply: str = ""  # what the server said, in full: for Postgres only


class TransientSmtpError(Exception):
    """4xx, refused connection, timeout: the send may succeed if tried again.

    `str()` has every address redacted (it reaches Temporal's history and the logs); `reply` is the
    server's full text, for Postgres only."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))
        self.reply = message


class HandedOverNoReply(Exception):
    """The message was handed over (after the 354) and no reply came: a timeout or a dropped connection.
    The relay may hold it or not; sending again could deliver a second copy, so nobody may. `str()` is
    redacted like TransientSmtpError's."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class HandoverDeclined(Exception):
    """The point of no return could not be recorded (Postgres away, or another attempt crossed it first):
    nothing was handed over and the connection is hung up mid-transaction. `unknown`: the recording
    failed midway, so the mark may or may not be in the ledger."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


# Called once the relay answered DATA with 354, just before the message goes: records the point of no
# return. False (another attempt got there first) or an exception stops the send with nothing handed over.
Handover = Callable[[], Awaitable[bool]]


class SmtpConfigError(TransientSmtpError):
    """The relay cannot be used as configured (its TLS certificate does not verify, STARTTLS is not
    offered...): says which setting fixes it. Retried like a transient fault, so no email is lost while
    an operator fixes the setting; its ledger row waits in 'sending' and is alerted on."""


def message_id_for(workflow_id: str, nudge_key: str, domain: str) -> str:
    """Deterministic, so a retried send carries the same Message-ID and receivers can drop the copy."""
    digest = hashlib.sha256(f"{workflow_id}\x00{nudge_key}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


# Anything shaped like an address: <...@...>, "quoted local"@domain, local@domain (non-ASCII too).
_ADDRESS = re.compile(r'<[^<>\s]*@[^<>\s]*>|"[^"\r\n]*"@[^\s<>,;]+|[^\s<>"(),;:\[\]@]+@[^\s<>,;]+')


def redact(text: str) -> str:
    """Every email address in `text` replaced by `<address>`: SMTP replies name the recipient
    (`550 5.1.1 <person@example.org>: User unknown`), and no personal data may reach Temporal or logs."""
    return _ADDRESS.sub("<address>", text)


# --- The message -------------------------------------------------------------------------------------
#
# Written out directly as the bytes that go after DATA: the email package's EmailMessage with set_content,
# add_alternative and a policy flattened in as_bytes cost about twenty times as much per email for the same
# headers and parts. Every line ends in CRLF and is 7-bit (but for a non-ASCII address, which goes only
# with SMTPUTF8). Headers are folded by construction: a value that could make a line long, or is not
# plain ASCII, becomes RFC 2047 encoded words of at most 75 characters, each on a line of its own, so no
# header line is ever longer than 998 octets. The one-click List-Unsubscribe URL always stays on one line
# (RFC 8058).

# RFC 5322 2.1.1: a line is at most 998 characters before its CRLF (78 recommended).
_MAX_LINE = 998
_SHORT_LINE = 78
# RFC 2047: an encoded word is at most 75 characters; "=?utf-8?b?" and "?=" leave 60 base64 characters.
_WORD_OCTETS = 45
# RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets.
_MAX_ADDRESS = 254
# A phrase (display name) that needs quoting (RFC 5322 3.2.3 specials).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A built email: the SMTP envelope and the exact bytes of the message (CRLF line endings; 7-bit
    unless `smtputf8`: an address in the envelope and headers is not ASCII, RFC 6531/6532)."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    smtputf8: bool = False


def build_message(email: OutgoingEmail, sender: str) -> WireMessage:
    """The email as it goes on the wire: multipart/alternative, plain text then HTML, both UTF-8."""
    sender_name, sender_address = _parsed_sender(sender)
    sender_address = _address("From", sender_address)
    to_address = _address("To", email.to_address)
    boundary = f"=_{os.urandom(12).hex()}"  # "=_" never occurs in quoted-printable, and 7bit is checked
    text = _text_part("plain", email.text, boundary)
    html = _text_part("html", email.html, boundary)
    head = (
        f"From: {_mailbox('From', sender_name, sender_address)}\r\n"
        f"To: {_mailbox('To', email.to_name, to_address)}\r\n"
        f"Subject: {_unstructured('Subject', email.subject)}\r\n"
        f"Date: {format_datetime(email.date)}\r\n"
        f"Message-ID: {_ascii_line('Message-ID', email.message_id)}\r\n"
        + (
            f"Reply-To: {_mailbox('Reply-To', email.reply_to_name, email.reply_to_address)}\r\n"
            if email.reply_to_address
            else ""
        )
        + f"List-Unsubscribe: <{_ascii_line('List-Unsubscribe', email.unsubscribe_url)}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        "\r\n"
    )
    delimiter = f"--{boundary}\r\n".encode()
    data = b"".join(
        (head.encode(), delimiter, text, b"\r\n", delimiter, html, f"\r\n--{boundary}--\r\n".encode())
    )
    return WireMessage(
        sender=sender_address,
        recipients=(to_address,),
        data=data,
        smtputf8=not (sender_address.isascii() and to_address.isascii()),
    )


@lru_cache(maxsize=8)
def _parsed_sender(sender: str) -> tuple[str, str]:
    name, address = parseaddr(sender)
    if not address:
        raise ValueError("the sender (MENTORFLOW_MAIL_FROM) is not an email address")
    return name, address


def _no_line_break(header: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {header} header may not contain a line break")
    return value


def _address(header: str, address: str) -> str:
    """An addr-spec as it goes in the envelope and the header: the domain in ASCII (IDNA), no whitespace
    or control characters, at most 254 octets. A non-ASCII local part stays: it needs SMTPUTF8. The error
    never quotes the address (it may leave the activity)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or not address.isprintable() or any(c.isspace() for c in address):
        raise ValueError(f"the {header} address is not a valid email address")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"the {header} address has an invalid domain") from None
    address = f"{local}@{domain}"
    if "<" in address or ">" in address or len(address.encode()) > _MAX_ADDRESS:
        raise ValueError(f"the {header} address is not a valid email address (at most 254 octets)")
    return address


def _ascii_line(header: str, value: str) -> str:
    """A header value that must reach the reader verbatim, on one line."""
    _no_line_break(header, value)
    if not value.isascii() or len(header) + 2 + len(value) + 2 > _MAX_LINE:
        raise ValueError(f"the {header} header must be ASCII and fit on one line")
    return value


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 words in UTF-8, each at most 75 characters and on a line of its own."""
    words: list[bytes] = []
    word = b""
    for char in value:
        octets = char.encode("utf-8", "surrogatepass")
        if len(word) + len(octets) > _WORD_OCTETS:  # never splits a character's octets between words
            words.append(word)
            word = b""
        word += octets
    words.append(word)
    return "\r\n ".join(f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode()}?=" for w in words)


def _displayable(value: str) -> str:
    """Text for a reader: control characters (which a name or subject should never hold, and readers
    flag) become spaces."""
    return value if value.isprintable() else "".join(c if c.isprintable() or c == " " else " " for c in value)


def _plain(value: str) -> bool:
    """Text that reads the same as it is written: printable ASCII, single spaces, nothing that looks
    like an encoded word."""
    return value.isascii() and value.isprintable() and "=?" not in value and "  " not in value


def _unstructured(header: str, value: str) -> str:
    value = _displayable(_no_line_break(header, value))
    if _plain(value) and value == value.strip() and len(header) + 2 + len(value) <= _MAX_LINE:
        return value
    return _encoded_words(value)


def _mailbox(header: str, name: str, address: str) -> str:
    """`name <address>` on one short line when the name is plain; otherwise the name as encoded words
    and the address on a line of its own. Either way no line exceeds 998 octets."""
    name = _displayable(_no_line_break(header, name))
    if not name:
        return address
    if _plain(name) and name == name.strip():
        phrase = name
        if _SPECIALS.search(name):
            phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        line = f"{phrase} <{address}>"
        if len(header) + 2 + len(line.encode()) <= _SHORT_LINE:
            return line
    return f"{_encoded_words(name)}\r\n <{address}>"


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

    async def send(self, msg: WireMessage, handover: Handover | None = None) -> SmtpResult: ...


async def deliver(
    settings: Settings,
    msg: WireMessage,
    smtp: Connections | None = None,
    handover: Handover | None = None,
) -> SmtpResult:
    """Send one message. 5xx comes back as REJECTED; anything transient raises TransientSmtpError; no
    reply once the message was handed over raises HandedOverNoReply (see `send_data`).

    With `smtp`, over one of the pool's open connections (the pool's own settings apply); without, in one
    conversation of its own: connect, EHLO, the message, QUIT.
    """
    if smtp is not None:
        return await smtp.send(msg, handover)
    try:
        conn = await open_connection(settings)
    except (aiosmtplib.SMTPException, OSError) as err:
        raise server_fault(settings, "connecting", err) from None
    try:
        if refusal := unsendable(settings, conn, msg):
            return refusal
        try:
            await send_envelope(settings, conn, msg)
        except (aiosmtplib.SMTPException, OSError) as err:
            raise server_fault(settings, "MAIL FROM", err) from None
        await send_content(settings, conn, msg, handover)
    except (aiosmtplib.SMTPException, OSError) as err:
        return rejected_or_raise(err)
    finally:
        await quit_quietly(conn, QUIT_TIMEOUT)
    return SmtpResult(outcome=SmtpOutcome.ACCEPTED)


def server_fault(
    settings: Settings, step: str, err: aiosmtplib.SMTPException | OSError
) -> TransientSmtpError:
    """A refusal before any recipient was named (greeting, EHLO, STARTTLS, AUTH, MAIL FROM) says nothing
    about this email: a wrong password or a sender the relay will not take. Transient, even a 5xx, so the
    email waits (its ledger row in 'sending', alerted on) until the setting is fixed instead of failing
    for good like every other email would."""
    if (verify := _cert_verify_error(err)) is not None:
        host, port = settings.smtp_target
        name = settings.smtp_tls_server_name or host
        return SmtpConfigError(
            f"TLS certificate of the SMTP relay {host}:{port} not verified as {name!r} "
            f"({verify.verify_message or verify.reason}): set MENTORFLOW_SMTP_TLS_SERVER_NAME to the name "
            "the certificate carries (needed when MENTORFLOW_SMTP_HOST is an IP address), or "
            "MENTORFLOW_SMTP_CA_FILE to a PEM file of the CA that signed it"
        )
    if isinstance(err, aiosmtplib.SMTPResponseException):
        what = f"{err.code} {err.message}"
    else:
        what = f"{type(err).__name__}: {err}"
    if "STARTTLS extension not supported" in what:
        return SmtpConfigError(
            f"SMTP relay does not offer STARTTLS: check MENTORFLOW_SMTP_SECURITY and _PORT ({what})"
        )
    return TransientSmtpError(f"SMTP server refused {step} (check the MENTORFLOW_SMTP_* settings): {what}")


def _cert_verify_error(err: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def unsendable(settings: Settings, conn: aiosmtplib.SMTP, msg: WireMessage) -> SmtpResult | None:
    """REJECTED for a message this relay cannot take whatever we retry: a non-ASCII address without
    SMTPUTF8 (not offered by the relay, or MENTORFLOW_SMTP_UTF8=off). None if it can go."""
    if not msg.smtputf8:
        return None
    if settings.smtp_utf8 == "off":
        why = "MENTORFLOW_SMTP_UTF8=off"
    elif not conn.supports_extension("smtputf8"):
        why = "the relay does not offer SMTPUTF8"
    else:
        return None
    detail = f"a non-ASCII email address needs SMTPUTF8 ({why}); not sent"
    return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=detail, reply=detail)


@lru_cache(maxsize=4)
def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifies the relay's certificate and name: against `ca_file` alone when set, else the system's CAs.
    One per process (building one loads the CA bundle; aiosmtplib would build one per connection)."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


async def open_connection(settings: Settings) -> aiosmtplib.SMTP:
    """A connected, greeted (EHLO), and if configured encrypted and logged-in SMTP client.

    Each step under its own timeout: connecting `smtp_connect_timeout_seconds`, the greeting
    `smtp_greeting_timeout_seconds`, EHLO/STARTTLS/AUTH `smtp_mail_timeout_seconds` (RFC 5321 4.5.3.2).
    """
    host, port = settings.smtp_target
    server_name = settings.smtp_tls_server_name or host
    context = None
    if settings.smtp_security != "none":
        context = await asyncio.to_thread(tls_context, settings.smtp_ca_file)
    local_hostname = await ehlo_name(settings)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    sock = await _tcp_connect(host, port, within=settings.smtp_connect_timeout_seconds)
    conn = aiosmtplib.SMTP(
        hostname=server_name,  # with `sock`, only the name the certificate must carry
        sock=sock,
        use_tls=settings.smtp_security == "tls",
        start_tls=False,  # below, explicitly, so a relay that does not offer it is an error
        timeout=settings.smtp_mail_timeout_seconds,
        tls_context=context,
        local_hostname=local_hostname,
    )
    try:
        await conn.connect(timeout=settings.smtp_greeting_timeout_seconds)
        if settings.smtp_security == "starttls":
            await conn.starttls(server_hostname=server_name, tls_context=context)
        if conn.is_ehlo_or_helo_needed:
            await conn.ehlo()
        if settings.smtp_user is not None:
            await conn.login(settings.smtp_user, password or "")
    except BaseException:
        conn.close()
        sock.close()
        raise
    return conn


async def _tcp_connect(host: str, port: int, *, within: float) -> socket.socket:
    """A connected socket, within `within` seconds for the name lookup and every address tried."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    try:
        async with asyncio.timeout(within):
            addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            for family, kind, proto, _, address in addresses:
                sock = socket.socket(family, kind, proto)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, address)
                except BaseException as err:
                    sock.close()
                    if not isinstance(err, OSError):
                        raise
                    last = err
                    continue
                return sock
    except TimeoutError:
        raise aiosmtplib.SMTPConnectTimeoutError(
            f"timed out connecting to {host} on port {port} after {within:g} s "
            "(MENTORFLOW_SMTP_CONNECT_TIMEOUT_SECONDS)"
        ) from None
    raise aiosmtplib.SMTPConnectError(f"error connecting to {host} on port {port}: {last}")


_FQDN: str | None = None


async def ehlo_name(settings: Settings) -> str:
    """What EHLO names us: MENTORFLOW_SMTP_EHLO_NAME, else this machine's fully qualified name (looked up
    once per process). Outside the embedded stack a name a relay would refuse (localhost, no dot; an
    address literal like [192.0.2.1] may be set) raises SettingsError: the worker refuses to start
    instead of every email being refused."""
    global _FQDN
    if (named := settings.smtp_ehlo_name) is not None:
        if not settings.embedded_smtp and not (acceptable_ehlo_name(named) or named.startswith("[")):
            raise SettingsError(
                f"setting MENTORFLOW_SMTP_EHLO_NAME (got {named!r}): not a fully qualified domain name a "
                "relay accepts in EHLO (never localhost); set it to this host's public name"
            )
        return named
    if _FQDN is None:
        _FQDN = await asyncio.to_thread(socket.getfqdn)
    if not settings.embedded_smtp and not acceptable_ehlo_name(_FQDN):
        raise SettingsError(
            f"setting MENTORFLOW_SMTP_EHLO_NAME: unset, and this machine's name {_FQDN!r} is not a fully "
            "qualified domain name a relay accepts in EHLO; set it to this host's public name"
        )
    return _FQDN


def acceptable_ehlo_name(name: str) -> bool:
    lowered = name.lower().rstrip(".")
    return (
        "." in lowered
        and lowered not in ("localhost.localdomain", "localhost6.localdomain6")
        and not (
            lowered.startswith("localhost.") or lowered.endswith(".localhost") or lowered.endswith(".local")
        )
    )


async def send_envelope(settings: Settings, conn: aiosmtplib.SMTP, msg: WireMessage) -> None:
    """MAIL FROM: the first command of a transaction, so the one that finds a connection dead."""
    if msg.smtputf8:
        await conn.mail(
            msg.sender, options=["SMTPUTF8"], encoding="utf-8", timeout=settings.smtp_mail_timeout_seconds
        )
    else:
        await conn.mail(msg.sender, timeout=settings.smtp_mail_timeout_seconds)


async def send_content(
    settings: Settings, conn: aiosmtplib.SMTP, msg: WireMessage, handover: Handover | None = None
) -> None:
    """RCPT TO for each recipient, then DATA (`send_data`: `handover` is called between the 354 and the
    message)."""
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    encoding = "utf-8" if msg.smtputf8 else "ascii"
    for recipient in msg.recipients:
        try:
            await conn.rcpt(recipient, encoding=encoding, timeout=settings.smtp_rcpt_timeout_seconds)
        except aiosmtplib.SMTPRecipientRefused as err:
            refused.append(err)
    if len(refused) == len(msg.recipients):
        raise aiosmtplib.SMTPRecipientsRefused(refused)
    await send_data(settings, conn, msg.data, handover)


# Closing is a courtesy: a server that does not answer QUIT promptly is hung up on.
QUIT_TIMEOUT = 5.0
# Dot-stuffing (RFC 5321 4.5.2); the message's lines already end in CRLF.
_LEADING_DOT = re.compile(rb"(?m)^\.")
_BLOCK = 64 * 1024


async def send_data(
    settings: Settings, conn: aiosmtplib.SMTP, data: bytes, handover: Handover | None = None
) -> None:
    """DATA with RFC 5321's three timeouts (aiosmtplib's `data()` has one for all): the 354 within
    `smtp_data_timeout_seconds`, each block of the message accepted by the network within
    `smtp_data_block_timeout_seconds`, the reply to the final "." within `smtp_data_end_timeout_seconds`
    (10 minutes: giving up sooner on a slow relay that then stores the message makes a duplicate).

    After the 354, `handover` records the point of no return before the message goes. A reply to DATA or
    to the message (4xx, 5xx) is the relay's word that it kept nothing: raised as the SMTP error it is.
    A timeout or a dropped connection after the final "." was written says nothing: HandedOverNoReply.
    """
    start = await conn.execute_command(b"DATA", timeout=settings.smtp_data_timeout_seconds)
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = conn.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    if handover is not None:
        try:
            crossing = await handover()
        except Exception as err:
            conn.close()  # mid-message: hanging up abandons the transaction
            what = f"{type(err).__name__}: {err}"
            raise HandoverDeclined(f"could not record the handover: {what}", unknown=True) from None
        if not crossing:
            conn.close()
            raise HandoverDeclined("another attempt handed this message over")
    payload = _LEADING_DOT.sub(b"..", data) + b".\r\n"
    *blocks, last = [payload[i : i + _BLOCK] for i in range(0, len(payload), _BLOCK)]
    ended = False  # the final "." written: from here the relay may hold the message
    per_block = settings.smtp_data_block_timeout_seconds
    try:
        for block in blocks:
            protocol.write(block)
            # Waits only while the transport's buffer is above its high-water mark (the relay not reading).
            try:
                await asyncio.wait_for(protocol._drain_helper(), per_block)
            except TimeoutError:
                raise aiosmtplib.SMTPTimeoutError(
                    f"the relay took nothing of the message for {per_block:g} s "
                    "(MENTORFLOW_SMTP_DATA_BLOCK_TIMEOUT_SECONDS)"
                ) from None
        protocol.write(last)
        ended = True
        # No await between the last write and this read: the reply cannot arrive unheard.
        reply = await protocol.read_response(timeout=settings.smtp_data_end_timeout_seconds)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as err:
        conn.close()  # out of step with the server: never reuse
        if ended:
            raise HandedOverNoReply(
                f"no reply to the end of the message: {type(err).__name__}: {err}"
            ) from None
        raise
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)


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
        reply = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
        if all(code >= 500 for code in codes):
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=redact(reply), reply=reply)
        raise TransientSmtpError(reply) from None
    if isinstance(err, aiosmtplib.SMTPResponseException):
        reply = f"{err.code} {err.message}"
        if err.code >= 500:
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=redact(reply), reply=reply)
        raise TransientSmtpError(reply) from None
    raise TransientSmtpError(f"{type(err).__name__}: {err}") from None
