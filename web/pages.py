"""The participant pages: plain, accessible HTML with inline CSS and no external assets, rendered from the
Jinja templates in web/templates/ (base.html, the field macros, one page per link action).

Every page has `lang`, a viewport for phones, one h1, labelled fields and a visible focus ring. Every
value shown is escaped by the templates' autoescaping.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from domain.timing import zone

# Contrast: #1b1b1b on #ffffff is 17:1; the button's #ffffff on #0b4f8a is 8.6:1; errors #8a1111 on #fff5f5.
_CSS = """
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:100%;line-height:1.5;
color:#1b1b1b;background:#fff}
body{margin:0 auto;max-width:38rem;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:0.5rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 0.5rem}
a{color:#0b4f8a}
label,legend{display:block;font-weight:600;margin:0.75rem 0 0.25rem}
fieldset{border:1px solid #8a8a8a;border-radius:4px;padding:0.5rem 0.75rem;margin:0.75rem 0}
fieldset label{display:inline-flex;align-items:center;gap:0.4rem;font-weight:400;
margin:0.25rem 1rem 0.25rem 0}
input[type=text],input[type=date],input[type=time],select{width:100%;max-width:100%;font:inherit;
padding:0.5rem;border:1px solid #5f5f5f;border-radius:4px;background:#fff;color:#1b1b1b}
input[type=checkbox]{width:1.25rem;height:1.25rem}
button{font:inherit;font-weight:600;padding:0.65rem 1.25rem;margin:1rem 0.5rem 0 0;border:2px solid #0b4f8a;
border-radius:4px;background:#0b4f8a;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b4f8a}
:focus-visible{outline:3px solid #b34700;outline-offset:2px}
.hint{color:#4a4a4a;font-size:0.95rem;margin:0.25rem 0}
.error{color:#8a1111;background:#fff5f5;border-left:4px solid #8a1111;padding:0.5rem 0.75rem}
.error a{color:#8a1111}
.field-error{color:#8a1111;font-weight:600;margin:0.25rem 0}
[aria-invalid=true]{border:2px solid #8a1111}
.ok{background:#f1f8f1;border-left:4px solid #1d6b2a;padding:0.5rem 0.75rem}
footer{margin-top:2rem;color:#4a4a4a;font-size:0.9rem}
"""

# Links carry a bearer token: keep it out of Referer headers, caches, search engines and frames.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _listed(value: str) -> bool:
    return value in {z for _, options in _zone_groups(datetime.now(UTC).date()) for z, _ in options}


def human_date(day: date | datetime) -> str:
    """`Wednesday 9 December 2026`: no ISO, no leading zero."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def zone_name(tz: str) -> str:
    """`America/New_York` -> `New York`: the place a participant recognises."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


# Regions of the IANA database a person lives in; the rest are aliases and legacy names (US/*, Etc/*).
_REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@lru_cache(maxsize=4)
def _zone_groups(today: date) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Per region, (zone, "City (UTC+01:00)") sorted by city; offsets as of `today` (cached per day)."""
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    groups = []
    for region in _REGIONS:
        names = sorted(
            (z for z in available_timezones() if z.startswith(f"{region}/")),
            key=lambda z: z.split("/", 1)[1],
        )
        options = []
        for name in names:
            offset = noon.astimezone(zone(name)).strftime("%z")
            place = name.split("/", 1)[1].replace("_", " ").replace("/", ", ")
            options.append((name, f"{place} (UTC{offset[:3]}:{offset[3:]})"))
        groups.append((region, tuple(options)))
    return tuple(groups)


# Templates ship inside the package (web/templates/); autoescaping escapes every value shown, in one place.
_ENV = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(
    css=Markup(_CSS),
    zone_groups=lambda: _zone_groups(datetime.now(UTC).date()),
    is_listed_zone=_listed,
    error=None,
    repeated=False,
    body="",
)
_ENV.filters["human_date"] = human_date
_MACROS: Any = _ENV.get_template("macros.html").module  # the macros, callable from Python


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def page(title: str, body: str, *, status: int = 200, program: str = "mentorflow") -> HTMLResponse:
    """A page around HTML built from the helpers below (already escaped)."""
    return render("message.html", status=status, title=title, program=program, lines=[], body=Markup(body))


def paragraph(text: str, cls: str = "") -> str:
    return str(Markup('<p class="{}">{}</p>' if cls else "<p>{1}</p>").format(cls, text))


def form(action_url: str, fields: str, submit: str) -> str:
    caller = lambda: Markup(fields)  # noqa: E731 - the macro's `caller()`
    return str(_MACROS.form(action_url, submit, caller=caller))


def checkboxes(
    name: str,
    legend: str,
    options: list[tuple[str, str]],
    checked: set[str],
    hint: str = "",
    error: str = "",
) -> str:
    return str(_MACROS.checkboxes(name, legend, options, checked, hint=hint, error=error))


def link_error(status: int, message: str) -> HTMLResponse:
    title = "This link has expired" if status == 410 else "This link does not work"
    lines = [
        message,
        "Nothing was changed. Use the links in your most recent email from the program, "
        "or reply to that email and your mentor will help.",
    ]
    return render("message.html", status=status, title=title, program="mentorflow", lines=lines)
