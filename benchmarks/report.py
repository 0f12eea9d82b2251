"""One row of the benchmark table, and the table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    figure: str
    ours: str
    baseline: str = "-"
    ratio: float | None = None
    goal: str = "-"
    met: bool | None = None  # None: no goal

    @property
    def met_cell(self) -> str:
        return "-" if self.met is None else ("yes" if self.met else "**no**")


HEADER = "| figure | ours | baseline | ratio | goal | met? |"


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"| {r.figure} | {r.ours} | {r.baseline} | {ratio} | {r.goal} | {r.met_cell} |")
    return "\n".join(lines)
