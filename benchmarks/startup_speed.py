"""Benchmark: what a command costs before and around its work (issue goals for start-up).

In one run, interleaved (best of ``--repeat``, 5 by default), on a throwaway project with
the demo plans and data from ``liftlab simulate``:

- ``python -c pass``: the interpreter alone (the floor of every command);
- ``python -c "import liftlab"``: goal at most 0.3 s;
- ``liftlab --help``: goal at most 0.5 s;
- ``liftlab analyze <plan> --json`` as a process, for each demo plan, beside
  ``liftlab.analyze(plan).to_json()`` in a warm process (imports done, the engine started):
  goal, the process at most 1.5 s more than in process.

Each figure is printed beside its goal. The modules that an analysis loads are checked by
``tests/test_imports.py`` and ``tests/test_fetch.py``; this script measures their cost.

    .venv/bin/python benchmarks/startup_speed.py
    .venv/bin/python benchmarks/startup_speed.py --repeat 9   # a busy machine
"""

from __future__ import annotations

import argparse
import math
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
DEMO_PLANS = ("landing-headline", "pricing-three-tiers", "creative-tournament", "ad-export")


def project(where: Path) -> Path:
    """A project with the demo plans and freshly simulated data."""
    from liftlab.simulate import simulate

    (where / "experiments").mkdir(parents=True)
    for name in DEMO_PLANS:
        shutil.copy(ROOT / "experiments" / f"{name}.yaml", where / "experiments")
    simulate(where / "data")
    return where


def wall(command: list[str], cwd: Path) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        return time.perf_counter() - start

    return run


def in_process(plan_path: Path) -> Callable[[], float]:
    """``analyze(plan).to_json()`` in this (warm) process, the plan loaded each time as the
    command line does."""
    from liftlab import analyze, load_plan

    def run() -> float:
        start = time.perf_counter()
        analyze(load_plan(plan_path)).to_json()
        return time.perf_counter() - start

    return run


def main(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proj = project(Path(tmp))
        os.chdir(proj)
        runs: dict[str, Callable[[], float]] = {
            "python -c pass": wall([sys.executable, "-c", "pass"], proj),
            "import liftlab": wall([sys.executable, "-c", "import liftlab"], proj),
            "liftlab --help": wall([str(BIN / "liftlab"), "--help"], proj),
        }
        for name in DEMO_PLANS:
            plan = proj / "experiments" / f"{name}.yaml"
            cli = [str(BIN / "liftlab"), "analyze", str(plan), "--json"]
            runs[f"{name}: liftlab analyze --json"] = wall(cli, proj)
            runs[f"{name}: in process"] = in_process(plan)
        for run in runs.values():  # warm-up: page cache, this process's imports
            run()
        best = dict.fromkeys(runs, math.inf)
        for _ in range(repeat):  # interleaved: a busy spell hits every figure alike
            for label, run in runs.items():
                best[label] = min(best[label], run())
        report(best, repeat)


def report(best: dict[str, float], repeat: int) -> None:
    print(f"start-up ({os.cpu_count()} cores, best of {repeat})")
    goals = {"import liftlab": 0.3, "liftlab --help": 0.5}
    for label in ("python -c pass", "import liftlab", "liftlab --help"):
        goal = f"   goal <= {goals[label]:.1f} s" if label in goals else ""
        print(f"  {label:<44} {best[label]:6.2f} s{goal}")
    for name in DEMO_PLANS:
        process = best[f"{name}: liftlab analyze --json"]
        warm = best[f"{name}: in process"]
        print(
            f"  {name + ': analyze':<44} {process:6.2f} s as a process, {warm:5.2f} s in "
            f"process: +{process - warm:.2f} s (goal <= +1.5 s)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    main(parser.parse_args().repeat)
