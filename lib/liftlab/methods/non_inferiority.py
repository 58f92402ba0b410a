"""Non-inferiority (metrics with a ``margin``): the one-sided test that the treatment is no
worse than control by more than the margin, on the fixed-horizon effect
(:func:`liftlab.stats.frequentist.non_inferiority`)."""

from __future__ import annotations

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.plan import Metric, Plan
from liftlab.stats.frequentist import NonInferiority, non_inferiority

name = "non_inferiority"
order = 40
needs: Need = "sums"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return metric.margin is not None


def run(inp: MetricInput) -> dict[str, NonInferiority]:
    metric = inp.metric
    assert metric.margin is not None
    return {
        v: non_inferiority(
            inp.effects[v],
            metric.margin,
            margin_type=metric.margin_type,
            direction=metric.direction,
            alpha=inp.plan.analysis.alpha,
        )
        for v in inp.treatments
    }
