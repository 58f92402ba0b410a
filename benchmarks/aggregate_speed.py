"""Benchmark: time and peak memory of a full analysis on a large unit table.

Writes a synthetic unit table of N rows (three arms; a 0/1 metric, a capped amount with a
covariate and a ratio), then times ``liftlab.analyze`` end to end: the checks and quantile
query, the grouped sufficient-statistics query and the statistics, on one engine thread
(``LIFTLAB_THREADS=1``) and on all cores (the default; the sums are exact, so both give the
same results). Prints one line per size and setting. ``analyze_speed.py`` sets the figure
beside its floor.

    .venv/bin/python benchmarks/aggregate_speed.py            # 1M and 10M rows
    .venv/bin/python benchmarks/aggregate_speed.py 200000     # a custom size
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from liftlab import analyze, parse_plan
from liftlab.sources import THREADS_ENV


def make_table(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    variant = np.asarray(["control", "b", "c"])[rng.integers(0, 3, n)]
    pre = rng.gamma(2.0, 10.0, n)
    impressions = 1 + rng.poisson(4, n)
    table = pa.table(
        {
            "user_id": np.arange(n, dtype=np.int64),
            "variant": variant,
            "converted": (rng.random(n) < 0.1).astype(np.int8),
            "revenue": np.maximum(0, 0.5 * pre + rng.normal(0, 8, n)),
            "pre_revenue": pre,
            "impressions": impressions,
            "clicks": rng.binomial(impressions, 0.03),
        }
    )
    pq.write_table(table, path)


def plan_for(path: Path):  # type: ignore[no-untyped-def]
    return parse_plan(
        {
            "name": "bench",
            "kind": "landing_page",
            "hypothesis": "benchmark",
            "unit": "user_id",
            "variants": {"control": {}, "b": {}, "c": {}},
            "data": {"units": str(path)},
            "metrics": [
                {"name": "conv", "role": "primary", "type": "proportion", "column": "converted"},
                {
                    "name": "rev",
                    "type": "mean",
                    "column": "revenue",
                    "covariate": "pre_revenue",
                    "cap": {"quantile": 0.999},
                },
                {
                    "name": "ctr",
                    "type": "ratio",
                    "numerator": "clicks",
                    "denominator": "impressions",
                },
            ],
        }
    )


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"units_{n}.parquet"
            make_table(path, n)
            plan = plan_for(path)
            analyze(plan)  # warm-up: imports, DuckDB start
            # one engine thread, then all cores (the default): the same results either way
            for threads in ("1", "0"):
                os.environ[THREADS_ENV] = threads
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    analyze(plan)
                    times.append(time.perf_counter() - start)
                peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                label = "1 thread " if threads == "1" else "all cores"
                print(
                    f"analyze {n:>11,} units, 3 metrics (CUPED, p99.9 cap, ratio), {label}: "
                    f"best {min(times):.3f} s, median {sorted(times)[1]:.3f} s; "
                    f"process peak RSS {peak_mib:,.0f} MiB"
                )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000])
