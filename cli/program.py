"""`mentorflow program validate|show DIR`: check a program directory and see what it sends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.errors import EXIT_INVALID
from cli.output import JSON_OPTION, bold_line, emit_json, err, say, table

if TYPE_CHECKING:
    from domain.program import Program

app = typer.Typer(help="Program directories (program.toml + nudges/*.md).", no_args_is_help=True)

DIR_ARG = typer.Argument(..., help="The program directory, e.g. programs/medtwitter.")


def load_or_exit(path: Path) -> Program:
    """The program, or every problem (file, field, reason) on stderr and exit code 2."""
    from domain.program import ProgramError
    from infra.program_files import load_program

    try:
        return load_program(path)
    except ProgramError as exc:
        for line in exc.lines():
            say(f"mentorflow: error: {line}")
        raise typer.Exit(EXIT_INVALID) from None


def program_summary(program: Program) -> dict[str, Any]:
    from domain.personas import Persona
    from domain.program import NudgeKind

    spec = program.spec
    schedule = spec.schedule
    return {
        "name": spec.name,
        "title": spec.title,
        "duration_weeks": spec.duration_weeks,
        "schedule": schedule.model_dump(mode="json"),
        "personas": [
            {
                "persona": p.value,
                "title": p.title,
                "nudges": [n.id for n in spec.track(p)],
                "milestones": [m.id for m in spec.milestones if m.persona is p],
            }
            for p in Persona
        ],
        "special": {k.value: spec.special(k).id for k in NudgeKind if k is not NudgeKind.TRACK},
        "nudges": [
            {
                "id": n.id,
                "kind": n.kind.value,
                "persona": n.persona.value if n.persona else None,
                "subject": n.subject,
                "milestones": list(n.milestones),
                "suggests": n.suggests.value if n.suggests else None,
            }
            for n in spec.nudges
        ],
        "milestones": [{"id": m.id, "persona": m.persona.value, "title": m.title} for m in spec.milestones],
        "suggestions": [
            {
                **s.model_dump(mode="json"),
                "after_titles": [spec.milestone(m).title for m in s.after],
            }
            for s in spec.suggestions
        ],
    }


@app.command()
def validate(path: Path = DIR_ARG, as_json: bool = JSON_OPTION) -> None:
    """Check program.toml and every nudge; print each problem as `file: field 'x': reason`."""
    program = load_or_exit(path)
    if as_json:
        emit_json({"valid": True, "name": program.spec.name, "nudges": len(program.spec.nudges)})
    say(f"{path}: program {program.spec.name!r} is valid ({len(program.spec.nudges)} nudges)")


@app.command()
def show(path: Path = DIR_ARG, as_json: bool = JSON_OPTION) -> None:
    """Personas with their nudges and milestones, the default schedule, the special messages."""
    program = load_or_exit(path)
    summary = program_summary(program)
    if as_json:
        emit_json(summary)
        return
    spec = program.spec
    s = spec.schedule
    bold_line(spec.title, f" ({spec.name}), {spec.duration_weeks} weeks")
    err.print(
        table(
            "Default schedule",
            ["send days", "send time", "quiet hours", "quiet days", "weekly cap", "burst daily cap"],
            [
                [
                    ", ".join(s.send_days),
                    f"{s.send_time:%H:%M}",
                    s.quiet_hours or "-",
                    ", ".join(s.quiet_days) or "-",
                    s.weekly_cap,
                    s.burst_daily_cap,
                ]
            ],
        )
    )
    rows = [
        [p["persona"], len(p["nudges"]), ", ".join(p["nudges"]) or "-", ", ".join(p["milestones"]) or "-"]
        for p in summary["personas"]
    ]
    err.print(table("Personas", ["persona", "nudges", "track", "milestones"], rows))
    err.print(table("Special messages", ["kind", "nudge"], list(summary["special"].items())))
    err.print(
        table(
            "Nudges",
            ["nudge", "kind", "persona", "subject", "milestones", "suggests"],
            [
                [
                    n["id"],
                    n["kind"],
                    n["persona"],
                    n["subject"],
                    ", ".join(n["milestones"]) or None,
                    n["suggests"],
                ]
                for n in summary["nudges"]
            ],
        )
    )
    err.print(
        table(
            "Milestones",
            ["milestone", "persona", "title"],
            [[m["id"], m["persona"], m["title"]] for m in summary["milestones"]],
        )
    )
    err.print(
        table(
            "Suggestions",
            ["persona", "offered after"],
            [[s["persona"], "; ".join(s["after_titles"])] for s in summary["suggestions"]],
        )
    )
