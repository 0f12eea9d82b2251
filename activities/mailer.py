"""Build an email and hold the SMTP conversation; classify what the server said."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from enum import StrEnum

import aiosmtplib
from pydantic import BaseModel

from worker.settings import Settings

# Long enough that the one-click unsubscribe URL is never folded (RFC 8058 wants it on one line).
_POLICY = SMTP_POLICY.clone(max_line_length=998)


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


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = formataddr((email.to_name, email.to_address))
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(email.date)
    msg["Message-ID"] = email.message_id
    msg["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    return msg


async def deliver(settings: Settings, msg: EmailMessage) -> SmtpResult:
    """One SMTP conversation. 5xx comes back as REJECTED; anything transient raises."""
    host, port = settings.smtp_target
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    # Flattened here with our policy: aiosmtplib would re-fold headers at 78 columns and turn the
    # one-click unsubscribe URL into an encoded word that no mail client can use.
    raw = msg.as_bytes(policy=_POLICY.clone(linesep="\r\n"))
    try:
        await aiosmtplib.send(
            raw,
            sender=msg["From"].addresses[0].addr_spec,
            recipients=[addr.addr_spec for addr in msg["To"].addresses],
            hostname=host,
            port=port,
            username=settings.smtp_user,
            password=password,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as err:
        codes = [r.code for r in err.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
        if all(code >= 500 for code in codes):
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=detail)
        raise TransientSmtpError(detail) from None
    except aiosmtplib.SMTPResponseException as err:
        if err.code >= 500:
            return SmtpResult(outcome=SmtpOutcome.REJECTED, detail=f"{err.code} {err.message}")
        raise TransientSmtpError(f"{err.code} {err.message}") from None
    except (aiosmtplib.SMTPException, OSError) as err:
        raise TransientSmtpError(f"{type(err).__name__}: {err}") from None
    return SmtpResult(outcome=SmtpOutcome.ACCEPTED)
