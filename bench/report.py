"""The run's figures: one table on stdout and the same data as JSON.

A figure has a value for the current tree and, when a baseline ran, for the baseline; the
``×`` column is the improvement factor (baseline/current for lower-is-better figures,
current/baseline for higher-is-better ones), so above 1 always means the current tree is better.
A section that could not run contributes one row whose note says why ("skipped: ...").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    section: str
    name: str
    unit: str
    lower_is_better: bool
    current: float | None = None
    baseline: float | None = None
    note: str = ""

    @property
    def factor(self) -> float | None:
        if self.current is None or self.baseline is None or not self.current or not self.baseline:
            return None
        return self.baseline / self.current if self.lower_is_better else self.current / self.baseline


@dataclass
class Run:
    """Everything one invocation measured, plus what it ran on."""

    command: str
    started: str
    machine: dict[str, Any]
    trees: dict[str, dict[str, str]]
    sections: list[str]
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # raw per-section data, per tree
    profile: dict[str, Any] = field(default_factory=dict)
    load_after: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for figure, raw in zip(self.figures, data["figures"]):
            raw["factor"] = figure.factor
        return data

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 0.1 or value == 0 else f"{value:.3f}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


COLUMNS = ("section", "figure", "unit", "current", "baseline", "×", "note")


def table_rows(run: Run) -> list[list[str]]:
    rows = []
    for figure in run.figures:
        factor = figure.factor
        show = _count if figure.unit == "count" else _number
        rows.append([figure.section, figure.name, figure.unit, show(figure.current), show(figure.baseline),
                     "-" if factor is None else f"{factor:.2f}", figure.note])
    return rows


def render(run: Run) -> str:
    """The table with a header naming the trees, the machine and its load before and after."""
    rows = table_rows(run)
    widths = [max(len(column), *(len(row[i]) for row in rows)) if rows else len(column)
              for i, column in enumerate(COLUMNS)]
    right = {3, 4, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                         for i, cell in enumerate(cells)).rstrip()

    machine = run.machine
    current = run.trees.get("current", {})
    baseline = run.trees.get("baseline")
    header = [
        f"celgate bench {run.started} ({'quick' if run.quick else 'full'}; sections: {', '.join(run.sections)})",
        f"current:  {current.get('revision', '?')[:12]}  {current.get('path', '')}",
        f"baseline: {baseline['revision'][:12]}  {baseline['path']}" if baseline else "baseline: none (--no-baseline)",
        f"machine:  {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}",
        f"load avg: {' '.join(f'{v:.2f}' for v in machine['load_average'])} before, "
        f"{' '.join(f'{v:.2f}' for v in run.load_after) or '?'} after (1/5/15 min; "
        f"above {machine['nproc']} means other work shared the {machine['nproc']} cores)",
        "× = improvement factor of current over baseline (>1 is better)",
        "",
        line(list(COLUMNS)),
        line(["-" * w for w in widths]),
    ]
    return "\n".join(header + [line(row) for row in rows]) + "\n"


def markdown(data: dict[str, Any], sections: list[str] | None = None) -> str:
    """The table of a run's JSON as Markdown (for the README), with the machine and trees above it."""
    machine, trees = data["machine"], data["trees"]
    baseline = trees.get("baseline")
    lines = [
        f"`{data['command']}` on {data['started'][:16].replace('T', ' ')} UTC, current tree "
        f"`{trees['current']['revision'][:7]}`" + (f" beside baseline `{baseline['revision'][:7]}`" if baseline else "")
        + f"; {machine['nproc']} CPUs ({machine['cpu_model']}), Python {machine['python']}, load average "
        f"{machine['load_average'][0]:.1f} before and {(data.get('load_after') or [0])[0]:.1f} after.",
        "",
        "| figure | unit | current | baseline | × | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for raw in data["figures"]:
        if sections and raw["section"] not in sections:
            continue
        show = _count if raw["unit"] == "count" else _number
        factor = raw.get("factor")
        lines.append(f"| {raw['name'].replace('|', '/')} | {raw['unit']} | {show(raw['current'])} | "
                     f"{show(raw['baseline'])} | {'-' if factor is None else f'{factor:.2f}'} | "
                     f"{raw['note'].replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        print("usage: python -m bench.report RUN.json   (prints the run's table as Markdown)", file=sys.stderr)
        sys.exit(2)
    print(markdown(json.loads(Path(sys.argv[1]).read_text())), end="")
