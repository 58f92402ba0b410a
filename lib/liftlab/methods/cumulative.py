"""The cumulative effect by day (plans that are not sequential, two or more days of data):
the metric's fixed-horizon test on all units exposed up to each day, with its pointwise
interval (:func:`liftlab.monitor.fixed_horizon_views`, every arm in a few array operations).
It shows novelty effects and the danger of peeking; it decides nothing, and a failure to
compute it leaves the rest of the metric as it is."""

from __future__ import annotations

from liftlab.methods.base import MetricInput, Need, Scope, test_name
from liftlab.monitor import CumulativeView, fixed_horizon_views
from liftlab.plan import Metric, Plan

name = "cumulative"
order = 30
needs: Need = "daily"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return plan.analysis.method != "sequential"


def run(inp: MetricInput) -> dict[str, CumulativeView]:
    if len(inp.days) < 2 or inp.daily is None:
        return {}
    try:
        return fixed_horizon_views(
            inp.days,
            inp.daily[inp.control],
            {v: inp.daily[v] for v in inp.treatments},
            test_name(inp.plan, inp.metric),
            alpha=inp.plan.analysis.alpha,
        )
    except (ValueError, ArithmeticError, KeyError):
        return {}
