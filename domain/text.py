"""What people may type: names, titles, conference names, missions and addresses that can be sent.

One set of rules for every entry point (roster, staff CLI, web forms, program files), the rules the
mailer needs: a value that passes here never makes an email that cannot be built or sent.
"""

from __future__ import annotations

import re
from typing import Annotated

import email_validator
from pydantic import AfterValidator

# C0 and C1 controls (CR, LF, TAB, NUL, ESC...) and the Unicode line/paragraph separators: each would
# break a header line or the shape of the email. Ordinary Unicode letters and emoji are fine.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Every ASCII punctuation character may be backslash-escaped in CommonMark.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def text_problem(value: str) -> str | None:
    """Why `value` cannot go into an email as one line of plain text, or None."""
    found = _CONTROL.search(value)
    if found:
        return f"contains a control character ({found.group()!r}, e.g. a line break); write it on one line"
    return None


def check_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A pydantic field type for a name, title or conference name: one line, no control characters.
PlainText = Annotated[str, AfterValidator(check_text)]


def check_address(value: str, *, smtputf8: bool = False) -> str:
    """The address as the relay can take it (an international domain in its ASCII form); ValueError with
    the reason otherwise. A non-ASCII local part (`josé@...`) needs SMTPUTF8 on the relay."""
    try:
        parsed = email_validator.validate_email(
            value.strip(), check_deliverability=False, allow_smtputf8=smtputf8
        )
    except email_validator.EmailNotValidError as exc:
        reason = str(exc)
        if not smtputf8 and "before the @-sign are not supported" in reason:
            reason += " (it needs SMTPUTF8, which is turned off: MENTORFLOW_SMTP_UTF8=off)"
        raise ValueError(f"not a valid email address: {reason}") from None
    if smtputf8 and not parsed.local_part.isascii():
        return parsed.normalized
    return f"{parsed.local_part}@{parsed.ascii_domain}"


def escape_markdown(value: str) -> str:
    """`value` as literal text in Markdown: no link, image, emphasis or list can come out of it."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", value)
