"""Benchmark: time and peak memory of the bootstrap and Mann–Whitney on zero-inflated revenue.

Synthetic "revenue per unit": 95% zeros, the rest lognormal(3, 1.2) rounded to cents, split
evenly between two arms (treatment 3% higher). Times 2,000-resample bootstraps of the mean
difference and of the median difference (Poisson scheme, the default; the median also with
the multinomial scheme and the mean with BCa), then the Mann–Whitney test. Each line shows the
best of three runs (wall and process CPU time: the arms run in two threads, so CPU can
exceed wall) and the process's peak RSS so far (``resource.getrusage``; it never goes
down, so read the increase between lines).

    .venv/bin/python benchmarks/bootstrap_speed.py             # 1M units, then 2M
    .venv/bin/python benchmarks/bootstrap_speed.py 200000      # a custom total size
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable

import numpy as np

from liftlab.stats.bootstrap import BootstrapResult, bootstrap_compare
from liftlab.stats.rank import mann_whitney


def revenue(rng: np.random.Generator, n: int, lift: float = 1.0) -> np.ndarray:
    paid = rng.random(n) >= 0.95
    return np.where(paid, np.round(rng.lognormal(3.0, 1.2, n) * lift, 2), 0.0)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn: Callable[[], object], repeat: int = 3) -> object:
    times, cpu = [], []
    out: object = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    best = int(np.argmin(times))
    print(
        f"  {label:<44} best {times[best]:6.3f} s wall, {cpu[best]:6.3f} s CPU "
        f"(walls {', '.join(f'{t:.2f}' for t in times)}); peak RSS {peak_mib():,.0f} MiB"
    )
    return out


def bench(n: int, rng: np.random.Generator) -> None:
    c, t = revenue(rng, n // 2), revenue(rng, n - n // 2, lift=1.03)
    distinct = np.unique(c).size + np.unique(t).size
    print(
        f"{n:,} units ({n // 2:,} per arm, {distinct:,} distinct values), "
        f"2,000 resamples; peak RSS after data {peak_mib():,.0f} MiB"
    )
    res = timed("mean difference, Poisson, percentile", lambda: bootstrap_compare(c, t))
    assert isinstance(res, BootstrapResult)
    print(
        f"    → effect {res.effect:.4f}, CI [{res.ci[0]:.4f}, {res.ci[1]:.4f}], p {res.p_value:.3f}"
    )
    runs: list[tuple[str, dict[str, object]]] = [
        ("median difference, Poisson, percentile", {"statistic": "median"}),
        (
            "median difference, multinomial, percentile",
            {"statistic": "median", "scheme": "multinomial"},
        ),
        ("p99 difference, Poisson, BCa", {"statistic": ("quantile", 0.99), "method": "bca"}),
        ("relative mean difference, Poisson, BCa", {"method": "bca", "effect": "relative"}),
    ]
    for label, kwargs in runs:
        timed(label, lambda kw=kwargs: bootstrap_compare(c, t, **kw))  # type: ignore[misc]
    timed("Mann–Whitney U with Hodges–Lehmann", lambda: mann_whitney(c, t))


def main(sizes: list[int]) -> None:
    rng = np.random.default_rng(1)
    warm = revenue(rng, 2_000)
    bootstrap_compare(warm[:1000], warm[1000:], statistic="median")  # imports, thread pool
    for n in sizes:
        bench(n, rng)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000_000, 2_000_000])
