"""`mentorflow participant show|update|milestone|persona|pause|resume|conference|schedule|end|unsubscribe ID`,
`participant resubscribe ID --consent TEXT`.

Every journey change goes through the journey workflow's update, so the journey accepts or rejects it
and the reason is printed (exit code 8 when rejected). Each call carries a fresh command id. `update`
changes contact data, which only Postgres holds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from cli.errors import CliError
from cli.options import parse_day, until_option
from cli.output import JSON_OPTION, bold_line, emit_json, err, say, table
from cli.steer import staff_command_id as command_id

if TYPE_CHECKING:
    from domain import JourneyView

app = typer.Typer(help="One participant: see the journey, steer it.", no_args_is_help=True)

ID_ARG = typer.Argument(..., metavar="ID", help="The participant id from the roster.")
COHORT_OPTION = typer.Option(None, "--cohort", help="The cohort (needed when the id is in several).")


async def _resolve(pool: Any, participant_id: str, cohort: str | None) -> str:
    from store.reports import cohorts_of_participant

    cohorts = await cohorts_of_participant(pool, participant_id)
    if cohort is not None:
        if cohort not in cohorts:
            raise CliError(f"no participant {participant_id!r} in cohort {cohort!r}")
        return cohort
    if not cohorts:
        raise CliError(f"no participant {participant_id!r} in any cohort")
    if len(cohorts) > 1:
        raise CliError(f"participant {participant_id!r} is in cohorts {', '.join(cohorts)}; add --cohort")
    return cohorts[0]


def when(at: datetime | None, tz: str) -> str | None:
    """`2026-03-03 08:30 EST (13:30 UTC)`: the participant's wall clock first, then UTC; no seconds."""
    from domain.timing import local_datetime

    if at is None:
        return None
    local = local_datetime(at, tz)
    utc_at = at.astimezone(UTC)
    utc_text = f"{utc_at:%H:%M}" if utc_at.date() == local.date() else f"{utc_at:%Y-%m-%d %H:%M}"
    return f"{local:%Y-%m-%d %H:%M %Z} ({utc_text} UTC)"


def _value(value: object, tz: str) -> object:
    """An event's field as staff read it: instants on the participant's clock, the rest as is."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return when(datetime.fromisoformat(value), tz)
        except ValueError:
            return value
    if isinstance(value, str) and len(value) == 8 and value[2::3] == "::":
        return value[:5]  # a local send time, 08:30:00
    return value


def _render_view(view: JourneyView, ended: str | None = None) -> None:
    tz = view.timezone
    mode = view.mode.value if ended is None else f"{view.mode.value}: {ended}"
    bold_line(view.journey_id, f" ({view.program}): {mode}")
    next_email = f"{view.next_nudge_id} at {when(view.next_nudge_at, tz)}" if view.next_nudge_at else None
    rows: list[list[object]] = [
        ["personas", ", ".join(view.personas) or "-"],
        ["milestones", ", ".join(f"{m} ({when(at, tz)})" for m, at in view.milestones.items()) or "-"],
        ["suggested", ", ".join(view.suggested_personas) or "-"],
        ["next email", next_email],
        ["paused until", when(view.paused_until, tz)],
        ["emails sent", view.sends],
        ["ends", when(view.ends_at, tz)],
    ]
    err.print(table("Journey", ["", ""], rows))


def steer(participant_id: str, cohort: str | None, command: Any, as_json: bool, check: Any = None) -> None:
    """Send one staff command through the steering service; print the journey it leaves, or why not."""
    from cli.steer import exit_for, with_steering
    from infra.settings import get_settings
    from steering import Applied, Outcome, Steering
    from store.intents import find_participant
    from workflows.contract import journey_id

    async def go(pool: Any, steering: Steering) -> tuple[str, Outcome]:
        resolved = await _resolve(pool, participant_id, cohort)
        if check is not None:
            await check(pool, resolved, participant_id)
        wid = journey_id(resolved, participant_id)
        participant = await find_participant(pool, wid)
        assert participant is not None  # _resolve found the row
        return wid, await steering.send(participant, command)

    wid, outcome = asyncio.run(with_steering(get_settings(), go))
    exit_for(outcome, f"{wid} {command.type}")
    assert isinstance(outcome, Applied) and outcome.view is not None
    if as_json:
        emit_json(outcome.view)
    else:
        say(f"{command.type}: accepted")
        _render_view(outcome.view)


@app.command()
def show(
    participant_id: str = ID_ARG, cohort: str | None = COHORT_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """The journey (live, from its workflow), the event timeline and the emails (from Postgres)."""
    from temporalio.service import RPCError

    from infra.postgres import create_pool
    from infra.settings import get_settings
    from infra.temporal_client import connect
    from store.consents import Consent, consents_of
    from store.reports import participant_report
    from workflows.contract import journey_id
    from workflows.journey import JourneyWorkflow

    settings = get_settings()

    async def go() -> tuple[Any, JourneyView | None, list[Consent]]:
        pool = await create_pool(settings, min_size=1, max_size=1)
        try:
            client = await connect(settings)
            resolved = await _resolve(pool, participant_id, cohort)
            report = await participant_report(pool, resolved, participant_id)
            consents = await consents_of(pool, resolved, participant_id)
        finally:
            await pool.close()
        try:
            handle = client.get_workflow_handle(journey_id(resolved, participant_id))
            view = await handle.query(JourneyWorkflow.view)
        except RPCError:
            view = None  # not launched yet, or closed past retention: Postgres still tells the story
        return report, view, consents

    report, view, consents = asyncio.run(go())
    if view is not None and report.emails_sent is not None:
        # Counted from the journey's record in Postgres: an ended journey's workflow answers as it ended,
        # while staff's and the relay's settlements since are recorded there (`store.events`).
        view = view.model_copy(update={"sends": report.emails_sent})
    if as_json:
        emit_json(
            {
                "participant": report.model_dump(mode="json"),
                "journey": view.model_dump(mode="json") if view else None,
                "consents": [c.model_dump(mode="json") for c in consents],
            }
        )
        return
    _render_report(report, view)
    if consents:
        tz = report.timezone
        err.print(
            table(
                "Consents",
                [f"recorded ({tz})", "by", "kind", "how the participant asked"],
                [[when(c.recorded_at, tz), c.recorded_by, c.kind, c.consent] for c in consents],
            )
        )


def _render_report(report: Any, view: JourneyView | None) -> None:
    tz = report.timezone
    bold_line(
        report.name,
        f" <{report.email}> · {report.participant_id} in {report.cohort_id} · "
        f"{tz}, {','.join(report.send_days)} at {report.send_time:%H:%M}",
    )
    if view is not None:
        _render_view(view, report.ended)
    elif report.ended is not None:
        say(f"journey ended: {report.ended}")
    elif report.mode is not None:
        say(f"journey: {report.mode} (its workflow was not found: closed, or Temporal is unreachable)")
    else:
        say("journey: not launched yet")
    conferences = (
        [
            [c.name, c.starts_on, c.ends_on, c.timezone or tz, c.hashtag or None, c.in_progress or None]
            for c in view.upcoming_bursts
        ]
        if view is not None
        else [
            [c.name, c.starts_on, c.ends_on, c.timezone or tz, c.hashtag or None, None]
            for c in report.conferences
        ]
    )
    if conferences:
        err.print(
            table("Upcoming conferences", ["name", "starts", "ends", "zone", "hashtag", "now"], conferences)
        )
    skip = {"command_id", "origin"}
    err.print(
        table(
            "Timeline",
            [f"at ({tz})", "event", "by", "detail"],
            [
                [
                    when(e.at, tz),
                    e.type,
                    e.by,
                    ", ".join(f"{k}={_value(v, tz)}" for k, v in e.detail.items() if k not in skip),
                ]
                for e in report.events
            ],
        )
    )
    err.print(
        table(
            "Emails",
            [f"scheduled ({tz})", "nudge", "status", "subject", "reason"],
            [
                [
                    when(m.scheduled_at, tz),
                    m.nudge_id,
                    m.status,
                    m.subject,
                    m.error if m.status == "failed" else None,
                ]
                for m in report.emails
            ],
        )
    )


@app.command()
def milestone(
    participant_id: str = ID_ARG,
    milestone_id: str = typer.Argument(..., metavar="MILESTONE", help="A milestone id of the program."),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a milestone the participant achieved."""
    from domain import RecordMilestone

    cmd = RecordMilestone(command_id=command_id("milestone"), milestone_id=milestone_id)
    steer(participant_id, cohort, cmd, as_json)


@app.command()
def persona(
    participant_id: str = ID_ARG,
    action: str = typer.Argument(..., metavar="adopt|drop"),
    name: str = typer.Argument(..., metavar="PERSONA"),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Adopt or drop a persona for the participant."""
    from domain import AdoptPersona, DropPersona, Persona

    known = [p.value for p in Persona]
    if name not in known:
        raise CliError(f"unknown persona {name!r} (one of {', '.join(known)})")
    if action == "adopt":
        steer(
            participant_id,
            cohort,
            AdoptPersona(command_id=command_id("adopt"), persona=Persona(name), source="staff"),
            as_json,
        )
    elif action == "drop":
        steer(
            participant_id, cohort, DropPersona(command_id=command_id("drop"), persona=Persona(name)), as_json
        )
    else:
        raise CliError(f"persona action {action!r}: expected adopt or drop")


@app.command()
def pause(
    participant_id: str = ID_ARG,
    until: str = typer.Option(
        None, "--until", help="Resume on this date (UTC midnight); default in 4 weeks."
    ),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Pause the participant's emails until a date."""
    from domain import Pause

    pause = Pause(command_id=command_id("pause"), until=until_option(until), origin="staff")
    steer(participant_id, cohort, pause, as_json)


@app.command()
def resume(
    participant_id: str = ID_ARG, cohort: str | None = COHORT_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Resume a paused participant."""
    from domain import Resume

    steer(participant_id, cohort, Resume(command_id=command_id("resume"), origin="staff"), as_json)


@app.command()
def conference(
    participant_id: str = ID_ARG,
    name: str | None = typer.Option(None, "--name"),
    starts: str | None = typer.Option(None, "--starts", help="YYYY-MM-DD"),
    ends: str | None = typer.Option(None, "--ends", help="YYYY-MM-DD"),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone of the venue."),
    hashtag: str | None = typer.Option(None, "--hashtag"),
    remove: str | None = typer.Option(
        None, "--remove", metavar="CONFERENCE_ID", help="Take this conference back (see participant show)."
    ),
    edit: str | None = typer.Option(
        None,
        "--edit",
        metavar="CONFERENCE_ID",
        help="Correct this conference: give the fields that change (--name, --starts, --ends, ...).",
    ),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a conference: a prep email before, daily emails during, a recap after. `--remove ID` takes one
    back (no more emails for it); `--edit ID` corrects its name, hashtag, dates or zone (the ids are in
    `participant show`)."""
    from domain import AddConference, RemoveConference
    from domain.conferences import conference_id, conference_problem, normal_hashtag

    if remove is not None:
        if name or starts or ends or edit:
            raise CliError("--remove takes no --name/--starts/--ends/--edit")
        steer(
            participant_id,
            cohort,
            RemoveConference(command_id=command_id("conference"), conference_id=remove),
            as_json,
        )
        return
    if edit is not None:
        steer(
            participant_id, cohort, _change_conference(edit, name, starts, ends, timezone, hashtag), as_json
        )
        return
    if not (name and starts and ends):
        raise CliError("conference: give --name, --starts and --ends (or --remove ID, or --edit ID)")
    hashtag = hashtag or ""
    starts_on, ends_on = parse_day("--starts", starts), parse_day("--ends", ends)
    problem = conference_problem(name, hashtag, starts_on, ends_on, timezone)
    if problem is not None:
        raise CliError(f"{_CONFERENCE_OPTIONS.get(problem.field, f'--{problem.field}')}: {problem.message}")
    cmd = AddConference(
        command_id=command_id("conference"),
        conference_id=conference_id(name, starts_on, ends_on),  # the same conference twice: "already added"
        name=name.strip(),
        hashtag=normal_hashtag(hashtag),
        starts_on=starts_on,
        ends_on=ends_on,
        timezone=timezone,
    )
    steer(participant_id, cohort, cmd, as_json)


_CONFERENCE_OPTIONS = {"starts_on": "--starts", "ends_on": "--ends"}


def _change_conference(
    conference: str,
    name: str | None,
    starts: str | None,
    ends: str | None,
    timezone: str | None,
    hashtag: str | None,
) -> Any:
    """The ChangeConference the options ask for; what can be checked without the journey is checked here
    (one line naming the option), the journey checks the rest against the conference as it stands."""
    from domain import ChangeConference
    from domain.text import text_problem
    from domain.timing import is_valid_zone

    if name is None and starts is None and ends is None and timezone is None and hashtag is None:
        raise CliError("--edit: give at least one of --name, --starts, --ends, --timezone, --hashtag")
    for option, text in (("--name", name), ("--hashtag", hashtag)):
        problem = text_problem(text) if text is not None else None
        if problem:
            raise CliError(f"{option}: {problem}")
    if name is not None and not name.strip():
        raise CliError("--name: please fill it in")
    if timezone is not None and not is_valid_zone(timezone):
        raise CliError(f"--timezone {timezone!r}: not an IANA time zone (e.g. Europe/Paris)")
    return ChangeConference(
        command_id=command_id("conference"),
        conference_id=conference,
        name=name,
        hashtag=hashtag,
        starts_on=parse_day("--starts", starts) if starts is not None else None,
        ends_on=parse_day("--ends", ends) if ends is not None else None,
        timezone=timezone,
    )


@app.command()
def update(
    participant_id: str = ID_ARG,
    email: str | None = typer.Option(None, "--email", help="New email address."),
    name: str | None = typer.Option(None, "--name", help="New name."),
    greeting_name: str | None = typer.Option(
        None, "--greeting-name", help="What emails greet them by ('' for: from the name)."
    ),
    mentor_email: str | None = typer.Option(None, "--mentor-email", help="Their mentor ('' for none)."),
    mentor_name: str | None = typer.Option(None, "--mentor-name", help="How emails name the mentor."),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change contact data (Postgres only: the journey holds ids, never names or addresses); each value
    is checked as the roster checks it, and the next email uses it."""
    from cli.cohort import start_mentors
    from domain.roster import parse_email
    from domain.text import text_problem
    from infra.postgres import create_pool
    from infra.settings import get_settings
    from infra.temporal_client import connect
    from store.cohorts import ContactChange, EmailTaken, update_contact
    from store.mentors import sync_mentors

    settings = get_settings()
    smtputf8 = settings.smtp_utf8 != "off"
    if name is not None and not name.strip():
        raise CliError("--name: a name is required")
    for option, value in (
        ("--name", name),
        ("--greeting-name", greeting_name),
        ("--mentor-name", mentor_name),
    ):
        problem = text_problem(value) if value else None
        if problem:
            raise CliError(f"{option} {value!r}: {problem}")

    def address(option: str, value: str | None) -> str | None:
        if not value:
            return value  # None keeps it; '' clears a mentor
        try:
            return parse_email(value, smtputf8=smtputf8)
        except ValueError as exc:
            raise CliError(f"{option} {value!r}: {exc}") from None

    if email is not None and not email.strip():
        raise CliError("--email: an address is required")
    new_email = address("--email", email)
    new_mentor = address("--mentor-email", mentor_email)
    change = ContactChange(
        name=name.strip() if name is not None else None,
        email=new_email,
        greeting_name=greeting_name.strip() if greeting_name is not None else None,
        mentor_email=new_mentor,
        mentor_name=mentor_name.strip() if mentor_name is not None else None,
    )
    if not change.columns():
        raise CliError(
            "update: give at least one of --email, --name, --greeting-name, --mentor-email, --mentor-name"
        )

    async def go() -> tuple[str, dict[str, str | None]]:
        pool = await create_pool(settings, min_size=1, max_size=2)
        try:
            resolved = await _resolve(pool, participant_id, cohort)
            # A new mentor gets their workflow (weekly digest): Temporal is reached before anything changes.
            client = await connect(settings) if change.mentor_email else None
            try:
                before = await update_contact(pool, resolved, participant_id, change)
            except EmailTaken as exc:
                raise CliError(f"--email: {exc}") from None
            assert before is not None  # _resolve found the row
            if client is not None and "mentor_email" in before:
                await sync_mentors(pool, resolved)
                await start_mentors(client, pool, resolved, settings.task_queue)
            return resolved, before
        finally:
            await pool.close()

    resolved, before = asyncio.run(go())
    wanted = change.columns()
    changed = {column: wanted[column] or None for column in before}
    if as_json:
        emit_json(
            {"cohort_id": resolved, "participant_id": participant_id, "changed": changed, "before": before}
        )
        return
    if not before:
        say(f"participant {participant_id} ({resolved}): nothing to change, the contact data is already this")
    for column, old in before.items():
        new = changed[column] or "(none)"
        say(f"participant {participant_id} ({resolved}): {column} {old or '(none)'!r} -> {new!r}")


@app.command()
def unsubscribe(
    participant_id: str = ID_ARG, cohort: str | None = COHORT_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Unsubscribe the participant: no email is sent again."""
    from domain import Unsubscribe

    steer(participant_id, cohort, Unsubscribe(command_id=command_id("unsubscribe")), as_json)


# How long a consent's words may be: one line that says who asked, how and when.
MAX_CONSENT = 500


@app.command()
def resubscribe(
    participant_id: str = ID_ARG,
    consent: str = typer.Option(
        ..., "--consent", help="How the participant asked to be written to again (who, how, when)."
    ),
    by: str | None = typer.Option(None, "--by", help="Who records it (default: your user name)."),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Lift an unsubscribe with the participant's consent (recorded in Postgres: who, when, what).

    A journey still running (their unsubscribe had not reached it) goes on and records the resubscription.
    A journey that ended with the unsubscribe stays ended: no new journey starts automatically (add them to
    a new cohort's roster for that)."""
    import getpass
    import uuid

    from cli.steer import exit_for, with_steering
    from domain import Resubscribe
    from domain.text import text_problem
    from infra.settings import get_settings
    from steering import Applied, Outcome, Pending, Rejected, Steering
    from store.consents import record_resubscribe
    from store.intents import find_participant
    from store.reports import journey_modes
    from workflows.contract import journey_id

    consent = consent.strip()
    recorder = (by if by is not None else getpass.getuser()).strip()
    for option, value in (("--consent", consent), ("--by", recorder)):
        if not value:
            raise CliError(f"{option}: please fill it in (how the participant asked, and who records it)")
        problem = text_problem(value)
        if problem:
            raise CliError(f"{option}: {problem}")
    if len(consent) > MAX_CONSENT:
        raise CliError(f"--consent: at most {MAX_CONSENT} characters (it is {len(consent)})")
    consent_id = f"consent-{uuid.uuid4().hex}"
    command = Resubscribe(command_id=command_id("resubscribe"), consent_id=consent_id)

    async def go(pool: Any, steering: Steering) -> tuple[str, Outcome, str | None]:
        resolved = await _resolve(pool, participant_id, cohort)
        wid = journey_id(resolved, participant_id)
        participant = await find_participant(pool, wid)
        assert participant is not None  # _resolve found the row
        if participant.unsubscribed_at is None:
            raise CliError(f"participant {participant_id} ({resolved}) is not unsubscribed; nothing to lift")

        async def consent_row(conn: Any) -> None:
            await record_resubscribe(
                conn,
                consent_id=consent_id,
                cohort_id=resolved,
                participant_id=participant_id,
                consent=consent,
                recorded_by=recorder,
                unsubscribed_at=participant.unsubscribed_at,
            )

        outcome = await steering.send(participant, command, also=consent_row)
        mode = (await journey_modes(pool, resolved, [participant_id])).get(participant_id)
        return wid, outcome, mode

    wid, outcome, mode = asyncio.run(with_steering(get_settings(), go))
    if isinstance(outcome, Pending):
        say(f"consent {consent_id} recorded; emails are no longer held back for {participant_id}")
        exit_for(outcome, f"{wid} resubscribe")
    ended = isinstance(outcome, Rejected)
    if as_json:
        emit_json(
            {
                "participant_id": participant_id,
                "journey_id": wid,
                "consent_id": consent_id,
                "journey": "ended" if ended else "running",
                "mode": mode,
                "view": outcome.view.model_dump(mode="json")
                if isinstance(outcome, Applied) and outcome.view
                else None,
            }
        )
        return
    say(f"consent {consent_id} recorded (by {recorder}): {participant_id} is no longer unsubscribed")
    if ended:
        say(
            f"their journey {wid} has ended ({mode or 'closed'}): no email goes to them from it, and no new "
            "journey starts automatically; to write to them again, add them to a new cohort's roster"
        )
    else:
        assert isinstance(outcome, Applied) and outcome.view is not None
        say("their journey was still running: it goes on, with the resubscription on its timeline")
        _render_view(outcome.view)


def _schedule_command(timezone: str | None, send_days: str | None, send_time: str | None) -> Any:
    """The ChangeSchedule the options ask for, read as the roster reads its cells (`tue,thu`, `Tuesday`,
    `8:15 AM`); a bad option is a one-line error naming it."""
    from domain import ChangeSchedule
    from domain.roster import parse_send_days, parse_send_time
    from domain.timing import is_valid_zone

    if timezone is None and send_days is None and send_time is None:
        raise CliError("schedule: give at least one of --timezone, --send-days, --send-time")
    if timezone is not None and not is_valid_zone(timezone):
        raise CliError(f"--timezone {timezone!r}: not an IANA time zone (e.g. Europe/Paris)")
    try:
        days = parse_send_days(send_days) if send_days is not None else None
    except ValueError as exc:
        raise CliError(f"--send-days {send_days!r}: {exc}") from None
    try:
        at = parse_send_time(send_time) if send_time is not None else None
    except ValueError as exc:
        raise CliError(f"--send-time {send_time!r}: {exc}") from None
    return ChangeSchedule(command_id=command_id("schedule"), timezone=timezone, send_days=days, send_time=at)


@app.command()
def schedule(
    participant_id: str = ID_ARG,
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone, e.g. Asia/Kolkata."),
    send_days: str | None = typer.Option(None, "--send-days", help="Comma-separated days, e.g. tue,thu."),
    send_time: str | None = typer.Option(None, "--send-time", help="Local send time, e.g. 08:30."),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change when the participant's emails go: time zone, send days, send time (others stay)."""
    from domain.program import send_preference_problems
    from store.intents import find_participant
    from store.programs import ProgramCache
    from workflows.contract import journey_id

    cmd = _schedule_command(timezone, send_days, send_time)

    async def check(pool: Any, c: str, pid: str) -> None:
        # Checked against the cohort's program before anything is recorded (a one-line error naming the
        # option); the journey's own validator has the last word.
        program = await ProgramCache().get(pool, c)
        current = await find_participant(pool, journey_id(c, pid))
        assert current is not None
        days = list(cmd.send_days) if cmd.send_days is not None else current.send_days
        at = cmd.send_time if cmd.send_time is not None else current.send_time
        problems = send_preference_problems(program.spec.schedule, days, at)
        if problems:
            field, reason = problems[0]
            raise CliError(f"--{field.replace('_', '-')}: {reason}")

    steer(participant_id, cohort, cmd, as_json, check)


@app.command()
def end(
    participant_id: str = ID_ARG,
    yes: bool = typer.Option(False, "--yes", help="Confirm: the program ends for this participant."),
    cohort: str | None = COHORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """End the participant's program early: the recap goes at their next send slot, then it completes."""
    from domain import EndProgram

    if not yes:
        raise CliError(f"participant end {participant_id} ends their program for good; add --yes to confirm")
    steer(participant_id, cohort, EndProgram(command_id=command_id("end")), as_json)
