"""Sample size and duration for a plan, before any data is collected.

:func:`design_plan` sizes the test a plan describes with :func:`liftlab.stats.power.sample_size`:

- every ``primary`` metric is sized on its own (``baseline:`` and, for mean metrics,
  ``baseline_sd:`` from the plan); the test needs the largest, the *binding* metric;
- the effect is ``analysis.mde`` (``analysis.mde_type``), an increase, or a decrease for a
  metric whose ``direction`` is ``decrease``;
- ``analysis.alpha``, ``analysis.power``, ``analysis.correction`` and the convention
  ``analysis.sample_size`` (``unpooled``, ``pooled`` or ``arcsine``) are used as they are; the
  family corrected for multiple testing is primary metrics × treatments (as in the analysis),
  sized at the Bonferroni level α / family (see :mod:`liftlab.stats.power`);
- the planned ``weights`` of the variants, control first;
- ``design.daily_units`` (or the ``daily_units`` argument) turns the total into days and
  whole weeks.

Ratio metrics are not sized yet. :func:`power_curve_chart` draws the power of each primary
metric against the units per variant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import altair as alt
import numpy as np

from liftlab.errors import LiftlabError, PlanError
from liftlab.plan import Metric, Plan
from liftlab.stats.power import SampleSize, sample_size

if TYPE_CHECKING:
    import pandas as pd

CURVE_POINTS = 60


@dataclass(frozen=True, slots=True)
class PlanDesign:
    """The sample size a plan needs: one :class:`SampleSize` per primary metric.

    ``per_variant``, ``total``, ``days`` and ``weeks`` are those of the binding metric (the
    one that needs the most units). ``comparisons`` is the family size (primary metrics ×
    treatments).
    """

    experiment: str
    control: str
    treatments: tuple[str, ...]
    weights: dict[str, float]
    alpha: float
    power: float
    mde: float
    mde_type: str
    correction: str
    convention: str
    comparisons: int
    daily_units: float | None
    metrics: dict[str, SampleSize]
    binding_metric: str

    @property
    def binding(self) -> SampleSize:
        """The sample size of the metric that needs the most units."""
        return self.metrics[self.binding_metric]

    @property
    def per_variant(self) -> dict[str, int]:
        return self.binding.per_variant

    @property
    def n_per_variant(self) -> int:
        """Units in the control arm (every arm's under equal weights)."""
        return self.binding.n_control

    @property
    def total(self) -> int:
        return self.binding.total

    @property
    def days(self) -> int | None:
        return self.binding.days

    @property
    def weeks(self) -> int | None:
        return self.binding.weeks

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the plan's totals first, then each primary metric's design."""
        return {
            "experiment": self.experiment,
            "control": self.control,
            "treatments": list(self.treatments),
            "weights": dict(self.weights),
            "alpha": self.alpha,
            "power": self.power,
            "mde": self.mde,
            "mde_type": self.mde_type,
            "correction": self.correction,
            "convention": self.convention,
            "comparisons": self.comparisons,
            "daily_units": self.daily_units,
            "binding_metric": self.binding_metric,
            "per_variant": dict(self.per_variant),
            "total": self.total,
            "days": self.days,
            "weeks": self.weeks,
            "metrics": [{"name": k, **v.to_dict()} for k, v in self.metrics.items()],
        }

    def power_curve(self, n_values: Sequence[float] | None = None) -> list[dict[str, Any]]:
        """Rows ``{metric, n_per_variant, total, power}`` for each primary metric.

        ``n_per_variant`` is the control arm's units (every arm's under equal weights);
        default: 60 points from 0 to twice what the binding metric needs, plus that need.
        """
        if n_values is None:
            need = self.n_per_variant
            grid = np.linspace(0, 2 * need, CURVE_POINTS + 1)[1:]
            n_values = sorted({*(math.ceil(float(x)) for x in grid), need})
        w_c = self.weights[self.control]
        return [
            {
                "metric": name,
                "n_per_variant": n,
                "total": round(n / w_c),
                "power": ss.power_at(n),
            }
            for name, ss in self.metrics.items()
            for n in n_values
        ]

    def summary_markdown(self) -> str:
        """A short report paragraph: units per variant, total and duration."""
        b = self.binding
        equal = len(set(self.per_variant.values())) == 1
        units = (
            f"**{self.n_per_variant:,} units per variant**"
            if equal
            else "**" + ", ".join(f"{k}: {v:,}" for k, v in self.per_variant.items()) + " units**"
        )
        effect = (
            f"{b.rel_mde:+.1%} relative"
            if self.mde_type == "relative" and b.rel_mde is not None
            else f"{b.abs_mde:+.4g} absolute"
        )
        sided = "two-sided" if b.alternative == "two-sided" else "one-sided"
        alpha = f"α = {self.alpha:g} ({sided})"
        if b.alpha_per_comparison != self.alpha:
            alpha += (
                f", {b.alpha_per_comparison:.4g} per comparison over {self.comparisons} "
                f"comparisons ({self.correction}, sized as Bonferroni)"
            )
        text = (
            f"{units} ({self.total:,} in total) to detect a {effect} change in "
            f"`{self.binding_metric}` ({b.baseline:.4g} → {b.treatment:.4g}) with "
            f"{self.power:.0%} power at {alpha}; {self.convention} sample-size formula."
        )
        if self.days is not None and self.daily_units is not None:
            text += (
                f" At {self.daily_units:,.0f} units a day that is **{self.days} days**, "
                f"run for **{self.weeks} {'week' if self.weeks == 1 else 'weeks'}**."
            )
        else:
            text += " Give `daily_units` (or `design: {daily_units: ...}`) for the duration."
        return text

    def table(self) -> list[dict[str, Any]]:
        """One row per primary metric: baseline, target, units per variant, total, days."""
        return [
            {
                "metric": name,
                "type": ss.metric_type,
                "baseline": ss.baseline,
                "treatment": ss.treatment,
                "abs_mde": ss.abs_mde,
                "rel_mde": ss.rel_mde,
                **{f"n_{k}": v for k, v in ss.per_variant.items()},
                "total": ss.total,
                "days": ss.days,
                "weeks": ss.weeks,
            }
            for name, ss in self.metrics.items()
        ]

    def to_frame(self) -> pd.DataFrame:
        """:meth:`table` as a pandas DataFrame indexed by metric."""
        import pandas as pd

        return pd.DataFrame(self.table()).set_index("metric")

    def chart(self) -> alt.LayerChart:
        """:func:`power_curve_chart` of :meth:`power_curve` with this design's targets."""
        return power_curve_chart(
            self.power_curve(), target_power=self.power, required_n=self.n_per_variant
        )


def design_plan(
    plan: Plan,
    *,
    daily_units: float | None = None,
    baseline: float | None = None,
    sd: float | None = None,
) -> PlanDesign:
    """Size the test a plan describes (see the module doc).

    ``daily_units`` overrides ``design.daily_units``; ``baseline`` and ``sd`` override the
    primary metric's ``baseline:`` and ``baseline_sd:`` (only for a plan with one primary
    metric). Raises :class:`PlanError` naming the field when a primary metric cannot be sized.
    """
    primary = [(i, m) for i, m in enumerate(plan.metrics) if m.role == "primary"]
    if (baseline is not None or sd is not None) and len(primary) != 1:
        raise LiftlabError(
            f"baseline=/sd= override one primary metric, but the plan has {len(primary)}; "
            "set baseline: and baseline_sd: on each metric in the plan instead",
            source=plan.source,
        )
    if daily_units is None and plan.design is not None:
        daily_units = plan.design.daily_units
    a = plan.analysis
    names = [plan.control_name, *plan.treatments]
    weights = plan.weights
    comparisons = len(primary) * len(plan.treatments)
    sizes: dict[str, SampleSize] = {}
    for i, metric in primary:
        p1, s = _baseline(plan, i, metric, baseline, sd)
        try:
            sizes[metric.name] = sample_size(
                metric_type="proportion" if metric.type == "proportion" else "mean",
                baseline=p1,
                mde=a.mde if metric.direction == "increase" else -a.mde,
                mde_type=a.mde_type,
                sd=s,
                alpha=a.alpha,
                power=a.power,
                arms=len(names),
                weights=[weights[n] for n in names],
                convention=a.sample_size,
                correction=a.correction,
                comparisons=comparisons,
                daily_units=daily_units,
                variants=names,
            )
        except ValueError as exc:
            raise PlanError(str(exc), source=plan.source, field=f"metrics[{i}]") from None
    binding = max(sizes, key=lambda k: sizes[k].total_exact)
    return PlanDesign(
        experiment=plan.name,
        control=plan.control_name,
        treatments=tuple(plan.treatments),
        weights={n: weights[n] for n in names},
        alpha=a.alpha,
        power=a.power,
        mde=a.mde,
        mde_type=a.mde_type,
        correction=a.correction,
        convention=a.sample_size,
        comparisons=comparisons,
        daily_units=daily_units,
        metrics=sizes,
        binding_metric=binding,
    )


def _baseline(
    plan: Plan, i: int, metric: Metric, baseline: float | None, sd: float | None
) -> tuple[float, float | None]:
    """The control value (and sd for a mean metric) to size ``metrics[i]`` on."""
    where = f"metrics[{i}]"
    if metric.type == "ratio":
        raise PlanError(
            f"'{metric.name}' is a ratio metric, which design cannot size yet; make a "
            "proportion or mean metric primary (e.g. clicks per unit as type: mean)",
            source=plan.source,
            field=f"{where}.type",
        )
    p1 = baseline if baseline is not None else metric.baseline
    if p1 is None:
        if metric.type == "proportion":
            fix = "add baseline: (the control rate, e.g. 0.12) to the plan"
        else:
            fix = (
                "add baseline: (the control mean) and baseline_sd: (its standard deviation "
                "per unit) to the plan"
            )
        raise PlanError(
            f"is missing for '{metric.name}'; {fix}", source=plan.source, field=f"{where}.baseline"
        )
    if metric.type == "proportion":
        return p1, None
    s = sd if sd is not None else metric.baseline_sd
    if s is None:
        raise PlanError(
            f"is missing for '{metric.name}'; add baseline_sd: (the standard deviation of "
            f"{metric.column} per unit in control) to the plan",
            source=plan.source,
            field=f"{where}.baseline_sd",
        )
    return p1, s


def power_curve_chart(
    rows: Sequence[dict[str, Any]],
    *,
    target_power: float | None = None,
    required_n: float | None = None,
) -> alt.LayerChart:
    """Power against units per variant, one line per metric, rules at the target and the need.

    ``rows`` are :meth:`PlanDesign.power_curve` rows (``metric``, ``n_per_variant``,
    ``total``, ``power``).
    """
    data = alt.Data(values=[dict(r) for r in rows])
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("n_per_variant:Q", title="Units per variant"),
            y=alt.Y(
                "power:Q", title="Power", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            color=alt.Color("metric:N", title="Metric"),
            tooltip=[
                alt.Tooltip("metric:N"),
                alt.Tooltip("n_per_variant:Q", title="units per variant", format=","),
                alt.Tooltip("total:Q", title="units in total", format=","),
                alt.Tooltip("power:Q", format=".1%"),
            ],
        )
    )
    layers: list[alt.Chart] = [line]
    if target_power is not None:
        layers.append(
            alt.Chart(alt.Data(values=[{"power": target_power}]))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(y="power:Q")
        )
    if required_n is not None:
        layers.append(
            alt.Chart(alt.Data(values=[{"n_per_variant": required_n}]))
            .mark_rule(color="gray")
            .encode(x="n_per_variant:Q", tooltip=[alt.Tooltip("n_per_variant:Q", format=",")])
        )
    return alt.LayerChart(
        layer=layers, title="Power against units per variant", width=480, height=300
    )
