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
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from liftlab.design import design_plan, power_curve_chart
from liftlab.errors import LiftlabError, PlanError
from liftlab.plan import Plan, parse_plan
from liftlab.stats.power import SampleSize, mde, power_at, sample_size

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


def test_ratio_metric_is_a_plan_error() -> None:
    ratio = {
        "name": "ctr",
        "role": "primary",
        "type": "ratio",
        "numerator": "c",
        "denominator": "i",
    }
    with pytest.raises(PlanError, match=r"^<plan>: metrics\[1\]\.type: 'ctr' is a ratio metric"):
        design_plan(make_plan([SIGNUP, ratio]))


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
