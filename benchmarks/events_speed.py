"""Benchmark: the demo event plan at scale, against one hand-written DuckDB query and pandas.

Generates, in DuckDB and seeded, the landing-page test of ``liftlab simulate`` (first exposure,
5% of units logged twice, ``device`` and ``channel`` segments, signups, activations, bounces,
purchases in and before the window) with ``page_view`` events added so that the event table
holds ten events per exposure, as real streams do (most of them events no metric reads), and
writes both tables to Parquet in a temporary folder. At ``--scale 1``: 10M exposure rows and
100M event rows; the default, 0.1, is a tenth of that (1M and 10M) and runs in a few minutes.

Each path runs in a subprocess of its own, so that its peak RSS is its own
(``ru_maxrss`` of that process, imports included; its time from after the imports), and the
paths take turns, best of ``--repeat`` (3):

- ``liftlab``: ``liftlab.analyze`` of ``experiments/landing-headline.yaml`` read from the
  Parquet files: every metric, the CUPED covariate, the funnel, segments, daily series, the
  p99.9 cap, the rank test, exact sums and the data-quality counts.
- ``duckdb``: one hand-written DuckDB query of the same joins (first exposure per unit,
  events in each window, per-unit aggregates, then the per-variant sums of every metric,
  grouped by variant, exposure day and both segments so that segments and days re-add), in
  float64, nothing checked or capped.
- ``pandas``: the pandas way (read the Parquet files, first exposure, merge, filter each
  window, ``groupby`` per unit, then per variant, day and segment), on one core.

``--pandas-scale`` runs pandas at another scale when the full one does not fit in memory
(both scales are printed; nothing is extrapolated). ``--spark`` also times ``analyze`` on
local Spark (``pyspark://local[2]``, the cluster stand-in) at ``--spark-scale`` (0.01).
All paths must agree on the units and sums per variant (checked, printed).

    .venv/bin/python benchmarks/events_speed.py                 # 1M exposures, 10M events
    .venv/bin/python benchmarks/events_speed.py --scale 1 --pandas-scale 0.3
    .venv/bin/python benchmarks/events_speed.py --spark --scale 0.01
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "experiments" / "landing-headline.yaml"
SEED = 20261125
EVENTS_PER_EXPOSURE = 10
EXPOSURES = 10_000_000


def generate(folder: Path, scale: float) -> dict[str, int]:
    """Write ``exposures.parquet`` and ``events.parquet`` for ``scale`` into ``folder``."""
    from liftlab.simulate_events import landing_sql

    units = max(100, round(EXPOSURES * scale / 1.05))  # 5% of units are logged twice
    con = duckdb.connect(str(folder / "gen.duckdb"))
    con.execute("SET enable_progress_bar = false")
    for sql in landing_sql(units, SEED):
        con.execute(sql)
    rows = con.sql("SELECT count(*) FROM landing_exposures").fetchone()
    plan_events = con.sql("SELECT count(*) FROM landing_events").fetchone()
    assert rows is not None and plan_events is not None
    extra = EVENTS_PER_EXPOSURE * rows[0] - plan_events[0]
    # page views: unit, time within a week either side of the first exposure, no value
    u = "(hash(j, {k}, {seed})::DOUBLE / 18446744073709551616.0)"
    pick, when = u.format(k=1, seed=SEED), u.format(k=2, seed=SEED)
    con.execute(
        f"""CREATE TABLE page_views AS
        SELECT printf('u%08d', 1 + CAST(floor({pick} * {units}) AS BIGINT)) AS user_id,
               'page_view' AS event, {when} AS w
        FROM range({extra}) r(j)"""
    )
    con.execute(f"""COPY landing_exposures TO '{folder / "exposures.parquet"}' (FORMAT parquet)""")
    con.execute(
        f"""COPY (
          SELECT user_id, event, ts, value FROM landing_events
          UNION ALL
          SELECT p.user_id, p.event,
                 x.exposed_at + to_seconds(CAST(floor((p.w - 0.5) * 14 * 86400) AS BIGINT)),
                 NULL::DOUBLE
          FROM page_views p JOIN (SELECT user_id, min(exposed_at) AS exposed_at
                                  FROM landing_exposures GROUP BY ALL) x USING (user_id)
        ) TO '{folder / "events.parquet"}' (FORMAT parquet)"""
    )
    con.close()
    (folder / "gen.duckdb").unlink()
    return {"exposures": rows[0], "events": rows[0] * EVENTS_PER_EXPOSURE}


def plan_dict(folder: Path, engine: str | None = None) -> dict[str, Any]:
    """The demo event plan, reading the benchmark's Parquet files; on ``engine``, its tables
    ``bench_exposures`` and ``bench_events`` (views of those files)."""
    raw = yaml.safe_load(PLAN.read_text())
    tables = (
        {"engine": engine, "exposures": "bench_exposures", "events": "bench_events"}
        if engine
        else {
            "exposures": str(folder / "exposures.parquet"),
            "events": str(folder / "events.parquet"),
        }
    )
    raw["data"] = tables | {"segments": ["device", "channel"]}
    return dict(raw)


def _window(event: str, lo_days: int, hi_days: int) -> str:
    """The SQL condition: ``event`` in ``[exposed_at + lo, exposed_at + hi)``."""
    return (
        f"e.event = '{event}' AND e.ts >= f.exposed_at + INTERVAL ({lo_days}) DAY "
        f"AND e.ts < f.exposed_at + INTERVAL ({hi_days}) DAY"
    )


def hand_query(folder: Path) -> str:
    """One DuckDB query: first exposure, per-unit window aggregates, then the sums per
    variant, exposure day and segments (each metric's n, Σy, Σy²; Σx, Σx², Σxy for CUPED)."""
    any_ = "coalesce(max(CASE WHEN {} THEN 1 ELSE 0 END), 0)"
    total = "coalesce(sum(CASE WHEN {} THEN coalesce(e.value, 0) ELSE 0 END), 0)"
    count = "coalesce(sum(CASE WHEN {} THEN 1 ELSE 0 END), 0)"
    per_unit = {
        "signup": any_.format(_window("signup", 0, 7)),
        "revenue": total.format(_window("purchase", 0, 7)),
        "pre_revenue": total.format(_window("purchase", -14, 0)),
        "bounce": any_.format(_window("bounce", 0, 1)),
        "repeat": f"CAST({count.format(_window('purchase', 0, 14))} >= 2 AS INTEGER)",
        "f0": any_.format(_window("landing_view", 0, 7)),
        "f1": any_.format(_window("signup", 0, 7)),
        "f2": any_.format(_window("activate", 0, 7)),
    }
    sums = [f"sum({c}::DOUBLE) AS s_{c}, sum({c}::DOUBLE * {c}) AS q_{c}" for c in per_unit]
    sums += [
        "sum(revenue * pre_revenue) AS xy_revenue",
        "sum(f0 * f1) AS f01",
        "sum(f0 * f1 * f2) AS f012",
    ]
    return f"""
    WITH first AS (
      SELECT user_id, min(exposed_at) AS exposed_at, min(variant) AS variant,
             arg_min(device, exposed_at) AS device, arg_min(channel, exposed_at) AS channel
      FROM read_parquet('{folder / "exposures.parquet"}')
      WHERE user_id IS NOT NULL
      GROUP BY user_id
      HAVING count(DISTINCT variant) = 1 AND min(variant) IN ('control', 'benefit')
    ), per_unit AS (
      SELECT f.user_id, f.variant, f.exposed_at, f.device, f.channel,
             {", ".join(f"{sql} AS {c}" for c, sql in per_unit.items())}
      FROM first f LEFT JOIN (
        SELECT * FROM read_parquet('{folder / "events.parquet"}')
        WHERE event IN ('signup', 'purchase', 'bounce', 'landing_view', 'activate')
      ) e ON e.user_id = f.user_id
      GROUP BY f.user_id, f.variant, f.exposed_at, f.device, f.channel
    )
    SELECT variant, CAST(exposed_at AS DATE) AS day, device, channel, count(*) AS n,
           {", ".join(sums)}
    FROM per_unit GROUP BY ALL"""


def run_duckdb(folder: Path) -> dict[str, dict[str, float]]:
    rows = duckdb.connect().sql(hand_query(folder)).fetchall()
    out: dict[str, dict[str, float]] = {}
    for variant, _, _, _, n, s_signup, _, _, _, _, _, s_bounce, *_ in rows:
        acc = out.setdefault(variant, {"n": 0, "signups": 0.0, "bounces": 0.0})
        acc["n"] += n
        acc["signups"] += s_signup
        acc["bounces"] += s_bounce
    return out


def run_liftlab(folder: Path, engine: str | None = None) -> dict[str, dict[str, float]]:
    from liftlab import analyze, parse_plan

    results = analyze(parse_plan(plan_dict(folder, engine))).to_dict()
    by = {m["name"]: m["variants"] for m in results["metrics"]}
    return {
        v: {
            "n": by["signup_rate"][v]["n"],
            "signups": by["signup_rate"][v]["mean"] * by["signup_rate"][v]["n"],
            "bounces": by["bounce_rate"][v]["mean"] * by["bounce_rate"][v]["n"],
        }
        for v in by["signup_rate"]
    }


def run_pandas(folder: Path) -> dict[str, dict[str, float]]:
    """The pandas way: read, first exposure per unit, merge, filter each window, group."""
    import pandas as pd

    exp = pd.read_parquet(folder / "exposures.parquet")
    ev = pd.read_parquet(folder / "events.parquet")
    exp = exp[exp.user_id.notna()].sort_values("exposed_at", kind="stable")
    n_variants = exp.groupby("user_id")["variant"].nunique()
    units = exp.drop_duplicates("user_id").set_index("user_id")
    units = units[
        (n_variants.reindex(units.index) == 1) & units.variant.isin(["control", "benefit"])
    ]
    ev = ev[ev.event.isin(["signup", "purchase", "bounce", "landing_view", "activate"])]
    m = ev.merge(units[["exposed_at"]], left_on="user_id", right_index=True)
    since = m.ts - m.exposed_at
    day = pd.Timedelta(days=1)

    def per_unit(event: str, lo: int, hi: int, how: str) -> pd.Series:
        hit = m[(m.event == event) & (since >= lo * day) & (since < hi * day)]
        if how == "sum":
            got = hit.groupby("user_id")["value"].sum()
        else:
            got = hit.groupby("user_id").size()
            got = (got >= (2 if how == "repeat" else 1)).astype("int64")
        return got.reindex(units.index, fill_value=0).astype("float64")

    cols = {
        "signup": per_unit("signup", 0, 7, "any"),
        "revenue": per_unit("purchase", 0, 7, "sum"),
        "pre_revenue": per_unit("purchase", -14, 0, "sum"),
        "bounce": per_unit("bounce", 0, 1, "any"),
        "repeat": per_unit("purchase", 0, 14, "repeat"),
        "f0": per_unit("landing_view", 0, 7, "any"),
        "f1": per_unit("signup", 0, 7, "any"),
        "f2": per_unit("activate", 0, 7, "any"),
    }
    table = units[["variant", "device", "channel"]].assign(day=units.exposed_at.dt.date, **cols)
    for c in cols:
        table[f"q_{c}"] = table[c] ** 2
    table["xy_revenue"] = table.revenue * table.pre_revenue
    table["f01"] = table.f0 * table.f1
    table["f012"] = table.f01 * table.f2
    sums = table.groupby(["variant", "day", "device", "channel"]).agg(
        n=("signup", "size"), **{c: (c, "sum") for c in table.columns[4:]}
    )
    per = sums.groupby(level="variant")[["n", "signup", "bounce"]].sum()
    return {
        str(v): {"n": int(r.n), "signups": float(r.signup), "bounces": float(r.bounce)}
        for v, r in per.iterrows()
    }


PATHS = {"liftlab": run_liftlab, "duckdb": run_duckdb, "pandas": run_pandas}


def child(path: str, folder: Path) -> None:
    """Run one path once and print its seconds, peak RSS and per-variant check numbers.

    Modules are imported before the clock starts (each path's, and those ``analyze`` loads
    on first use: the engine's Ibis backend, the landing-page kind, SciPy's special functions
    and root finder): a notebook or a scheduled job pays them once per process, not per
    analysis."""
    if path == "pandas":
        import pandas  # noqa: F401
    elif path in ("liftlab", "spark"):
        import ibis
        import scipy.optimize
        import scipy.special  # noqa: F401

        import liftlab.kinds.landing  # noqa: F401
        from liftlab import analyze  # noqa: F401

        ibis.duckdb.connect().disconnect()
    if path == "spark":
        from liftlab.sources import spark_master, spark_session

        session = spark_session(spark_master("pyspark://local[2]"))  # started before the clock
        for name in ("exposures", "events"):  # the cluster's tables: views of the Parquet files
            session.read.parquet(str(folder / f"{name}.parquet")).createOrReplaceTempView(
                f"bench_{name}"
            )
        start = time.perf_counter()
        check = run_liftlab(folder, "pyspark://local[2]")
    else:
        start = time.perf_counter()
        check = PATHS[path](folder)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "check": check}))


def measure(path: str, folder: Path) -> dict[str, Any]:
    """One run of ``path`` in a fresh subprocess (its own peak RSS)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", path, str(folder)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _agree(runs: dict[str, dict[str, Any]]) -> str:
    """Whether every path found the same units, signups and bounces per variant."""
    ref = next(iter(runs.values()))["check"]
    for name, run in runs.items():
        for v, nums in ref.items():
            got = run["check"].get(v, {})
            if any(
                not math.isclose(got.get(k, math.nan), x, rel_tol=1e-9) for k, x in nums.items()
            ):
                return f"DISAGREE ({name}, {v}: {got} vs {nums})"
    units = sum(int(x["n"]) for x in ref.values())
    return f"all paths agree: {units:,} units, signups and bounces per variant"


def _line(label: str, runs: list[dict[str, Any]], ref: dict[str, float] | None) -> str:
    best = min(r["seconds"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    median = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    text = f"  {label:<26} best {best:8.2f} s  median {median:8.2f} s  peak RSS {peak:8,.0f} MiB"
    if ref is not None:
        text += f"   {best / ref['best']:6.2f} × time, {peak / ref['peak']:5.2f} × memory"
    return text


def report(title: str, results: dict[str, list[dict[str, Any]]], ref_name: str | None) -> None:
    print(title)
    best = {
        k: {"best": min(r["seconds"] for r in v), "peak": max(r["peak_mib"] for r in v)}
        for k, v in results.items()
    }
    labels = {
        "duckdb": "hand-written DuckDB query",
        "liftlab": "liftlab.analyze",
        "pandas": "pandas (one core)",
        "spark": "liftlab.analyze on Spark",
    }
    for name, runs in results.items():
        ref = best.get(ref_name) if ref_name and name != ref_name else None
        print(_line(labels[name], runs, ref))
    print("  " + _agree({k: v[0] for k, v in results.items()}))


def run_scale(scale: float, paths: list[str], repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Generate the tables at ``scale``, then run ``paths`` in turn, ``repeat`` rounds."""
    with tempfile.TemporaryDirectory(prefix="liftlab-events-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        rows = generate(folder, scale)
        size = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 2**20
        print(
            f"scale {scale:g}: {rows['exposures']:,} exposure rows, {rows['events']:,} event rows "
            f"(Parquet, {size:,.0f} MiB), generated in {time.perf_counter() - start:.0f} s"
        )
        results: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
        for _ in range(repeat):
            for p in paths:
                results[p].append(measure(p, folder))
        return results


def _goals(at: dict[str, list[dict[str, Any]]], scale: float) -> None:
    best = {k: min(r["seconds"] for r in v) for k, v in at.items()}
    peak = {k: max(r["peak_mib"] for r in v) for k, v in at.items()}
    ratio = best["liftlab"] / best["duckdb"]
    print(f"  scale {scale:g}: liftlab / hand-written query: {ratio:.2f} × (goal ≤ 2)")
    if "pandas" in at:
        speed, memory = best["pandas"] / best["liftlab"], peak["liftlab"] / peak["pandas"]
        print(
            f"  scale {scale:g}: pandas / liftlab time: {speed:.1f} × (goal ≥ 20); "
            f"liftlab / pandas peak RSS: {memory:.2f} (goal ≤ 0.20)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1, help="of 10M exposures, 100M events")
    ap.add_argument(
        "--pandas-scale", type=float, default=None, help="pandas here (default: --scale)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best")
    ap.add_argument("--spark", action="store_true", help="also time analyze on local Spark")
    ap.add_argument("--spark-scale", type=float, default=0.01)
    ap.add_argument("--child", nargs=2, metavar=("PATH", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    print("(each path in its own process, in turn; peak RSS includes the Python imports)")
    pandas_scale = args.scale if args.pandas_scale is None else args.pandas_scale
    together = pandas_scale == args.scale
    main_paths = ["duckdb", "liftlab"] + (["pandas"] if together else [])
    at = run_scale(args.scale, main_paths, args.repeat)
    report(f"  two cores, best of {args.repeat}:", at, "duckdb")
    _goals(at, args.scale)
    if not together:
        small = run_scale(pandas_scale, ["duckdb", "liftlab", "pandas"], args.repeat)
        report(f"  two cores, best of {args.repeat}:", small, "duckdb")
        _goals(small, pandas_scale)
    if args.spark:
        spark = run_scale(args.spark_scale, ["duckdb", "liftlab", "spark"], 1)
        report(
            "  once each (Spark: local[2], its JVM started before the timing, not in the RSS):",
            spark,
            "duckdb",
        )


if __name__ == "__main__":
    main()
