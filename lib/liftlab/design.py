"""Sample size and duration for a plan, before any data is collected.

:func:`design_plan` sizes the test a plan describes with :func:`liftlab.stats.power.sample_size`:

- every ``primary`` metric is sized on its own; the test needs the largest, the *binding*
  metric. What each metric type needs, from the plan or from historical data (``history``,
  :class:`~liftlab.stats.moments.Moments` keyed by metric name, e.g. last month's control
  arm or a pre-period of all traffic):

  - ``proportion``: ``baseline:`` (the control rate), else the history's mean of ``y``;
  - ``mean``: ``baseline:`` and ``baseline_sd:`` (the unit-level sd), else the history's
    mean and sample sd of ``y``;
  - ``ratio`` (``Σnumerator/Σdenominator``): ``baseline:`` (the control ratio) and
    ``baseline_sd:``, here the *linearised* per-unit sd ``sqrt(n·Var(R))`` of the delta
    method, else the history's ``Σy/Σx`` and
    :func:`~liftlab.stats.power.ratio_sd_from_moments` (``y`` numerator, ``x`` denominator);
  - a metric with a ``covariate:`` (CUPED) whose history holds the covariate as ``x``: the
    variance reduction ``1 − ρ²`` with ``ρ = s_xy/(s_x·s_y)`` from that history
    (:func:`~liftlab.stats.power.cuped_rho_from_moments`), under the ``unpooled`` convention;
    without history (or with a convention that has no CUPED form) it is sized without CUPED,
    which is conservative, and the design's ``notes`` say so.

  The plan's values win over the history's, and the ``baseline=``/``sd=`` arguments over
  both (one primary metric only);
- the effect is ``analysis.mde`` (``analysis.mde_type``), an increase, or a decrease for a
  metric whose ``direction`` is ``decrease``;
- ``analysis.alpha``, ``analysis.power``, ``analysis.correction`` and the convention
  ``analysis.sample_size`` (``unpooled``, ``pooled`` or ``arcsine``) are used as they are; the
  family corrected for multiple testing is primary metrics × treatments (as in the analysis),
  sized at the Bonferroni level α / family (see :mod:`liftlab.stats.power`);
- the planned ``weights`` of the variants, control first;
- ``design.daily_units`` (or the ``daily_units`` argument) turns the total into days and
  whole weeks;
- ``sequential={"kind": "obrien-fleming" | "pocock", "looks": K}`` sizes a group-sequential
  test (the fixed design times the inflation factor), and ``test="t"`` sizes mean metrics
  with the noncentral t of Welch's test instead of the normal approximation.

Guardrail metrics are tested for harm (non-inferiority) and secondary metrics are reported;
neither is sized: the primaries decide how long the test runs. (Size a guardrail's
non-inferiority test with ``sample_size(..., margin=-0.02, margin_type="relative")``.)
:func:`power_curve_chart` draws the power of each primary metric against the units per
variant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import altair as alt
import numpy as np

from liftlab import theme
from liftlab.errors import LiftlabError, PlanError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.stats.moments import Moments
from liftlab.stats.power import (
    SampleSize,
    cuped_rho_from_moments,
    ratio_sd_from_moments,
    sample_size,
)

if TYPE_CHECKING:
    import pandas as pd

CURVE_POINTS = 60


@dataclass(frozen=True, slots=True)
class PlanDesign:
    """The sample size a plan needs: one :class:`SampleSize` per primary metric.

    ``per_variant``, ``total``, ``days`` and ``weeks`` are those of the binding metric (the
    one that needs the most units). ``comparisons`` is the family size (primary metrics ×
    treatments). ``sequential`` and ``test`` are the design options used; ``notes`` says what
    was assumed (a covariate sized without CUPED, guardrails not sized).
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
    sequential: dict[str, Any] | None = None
    test: str = "z"
    notes: tuple[str, ...] = ()

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

    @property
    def duration_days_rounded_to_weeks(self) -> int | None:
        """``7 · weeks``: the days the test runs when it runs whole weeks."""
        return self.binding.duration_days_rounded_to_weeks

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
            "duration_days_rounded_to_weeks": self.duration_days_rounded_to_weeks,
            "sequential": None if self.sequential is None else dict(self.sequential),
            "test": self.test,
            "notes": list(self.notes),
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
        if b.cuped_rho is not None:
            text += (
                f" CUPED on the pre-period covariate (ρ = {b.cuped_rho:.2f}) leaves "
                f"{b.variance_factor:.0%} of the variance."
            )
        if b.sequential is not None:
            text += (
                f" Group-sequential ({b.sequential['kind']}, {b.sequential['looks']} looks): "
                f"the fixed design × {b.inflation:.3f}."
            )
        if b.approximation == "normal-fallback":
            text += " (The t-test power was out of reach; sized by the normal approximation.)"
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
                "sd": ss.sd,
                "cuped_rho": ss.cuped_rho,
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
    history: Mapping[str, Moments] | None = None,
    sequential: Mapping[str, Any] | None = None,
    test: Literal["z", "t"] = "z",
) -> PlanDesign:
    """Size the test a plan describes (see the module doc).

    Args:
        plan: the validated plan; its primary metrics are sized.
        daily_units: overrides ``design.daily_units``.
        baseline, sd: override the primary metric's ``baseline:`` and ``baseline_sd:`` (only
            for a plan with one primary metric).
        history: historical :class:`Moments` per metric name (``y`` the metric or a ratio's
            numerator; ``x`` a ratio's denominator or the CUPED covariate), for the values the
            plan does not give and for CUPED's ``ρ``.
        sequential: a group-sequential design, e.g. ``{"kind": "obrien-fleming", "looks": 4}``.
        test: ``z`` or ``t`` (noncentral t) for mean metrics; others use the z test.

    Raises :class:`PlanError` naming the field when a primary metric cannot be sized.
    """
    primary = [(i, m) for i, m in enumerate(plan.metrics) if m.role == "primary"]
    if (baseline is not None or sd is not None) and len(primary) != 1:
        raise LiftlabError(
            f"baseline=/sd= override one primary metric, but the plan has {len(primary)}; "
            "set baseline: and baseline_sd: on each metric in the plan instead",
            source=plan.source,
        )
    history = _check_history(plan, history)
    if daily_units is None and plan.design is not None:
        daily_units = plan.design.daily_units
    a = plan.analysis
    names = [plan.control_name, *plan.treatments]
    weights = plan.weights
    comparisons = len(primary) * len(plan.treatments)
    sizes: dict[str, SampleSize] = {}
    notes: list[str] = []
    for i, metric in primary:
        p1, s = _baseline(plan, i, metric, baseline, sd, history.get(metric.name))
        rho = _cuped_rho(metric, history.get(metric.name), a.sample_size, notes)
        try:
            sizes[metric.name] = sample_size(
                metric_type=metric.type,
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
                cuped_rho=rho,
                test=test if metric.type == "mean" else "z",
                sequential=sequential,
            )
        except ValueError as exc:
            raise PlanError(str(exc), source=plan.source, field=f"metrics[{i}]") from None
    guardrails = [m.name for m in plan.metrics if m.role == "guardrail"]
    if guardrails:
        notes.append(
            f"guardrails ({', '.join(guardrails)}) are tested for harm and not sized; "
            "the primary metrics set the duration"
        )
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
        sequential=sizes[binding].sequential,
        test=test,
        notes=tuple(notes),
    )


def _check_history(plan: Plan, history: Mapping[str, Moments] | None) -> dict[str, Moments]:
    """``history`` as a dict, every key a metric of the plan and every value Moments."""
    if history is None:
        return {}
    known = [m.name for m in plan.metrics]
    for name, value in history.items():
        if name not in known:
            raise LiftlabError(
                f"history has '{name}', which is not a metric of the plan"
                f"{did_you_mean(name, known)}; key history by metric name ({', '.join(known)})",
                source=plan.source,
            )
        if not isinstance(value, Moments):
            raise LiftlabError(
                f"history['{name}'] is a {type(value).__name__}; give Moments "
                "(liftlab.stats.Moments, e.g. Moments.from_arrays(y, x))",
                source=plan.source,
            )
    return dict(history)


def _baseline(
    plan: Plan,
    i: int,
    metric: Metric,
    baseline: float | None,
    sd: float | None,
    past: Moments | None,
) -> tuple[float, float | None]:
    """The control value (and sd for a mean or ratio metric) to size ``metrics[i]`` on."""
    where = f"metrics[{i}]"
    ratio = metric.type == "ratio"
    p1 = baseline if baseline is not None else metric.baseline
    if p1 is None and past is not None:
        p1 = _from_history(plan, i, metric, "baseline", past)
    if p1 is None:
        if metric.type == "proportion":
            fix = "add baseline: (the control rate, e.g. 0.12) to the plan"
        elif ratio:
            fix = (
                f"add baseline: (the control ratio {metric.numerator}/{metric.denominator}) and "
                "baseline_sd: (its linearised per-unit sd, sqrt(n·Var(R))) to the plan, or pass "
                f"history={{'{metric.name}': Moments}} from past data"
            )
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
    if s is None and past is not None:
        s = _from_history(plan, i, metric, "baseline_sd", past)
    if s is None:
        if ratio:
            what = (
                f"the linearised per-unit sd of {metric.numerator}/{metric.denominator}, "
                f"sqrt(n·Var(R))) to the plan, or pass history={{'{metric.name}': Moments}}"
            )
        else:
            what = f"the standard deviation of {metric.column} per unit in control) to the plan"
        raise PlanError(
            f"is missing for '{metric.name}'; add baseline_sd: ({what}",
            source=plan.source,
            field=f"{where}.baseline_sd",
        )
    return p1, s


def _from_history(plan: Plan, i: int, metric: Metric, field: str, past: Moments) -> float:
    """``baseline`` or ``baseline_sd`` of ``metrics[i]`` estimated from historical moments."""
    try:
        if metric.type == "ratio":
            if field == "baseline":
                if past.sum_x == 0:
                    raise ValueError("its denominator sums to 0")
                return past.sum_y / past.sum_x
            return ratio_sd_from_moments(past)
        if past.n < 2:
            raise ValueError(f"it has {past.n} units, at least 2 are needed")
        value = past.mean_y if field == "baseline" else math.sqrt(past.var_y)
        if field == "baseline_sd" and not value > 0:
            raise ValueError("the metric does not vary")
        return value
    except ValueError as exc:
        raise PlanError(
            f"cannot be estimated from history['{metric.name}'] ({exc}); give {field}: "
            "in the plan or fix the history",
            source=plan.source,
            field=f"metrics[{i}].{field}",
        ) from None


def _cuped_rho(
    metric: Metric, past: Moments | None, convention: str, notes: list[str]
) -> float | None:
    """CUPED's ``ρ`` for a metric with a covariate, from its history; else ``None`` and a note.

    Sizing without CUPED needs more units, never fewer, so what stands in the way of CUPED
    (no history, a history without the covariate, a convention with no CUPED form) is
    noted rather than raised: the plan can still be sized.
    """
    if metric.covariate is None:
        return None
    reason = None
    rho = None
    if past is None:
        reason = "no history to estimate its correlation"
    elif convention != "unpooled":
        reason = f"the {convention} formula has no CUPED form (use sample_size: unpooled)"
    else:
        try:
            rho = cuped_rho_from_moments(past)
        except ValueError as exc:
            reason = f"its history gives no correlation ({exc})"
    if reason is not None:
        notes.append(
            f"{metric.name}: covariate {metric.covariate} but {reason}; sized without CUPED "
            "(conservative)"
        )
    return rho


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
    chart = alt.LayerChart(
        layer=layers, title=theme.title("Power against units per variant"), width=480, height=300
    )
    return theme.configure(chart)
