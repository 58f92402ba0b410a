"""Benchmark: ``liftlab.analyze`` against its floor, on one 10M-row Parquet unit table.

The table is generated in DuckDB from a seeded hash of the row number (the same bytes on
every machine and thread count): three arms, a 0/1 conversion, a skewed revenue with a
pre-period covariate (CUPED, capped at its p99.9, with the default cap-sensitivity levels)
and clicks over impressions (a ratio).

The floor is the least an engine must do for these statistics: one DuckDB ``GROUP BY``
variant of every sum the three metrics need (count, and ``Σy, Σy², Σx, Σx², Σxy``), in
float64, with nothing checked, capped or made exact; timed on all cores and on one thread.
Beside it, the *exact floor*: the same GROUP BY with every float term summed exactly as
liftlab sums it (a scaled 64-bit integer) and the cap levels' sums (p99, p99.9) added, the
caps given. It is what an engine must do for these statistics reproducibly, without the
checks; ``analyze``'s ratio to it is printed too.
``liftlab.analyze`` runs in process at its default settings (all cores, exact sums, the
checks and cap sensitivity). Each figure is the best of three, printed beside its ratio to
the all-core floor; timings from one run are comparable, runs on a busy machine are not.

    .venv/bin/python benchmarks/analyze_speed.py              # 10M rows
    .venv/bin/python benchmarks/analyze_speed.py 1000000      # another size
    .venv/bin/python benchmarks/analyze_speed.py 10000000 5   # best of five (a busy machine)
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from aggregate_speed import plan_for  # the same plan as aggregate_speed.py's tables

from liftlab import analyze
from liftlab.aggregate import scale_exponent
from liftlab.sources import THREADS_ENV

UNIFORM = "(hash(i, {seed}) / 18446744073709551616.0)"


def make_table(path: Path, n: int) -> None:
    """The seeded unit table, written by DuckDB straight to Parquet."""
    u = [UNIFORM.format(seed=s) for s in range(1, 6)]
    duckdb.connect().execute(
        f"""
        COPY (
          WITH b AS (
            SELECT i, {u[0]} AS u1, {u[1]} AS u2, {u[2]} AS u3, {u[3]} AS u4, {u[4]} AS u5
            FROM range({n}) r(i))
          SELECT i AS user_id,
            ['control', 'b', 'c'][1 + CAST(floor(u1 * 3) AS INTEGER)] AS variant,
            CAST(u2 < 0.1 AS TINYINT) AS converted,
            -20 * ln(1 - u3) AS pre_revenue,
            greatest(0, -10 * ln(1 - u3) + 8 * sqrt(-2 * ln(1 - u4)) * cos(2 * pi() * u5))
              AS revenue,
            1 + CAST(floor(-4 * ln(1 - u4)) AS INTEGER) AS impressions,
            CAST(floor((1 + floor(-4 * ln(1 - u4))) * u5 * 0.06) AS INTEGER) AS clicks
          FROM b
        ) TO '{path}' (FORMAT parquet)
        """
    )


def floor_sql(path: Path) -> str:
    sums = ["count(*)", "sum(converted)", "sum(converted * converted)"]
    for y, x in (("revenue", "pre_revenue"), ("clicks", "impressions")):
        sums += [f"sum({y})", f"sum({y} * {y})", f"sum({x})", f"sum({x} * {x})", f"sum({x} * {y})"]
    return f"SELECT variant, {', '.join(sums)} FROM read_parquet('{path}') GROUP BY variant"


def exact_floor_sql(path: Path) -> str:
    """The floor's GROUP BY made exact as liftlab's sums are, with the cap levels' sums too:
    every float term cast to a 64-bit integer at liftlab's scale for its largest magnitude
    (:func:`liftlab.aggregate.scale_exponent`), and revenue's sums again at its p99 and
    p99.9 (the caps given: computed before the clock, by DuckDB's ``quantile_cont``)."""
    con = duckdb.connect()
    src = f"read_parquet('{path}')"
    caps = con.sql(f"SELECT quantile_cont(revenue, [0.99, 0.999]) FROM {src}").fetchone()[0]
    terms = ["revenue", "revenue * revenue", "pre_revenue", "pre_revenue * pre_revenue"]
    terms += ["pre_revenue * revenue"]
    for cap in caps:
        y = f"least(revenue, {cap!r})"
        terms += [y, f"{y} * {y}", f"pre_revenue * {y}"]
    bounds = con.sql(f"SELECT {', '.join(f'max(abs({t}))' for t in terms)} FROM {src}").fetchone()
    sums = ["count(*)", "sum(converted)", "sum(clicks)", "sum(clicks * clicks)"]
    sums += ["sum(impressions)", "sum(impressions * impressions)", "sum(impressions * clicks)"]
    for term, bound in zip(terms, bounds, strict=True):
        sums.append(f"sum(CAST(({term}) * {2.0 ** scale_exponent(bound)!r} AS BIGINT))")
    return f"SELECT variant, {', '.join(sums)} FROM {src} GROUP BY variant"


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(n: int, repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "units.parquet"
        make_table(path, n)
        plan = plan_for(path)
        sql, exact = floor_sql(path), exact_floor_sql(path)
        every = duckdb.connect()
        one = duckdb.connect(config={"threads": 1})
        os.environ.pop(THREADS_ENV, None)  # analyze at its default: all cores
        runs: dict[str, Callable[[], object]] = {
            "floor: DuckDB GROUP BY of every sum, all cores": lambda: every.sql(sql).fetchall(),
            "floor: DuckDB GROUP BY of every sum, one thread": lambda: one.sql(sql).fetchall(),
            "exact floor: exact sums and the caps' sums, all cores": lambda: every.sql(
                exact
            ).fetchall(),
            "liftlab.analyze, default (all cores, exact sums)": lambda: analyze(plan),
        }
        for run in runs.values():  # warm-up: the file in the page cache, imports
            run()
        best = dict.fromkeys(runs, math.inf)
        for _ in range(repeats):  # interleaved, so that a busy spell hits every figure alike
            for label, run in runs.items():
                best[label] = min(best[label], timed(run))
        floor = next(iter(best.values()))
        exact_floor = best["exact floor: exact sums and the caps' sums, all cores"]
        print(
            f"{n:,} units, 3 metrics (proportion, CUPED mean capped at p99.9, ratio), "
            f"{os.cpu_count()} cores, best of {repeats}"
        )
        for label, seconds in best.items():
            print(
                f"  {label:<56} {seconds:7.3f} s  {seconds / floor:5.1f} x floor"
                f"  {seconds / exact_floor:5.2f} x exact floor"
            )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
    )
