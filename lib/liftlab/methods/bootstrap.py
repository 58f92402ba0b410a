"""The bootstrap comparison (metrics with ``bootstrap:``): the mean, median or a quantile of
the unit-level values, resampled per arm, with a percentile or BCa interval
(:func:`liftlab.stats.bootstrap.bootstrap_compare`)."""

from __future__ import annotations

from typing import Any

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.plan import Metric, Plan
from liftlab.stats.bootstrap import BootstrapResult, bootstrap_compare

name = "bootstrap"
order = 50
needs: Need = "rows"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return metric.bootstrap is not None


def run(inp: MetricInput) -> dict[str, BootstrapResult]:
    spec, values = inp.metric.bootstrap, inp.values
    assert spec is not None and values is not None
    statistic: Any = ("quantile", spec.quantile) if spec.statistic == "quantile" else spec.statistic
    return {
        v: bootstrap_compare(
            values[inp.control],
            values[v],
            statistic=statistic,
            n_resamples=spec.n_resamples,
            alpha=inp.plan.analysis.alpha,
            method=spec.method,
            seed=spec.seed,
        )
        for v in inp.treatments
    }
