"""`mentorflow cohort preview ROSTER.csv`: a cohort's months on a simulated clock, before launching it.

The roster is read and validated as `cohort start` does (`cli/roster_file.py`); each row becomes the same
enrolment a launch starts (`domain.enrolment`): the same `Enroll` and roster conferences. The
journeys run through the domain decider (`domain/preview.py`), in parallel processes for big rosters.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.errors import EXIT_INVALID, CliError
from cli.options import check_cohort_id, parse_day
from cli.output import JSON_OPTION, emit_json, err, say, table

if TYPE_CHECKING:
    from domain.preview import JourneyOutcome, JourneyPlan, Preview, ScriptLine, Silence
    from domain.program import ProgramSpec
    from domain.roster import Enrolee

DEFAULT_PROGRAM = Path("programs/medtwitter")
# Below this many distinct journeys, starting worker processes costs more than it saves.
PARALLEL_FROM = 400
_SHOWN_SILENCES = 40


def weeks_for(months: int | None, program: ProgramSpec) -> int:
    """Weeks previewed: `months` calendar months (rounded up), or the whole program and its recap week."""
    if months is None:
        return program.duration_weeks + 1
    return math.ceil(months * 365.25 / 12 / 7)


def plans_from_roster(
    cohort_id: str,
    rows: Sequence[Enrolee],
    program: ProgramSpec,
    start_date: date,
    *,
    launched_at: datetime,
    script: Sequence[ScriptLine] = (),
) -> list[JourneyPlan]:
    """Each row as the journey `cohort start` would launch: the same domain enrolment (`domain.enrolment`)."""
    from domain.enrolment import enrolment
    from domain.preview import JourneyPlan, script_commands
    from workflows.contract import journey_id

    by_participant: dict[str, list[ScriptLine]] = {}
    for line in script:
        by_participant.setdefault(line.participant_id, []).append(line)
    plans: list[JourneyPlan] = []
    for row in rows:
        enrolled = enrolment(
            row, journey_id=journey_id(cohort_id, row.participant_id), program=program, start_date=start_date
        )
        plans.append(
            JourneyPlan(
                participant_id=row.participant_id,
                enroll=enrolled.enroll,
                enrolled_at=min(launched_at, enrolled.enroll.start),
                conferences=enrolled.conferences,
                script=tuple(
                    script_commands(by_participant.get(row.participant_id, []), start_date, row.timezone)
                ),
            )
        )
    return plans


# ---- running many journeys -------------------------------------------------------------------------------


def run_preview(
    program: ProgramSpec,
    plans: Sequence[JourneyPlan],
    *,
    start_date: date,
    weeks: int,
    silence_weeks: int = 4,
    workers: int | None = None,
) -> Preview:
    """`domain.preview.preview`, the distinct journeys spread over `workers` processes (default: cores)."""
    from domain.preview import assemble, distinct_plans, preview_until, simulate_plans

    with _cycle_collector_paused():
        until = preview_until(plans, start_date, weeks)
        reps, which = distinct_plans(plans)
        run = partial(
            simulate_plans, program, start_date=start_date, until=until, silence_weeks=silence_weeks
        )
        workers = workers or os.cpu_count() or 1
        parallel = workers > 1 and len(reps) >= PARALLEL_FROM
        outcomes = _in_parallel(run, reps, workers) if parallel else run(reps)
        return assemble(
            program, plans, which, outcomes, start_date=start_date, weeks=weeks, silence_weeks=silence_weeks
        )


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Hold the cycle collector off while a preview runs.

    A big preview builds hundreds of thousands of objects that outlive it (200,000 emails for 10,000
    participants: tuples the collector keeps tracking) and makes no cycles, so each full pass over them and
    the roster finds nothing; together those passes cost a sixth of the run. Reference counting still frees
    everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _in_parallel(
    run: Callable[[list[JourneyPlan]], list[JourneyOutcome]], plans: list[JourneyPlan], workers: int
) -> list[JourneyOutcome]:
    """`run(plans)`, in chunks, in this process and `workers - 1` others.

    The others take chunks from the front, this one from the back: only chunks no process has started
    yet, so every core works until the last chunk, however busy the machine, and one process fewer
    starts (each costs a Python start-up and the domain's imports).
    """
    # Small chunks balance journeys of unequal cost, and the last ones a worker holds queued, which this
    # process cannot take back. Spawn, since the caller may hold threads.
    size = max(1, math.ceil(len(plans) / (workers * 32)))
    chunks = [plans[i : i + size] for i in range(0, len(plans), size)]
    here: dict[int, list[JourneyOutcome]] = {}
    pool = ProcessPoolExecutor(workers - 1, mp_context=get_context("spawn"))
    try:
        futures = [pool.submit(run, chunk) for chunk in chunks]
        # The pool hands chunks out in order: once it has taken one, it has taken all before it.
        for i in reversed(range(len(chunks))):
            if not futures[i].cancel():
                break
            here[i] = run(chunks[i])
        return [o for i, future in enumerate(futures) for o in (here[i] if i in here else future.result())]
    finally:
        # Every result is in (or this failed): the workers exit on their own, no need to wait for them.
        pool.shutdown(wait=False, cancel_futures=True)


# ---- the command ----------------------------------------------------------------------------------------


def preview_json(result: Preview) -> dict[str, Any]:
    return {
        "program": result.program,
        "start_date": result.start_date.isoformat(),
        "weeks": result.weeks,
        "participants": result.participants,
        "distinct_journeys": result.distinct_journeys,
        "emails": len(result.emails),
        "week_counts": [w.model_dump(mode="json") for w in result.week_counts],
        "silence_weeks": result.silence_weeks,
        "silences": [
            {"participant_id": s.participant_id, "from": s.start, "to": s.end, "weeks": round(s.weeks, 1)}
            for s in result.silences
        ],
        "bands": [b._asdict() for b in result.bands],
        "schedule": [e._asdict() for e in result.emails],
    }


def _print(result: Preview) -> None:
    weeks = result.week_counts
    title = (
        f"{result.participants} participants, program {result.program}, week 1 starts {result.start_date}, "
        f"{len(result.emails)} emails"
    )
    for label, keys, field in (
        ("by persona", result.personas, "by_persona"),
        ("by kind", result.kinds, "by_kind"),
    ):
        rows = [
            [w.week, w.starts_on.isoformat(), w.total, *(getattr(w, field).get(k, 0) for k in keys)]
            for w in weeks
        ]
        err.print(table(f"Emails per week {label}: {title}", ["week", "starts", "total", *keys], rows))
    longest: dict[str, Silence] = {}
    stretches: dict[str, int] = {}
    for s in result.silences:
        stretches[s.participant_id] = stretches.get(s.participant_id, 0) + 1
        if s.participant_id not in longest or s.weeks > longest[s.participant_id].weeks:
            longest[s.participant_id] = s
    if not longest:
        say(
            f"no participant goes more than {result.silence_weeks} weeks without an email "
            "(planned pauses excluded)"
        )
        return
    ranked = sorted(longest.values(), key=lambda s: (-s.weeks, s.participant_id))
    err.print(
        table(
            f"Silent for more than {result.silence_weeks} weeks (planned pauses excluded): "
            f"{len(ranked)} participants",
            ["participant", "longest from (UTC)", "to (UTC)", "weeks", "stretches"],
            [
                [
                    s.participant_id,
                    f"{s.start:%Y-%m-%d %H:%M}",
                    f"{s.end:%Y-%m-%d %H:%M}",
                    f"{s.weeks:.1f}",
                    stretches[s.participant_id],
                ]
                for s in ranked[:_SHOWN_SILENCES]
            ],
        )
    )
    if len(ranked) > _SHOWN_SILENCES:
        say(f"... and {len(ranked) - _SHOWN_SILENCES} more (see --json or --html)")


def preview(
    roster_path: Annotated[
        Path, typer.Argument(metavar="ROSTER.csv", help="The roster (see README: The roster).")
    ],
    program_dir: Annotated[Path, typer.Option("--program", help="The program directory.")] = DEFAULT_PROGRAM,
    start_date: str = typer.Option(..., "--start-date", help="First day of the program, YYYY-MM-DD."),
    months: int | None = typer.Option(
        None, "--months", min=1, max=60, help="Months to preview; default the whole program."
    ),
    script_path: Annotated[
        Path | None,
        typer.Option("--script", help="Scripted events, one per line (see README: Cohort preview)."),
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML page here.")
    ] = None,
    silence_weeks: int = typer.Option(
        4, "--silence-weeks", min=1, help="Report silences this long or longer."
    ),
    cohort: str = typer.Option("preview", "--cohort", help="Cohort id used for journey ids."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Simulate every participant's journey (no Temporal, no email): emails per week, silent stretches."""
    from cli.program import load_or_exit
    from cli.roster_file import load_roster
    from domain.preview import parse_script

    check_cohort_id(cohort)
    start = parse_day("--start-date", start_date)
    program = load_or_exit(program_dir)
    spec = program.spec
    roster = load_roster(roster_path, program=spec, today=date.today())
    if not roster.ok:
        for problem in roster.problems:
            say(f"mentorflow: error: {problem.message(str(roster_path))}")
        raise typer.Exit(EXIT_INVALID)
    if not roster.rows:
        raise CliError(f"{roster_path}: no participants")
    weeks = weeks_for(months, spec)
    lines: list[ScriptLine] = []
    if script_path is not None:
        try:
            text = script_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{script_path}: cannot read the script: {exc}") from None
        lines, problems = parse_script(
            text, program=spec, participants=[r.participant_id for r in roster.rows], weeks=weeks
        )
        if problems:
            for p in problems:
                say(f"mentorflow: error: {script_path}: line {p.line}: {p.reason}")
            raise typer.Exit(EXIT_INVALID)
    plans = plans_from_roster(cohort, roster.rows, spec, start, launched_at=datetime.now(UTC), script=lines)
    result = run_preview(spec, plans, start_date=start, weeks=weeks, silence_weeks=silence_weeks)
    if html_path is not None:
        from cli.preview_html import render_html

        try:
            html_path.write_text(render_html(result), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{html_path}: cannot write the page: {exc.strerror or exc}") from None
    if as_json:
        emit_json(preview_json(result))
    else:
        _print(result)
    if html_path is not None:
        say(f"wrote {html_path}")
