"""What a nudge's templates can use, the one Jinja environment that renders them, and sample values.

The sender fills `NudgeContext` from Postgres; `program validate` renders every template with the
samples, so a misspelt variable is caught when the program is checked, not when an email is due.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

from domain.text import escape_markdown

# Program authors write templates; a sandbox keeps a bad template from reaching Python internals.
TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class ConferenceContext(BaseModel):
    name: str
    hashtag: str = ""
    starts_on: date
    ends_on: date


class NudgeContext(BaseModel):
    """Every variable a nudge template may use."""

    first_name: str
    program_title: str
    mentor_name: str = ""  # the roster's mentor name, else their address
    mentor_email: str = ""  # replies go there too (Reply-To)
    mission: str = ""
    personas: list[str] = Field(default_factory=list)  # persona titles
    achieved: list[str] = Field(default_factory=list)  # milestone titles, in the order achieved
    weeks_left: int = 0
    conference: ConferenceContext | None = None  # during a conference burst only
    ended_early: bool = False  # staff ended the program early: the recap's wording

    def values(self, *, markdown: bool = False) -> dict[str, Any]:
        """The template variables; with `markdown`, what a participant typed is escaped so it stays text
        in the HTML (no link, image or emphasis can come out of a name or a conference title)."""
        data = self.model_dump()
        if markdown:
            for key in ("first_name", "mentor_name", "mentor_email", "mission"):
                data[key] = escape_markdown(data[key])
            if data["conference"] is not None:
                for key in ("name", "hashtag"):
                    data["conference"][key] = escape_markdown(data["conference"][key])
        return data


def sample_contexts(*, conference: bool) -> list[NudgeContext]:
    """A context with every value filled in, and one with every optional value empty: together they take
    both sides of the usual `{% if mentor_name %}` branches."""
    day = date(2027, 3, 1)
    conf = ConferenceContext(
        name="Sample Congress", hashtag="#Sample27", starts_on=day, ends_on=day + timedelta(2)
    )
    full = NudgeContext(
        first_name="Ada",
        program_title="Sample program",
        mentor_name="Grace",
        mentor_email="grace@example.org",
        mission="wellness",
        personas=["Consumer", "Creator"],
        achieved=["First post"],
        weeks_left=12,
        conference=conf if conference else None,
        ended_early=True,
    )
    empty = NudgeContext(
        first_name="Ada", program_title="Sample program", conference=conf if conference else None
    )
    return [full, empty]


def template_line(exc: BaseException) -> int | None:
    """The template line a render error happened on (Jinja rewrites its frames to the template's lines)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
