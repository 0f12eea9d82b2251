"""The email as it reaches a real SMTP sink: the headers and bodies as rendered, within RFC limits.

What a mail client reads back with the standard library's parser (policy.default) must be what we wrote:
non-ASCII names and subjects, the one-click unsubscribe header on one line (RFC 8058), both parts in
UTF-8, every line 7-bit and short enough for any relay.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.mailer import OutgoingEmail, SmtpOutcome, build_message, deliver
from infra.settings import load_settings
from worker.devstack import MailSink

LONG_UNSUBSCRIBE = "https://mentorflow.example.org/a/unsubscribe/" + "x" * 300 + ".ZxQ9bA.Vt3k2l-fQ0w1p9"
TEXT = (
    "Hallo Zoë,\n"
    ".a line that starts with a dot\n"
    "From here on, a line that starts with From\n"
    "trailing spaces   \n"
    "a=b and =?utf-8?q?not_an_encoded_word?=\n"
    + "long line é " * 120
    + "\r\nwindows line\rold mac line\n\n"
    + "- Unsubscribe: "
    + LONG_UNSUBSCRIBE
    + "\n"
)
HTML = '<!doctype html><html lang="en"><body><p>Hallo Zoë 🩺</p>' + "<p>para</p>" * 200 + "</body></html>"


def _email(**changes: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to_name": "Ada Okafor",
        "to_address": "ada@example.org",
        "subject": "Week 1: your first thread",
        "text": "Hello Ada,\n\nyour first email.\n",
        "html": "<p>Hello Ada,</p><p>your first email.</p>",
        "message_id": "<m1@example.org>",
        "unsubscribe_url": "http://127.0.0.1:8000/a/unsubscribe/eyJ3Ijoiam91cm5leS1jMS1wMSJ9",
        "date": datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
    }
    return OutgoingEmail(**(fields | changes))


async def test_headers_and_bodies_arrive_as_written(tmp_path: Path, mail_sink: MailSink) -> None:
    settings = load_settings(state_dir=tmp_path / "state", smtp_port=mail_sink.port, metrics_port=0)
    outgoing = _email(
        to_name="Zoë Ólafsdóttir-Nakamura, MD",
        subject="Woche 3: dein erster #medtwitter-Thread — bereit? 🩺 " + "ä" * 40,
        text=TEXT,
        html=HTML,
        unsubscribe_url=LONG_UNSUBSCRIBE,
    )
    sent = await deliver(settings, build_message(outgoing, "Mentorflow <mentorflow@example.org>"))
    assert sent.outcome is SmtpOutcome.ACCEPTED
    [path] = mail_sink.messages()
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "Mentorflow <mentorflow@example.org>"
    assert msg["To"] == '"Zoë Ólafsdóttir-Nakamura, MD" <ada@example.org>'
    assert msg["To"].addresses[0].display_name == "Zoë Ólafsdóttir-Nakamura, MD"
    assert msg["Subject"] == outgoing.subject
    assert msg["Date"].datetime == outgoing.date
    assert msg["Message-ID"] == "<m1@example.org>"
    assert msg["List-Unsubscribe"] == f"<{LONG_UNSUBSCRIBE}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert not any(p.defects for p in msg.walk())
    lines = raw.split(b"\r\n")
    # One line for the one-click header (RFC 8058), however long the URL.
    assert f"List-Unsubscribe: <{LONG_UNSUBSCRIBE}>".encode() in lines
    # 7-bit, CRLF only, within RFC 5322's line limit; quoted-printable lines within RFC 2045's 76.
    assert raw.isascii() and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(map(len, lines)) <= 998
    for part in msg.iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
    body = raw.partition(b"\r\n\r\n")[2]
    assert max(map(len, body.split(b"\r\n"))) <= 76
    # The bodies, line endings aside, exactly as rendered (they went over SMTP dot-stuffed).
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert plain.replace("\r\n", "\n") == TEXT.replace("\r\n", "\n").replace("\r", "\n")
    assert html.replace("\r\n", "\n") == HTML + "\n"


def test_plain_ascii_goes_as_it_is() -> None:
    raw = build_message(_email(), "mentorflow@example.org").data
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert [p["Content-Transfer-Encoding"] for p in msg.iter_parts()] == ["7bit", "7bit"]
    assert b"\r\nSubject: Week 1: your first thread\r\n" in raw
    assert b"\r\nTo: Ada Okafor <ada@example.org>\r\n" in raw
    assert msg.get_body(("plain",)).get_content() == "Hello Ada,\r\n\r\nyour first email.\r\n"  # type: ignore[union-attr]


def test_envelope_is_the_bare_addresses() -> None:
    msg = build_message(_email(to_name="Zoë"), "Mentorflow <mentorflow@example.org>")
    assert msg.sender == "mentorflow@example.org" and msg.recipients == ("ada@example.org",)


@pytest.mark.parametrize(
    "field", [{"subject": "hi\r\nBcc: x@example.org"}, {"to_name": "Ada\nBcc: x@example.org"}]
)
def test_no_header_injection(field: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="line break"):
        build_message(_email(**field), "mentorflow@example.org")


# Any text a roster, a form or a program could hold, but CR/LF (refused: header injection) and lone
# surrogates (not text).
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=1200)
_NAMES = st.one_of(
    _TEXT,
    st.text(st.sampled_from('"\\ ,;:<>()@.=?é\t'), max_size=1200),  # quotes, specials, encoded-word look
    st.builds(lambda n: "x" * n, st.integers(0, 2000)),
)
_NON_ASCII_LOCAL = st.sampled_from(["josé", "ünïcode.ñame", "张伟"])
_ADDRESSES = st.one_of(st.emails(), st.builds("{}@example.org".format, _NON_ASCII_LOCAL))


def _shown(text: str) -> str:
    """What a reader should see: control characters as spaces."""
    return "".join(c if c.isprintable() or c == " " else " " for c in text)


def _rfc2047(value: str) -> str:
    """A header value decoded as RFC 2047 says (whitespace between adjacent encoded words ignored)."""
    return str(make_header(decode_header(value)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, address=_ADDRESSES, subject=_TEXT, sender_name=_NAMES)
def test_every_header_line_is_short_and_parses_back_as_written(
    name: str, address: str, subject: str, sender_name: str
) -> None:
    sender = formataddr((sender_name, "program@example.net")) if sender_name else "program@example.net"
    try:
        msg = build_message(_email(to_name=name, to_address=address, subject=subject), sender)
    except ValueError as err:
        # Only an address beyond RFC 5321's limits may be refused, and the error never quotes it.
        assert len(address.encode()) > 254 and address not in str(err)
        return
    head, _, _ = msg.data.partition(b"\r\n\r\n")
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    # RFC 6532: headers are UTF-8 only when an address needs it (and then SMTPUTF8 carries it).
    assert head.isascii() or msg.smtputf8
    parsed = email.message_from_string(msg.data.decode(), policy=email.policy.SMTPUTF8)
    assert not parsed.defects
    [to] = parsed["To"].addresses
    assert [type(d).__name__ for d in parsed["To"].defects] == (
        [] if to.username.isascii() else ["NonASCIILocalPartDefect"]
    )
    assert to.addr_spec == msg.recipients[0]
    [sent_by] = parsed["From"].addresses
    assert sent_by.addr_spec == "program@example.net" and not parsed["From"].defects
    assert not parsed["Subject"].defects and parsed["Subject"] == _shown(subject)
    # Names: the stdlib reads what we wrote, up to whitespace (its phrase parser puts a space between
    # adjacent encoded words, which RFC 2047 6.2 says to ignore); an RFC 2047 decoder reads it exactly.
    raw = dict(parsed.raw_items())
    for written, read, header in ((name, to, "To"), (parseaddr(sender)[0], sent_by, "From")):
        assert read.display_name.split() == _shown(written).split() or (
            "".join(read.display_name.split()) == "".join(_shown(written).split())
        )
        phrase = raw[header].rpartition("<")[0].strip()
        if phrase.startswith("=?"):
            assert _rfc2047(phrase) == _shown(written)
        else:
            assert read.display_name == _shown(written)
