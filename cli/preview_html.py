"""The preview as one self-contained HTML page: inline SVG and CSS, no script, nothing fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

from cli.html_style import _CSS
from domain.preview import NO_PERSONA, Band, Email, Preview

# Persona colours (and the program's own emails in grey); band colours.
COLOURS = {
    "consumer": "#4e79a7",
    "creator": "#f28e2b",
    "amplifier": "#59a14f",
    "twittermittent": "#b07aa1",
    "mission": "#e15759",
    NO_PERSONA: "#9c9c9c",
}
BAND_COLOURS = {"burst": "#f6c85f", "planned": "#8fd1e8", "detected": "#d3d3d3", "quiet": "#b39ddb"}
# Beyond this many participants the schedule table lists the first ones (the chart counts everybody).
MAX_TABLE_ROWS = 500


def _x(at: datetime, start: datetime, span: float, width: float) -> float:
    return (at - start).total_seconds() / span * width


def _chart(result: Preview) -> str:
    """Stacked bars of emails per week by persona, over bands counting participants in burst or dormancy."""
    weeks = result.week_counts
    width, height, pad = max(600, 14 * len(weeks)), 220, 30
    bar = width / max(len(weeks), 1)
    top = max((w.total for w in weeks), default=0) or 1
    parts: list[str] = []
    # Bands: share of participants in each state during the week, as a light strip under the bars.
    band_rows = ("burst", "planned", "detected", "quiet")
    by_kind = {kind: [b for b in result.bands if b.kind == kind] for kind in band_rows}
    start = _week_bounds(result)
    for w_index, w in enumerate(weeks):
        for r, kind in enumerate(band_rows):
            share = _band_share(by_kind[kind], result.participants, start + timedelta(weeks=w_index))
            if share > 0:
                parts.append(
                    f'<rect x="{pad + w_index * bar:.1f}" y="{height + 6 + r * 10}" width="{bar:.1f}" '
                    f'height="8" fill="{BAND_COLOURS[kind]}" fill-opacity="{0.25 + 0.75 * share:.2f}">'
                    f"<title>week {w.week}: {share:.0%} {kind}</title></rect>"
                )
        y = float(height)
        for persona in result.personas:
            n = w.by_persona.get(persona, 0)
            if not n:
                continue
            h = n / top * (height - 10)
            y -= h
            parts.append(
                f'<rect x="{pad + w_index * bar + 1:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{COLOURS.get(persona, "#777")}">'
                f"<title>week {w.week} ({w.starts_on}): {n} {escape(persona)}</title></rect>"
            )
        if w.week == 1 or w.week % 4 == 0:
            parts.append(f'<text x="{pad + w_index * bar:.1f}" y="{height + 44}">w{w.week}</text>')
    for r, kind in enumerate(band_rows):
        parts.append(f'<text x="0" y="{height + 13 + r * 10}">{kind[:5]}</text>')
    parts.append(f'<text x="0" y="12">{top}</text><text x="0" y="{height}">0</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + pad}" height="{height + 52}" '
        f'role="img" aria-label="emails per week by persona">{"".join(parts)}</svg>'
    )


def _band_share(bands: list[Band], participants: int, lo: datetime) -> float:
    """The share of participants in one of `bands` at some time in the week starting at `lo`."""
    hi = lo + timedelta(weeks=1)
    inside = {b.participant_id for b in bands if b.start < hi and b.end > lo}
    return len(inside) / participants if participants else 0.0


def _week_bounds(result: Preview) -> datetime:
    return datetime.combine(result.start_date, datetime.min.time(), tzinfo=UTC)


def _strip(emails: list[Email], bands: list[Band], start: datetime, span: float) -> str:
    """One participant's year: bands as shaded spans, each email as a tick in its persona's colour."""
    width, height = 420, 16
    parts = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa"/>']
    for b in bands:
        x0, x1 = _x(b.start, start, span, width), _x(b.end, start, span, width)
        parts.append(
            f'<rect x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" height="{height}" '
            f'fill="{BAND_COLOURS[b.kind]}"><title>{escape(b.kind)} {escape(b.label)}: '
            f"{b.start:%Y-%m-%d} to {b.end:%Y-%m-%d}</title></rect>"
        )
    for e in emails:
        x = _x(e.at, start, span, width)
        parts.append(
            f'<rect x="{x:.1f}" y="2" width="2" height="{height - 4}" '
            f'fill="{COLOURS.get(e.persona, "#777")}">'
            f"<title>{e.at:%Y-%m-%d %H:%M} UTC {escape(e.kind)} {escape(e.nudge_id)}</title></rect>"
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(parts)}</svg>'


def render_html(result: Preview) -> str:
    start = _week_bounds(result)
    span = timedelta(weeks=result.weeks).total_seconds()
    emails: dict[str, list[Email]] = {}
    for e in result.emails:
        emails.setdefault(e.participant_id, []).append(e)
    bands: dict[str, list[Band]] = {}
    for b in result.bands:
        bands.setdefault(b.participant_id, []).append(b)
    silent: dict[str, float] = {}
    for s in result.silences:
        silent[s.participant_id] = max(silent.get(s.participant_id, 0.0), s.weeks)
    ids = list(dict.fromkeys([*emails, *bands, *silent]))
    rows: list[str] = []
    for pid in ids[:MAX_TABLE_ROWS]:
        mine = emails.get(pid, [])
        first = f"{mine[0].at:%Y-%m-%d}" if mine else "-"
        rows.append(
            f"<tr><td>{escape(pid)}</td><td class=n>{len(mine)}</td><td>{first}</td>"
            f"<td class=n>{silent.get(pid, 0):.1f}</td>"
            f"<td>{_strip(mine, bands.get(pid, []), start, span)}</td></tr>"
        )
    more = (
        f"<p class=meta>Showing {MAX_TABLE_ROWS} of {len(ids)} participants.</p>"
        if len(ids) > MAX_TABLE_ROWS
        else ""
    )
    legend = "".join(
        f'<span><i style="background:{COLOURS.get(p, "#777")}"></i>{escape(p)}</span>'
        for p in result.personas
    ) + "".join(f'<span><i style="background:{c}"></i>{k}</span>' for k, c in BAND_COLOURS.items())
    kinds = ", ".join(
        f"{escape(k)} {sum(w.by_kind.get(k, 0) for w in result.week_counts)}" for k in result.kinds
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Preview: {escape(result.program)} from {result.start_date}</title>
<style>{_CSS}</style></head><body>
<h1>Cohort preview: {escape(result.program)}, week 1 starts {result.start_date}</h1>
<p class=meta>{result.participants} participants, {result.weeks} weeks, {len(result.emails)} emails ({kinds}).
Simulated with the journey decider; nothing was sent.</p>
<h2>Emails per week by persona</h2>
<div class=legend>{legend}</div>
{_chart(result)}
<h2>Participants</h2>
<p class=meta>Silent: the longest stretch without an email while mail is expected
(planned pauses and quiet excluded);
{result.silence_weeks}+ weeks is reported.</p>
<table><thead><tr><th>participant</th><th>emails</th><th>first</th><th>longest silence (weeks)</th>
<th>schedule (bands: burst, snooze, slowed, quiet; ticks: emails)</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>{more}
</body></html>
"""
