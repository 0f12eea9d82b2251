"""The chaos suite at its smoke size (`benchmarks/chaos.py --smoke`): every scenario runs on the stack as
separate processes against the scriptable relay. Its correctness goals are asserted (no timing):
never two copies, nothing lost outside the `uncertain` rows, uncertain only for emails past the point of
no return at a fault (or that the relay stored and never answered), the relay's scripted refusals
recorded as failed, and every journey's record counting its email as the ledger says."""

from __future__ import annotations

from benchmarks.chaos import SMOKE_KILLS, SMOKE_N, SMOKE_STICKY, run, scenarios

N = SMOKE_N
KILLS = SMOKE_KILLS


async def test_chaos_smoke_never_two_copies_never_a_silent_miss() -> None:
    lines: list[str] = []
    env = {"MENTORFLOW_STICKY_TIMEOUT_SECONDS": str(SMOKE_STICKY)}
    results = {r.name: r for r in await run(N, KILLS, None, lines.append, env)}
    table = "\n".join(lines)
    assert list(results) == [s.name for s in scenarios(KILLS)], table
    for r in results.values():
        assert (r.faults > 0) == (r.name != "fault-free"), table  # each fault did happen
        assert r.expected == N and r.duplicates == 0 and r.lost == 0, table
        assert r.uncertain_elsewhere == 0 and r.uncertain <= r.in_flight, table
        assert r.disagree == 0, table  # every journey's record counts its email as the ledger says
    # The two scenarios where the relay stores a message and never answers leave one uncertain row per
    # recipient it does that to (every 10th), and those messages were delivered. A fault that stops a
    # process may leave one per conversation past the point of no return (counted in `in_flight`).
    for name, r in results.items():
        if name.startswith(("drop after DATA", "reply to end of DATA")):
            assert r.uncertain == r.in_flight == N // 10 and r.delivered == N, table
        elif not name.startswith(("worker kill -9", "worker SIGTERM", "Postgres", "Temporal")):
            assert r.uncertain == 0 and r.in_flight == 0, table
    assert results["550 at RCPT (every 10th)"].failed == N // 10, table
    assert all(r.failed == 0 for n, r in results.items() if not n.startswith("550")), table
