"""Participant text is text: no links or images in the HTML email, no markup in the staff CLI."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

from activities.render import Link, render_nudge
from domain.template_context import ConferenceContext, NudgeContext
from infra.program_files import load_program
from tests.cli.stack import cli, roster, worker, write_program

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")
EVIL_LINK = "[click me](https://evil.example/login)"
EVIL_IMAGE = "![](https://evil.example/pixel.png)"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.found


def test_names_missions_and_conferences_stay_text_in_the_html() -> None:
    day = date(2027, 3, 1)
    context = NudgeContext(
        first_name=f"{EVIL_LINK}",
        program_title=PROGRAM.spec.title,
        mentor_name=EVIL_IMAGE,
        mission=f"{EVIL_IMAGE} and <b>bold</b> *stars* `code`",
        conference=ConferenceContext(
            name=EVIL_LINK, hashtag="#x](https://evil.example)", starts_on=day, ends_on=day
        ),
    )
    links = [Link("Unsubscribe", "https://mentorship.example.org/a/unsubscribe/t")]
    for nudge_id in ("mission-01", "amplifier-01", "burst-daily"):
        rendered = render_nudge(PROGRAM, nudge_id, context, links)
        tags = _tags(rendered.html)
        hrefs = [a.get("href") for tag, a in tags if tag == "a"]
        assert hrefs == ["https://mentorship.example.org/a/unsubscribe/t"], (nudge_id, hrefs)
        assert not [t for t, _ in tags if t in ("img", "b", "em", "code")], nudge_id
        # The participant sees what they typed, literally.
        assert "[click me](https://evil.example/login)" in rendered.html or nudge_id == "mission-01"
        # The plain-text part carries the values unescaped (no stray backslashes).
        assert "\\[" not in rendered.text


async def test_participant_show_prints_markup_as_typed(settings, temporal_env, tmp_path) -> None:
    program = write_program(tmp_path / "program")
    day = date.today() + timedelta(days=30)
    conference = f"[/] [link=https://evil.example]Congress|{day}|{day}"
    path = roster(
        tmp_path / "r.csv", [f"p1,[phish] Ada,ada@example.org,UTC,tue,08:30,consumer,,,{conference}"]
    )
    start = (date.today() + timedelta(days=3)).isoformat()
    async with worker(settings):
        launched = await cli(
            settings,
            "cohort",
            "start",
            str(path),
            "--cohort",
            "t1",
            "--program",
            str(program),
            "--start-date",
            start,
            cwd=tmp_path,
        )
        assert launched.returncode == 0, launched.stderr
        shown = await cli(settings, "participant", "show", "p1", "--cohort", "t1", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "[phish] Ada" in shown.stderr
    # Printed as typed (a narrow terminal wraps it), where rich markup would crash with MarkupError.
    assert "│ [/] " in shown.stderr and "[link=https://evil.exa" in shown.stderr, shown.stderr
