"""Benchmark: how long ``liftlab report`` takes, stage by stage, against a trivial papermill run.

In one run, interleaved (best of ``--repeat``, 3 by default), on a throwaway project with the
demo plans, the analysis notebook and data from ``liftlab simulate``:

(a) a trivial two-cell notebook through ``papermill`` (Python, papermill and a kernel start:
    the floor any papermill report stands on);
(b) one demo report (``landing-headline``) through ``liftlab report``, and through the
    in-process API (:func:`liftlab.report.run_reports`), with its stages: the worker's own
    steps (kernel start, the worker's imports, waiting for the kernel, the notebook, the
    HTML export, writing) and, inside the notebook, papermill's per-cell durations grouped
    as imports, analysis, charts and the rest;
(c) ten plans (copies of the demo plans under other names) with ``--jobs 2``.

Every figure is printed with its ratio to (a). The goals: (b) at most 2 × (a), (c) at most
40 s. Timings on a shared machine are noisy; compare figures of one run only.

    .venv/bin/python benchmarks/report_speed.py           # best of 3, ten plans
    .venv/bin/python benchmarks/report_speed.py --quick   # one round, four plans
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAN = "landing-headline"
DEMO_PLANS = ("landing-headline", "pricing-three-tiers", "creative-tournament", "ad-export")

# Notebook cells by what they spend their time on (matched on the cell's source).
CELL_GROUPS = (
    ("imports", ("from liftlab import",)),
    ("analysis", ("load_results(",)),
    ("charts and tables", ("charts.", "metrics_section(", "views.section_views(")),
)


def project(where: Path) -> Path:
    """A project with the demo plans, the analysis notebook and freshly simulated data."""
    from liftlab.simulate import simulate

    (where / "experiments").mkdir(parents=True)
    for name in DEMO_PLANS:
        shutil.copy(ROOT / "experiments" / f"{name}.yaml", where / "experiments")
    (where / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "analyze.ipynb", where / "notebooks")
    simulate(where / "data")
    trivial = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": "x = 1",
                "outputs": [],
                "execution_count": None,
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "x + 1",
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (where / "trivial.ipynb").write_text(json.dumps(trivial), encoding="utf-8")
    return where


def many_plans(proj: Path, n: int) -> list[Path]:
    """``n`` plans: the demo plans again under other names."""
    paths = []
    for i in range(n):
        demo = DEMO_PLANS[i % len(DEMO_PLANS)]
        name = f"{demo}-{i + 1:02d}"
        text = (proj / "experiments" / f"{demo}.yaml").read_text(encoding="utf-8")
        text = text.replace(f"name: {demo}\n", f"name: {name}\n", 1)
        path = proj / "experiments" / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def wall(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def trivial_papermill(proj: Path) -> float:
    out = proj / "trivial-out.ipynb"
    return wall([str(BIN / "papermill"), "trivial.ipynb", str(out), "--no-progress-bar"], proj)


def report_cli(proj: Path) -> float:
    reports = proj / "reports-cli"
    return wall(
        [str(BIN / "liftlab"), "report", f"experiments/{PLAN}.yaml", "--reports", str(reports)],
        proj,
    )


def report_api(proj: Path, stages: dict[str, float]) -> float:
    """One report through :func:`run_reports`; ``stages`` gets its stages (when the run is
    faster than the best so far)."""
    from rich.console import Console

    from liftlab.report import run_reports

    quiet = Console(file=open(os.devnull, "w"))
    start = time.perf_counter()
    [outcome] = run_reports(
        [proj / "experiments" / f"{PLAN}.yaml"], reports_dir=proj / "reports-api", console=quiet
    )
    seconds = time.perf_counter() - start
    assert outcome.ok, outcome.message
    if not stages or seconds < stages["total"]:
        stages.clear()
        stages.update(_stages(outcome, seconds))
    return seconds


def cell_groups(notebook: Path) -> dict[str, float]:
    """An executed notebook's seconds by group of cells (papermill's per-cell durations)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells: dict[str, float] = {name: 0.0 for name, _ in CELL_GROUPS}
    cells["other cells"] = 0.0
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        group = next((n for n, keys in CELL_GROUPS if any(k in source for k in keys)), None)
        seconds_in = (cell["metadata"].get("papermill") or {}).get("duration") or 0.0
        cells[group or "other cells"] += seconds_in
    return cells


def _stages(outcome: object, seconds: float) -> dict[str, float]:
    """Where one run's seconds went: the batch and worker start, the worker's steps, and the
    notebook's cells by group (papermill's own work is the notebook's rest)."""
    out: dict[str, float] = {"total": seconds}
    worker = dict(getattr(outcome, "stages", ()))
    out["batch, worker start and index"] = seconds - sum(worker.values())
    cells = cell_groups(Path(str(getattr(outcome, "folder", ""))) / "report.ipynb")
    for name, value in worker.items():
        if name == "notebook":
            for cell_group, cell_seconds in cells.items():
                out[f"  notebook: {cell_group}"] = cell_seconds
            out["  notebook: papermill itself"] = value - sum(cells.values())
        else:
            out[name] = value
    return out


def best(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each figure's best of ``rounds``, the runs interleaved (a b c, a b c, ...)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, four plans in (c)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (best of); default 3")
    parser.add_argument("--plans", type=int, default=10, help="plans in (c); default 10")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.repeat
    n_plans = 4 if args.quick else args.plans
    with tempfile.TemporaryDirectory(prefix="liftlab-bench-") as tmp:
        proj = project(Path(tmp))
        stages: dict[str, float] = {}
        figures = best(
            rounds,
            {
                "(a) trivial two-cell papermill run": lambda: trivial_papermill(proj),
                f"(b) liftlab report {PLAN}": lambda: report_cli(proj),
                "(b) run_reports() in process": lambda: report_api(proj, stages),
            },
        )
        plans = many_plans(proj, n_plans)
        command = [str(BIN / "liftlab"), "report", *map(str, plans), "--jobs", "2"]
        command += ["--reports", str(proj / "reports-many")]
        figures[f"(c) {n_plans} plans, --jobs 2"] = min(
            wall(command, proj) for _ in range(1 if args.quick else 2)
        )
        many = many_cells(proj / "reports-many")
    floor = figures["(a) trivial two-cell papermill run"]
    print(f"report speed ({os.cpu_count()} cores, best of {rounds}; ratio to (a))")
    for name, seconds in figures.items():
        print(f"  {name:44s} {seconds:7.2f} s  {seconds / floor:5.2f} ×")
    print(f"stages of (b) in process, best run (ratio to (a)); goal (b) ≤ {2 * floor:.2f} s")
    for name, seconds in stages.items():
        print(f"  {name:44s} {seconds:7.2f} s  {seconds / floor:5.2f} ×")
    print("notebook cells in (c), per demo plan (mean of its copies)")
    for demo, groups in many.items():
        cells = ", ".join(f"{name} {value:.2f} s" for name, value in groups.items())
        print(f"  {demo:24s} {cells}")


def many_cells(reports: Path) -> dict[str, dict[str, float]]:
    """The (c) runs' notebook cells by group, averaged over each demo plan's copies."""
    out: dict[str, dict[str, float]] = {}
    for demo in DEMO_PLANS:
        runs = [cell_groups(p) for p in sorted(reports.glob(f"{demo}-*/latest/report.ipynb"))]
        if runs:
            out[demo] = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
    return out


if __name__ == "__main__":
    main()
