"""Sample size and duration for a plan, before any data is collected, by the plan's method.

:func:`design_plan` sizes the test a plan describes, the answer first
(:meth:`PlanDesign.sentence`: "14,749 users per variant (29,498 in total): 10 days at 3,000 a
day; run 2 full weeks."), then one row per primary metric (:meth:`PlanDesign.table`) and the
trade-off between duration and the smallest detectable effect (:meth:`PlanDesign.tradeoff`).

**The method.** The test is sized the way the plan's analysis decides
(``analysis.method`` and ``analysis.sequential.kind``), one small function each:

- ``frequentist``: the fixed-horizon test (:func:`liftlab.stats.power.sample_size`), every
  metric type, with ``analysis.sample_size`` (``unpooled``, ``pooled`` or ``arcsine``).
- sequential ``group-sequential``: Lan–DeMets spending (``analysis.sequential.spending``) over
  ``analysis.sequential.looks`` equally spaced looks: the fixed design times the inflation
  factor of :func:`liftlab.stats.sequential.sample_size_inflation` is the maximum ``N``; the
  expected ``N`` under the MDE and under no effect come with it.
- sequential ``msprt`` and ``asymptotic-cs`` (always valid, looked at every day): the ``N`` at
  which the always-valid test reaches ``power`` at the MDE; the fixed-horizon ``N`` is given
  for reference (the price of peeking).
- ``bayesian``: the units for the chance to beat control to reach
  ``analysis.bayesian.ship_threshold`` with probability ``power`` at the MDE, under the plan's
  prior (``prior_mean``, ``prior_sd``; flat without ``prior_sd``).

The sequential and Bayesian sizes come from :mod:`liftlab.stats.method_power` on per-unit
variances (``p(1−p)`` for a proportion, ``sd²`` for a mean or ratio, times CUPED's ``1 − ρ²``):
the unpooled normal approximation of the analysis, whatever ``analysis.sample_size`` says.

**The family.** Primary metrics × treatments, as in the analysis. Frequentist and sequential
tests are sized at the Bonferroni level ``α / family`` when ``analysis.correction`` is not
``none`` (exact for Bonferroni, conservative for Holm and Hochberg; see
:mod:`liftlab.stats.power`). The Bayesian analysis decides each comparison by its chance to
beat control with no correction (:mod:`liftlab.analysis`), so it is sized per comparison.

**Inputs per metric**, from the plan or from historical data (``history``: a
:class:`liftlab.history.History` or :class:`~liftlab.stats.moments.Moments` keyed by metric
name, e.g. last month's control arm or a pre-period of all traffic):

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
  which is conservative, and the design's warnings say so.

The plan's values win over the history's, and the ``baseline=``/``sd=`` arguments over both
(one primary metric only). Every input says where it came from (:attr:`PlanDesign.inputs`,
the ``source`` of each row of :meth:`PlanDesign.table`): the plan (its field), a command-line
flag, or the history (its table and unit count).

The effect is ``analysis.mde`` (``analysis.mde_type``), an increase, or a decrease for a metric
whose ``direction`` is ``decrease``. ``design.daily_units`` (or ``daily_units=``) turns the
total into days and whole weeks. The test is two-sided, as the analysis is (``alternative=``
sizes a one-sided test, for designs without a plan of their own).

Guardrail metrics are tested for harm and secondary metrics are reported; neither is sized.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import optimize

from liftlab import format as fmt
from liftlab.errors import LiftlabError, PlanError, did_you_mean
from liftlab.plan import Metric, Plan
from liftlab.stats import method_power
from liftlab.stats.moments import Moments
from liftlab.stats.power import (
    ROUNDING_TOLERANCE,
    SampleSize,
    cuped_rho_from_moments,
    ratio_sd_from_moments,
    round_up,
    sample_size,
)

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

CURVE_POINTS = 60
_METHOD_NAMES = {"msprt": "mSPRT", "asymptotic-cs": "asymptotic confidence sequence"}
TRADEOFF_WEEKS = (1, 2, 3, 4, 6, 8)
METHOD_WORDS = {
    "frequentist": "fixed-horizon test",
    "group-sequential": "group-sequential test",
    "msprt": "always-valid test (mSPRT), daily looks",
    "asymptotic-cs": "always-valid test (confidence sequence), daily looks",
    "bayesian": "Bayesian test",
}
_HYPOTHESIS_LIFT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


@dataclass(frozen=True, slots=True)
class DesignInput:
    """One input of a design: its name, its value as a reader sees it, and its source.

    ``source`` is ``plan (analysis.alpha)`` for a value the plan sets, ``default
    (analysis.alpha)`` for one it leaves at liftlab's default, a command-line flag such as
    ``--alpha``, or ``history (landing_history, 41,200 users)``.
    """

    name: str
    value: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value, "source": self.source}


@dataclass(frozen=True, slots=True)
class _Case:
    """Everything needed to size one primary metric at any effect, by the plan's method."""

    name: str
    metric_type: str
    baseline: float
    sd: float | None
    rho: float | None
    sign: float  # +1: an increase is the effect to detect; -1: a decrease
    alpha: float
    power: float
    alternative: str
    names: tuple[str, ...]
    weights: tuple[float, ...]
    correction: str
    comparisons: int
    convention: str
    daily_units: float | None
    test: str
    method: str
    plan: Plan
    mde_delta: float = 0.0  # the plan's MDE in absolute units, signed
    covariate: bool = False
    gs: dict[str, Any] | None = None  # a group-sequential spec given instead of the plan's
    planned_n: int | None = None  # units per arm an asymptotic CS is tuned at (see _tuned)

    def fixed(
        self, delta: float, *, power: float | None = None, sequential: Any = None
    ) -> SampleSize:
        """The fixed-horizon (or group-sequential) design for the absolute effect ``delta``."""
        return sample_size(
            metric_type=self.metric_type,  # type: ignore[arg-type]
            baseline=self.baseline,
            mde=delta,
            mde_type="absolute",
            sd=self.sd,
            alpha=self.alpha,
            power=self.power if power is None else power,
            alternative=self.alternative,  # type: ignore[arg-type]
            arms=len(self.names),
            weights=list(self.weights),
            convention=self.convention,  # type: ignore[arg-type]
            correction=self.correction,
            comparisons=self.comparisons,
            daily_units=self.daily_units,
            variants=list(self.names),
            cuped_rho=self.rho,
            test=self.test if self.metric_type == "mean" else "z",  # type: ignore[arg-type]
            sequential=sequential,
        )

    def variances(self, delta: float) -> tuple[float, float]:
        """Per-unit variances of control and treatment at the effect ``delta`` (CUPED's
        ``1 − ρ²`` applied)."""
        factor = 1.0 if self.rho is None else 1 - self.rho**2
        if self.metric_type == "proportion":
            p1, p2 = self.baseline, self.baseline + delta
            return p1 * (1 - p1) * factor, p2 * (1 - p2) * factor
        assert self.sd is not None
        return self.sd**2 * factor, self.sd**2 * factor

    @property
    def alpha_per_comparison(self) -> float:
        """``α / family`` with a correction (Bonferroni-sized), else ``α``."""
        return self.alpha if self.correction == "none" else self.alpha / self.comparisons

    @property
    def w_min_treatment(self) -> float:
        return min(self.weights[1:])


@dataclass(frozen=True, slots=True)
class _Size:
    """What a method needs at one effect: ``N`` in total (unrounded), the fixed-horizon ``N``
    for reference, and the method's details (inflation, expected sizes, ...)."""

    total_exact: float
    fixed_total_exact: float
    details: dict[str, Any]


# ----- one small function per method -------------------------------------------------------
def _size_frequentist(case: _Case, delta: float, power: float) -> _Size:
    ss = case.fixed(delta, power=power)
    return _Size(ss.total_exact, ss.total_exact, {})


def _size_group_sequential(case: _Case, delta: float, power: float) -> _Size:
    """``N_max = N_fixed · IF`` (:func:`liftlab.stats.power.sample_size` with ``sequential``)
    and the expected ``N`` under the MDE and under no effect
    (:func:`liftlab.stats.method_power.group_sequential_size`)."""
    spec = _gs_spec(case)
    ss = case.fixed(delta, power=power, sequential=spec)
    fixed = ss.total_exact_fixed if ss.total_exact_fixed is not None else ss.total_exact
    seq = ss.sequential or {}
    gs = method_power.group_sequential_size(
        fixed,
        information_fractions=seq.get("information_fractions"),
        kind=seq.get("kind", "obrien-fleming"),
        alpha=case.alpha_per_comparison,
        power=power,
        sides=2 if case.alternative == "two-sided" else 1,
    )
    details: dict[str, Any] = {
        "spending": seq.get("kind"),
        "looks": seq.get("looks"),
        "inflation": ss.inflation,
        "expected_total_at_mde": gs.expected_n_alternative * ss.total_exact / gs.n_max,
        "expected_total_at_zero": gs.expected_n_null * ss.total_exact / gs.n_max,
    }
    return _Size(ss.total_exact, fixed, details)


def _size_always_valid(case: _Case, delta: float, power: float) -> _Size:
    """The ``N`` at which the always-valid test (:func:`liftlab.stats.method_power.msprt_size`)
    reaches ``power`` at ``delta``, looked at once a day as the analysis looks: a look after
    every day of traffic, in whole days. Without daily traffic (or past the days it can
    simulate), the final look only: conservative, looks before it can only add rejections."""
    seq = case.plan.analysis.sequential
    var_c, var_t = case.variances(delta)
    kwargs: dict[str, Any] = {
        "alpha": case.alpha_per_comparison,
        "power": power,
        "w_c": case.weights[0],
        "w_t": case.w_min_treatment,
        "method": seq.kind,
    }
    if seq.kind == "asymptotic-cs":
        planned = seq.planned_n if seq.planned_n is not None else case.planned_n
        kwargs |= {"planned_n": planned, "tune_alpha": case.alpha}
    else:
        kwargs["tau"] = seq.tau if seq.tau is not None else abs(case.mde_delta)
    try:
        res = method_power.msprt_size(var_c, var_t, delta, daily_units=case.daily_units, **kwargs)
    except ValueError:
        if case.daily_units is None:
            raise
        res = method_power.msprt_size(var_c, var_t, delta, **kwargs)
    details = {
        "kind": seq.kind,
        "looks": res.looks,
        "daily_looks": res.daily_units is not None,
        "price_of_peeking": res.price_of_peeking,
        "n_final_look": res.n_final_look,
    }
    return _Size(float(res.total), float(res.n_fixed), details)


def _size_bayesian(case: _Case, delta: float, power: float) -> _Size:
    """The ``N`` at which the chance to beat control reaches ``ship_threshold`` with
    probability ``power`` at ``delta`` (:func:`liftlab.stats.method_power.bayesian_size`),
    with the model the analysis uses: Beta-Binomial for a proportion without a covariate,
    else the Gaussian model on ``analysis.bayesian.effect`` with the plan's prior."""
    bay = case.plan.analysis.bayesian
    var_c, var_t = case.variances(delta)
    beta = case.metric_type == "proportion" and case.rho is None and not case.covariate
    res = method_power.bayesian_size(
        var_c,
        var_t,
        delta,
        power=power,
        w_c=case.weights[0],
        w_t=case.w_min_treatment,
        ship_threshold=bay.ship_threshold,
        model="beta-binomial" if beta else "gaussian",
        effect=bay.effect,
        control_mean=case.baseline,
        prior_mean=bay.prior_mean,
        prior_sd=bay.prior_sd,
        beta_prior=bay.beta_prior,
        direction="increase" if case.sign > 0 else "decrease",
    )
    fixed = _size_frequentist(case, delta, power).total_exact
    details = {"ship_threshold": bay.ship_threshold, "prior": res.prior, "model": res.model}
    return _Size(float(res.total), fixed, details)


_SIZERS: dict[str, Callable[[_Case, float, float], _Size]] = {
    "frequentist": _size_frequentist,
    "group-sequential": _size_group_sequential,
    "msprt": _size_always_valid,
    "asymptotic-cs": _size_always_valid,
    "bayesian": _size_bayesian,
}


def method_of(plan: Plan) -> str:
    """The design method of a plan: ``frequentist``, ``bayesian``, or the sequential kind
    (``group-sequential``, ``msprt``, ``asymptotic-cs``)."""
    a = plan.analysis
    return a.sequential.kind if a.method == "sequential" else a.method


# ----- the design ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlanDesign:
    """The sample size a plan needs, by its method: one :class:`SampleSize` per primary metric.

    ``per_variant``, ``total``, ``days`` and ``weeks`` are those of the binding metric (the
    one that needs the most units). ``metrics`` holds each primary metric's size by the plan's
    ``method`` (``SampleSize.total_exact_fixed`` is the fixed-horizon size and
    ``SampleSize.inflation`` the ratio of the two); ``method_details`` adds what each method
    reports (a group-sequential test's expected sizes, an always-valid test's price of
    peeking, a Bayesian test's threshold and prior). ``comparisons`` is the family size
    (primary metrics × treatments). ``inputs`` says where each setting came from and
    ``sources`` where each metric's baseline and sd did. ``warnings`` holds what a reader must
    know before trusting the number (a hypothesis stating another lift than ``analysis.mde``,
    a covariate sized without CUPED, guardrails not sized). ``unit`` is the plan's unit
    column (the noun of every count, :func:`unit_noun`), ``labels`` and ``displays`` each
    primary metric's name and number format for readers, and ``cases`` what each primary
    metric is sized from, so that :meth:`tradeoff`, :meth:`reach` and :meth:`power_curve`
    can size it again at another effect or number of units.
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
    method: str = "frequentist"
    unit: str = "unit"
    method_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: tuple[DesignInput, ...] = ()
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    displays: dict[str, fmt.Display] = field(default_factory=dict, repr=False)
    hypothesis_warnings: tuple[str, ...] = ()
    cases: dict[str, _Case] = field(default_factory=dict, repr=False, compare=False)

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

    @property
    def equal_weights(self) -> bool:
        """Every arm gets the same share of the traffic (to a millionth)."""
        return _equal_weights(self.weights)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The hypothesis check first, then the notes on what the design assumed."""
        return (*self.hypothesis_warnings, *self.notes)

    def nouns(self, n: float) -> str:
        """The plan's unit as a plural noun (``user_id`` → ``users``), singular for one."""
        return unit_noun(self.unit, n)

    # ----- the answer in words ---------------------------------------------------------------
    def sentence(self) -> str:
        """The answer in one sentence: units per variant, total, days and whole weeks."""
        equal = _equal_weights(self.weights)
        noun = self.nouns(2)
        if equal:
            units = f"{fmt.count(max(self.per_variant.values()))} {noun} per variant"
        else:
            arms = ", ".join(f"{k} {fmt.count(v)}" for k, v in self.per_variant.items())
            units = f"{noun.capitalize()} per variant: {arms}"
        if self.method == "group-sequential":
            units = "At most " + units if equal else units + " at most"
        text = f"{units} ({fmt.count(self.total)} in total)"
        if self.days is None or self.daily_units is None:
            return (
                text
                + "; give the daily traffic (design.daily_units or --daily-units) for the duration."
            )
        weeks = f"{self.weeks} full week{'' if self.weeks == 1 else 's'}"
        return (
            f"{text}: {self.days} day{'' if self.days == 1 else 's'} at "
            f"{fmt.count(self.daily_units)} a day; run {weeks}."
        )

    def method_text(self) -> str:
        """What the method adds, in one sentence (empty for the fixed-horizon test)."""
        b = self.binding
        d = self.method_details.get(self.binding_metric, {})
        fixed = _arm_units(b, b.total_exact_fixed)
        if self.method == "group-sequential" and self.sequential is not None:
            text = (
                f"Group-sequential ({self.sequential['kind']}, {self.sequential['looks']} looks): "
                f"the fixed design × {b.inflation:.3f}"
            )
            if "expected_total_at_mde" in d:
                text += (
                    f"; on average {fmt.count(_arm_units(b, d['expected_total_at_mde']))} per "
                    f"variant if the MDE is true, "
                    f"{fmt.count(_arm_units(b, d['expected_total_at_zero']))} if there is no effect"
                )
            return text + "."
        if self.method in ("msprt", "asymptotic-cs"):
            return (
                f"Always valid ({_METHOD_NAMES[self.method]}, looked at every day): the fixed-horizon test "
                f"would need {fmt.count(fixed)} per variant; peeking costs ×{b.inflation:.2f}."
            )
        if self.method == "bayesian":
            return (
                f"Bayesian: the chance to beat control reaches {fmt.percent(d['ship_threshold'])}"
                f" with {fmt.percent(self.power, 0)} probability at the MDE (prior: {d['prior']}); "
                f"the fixed-horizon test would need {fmt.count(fixed)} per variant."
            )
        return ""

    def summary_markdown(self) -> str:
        """A report paragraph: the sentence in bold, the effect it detects, the method."""
        b = self.binding
        label = self.labels.get(self.binding_metric, self.binding_metric)
        disp = self.displays.get(self.binding_metric, fmt.Display(label))
        sided = "two-sided" if b.alternative == "two-sided" else "one-sided"
        alpha = f"α = {self.alpha:g} ({sided})"
        if self.method == "bayesian":
            alpha = "no correction (the Bayesian analysis decides each comparison alone)"
        elif b.alpha_per_comparison != self.alpha:
            alpha += (
                f", {b.alpha_per_comparison:.4g} per comparison over {self.comparisons} "
                f"comparisons ({self.correction}, sized as Bonferroni)"
            )
        effect = (
            fmt.percent(b.rel_mde, 1, sign=True) + " relative"
            if self.mde_type == "relative" and b.rel_mde is not None
            else fmt.effect_only(disp, b.abs_mde, "absolute") + " absolute"
        )
        sentence = self.sentence()
        if self.days is None:
            sentence = sentence.replace(
                "(design.daily_units or --daily-units)",
                "(`daily_units` or `design: {daily_units: ...}`)",
            )
        text = (
            f"**{sentence}** It detects a {effect} change in {label} "
            f"({fmt.value(disp, b.baseline)} → {fmt.value(disp, b.treatment)}) with "
            f"{fmt.percent(self.power, 0)} power, {alpha}; {METHOD_WORDS[self.method]}"
            + (f", {self.convention} formula." if self.method == "frequentist" else ".")
        )
        if b.cuped_rho is not None:
            text += (
                f" CUPED on the pre-period covariate (ρ = {b.cuped_rho:.2f}) leaves "
                f"{fmt.percent(b.variance_factor, 0)} of the variance."
            )
        if self.method_text():
            text += " " + self.method_text()
        if b.approximation == "normal-fallback":
            text += " (The t-test power was out of reach; sized by the normal approximation.)"
        return text

    # ----- tables ------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """One row per primary metric: baseline and its source, sd, the MDE (relative and
        absolute), units per arm, total and days, the fixed-horizon total for reference."""
        rows = []
        for name, ss in self.metrics.items():
            src = self.sources.get(name, {})
            rows.append(
                {
                    "metric": name,
                    "label": self.labels.get(name, name),
                    "type": ss.metric_type,
                    "baseline": ss.baseline,
                    "baseline_source": src.get("baseline"),
                    "treatment": ss.treatment,
                    "abs_mde": ss.abs_mde,
                    "rel_mde": ss.rel_mde,
                    "sd": ss.sd,
                    "sd_source": src.get("sd"),
                    "cuped_rho": ss.cuped_rho,
                    **{f"n_{k}": v for k, v in ss.per_variant.items()},
                    "total": ss.total,
                    "fixed_total": _total_units(ss, ss.total_exact_fixed),
                    "days": ss.days,
                    "weeks": ss.weeks,
                }
            )
        return rows

    def table_text(self) -> list[tuple[str, list[str]]]:
        """:meth:`table` for reading: ``(quantity, one formatted value per primary metric)``,
        one row per quantity (at most about ten), every number through :mod:`liftlab.format`."""
        rows: list[tuple[str, list[str]]] = []
        names = list(self.metrics)
        ss = [self.metrics[n] for n in names]
        disp = [self.displays.get(n, fmt.Display(n)) for n in names]
        src = [self.sources.get(n, {}) for n in names]
        rows.append(("baseline", [fmt.value(d, s.baseline) for d, s in zip(disp, ss, strict=True)]))
        rows.append(("baseline from", [_short_source(x.get("baseline")) for x in src]))
        if any(s.sd is not None for s in ss):
            rows.append(
                (
                    "sd",
                    [
                        fmt.value(d, s.sd) if s.sd is not None else fmt.DASH
                        for d, s in zip(disp, ss, strict=True)
                    ],
                )
            )
            rows.append(("sd from", [_short_source(x.get("sd")) for x in src]))
        if any(s.cuped_rho is not None for s in ss):
            rows.append(("CUPED ρ", [fmt.number(s.cuped_rho, 2) for s in ss]))
        rows.append(("MDE, relative", [fmt.percent(s.rel_mde, 1, sign=True) for s in ss]))
        rows.append(
            (
                "MDE, absolute",
                [fmt.effect_only(d, s.abs_mde, "absolute") for d, s in zip(disp, ss, strict=True)],
            )
        )
        rows.append((f"{self.nouns(2)} per variant", [_per_variant_text(s) for s in ss]))
        rows.append((f"{self.nouns(2)} in total", [fmt.count(s.total) for s in ss]))
        if self.method != "frequentist":
            rows.append(
                (
                    "fixed-horizon total",
                    [fmt.count(_total_units(s, s.total_exact_fixed)) for s in ss],
                )
            )
        if self.daily_units is not None:
            rows.append(("days", [_days_text(s) for s in ss]))
        return rows

    def inputs_text(self) -> list[tuple[str, str, str]]:
        """``(input, value, source)`` rows for reading: the settings, then each primary
        metric's baseline, sd and CUPED ``ρ`` with where they came from in full."""
        rows = [(i.name, i.value, i.source) for i in self.inputs]
        for name, ss in self.metrics.items():
            label = self.labels.get(name, name)
            disp = self.displays.get(name, fmt.Display(label))
            src = self.sources.get(name, {})
            rows.append((f"{label}: baseline", fmt.value(disp, ss.baseline), src["baseline"]))
            if ss.sd is not None and "sd" in src:
                rows.append((f"{label}: sd", fmt.value(disp, ss.sd), src["sd"]))
            if ss.cuped_rho is not None and "cuped_rho" in src:
                rows.append((f"{label}: CUPED ρ", fmt.number(ss.cuped_rho, 2), src["cuped_rho"]))
        return rows

    def to_frame(self) -> pd.DataFrame:
        """:meth:`table` as a pandas DataFrame indexed by metric."""
        import pandas as pd

        return pd.DataFrame(self.table()).set_index("metric")

    # ----- the trade-off between duration and the detectable effect ----------------------
    def mde_at(self, total: float) -> dict[str, float | None]:
        """The absolute effect each primary metric detects with ``total`` units in all arms,
        by the plan's method and power; ``None`` where no effect is within reach."""
        return {name: _mde_at(case, total) for name, case in self.cases.items()}

    def tradeoff(self, weeks: Sequence[float] = TRADEOFF_WEEKS) -> list[dict[str, Any]]:
        """Rows ``{weeks, days, total, n_per_variant, metric, label, abs_mde, rel_mde}``:
        the effect each primary metric detects after that many weeks at the daily traffic.

        ``n_per_variant`` is the control arm's units. Raises :class:`LiftlabError` without
        daily traffic.
        """
        if self.daily_units is None:
            raise LiftlabError(
                "the trade-off needs the daily traffic; give daily_units= or set "
                "design: {daily_units: ...} in the plan"
            )
        rows = []
        w_c = self.weights[self.control]
        for w in weeks:
            total = self.daily_units * 7 * float(w)
            for name, delta in self.mde_at(total).items():
                base = self.metrics[name].baseline
                rows.append(
                    {
                        "weeks": w,
                        "days": round(7 * float(w)),
                        "total": round(total),
                        "n_per_variant": round(total * w_c),
                        "metric": name,
                        "label": self.labels.get(name, name),
                        "abs_mde": delta,
                        "rel_mde": None if delta is None or base == 0 else delta / base,
                    }
                )
        return rows

    def reach(self, *, n_per_variant: float | None = None, weeks: float | None = None) -> Reach:
        """The effect each primary metric detects with ``n_per_variant`` units in the control
        arm (every arm under equal weights) or after ``weeks`` of the daily traffic."""
        if (n_per_variant is None) == (weeks is None):
            raise LiftlabError("give n_per_variant or weeks (one of them)")
        if weeks is not None:
            if self.daily_units is None:
                raise LiftlabError(
                    "weeks need the daily traffic; give daily_units= or set design: "
                    "{daily_units: ...} in the plan"
                )
            if not (math.isfinite(weeks) and weeks > 0):
                raise LiftlabError(f"weeks must be positive (got {weeks:g})")
            total = self.daily_units * 7 * weeks
        else:
            assert n_per_variant is not None
            total = n_per_variant / self.weights[self.control]
        deltas = self.mde_at(total)
        rows = [
            {
                "metric": name,
                "label": self.labels.get(name, name),
                "baseline": self.metrics[name].baseline,
                "abs_mde": delta,
                "rel_mde": None if delta is None else delta / self.metrics[name].baseline,
                "treatment": None if delta is None else self.metrics[name].baseline + delta,
            }
            for name, delta in deltas.items()
        ]
        return Reach(self, total, weeks, rows)

    # ----- charts ------------------------------------------------------------------------
    def power_curve(self, n_values: Sequence[float] | None = None) -> list[dict[str, Any]]:
        """Rows ``{metric, n_per_variant, total, power}`` for each primary metric, by the
        plan's method.

        ``n_per_variant`` is the control arm's units (every arm's under equal weights);
        default: 60 points from 0 to twice what the binding metric needs, plus that need.
        """
        if n_values is None:
            need = self.n_per_variant
            grid = np.linspace(0, 2 * need, CURVE_POINTS + 1)[1:]
            n_values = sorted({*(math.ceil(float(x)) for x in grid), need})
        w_c = self.weights[self.control]
        rows = []
        for name, ss in self.metrics.items():
            case = self.cases.get(name)
            curve = None
            if self.method not in ("frequentist", "group-sequential") and case is not None:
                curve = _method_curve(case, ss.abs_mde)
            rows += [
                {
                    "metric": name,
                    "label": self.labels.get(name, name),
                    "n_per_variant": n,
                    "total": round(n / w_c),
                    "power": ss.power_at(n) if curve is None else _read_curve(*curve, n / w_c),
                }
                for n in n_values
            ]
        return rows

    def chart(self) -> alt.LayerChart:
        """:func:`power_curve_chart` of :meth:`power_curve` with this design's targets."""
        return power_curve_chart(
            self.power_curve(), target_power=self.power, required_n=self.n_per_variant
        )

    def mde_chart(self, weeks: Sequence[float] = tuple(range(1, 9))) -> alt.LayerChart:
        """The relative MDE against weeks of traffic, one line per primary metric, with a
        rule at the plan's MDE (needs the daily traffic)."""
        rows = [r for r in self.tradeoff(weeks) if r["rel_mde"] is not None]
        target = self.mde if self.mde_type == "relative" else None
        return mde_chart(rows, target_mde=target)

    # ----- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: the sentence, the inputs and their sources, the totals, one row
        per primary metric, the trade-off (with daily traffic), warnings and the method's
        details; ``metrics`` holds each primary metric's full :class:`SampleSize`."""
        return {
            "experiment": self.experiment,
            "sentence": self.sentence(),
            "method": self.method,
            "method_text": self.method_text(),
            "unit": self.unit,
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
            "inputs": [i.to_dict() for i in self.inputs],
            "binding_metric": self.binding_metric,
            "per_variant": dict(self.per_variant),
            "total": self.total,
            "days": self.days,
            "weeks": self.weeks,
            "duration_days_rounded_to_weeks": self.duration_days_rounded_to_weeks,
            "sequential": None if self.sequential is None else dict(self.sequential),
            "test": self.test,
            "rows": self.table(),
            "tradeoff": self.tradeoff() if self.daily_units is not None else [],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "method_details": {k: dict(v) for k, v in self.method_details.items()},
            "metrics": [{"name": k, **v.to_dict()} for k, v in self.metrics.items()],
        }


@dataclass(frozen=True, slots=True)
class Reach:
    """The effect each primary metric detects with a given number of units.

    ``total`` is the units in all arms; ``weeks`` the weeks of daily traffic they take when
    the question was asked in weeks. ``rows`` hold, per primary metric, ``abs_mde`` and
    ``rel_mde`` (``None`` where no effect is within reach) and the treatment value.
    """

    design: PlanDesign
    total: float
    weeks: float | None
    rows: list[dict[str, Any]]

    @property
    def n_per_variant(self) -> int:
        return math.floor(
            self.total * self.design.weights[self.design.control] + ROUNDING_TOLERANCE
        )

    def sentence(self) -> str:
        """``With 5,000 users per variant (10,000 in total), the test detects +11.4% on
        signup rate (10.0% → 11.1%) with 80% power.``"""
        d = self.design
        if _equal_weights(d.weights):
            units = (
                f"{fmt.count(self.n_per_variant)} {d.nouns(self.n_per_variant)} per variant "
                f"({fmt.count(self.total)} in total)"
            )
        else:
            arms = ", ".join(f"{k} {fmt.count(self.total * w)}" for k, w in d.weights.items())
            units = f"{fmt.count(self.total)} {d.nouns(self.total)} ({arms})"
        if self.weeks is not None:
            assert d.daily_units is not None
            units = (
                f"In {self.weeks:g} week{'' if self.weeks == 1 else 's'} at "
                f"{fmt.count(d.daily_units)} a day, {units}"
            )
        else:
            units = "With " + units
        parts = []
        for r in self.rows:
            disp = d.displays.get(r["metric"], fmt.Display(r["label"]))
            if r["abs_mde"] is None:
                parts.append(f"no change within reach on {r['label']}")
            else:
                parts.append(
                    f"{fmt.percent(r['rel_mde'], 1, sign=True)} on {r['label']} "
                    f"({fmt.value(disp, r['baseline'])} → {fmt.value(disp, r['treatment'])})"
                )
        return (
            f"{units}, the {METHOD_WORDS[d.method].split(',')[0]} detects "
            f"{' and '.join(parts)} with {fmt.percent(d.power, 0)} power."
        )

    def table_text(self) -> list[tuple[str, list[str]]]:
        """``(quantity, one value per primary metric)`` rows for reading."""
        d = self.design
        disp = [d.displays.get(r["metric"], fmt.Display(r["label"])) for r in self.rows]
        return [
            (
                "baseline",
                [fmt.value(x, r["baseline"]) for x, r in zip(disp, self.rows, strict=True)],
            ),
            ("MDE, relative", [fmt.percent(r["rel_mde"], 1, sign=True) for r in self.rows]),
            (
                "MDE, absolute",
                [
                    fmt.effect_only(x, r["abs_mde"], "absolute")
                    for x, r in zip(disp, self.rows, strict=True)
                ],
            ),
            (
                "treatment",
                [fmt.value(x, r["treatment"]) for x, r in zip(disp, self.rows, strict=True)],
            ),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.design.experiment,
            "sentence": self.sentence(),
            "method": self.design.method,
            "n_per_variant": self.n_per_variant,
            "total": round(self.total),
            "weeks": self.weeks,
            "power": self.design.power,
            "rows": [dict(r) for r in self.rows],
            "inputs": [i.to_dict() for i in self.design.inputs],
            "warnings": list(self.design.warnings),
        }


# ----- design_plan ---------------------------------------------------------------------------
def design_plan(
    plan: Plan,
    *,
    daily_units: float | None = None,
    baseline: float | None = None,
    sd: float | None = None,
    history: Any = None,
    sequential: Mapping[str, Any] | None = None,
    test: Literal["z", "t"] = "z",
    alternative: Literal["two-sided", "one-sided"] = "two-sided",
    sources: Mapping[str, str] | None = None,
    history_first: bool = False,
) -> PlanDesign:
    """Size the test a plan describes by its method (see the module doc).

    Args:
        plan: the validated plan; its primary metrics are sized. Try other settings with
            ``plan.with_(mde=0.05, method="bayesian", ...)``.
        daily_units: overrides ``design.daily_units``.
        baseline, sd: override the primary metric's ``baseline:`` and ``baseline_sd:`` (only
            for a plan with one primary metric).
        history: a :class:`liftlab.history.History` (from
            :func:`liftlab.history.read_history`) or historical :class:`Moments` per metric
            name (``y`` the metric or a ratio's numerator; ``x`` a ratio's denominator or the
            CUPED covariate), for the values the plan does not give and for CUPED's ``ρ``.
        sequential: a group-sequential design, e.g. ``{"kind": "obrien-fleming", "looks": 4}``,
            instead of the plan's method.
        test: ``z`` or ``t`` (noncentral t) for mean metrics of a fixed-horizon or
            group-sequential design; others use the z test.
        alternative: ``two-sided`` (the analysis's) or ``one-sided``.
        sources: where settings came from when not from the plan, by name (``alpha``,
            ``power``, ``mde``, ``correction``, ``sample_size``, ``method``, ``daily_units``,
            ``baseline``, ``sd``), e.g. ``{"alpha": "--alpha"}``.
        history_first: the history's baseline and sd win over the plan's (a history asked
            for by name, as ``liftlab design --history``); ``baseline=``/``sd=`` still win.

    Raises :class:`PlanError` naming the field when a primary metric cannot be sized.
    """
    primary = _primary_metrics(plan, baseline, sd)
    src = dict(sources or {})
    moments, describe = _history(plan, history)
    if daily_units is None and plan.design is not None and plan.design.daily_units is not None:
        daily_units = plan.design.daily_units
        src.setdefault("daily_units", "plan (design.daily_units)")
    method = "group-sequential" if sequential is not None else method_of(plan)
    a = plan.analysis
    template = _plan_case(plan, len(primary), method, daily_units, test, alternative, sequential)
    sizes: dict[str, SampleSize] = {}
    details: dict[str, dict[str, Any]] = {}
    metric_sources: dict[str, dict[str, str]] = {}
    cases: dict[str, _Case] = {}
    notes: list[str] = []
    for i, metric in primary:
        past = moments.get(metric.name)
        p1, s, where = _baseline(plan, i, metric, baseline, sd, past, src, describe, history_first)
        case = _metric_case(template, metric, p1, s, _cuped_rho(metric, past, a.sample_size, notes))
        if case.rho is not None:
            where["cuped_rho"] = describe(metric.name, "cuped_rho")
        metric_sources[metric.name], cases[metric.name] = where, case
    cases = _tuned(plan, cases)
    for i, metric in primary:
        sizes[metric.name], details[metric.name] = _size_metric(plan, i, cases[metric.name])
    notes += _guardrail_notes(plan)
    binding = max(sizes, key=lambda k: sizes[k].total_exact)
    comparisons = template.comparisons
    return PlanDesign(
        experiment=plan.name,
        control=plan.control_name,
        treatments=tuple(plan.treatments),
        weights={n: plan.weights[n] for n in template.names},
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
        method=method,
        unit=plan.unit,
        method_details=details,
        inputs=_inputs(plan, method, daily_units, alternative, comparisons, src, sequential),
        sources=metric_sources,
        labels={m.name: m.label or fmt.label_of(m.name) for _, m in primary},
        displays={m.name: _display(plan, m) for _, m in primary},
        hypothesis_warnings=hypothesis_warnings(plan, src.get("mde")),
        cases=cases,
    )


def _primary_metrics(
    plan: Plan, baseline: float | None, sd: float | None
) -> list[tuple[int, Metric]]:
    """The primary metrics with their index in ``metrics:``; ``baseline=``/``sd=`` override
    the values of one, so a plan with several refuses them."""
    primary = [(i, m) for i, m in enumerate(plan.metrics) if m.role == "primary"]
    if (baseline is not None or sd is not None) and len(primary) != 1:
        raise LiftlabError(
            f"baseline=/sd= override one primary metric, but the plan has {len(primary)}; "
            "set baseline: and baseline_sd: on each metric in the plan instead",
            source=plan.source,
        )
    return primary


def _plan_case(
    plan: Plan,
    n_primary: int,
    method: str,
    daily_units: float | None,
    test: str,
    alternative: str,
    sequential: Mapping[str, Any] | None,
) -> _Case:
    """The plan's settings as a :class:`_Case` with no metric's values yet (those come from
    :func:`_metric_case`): a correction over every primary metric × treatment (none for the
    Bayesian method)."""
    a = plan.analysis
    names = (plan.control_name, *plan.treatments)
    return _Case(
        name="",
        metric_type="proportion",
        baseline=0.0,
        sd=None,
        rho=None,
        sign=1.0,
        alpha=a.alpha,
        power=a.power,
        alternative=alternative,
        names=names,
        weights=tuple(plan.weights[n] for n in names),
        correction="none" if method == "bayesian" else a.correction,
        comparisons=n_primary * len(plan.treatments),
        convention=a.sample_size,
        daily_units=daily_units,
        test=test,
        method=method,
        plan=plan,
        gs=None if sequential is None else dict(sequential),
    )


def _guardrail_notes(plan: Plan) -> list[str]:
    """A note that the guardrails, if any, are not sized."""
    guardrails = [m.name for m in plan.metrics if m.role == "guardrail"]
    if not guardrails:
        return []
    return [
        f"guardrails ({', '.join(guardrails)}) are tested for harm and not sized; "
        "the primary metrics set the duration"
    ]


def _metric_case(
    template: _Case, metric: Metric, baseline: float, sd: float | None, rho: float | None
) -> _Case:
    """The plan's settings (``template``) with one primary metric's values: its baseline,
    sd, CUPED ``ρ``, direction and the plan's MDE in absolute units."""
    a = template.plan.analysis
    sign = 1.0 if metric.direction == "increase" else -1.0
    return replace(
        template,
        name=metric.name,
        metric_type=metric.type,
        baseline=baseline,
        sd=sd,
        rho=rho,
        sign=sign,
        mde_delta=sign * (a.mde * baseline if a.mde_type == "relative" else a.mde),
        covariate=metric.covariate is not None,
    )


def _tuned(plan: Plan, cases: dict[str, _Case]) -> dict[str, _Case]:
    """An asymptotic confidence sequence is tuned at the planned units per arm, which the
    analysis takes from this design when the plan states no ``planned_n``
    (:func:`liftlab.progress.designed_n`, the binding metric's control arm) for every
    metric: the fixed point ``planned_n = n_control`` of the design, from the fixed-horizon
    tuning, in at most five steps."""
    first = next(iter(cases.values()))
    if first.method != "asymptotic-cs" or plan.analysis.sequential.planned_n is not None:
        return cases
    planned = None
    for _ in range(5):
        needs = []
        for c in cases.values():
            try:
                size = _size_always_valid(replace(c, planned_n=planned), c.mde_delta, c.power)
            except ValueError:
                continue  # sized (and its error raised) by _size_metric
            needs.append(round_up(size.total_exact * c.weights[0]))
        if not needs or max(needs) == planned:
            break
        planned = max(needs)
    return {name: replace(c, planned_n=planned) for name, c in cases.items()}


def _size_metric(plan: Plan, i: int, case: _Case) -> tuple[SampleSize, dict[str, Any]]:
    """The metric's :class:`SampleSize` by the method, and the method's details."""
    delta = case.mde_delta
    try:
        size = _SIZERS[case.method](case, delta, case.power)
        seq = _gs_spec(case) if case.method == "group-sequential" else None
        ss = case.fixed(delta, sequential=seq)
    except ValueError as exc:
        raise PlanError(str(exc), source=plan.source, field=f"metrics[{i}]") from None
    if case.method not in ("frequentist", "group-sequential"):
        ss = _rescaled(ss, size.total_exact, size.fixed_total_exact)
    return ss, size.details


def _gs_spec(case: _Case) -> dict[str, Any]:
    """The group-sequential design: the one given to :func:`design_plan`, else the plan's."""
    if case.gs is not None:
        return case.gs
    seq = case.plan.analysis.sequential
    return {"kind": seq.spending, "looks": seq.looks}


def _rescaled(ss: SampleSize, total_exact: float, fixed_total_exact: float) -> SampleSize:
    """``ss`` (a fixed-horizon size) with ``total_exact`` units in all, split by the weights
    and each arm rounded up; the days are the method's own, ``⌈total_exact / daily units⌉``
    (an always-valid size with daily looks is whole days of traffic)."""
    exact = {k: total_exact * w for k, w in ss.weights.items()}
    per = {k: round_up(x) for k, x in exact.items()}
    names = list(per)
    total = sum(per.values())
    days = weeks = None
    if ss.daily_units is not None:  # the method's own days: a daily-look size is whole days
        days = math.ceil(total_exact / ss.daily_units - 1e-6)
        weeks = round_up(days / 7)
    return replace(
        ss,
        per_variant=per,
        per_variant_exact=exact,
        n_control=per[names[0]],
        n_treatment=max(per[n] for n in names[1:]),
        total=total,
        total_exact=total_exact,
        days=days,
        weeks=weeks,
        duration_days_rounded_to_weeks=None if weeks is None else 7 * weeks,
        inflation=total_exact / fixed_total_exact,
        total_exact_fixed=fixed_total_exact,
    )


# ----- inputs and where they came from ------------------------------------------------------
def _history(plan: Plan, history: Any) -> tuple[dict[str, Moments], Callable[[str, str], str]]:
    """The historical moments per metric and a function naming the source of a quantity.

    ``history`` is a :class:`liftlab.history.History` (``moments``, ``sources``, ``label``,
    ``units``) or a mapping of metric names to :class:`Moments`.
    """
    if history is None:
        return {}, lambda name, quantity: "history"
    moments = getattr(history, "moments", history)
    if not isinstance(moments, Mapping):
        raise LiftlabError(
            f"history is a {type(history).__name__}; give a History (liftlab.history."
            "read_history) or Moments keyed by metric name",
            source=plan.source,
        )
    checked = _check_history(plan, moments)
    label = getattr(history, "label", None)
    units = getattr(history, "units", None)
    words = getattr(history, "sources", None) or {}

    def describe(name: str, quantity: str) -> str:
        said = words.get(name, {}).get(quantity) if isinstance(words, Mapping) else None
        if said:  # the history's own words name its table and units
            return f"history: {said}"
        n = units if units is not None else checked[name].n
        where = f"{label}, " if label else ""
        return f"history ({where}{fmt.count(n)} {unit_noun(plan.unit, n)})"

    return checked, describe


def _check_history(plan: Plan, history: Mapping[str, Any]) -> dict[str, Moments]:
    """``history`` as a dict, every key a metric of the plan and every value Moments."""
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


def _setting_source(plan: Plan, name: str, sources: Mapping[str, str], field_path: str) -> str:
    """A flag's name, ``plan (field)`` when the plan sets it, else ``default (field)``."""
    if name in sources:
        return sources[name]
    where, _, key = field_path.rpartition(".")
    node: Any = plan
    for part in where.split(".") if where else []:
        node = getattr(node, part)
    return f"{'plan' if key in node.model_fields_set else 'default'} ({field_path})"


def _inputs(
    plan: Plan,
    method: str,
    daily_units: float | None,
    alternative: str,
    comparisons: int,
    sources: Mapping[str, str],
    sequential: Mapping[str, Any] | None,
) -> tuple[DesignInput, ...]:
    """The settings the design used, each with its source."""
    a = plan.analysis

    def src(name: str, path: str) -> str:
        return _setting_source(plan, name, sources, path)

    if sequential is not None:
        how = f"group-sequential ({sequential.get('kind')})"
        rows = [DesignInput("method", how, "sequential= argument")]
    else:
        rows = [DesignInput("method", METHOD_WORDS[method], src("method", "analysis.method"))]
    if method == "group-sequential" and sequential is None:
        seq = a.sequential
        kind = f"{seq.spending} spending, {seq.looks} looks"
        rows.append(DesignInput("sequential", kind, src("", "analysis.sequential.spending")))
    mde = (
        fmt.percent(a.mde, _exact_decimals(100 * a.mde), sign=True) + " relative"
        if a.mde_type == "relative"
        else fmt.number(a.mde, _exact_decimals(a.mde), sign=True) + " absolute"
    )
    rows.append(DesignInput("MDE", mde, src("mde", "analysis.mde")))
    rows.append(DesignInput("power", fmt.percent(a.power, 0), src("power", "analysis.power")))
    if method == "bayesian":
        b = a.bayesian
        rows.append(
            DesignInput(
                "ship threshold",
                f"{fmt.percent(b.ship_threshold, 0)} chance to beat control",
                src("", "analysis.bayesian.ship_threshold"),
            )
        )
        prior = "flat" if b.prior_sd is None else f"N({b.prior_mean:g}, {b.prior_sd:g}²) {b.effect}"
        rows.append(DesignInput("prior", prior, src("", "analysis.bayesian.prior_sd")))
        return (*rows, *_traffic_input(daily_units, sources))
    alpha = f"{a.alpha:g} {alternative}"
    rows.append(DesignInput("alpha", alpha, src("alpha", "analysis.alpha")))
    family = f"{comparisons} comparison{'' if comparisons == 1 else 's'}"
    corr = f"{a.correction} over {family}" + (
        "" if a.correction == "none" or comparisons == 1 else ", sized as Bonferroni"
    )
    rows.append(DesignInput("correction", corr, src("correction", "analysis.correction")))
    if method == "frequentist" or a.sample_size != "unpooled":
        rows.append(
            DesignInput("formula", a.sample_size, src("sample_size", "analysis.sample_size"))
        )
    return (*rows, *_traffic_input(daily_units, sources))


def _traffic_input(daily_units: float | None, sources: Mapping[str, str]) -> list[DesignInput]:
    if daily_units is None:
        return [DesignInput("daily traffic", fmt.DASH, "not given (design.daily_units)")]
    return [
        DesignInput(
            "daily traffic", fmt.count(daily_units), sources.get("daily_units", "daily_units=")
        )
    ]


def hypothesis_warnings(plan: Plan, mde_source: str | None = None) -> tuple[str, ...]:
    """A warning when the lift the hypothesis states (the first percentage in
    ``plan.hypothesis``, e.g. "by at least 5% relative") is not ``analysis.mde``."""
    found = _HYPOTHESIS_LIFT.search(plan.hypothesis)
    a = plan.analysis
    if found is None or a.mde_type != "relative":
        return ()
    stated = float(found.group(1)) / 100
    if math.isclose(stated, a.mde, rel_tol=1e-9):
        return ()
    where = mde_source or "analysis.mde"
    said = fmt.percent(stated, _exact_decimals(100 * stated))
    sized = fmt.percent(a.mde, _exact_decimals(100 * a.mde))
    return (f"hypothesis says {said}, the plan is sized for {where} = {sized}",)


def _baseline(
    plan: Plan,
    i: int,
    metric: Metric,
    baseline: float | None,
    sd: float | None,
    past: Moments | None,
    sources: Mapping[str, str],
    describe: Callable[[str, str], str],
    history_first: bool = False,
) -> tuple[float, float | None, dict[str, str]]:
    """The control value (and sd for a mean or ratio metric) to size ``metrics[i]`` on, and
    where each came from."""
    where = f"metrics[{i}]"
    ratio = metric.type == "ratio"
    src: dict[str, str] = {}
    if baseline is not None:
        p1, src["baseline"] = baseline, sources.get("baseline", "baseline=")
    elif metric.baseline is not None and not (history_first and past is not None):
        p1, src["baseline"] = metric.baseline, f"plan ({where}.baseline)"
    elif past is not None:
        p1 = _from_history(plan, i, metric, "baseline", past)
        src["baseline"] = describe(metric.name, "baseline")
    else:
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
        if sd is not None:
            raise PlanError(
                f"{sources.get('sd', 'sd=')} applies to mean and ratio metrics; '{metric.name}' is a proportion, whose "
                "spread follows from its baseline: drop the sd",
                source=plan.source,
                field=where,
            )
        return p1, None, src
    if sd is not None:
        s, src["sd"] = sd, sources.get("sd", "sd=")
    elif metric.baseline_sd is not None and not (history_first and past is not None):
        s, src["sd"] = metric.baseline_sd, f"plan ({where}.baseline_sd)"
    elif past is not None:
        s = _from_history(plan, i, metric, "baseline_sd", past)
        src["sd"] = describe(metric.name, "sd")
    else:
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
    return p1, s, src


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


# ----- small helpers ---------------------------------------------------------------------------
def unit_noun(unit: str, n: float = 2) -> str:
    """The plan's ``unit`` column as a noun for readers: ``user_id`` → ``users`` (``user`` for
    one), ``session`` → ``sessions``, ``unit`` → ``units``."""
    word = re.sub(r"[_\s]*id$", "", unit.strip(), flags=re.IGNORECASE) or unit
    word = word.replace("_", " ")
    if n == 1 or word.endswith("s"):
        return word
    return word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"


def _short_source(source: str | None) -> str:
    """``plan``, ``history`` or the flag: a source without its details."""
    if source is None:
        return fmt.DASH
    return re.split(r"[ :(]", source, maxsplit=1)[0]


def _exact_decimals(x: float) -> int:
    """The fewest decimals (up to 4) that print ``x`` exactly."""
    for d in range(5):
        if math.isclose(round(x, d), x, rel_tol=1e-12, abs_tol=1e-12):
            return d
    return 4


def _display(plan: Plan, metric: Metric) -> fmt.Display:
    from liftlab.decision import display_of

    return display_of(plan, metric.name)


def _equal_weights(weights: Mapping[str, float]) -> bool:
    return max(weights.values()) - min(weights.values()) < 1e-6


def _arm_units(ss: SampleSize, total_exact: float | None) -> float | None:
    """The largest arm's units (rounded up) when ``total_exact`` units are split by weight."""
    if total_exact is None:
        return None
    return max(round_up(total_exact * w) for w in ss.weights.values())


def _total_units(ss: SampleSize, total_exact: float | None) -> int | None:
    """The units in all arms, each arm rounded up, for ``total_exact`` split by weight."""
    if total_exact is None:
        return None
    return sum(round_up(total_exact * w) for w in ss.weights.values())


def _per_variant_text(ss: SampleSize) -> str:
    if _equal_weights(ss.weights):
        return fmt.count(max(ss.per_variant.values()))
    return ", ".join(f"{k} {fmt.count(v)}" for k, v in ss.per_variant.items())


def _days_text(ss: SampleSize) -> str:
    if ss.days is None:
        return fmt.DASH
    return f"{ss.days} ({ss.weeks} week{'' if ss.weeks == 1 else 's'})"


def _effect_bounds(case: _Case) -> tuple[float, float]:
    """The range of ``|δ|`` searched for an MDE: from a millionth of the scale up to what
    keeps a rate inside (0, 1), or a thousand times the scale for a mean or ratio."""
    if case.metric_type == "proportion":
        room = 1 - case.baseline if case.sign > 0 else case.baseline
        return room * 1e-6, room * (1 - 1e-6)
    scale = max(abs(case.baseline), case.sd or 0.0)
    return scale * 1e-6, scale * 1e3


def _mde_at(case: _Case, total: float) -> float | None:
    """The absolute effect (signed by the metric's direction) the method detects with
    ``total`` units: the root of ``N(δ) = total`` in ``log|δ|`` by ``brentq``; ``None`` when
    even the largest effect needs more units."""
    lo, hi = _effect_bounds(case)
    sizer = _SIZERS[case.method]

    def excess(log_d: float) -> float:
        try:
            need = sizer(case, case.sign * math.exp(log_d), case.power).total_exact
        except ValueError:  # beyond what the method can size: far more than any traffic
            return 1e3
        return math.log(need / total)

    try:
        if excess(math.log(hi)) > 0:
            return None
        if excess(math.log(lo)) < 0:
            return case.sign * lo
        root = optimize.brentq(excess, math.log(lo), math.log(hi), xtol=1e-6, rtol=1e-6)
    except (ValueError, ArithmeticError):
        return None
    return case.sign * math.exp(float(root))


def _read_curve(totals: list[float], powers: list[float], total: float) -> float:
    if not totals:
        return math.nan
    return float(np.interp(total, totals, powers))


CURVE_POWERS = (0.02, *np.round(np.arange(0.05, 0.951, 0.05), 2).tolist(), 0.975, 0.99)


def _method_curve(case: _Case, delta: float) -> tuple[list[float], list[float]]:
    """``(N, power)`` pairs of a method without a power formula: the ``N`` the method needs
    for each power of :data:`CURVE_POWERS` (one sizing each), increasing in ``N``."""
    sizer = _SIZERS[case.method]
    points = []
    for p in CURVE_POWERS:
        try:
            points.append((sizer(case, delta, float(p)).total_exact, float(p)))
        except ValueError:  # a power below what the method can size (its level)
            continue
    points.sort()
    totals, powers = [0.0], [0.0]
    for n, p in points:  # sizes in whole days repeat: the most power a size reaches
        if n == totals[-1]:
            powers[-1] = max(powers[-1], p)
        elif p > powers[-1]:
            totals.append(n)
            powers.append(p)
    return (totals, powers) if len(totals) > 1 else ([], [])


def power_curve_chart(
    rows: Sequence[dict[str, Any]],
    *,
    target_power: float | None = None,
    required_n: float | None = None,
) -> alt.LayerChart:
    """Power against units per variant, one line per metric, rules at the target and the need.

    ``rows`` are :meth:`PlanDesign.power_curve` rows (``metric``, ``n_per_variant``,
    ``total``, ``power``; the metric's ``label`` names its line when the rows have one).
    """
    import altair as alt  # charts only: planning from the command line does not load Altair

    from liftlab import theme

    key = "label" if rows and all("label" in r for r in rows) else "metric"
    data = alt.Data(values=[dict(r) for r in rows])
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("n_per_variant:Q", title="Units per variant"),
            y=alt.Y(
                "power:Q", title="Power", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            color=alt.Color(f"{key}:N", title="Metric"),
            tooltip=[
                alt.Tooltip(f"{key}:N", title="metric"),
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


def mde_chart(rows: Sequence[dict[str, Any]], *, target_mde: float | None = None) -> alt.LayerChart:
    """The relative MDE against weeks of traffic, one line per metric (its ``label``), with a
    dashed rule at ``target_mde``. ``rows`` are :meth:`PlanDesign.tradeoff` rows."""
    import altair as alt

    from liftlab import theme

    values = [{**r, "rel_mde_abs": abs(r["rel_mde"])} for r in rows if r.get("rel_mde") is not None]
    line = (
        alt.Chart(alt.Data(values=values))
        .mark_line(point=True)
        .encode(
            x=alt.X("weeks:Q", title="Weeks of traffic", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(
                "rel_mde_abs:Q",
                title=theme.axis_title("Smallest detectable change (relative)", 300),
                axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=True),
            ),
            color=alt.Color(
                "label:N", title="Metric", legend=alt.Legend(labelLimit=theme.LEGEND_LABEL_LIMIT)
            ),
            tooltip=[
                alt.Tooltip("label:N", title="metric"),
                alt.Tooltip("weeks:Q"),
                alt.Tooltip("total:Q", title="units in total", format=","),
                alt.Tooltip("rel_mde:Q", title="MDE (relative)", format="+.1%"),
            ],
        )
    )
    layers: list[alt.Chart] = [line]
    if target_mde is not None:
        layers.append(
            alt.Chart(alt.Data(values=[{"rel_mde_abs": abs(target_mde)}]))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(y="rel_mde_abs:Q")
        )
    chart = alt.LayerChart(
        layer=layers,
        title=theme.title("The smallest change the test detects, by weeks of traffic"),
        width=theme.WIDTH,
        height=300,
    )
    return theme.configure(chart)
