"""Comparison methods, in one registry.

Every comparison carries the fixed-horizon effect of the metric's own test (Welch, CUPED or
the delta method; :func:`~liftlab.methods.base.test_for`). The methods add to it; each is one
module of this package with a ``name``, an ``order``, what it ``needs`` (``sums``, unit
``rows`` or ``daily`` sums), its ``scope`` (per ``comparison``, or one result per ``metric``),
``applies(plan, metric)`` and a pure ``run(inp)`` that calls :mod:`liftlab.stats` and returns
its result dataclass (the :class:`~liftlab.methods.base.Method` protocol).

:data:`METHODS` is every such module, by ``order``: bayesian (10), sequential (20),
cumulative (30), non_inferiority (40), bootstrap (50), mann_whitney (60, ``rank.py``),
cap_sensitivity (70). :func:`liftlab.analysis.analyze` runs each that applies, in that order,
and keeps the results by name in ``Comparison.methods`` (``MetricResult.methods`` for a
metric scope); results.json writes them under the same names, in the same order, with the
fields each result dataclass declares (:func:`liftlab.jsonsafe.clean`). The report shows
each with a view of :data:`liftlab.present.METHOD_VIEWS`.

Adding a method: its statistics in ``stats/``, its module here (found by the registry, no
list to edit), its view in ``present.py``, and its plan option if it has one (README,
"Extending liftlab").
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, cast

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


def _registry() -> tuple[Method, ...]:
    """Every module of this package that defines ``run``, by ``order``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "run"):
            found.append(cast(Method, module))
    return tuple(sorted(found, key=lambda m: m.order))


# The order results are computed in and written to results.json.
METHODS: tuple[Method, ...] = _registry()


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
