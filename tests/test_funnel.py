"""Funnels, segments, novelty and repeat purchase against independent computations.

References, all computed at test time: the numpy delta method (linearised unit values) and
``Moments.from_arrays`` + ``ratio_test`` on simulated unit rows; ``scipy.stats.ttest_ind``
(Welch) on 0/1 rows; statsmodels ``test_proportions_2indep(method="wald")`` for unconditional
steps (it divides by ``n`` where Welch divides by ``n − 1``: p-values agree to rel 1e-2),
``proportion_confint`` (Wilson), ``multipletests`` (corrections) and ``combine_effects``
(inverse-variance mean, Cochran's Q); and seeded simulations of the unit-level process (the
changed funnel step is flagged; a decaying effect is called novelty). Tolerances: rel 1e-9
where the computation is the same, looser only where stated.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats import proportion as smp
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from liftlab.stats.frequentist import ratio_test, welch_test
from liftlab.stats.funnel import (
    RepeatCounts,
    default_cut,
    funnel_analysis,
    novelty_analysis,
    novelty_from_cohorts,
    repeat_purchase_effect,
    segment_analysis,
    split_cohorts,
    step_moments,
    wilson_interval,
)
from liftlab.stats.moments import Moments

REL = 1e-9
STEPS = ("landing_view", "signup", "purchase")


def _json_safe(d: dict) -> dict:
    return json.loads(json.dumps(d, allow_nan=False))


def _funnel_rows(rng: np.random.Generator, n: int, probs: tuple[float, ...]) -> np.ndarray:
    """Unit rows of nested 0/1 flags: column k = reached step k+1 (needs every earlier step)."""
    hits = rng.random((n, len(probs))) < np.asarray(probs)
    return np.logical_and.accumulate(hits, axis=1).astype(float)


def _counts(rows: np.ndarray) -> list[int]:
    return [rows.shape[0], *(int(c) for c in rows.sum(axis=0))]


# ----- funnels ---------------------------------------------------------------------------------
def test_step_moments_equal_unit_rows_and_closed_form():
    rng = np.random.default_rng(3)
    rows = _funnel_rows(rng, 5_000, (0.6, 0.35, 0.25))
    n = rows.shape[0]
    prev, cur = rows[:, 0], rows[:, 1]
    m = step_moments(n, int(prev.sum()), int(cur.sum()))
    assert m == Moments.from_arrays(cur, prev)
    # numpy delta method: linearised unit values (y − R·x)/x̄, sample variance / n
    r = cur.sum() / prev.sum()
    var_np = np.var((cur - r * prev) / prev.mean(), ddof=1) / n
    c_prev = prev.sum()
    closed = n / (n - 1) * r * (1 - r) / c_prev
    eff = ratio_test(m, m)
    assert eff.var_control_mean == pytest.approx(var_np, rel=REL)
    assert eff.var_control_mean == pytest.approx(closed, rel=REL)


def test_funnel_matches_references_on_unit_rows():
    rng = np.random.default_rng(11)
    ctrl = _funnel_rows(rng, 6_000, (0.55, 0.3, 0.2))
    trt = _funnel_rows(rng, 6_500, (0.57, 0.33, 0.2))
    alpha = 0.1
    res = funnel_analysis(
        STEPS, {"control": _counts(ctrl), "b": _counts(trt)}, "control", alpha, "bonferroni"
    )
    # step 1 and end to end: unconditional proportions → Welch on the 0/1 rows (exact)
    for col, comp in ((0, res.by_step[0].comparisons[0]), (2, res.end_to_end[0])):
        ref = sps.ttest_ind(trt[:, col], ctrl[:, col], equal_var=False)
        assert comp.p_value == pytest.approx(ref.pvalue, rel=REL)
        sm = smp.test_proportions_2indep(
            trt[:, col].sum(), len(trt), ctrl[:, col].sum(), len(ctrl), method="wald"
        )
        assert comp.p_value == pytest.approx(sm.pvalue, rel=1e-2)
        assert comp.lift == pytest.approx(trt[:, col].mean() / ctrl[:, col].mean() - 1, rel=REL)
    # later steps: the delta method on the unit rows (y = reached_k, x = reached_{k−1})
    for k in (1, 2):
        ref = ratio_test(
            Moments.from_arrays(ctrl[:, k], ctrl[:, k - 1]),
            Moments.from_arrays(trt[:, k], trt[:, k - 1]),
            alpha=alpha,
        )
        comp = res.by_step[k].comparisons[0]
        assert comp.p_value == pytest.approx(ref.p_value, rel=REL)
        assert comp.lift == pytest.approx(ref.rel_effect, rel=REL)
        assert comp.ci is not None and ref.rel_ci is not None
        assert comp.ci == pytest.approx(ref.rel_ci, rel=REL)
    # Wilson rate intervals, conditional on the previous step
    for k, step in enumerate(res.by_step):
        for rate, rows in zip(step.variants, (ctrl, trt), strict=True):
            trials = len(rows) if k == 0 else int(rows[:, k - 1].sum())
            lo, hi = smp.proportion_confint(int(rows[:, k].sum()), trials, alpha, method="wilson")
            assert rate.ci == pytest.approx((lo, hi), rel=REL)
            assert rate.users == int(rows[:, k].sum())
    # Bonferroni over the 3 step comparisons
    raw = [s.comparisons[0].p_value for s in res.by_step]
    adj = multipletests(raw, method="bonferroni")[1]
    assert [s.comparisons[0].p_value_adjusted for s in res.by_step] == pytest.approx(adj)


def test_decomposition_is_exact_and_dict_shape():
    counts = {
        "control": {"n": 20_000, "landing_view": 12_000, "signup": 3_600, "purchase": 720},
        "b": [20_000, 12_050, 3_950, 800],
        "c": [19_900, 11_800, 3_500, 760],
    }
    res = funnel_analysis(STEPS, counts, "control")
    for variant, parts in res.decomposition().items():
        e2e = next(e for e in res.end_to_end if e.variant == variant)
        assert sum(parts) == pytest.approx(e2e.log_ratio, abs=1e-12)
        assert e2e.log_ratio == pytest.approx(math.log(1 + e2e.lift), rel=1e-12)
    d = _json_safe(res.to_dict())
    assert d["steps"] == list(STEPS)
    assert [s["step"] for s in d["by_step"]] == list(STEPS)
    assert [v["variant"] for v in d["by_step"][0]["variants"]] == ["control", "b", "c"]
    assert set(d["by_step"][1]["comparisons"][0]) >= {
        "variant",
        "lift",
        "ci",
        "p_value",
        "p_value_adjusted",
    }
    assert d["biggest_change"]["step"] == "signup" and d["biggest_change"]["variant"] == "b"
    # Holm over 3 steps × 2 treatments
    raw = [c["p_value"] for s in d["by_step"] for c in s["comparisons"]]
    adj = [c["p_value_adjusted"] for s in d["by_step"] for c in s["comparisons"]]
    assert adj == pytest.approx(multipletests(raw, method="holm")[1])
    assert len(d["end_to_end"]) == 2 and len(d["decomposition"]) == 2


def test_funnel_degenerate_counts_serialise_to_none():
    res = funnel_analysis(("a", "b"), {"control": [100, 0, 0], "t": [100, 0, 0]}, "control")
    d = _json_safe(res.to_dict())
    assert d["by_step"][1]["variants"][0]["rate"] is None
    assert d["by_step"][1]["comparisons"][0]["p_value"] is None
    assert d["biggest_change"] is None


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ({"control": [100, 50, 60], "t": [100, 50, 40]}, "must not increase"),
        ({"control": [100, 50], "t": [100, 50, 40]}, "need n and one count"),
        ({"control": [100, 50.5, 40], "t": [100, 50, 40]}, "whole numbers"),
        ({"t": [100, 50, 40], "u": [100, 50, 40]}, "control"),
        ({"control": {"n": 100, "a": 5}, "t": [100, 50, 40]}, "lack b"),
    ],
)
def test_funnel_rejects_bad_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        funnel_analysis(("a", "b"), counts, "control")


def test_funnel_simulation_flags_the_changed_step():
    """Only step 2's conversion changes: it is flagged; steps 1 and 3 reject at ≈ α."""
    rng = np.random.default_rng(2024)
    n, runs, alpha = 20_000, 1_000, 0.05
    base, changed = (0.6, 0.3, 0.2), (0.6, 0.33, 0.2)
    flagged, false_pos = 0, np.zeros(2)
    for _ in range(runs):
        counts = {}
        for name, probs in (("control", base), ("b", changed)):
            c1 = rng.binomial(n, probs[0])
            c2 = rng.binomial(c1, probs[1])
            counts[name] = [n, c1, c2, rng.binomial(c2, probs[2])]
        res = funnel_analysis(STEPS, counts, "control", alpha)
        big = res.biggest_change()
        assert big is not None
        flagged += big[0] == "signup" and big[1].p_value_adjusted < alpha
        false_pos += [res.by_step[k].comparisons[0].p_value < alpha for k in (0, 2)]
    assert flagged / runs >= 0.9
    fpr = false_pos / runs
    assert np.all(np.abs(fpr - alpha) < 0.025), fpr  # se ≈ 0.007 per step
    assert abs(fpr.mean() - alpha) < 0.015


# ----- segments --------------------------------------------------------------------------------
def _prop(successes: int, n: int) -> Moments:
    return Moments(n, float(successes), float(successes))


# Charig et al. (1986) kidney stones: A (open surgery) vs B (PCNL), successes / patients.
KIDNEY = {
    "stone_size": {
        "small": {"B": _prop(234, 270), "A": _prop(81, 87)},
        "large": {"B": _prop(55, 80), "A": _prop(192, 263)},
    }
}


@pytest.mark.parametrize("scale", ["absolute", "relative"])
def test_kidney_stones_give_simpsons_paradox(scale):
    res = segment_analysis(KIDNEY, control="B", treatment="A", scale=scale)
    dim = res.dimensions[0]
    assert dim.pooled.effect < 0  # 273/350 < 289/350
    assert all(lv.summary.effect > 0 for lv in dim.levels)
    assert dim.combined.effect > 0
    assert dim.simpson and dim.message is not None and "every level" in dim.message
    d = _json_safe(res.to_dict())["dimensions"][0]
    assert d["simpson"] is True and d["dimension"] == "stone_size"
    assert [lv["level"] for lv in d["levels"]] == ["small", "large"]
    assert {"n_control", "n_treatment", "effect", "ci", "p_value", "p_value_adjusted"} <= set(
        d["levels"][0]
    )
    assert set(d["heterogeneity"]) == {"q", "df", "p_value"} and d["heterogeneity"]["df"] == 1


def _segments(rng, lifts, splits, n=8_000, base=(0.1, 0.2, 0.3)):
    """One dimension 'device', levels with baseline rates, treatment lifts and treatment shares."""
    out = {}
    for i, (lift, share) in enumerate(zip(lifts, splits, strict=True)):
        n_t = int(n * share)
        n_c = n - n_t
        out[f"level{i}"] = {
            "control": _prop(int(rng.binomial(n_c, base[i])), n_c),
            "treatment": _prop(int(rng.binomial(n_t, base[i] + lift)), n_t),
        }
    return {"device": out}


def test_homogeneous_segments_no_warning_and_references():
    rng = np.random.default_rng(5)
    data = _segments(rng, (0.02, 0.02, 0.02), (0.5, 0.5, 0.5))
    data["channel"] = _segments(rng, (0.02, 0.02), (0.5, 0.5), base=(0.15, 0.25))["device"]
    res = segment_analysis(data, control="control", treatment="treatment", correction="bh")
    assert not any(d.simpson for d in res.dimensions)
    device = res.dimensions[0]
    assert device.combined.q_p_value > 0.05 and device.message is None
    # per-level Welch, BH across all 5 levels of both dimensions
    effects = [
        welch_test(arms["control"], arms["treatment"])
        for dim in data.values()
        for arms in dim.values()
    ]
    levels = [lv for d in res.dimensions for lv in d.levels]
    assert [lv.summary.p_value for lv in levels] == pytest.approx([e.p_value for e in effects])
    adj = multipletests([e.p_value for e in effects], method="fdr_bh")[1]
    assert [lv.p_value_adjusted for lv in levels] == pytest.approx(adj, rel=REL)
    # stratified estimate and Cochran's Q vs statsmodels combine_effects
    eff = np.array([e.abs_effect for e in effects[:3]])
    var = np.array([e.abs_se**2 for e in effects[:3]])
    ref = combine_effects(eff, var, use_t=False)
    assert device.combined.effect == pytest.approx(ref.mean_effect_fe, rel=REL)
    assert device.combined.se == pytest.approx(ref.sd_eff_w_fe, rel=REL)
    hom = ref.test_homogeneity()
    assert device.combined.q == pytest.approx(hom.statistic, rel=REL)
    assert device.combined.q_p_value == pytest.approx(hom.pvalue, rel=REL)
    assert device.combined.df == 2
    # pooled = the test on the summed Moments
    pooled = welch_test(
        sum((a["control"] for a in data["device"].values()), Moments(0, 0.0, 0.0)),
        sum((a["treatment"] for a in data["device"].values()), Moments(0, 0.0, 0.0)),
    )
    assert device.pooled.p_value == pytest.approx(pooled.p_value, rel=REL)


def test_relative_scale_combines_log_ratios():
    rng = np.random.default_rng(8)
    data = _segments(rng, (0.01, 0.03, 0.06), (0.5, 0.5, 0.5), n=100_000)
    res = segment_analysis(data, control="control", treatment="treatment", scale="relative")
    dim = res.dimensions[0]
    e = [welch_test(a["control"], a["treatment"]) for a in data["device"].values()]
    log_r = np.array([math.log(x.treatment_mean / x.control_mean) for x in e])
    var = np.array(
        [
            x.var_treatment_mean / x.treatment_mean**2 + x.var_control_mean / x.control_mean**2
            for x in e
        ]
    )
    ref = combine_effects(log_r, var, use_t=False)
    assert dim.combined.effect == pytest.approx(math.expm1(ref.mean_effect_fe), rel=REL)
    assert dim.combined.q == pytest.approx(ref.q, rel=REL)
    assert dim.levels[0].summary.ci == pytest.approx(e[0].rel_ci, rel=REL)
    assert dim.combined.q_p_value < 0.05  # heterogeneous lifts (≈ 10%, 15%, 20%)
    assert dim.message is not None and "Cochran" in dim.message and not dim.simpson


def test_unequal_split_confounding_flags_weak_form():
    """Segments with mixed signs but a stratified sign opposite to the pooled one."""
    data = {
        "d": {
            "x": {"c": _prop(9_000, 10_000), "t": _prop(905, 1_000)},  # +0.5 pp
            "y": {"c": _prop(100, 1_000), "t": _prop(960, 10_000)},  # −0.4 pp
            "z": {"c": _prop(3_000, 10_000), "t": _prop(3_100, 10_000)},  # +1 pp
        }
    }
    dim = segment_analysis(data, control="c", treatment="t").dimensions[0]
    assert dim.pooled.effect < 0 < dim.combined.effect
    assert dim.simpson and dim.message is not None and "stratified" in dim.message


def test_segment_ratio_test_and_validation():
    rng = np.random.default_rng(1)
    levels = {}
    for lv in ("a", "b"):
        arms = {}
        for v in ("c", "t"):
            x = rng.poisson(5, 2_000) + 1
            arms[v] = Moments.from_arrays(rng.binomial(x, 0.1), x)
        levels[lv] = arms
    res = segment_analysis({"dim": levels}, control="c", treatment="t", test="ratio")
    ref = ratio_test(levels["a"]["c"], levels["a"]["t"])
    assert res.dimensions[0].levels[0].summary.p_value == pytest.approx(ref.p_value, rel=REL)
    with pytest.raises(ValueError, match="test"):
        segment_analysis({"dim": levels}, control="c", treatment="t", test="anova")
    with pytest.raises(ValueError, match="lacks"):
        segment_analysis({"dim": levels}, control="c", treatment="zz")
    with pytest.raises(ValueError, match="correction"):
        segment_analysis({"dim": levels}, control="c", treatment="t", correction="sidak")


# ----- novelty ---------------------------------------------------------------------------------
START = dt.date(2024, 3, 4)


def _daily_rows(rng, days=14, n_per_day=1_000, effect=lambda d: 0.3):
    """Unit rows (day, arm, y) with a normal metric and a day-dependent effect."""
    day = np.repeat(np.arange(days), 2 * n_per_day)
    arm = np.tile(np.repeat([0, 1], n_per_day), days)
    y = rng.normal(10, 3, day.size) + arm * np.vectorize(effect)(day)
    return day, arm, y


def test_novelty_matches_unit_rows():
    rng = np.random.default_rng(21)
    day, arm, y = _daily_rows(rng, effect=lambda d: 0.8 * math.exp(-d / 3))
    daily = {
        START + dt.timedelta(days=int(d)): {
            v: Moments.from_arrays(y[(day == d) & (arm == a)])
            for a, v in ((0, "control"), (1, "treatment"))
        }
        for d in range(14)
    }
    res = novelty_analysis(daily, control="control", treatment="treatment")
    assert res.cut == START + dt.timedelta(days=7)
    early = day < 7
    refs = []
    for mask, summary in ((early, res.early), (~early, res.late)):
        ref = sps.ttest_ind(y[mask & (arm == 1)], y[mask & (arm == 0)], equal_var=False)
        assert summary.p_value == pytest.approx(ref.pvalue, rel=REL)
        diff = y[mask & (arm == 1)].mean() - y[mask & (arm == 0)].mean()
        var = sum(y[mask & (arm == a)].var(ddof=1) / (mask & (arm == a)).sum() for a in (0, 1))
        assert summary.effect == pytest.approx(diff, rel=REL)
        refs.append((diff, var))
    (d_e, v_e), (d_l, v_l) = refs
    z = (d_e - d_l) / math.sqrt(v_e + v_l)
    assert res.difference == pytest.approx(d_e - d_l, rel=REL)
    assert res.difference_p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-8)
    assert res.verdict == "novelty"
    flipped = novelty_analysis(
        daily, control="control", treatment="treatment", direction="decrease"
    )
    assert flipped.verdict == "primacy"
    d = _json_safe(res.to_dict())
    assert d["cut"] == "2024-03-11" and d["verdict"] == "novelty"
    assert set(d["difference"]) >= {"estimate", "ci", "p_value"}
    assert set(d["early"]) >= {"effect", "ci", "p_value", "n_control", "n_treatment"}


def test_cut_and_cohort_split():
    days = [START + dt.timedelta(days=i) for i in range(7)]
    assert default_cut(days) == START + dt.timedelta(days=4)
    assert default_cut(days[:2]) == START + dt.timedelta(days=1)
    daily = {d: {"c": _prop(10 + i, 100), "t": _prop(12, 100)} for i, d in enumerate(days)}
    early, late = split_cohorts(daily, START + dt.timedelta(days=3))
    assert early["c"] == _prop(10 + 11 + 12, 300) and late["t"].n == 400
    with pytest.raises(ValueError, match="empty cohort"):
        novelty_analysis(daily, control="c", treatment="t", cut=START)


def _binomial_daily(rng, effect, days=14, n=5_000, base=0.1):
    return {
        START + dt.timedelta(days=d): {
            "control": _prop(int(rng.binomial(n, base)), n),
            "treatment": _prop(int(rng.binomial(n, base + effect(d))), n),
        }
        for d in range(days)
    }


def test_novelty_simulation():
    """A decaying effect is called novelty; a constant one is called stable at ≈ 1 − α."""
    rng = np.random.default_rng(99)
    runs = 300
    decaying = [
        novelty_analysis(
            _binomial_daily(rng, lambda d: 0.04 * math.exp(-d / 3)),
            control="control",
            treatment="treatment",
        ).verdict
        for _ in range(runs)
    ]
    assert decaying.count("novelty") / runs >= 0.9
    constant = [
        novelty_analysis(
            _binomial_daily(rng, lambda d: 0.01), control="control", treatment="treatment"
        ).verdict
        for _ in range(runs)
    ]
    assert abs(1 - constant.count("stable") / runs - 0.05) < 0.035


def test_novelty_relative_scale_delta_method():
    early = {"c": _prop(1_000, 10_000), "t": _prop(1_300, 10_000)}
    late = {"c": _prop(1_500, 10_000), "t": _prop(1_650, 10_000)}
    res = novelty_from_cohorts(early, late, control="c", treatment="t", scale="relative")
    lifts, variances = [], []
    for cohort in (early, late):
        p_c, p_t = cohort["c"].mean_y, cohort["t"].mean_y
        v = sum(cohort[a].var_y / cohort[a].n / cohort[a].mean_y ** 2 for a in ("c", "t"))
        lifts.append(p_t / p_c - 1)
        variances.append((p_t / p_c) ** 2 * v)
    assert res.difference == pytest.approx(lifts[0] - lifts[1], rel=REL)
    assert res.difference_se == pytest.approx(math.sqrt(sum(variances)), rel=REL)
    assert res.verdict == "novelty" and res.cut is None


# ----- repeat purchase -------------------------------------------------------------------------
def test_repeat_purchase_both_denominators():
    rng = np.random.default_rng(4)
    rows = {}
    for v, (p_buy, p_rep) in {"c": (0.1, 0.3), "t": (0.12, 0.27)}.items():
        buyer = (rng.random(30_000) < p_buy).astype(float)
        rows[v] = (buyer, buyer * (rng.random(30_000) < p_rep))
    counts = {v: RepeatCounts(len(b), int(b.sum()), int(r.sum())) for v, (b, r) in rows.items()}
    exposed = repeat_purchase_effect(counts["c"], counts["t"])
    ref = sps.ttest_ind(rows["t"][1], rows["c"][1], equal_var=False)
    assert exposed.effect.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert exposed.denominator == "exposed"
    buyers = repeat_purchase_effect(counts["c"], counts["t"], denominator="buyers")
    ref_b = ratio_test(*(Moments.from_arrays(r, b) for b, r in (rows["c"], rows["t"])))
    assert buyers.effect.p_value == pytest.approx(ref_b.p_value, rel=REL)
    assert buyers.effect.treatment_mean == pytest.approx(
        rows["t"][1].sum() / rows["t"][0].sum(), rel=REL
    )
    d = _json_safe(buyers.to_dict())
    assert d["denominator"] == "buyers" and d["lift_ci"] is not None
    with pytest.raises(ValueError, match="repeaters"):
        RepeatCounts(100, 10, 11)
    with pytest.raises(ValueError, match="denominator"):
        repeat_purchase_effect(counts["c"], counts["t"], denominator="visitors")


def test_wilson_interval_edges():
    assert wilson_interval(0, 50, 0.05)[0] == 0.0
    lo, hi = smp.proportion_confint(50, 50, 0.05, method="wilson")
    assert wilson_interval(50, 50, 0.05) == pytest.approx((lo, hi), rel=REL)
    assert all(math.isnan(x) for x in wilson_interval(0, 0, 0.05))
