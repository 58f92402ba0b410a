"""What a comparison method is: its protocol and the input it reads (see :mod:`liftlab.methods`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from liftlab.plan import Metric, Plan
from liftlab.stats.frequentist import Effect, cuped_test, ratio_test, welch_test
from liftlab.stats.moments import Moments

Need = Literal["sums", "rows", "daily"]
Scope = Literal["comparison", "metric"]


@dataclass(frozen=True)
class MetricInput:
    """Everything a method may read about one metric, all arms at once.

    Attributes:
        plan: the plan (``plan.analysis`` holds the method options).
        metric: the metric analysed.
        moments: every arm's sums (``Moments``), by variant.
        effects: each treatment's fixed-horizon effect (the base every comparison carries).
        days: the days of the daily sums (empty without ``data.timestamp``).
        daily: every arm's sums per day of ``days``, by variant (``None``: none for this
            metric); methods that need ``daily`` run only when there are some.
        capped: the metric's cap levels (``"none"``, ``"p99"``, ...): each level's caps and
            every arm's sums under them.
        values: every arm's unit-level values (``None`` unless a method that needs
            ``rows`` applies to the metric).
        planned_n: the size per arm a sequential monitor is tuned to (``None``: not planned).
    """

    plan: Plan
    metric: Metric
    moments: Mapping[str, Moments]
    effects: Mapping[str, Effect]
    days: Sequence[dt.date] = ()
    daily: Mapping[str, Sequence[Moments]] | None = None
    capped: Mapping[str, tuple[dict[str, float], dict[str, Moments]]] | None = None
    values: Mapping[str, np.ndarray] | None = None
    planned_n: int | None = None

    @property
    def control(self) -> str:
        return self.plan.control_name

    @property
    def treatments(self) -> list[str]:
        return list(self.plan.treatments)

    @property
    def test(self) -> Callable[[Moments, Moments], Effect]:
        """The metric's fixed-horizon test (:func:`test_for`)."""
        return test_for(self.plan, self.metric)


class Method(Protocol):
    """A comparison method: a module with these names (see :mod:`liftlab.methods`).

    ``name`` keys its results in ``Comparison.methods`` (``MetricResult.methods`` for a
    ``metric`` scope) and in results.json; ``order`` places it in the registry (results are
    computed and written in increasing ``order``). ``needs`` says what it reads beyond the sums:
    ``rows`` (unit-level values, fetched for the metrics it applies to) or ``daily`` (the
    daily sums). ``applies`` says whether it runs for a metric under a plan; ``run`` computes
    it from a :class:`MetricInput` with :mod:`liftlab.stats` and returns its result
    dataclass per treatment (``comparison`` scope) or one result for the metric (``metric``
    scope, ``None`` when there is nothing to show). A failure caused by the data raises
    ``ValueError`` or ``ArithmeticError``, which flags the metric.
    """

    name: str
    order: int
    needs: Need
    scope: Scope

    def applies(self, plan: Plan, metric: Metric) -> bool: ...

    def run(self, inp: MetricInput) -> Any: ...


def test_for(plan: Plan, metric: Metric) -> Callable[[Moments, Moments], Effect]:
    """The metric's test: Welch, CUPED or the delta method; on an export, whose moments
    count clusters (ads or ad-days), the delta method with a t reference on the clusters
    (:func:`~liftlab.stats.frequentist.ratio_test`, ``reference="t"``)."""
    a = plan.analysis
    if metric.type == "ratio":
        reference = "t" if plan.data.on_aggregates else "normal"

        def ratio(control: Moments, treatment: Moments) -> Effect:
            return ratio_test(
                control,
                treatment,
                alpha=a.alpha,
                relative_interval=a.relative_interval,
                reference=reference,
            )

        return ratio
    fn = cuped_test if metric.covariate else welch_test

    def test(control: Moments, treatment: Moments) -> Effect:
        return fn(control, treatment, alpha=a.alpha, relative_interval=a.relative_interval)

    return test


def test_name(plan: Plan, metric: Metric) -> str:
    """The name of the test :func:`test_for` runs (its :class:`Effect`'s ``method``)."""
    if metric.type == "ratio":
        return "delta-t" if plan.data.on_aggregates else "delta-z"
    return "cuped-welch-t" if metric.covariate else "welch-t"
