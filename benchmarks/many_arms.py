"""Benchmark: ``liftlab.analyze`` on ad-platform exports with hundreds to a thousand ads.

Each export is a seeded Meta Ads Manager download by day (the ``meta`` preset's headers,
:data:`liftlab.simulate_ads.HEADERS`): twelve campaigns, each running seven days from its own
start (day 0 to 6, so the export spans 13 days), their ads' CTRs Beta around 1.2%, lognormal
daily volumes, a Gamma(8) day multiplier, purchases per click 3.5%. The plan is the demo's
``experiments/ad-export.yaml`` made observational at scale: ``variants: from_data``,
``randomization: none``, ``kind: creative``, its six metrics (ctr, cvr, cpa, roas, cpc and
purchases per ad-day), ``group_by: campaign``.

For each size (600 and 1,143 ads by default) it prints the best of three in-process
``analyze`` times beside its two halves (the sums read from the engine, and the statistics
on them: comparisons, daily cumulative views, each metric's chance of being best, the
creative section), each with its cost per arm and ``analyze``'s ratio to its target (8 s at
600 ads, 15 s at 1,143 on two cores), then where one profiled run spent its time. The runs
are interleaved so that a busy spell hits each alike; runs on a busy machine are not
comparable with each other.

    .venv/bin/python benchmarks/many_arms.py              # 600 and 1,143 ads
    .venv/bin/python benchmarks/many_arms.py 300 2000     # other sizes
"""

from __future__ import annotations

import cProfile
import csv
import io
import math
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import liftlab
from liftlab import analyze, parse_plan
from liftlab.aggregate import unit_statistics
from liftlab.analysis import analyze_statistics
from liftlab.exports import resolve_plan
from liftlab.simulate_ads import HEADERS
from liftlab.units import open_units

CAMPAIGNS, RUN_DAYS = 12, 7
START = np.datetime64("2026-11-02", "D")
MU, KAPPA = 0.012, 900.0
TARGETS = {600: 8.0, 1143: 15.0}  # seconds, on a two-core machine


def write_export(path: Path, ads: int, seed: int = 1143) -> None:
    """The seeded export of ``ads`` ads (ad ``g`` in campaign ``g % 12``)."""
    rng = np.random.default_rng([seed, ads])
    names = [f"Ad {g:04d}" for g in range(ads)]
    campaign = np.arange(ads) % CAMPAIGNS
    start = rng.integers(0, 7, CAMPAIGNS)[campaign]
    ctr = rng.beta(KAPPA * MU, KAPPA * (1 - MU), ads)
    volume = 1500 * rng.lognormal(0.0, 0.5, ads)
    rows = []
    for age in range(RUN_DAYS):
        impressions = rng.poisson(volume)
        clicks = rng.binomial(impressions, np.minimum(1, ctr * rng.gamma(8, 1 / 8, ads)))
        spend = impressions * 9.5 / 1000 * rng.lognormal(0.0, 0.1, ads)
        purchases = rng.binomial(clicks, 0.035)
        value = np.where(purchases > 0, rng.gamma(np.maximum(purchases, 1) * 2.0, 25.0), 0.0)
        for g in range(ads):
            day = str(START + int(start[g]) + age)
            counts = [int(impressions[g]), int(impressions[g] / 1.2), int(clicks[g])]
            money = [f"{spend[g]:.2f}", int(purchases[g]), f"{value[g]:.2f}"]
            labels = [day, day, f"Campaign {campaign[g]:02d}", "Broad 25-54", names[g]]
            rows.append([*labels, *counts, *money])
    rows.sort(key=lambda r: (r[0], r[4]))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS)
        w.writerows(rows)


def plan_for(path: Path) -> Any:
    return parse_plan(
        {
            "name": "many-ads",
            "kind": "creative",
            "hypothesis": "Some ad earns more link clicks per impression than Ad 0000.",
            "currency": "USD",
            "randomization": "none",
            "control": "Ad 0000",
            "variants": "from_data",
            "data": {"aggregates": str(path), "preset": "meta", "columns": {"arm": "ad"}},
            "metrics": [
                {"name": "ctr", "type": "ctr", "role": "primary", "format": "percent"},
                {"name": "cvr", "type": "cvr", "format": "percent"},
                {"name": "cpa", "type": "cpa", "format": "currency"},
                {"name": "roas", "type": "roas"},
                {"name": "cpc", "type": "cpc", "format": "currency"},
                {"name": "purchases", "type": "mean", "column": "conversions"},
            ],
            "creative": {
                "ctr": "ctr",
                "conversion": "purchases",
                "show": 12,
                "top_k": 3,
                "group_by": "campaign",
                "fatigue_days": 14,
            },
            "analysis": {"alpha": 0.05, "correction": "bh", "method": "frequentist"},
        }
    )


def profile(plan: Any, top: int = 12) -> str:
    """The liftlab functions of one run with the most cumulative time (the best-arm draws
    run in threads, so the main thread shows them as the wait in ``_metric_draft``)."""
    prof = cProfile.Profile()
    prof.enable()
    analyze(plan)
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf).sort_stats("cumulative")
    st.print_stats(r"liftlab/(?!analysis\.py:\d+\(analyze\))", top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()[:1].isdigit()]
    return "\n".join("    " + ln.replace(str(Path(liftlab.__file__).parent), "") for ln in lines)


def runs(plan: Any) -> dict[str, Callable[[], object]]:
    """``analyze`` and its two halves: the sums from the engine, the statistics on them."""
    resolved = resolve_plan(plan)
    src = open_units(resolved)
    stats = unit_statistics(resolved, src)
    return {
        "analyze": lambda: analyze(plan),
        "  sums (open the export, unit_statistics)": lambda: unit_statistics(
            resolved, open_units(resolved)
        ),
        "  statistics (analyze_statistics)": lambda: analyze_statistics(resolved, stats, src=src),
    }


def main(sizes: list[int], repeats: int = 3) -> None:
    print(
        f"analyze on Meta exports by day ({CAMPAIGNS} campaigns x {RUN_DAYS} days), 6 metrics, "
        f"{os.cpu_count()} cores, best of {repeats} (interleaved)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for ads in sizes:
            path = Path(tmp) / f"meta{ads}.csv"
            write_export(path, ads)
            plan = plan_for(path)
            todo = runs(plan)
            for run in todo.values():  # warm-up: imports, the file in the page cache
                run()
            best = dict.fromkeys(todo, math.inf)
            for _ in range(repeats):
                for label, run in todo.items():
                    start = time.perf_counter()
                    run()
                    best[label] = min(best[label], time.perf_counter() - start)
            target = TARGETS.get(ads)
            aim = f", target {target:g} s: {best['analyze'] / target:4.2f} x" if target else ""
            print(f"  {ads:,} ads{aim}")
            for label, seconds in best.items():
                print(f"    {label:<44} {seconds:6.2f} s  {seconds / ads * 1000:6.2f} ms per arm")
            print("    profile of one analyze (cumulative s, top liftlab functions):")
            print(profile(plan))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [600, 1143])
