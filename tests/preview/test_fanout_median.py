"""The fan-out figure is the median of its runs, with the range: a run whose launch went past its due
instant is left out (its burst measured the launch), and one run that was not exactly once fails it."""

from __future__ import annotations

from benchmarks.fanout import FanoutRun, JourneysBurst, median_row, run_row

CPU = {"Temporal server": 2.0, "worker": 1.0}


def run(ours: float, base: float, *, once: bool = True, late: bool = False) -> FanoutRun:
    verdict = "exactly once: 100 ledger rows" if once else "**NOT exactly once**: 97 ledger rows"
    return FanoutRun(ours, base, CPU, CPU, JourneysBurst([], verdict, once, 50.0, late))


def test_the_figure_is_the_median_ratio_of_the_runs_with_its_range() -> None:
    row = median_row(100, [run(40, 100), run(30, 100), run(60, 100)])
    assert row.ratio == 0.4 and row.met is False  # below the 0.7 goal
    assert "median of 3 alternating runs, ratio range 0.30-0.60 (exactly once in every run)" in row.figure
    assert row.ours.startswith("40.0 emails/s (range 30.0-60.0; median CPU ms per email in the burst: ")
    assert "Temporal server 20.0, worker 10.0" in row.ours


def test_a_late_run_is_left_out_and_a_run_not_exactly_once_fails_the_figure() -> None:
    runs = [run(80, 100), run(90, 100, once=False), run(10, 100, late=True)]
    row = median_row(100, runs)
    assert row.ratio is not None and abs(row.ratio - 0.85) < 1e-9
    assert "median of 2 alternating runs" in row.figure and "1 late run(s) left out" in row.figure
    assert "**exactly once in 2 of 3**" in row.figure and row.met is False
    assert run_row(2, 3, 100, runs[1]).met is False
    assert "left out of the median" in run_row(3, 3, 100, runs[2]).figure
    assert median_row(100, [run(80, 100)]).met is True
