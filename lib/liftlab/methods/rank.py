"""The Mann–Whitney rank test (metrics with ``rank_test: true``) on the unit-level values,
with the chance that a treated unit beats a control unit and the Hodges–Lehmann shift
(:func:`liftlab.stats.rank.mann_whitney`)."""

from __future__ import annotations

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.plan import Metric, Plan
from liftlab.stats.rank import RankResult, mann_whitney

name = "mann_whitney"
order = 60
needs: Need = "rows"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return metric.rank_test


def run(inp: MetricInput) -> dict[str, RankResult]:
    values = inp.values
    assert values is not None
    return {v: mann_whitney(values[inp.control], values[v]) for v in inp.treatments}
