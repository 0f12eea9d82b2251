"""The participant pages: plain, accessible HTML with inline CSS and no external assets.

Every page has `lang`, a viewport for phones, one h1, labelled fields and a visible focus ring. Every
value shown is escaped here, in one place.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

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
    target = f' aria-describedby="{e(field)}"' if field else ""
    return f'<div class="error" role="alert"{target}><p>{e(message)}</p></div>'


def form(action_url: str, fields: str, submit: str) -> str:
    button = f'<button type="submit">{e(submit)}</button>'
    return f'<form method="post" action="{e(action_url)}">{fields}{button}</form>'


def text_input(
    name: str, label: str, value: str = "", *, kind: str = "text", hint: str = "", required: bool = False
) -> str:
    hint_id = f"{name}-hint"
    hint_html = f'<p class="hint" id="{hint_id}">{e(hint)}</p>' if hint else ""
    described = f' aria-describedby="{hint_id}"' if hint else ""
    req = " required" if required else ""
    return (
        f'<label for="{e(name)}">{e(label)}</label>{hint_html}'
        f'<input type="{kind}" id="{e(name)}" name="{e(name)}" value="{e(value)}"{described}{req}>'
    )


def checkboxes(
    name: str, legend: str, options: list[tuple[str, str]], checked: set[str], hint: str = ""
) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="{e(name)}" value="{e(value)}"'
        f"{' checked' if value in checked else ''}> {e(label)}</label>"
        for value, label in options
    )
    hint_html = f'<p class="hint">{e(hint)}</p>' if hint else ""
    return f"<fieldset><legend>{e(legend)}</legend>{hint_html}{boxes}</fieldset>"


def link_error(status: int, message: str) -> HTMLResponse:
    title = "This link has expired" if status == 410 else "This link does not work"
    body = paragraph(message) + paragraph(
        "Nothing was changed. Use the links in your most recent email from the program, "
        "or reply to that email and your mentor will help."
    )
    return page(title, body, status=status)
