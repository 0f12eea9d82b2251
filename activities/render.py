"""Render a program's nudge into an email's subject, plain text and HTML, with its action links."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html import escape

from jinja2 import Template
from markdown_it import MarkdownIt

from domain.personas import Persona
from domain.program import Program
from domain.template_context import TEMPLATES, NudgeContext

# html=False: a participant's name or a conference title can never inject markup.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


@lru_cache(maxsize=1024)
def _template(source: str) -> Template:
    """Compiled once per distinct source: compiling is most of rendering, and a program has a few dozen."""
    return TEMPLATES.from_string(source)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class RenderedNudge:
    subject: str
    text: str
    html: str


def render_nudge(program: Program, nudge_id: str, context: NudgeContext, links: list[Link]) -> RenderedNudge:
    """Raises what the template raises (an unknown variable, a failing filter): retrying cannot fix it."""
    spec = next(n for n in program.spec.nudges if n.id == nudge_id)
    plain = context.values()
    subject = _template(spec.subject).render(plain).strip()
    body_text = _template(program.bodies[nudge_id]).render(plain).strip()
    # The HTML is rendered from a second pass where participant-typed values are escaped for Markdown.
    body_md = _template(program.bodies[nudge_id]).render(context.values(markdown=True)).strip()
    link_lines = "\n".join(f"- {link.label}: {link.url}" for link in links)
    text = f"{body_text}\n\n{link_lines}\n" if links else f"{body_text}\n"
    buttons = "".join(
        f'<li style="margin:0 0 8px"><a href="{escape(link.url)}">{escape(link.label)}</a></li>'
        for link in links
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(subject)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;'
        'max-width:40em;margin:auto;padding:1em">'
        f"{_MARKDOWN.render(body_md)}"
        f'<ul style="list-style:none;padding:0;margin-top:1.5em">{buttons}</ul>'
        "</body></html>"
    )
    return RenderedNudge(subject=subject, text=text, html=html)


def milestone_title(program: Program, milestone_id: str) -> str:
    return next((m.title for m in program.spec.milestones if m.id == milestone_id), milestone_id)


def persona_title(persona: str) -> str:
    try:
        return Persona(persona).title
    except ValueError:
        return persona
