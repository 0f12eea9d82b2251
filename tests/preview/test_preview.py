"""`cohort preview`: the fast loop equals `simulate`, the script file and its errors, the command itself."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cli.preview import plans_from_roster
from cli.roster_file import load_roster
from domain import simulate
from domain.preview import parse_script, preview, run_journey
from infra.program_files import load_program
from tests.foundation.clirun import run_cli

REPO = Path(__file__).resolve().parents[2]
PROGRAM = load_program(REPO / "programs" / "medtwitter").spec
START = date(2027, 1, 4)  # a Monday before the sample roster's conferences (validated as of 2026-01-01)
SAMPLE = REPO / "samples" / "roster.csv"
SCRIPT = """
demo-001 week 3 milestone followed_ten
demo-002 weeks 10-12 snooze      # a planned pause
demo-003 week 5 adopt creator
demo-004 week 9 drop mission
demo-006 week 30 unsubscribe
"""


def _plans() -> list:  # type: ignore[type-arg]
    roster = load_roster(SAMPLE, program=PROGRAM, today=date(2026, 1, 1))
    ids = [r.participant_id for r in roster.rows]
    lines, problems = parse_script(SCRIPT, program=PROGRAM, participants=ids, weeks=53)
    assert not problems
    launched = datetime(2026, 12, 20, 9, tzinfo=UTC)
    return plans_from_roster("c1", roster.rows, PROGRAM, START, launched_at=launched, script=lines)


def test_the_fast_loop_is_simulate() -> None:
    until = datetime(2028, 2, 1, tzinfo=UTC)
    for plan in _plans():
        scripted = [(plan.enrolled_at, c) for c in plan.conferences] + list(plan.script)
        expected = simulate(PROGRAM, plan.enroll, until, scripted, enrolled_at=plan.enrolled_at)
        assert run_journey(PROGRAM, plan, until) == expected, plan.participant_id


def test_counts_silences_and_identical_journeys() -> None:
    plans = _plans()
    twin = plans[5].model_copy(update={"participant_id": "twin"})
    result = preview(PROGRAM, [*plans, twin], start_date=START, weeks=53)
    assert result.participants == 11 and result.distinct_journeys == 10
    mine = [(e.nudge_id, e.at) for e in result.emails if e.participant_id == plans[5].participant_id]
    assert mine == [(e.nudge_id, e.at) for e in result.emails if e.participant_id == "twin"]
    assert sum(w.total for w in result.week_counts) == len(result.emails)
    assert result.week_counts[0].by_kind["welcome"] == 11
    # The snooze is a band, not a silence; the unsubscribed participant gets nothing after week 30.
    assert any(b.participant_id == "demo-002" and b.kind == "planned" for b in result.bands)
    assert not [s for s in result.silences if s.participant_id == "demo-002" and s.weeks > 4.2]
    cutoff = datetime.combine(START + timedelta(weeks=29), datetime.min.time(), tzinfo=UTC)
    assert all(e.at < cutoff + timedelta(days=1) for e in result.emails if e.participant_id == "demo-006")
    # Somebody in a burst: the conference of demo-001.
    assert any(b.kind == "burst" for b in result.bands)


def test_script_problems_name_their_line() -> None:
    text = "demo-001 week 3 milestone nope\nghost week 2 adopt creator\ndemo-001 weeks 9-60 snooze\nhello\n"
    _, problems = parse_script(text, program=PROGRAM, participants=["demo-001"], weeks=53)
    assert [p.line for p in problems] == [1, 2, 3, 4]
    assert "unknown milestone 'nope'" in problems[0].reason
    assert "not in the roster" in problems[1].reason
    assert "outside weeks 1-53" in problems[2].reason


def test_the_command(tmp_path: Path) -> None:
    # The sample roster with its conferences moved to next year, so it stays valid as time passes.
    year = date.today().year + 1
    roster = tmp_path / "roster.csv"
    roster.write_text(SAMPLE.read_text().replace("2027-", f"{year}-"))
    monday = date(year, 1, 1) + timedelta(days=-date(year, 1, 1).weekday() % 7)
    script = tmp_path / "script.txt"
    script.write_text(SCRIPT)
    page = tmp_path / "preview.html"
    args = ["cohort", "preview", str(roster), "--program", str(REPO / "programs" / "medtwitter")]
    done = run_cli(
        *args, "--start-date", monday.isoformat(), "--script", str(script), "--html", str(page), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Emails per week by persona" in done.stderr and "demo-010" in page.read_text()
    html = page.read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html and "https://" not in html

    as_json = run_cli(*args, "--start-date", monday.isoformat(), "--months", "3", "--json", cwd=tmp_path)
    report = json.loads(as_json.stdout)
    assert report["participants"] == 10 and report["weeks"] == 14
    assert report["week_counts"][0]["by_kind"]["welcome"] == 10

    script.write_text("demo-001 week 3 milestone nope\n")
    bad = run_cli(*args, "--start-date", monday.isoformat(), "--script", str(script), cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"mentorflow: error: {script}: line 1: unknown milestone 'nope' " + (
        "(see `mentorflow program show`)"
    )
    assert "Traceback" not in bad.stderr


def test_without_a_script_every_reader_gets_their_track_not_only_check_ins() -> None:
    # Nobody clicks: reading is taking part. Everyone still gets their track's notes (at a gentler pace
    # after four weeks), each text at most once, then one "shall we keep writing?" and quiet.
    roster = load_roster(SAMPLE, program=PROGRAM, today=date(2026, 1, 1))
    plans = plans_from_roster(
        "c1", roster.rows, PROGRAM, START, launched_at=datetime(2026, 12, 20, 9, tzinfo=UTC)
    )
    result = preview(PROGRAM, plans, start_date=START, weeks=53)
    for plan in plans:
        mine = [e for e in result.emails if e.participant_id == plan.participant_id]
        kinds = {e.kind for e in mine}
        assert "track" in kinds, plan.participant_id
        assert len(mine) - len([e for e in mine if e.kind == "checkin"]) > 3, plan.participant_id
        plain = [e.nudge_id for e in mine if e.conference_id is None]
        assert len(plain) == len(set(plain)), f"{plan.participant_id}: a text sent twice"
    consumer = [e.nudge_id for e in result.emails if e.participant_id == "demo-002"]
    assert {"consumer-04", "consumer-05"} <= set(consumer) and consumer.count("checkin") == 1
