"""Sample size, MDE and power (liftlab.stats.power) and plan design (liftlab.design).

Every expected number is computed here from an independent reference:

- statsmodels ``NormalIndPower`` (``ratio`` is n2/n1) with ``proportion_effectsize`` (Cohen's
  h) for the arcsine convention, and with the standardised effect ``δ/σ̄``,
  ``σ̄ = sqrt((p1q1 + p2q2)/2)``, for the unpooled one; with ``δ/sd`` for means.
  statsmodels' two-sided power also counts the wrong-side tail, which liftlab leaves out
  (module doc), so the exact comparison uses its one-sided ``larger`` test at ``α/2``, the
  same main tail; the two-sided answer is checked to the few parts in a million that tail is
  worth.
- the closed form of R's ``power.prop.test`` (stats package, ``strict = FALSE``; Fleiss,
  Levin & Paik, 2003, §4.2) for the pooled convention, and Fleiss et al. §4.4 for unequal
  allocation.

Reference case: baseline 20%, +5 points, α = 0.05 two-sided, power 0.8 → unpooled 1,091
(1090.99), pooled 1,094 (1093.74), arcsine 1,092 (1091.90) per variant.

The extensions are checked the same way:

- ratio metrics: the linearised sd against ``std((y − R·x)/x̄)`` of the same units, the design
  against the mean formula and ``NormalIndPower`` at ``δ/σ_lin``, and a simulation of 2,000
  experiments (clicks binomial in impressions, impressions 1 + Poisson(4)) whose delta-method
  z-test must reach the target power within a 99% binomial interval;
- CUPED: ``N`` times exactly ``1 − ρ²``, ``ρ`` against ``numpy.corrcoef``;
- non-inferiority: ``NormalIndPower(alternative="larger")`` at ``α`` with the effect
  ``(Δ_true − margin)/σ``, and the closed form of Chow, Shao & Wang (2008) §4.2 for unequal arms;
- the t test: statsmodels ``tt_ind_solve_power`` (pooled df ``n1 + n2 − 2``, equal to Welch's
  df with equal arms and variances), and the noncentral-t power written out with
  ``scipy.stats.nct`` and Welch's df for unequal arms;
- sequential designs: the inflation factor of :mod:`liftlab.stats.sequential`, and for two looks
  an independent computation in this file (Lan–DeMets spending, boundaries and power by
  ``scipy.integrate.quad`` over the bivariate normal of the two z statistics).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

import liftlab.stats.power as power_module
from liftlab.design import design_plan, power_curve_chart
from liftlab.errors import LiftlabError, PlanError
from liftlab.plan import Plan, parse_plan
from liftlab.stats.moments import Moments
from liftlab.stats.power import (
    SampleSize,
    cuped_rho_from_moments,
    mde,
    power_at,
    ratio_sd_from_moments,
    sample_size,
)
from liftlab.stats.sequential import sample_size_inflation

REL = 1e-6
P1, P2, ALPHA, POWER = 0.2, 0.25, 0.05, 0.8


def z(q: float) -> float:
    return float(sps.norm.ppf(q))


def sm_n1(
    effect: float, *, alpha: float = ALPHA, power: float = POWER, ratio: float = 1.0
) -> float:
    """statsmodels NormalIndPower nobs1, main tail only (one-sided ``larger`` at α/2)."""
    return float(
        NormalIndPower().solve_power(
            effect, alpha=alpha / 2, power=power, ratio=ratio, alternative="larger"
        )
    )


def r_power_prop_test_n(p1: float, p2: float, alpha: float, power: float) -> float:
    """R ``power.prop.test(p1=, p2=, sig.level=, power=)$n``, its closed form (strict=FALSE).

    ``n = (qnorm(1-α/2)·sqrt((p1+p2)·(q1+q2)/2) + qnorm(power)·sqrt(p1q1+p2q2))² / (p1-p2)²``.
    """
    q1, q2 = 1 - p1, 1 - p2
    num = z(1 - alpha / 2) * math.sqrt((p1 + p2) * (q1 + q2) / 2) + z(power) * math.sqrt(
        p1 * q1 + p2 * q2
    )
    return num**2 / (p1 - p2) ** 2


def ref(convention: str, **kw: Any) -> SampleSize:
    args: dict[str, Any] = {
        "metric_type": "proportion",
        "baseline": P1,
        "mde": P2 - P1,
        "mde_type": "absolute",
        "convention": convention,
    }
    args.update(kw)
    return sample_size(**args)


# ----- reference numbers ---------------------------------------------------------------------
def test_unpooled_reference_matches_statsmodels() -> None:
    s = sample_size(metric_type="proportion", baseline=P1, mde=0.05, mde_type="absolute")
    sigma_bar = math.sqrt((P1 * (1 - P1) + P2 * (1 - P2)) / 2)
    expected = sm_n1((P2 - P1) / sigma_bar)
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    assert s.per_variant_exact["control"] == pytest.approx(1090.99, abs=0.01)
    assert s.per_variant == {"control": 1091, "treatment": 1091}
    assert s.n_control == s.n_treatment == math.ceil(expected) == 1091
    assert s.total == 2182
    # statsmodels' two-sided answer also counts the wrong-side tail: a few parts in a million.
    two_sided = NormalIndPower().solve_power((P2 - P1) / sigma_bar, alpha=ALPHA, power=POWER)
    assert s.per_variant_exact["control"] == pytest.approx(two_sided, rel=1e-5)


def test_relative_mde_is_the_same_design() -> None:
    s = sample_size(metric_type="proportion", baseline=P1, mde=0.25)
    assert s.treatment == pytest.approx(P2)
    assert s.abs_mde == pytest.approx(0.05)
    assert s.n_control == 1091


def test_pooled_reference_matches_r_power_prop_test() -> None:
    s = sample_size(
        metric_type="proportion", baseline=P1, mde=0.05, mde_type="absolute", convention="pooled"
    )
    expected = r_power_prop_test_n(P1, P2, ALPHA, POWER)
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    assert s.per_variant_exact["control"] == pytest.approx(1093.74, abs=0.01)
    assert s.n_control == s.n_treatment == math.ceil(expected) == 1094


def test_arcsine_reference_matches_statsmodels_cohens_h() -> None:
    s = sample_size(
        metric_type="proportion", baseline=P1, mde=0.05, mde_type="absolute", convention="arcsine"
    )
    h = float(proportion_effectsize(P2, P1))
    expected = sm_n1(h)
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    assert s.per_variant_exact["control"] == pytest.approx(1091.90, abs=0.01)
    assert s.n_control == math.ceil(expected) == 1092
    two_sided = NormalIndPower().solve_power(h, alpha=ALPHA, power=POWER, ratio=1)
    assert s.per_variant_exact["control"] == pytest.approx(two_sided, rel=1e-5)
    assert math.ceil(two_sided) == 1092


@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
def test_mean_matches_statsmodels(alternative: str) -> None:
    sd, base, delta = 12.0, 40.0, 1.5
    s = sample_size(
        metric_type="mean",
        baseline=base,
        mde=delta,
        mde_type="absolute",
        sd=sd,
        alternative=alternative,
    )
    a = ALPHA if alternative == "one-sided" else ALPHA / 2
    expected = float(
        NormalIndPower().solve_power(delta / sd, alpha=a, power=POWER, alternative="larger")
    )
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    assert s.n_control == math.ceil(expected - 1e-9)
    # The t-test needs a unit or two more than the normal approximation at this size.
    t_n = float(tt_ind_solve_power(delta / sd, alpha=a * 2, power=POWER, alternative="two-sided"))
    if alternative == "two-sided":
        assert 0 < t_n - s.per_variant_exact["control"] < 2


# ----- unequal allocation --------------------------------------------------------------------
@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.6, 0.4), (0.8, 0.2)])
def test_unequal_allocation_mean_matches_statsmodels_ratio(weights: tuple[float, float]) -> None:
    sd, delta = 3.0, 0.4
    s = sample_size(
        metric_type="mean", baseline=10, mde=delta, mde_type="absolute", sd=sd, weights=weights
    )
    ratio = weights[1] / weights[0]
    n1 = sm_n1(delta / sd, ratio=ratio)
    assert s.per_variant_exact["control"] == pytest.approx(n1, rel=REL)
    assert s.per_variant_exact["treatment"] == pytest.approx(n1 * ratio, rel=REL)
    assert s.per_variant == {"control": math.ceil(n1), "treatment": math.ceil(n1 * ratio)}
    assert s.total == s.n_control + s.n_treatment


@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.6, 0.4)])
def test_unequal_allocation_arcsine_matches_statsmodels_ratio(
    weights: tuple[float, float],
) -> None:
    s = ref("arcsine", weights=weights)
    ratio = weights[1] / weights[0]
    n1 = sm_n1(float(proportion_effectsize(P2, P1)), ratio=ratio)
    assert s.per_variant_exact["control"] == pytest.approx(n1, rel=REL)
    assert s.per_variant_exact["treatment"] == pytest.approx(n1 * ratio, rel=REL)


@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.6, 0.4)])
def test_unequal_allocation_unpooled_gives_target_power(weights: tuple[float, float]) -> None:
    """The z-test with each arm's own variance, at the unrounded arms, has exactly the power."""
    s = ref("unpooled", weights=weights)
    n_c, n_t = s.per_variant_exact["control"], s.per_variant_exact["treatment"]
    se = math.sqrt(P1 * (1 - P1) / n_c + P2 * (1 - P2) / n_t)
    assert n_t / n_c == pytest.approx(weights[1] / weights[0])
    assert sps.norm.cdf((P2 - P1) / se - z(1 - ALPHA / 2)) == pytest.approx(POWER, rel=1e-9)


@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.6, 0.4)])
def test_unequal_allocation_pooled_matches_fleiss(weights: tuple[float, float]) -> None:
    """Fleiss, Levin & Paik (2003) §4.4: n_t = r·n_c, p̄ = (p1 + r·p2)/(1 + r)."""
    s = ref("pooled", weights=weights)
    r = weights[1] / weights[0]
    p_bar = (P1 + r * P2) / (1 + r)
    num = z(1 - ALPHA / 2) * math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / r)) + z(POWER) * math.sqrt(
        P1 * (1 - P1) + P2 * (1 - P2) / r
    )
    n_c = num**2 / (P2 - P1) ** 2
    assert s.per_variant_exact["control"] == pytest.approx(n_c, rel=REL)


# ----- inverses and properties ---------------------------------------------------------------
CONVENTIONS = ["unpooled", "pooled", "arcsine"]


@settings(max_examples=150, deadline=None)
@given(
    baseline=st.floats(0.005, 0.95),
    rel=st.floats(0.01, 2.0),
    convention=st.sampled_from(CONVENTIONS),
    w_c=st.sampled_from([0.5, 0.2, 0.65]),
)
def test_mde_inverts_sample_size(baseline: float, rel: float, convention: str, w_c: float) -> None:
    assume(baseline * (1 + rel) < 0.995)
    kw: dict[str, Any] = {
        "metric_type": "proportion",
        "baseline": baseline,
        "convention": convention,
        "weights": (w_c, 1 - w_c),
    }
    s = sample_size(mde=rel, **kw)
    back = mde(n_per_variant=s.per_variant_exact["control"], **kw)
    assert back == pytest.approx(rel, rel=1e-7)
    # With the rounded-up units the detectable effect can only be smaller.
    assert mde(n_per_variant=s.n_control, **kw) <= rel * (1 + 1e-9)
    assert power_at(mde=rel, n_per_variant=s.n_control, **kw) >= POWER - 1e-12
    assert power_at(mde=rel, total=s.total_exact, **kw) == pytest.approx(POWER, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(sd=st.floats(0.1, 100), rel=st.floats(0.001, 0.5), arms=st.integers(2, 5))
def test_mde_inverts_sample_size_for_means(sd: float, rel: float, arms: int) -> None:
    kw: dict[str, Any] = {
        "metric_type": "mean",
        "baseline": 20.0,
        "sd": sd,
        "arms": arms,
        "correction": "holm",
    }
    s = sample_size(mde=rel, **kw)
    back = mde(total=s.total_exact, **kw)
    assert back == pytest.approx(rel, rel=1e-9)
    assert power_at(mde=rel, n_per_variant=s.n_control, **kw) >= POWER


def test_mde_absolute_and_relative_agree() -> None:
    kw: dict[str, Any] = {"metric_type": "proportion", "baseline": 0.1, "n_per_variant": 5000}
    assert mde(mde_type="absolute", **kw) == pytest.approx(0.1 * mde(**kw))


def test_mde_too_few_units_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="even a rate of 100%"):
        mde(metric_type="proportion", baseline=0.9, n_per_variant=3)
    with pytest.raises(ValueError, match="even a rate of 100%"):
        mde(metric_type="proportion", baseline=0.9, n_per_variant=3, convention="arcsine")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_monotone(convention: str) -> None:
    base = sample_size(metric_type="proportion", baseline=0.1, mde=0.1, convention=convention)

    def n(**kw: Any) -> float:
        args: dict[str, Any] = {
            "metric_type": "proportion",
            "baseline": 0.1,
            "mde": 0.1,
            "convention": convention,
        }
        args.update(kw)
        return sample_size(**args).total_exact

    assert n(power=0.9) > base.total_exact
    assert n(mde=0.05) > base.total_exact
    assert n(alpha=0.01) > base.total_exact
    assert n(alternative="one-sided") < base.total_exact


def test_one_sided_uses_z_one_minus_alpha() -> None:
    one = sample_size(metric_type="proportion", baseline=P1, mde=0.25, alternative="one-sided")
    two_at_double = sample_size(metric_type="proportion", baseline=P1, mde=0.25, alpha=2 * ALPHA)
    assert one.total_exact == pytest.approx(two_at_double.total_exact, rel=1e-12)


@pytest.mark.parametrize("correction", ["bonferroni", "holm", "hochberg", "bh", "by"])
@pytest.mark.parametrize("arms", [3, 4])
def test_multi_arm_is_two_arm_at_bonferroni_alpha(correction: str, arms: int) -> None:
    multi = sample_size(
        metric_type="proportion", baseline=P1, mde=0.25, arms=arms, correction=correction
    )
    two = sample_size(metric_type="proportion", baseline=P1, mde=0.25, alpha=ALPHA / (arms - 1))
    assert multi.alpha_per_comparison == pytest.approx(ALPHA / (arms - 1))
    assert multi.comparisons == arms - 1
    assert set(multi.per_variant.values()) == {two.n_control}
    assert multi.total == arms * two.n_control
    assert list(multi.per_variant) == ["control", *(f"treatment_{i}" for i in range(1, arms))]


def test_multi_arm_without_correction_is_two_arm_per_variant() -> None:
    multi = sample_size(metric_type="proportion", baseline=P1, mde=0.25, arms=3)
    assert multi.alpha_per_comparison == ALPHA
    assert multi.n_control == 1091 and multi.total == 3 * 1091


def test_multi_arm_smallest_treatment_binds() -> None:
    s = sample_size(metric_type="mean", baseline=1, mde=0.1, sd=1, arms=3, weights=(0.4, 0.4, 0.2))
    n1 = sm_n1(0.1, ratio=0.2 / 0.4)
    assert s.per_variant_exact["control"] == pytest.approx(n1, rel=REL)
    assert s.n_treatment == s.per_variant["treatment_1"] > s.per_variant["treatment_2"]


def test_days_and_weeks() -> None:
    s = sample_size(metric_type="proportion", baseline=P1, mde=0.25, daily_units=300)
    assert (s.total, s.days, s.weeks) == (2182, 8, 2)  # 2182/300 = 7.27 days
    exact = sample_size(metric_type="proportion", baseline=P1, mde=0.25, daily_units=1091)
    assert (exact.days, exact.weeks) == (2, 1)  # an exact number of days is not bumped
    week = sample_size(metric_type="proportion", baseline=P1, mde=0.25, daily_units=2182 / 7)
    assert (week.days, week.weeks) == (7, 1)
    assert sample_size(metric_type="proportion", baseline=P1, mde=0.25).days is None


def test_exact_integers_are_not_rounded_up() -> None:
    # n = 2·(z_a + z_b)²·sd²/δ² per arm; choose δ so that n is exactly 1000.
    zs = z(1 - ALPHA / 2) + z(POWER)
    delta = zs * math.sqrt(2 / 1000)
    s = sample_size(metric_type="mean", baseline=5, mde=delta, mde_type="absolute", sd=1)
    assert s.n_control == 1000


def test_to_dict_is_plain_json() -> None:
    s = sample_size(metric_type="proportion", baseline=P1, mde=0.25, daily_units=500)
    d = json.loads(json.dumps(s.to_dict()))
    assert d["per_variant"] == {"control": 1091, "treatment": 1091}
    assert d["days"] == 5 and d["weeks"] == 1 and d["convention"] == "unpooled"


def test_decrease_is_sized_on_its_own_variance() -> None:
    down = sample_size(metric_type="proportion", baseline=0.25, mde=-0.05, mde_type="absolute")
    assert down.treatment == pytest.approx(0.2)
    assert down.n_control == 1091  # the same pair of rates as the reference


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"baseline": 1.2}, "must lie between 0 and 1"),
        ({"baseline": 0.9, "mde": 0.2}, "outside \\(0, 1\\)"),
        ({"mde": 0}, "non-zero effect"),
        ({"metric_type": "mean"}, "needs sd"),
        ({"metric_type": "mean", "sd": 1, "convention": "pooled"}, "for proportions"),
        ({"sd": 0.4}, "sd applies to mean metrics"),
        ({"weights": (0.5, 0.4)}, "must sum to 1"),
        ({"weights": (0.5, 0.5), "arms": 3}, "one weight per arm"),
        ({"correction": "holmes"}, "unknown correction"),
        ({"alpha": 1.5}, "alpha"),
        ({"power": 1}, "power"),
        ({"convention": "exact"}, "convention 'exact'"),
        ({"daily_units": 0}, "daily_units"),
        ({"arms": 1}, "at least 2"),
    ],
)
def test_input_errors_speak_to_the_analyst(kw: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"metric_type": "proportion", "baseline": 0.2, "mde": 0.1}
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        sample_size(**args)


# ----- design_plan -------------------------------------------------------------------------
def make_plan(metrics: list[dict[str, Any]], **extra: Any) -> Plan:
    raw: dict[str, Any] = {
        "name": "landing-headline",
        "kind": "landing_page",
        "hypothesis": "A benefit-led headline lifts signups.",
        "variants": {"control": {"weight": 0.5}, "benefit": {"weight": 0.5}},
        "data": {"units": "x.parquet"},
        "metrics": metrics,
        "analysis": {"alpha": 0.05, "power": 0.8, "mde": 0.25, "correction": "holm"},
        "design": {"daily_units": 300},
    }
    raw.update(extra)
    return parse_plan(raw)


SIGNUP = {
    "name": "signup_rate",
    "role": "primary",
    "type": "proportion",
    "column": "signed_up",
    "baseline": 0.2,
}
CTR = {
    "name": "ctr",
    "role": "primary",
    "type": "ratio",
    "numerator": "clicks",
    "denominator": "impressions",
}


def test_design_plan_single_metric() -> None:
    d = design_plan(make_plan([SIGNUP]))
    assert d.comparisons == 1 and d.binding_metric == "signup_rate"
    assert d.per_variant == {"control": 1091, "benefit": 1091}
    assert (d.total, d.days, d.weeks) == (2182, 8, 2)
    d2 = design_plan(make_plan([SIGNUP]), daily_units=1091)
    assert (d2.days, d2.weeks) == (2, 1)
    assert json.loads(json.dumps(d.to_dict()))["per_variant"]["benefit"] == 1091
    assert "1,091 units per variant" in d.summary_markdown()
    assert "8 days" in d.summary_markdown()


def test_design_plan_family_and_binding_metric() -> None:
    revenue = {
        "name": "revenue",
        "role": "primary",
        "type": "mean",
        "column": "revenue",
        "baseline": 2.0,
        "baseline_sd": 9.0,
    }
    plan = make_plan(
        [SIGNUP, revenue, {"name": "ctr", "type": "ratio", "numerator": "c", "denominator": "i"}],
        variants={"control": {"weight": 0.4}, "a": {"weight": 0.3}, "b": {"weight": 0.3}},
        analysis={"mde": 0.1, "correction": "bonferroni", "sample_size": "unpooled"},
    )
    d = design_plan(plan)
    assert d.comparisons == 2 * 2
    expected_signup = sample_size(
        metric_type="proportion",
        baseline=0.2,
        mde=0.1,
        alpha=0.05 / 4,
        arms=3,
        weights=(0.4, 0.3, 0.3),
        variants=("control", "a", "b"),
    )
    assert d.metrics["signup_rate"].per_variant == expected_signup.per_variant
    assert d.metrics["revenue"].sd == 9.0
    assert d.binding_metric == "revenue"
    assert d.total == d.metrics["revenue"].total > d.metrics["signup_rate"].total
    assert d.days == math.ceil(d.total / 300) and d.weeks == math.ceil(d.days / 7)
    rows = d.power_curve([100, 1000, 100_000])
    assert {r["metric"] for r in rows} == {"signup_rate", "revenue"}
    assert all(0 <= r["power"] <= 1 for r in rows)
    assert rows[0]["total"] == 250  # 100 control units at a 40% share
    assert d.to_frame().loc["revenue", "total"] == d.total


def test_design_plan_decrease_direction() -> None:
    bounce = {**SIGNUP, "name": "bounce", "baseline": 0.25, "direction": "decrease"}
    d = design_plan(make_plan([bounce], analysis={"mde": 0.2}))
    assert d.binding.treatment == pytest.approx(0.2)


def test_design_plan_pooled_and_arcsine() -> None:
    for convention, n in (("pooled", 1094), ("arcsine", 1092)):
        plan = make_plan([SIGNUP], analysis={"mde": 0.25, "sample_size": convention})
        assert design_plan(plan).n_per_variant == n


def test_design_plan_without_daily_units() -> None:
    plan = make_plan([SIGNUP], design=None)
    d = design_plan(plan)
    assert d.days is None and d.weeks is None and "daily_units" in d.summary_markdown()


def test_design_plan_overrides() -> None:
    plan = make_plan([{**SIGNUP, "baseline": None}])
    assert design_plan(plan, baseline=0.2).n_per_variant == 1091


def test_missing_baseline_is_a_plan_error() -> None:
    plan = make_plan([{k: v for k, v in SIGNUP.items() if k != "baseline"}])
    with pytest.raises(PlanError) as exc:
        design_plan(plan)
    assert exc.value.field == "metrics[0].baseline"
    assert str(exc.value).startswith("<plan>: metrics[0].baseline: is missing")
    assert "add baseline:" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_mean_baseline_asks_for_sd_too() -> None:
    mean = {"name": "revenue", "role": "primary", "type": "mean", "column": "revenue"}
    with pytest.raises(PlanError, match=r"metrics\[1\]\.baseline: .*baseline_sd:"):
        design_plan(make_plan([{**SIGNUP, "role": "secondary"}, mean]))
    with pytest.raises(PlanError, match=r"metrics\[0\]\.baseline_sd: is missing"):
        design_plan(make_plan([{**mean, "baseline": 3.0}]))


def test_ratio_metric_without_baseline_is_a_plan_error() -> None:
    """Ratio metrics are sized now; without a baseline (or history) the error names the fix."""
    with pytest.raises(PlanError) as exc:
        design_plan(make_plan([SIGNUP, CTR]))
    assert exc.value.field == "metrics[1].baseline"
    message = str(exc.value)
    assert message.startswith("<plan>: metrics[1].baseline: is missing for 'ctr'; add baseline:")
    assert "baseline_sd:" in message and "history=" in message and "\n" not in message
    with pytest.raises(
        PlanError, match=r"^<plan>: metrics\[0\]\.baseline_sd: is missing .*linearised"
    ):
        design_plan(make_plan([{**CTR, "baseline": 0.03}]))


def test_impossible_mde_is_a_plan_error() -> None:
    plan = make_plan([{**SIGNUP, "baseline": 0.9}])
    with pytest.raises(PlanError, match=r"metrics\[0\]: .*outside \(0, 1\)"):
        design_plan(plan)


def test_override_needs_one_primary_metric() -> None:
    plan = make_plan([SIGNUP, {**SIGNUP, "name": "other"}])
    with pytest.raises(LiftlabError, match="override one primary metric"):
        design_plan(plan, baseline=0.1)


def test_power_curve_chart() -> None:
    d = design_plan(make_plan([SIGNUP]))
    rows = d.power_curve()
    assert any(r["n_per_variant"] == 1091 for r in rows)
    assert [r["power"] for r in rows] == sorted(r["power"] for r in rows)
    spec = d.chart().to_dict()
    assert len(spec["layer"]) == 3
    assert len(power_curve_chart(rows).to_dict()["layer"]) == 1


# ----- ratio metrics -----------------------------------------------------------------------
P_C, P_T, MEAN_IMPRESSIONS = 0.03, 0.033, 5.0  # CTR 3% → 3.3%; impressions 1 + Poisson(4)


def ctr_cells(p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (impressions, clicks) a unit can have, and its probability.

    Impressions are 1 + Poisson(4) (cut at 30: the mass beyond is about 1e-16), clicks are
    Binomial(impressions, p). Drawing unit counts per cell from a multinomial is drawing the
    units one by one, in a form that vectorises over experiments.
    """
    x, y = np.meshgrid(np.arange(1, 31), np.arange(0, 31), indexing="ij")
    keep = y <= x
    xs, ys = x[keep].astype(float), y[keep].astype(float)
    pm = sps.poisson.pmf(xs - 1, 4) * sps.binom.pmf(ys, xs, p)
    return xs, ys, pm / pm.sum()


def ctr_linearised_sd(p: float) -> float:
    """Closed form: ``Var(y − p·x) = E[x]·p(1 − p)`` (binomial clicks), so ``σ_lin² = p(1 − p)/E[x]``."""
    return math.sqrt(p * (1 - p) / MEAN_IMPRESSIONS)


def test_ratio_sd_from_moments_is_the_linearised_sd() -> None:
    rng = np.random.default_rng(7)
    x = 1 + rng.poisson(4, 5000)
    y = rng.binomial(x, P_C)
    r = y.sum() / x.sum()
    linearised = (y - r * x) / x.mean()
    sd = ratio_sd_from_moments(Moments.from_arrays(y, x))
    assert sd == pytest.approx(float(np.std(linearised, ddof=1)), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        ratio_sd_from_moments(Moments(1, 1.0, 1.0, 3.0, 9.0, 3.0))


def test_ratio_design_is_the_mean_formula_with_the_linearised_sd() -> None:
    x, y, pm = ctr_cells(P_C)
    counts = np.random.default_rng(11).multinomial(1_000_000, pm).astype(float)
    history = Moments(
        int(counts.sum()),
        float(counts @ y),
        float(counts @ (y * y)),
        float(counts @ x),
        float(counts @ (x * x)),
        float(counts @ (x * y)),
    )
    sd = ratio_sd_from_moments(history)
    assert sd == pytest.approx(ctr_linearised_sd(P_C), rel=0.01)  # sampling error ≈ 0.1%
    r = history.sum_y / history.sum_x
    ratio = sample_size(metric_type="ratio", baseline=r, mde=0.1, moments=history)
    mean = sample_size(metric_type="mean", baseline=r, mde=0.1, sd=sd)
    assert ratio.sd == sd and ratio.metric_type == "ratio"
    assert ratio.per_variant_exact == mean.per_variant_exact
    delta = 0.1 * r
    zs = z(1 - ALPHA / 2) + z(POWER)
    assert ratio.per_variant_exact["control"] == pytest.approx(2 * zs**2 * sd**2 / delta**2)
    assert ratio.per_variant_exact["control"] == pytest.approx(sm_n1(delta / sd), rel=REL)
    n = ratio.per_variant_exact["control"]
    kw: dict[str, Any] = {"metric_type": "ratio", "baseline": r, "moments": history}
    assert mde(n_per_variant=n, **kw) == pytest.approx(0.1, rel=1e-9)
    assert power_at(mde=0.1, n_per_variant=n, **kw) == pytest.approx(POWER, rel=1e-9)


def test_ratio_design_reaches_its_power_in_simulation() -> None:
    """2,000 experiments at the designed n per arm: the delta-method z-test's empirical power
    lies in the 99% binomial interval around the target 0.8."""
    s = sample_size(
        metric_type="ratio",
        baseline=P_C,
        mde=P_T / P_C - 1,
        sd=ctr_linearised_sd(P_C),
        sd_treatment=ctr_linearised_sd(P_T),
    )
    n, sims = s.n_control, 2000
    assert s.n_treatment == n
    rng = np.random.default_rng(20261125)

    def arm(p: float) -> tuple[np.ndarray, np.ndarray]:
        """Ratio and its delta-method variance in each simulated experiment."""
        x, y, pm = ctr_cells(p)
        c = rng.multinomial(n, pm, size=sims).astype(float)  # units per (x, y) cell
        sx, sy = c @ x, c @ y
        var_x = (c @ (x * x) - sx * sx / n) / (n - 1)
        var_y = (c @ (y * y) - sy * sy / n) / (n - 1)
        cov = (c @ (x * y) - sx * sy / n) / (n - 1)
        ratio = sy / sx
        return ratio, (var_y - 2 * ratio * cov + ratio**2 * var_x) / (n * (sx / n) ** 2)

    r_c, v_c = arm(P_C)
    r_t, v_t = arm(P_T)
    rejections = int((np.abs(r_t - r_c) / np.sqrt(v_c + v_t) > z(1 - ALPHA / 2)).sum())
    lo, hi = sps.binom.interval(0.99, sims, POWER)
    assert lo <= rejections <= hi, rejections / sims
    print(
        f"empirical power {rejections / sims:.4f}, 99% interval [{lo / sims:.4f}, {hi / sims:.4f}]"
    )
    # With the control's spread in both arms the design is a little short of its target:
    # the normal power of that n with the true variances (closed form) is about 0.78.
    short = sample_size(metric_type="ratio", baseline=P_C, mde=0.1, sd=ctr_linearised_sd(P_C))
    se = math.sqrt((ctr_linearised_sd(P_C) ** 2 + ctr_linearised_sd(P_T) ** 2) / short.n_control)
    assert 0.77 < sps.norm.cdf((P_T - P_C) / se - z(1 - ALPHA / 2)) < 0.79


# ----- CUPED -------------------------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.0, 0.3, -0.6, 0.95])
@pytest.mark.parametrize(
    "kw",
    [
        {"metric_type": "proportion", "baseline": 0.2, "mde": 0.1},
        {"metric_type": "mean", "baseline": 10.0, "mde": 0.05, "sd": 4.0},
        {"metric_type": "mean", "baseline": 10.0, "mde": 0.05, "sd": 4.0, "test": "t"},
    ],
)
@pytest.mark.parametrize("weights", [None, (0.3, 0.7)])
def test_cuped_multiplies_n_by_one_minus_rho_squared(
    rho: float, kw: dict[str, Any], weights: tuple[float, float] | None
) -> None:
    plain = sample_size(weights=weights, **kw)
    cuped = sample_size(weights=weights, cuped_rho=rho, **kw)
    assert cuped.variance_factor == 1 - rho**2
    if kw.get("test") == "t":  # Welch's df shrink with n: the t design at the reduced sd
        reduced = sample_size(weights=weights, **{**kw, "sd": kw["sd"] * math.sqrt(1 - rho**2)})
        assert cuped.total_exact == pytest.approx(reduced.total_exact, rel=1e-9)
        assert cuped.total_exact / plain.total_exact >= 1 - rho**2
    else:
        assert cuped.total_exact / plain.total_exact == pytest.approx(1 - rho**2, rel=1e-12)
    back = mde(total=cuped.total_exact, cuped_rho=rho, weights=weights, **_no_mde(kw))
    assert back == pytest.approx(kw["mde"], rel=1e-7)


def _no_mde(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k != "mde"}


def test_cuped_mean_matches_statsmodels_at_the_reduced_sd() -> None:
    sd, delta, rho = 12.0, 1.5, 0.6
    s = sample_size(
        metric_type="mean", baseline=40, mde=delta, mde_type="absolute", sd=sd, cuped_rho=rho
    )
    assert s.per_variant_exact["control"] == pytest.approx(
        sm_n1(delta / (sd * math.sqrt(1 - rho**2))), rel=REL
    )


def test_cuped_rho_from_moments_is_the_correlation() -> None:
    rng = np.random.default_rng(5)
    pre = rng.gamma(1.5, 2.0, 3000)
    y = 0.7 * pre + rng.normal(0, 2, 3000)
    rho = cuped_rho_from_moments(Moments.from_arrays(y, pre))
    assert rho == pytest.approx(float(np.corrcoef(y, pre)[0, 1]), rel=1e-9)
    with pytest.raises(ValueError, match="no variance"):
        cuped_rho_from_moments(Moments.from_arrays(y))


# ----- non-inferiority ---------------------------------------------------------------------
@pytest.mark.parametrize(("margin", "margin_type"), [(-0.004, "absolute"), (-0.02, "relative")])
def test_non_inferiority_proportion_matches_statsmodels(margin: float, margin_type: str) -> None:
    """H0: Δ ≤ m vs H1: Δ > m at α one-sided, true Δ = 0: effect (0 − m)/sqrt(p1q1)."""
    s = sample_size(metric_type="proportion", baseline=P1, margin=margin, margin_type=margin_type)
    assert s.alternative == "one-sided" and s.abs_mde == 0 and s.treatment == P1
    assert s.margin == pytest.approx(-0.004) and s.rel_margin == pytest.approx(-0.02)
    effect = 0.004 / math.sqrt(P1 * (1 - P1))
    expected = float(
        NormalIndPower().solve_power(effect, alpha=ALPHA, power=POWER, alternative="larger")
    )
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    kw: dict[str, Any] = {
        "metric_type": "proportion",
        "baseline": P1,
        "margin": margin,
        "margin_type": margin_type,
    }
    n = s.per_variant_exact["control"]
    assert power_at(n_per_variant=n, **kw) == pytest.approx(POWER, rel=1e-9)
    assert mde(n_per_variant=n, mde_type="absolute", **kw) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("true_effect", [0.0, 0.3, -0.2])
def test_non_inferiority_mean_matches_statsmodels(true_effect: float) -> None:
    sd, margin = 4.0, -0.5
    kw: dict[str, Any] = {"metric_type": "mean", "baseline": 20.0, "sd": sd, "margin": margin}
    s = sample_size(mde=true_effect, mde_type="absolute", **kw)
    effect = (true_effect - margin) / sd
    expected = float(
        NormalIndPower().solve_power(effect, alpha=ALPHA, power=POWER, alternative="larger")
    )
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=REL)
    back = mde(n_per_variant=s.per_variant_exact["control"], mde_type="absolute", **kw)
    assert back == pytest.approx(true_effect, abs=1e-9)
    # A metric whose good direction is down: margin +0.5, H1: Δ < 0.5; the same n at Δ = 0.
    if true_effect == 0:
        down = sample_size(mde=0, mde_type="absolute", **{**kw, "margin": -margin})
        assert down.per_variant_exact == pytest.approx(s.per_variant_exact, rel=1e-12)


@pytest.mark.parametrize("weights", [(0.3, 0.7), (0.6, 0.4)])
def test_non_inferiority_unequal_arms_closed_form(weights: tuple[float, float]) -> None:
    """Chow, Shao & Wang (2008) §4.2 with n_t = r·n_c, each arm its own variance:
    ``n_c = (z_{1−α} + z_β)²·(p1q1 + p2q2/r)/(Δ − m)²``."""
    p2 = P1 + 0.01
    s = sample_size(
        metric_type="proportion",
        baseline=P1,
        mde=0.01,
        mde_type="absolute",
        margin=-0.02,
        weights=weights,
    )
    r = weights[1] / weights[0]
    n_c = (z(1 - ALPHA) + z(POWER)) ** 2 * (P1 * (1 - P1) + p2 * (1 - p2) / r) / 0.03**2
    assert s.per_variant_exact["control"] == pytest.approx(n_c, rel=1e-12)


# ----- sequential designs ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
def test_sequential_multiplies_by_the_inflation_factor(kind: str, alternative: str) -> None:
    kw: dict[str, Any] = {
        "metric_type": "proportion",
        "baseline": P1,
        "alternative": alternative,
        "sequential": {"kind": kind, "looks": 4},
    }
    fixed = sample_size(mde=0.25, **{**kw, "sequential": None})
    seq = sample_size(mde=0.25, **kw)
    factor = sample_size_inflation(
        [0.25, 0.5, 0.75, 1.0],
        alpha=ALPHA,
        power=POWER,
        kind=kind,  # type: ignore[arg-type]
        sides=2 if alternative == "two-sided" else 1,
    )
    assert seq.inflation == factor > 1
    assert seq.total_exact_fixed == fixed.total_exact
    assert seq.total_exact == pytest.approx(fixed.total_exact * factor, rel=1e-12)
    assert seq.sequential == {
        "kind": kind,
        "looks": 4,
        "information_fractions": [0.25, 0.5, 0.75, 1.0],
    }
    n = seq.per_variant_exact["control"]
    assert seq.power_at(n) == pytest.approx(POWER, abs=1e-7)
    assert mde(n_per_variant=n, **kw) == pytest.approx(0.25, rel=1e-9)
    powers = [seq.power_at(x) for x in (n / 4, n / 2, n, 2 * n)]
    assert powers == sorted(powers) and 0 < powers[0] < POWER < powers[-1] < 1


def two_look_inflation(kind: str, alpha: float, power: float, sides: int, t1: float) -> float:
    """``N_max/N_fixed`` of a two-look Lan–DeMets design, computed independently.

    Each side spends ``a = α/sides`` with the O'Brien–Fleming type ``2 − 2Φ(z_{1−a/2}/√t)`` or
    Pocock type ``a·log(1 + (e − 1)t)`` function (Lan & DeMets, 1983). ``Z1 ~ N(θ√t1, 1)`` and
    ``Z2 | Z1 = z ~ N(√t1·z + θ(1 − t1), 1 − t1)`` (Jennison & Turnbull, 2000, ch. 3);
    ``P(Z2 ≥ c2, Z1 in (lo, c1))`` by quadrature over ``Z1``.
    """
    a = alpha / sides

    def spend(t: float) -> float:
        if kind == "obrien-fleming":
            return float(2 * sps.norm.sf(sps.norm.isf(a / 2) / math.sqrt(t)))
        return a * math.log(1 + (math.e - 1) * t)

    c1 = float(sps.norm.isf(spend(t1)))
    lo = -c1 if sides == 2 else -12.0  # one-sided: no lower bound; below −12 is 1e-32
    rt = math.sqrt(t1)

    def second(c2: float, theta: float) -> float:
        def f(z1: float) -> float:
            mean = rt * z1 + theta * (1 - t1)
            u, v = z1 - theta * rt, (c2 - mean) / math.sqrt(1 - t1)
            return math.exp(-u * u / 2) / math.sqrt(2 * math.pi) * math.erfc(v / math.sqrt(2)) / 2

        return float(integrate.quad(f, lo, c1, epsabs=1e-12, epsrel=1e-10)[0])

    c2 = optimize.brentq(lambda c: second(c, 0.0) - (a - spend(t1)), 0.0, 10.0, xtol=1e-13)

    def crossing(theta: float) -> float:
        return float(sps.norm.sf(c1 - theta * rt)) + second(c2, theta)

    fixed = float(sps.norm.isf(a) + sps.norm.ppf(power))
    theta = optimize.brentq(lambda th: crossing(th) - power, 0.0, 2 * fixed + 5, xtol=1e-13)
    return (theta / fixed) ** 2


@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize(("sides", "t1"), [(2, 0.5), (1, 0.3)])
def test_two_look_inflation_matches_an_independent_computation(
    kind: str, sides: int, t1: float
) -> None:
    s = sample_size(
        metric_type="mean",
        baseline=1,
        mde=0.1,
        sd=1,
        power=0.9,
        alternative="two-sided" if sides == 2 else "one-sided",
        sequential={"kind": kind, "information_fractions": [t1, 1]},
    )
    expected = two_look_inflation(kind, ALPHA, 0.9, sides, t1)
    assert s.inflation == pytest.approx(expected, rel=1e-6)
    assert s.sequential is not None and s.sequential["looks"] == 2


def test_one_look_is_the_fixed_design() -> None:
    s = sample_size(
        metric_type="proportion", baseline=P1, mde=0.25, sequential={"kind": "pocock", "looks": 1}
    )
    assert s.inflation == 1 and s.n_control == 1091
    assert s.power_at(s.per_variant_exact["control"]) == pytest.approx(POWER, rel=1e-9)


# ----- the t test --------------------------------------------------------------------------
@pytest.mark.parametrize("alternative", ["two-sided", "one-sided"])
@pytest.mark.parametrize("effect", [0.05, 0.3, 1.5])
def test_t_test_matches_statsmodels(alternative: str, effect: float) -> None:
    """Equal arms and variances: Welch's df is statsmodels' pooled ``n1 + n2 − 2``."""
    kw: dict[str, Any] = {
        "metric_type": "mean",
        "baseline": 10.0,
        "mde": effect,
        "mde_type": "absolute",
        "sd": 1.0,
        "alternative": alternative,
    }
    s = sample_size(test="t", **kw)
    a = ALPHA / 2 if alternative == "two-sided" else ALPHA
    expected = float(tt_ind_solve_power(effect, alpha=a, power=POWER, alternative="larger"))
    assert s.approximation == "noncentral-t" and s.test == "t"
    assert s.per_variant_exact["control"] == pytest.approx(expected, rel=1e-6)
    assert s.total_exact > sample_size(**kw).total_exact  # t needs more units than z


def test_t_test_unequal_arms_is_welch_noncentral_t() -> None:
    sd_c, sd_t, delta, w = 2.0, 3.0, 0.5, (0.3, 0.7)
    kw: dict[str, Any] = {
        "metric_type": "mean",
        "baseline": 5.0,
        "mde_type": "absolute",
        "sd": sd_c,
        "sd_treatment": sd_t,
        "weights": w,
        "test": "t",
    }
    s = sample_size(mde=delta, **kw)
    n_c, n_t = s.per_variant_exact["control"], s.per_variant_exact["treatment"]
    a, b = sd_c**2 / n_c, sd_t**2 / n_t
    df = (a + b) ** 2 / (a * a / (n_c - 1) + b * b / (n_t - 1))
    power = sps.nct.sf(sps.t.isf(ALPHA / 2, df), df, delta / math.sqrt(a + b))
    assert power == pytest.approx(POWER, rel=1e-9)
    assert power_at(mde=delta, n_per_variant=n_c, **kw) == pytest.approx(POWER, rel=1e-9)
    assert mde(n_per_variant=n_c, **kw) == pytest.approx(delta, rel=1e-8)


@settings(max_examples=60, deadline=None)
@given(
    log_effect=st.floats(-7, 4),
    log_alpha=st.floats(-8, math.log10(0.3)),
    power=st.floats(0.5, 0.995),
    w_c=st.sampled_from([0.5, 0.1, 0.8]),
    alternative=st.sampled_from(["two-sided", "one-sided"]),
    sd=st.floats(1e-3, 1e3),
)
def test_t_solver_never_fails_in_the_tails(
    log_effect: float, log_alpha: float, power: float, w_c: float, alternative: str, sd: float
) -> None:
    """Tiny effects (n ~ 1e16), huge effects (2 units), α down to 1e-8: never NaN or an error."""
    delta = sd * 10**log_effect
    kw: dict[str, Any] = {
        "metric_type": "mean",
        "baseline": 1.0,
        "sd": sd,
        "mde_type": "absolute",
        "alpha": 10**log_alpha,
        "power": power,
        "alternative": alternative,
        "weights": (w_c, 1 - w_c),
        "test": "t",
    }
    s = sample_size(mde=delta, **kw)
    assert all(math.isfinite(v) for v in s.per_variant_exact.values())
    assert min(s.per_variant_exact.values()) >= 2 - 1e-9
    assert s.approximation in ("noncentral-t", "normal-fallback")
    kw.pop("power")
    p = power_at(mde=delta, n_per_variant=s.n_control, **kw)
    assert math.isfinite(p) and 0 <= p <= 1
    if s.approximation == "noncentral-t":
        assert p >= power - 1e-6
    back = mde(n_per_variant=s.per_variant_exact["control"], power=power, **kw)
    assert math.isfinite(back) and 0 < back <= delta * (1 + 1e-6)


def test_t_falls_back_to_the_normal_approximation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``scipy.stats.nct`` gives NaN the design is the z design, and says so."""
    kw: dict[str, Any] = {
        "metric_type": "mean",
        "baseline": 10.0,
        "mde": 1.5,
        "mde_type": "absolute",
        "sd": 12.0,
    }
    z_design = sample_size(**kw)
    monkeypatch.setattr(power_module, "_nct_sf", lambda *args: math.nan)
    s = sample_size(test="t", **kw)
    assert s.approximation == "normal-fallback"
    assert s.per_variant_exact == z_design.per_variant_exact
    n = z_design.n_control
    assert power_at(test="t", n_per_variant=n, **kw) == power_at(n_per_variant=n, **kw)
    no_mde = _no_mde(kw)
    assert mde(test="t", n_per_variant=n, **no_mde) == mde(n_per_variant=n, **no_mde)


# ----- duration and errors -----------------------------------------------------------------
def test_duration_in_whole_weeks() -> None:
    s = sample_size(metric_type="proportion", baseline=P1, mde=0.25, daily_units=300)
    assert (s.days, s.weeks, s.duration_days_rounded_to_weeks) == (8, 2, 14)
    assert sample_size(metric_type="proportion", baseline=P1, mde=0.25).weeks is None
    d = json.loads(json.dumps(design_plan(make_plan([SIGNUP])).to_dict()))
    assert (d["days"], d["weeks"], d["duration_days_rounded_to_weeks"]) == (8, 2, 14)
    assert d["metrics"][0]["duration_days_rounded_to_weeks"] == 14


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"convention": "pooled", "cuped_rho": 0.5}, "convention='unpooled'"),
        ({"convention": "arcsine", "cuped_rho": 0.5}, "convention='unpooled'"),
        ({"cuped_rho": 1.0}, "strictly between -1 and 1"),
        ({"margin": -0.01, "alternative": "two-sided"}, "alternative='one-sided'"),
        ({"margin": -0.01, "convention": "pooled"}, "convention='unpooled'"),
        ({"margin": -0.5}, "outside \\(0, 1\\)"),
        ({"mde": -0.05, "margin": -0.05, "margin_type": "relative"}, "equals the margin"),
        ({"test": "t"}, "applies to mean metrics"),
        ({"test": "exact"}, "use z or t"),
        ({"sequential": {"kind": "haybittle", "looks": 3}}, "obrien-fleming or pocock"),
        ({"sequential": {"kind": "pocock", "looks": 0}}, "at least 1"),
        ({"sequential": {"kind": "pocock", "information_fractions": [0.5, 0.4, 1]}}, "increase"),
        ({"sequential": {"kind": "pocock", "spending": "x"}}, "unknown key 'spending'"),
        ({"sd_treatment": 0.3}, "sd_treatment applies"),
        ({"metric_type": "ratio", "baseline": 0.03}, "linearised"),
        ({"metric_type": "ratio", "baseline": 0.03, "sd": 0.1, "cuped_rho": 0.3}, "remove"),
        ({"metric_type": "ratio", "baseline": 0.03, "sd": 0.1, "test": "t"}, "test='z'"),
        ({"metric_type": "ratio", "baseline": 0.03, "convention": "pooled"}, "use unpooled"),
        ({"moments": Moments(10, 2.0, 2.0, 50.0, 300.0, 12.0)}, "ratio metric its sd"),
    ],
)
def test_new_input_errors_name_the_fix(kw: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"metric_type": "proportion", "baseline": 0.2, "mde": 0.1}
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        sample_size(**args)


# ----- design_plan for every metric type ---------------------------------------------------
def ctr_history(units: int = 20_000, seed: int = 3) -> Moments:
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(4, units)
    return Moments.from_arrays(rng.binomial(x, P_C), x)


def test_design_plan_sizes_a_ratio_metric_from_the_plan() -> None:
    sd = ctr_linearised_sd(P_C)
    plan = make_plan([{**CTR, "baseline": P_C, "baseline_sd": sd}], analysis={"mde": 0.1})
    d = design_plan(plan)
    expected = sample_size(
        metric_type="ratio", baseline=P_C, mde=0.1, sd=sd, variants=("control", "benefit")
    )
    assert d.metrics["ctr"].per_variant == expected.per_variant
    assert d.metrics["ctr"].metric_type == "ratio" and d.binding_metric == "ctr"


def test_design_plan_sizes_a_ratio_metric_from_history() -> None:
    history = ctr_history()
    plan = make_plan([CTR], analysis={"mde": 0.1})
    d = design_plan(plan, history={"ctr": history})
    expected = sample_size(
        metric_type="ratio", baseline=history.sum_y / history.sum_x, mde=0.1, moments=history
    )
    assert d.metrics["ctr"].per_variant_exact["control"] == pytest.approx(
        expected.per_variant_exact["control"], rel=1e-12
    )
    # The plan's values win over the history's.
    pinned = make_plan([{**CTR, "baseline": P_C, "baseline_sd": 0.08}], analysis={"mde": 0.1})
    assert design_plan(pinned, history={"ctr": history}).metrics["ctr"].sd == 0.08


REVENUE = {
    "name": "revenue",
    "role": "primary",
    "type": "mean",
    "column": "revenue",
    "covariate": "pre_revenue",
    "baseline": 2.0,
    "baseline_sd": 9.0,
}


def test_design_plan_uses_cuped_rho_from_history() -> None:
    rng = np.random.default_rng(3)
    pre = rng.gamma(1.0, 2.0, 5000)
    y = 0.8 * pre + rng.normal(0, 2, 5000)
    plan = make_plan([REVENUE])
    with_history = design_plan(plan, history={"revenue": Moments.from_arrays(y, pre)})
    without = design_plan(plan)
    rho = float(np.corrcoef(y, pre)[0, 1])
    cuped = with_history.metrics["revenue"]
    assert cuped.cuped_rho == pytest.approx(rho, rel=1e-9) and cuped.sd == 9.0
    ratio = cuped.total_exact / without.metrics["revenue"].total_exact
    assert ratio == pytest.approx(1 - rho**2, rel=1e-12)
    assert any("without CUPED" in note for note in without.notes)
    assert not any("without CUPED" in note for note in with_history.notes)
    assert "CUPED" in with_history.summary_markdown()
    # The pooled formula has no CUPED form: sized without it (more units), with a note.
    signup = {**SIGNUP, "covariate": "pre_signup"}
    pooled = make_plan([signup], analysis={"mde": 0.25, "sample_size": "pooled"})
    flips = Moments.from_arrays(rng.integers(0, 2, 500), rng.integers(0, 2, 500))
    d = design_plan(pooled, history={"signup_rate": flips})
    assert d.n_per_variant == 1094 and d.binding.cuped_rho is None
    assert any("pooled formula has no CUPED form" in note for note in d.notes)


def test_design_plan_estimates_missing_values_from_history() -> None:
    rng = np.random.default_rng(9)
    values = rng.exponential(3.0, 4000)
    mean = {k: v for k, v in REVENUE.items() if k not in ("baseline", "baseline_sd", "covariate")}
    d = design_plan(make_plan([mean]), history={"revenue": Moments.from_arrays(values)})
    assert d.binding.baseline == pytest.approx(float(values.mean()))
    assert d.binding.sd == pytest.approx(float(np.std(values, ddof=1)))


def test_design_plan_guardrails_are_not_sized() -> None:
    guard = {**CTR, "role": "guardrail"}
    d = design_plan(make_plan([SIGNUP, guard]))
    assert list(d.metrics) == ["signup_rate"] and d.n_per_variant == 1091
    assert any("guardrails (ctr)" in note for note in d.notes)


def test_design_plan_history_errors() -> None:
    plan = make_plan([SIGNUP])
    with pytest.raises(LiftlabError, match="did you mean 'signup_rate'"):
        design_plan(plan, history={"signup_rat": Moments(10, 2.0, 2.0)})
    with pytest.raises(LiftlabError, match="give Moments"):
        design_plan(plan, history={"signup_rate": {"n": 10}})  # type: ignore[dict-item]
    with pytest.raises(PlanError, match=r"metrics\[0\]\.baseline_sd: cannot be estimated"):
        design_plan(make_plan([CTR]), history={"ctr": Moments(10, 0.0, 0.0, 50.0, 250.0, 0.0)})


def test_design_plan_sequential_and_t() -> None:
    revenue = {k: v for k, v in REVENUE.items() if k != "covariate"}
    plan = make_plan([revenue])
    looks = {"kind": "obrien-fleming", "looks": 3}
    d = design_plan(plan, sequential=looks, test="t")
    fixed = design_plan(plan, test="t")
    b = d.binding
    assert b.approximation == "noncentral-t" and b.test == "t"
    assert b.total_exact == pytest.approx(fixed.binding.total_exact * b.inflation, rel=1e-12)
    out = json.loads(json.dumps(d.to_dict()))
    assert out["sequential"]["looks"] == 3 and out["test"] == "t"
    assert "Group-sequential (obrien-fleming, 3 looks)" in d.summary_markdown()
    rows = d.power_curve([100, 10_000, 1_000_000])
    assert [r["power"] for r in rows] == sorted(r["power"] for r in rows)
    with pytest.raises(PlanError, match=r"metrics\[0\]: sequential kind"):
        design_plan(plan, sequential={"kind": "wald", "looks": 3})
