"""The participant pages: plain, accessible HTML with inline CSS and no external assets.

Every page has `lang`, a viewport for phones, one h1, labelled fields and a visible focus ring. Every
value shown is escaped here, in one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from html import escape
from zoneinfo import available_timezones

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


def e(value: object) -> str:
    return escape(str(value), quote=True)


def page(title: str, body: str, *, status: int = 200, program: str = "mentorflow") -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{e(title)} · {e(program)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>{e(title)}</h1>
{body}
</main>
<footer>{e(program)} · mentorship for clinicians on professional social media</footer>
</body>
</html>
"""
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def paragraph(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{e(text)}</p>"


def error_box(message: str, field: str = "") -> str:
    """A summary at the top of the page; with a field, a link that moves to it."""
    text = f'<a href="#{e(field)}">{e(message)}</a>' if field else e(message)
    return f'<div class="error" role="alert"><p>{text}</p></div>'


def human_date(day: date | datetime) -> str:
    """`Wednesday 9 December 2026`: no ISO, no leading zero."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def zone_name(tz: str) -> str:
    """`America/New_York` -> `New York`: the place a participant recognises."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def _attrs(attrs: dict[str, str] | None) -> str:
    return "".join(f' {e(k)}="{e(v)}"' for k, v in (attrs or {}).items())


def _described(name: str, hint: str, error: str) -> tuple[str, str]:
    """The hint and error paragraphs under a label, and the input's aria attributes pointing at them."""
    ids = []
    html = ""
    if hint:
        ids.append(f"{name}-hint")
        html += f'<p class="hint" id="{e(name)}-hint">{e(hint)}</p>'
    if error:
        ids.append(f"{name}-error")
        html += f'<p class="field-error" id="{e(name)}-error">{e(error)}</p>'
    aria = f' aria-describedby="{e(" ".join(ids))}"' if ids else ""
    if error:
        aria += ' aria-invalid="true" autofocus'
    return html, aria


def form(action_url: str, fields: str, submit: str) -> str:
    button = f'<button type="submit">{e(submit)}</button>'
    return f'<form method="post" action="{e(action_url)}">{fields}{button}</form>'


def text_input(
    name: str,
    label: str,
    value: str = "",
    *,
    kind: str = "text",
    hint: str = "",
    required: bool = False,
    error: str = "",
    attrs: dict[str, str] | None = None,
) -> str:
    described_html, aria = _described(name, hint, error)
    req = " required" if required else ""
    return (
        f'<label for="{e(name)}">{e(label)}</label>{described_html}'
        f'<input type="{kind}" id="{e(name)}" name="{e(name)}" value="{e(value)}"{aria}{req}{_attrs(attrs)}>'
    )


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


def timezone_select(
    name: str,
    label: str,
    value: str,
    *,
    hint: str = "",
    error: str = "",
    blank: str = "",
) -> str:
    """A list of time zones grouped by region, cities by name: typing a city's first letters finds it.

    `blank` adds a first, empty choice with that text (e.g. "Same as mine"); a current value that is
    not in the list (an alias such as `US/Eastern`) is kept as a choice of its own.
    """
    described_html, aria = _described(name, hint, error)
    groups = _zone_groups(datetime.now(UTC).date())
    known = {z for _, options in groups for z, _ in options}
    html = f'<label for="{e(name)}">{e(label)}</label>{described_html}'
    html += f'<select id="{e(name)}" name="{e(name)}"{aria}>'
    if blank:
        html += f'<option value=""{" selected" if not value else ""}>{e(blank)}</option>'
    if value and value not in known:
        html += f'<option value="{e(value)}" selected>{e(value)}</option>'
    for region, options in groups:
        html += (
            f'<optgroup label="{e(region)}">'
            + "".join(
                f'<option value="{e(z)}"{" selected" if z == value else ""}>{e(text)}</option>'
                for z, text in options
            )
            + "</optgroup>"
        )
    return html + "</select>"


def checkboxes(
    name: str,
    legend: str,
    options: list[tuple[str, str]],
    checked: set[str],
    hint: str = "",
    error: str = "",
) -> str:
    """A fieldset of checkboxes; the first box has the group's name as id (error links land on it)."""
    described_html, aria = _described(name, hint, error)
    boxes = ""
    for i, (value, label) in enumerate(options):
        first = f' id="{e(name)}"{aria}' if i == 0 else ""
        tick = " checked" if value in checked else ""
        box = f'<input type="checkbox" name="{e(name)}" value="{e(value)}"{first}{tick}>'
        boxes += f"<label>{box} {e(label)}</label>"
    return f"<fieldset><legend>{e(legend)}</legend>{described_html}{boxes}</fieldset>"


def link_error(status: int, message: str) -> HTMLResponse:
    title = "This link has expired" if status == 410 else "This link does not work"
    body = paragraph(message) + paragraph(
        "Nothing was changed. Use the links in your most recent email from the program, "
        "or reply to that email and your mentor will help."
    )
    return page(title, body, status=status)
