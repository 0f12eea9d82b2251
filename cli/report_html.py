"""The cohort report as files staff open: one self-contained HTML page (inline SVG and CSS, no script,
nothing fetched) and a CSV a spreadsheet opens (UTF-8 with BOM, one row per participant)."""

from __future__ import annotations

import csv
import io
from html import escape

from cli.html_style import _CSS
from store.cohort_report import CohortReport, ParticipantLine, WeekRow

MODE_COLOURS = {
    "active": "#59a14f",
    "slowed": "#8cd17d",
    "quiet": "#bab0ac",
    "burst": "#f6c85f",
    "paused": "#8fd1e8",
    "unsubscribed": "#e15759",
    "completed": "#4e79a7",
}
MODE_LABELS = {"burst": "in burst"}
PERSONA_COLOURS = {
    "consumer": "#4e79a7",
    "creator": "#f28e2b",
    "amplifier": "#59a14f",
    "twittermittent": "#b07aa1",
    "mission": "#e15759",
}
# Beyond this many rows the page lists the first ones (the charts and the CSV count everybody).
MAX_ROWS = 500

CSV_COLUMNS = (
    "participant_id",
    "name",
    "email",
    "mentor_email",
    "mode",
    "personas",
    "milestones",
    "milestone_count",
    "last_click",
    "amplified_by_mentor",
    "emails_sent",
)

_EXTRA_CSS = """
.funnel{display:flex;flex-wrap:wrap;gap:24px}.funnel div{min-width:300px}
.attention td.kind{font-weight:600}.muted{color:#777}
"""


def _row(line: ParticipantLine) -> list[str]:
    return [
        line.participant_id,
        line.name,
        line.email,
        line.mentor_email or "",
        line.mode or "not started",
        "; ".join(line.personas),
        "; ".join(line.milestones),
        str(len(line.milestones)),
        f"{line.last_click:%Y-%m-%d %H:%M}" if line.last_click else "",
        str(line.amplified),
        str(line.emails_sent),
    ]


def render_csv(report: CohortReport) -> bytes:
    """UTF-8 with a BOM (spreadsheets then read names in any script right), CRLF rows, one per participant."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(line) for line in report.people)
    return out.getvalue().encode("utf-8-sig")


def _colour(mode: str) -> str:
    return MODE_COLOURS.get(mode, "#777")


def _funnel(report: CohortReport) -> str:
    if not report.funnel:
        return "<p class=meta>The cohort's program names no milestones.</p>"
    top = max(report.participants, 1)
    width, bar_h, label_w = 260, 16, 210
    blocks: list[str] = []
    for f in report.funnel:
        colour = PERSONA_COLOURS.get(f.persona, "#777")
        parts: list[str] = []
        for i, step in enumerate(f.steps):
            y = i * (bar_h + 6)
            w = step.reached / top * width
            parts.append(
                f'<text x="0" y="{y + 12}">{escape(step.title[:34])}</text>'
                f'<rect x="{label_w}" y="{y}" width="{width}" height="{bar_h}" fill="#f3f3f3"/>'
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(step.milestone_id)}: {step.reached} of {report.participants}</title></rect>"
                f'<text x="{label_w + width + 6}" y="{y + 12}">{step.reached}</text>'
            )
        height = max(len(f.steps), 1) * (bar_h + 6)
        blocks.append(
            f"<div><h3>{escape(f.persona)} <span class=muted>({f.holders} hold it)</span></h3>"
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 40}" height="{height}" '
            f'role="img" aria-label="milestone funnel {escape(f.persona)}">{"".join(parts)}</svg></div>'
        )
    return f"<div class=funnel>{''.join(blocks)}</div>"


def _modes_chart(report: CohortReport) -> str:
    """Stacked bars: participants in each mode at the end of each week."""
    weeks = report.weeks
    width, height, pad = max(600, 16 * len(weeks)), 200, 34
    bar = width / max(len(weeks), 1)
    top = max((sum(w.modes.values()) for w in weeks), default=0) or 1
    parts: list[str] = []
    for i, w in enumerate(weeks):
        y = float(height)
        for mode in report.modes:
            n = w.modes.get(mode, 0)
            if not n:
                continue
            h = n / top * (height - 10)
            y -= h
            parts.append(
                f'<rect x="{pad + i * bar + 1:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{_colour(mode)}">'
                f"<title>week of {w.week}: {n} {escape(MODE_LABELS.get(mode, mode))}</title></rect>"
            )
        if i == 0 or i % 4 == 0:
            parts.append(f'<text x="{pad + i * bar:.1f}" y="{height + 14}">{w.week:%m-%d}</text>')
    parts.append(f'<text x="0" y="12">{top}</text><text x="0" y="{height}">0</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + pad}" height="{height + 20}" '
        f'role="img" aria-label="participants by mode per week">{"".join(parts)}</svg>'
    )


def _week_cells(w: WeekRow) -> str:
    shown_emails = ("sent", "failed", "uncertain", "suppressed")
    emails = "".join(f"<td class=n>{w.emails.get(k, 0)}</td>" for k in shown_emails)
    emails += f"<td class=n>{w.mentor_emails}</td>"
    clicks = "".join(
        f"<td class=n>{w.clicks.get(k, 0)}</td>" for k in ("milestones", "snoozes", "preferences")
    )
    shown = ("milestones", "snoozes", "preferences", "amplified")
    other = sum(n for k, n in w.clicks.items() if k not in shown)
    amplified = w.clicks.get("amplified", 0)
    return f"<tr><td>{w.week}</td>{emails}{clicks}<td class=n>{other}</td><td class=n>{amplified}</td></tr>"


def render_html(report: CohortReport) -> str:
    legend = "".join(
        f'<span><i style="background:{_colour(m)}"></i>{escape(MODE_LABELS.get(m, m))}</span>'
        for m in report.modes
    )
    attention = "".join(
        f"<tr><td class=kind>{escape(a.kind)}</td><td>{escape(a.who)}</td><td>{escape(a.detail)}</td>"
        f"<td>{f'{a.at:%Y-%m-%d}' if a.at else ''}</td></tr>"
        for a in report.attention[:MAX_ROWS]
    )
    people = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _row(p)[:2] + _row(p)[4:]) + "</tr>"
        for p in report.people[:MAX_ROWS]
    )
    more = (
        f"<p class=meta>Showing {MAX_ROWS} of {report.participants} participants; the CSV has all.</p>"
        if report.participants > MAX_ROWS
        else ""
    )
    people_head = "".join(f"<th>{c}</th>" for c in CSV_COLUMNS[:2] + CSV_COLUMNS[4:])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Cohort {escape(report.cohort_id)}: report</title>
<style>{_CSS}{_EXTRA_CSS}</style></head><body>
<h1>Cohort {escape(report.cohort_id)} ({escape(report.program)})</h1>
<p class=meta>{report.participants} participants; program started {report.start_date};
weeks from {report.since}; generated {report.generated_at:%Y-%m-%d %H:%M} UTC from the event store.</p>
<h2>Milestone funnel by persona</h2>
<p class=meta>How many participants reached each milestone, in program order.</p>
{_funnel(report)}
<h2>Participants by mode, each week</h2>
<div class=legend>{legend}</div>
{_modes_chart(report)}
<h2>Needs attention ({len(report.attention)})</h2>
<p class=meta>No click for {report.quiet_weeks}+ weeks, emails failed or stuck, unsubscribed this week,
mentors whose mentees are all quiet.</p>
<table class=attention><thead><tr><th>why</th><th>who</th><th>detail</th><th>since</th></tr></thead>
<tbody>{attention or "<tr><td colspan=4 class=muted>nobody</td></tr>"}</tbody></table>
<h2>Emails and clicks per week</h2>
<table><thead><tr><th>week of</th><th>sent</th><th>failed</th><th>uncertain</th><th>suppressed</th>
<th>to mentors</th><th>milestone clicks</th><th>snoozes</th><th>preferences</th><th>other clicks</th>
<th>amplified by mentors</th></tr></thead>
<tbody>{"".join(_week_cells(w) for w in report.weeks)}</tbody></table>
<h2>Participants</h2>
<table><thead><tr>{people_head}</tr></thead><tbody>{people}</tbody></table>{more}
</body></html>
"""
