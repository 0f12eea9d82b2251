"""A few open SMTP connections per worker process, reused from one email to the next.

A connection costs a TCP (and TLS) handshake, the greeting, EHLO, perhaps AUTH and a QUIT: most of an
email's SMTP work when each email has its own. The pool keeps up to `size` connections open, hands each
to one send at a time, and closes one that has been idle for `idle_seconds` or has carried
`max_messages` emails.

At most once: a connection taken from the pool may have died while idle (the server timed it out,
restarted, a middlebox dropped it). If its MAIL FROM finds it gone, nothing was handed over, so the
email is tried once more on a new connection. Once MAIL FROM was accepted the connection is known to be
alive, and any failure from there on (RCPT, DATA, the reply to the message) is classified and raised
exactly as a single conversation's would be (`mailer.send_content`): a message handed over with no reply
is never sent again by anyone but staff.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiosmtplib

from activities.mailer import (
    QUIT_TIMEOUT,
    Handover,
    SmtpOutcome,
    SmtpResult,
    TransientSmtpError,
    WireMessage,
    open_connection,
    quit_quietly,
    redact,
    rejected_or_raise,
    send_content,
    send_envelope,
    server_fault,
    unsendable,
)
from infra.logging import get_logger
from infra.settings import Settings

# Connections open at once per worker process; sends beyond that wait for one to come free.
POOL_SIZE = 8
# Below the 300 s a server may wait for the next command (RFC 5321 4.5.3.2.7) and most middleboxes' timeouts.
IDLE_SECONDS = 30.0
# Servers limit emails per connection; a fresh connection every so often also follows DNS and balancers.
MAX_MESSAGES = 100

log = get_logger(__name__)


@dataclass(eq=False)
class _Connection:
    smtp: aiosmtplib.SMTP
    sent: int = 0
    expiry: asyncio.TimerHandle | None = None


class SmtpPool:
    """Open SMTP connections for one worker process (one event loop). `close()` at shutdown."""

    def __init__(
        self,
        settings: Settings,
        *,
        size: int = POOL_SIZE,
        idle_seconds: float = IDLE_SECONDS,
        max_messages: int = MAX_MESSAGES,
    ) -> None:
        if size < 1 or max_messages < 1 or idle_seconds <= 0:
            raise ValueError("size and max_messages must be at least 1 and idle_seconds positive")
        self._settings = settings
        self._idle_seconds = idle_seconds
        self._max_messages = max_messages
        self._slots = asyncio.Semaphore(size)  # connections in use or being opened
        self._idle: list[_Connection] = []  # most recently used last
        self._quitting: set[asyncio.Task[None]] = set()
        self._closed = False
        self.opened = 0  # connections opened so far

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def send(self, msg: WireMessage, handover: Handover | None = None) -> SmtpResult:
        """As `mailer.deliver`: ACCEPTED, REJECTED on a 5xx, TransientSmtpError for anything transient."""
        # A connection is busy for at most its conversation's timeouts; the activity's own bounds it too.
        timeout = self._settings.smtp_connect_timeout_seconds + self._settings.smtp_mail_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise TransientSmtpError(f"no SMTP connection came free within {timeout:g} s") from None
        try:
            return await self._send(msg, handover)
        finally:
            self._slots.release()

    async def _send(self, msg: WireMessage, handover: Handover | None) -> SmtpResult:
        conn = self._take_idle()
        reused = conn is not None
        keep = False  # whether `conn` goes back to the pool; anything unforeseen (cancelled) hangs up
        try:
            while True:
                if conn is None:
                    try:
                        smtp = await open_connection(self._settings)
                        conn = _Connection(smtp)
                    except (aiosmtplib.SMTPException, OSError) as err:
                        raise server_fault(self._settings, "connecting", err) from None
                    self.opened += 1
                if refusal := unsendable(self._settings, conn.smtp, msg):
                    keep = True
                    return refusal
                try:
                    await send_envelope(self._settings, conn.smtp, msg)
                    break
                except (aiosmtplib.SMTPException, OSError) as err:
                    if reused and _gone(err):
                        # Died while idle: the server has nothing of this email. Once more, on a new one.
                        log.info(
                            "smtp connection gone before sending; using a new one", error=redact(repr(err))
                        )
                        conn.smtp.close()
                        conn, reused = None, False
                        continue
                    keep = await self._reset(conn, err)
                    raise server_fault(self._settings, "MAIL FROM", err) from None
            try:
                await send_content(self._settings, conn.smtp, msg, handover)
            except (aiosmtplib.SMTPException, OSError) as err:
                keep = await self._reset(conn, err)
                return rejected_or_raise(err)
            conn.sent += 1
            keep = True
            return SmtpResult(outcome=SmtpOutcome.ACCEPTED)
        finally:
            if conn is not None:
                if keep:
                    self._put_back(conn)
                else:
                    conn.smtp.close()

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.expiry is not None:
                conn.expiry.cancel()
                conn.expiry = None
            if conn.smtp.is_connected:  # the server may have hung up meanwhile (aiosmtplib notices)
                return conn
            conn.smtp.close()
        return None

    async def _reset(self, conn: _Connection, err: Exception) -> bool:
        """After a refusal the server still holds the transaction: RSET so the next email starts clean.
        True if the connection is fit for the next email."""
        if not isinstance(err, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused):
            return False  # disconnected, timed out, or out of step with the server: hang up
        if _gone(err) or not conn.smtp.is_connected:
            return False
        try:
            await conn.smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            return False
        return True

    def _put_back(self, conn: _Connection) -> None:
        if self._closed or conn.sent >= self._max_messages or not conn.smtp.is_connected:
            self._quit(conn)
            return
        conn.expiry = asyncio.get_running_loop().call_later(self._idle_seconds, self._expire, conn)
        self._idle.append(conn)

    def _expire(self, conn: _Connection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
            conn.expiry = None
            self._quit(conn)

    def _quit(self, conn: _Connection) -> None:
        task = asyncio.create_task(quit_quietly(conn.smtp, QUIT_TIMEOUT))
        self._quitting.add(task)
        task.add_done_callback(self._quitting.discard)

    async def close(self) -> None:
        """QUIT every idle connection and keep none from now on (one still in use is QUIT when its send
        ends). Sends still work after this, each on a connection of its own."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            if conn.expiry is not None:
                conn.expiry.cancel()
            self._quit(conn)
        await asyncio.gather(*self._quitting, return_exceptions=True)


def _gone(err: Exception) -> bool:
    """The connection is dead: dropped, reset, timed out, or the server said it is closing it (421)."""
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return err.code == 421
    return isinstance(err, OSError)
