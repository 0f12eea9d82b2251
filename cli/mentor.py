"""`mentorflow mentor list|show`: the cohort's mentors, their mentees and what they were sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import typer

from cli.errors import CliError
from cli.output import JSON_OPTION, bold_line, emit_json, err, say, table
from cli.pool import with_pool

app = typer.Typer(help="Mentors: who they are, their mentees, their digests.", no_args_is_help=True)


@app.command("list")
def list_(
    cohort: str = typer.Option(..., "--cohort", help="The cohort."),
    quiet_weeks: int = typer.Option(3, "--quiet-weeks", min=1, help="Weeks without a click: quiet."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Each mentor of the cohort with their mentees, how many are quiet, and their preferences."""
    from store.mentors import mentor_summaries

    now = datetime.now(UTC)

    async def go(pool: Any) -> Any:
        if await pool.fetchval("select 1 from cohorts where cohort_id = $1", cohort) is None:
            raise CliError(f"no cohort {cohort!r} (see `mentorflow cohort list`)")
        return await mentor_summaries(pool, cohort, now=now, quiet_weeks=quiet_weeks)

    summaries = with_pool(go)
    if as_json:
        emit_json([s.model_dump(mode="json") for s in summaries])
        return
    rows = [
        [
            s.mentor.email,
            s.mentor.name,
            s.mentor.timezone,
            s.mentees,
            s.quiet,
            s.mentor.digest if s.mentor.unsubscribed_at is None else "unsubscribed",
            "on" if s.mentor.prompts else "off",
            f"{s.mentor.last_digest_at:%Y-%m-%d %H:%M} UTC" if s.mentor.last_digest_at else None,
        ]
        for s in summaries
    ]
    err.print(
        table(
            f"Mentors of {cohort} ({len(rows)})",
            ["email", "name", "zone", "mentees", "quiet", "digest", "prompts", "last digest"],
            rows,
        )
    )


def _one(found: list[Any], email: str, cohort: str | None) -> Any:
    found = [m for m in found if cohort is None or m.cohort_id == cohort]
    if not found:
        where = f" in cohort {cohort!r}" if cohort else ""
        raise CliError(f"no mentor {email!r}{where} (see `mentorflow mentor list --cohort C`)")
    if len(found) > 1:
        raise CliError(
            f"mentor {email!r} is in cohorts {', '.join(m.cohort_id for m in found)}; add --cohort"
        )
    return found[0]


@app.command("set")
def set_(
    email: str = typer.Argument(..., metavar="EMAIL"),
    cohort: str | None = typer.Option(None, "--cohort", help="Needed when the mentor is in several cohorts."),
    name: str | None = typer.Option(None, "--name", help="How emails greet the mentor."),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone, e.g. Europe/London."),
    send_time: str | None = typer.Option(
        None, "--send-time", help="Local time of the mentor's emails, 08:30."
    ),
    digest_day: str | None = typer.Option(None, "--digest-day", help="Day of the weekly digest: mon..sun."),
    digest: str | None = typer.Option(None, "--digest", help="weekly or off."),
    prompts: str | None = typer.Option(None, "--prompts", help="Amplify prompts: on or off."),
    resubscribe: bool = typer.Option(False, "--resubscribe", help="Undo the mentor's unsubscribe."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a mentor's name or preferences; the mentor's workflow plans its next slot again."""
    from datetime import time as time_of_day

    from domain.program import send_preference_problems
    from domain.timing import WEEKDAYS, is_valid_zone
    from store.mentors import MentorChange, find_mentor, update_mentor
    from store.programs import ProgramCache

    if timezone is not None and not is_valid_zone(timezone):
        raise CliError(f"--timezone {timezone!r}: not an IANA time zone (e.g. Europe/Paris)")
    at = None
    if send_time is not None:
        try:
            at = time_of_day.fromisoformat(send_time)
        except ValueError:
            raise CliError(f"--send-time {send_time!r}: expected a 24h time like 08:30") from None
    if digest_day is not None and digest_day.lower()[:3] not in WEEKDAYS:
        raise CliError(f"--digest-day {digest_day!r}: expected one of {', '.join(WEEKDAYS)}")
    if digest is not None and digest not in ("weekly", "off"):
        raise CliError(f"--digest {digest!r}: expected weekly or off")
    if prompts is not None and prompts not in ("on", "off"):
        raise CliError(f"--prompts {prompts!r}: expected on or off")
    change = MentorChange(
        name=name.strip() if name and name.strip() else None,
        timezone=timezone,
        send_time=at,
        digest_day=digest_day.lower()[:3] if digest_day else None,
        digest=digest,
        prompts=None if prompts is None else prompts == "on",
        resubscribe=resubscribe,
    )
    if change == MentorChange():
        raise CliError(
            "mentor set: give at least one of --name, --timezone, --send-time, --digest-day, "
            "--digest, --prompts, --resubscribe"
        )

    async def go(pool: Any) -> Any:
        mentor = _one(await find_mentor(pool, email), email, cohort)
        if at is not None:
            program = await ProgramCache().get(pool, mentor.cohort_id)
            problems = send_preference_problems(program.spec.schedule, ["mon"], at)
            if problems:
                raise CliError(f"--send-time: {problems[0][1]}")
        return await update_mentor(pool, mentor, change)

    mentor = with_pool(go)
    asyncio.run(_replan(mentor.cohort_id, mentor.mentor_id))
    if as_json:
        emit_json(mentor)
        return
    say(
        f"mentor {mentor.email} in {mentor.cohort_id}: {mentor.name}, {mentor.timezone}, "
        f"digest {mentor.digest} "
        f"on {mentor.digest_day} at {mentor.send_time:%H:%M}, prompts {'on' if mentor.prompts else 'off'}"
        + (", unsubscribed" if mentor.unsubscribed_at else "")
    )


@app.command("send-now")
def send_now(
    email: str = typer.Argument(..., metavar="EMAIL"),
    cohort: str | None = typer.Option(None, "--cohort", help="Needed when the mentor is in several cohorts."),
    prompt: bool = typer.Option(False, "--prompt", help="The pending amplify prompt instead of the digest."),
) -> None:
    """Ask the mentor's workflow for the digest (or the amplify prompt) now, not at the next slot. As at a
    slot, nothing goes when there is no news; `mentor show` lists what went."""
    from temporalio.service import RPCError

    from infra.settings import get_settings
    from infra.temporal_client import connect
    from store.mentors import find_mentor
    from workflows.contract import mentor_workflow_id

    async def mentor_of(pool: Any) -> Any:
        return _one(await find_mentor(pool, email), email, cohort)

    mentor = with_pool(mentor_of)
    kind = "amplify" if prompt else "digest"
    wid = mentor_workflow_id(mentor.cohort_id, mentor.mentor_id)

    async def go() -> None:
        client = await connect(get_settings())
        try:
            await client.get_workflow_handle(wid).signal("send_now", kind)
        except RPCError as exc:
            raise CliError(
                f"mentor workflow {wid} is not running ({exc.message}); `cohort start` starts it"
            ) from None

    asyncio.run(go())
    say(f"asked {wid} for the {kind} now (nothing goes if there is no news)")


async def _replan(cohort_id: str, mentor_id: str) -> None:
    """Tell the mentor's workflow; none running (not launched, or Temporal down) is fine: it reads the
    preferences from Postgres at its next slot anyway."""
    from temporalio.service import RPCError

    from infra.settings import get_settings
    from infra.temporal_client import TemporalUnreachableError, connect
    from workflows.contract import mentor_workflow_id

    try:
        client = await connect(get_settings())
        await client.get_workflow_handle(mentor_workflow_id(cohort_id, mentor_id)).signal(
            "preferences_changed"
        )
    except (RPCError, TemporalUnreachableError):
        say(
            "mentorflow: the mentor's workflow was not told (not running); "
            "the change applies at its next slot"
        )


@app.command()
def show(
    email: str = typer.Argument(..., metavar="EMAIL"),
    cohort: str | None = typer.Option(None, "--cohort", help="Needed when the mentor is in several cohorts."),
    quiet_weeks: int = typer.Option(3, "--quiet-weeks", min=1, help="Weeks without a click: quiet."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The mentor, each mentee (mode, personas, milestones, last click) and the emails sent to them."""
    from store.mentors import find_mentor, mentees

    now = datetime.now(UTC)

    async def go(pool: Any) -> Any:
        found = [m for m in await find_mentor(pool, email) if cohort is None or m.cohort_id == cohort]
        if not found:
            where = f" in cohort {cohort!r}" if cohort else ""
            raise CliError(f"no mentor {email!r}{where} (see `mentorflow mentor list --cohort C`)")
        if len(found) > 1:
            raise CliError(
                f"mentor {email!r} is in cohorts {', '.join(m.cohort_id for m in found)}; add --cohort"
            )
        mentor = found[0]
        group = await mentees(pool, mentor, now=now, quiet_weeks=quiet_weeks)
        emails = await pool.fetch(
            """
            select id, nudge_id, status, scheduled_at, subject from send_ledger
            where recipient = 'mentor' and cohort_id = $1 and mentor_id = $2 order by scheduled_at, id
            """,
            mentor.cohort_id,
            mentor.mentor_id,
        )
        return mentor, group, [dict(r) for r in emails]

    mentor, group, emails = with_pool(go)
    if as_json:
        emit_json(
            {
                "mentor": mentor.model_dump(mode="json"),
                "mentees": [m.model_dump(mode="json") for m in group],
                "emails": emails,
            }
        )
        return
    also = ", also a participant" if mentor.is_participant else ""
    bold_line(
        mentor.name,
        f" <{mentor.email}> · mentor in {mentor.cohort_id}{also} · "
        f"{mentor.timezone}, "
        f"digest {mentor.digest} on {mentor.digest_day} at {mentor.send_time:%H:%M}, "
        f"prompts {'on' if mentor.prompts else 'off'}",
    )
    if mentor.unsubscribed_at:
        say(f"unsubscribed on {mentor.unsubscribed_at:%Y-%m-%d %H:%M} UTC")
    err.print(
        table(
            f"Mentees ({len(group)})",
            ["participant", "name", "mode", "personas", "milestones", "last click", "quiet"],
            [
                [
                    m.participant_id,
                    m.name,
                    m.mode or "not started",
                    ", ".join(m.personas) or None,
                    len(m.milestones),
                    f"{m.last_click:%Y-%m-%d}" if m.last_click else None,
                    "yes" if m.quiet else None,
                ]
                for m in group
            ],
        )
    )
    err.print(
        table(
            "Emails (`mentorflow mail resolve|resend ID` for an uncertain one)",
            ["id", "scheduled (UTC)", "email", "status", "subject"],
            [
                [e["id"], f"{e['scheduled_at']:%Y-%m-%d %H:%M}", e["nudge_id"], e["status"], e["subject"]]
                for e in emails
            ],
        )
    )
