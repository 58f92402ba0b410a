"""Comparison methods, in one registry.

Every comparison carries the fixed-horizon effect of the metric's own test (Welch, CUPED or
the delta method; :func:`~liftlab.methods.base.test_for`). The methods below add to it; each
is one module with a ``name``, what it ``needs`` (``sums``, unit ``rows`` or ``daily`` sums),
its ``scope`` (per ``comparison``, or one result per ``metric``), ``applies(plan, metric)``
and a pure ``run(inp)`` that calls :mod:`liftlab.stats` and returns its result dataclass
(the :class:`~liftlab.methods.base.Method` protocol). :func:`liftlab.analysis.analyze` runs
every method that applies, in the order of :data:`METHODS`, and keeps the results by name in
``Comparison.methods`` (``MetricResult.methods`` for a metric scope); results.json writes
them under the same names, in the same order, with the fields each result dataclass
declares (:func:`liftlab.jsonsafe.clean`). The report shows each with a view of
:data:`liftlab.present.METHOD_VIEWS`.

Adding a method: its statistics in ``stats/``, a module here listed in :data:`METHODS`, and
its view in ``present.py`` (README, "Extending liftlab").
"""

from __future__ import annotations

from typing import Any

from liftlab.methods import (
    bayesian,
    bootstrap,
    cap_sensitivity,
    cumulative,
    non_inferiority,
    rank,
    sequential,
)
from liftlab.methods.base import Method, MetricInput, test_for, test_name
from liftlab.plan import Metric, Plan

__all__ = [
    "METHODS",
    "Method",
    "MetricInput",
    "comparison_results",
    "metric_results",
    "needs_rows",
    "test_for",
    "test_name",
]

# The order results are computed in and written to results.json.
METHODS: tuple[Method, ...] = (
    bayesian,
    sequential,
    cumulative,
    non_inferiority,
    bootstrap,
    rank,
    cap_sensitivity,
)


def needs_rows(plan: Plan, metric: Metric) -> bool:
    """Whether a method that reads unit-level values applies to ``metric``."""
    return any(m.needs == "rows" and m.applies(plan, metric) for m in METHODS)


def _runs(method: Method, inp: MetricInput) -> bool:
    """``method`` applies and what it needs is there."""
    if not method.applies(inp.plan, inp.metric):
        return False
    if method.needs == "rows":
        return inp.values is not None
    if method.needs == "daily":
        return bool(inp.days) and inp.daily is not None
    return True


def comparison_results(inp: MetricInput) -> dict[str, dict[str, Any]]:
    """Each treatment's results of the comparison methods that run, by method name in
    registry order."""
    out: dict[str, dict[str, Any]] = {v: {} for v in inp.treatments}
    for method in METHODS:
        if method.scope == "comparison" and _runs(method, inp):
            for variant, result in method.run(inp).items():
                out[variant][method.name] = result
    return out


def metric_results(inp: MetricInput | None) -> dict[str, Any]:
    """The metric-scope methods' results by name: every one of them, ``None`` when it does
    not run or has nothing to show (and all ``None`` without an input: the metric failed)."""
    return {
        m.name: m.run(inp) if inp is not None and _runs(m, inp) else None
        for m in METHODS
        if m.scope == "metric"
    }
