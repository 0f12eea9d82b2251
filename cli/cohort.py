"""`mentorflow cohort start|list|status|pause|resume|end`: launch a roster durably, see and steer cohorts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.errors import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_PARTIAL, CliError
from cli.options import check_cohort_id, parse_day, until_option
from cli.output import JSON_OPTION, emit_json, err, say, table
from cli.pool import with_pool
from cli.preview import preview

if TYPE_CHECKING:
    import asyncpg
    from temporalio.client import Client

    from domain.roster import Roster, RosterRow
    from workflows.launch import LaunchProgress

app = typer.Typer(help="Cohorts: launch from a roster, report, pause, resume, end.", no_args_is_help=True)

DEFAULT_PROGRAM = Path("programs/medtwitter")
# Staff commands sent to a cohort's journeys at once.
STEER_CONCURRENCY = 16


def _print_problems(roster: Roster, path: Path, *, skipped: bool) -> None:
    for problem in roster.problems:
        say(f"mentorflow: {'skipped' if skipped else 'error'}: {problem.message(str(path))}")


def _row_json(row: RosterRow, cohort_id: str) -> dict[str, Any]:
    from workflows.contract import journey_id

    return {
        "participant_id": row.participant_id,
        "journey_id": journey_id(cohort_id, row.participant_id),
        "timezone": row.timezone,
        "send_days": list(row.send_days),
        "send_time": f"{row.send_time:%H:%M}",
        "personas": [p.value for p in row.personas],
        "conferences": [c.name for c in row.conferences],
    }


async def _save(
    pool: asyncpg.Pool,
    cohort_id: str,
    program: Any,
    start: date,
    rows: list[RosterRow],
    *,
    roster_path: Path | None = None,
    update_contacts: bool = False,
) -> int:
    from store.cohorts import (
        CohortConflict,
        ContactChange,
        EmailTaken,
        ParticipantRecord,
        contact_differences,
        save_roster,
    )

    records = [ParticipantRecord.from_roster(r) for r in rows]
    # A re-run never changes who we write to silently: differing contact data is reported, and applied
    # only when asked; without the flag nothing is saved or started.
    differences = await contact_differences(pool, cohort_id, records)
    lines = {r.participant_id: r.line for r in rows}
    for pid, column, saved, wanted in differences:
        verdict = "applied" if update_contacts else "differs"
        say(
            f"mentorflow: {verdict}: {roster_path or 'roster'}: line {lines[pid]}, participant {pid}: "
            f"{column} {saved or '(none)'!r} -> {wanted or '(none)'!r}"
        )
    if differences and not update_contacts:
        who = sorted({pid for pid, *_ in differences})
        raise CliError(
            f"{len(who)} participant(s) ({', '.join(who[:5])}{' ...' if len(who) > 5 else ''}) already "
            "saved with other contact data; nothing saved, nothing started (--update-contacts applies the "
            "roster's, or fix the roster)"
        )
    changes: dict[str, dict[str, str]] = {}
    for pid, column, _saved, wanted in differences:
        changes.setdefault(pid, {})[column] = wanted or ""
    contacts = {pid: ContactChange.model_validate(c) for pid, c in changes.items()}
    try:
        return await save_roster(pool, cohort_id, program, start, records, contacts)
    except CohortConflict as exc:
        raise CliError(str(exc)) from None
    except EmailTaken as exc:
        raise CliError(f"--update-contacts: {exc}; nothing saved, nothing started") from None


async def start_mentors(client: Client, pool: asyncpg.Pool, cohort_id: str, task_queue: str) -> int:
    """One durable workflow per mentor of the cohort (a second start is a no-op); how many run."""
    from temporalio.common import WorkflowIDConflictPolicy

    from store.mentors import cohort_mentors
    from workflows.contract import MentorInput, mentor_workflow_id
    from workflows.mentor import MentorWorkflow

    mentors = await cohort_mentors(pool, cohort_id)
    for m in mentors:
        await client.start_workflow(
            MentorWorkflow.run,
            MentorInput(cohort_id=cohort_id, mentor_id=m.mentor_id),
            id=mentor_workflow_id(cohort_id, m.mentor_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"mentor {m.mentor_id} of cohort {cohort_id}: weekly digest and amplify prompts",
        )
    return len(mentors)


async def _progress(client: Client, cohort_id: str) -> LaunchProgress | None:
    from temporalio.service import RPCError

    from workflows.launch import LaunchProgress, launch_id

    try:
        handle = client.get_workflow_handle(launch_id(cohort_id))
        progress: LaunchProgress = await handle.query(
            "progress", result_type=LaunchProgress, rpc_timeout=timedelta(seconds=5)
        )
        return progress
    except RPCError:
        return None


async def launch(
    settings: Any,
    *,
    cohort_id: str,
    program: Any,
    start: date,
    rows: list[RosterRow],
    batch_size: int,
    wait: bool,
    quiet: bool,
    first_send_at: datetime | None = None,
    update_contacts: bool = False,
    roster_path: Path | None = None,
) -> LaunchProgress:
    """Save the rows, then start or attach to `launch-{cohort}` and (with `wait`) show it to the end."""
    from temporalio.common import WorkflowIDConflictPolicy

    from infra.postgres import create_pool
    from infra.temporal_client import connect
    from store.mentors import sync_mentors
    from workflows.launch import CohortLaunchWorkflow, LaunchInput, LaunchProgress, launch_id

    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        client = await connect(settings)
        new = await _save(
            pool, cohort_id, program, start, rows, roster_path=roster_path, update_contacts=update_contacts
        )
        await sync_mentors(pool, cohort_id)
        mentors = await start_mentors(client, pool, cohort_id, settings.task_queue)
        total = await pool.fetchval("select count(*) from participants where cohort_id = $1", cohort_id)
    finally:
        await pool.close()
    if not quiet:
        say(f"saved {len(rows)} participants to Postgres ({new} new); cohort {cohort_id!r} has {total}")
        if mentors:
            say(f"{mentors} mentor workflow(s) running (weekly digests, amplify prompts)")
    for _attempt in range(2):
        handle = await client.start_workflow(
            CohortLaunchWorkflow.run,
            LaunchInput(
                cohort_id=cohort_id,
                program=program.spec.name,
                task_queue=settings.task_queue,
                batch_size=batch_size,
                total=total,
                first_send_at=first_send_at,
            ),
            id=launch_id(cohort_id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"launch of cohort {cohort_id} ({program.spec.name}): {total} participants",
        )
        if not quiet:
            say(f"launch workflow {handle.id} running; Ctrl-C detaches, the launch goes on")
        if not wait:
            return LaunchProgress(cohort_id=cohort_id, total=total)
        result = await _watch(client, cohort_id, total, handle.result(), quiet=quiet)
        if result.processed >= total:
            return result
        # We attached to a launch that began before some of these rows were saved: run it once more.
    return result


async def _watch(client: Client, cohort_id: str, total: int, result: Any, *, quiet: bool) -> LaunchProgress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    done = asyncio.ensure_future(result)
    columns = (TextColumn("launching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=quiet, transient=False) as bar:
        task = bar.add_task("launch", total=total)
        while not done.done():
            progress = await _progress(client, cohort_id)
            if progress is not None:
                bar.update(task, completed=progress.processed, total=max(progress.total, total))
            await asyncio.wait({done}, timeout=0.5)
        final: LaunchProgress = done.result()
        bar.update(task, completed=final.processed, total=max(final.total, 1))
    return final


def _run_detachable(coro: Any, cohort_id: str) -> Any:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        say(
            f"mentorflow: detached; launch-{cohort_id} goes on in Temporal. "
            f"See `mentorflow cohort status {cohort_id}`."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None


@app.command()
def start(
    roster_path: Annotated[
        Path, typer.Argument(metavar="ROSTER.csv", help="The roster (see README: The roster).")
    ],
    cohort: str = typer.Option(..., "--cohort", help="Cohort id: letters, digits, _ . : -"),
    program_dir: Annotated[Path, typer.Option("--program", help="The program directory.")] = DEFAULT_PROGRAM,
    start_date: str = typer.Option(..., "--start-date", help="First day of the program, YYYY-MM-DD."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and show what would start; change nothing."
    ),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Start the valid rows, list the others."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Show progress until every journey started."),
    batch_size: int = typer.Option(
        250, "--batch-size", min=1, max=1000, help="Journeys per launch activity."
    ),
    update_contacts: bool = typer.Option(
        False, "--update-contacts", help="A re-run: apply the roster's changed names and addresses."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate the roster, save it to Postgres, and start every journey through a durable launch workflow."""
    from cli.program import load_or_exit
    from cli.roster_file import load_roster
    from infra.settings import get_settings

    check_cohort_id(cohort)
    start = parse_day("--start-date", start_date)
    today = date.today()
    if start < today:
        raise CliError(f"--start-date {start}: date in the past (today is {today})")
    program = load_or_exit(program_dir)
    roster = load_roster(roster_path, program=program.spec, today=today)
    invalid = not roster.ok
    if roster.fatal or (invalid and not skip_invalid):
        _print_problems(roster, roster_path, skipped=False)
        if not roster.fatal:
            say(
                f"mentorflow: {len(roster.invalid_lines)} invalid row(s) of "
                f"{len(roster.rows) + len(roster.invalid_lines)}; nothing started "
                "(fix them, or --skip-invalid to start the valid rows)"
            )
        raise typer.Exit(EXIT_INVALID)
    if invalid:
        _print_problems(roster, roster_path, skipped=True)
    rows = roster.rows
    report: dict[str, Any] = {
        "cohort_id": cohort,
        "program": program.spec.name,
        "start_date": start.isoformat(),
        "dry_run": dry_run,
        "valid": len(rows),
        "skipped_lines": roster.invalid_lines,
        "problems": [p._asdict() for p in roster.problems],
    }
    if dry_run:
        report["would_start"] = [_row_json(r, cohort) for r in rows]
        if as_json:
            emit_json(report)
        else:
            cells = [
                [
                    r.participant_id,
                    r.timezone,
                    ",".join(r.send_days),
                    f"{r.send_time:%H:%M}",
                    ",".join(r.personas) or "-",
                    len(r.conferences),
                ]
                for r in rows
            ]
            err.print(
                table(
                    f"Would start {len(rows)} journeys in cohort {cohort}",
                    ["participant", "timezone", "days", "time", "personas", "conferences"],
                    cells,
                )
            )
            say("dry run: nothing saved, nothing started")
        raise typer.Exit(EXIT_PARTIAL if invalid else 0)
    if not rows:
        raise CliError(f"{roster_path}: no valid rows; nothing started")

    settings = get_settings()
    progress = _run_detachable(
        launch(
            settings,
            cohort_id=cohort,
            program=program,
            start=start,
            rows=rows,
            batch_size=batch_size,
            wait=wait,
            quiet=as_json,
            update_contacts=update_contacts,
            roster_path=roster_path,
        ),
        cohort,
    )
    report["launch"] = progress.model_dump(mode="json")
    if as_json:
        emit_json(report)
    elif wait:
        running = progress.processed - progress.failed_count
        say(
            f"cohort {cohort}: {running} of {progress.total} journeys running"
            + (f" ({progress.closed} had already ended)" if progress.closed else "")
        )
    if progress.failed_count:
        for failure in progress.failed:
            say(f"mentorflow: error: participant {failure.participant_id}: not started: {failure.reason}")
        more = progress.failed_count - len(progress.failed)
        say(
            f"mentorflow: partial launch: {progress.failed_count} journey(s) could not start "
            f"({', '.join(f.participant_id for f in progress.failed)}{f' and {more} more' if more else ''}); "
            "retrying cannot fix these rows, the others run"
        )
        raise typer.Exit(EXIT_PARTIAL)
    if invalid:
        say(
            f"mentorflow: partial launch: {len(roster.invalid_lines)} row(s) skipped (lines "
            f"{', '.join(map(str, roster.invalid_lines))})"
        )
        raise typer.Exit(EXIT_PARTIAL)


# ---- reports ------------------------------------------------------------------------------------------


@app.command("list")
def list_(as_json: bool = JSON_OPTION) -> None:
    """Every cohort with its participants by mode."""
    from store.reports import MODES, list_cohorts

    cohorts = with_pool(list_cohorts)
    if as_json:
        emit_json([c.model_dump(mode="json") for c in cohorts])
        return
    rows = [
        [c.cohort_id, c.program, c.start_date, c.participants, *(c.modes[m] for m in MODES)] for c in cohorts
    ]
    err.print(table("Cohorts", ["cohort", "program", "start", "participants", *MODES], rows))


@app.command()
def status(cohort: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPTION) -> None:
    """Participants by mode and persona, milestones, emails by ledger status, next sends, launch progress."""
    from infra.settings import get_settings
    from infra.temporal_client import connect
    from store.reports import MODES, cohort_status

    report = with_pool(lambda pool: cohort_status(pool, cohort))
    if report is None:
        raise CliError(f"no cohort {cohort!r} (see `mentorflow cohort list`)")

    async def launch_progress() -> LaunchProgress | None:
        return await _progress(await connect(get_settings()), cohort)

    progress = asyncio.run(launch_progress())
    if as_json:
        emit_json(
            {
                **report.model_dump(mode="json"),
                "launch": progress.model_dump(mode="json") if progress else None,
            }
        )
        return
    c = report.cohort
    err.print(
        f"[bold]Cohort {c.cohort_id}[/bold]: program {c.program}, starts {c.start_date}, "
        f"{c.participants} participants"
    )
    if progress is None:
        say("launch: no launch workflow found")
    else:
        state = "done" if progress.done else "running"
        say(f"launch: {progress.processed} of {progress.total} journeys started ({state})")
    err.print(table("By mode", list(MODES), [[c.modes[m] for m in MODES]]))
    err.print(table("By persona", ["persona", "participants"], list(report.personas.items())))
    err.print(table("Milestones", ["milestone", "participants"], list(report.milestones.items())))
    err.print(
        table("Emails (participants' and mentors')", list(report.emails), [list(report.emails.values())])
    )
    if report.failed:
        err.print(
            table(
                f"Failed emails (latest {len(report.failed)} of {report.emails.get('failed', 0)})",
                ["to", "email", "scheduled (UTC)", "reason"],
                [
                    [
                        f"{f.recipient} {f.recipient_id}",
                        f.nudge_id,
                        f"{f.scheduled_at:%Y-%m-%d %H:%M}",
                        f.error,
                    ]
                    for f in report.failed
                ],
            )
        )
    if report.emails.get("uncertain"):
        say(
            f"{report.emails['uncertain']} email(s) uncertain (handed over, no reply): "
            f"`mentorflow mail list --uncertain --cohort {c.cohort_id}`, then `mail resolve` or `mail resend`"
        )
    err.print(
        table(
            f"Mentors ({len(report.mentors)})",
            ["mentor", "mentees", "emails sent"],
            [[m.email, m.mentees, m.digests_sent] for m in report.mentors],
        )
    )
    err.print(
        table(
            "Next sends",
            ["participant", "at (UTC)", "nudge"],
            [
                [n.participant_id, f"{n.next_nudge_at:%Y-%m-%d %H:%M}", n.next_nudge_id]
                for n in report.next_sends
            ],
        )
    )


@app.command()
def report(
    cohort: str = typer.Argument(..., metavar="ID"),
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the report as one self-contained page.")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write one row per participant (UTF-8 with BOM).")
    ] = None,
    since: str | None = typer.Option(None, "--since", help="First week shown, YYYY-MM-DD (default: start)."),
    quiet_weeks: int = typer.Option(
        3, "--quiet-weeks", min=1, help="Weeks without a click that need a look."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """How the cohort is doing, from the event store: milestone funnel by persona, emails, clicks and modes
    per week, who needs attention, and each participant."""
    from cli.report_html import render_csv, render_html
    from store.cohort_report import cohort_report

    since_day = parse_day("--since", since) if since is not None else None
    now = datetime.now(UTC)
    result = with_pool(
        lambda pool: cohort_report(pool, cohort, now=now, since=since_day, quiet_weeks=quiet_weeks)
    )
    if result is None:
        raise CliError(f"no cohort {cohort!r} (see `mentorflow cohort list`)")
    outputs: list[tuple[Path | None, Callable[[], bytes]]] = [
        (html, lambda: render_html(result).encode()),
        (csv_file, lambda: render_csv(result)),
    ]
    for path, data in outputs:
        if path is not None:
            try:
                path.write_bytes(data())
            except OSError as exc:
                raise CliError(f"{path}: cannot write: {exc.strerror}") from None
            say(f"wrote {path}")
    if as_json:
        emit_json(result)
        return
    _print_report(result)


def _print_report(r: Any) -> None:
    err.print(
        f"[bold]Cohort {r.cohort_id}[/bold] ({r.program}): {r.participants} participants, "
        f"weeks from {r.since}"
    )
    for f in r.funnel:
        err.print(
            table(
                f"Funnel: {f.persona} ({f.holders} hold it)",
                ["milestone", "reached"],
                [[s.title, s.reached] for s in f.steps],
            )
        )
    clicks = ("milestones", "snoozes", "preferences", "amplified")
    err.print(
        table(
            "Per week",
            ["week of", "sent", "failed", "uncertain", "suppressed", "to mentors", *clicks, *r.modes],
            [
                [
                    w.week,
                    *(w.emails.get(k, 0) for k in ("sent", "failed", "uncertain", "suppressed")),
                    w.mentor_emails,
                    *(w.clicks.get(k, 0) for k in clicks),
                    *(w.modes.get(m, 0) for m in r.modes),
                ]
                for w in r.weeks
            ],
        )
    )
    err.print(
        table(
            f"Needs attention ({len(r.attention)})",
            ["why", "who", "detail"],
            [[a.kind, a.who, a.detail] for a in r.attention],
        )
    )


# ---- steering a whole cohort ----------------------------------------------------------------------------


def steer_cohort(cohort: str, make: Any, as_json: bool) -> None:
    """Send one command to every journey of the cohort through the steering service; rejections are
    counted by code."""
    from cli.steer import staff_reason, with_steering
    from domain import RejectionCode
    from infra.settings import get_settings
    from steering import Applied, Pending, Rejected, Steering
    from store.intents import find_participant
    from store.reports import cohort_participants, journey_modes
    from workflows.contract import journey_id

    batch = uuid.uuid4().hex[:12]
    kind = make("probe").type

    async def go(pool: Any, steering: Steering) -> dict[str, Any]:
        ids = await cohort_participants(pool, cohort)
        if not ids:
            raise CliError(f"no cohort {cohort!r} (or it has no participants)")
        gate = asyncio.Semaphore(STEER_CONCURRENCY)
        outcome: dict[str, Any] = {"applied": 0, "rejected": {}, "ended": {}, "pending": 0}
        closed: list[str] = []

        async def one(pid: str) -> None:
            async with gate:
                participant = await find_participant(pool, journey_id(cohort, pid))
                assert participant is not None
                command = make(f"staff-cohort-{kind}-{batch}-{pid}")
                match await steering.send(participant, command):
                    case Applied():
                        outcome["applied"] += 1
                    case Pending():
                        outcome["pending"] += 1
                    case Rejected(code=RejectionCode.JOURNEY_CLOSED):
                        closed.append(pid)
                    case Rejected(code=code, message=message):
                        reason = staff_reason(code, message)
                        outcome["rejected"][reason] = outcome["rejected"].get(reason, 0) + 1

        await asyncio.gather(*(one(p) for p in ids))
        # A journey that ended (its workflow completed) is counted as what it became.
        modes = await journey_modes(pool, cohort, closed)
        for pid in closed:
            mode = modes.get(pid, "completed")
            outcome["ended"][mode] = outcome["ended"].get(mode, 0) + 1
        return outcome

    outcome = asyncio.run(with_steering(get_settings(), go))
    if as_json:
        emit_json({"cohort_id": cohort, "update": kind, **outcome})
        return
    say(f"cohort {cohort}: {kind} applied to {outcome['applied']} journeys")
    for reason, n in outcome["rejected"].items():
        say(f"  {n} rejected: {reason}")
    for mode, n in outcome["ended"].items():
        say(f"  {n} left alone: {'unsubscribed' if mode == 'unsubscribed' else 'journey completed'}")
    if outcome["pending"]:
        say(f"  {outcome['pending']} recorded, not applied yet (no journey yet, Temporal unreachable)")


@app.command()
def pause(
    cohort: str = typer.Argument(..., metavar="ID"),
    until: str = typer.Option(
        None, "--until", help="Resume on this date (UTC midnight); default in 4 weeks."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pause every journey of the cohort: no emails until the date (or `cohort resume`)."""
    from domain import Pause

    when = until_option(until)
    steer_cohort(cohort, lambda cid: Pause(command_id=cid, until=when, origin="cohort"), as_json)


@app.command()
def resume(cohort: str = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPTION) -> None:
    """Resume every paused journey of the cohort."""
    from domain import Resume

    steer_cohort(cohort, lambda cid: Resume(command_id=cid, origin="cohort"), as_json)


@app.command()
def conference(
    cohort: str = typer.Argument(..., metavar="ID"),
    name: str = typer.Option(..., "--name"),
    starts: str = typer.Option(..., "--starts", help="YYYY-MM-DD"),
    ends: str = typer.Option(..., "--ends", help="YYYY-MM-DD"),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone of the venue."),
    hashtag: str = typer.Option("", "--hashtag"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a conference to every journey of the cohort (a prep email before, daily emails during, a recap
    after); one id for all, so running it again adds nothing twice."""
    from domain import AddConference
    from domain.conferences import conference_id, conference_problem, normal_hashtag

    starts_on, ends_on = parse_day("--starts", starts), parse_day("--ends", ends)
    problem = conference_problem(name, hashtag, starts_on, ends_on, timezone)
    if problem is not None:
        option = {"starts_on": "--starts", "ends_on": "--ends"}.get(problem.field, f"--{problem.field}")
        raise CliError(f"{option}: {problem.message}")

    def command(cid: str) -> AddConference:
        return AddConference(
            command_id=cid,
            conference_id=conference_id(name, starts_on, ends_on),  # one id: a second run adds nothing
            name=name.strip(),
            hashtag=normal_hashtag(hashtag),
            starts_on=starts_on,
            ends_on=ends_on,
            timezone=timezone,
        )

    steer_cohort(cohort, command, as_json)


@app.command()
def end(
    cohort: str = typer.Argument(..., metavar="ID"),
    yes: bool = typer.Option(False, "--yes", help="Confirm: every journey of the cohort ends."),
    as_json: bool = JSON_OPTION,
) -> None:
    """End the cohort's program now: each journey sends its recap at its next send slot, then completes
    (as at the program's natural end; nobody is unsubscribed)."""
    from domain import EndProgram

    if not yes:
        raise CliError(f"cohort end {cohort} ends the program for every journey; add --yes to confirm")
    steer_cohort(cohort, lambda cid: EndProgram(command_id=cid), as_json)


# ---- the demo cohort of `mentorflow dev up --demo` -------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
SAMPLE_ROSTER = REPO / "samples" / "roster.csv"
SAMPLE_PROGRAM = REPO / "programs" / "medtwitter"


async def demo_service(settings: Any, stack: Any, stop: asyncio.Event) -> None:
    """Launch `demo-YYYYMMDD` from samples/roster.csv with first sends a few seconds from now, then idle.

    A failure is reported on one line and leaves the stack running.
    """
    from infra.program_files import load_program

    today = date.today()
    cohort_id = f"demo-{today:%Y%m%d}"
    try:
        program = load_program(SAMPLE_PROGRAM)
        from cli.roster_file import load_roster

        roster = load_roster(SAMPLE_ROSTER, program=program.spec, today=today)
        for problem in roster.problems:
            say(f"mentorflow: demo: skipped: {problem.message(str(SAMPLE_ROSTER))}")
        # Only the welcome moves (unless a quiet hour there); every later email keeps the roster schedule.
        progress = await launch(
            settings,
            cohort_id=cohort_id,
            program=program,
            start=today,
            rows=roster.rows,
            first_send_at=(datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0),
            batch_size=100,
            wait=True,
            quiet=True,
        )
    except Exception as exc:  # the stack stays up; the demo is a convenience
        say(f"mentorflow: demo: not launched: {' '.join(str(exc).split())[:300]}")
    else:
        ui = f"http://127.0.0.1:{settings.dev_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
        say(
            f"mentorflow: demo: cohort {cohort_id} launched ({progress.processed} journeys). "
            f"Welcome emails arrive within a minute: `mentorflow mail list` or {settings.mail_dir}/. "
            f"Journeys: {ui}?query=MentorflowCohort%3D%22{cohort_id}%22. Mentors: `mentorflow mentor list "
            f"--cohort {cohort_id}`; after a click on a link, `mentorflow mentor send-now EMAIL` sends that "
            "mentor's digest now."
        )
    await stop.wait()


# `cohort preview` lives in cli/preview.py.
app.command("preview")(preview)
