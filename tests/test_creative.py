"""Creative tournaments against references computed at test time (numbers printed with -s).

- Rates, lifts, CPA/ROAS: numpy on simulated per-user rows (linearisation form of the delta
  method, written out here), BH via ``statsmodels.stats.multitest.multipletests``; 1e-10.
- τ²: ``statsmodels.stats.meta_analysis.combine_effects`` (``dl``; ``pm`` iterated to 1e-13),
  REML by direct ``scipy.optimize`` maximisation of the restricted likelihood; the equal-SE
  closed forms (positive-part James–Stein; Efron–Morris with ``morris=True``); the posterior
  sd against the exact Gaussian posterior with a near-flat prior on μ.
- Fatigue: ``statsmodels`` GLM (Binomial, logit) on grouped counts, ``scale="X2"`` for the
  quasi-binomial SE; 1e-8.
- Simulations: shrinkage MSE and the winner's curse; the true best of 20 creatives; an A/A
  tournament's false discovery rate under BH.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from liftlab.stats.bayesian import BetaPosterior
from liftlab.stats.creative import (
    ALLOCATIONS,
    CreativeArm,
    FatigueCurve,
    analyze_creatives,
    apply_floor,
    estimate_tau2,
    fit_fatigue,
    shrink_lifts,
    simulate_allocation,
)

Z = sps.norm.ppf(0.975)


def users(rng, n, ctr, kappa=40.0, cvr=0.1):
    """Per-user rows: 1 + Poisson(4) impressions, user CTR ~ Beta(mean ctr, concentration κ)."""
    imp = 1 + rng.poisson(4.0, n)
    p = rng.beta(ctr * kappa, (1 - ctr) * kappa, n)
    clk = rng.binomial(imp, p)
    conv = rng.binomial(clk, cvr)  # conversion events per user
    rev = conv * rng.gamma(2.0, 25.0, n)
    return imp, clk, conv, rev


def tournament(rng, ctrs, n, **kw):
    arms = []
    for j, c in enumerate(ctrs):
        imp, clk, *_ = users(rng, n, c)
        arms.append(CreativeArm.from_units(f"c{j}", imp, clk))
    return analyze_creatives(arms, control="c0", **kw)


def delta_ratio(y, x):
    """Reference: R = Σy/Σx, se from the linearised per-user values (y − R x)/x̄."""
    r = y.sum() / x.sum()
    lin = (y - r * x) / x.mean()
    return r, lin.std(ddof=1) / math.sqrt(y.size)


# ----- rates and lifts ---------------------------------------------------------------------
def test_rates_lifts_cpa_roas_match_numpy_on_unit_rows():
    rng = np.random.default_rng(11)
    rows = {f"c{j}": users(rng, 4000 + 500 * j, c) for j, c in enumerate([0.02, 0.023, 0.019])}
    spend = {"c0": 900.0, "c1": 1100.0, "c2": 1000.0}
    arms = [
        CreativeArm.from_units(k, *v[:3], revenue=v[3], spend=spend[k]) for k, v in rows.items()
    ]
    res = analyze_creatives(arms, control="c0", draws=2000)
    ref_p = []
    for a in res.arms:
        imp, clk, conv, rev = rows[a.name]
        for got, (y, x) in (
            (a.ctr, (clk, imp)),
            (a.cvr, (conv, clk)),
            (a.cvr_impression, (conv, imp)),
        ):
            r, se = delta_ratio(y, x)
            assert got.estimate == pytest.approx(r, rel=1e-12)
            assert got.se == pytest.approx(se, rel=1e-9)
            assert got.ci == pytest.approx((r - Z * se, r + Z * se), rel=1e-9)
        # CPA: spend over the conversions total, log-scale interval of the total inverted.
        total, total_se = conv.sum(), conv.std(ddof=1) * math.sqrt(conv.size)
        cpa = spend[a.name] / total
        band = (cpa * math.exp(-Z * total_se / total), cpa * math.exp(Z * total_se / total))
        assert a.cpa is not None and a.cpa.estimate == pytest.approx(cpa, rel=1e-12)
        assert a.cpa.ci == pytest.approx(band, rel=1e-9)
        roas, roas_se = (
            rev.sum() / spend[a.name],
            rev.std(ddof=1) * math.sqrt(rev.size) / spend[a.name],
        )
        assert a.roas is not None and a.roas.ci == pytest.approx(
            (roas - Z * roas_se, roas + Z * roas_se), rel=1e-9
        )
        if a.name == "c0":
            assert a.lift is None and a.shrunk_lift is None
            continue
        rc, sc_ = delta_ratio(rows["c0"][1], rows["c0"][0])
        rt, st_ = delta_ratio(clk, imp)
        p = 2 * sps.norm.sf(abs(rt - rc) / math.hypot(sc_, st_))
        log_se = math.hypot(st_ / rt, sc_ / rc)
        assert a.lift is not None and a.lift.estimate == pytest.approx(rt / rc - 1, rel=1e-10)
        assert a.lift.p_value == pytest.approx(p, rel=1e-8)
        assert a.lift.se == pytest.approx(math.hypot(st_ / rc, rt * sc_ / rc**2), rel=1e-9)
        lo, hi = (rt / rc * math.exp(s * Z * log_se) - 1 for s in (-1, 1))
        assert a.lift.ci == pytest.approx((lo, hi), rel=1e-9)
        ref_p.append(p)
    adj = multipletests(ref_p, method="fdr_bh")[1]
    assert [a.lift.p_value_adjusted for a in res.arms[1:]] == pytest.approx(adj, rel=1e-8)


def test_prob_best_two_arms_matches_normal_closed_form():
    rng = np.random.default_rng(3)
    res = tournament(rng, [0.02, 0.021], 6000, draws=200_000)
    a, b = res.arms
    exact = sps.norm.cdf((b.ctr.estimate - a.ctr.estimate) / math.hypot(a.ctr.se, b.ctr.se))
    mc_se = math.sqrt(exact * (1 - exact) / 200_000)
    assert b.prob_best == pytest.approx(exact, abs=4 * mc_se)
    assert a.prob_best + b.prob_best == pytest.approx(1.0)
    # expected loss of choosing b: E[max(0, θ_a − θ_b)] = σφ(d/σ) − dΦ(−d/σ), d = m_b − m_a
    d, sigma = b.ctr.estimate - a.ctr.estimate, math.hypot(a.ctr.se, b.ctr.se)
    loss = sigma * sps.norm.pdf(d / sigma) - d * sps.norm.cdf(-d / sigma)
    assert b.expected_loss == pytest.approx(loss, rel=0.02)


# ----- shrinkage ----------------------------------------------------------------------------
def test_equal_se_gives_james_stein_closed_form():
    rng = np.random.default_rng(5)
    k, s = 12, 0.04
    lifts = rng.normal(0.0, 0.08, k)
    mean, ss = lifts.mean(), np.sum((lifts - lifts.mean()) ** 2)
    assert ss / (k - 1) > s**2  # τ̂² > 0, so the positive part is not active
    for method in ("reml", "dl", "pm"):
        fit = shrink_lifts(lifts, np.full(k, s), method=method, morris=False)
        c = (k - 1) * s**2 / ss  # 1 − B = s²/(s² + τ̂²), τ̂² = S/(k−1) − s²
        assert fit.tau2 == pytest.approx(ss / (k - 1) - s**2, rel=1e-9)
        assert fit.estimate == pytest.approx(mean + (1 - c) * (lifts - mean), rel=1e-9)
        assert np.square(fit.sd) == pytest.approx(s**2 * (1 - c) + c * s**2 / k, rel=1e-9)
    morris = shrink_lifts(lifts, np.full(k, s), morris=True)  # Efron–Morris James–Stein
    assert morris.estimate == pytest.approx(
        mean + (1 - (k - 3) * s**2 / ss) * (lifts - mean), rel=1e-9
    )


def neg_restricted_loglik(t, lifts, v):
    """−log restricted likelihood of the normal–normal model (up to a constant)."""
    w = 1 / (v + t)
    mu = w @ lifts / w.sum()
    return 0.5 * (np.sum(np.log(v + t)) + math.log(w.sum()) + w @ (lifts - mu) ** 2)


def test_tau2_against_statsmodels_and_direct_reml():
    rng = np.random.default_rng(8)
    sm_failed = 0
    for _ in range(8):
        k = int(rng.integers(5, 30))
        se = rng.uniform(0.02, 0.1, k)
        lifts = rng.normal(0.05, 0.06, k) + rng.normal(0, se)
        v = se**2
        dl = combine_effects(lifts, v, method_re="dl").tau2
        assert estimate_tau2(lifts, se, "dl") == pytest.approx(dl, rel=1e-10, abs=1e-15)
        # Paule–Mandel: statsmodels' DerSimonian–Kacker iteration can overshoot below the
        # root and then returns 0 (not converged); where it converged the two agree, and ours
        # always solves the PM equation Σw(l − μ̂)² = k − 1.
        pm = estimate_tau2(lifts, se, "pm")
        ref = combine_effects(lifts, v, method_re="pm", atol=1e-13, maxiter=1000).tau2
        w = 1 / (v + pm)
        assert w @ (lifts - w @ lifts / w.sum()) ** 2 == pytest.approx(k - 1, rel=1e-10)
        if ref > 0:
            assert pm == pytest.approx(ref, rel=1e-8)
        else:
            sm_failed += 1
        ref = optimize.minimize_scalar(
            neg_restricted_loglik,
            bounds=(0, 1),
            args=(lifts, v),
            method="bounded",
            options={"xatol": 1e-14},
        ).x
        got = estimate_tau2(lifts, se, "reml")
        assert got == pytest.approx(ref, rel=1e-6, abs=1e-10)
        assert neg_restricted_loglik(got, lifts, v) <= neg_restricted_loglik(ref, lifts, v) + 1e-12
    assert sm_failed < 8
    # no heterogeneity at all: every estimator gives τ² = 0 and full shrinkage to μ̂
    for method in ("reml", "dl", "pm"):
        flat = shrink_lifts(np.full(6, 0.1), np.linspace(0.02, 0.07, 6), method=method)
        assert flat.tau2 == 0 and flat.estimate == pytest.approx(np.full(6, 0.1), rel=0.01)


def test_posterior_sd_is_the_exact_hierarchical_posterior_given_tau2():
    rng = np.random.default_rng(2)
    k = 9
    se = rng.uniform(0.02, 0.09, k)
    lifts = rng.normal(0.03, 0.07, k)
    fit = shrink_lifts(lifts, se, morris=False)
    # θ = μ1 + u, u ~ N(0, τ²I), μ ~ N(0, 1e6) (near flat); l = θ + e, e ~ N(0, diag s²)
    prior = fit.tau2 * np.eye(k) + 1e6 * np.ones((k, k))
    post_cov = np.linalg.inv(np.linalg.inv(prior) + np.diag(1 / se**2))
    post_mean = post_cov @ (lifts / se**2)
    assert fit.estimate == pytest.approx(post_mean, rel=1e-6, abs=1e-8)
    assert fit.sd == pytest.approx(np.sqrt(np.diag(post_cov)), rel=1e-6)


def test_shrinkage_simulation_mse_and_winners_curse():
    rng = np.random.default_rng(2024)
    k, tau, reps = 20, 0.05, 1000
    sq = {"raw": 0.0, "plug-in": 0.0, "morris": 0.0}
    bias, cover = dict.fromkeys(sq, 0.0), dict.fromkeys(sq, 0.0)
    for _ in range(reps):
        theta = rng.normal(0.0, tau, k)
        se = rng.uniform(0.03, 0.08, k)
        lifts = theta + rng.normal(0.0, se)
        best = int(np.argmax(lifts))  # the creative a team would ship
        fits = {"plug-in": shrink_lifts(lifts, se, morris=False), "morris": shrink_lifts(lifts, se)}
        cis = {"raw": np.column_stack([lifts - Z * se, lifts + Z * se])}
        ests = {"raw": lifts}
        for name, fit in fits.items():
            ests[name], cis[name] = np.asarray(fit.estimate), np.asarray(fit.ci)
        for name, est in ests.items():
            sq[name] += np.mean((est - theta) ** 2) / reps
            bias[name] += (est[best] - theta[best]) / reps
            cover[name] += np.mean((cis[name][:, 0] <= theta) & (theta <= cis[name][:, 1])) / reps
    print(f"\nshrinkage, {k} creatives, true lifts N(0, {tau}²), s ~ U(0.03, 0.08), {reps} reps:")
    for name in sq:
        print(
            f"  {name:8s} MSE {sq[name]:.5f}  bias of the selected best {bias[name]:+.4f}  "
            f"95% interval coverage {cover[name]:.3f}"
        )
    assert sq["morris"] < 0.6 * sq["raw"] and sq["plug-in"] < 0.6 * sq["raw"]
    assert bias["raw"] > 0.05 and abs(bias["morris"]) < 0.2 * bias["raw"]
    assert cover["plug-in"] < 0.92 and 0.93 < cover["morris"] < 0.97


# ----- allocation --------------------------------------------------------------------------
def test_floor_and_simulation_against_closed_forms():
    w = apply_floor({"a": 0.9, "b": 0.0999, "c": 0.0001, "d": 0.0}, 0.05)
    assert sum(w.values()) == pytest.approx(1.0)
    assert min(w.values()) == pytest.approx(0.05)
    assert w["a"] / w["b"] == pytest.approx(0.9 / 0.0999)  # unfloored ratios kept
    with pytest.raises(ValueError, match="floor"):
        apply_floor({"a": 0.5, "b": 0.5, "c": 0.0}, 0.4)
    posts = {"a": BetaPosterior(31, 970), "b": BetaPosterior(21, 980), "c": BetaPosterior(11, 990)}
    weights = {"a": 0.8, "b": 0.15, "c": 0.05}
    sim = simulate_allocation(posts, weights, n_next=10_000, draws=200_000, seed=1)
    means = {k: p.mean for k, p in posts.items()}
    expect = 10_000 * sum(weights[k] * means[k] for k in posts)
    assert sim.thompson.expected == pytest.approx(expect, abs=4 * sim.thompson.se)
    assert sim.equal.expected == pytest.approx(
        10_000 * np.mean(list(means.values())), abs=4 * sim.equal.se
    )
    assert sim.regret_thompson.expected < sim.regret_equal.expected
    assert sim.oracle.expected - sim.thompson.expected == pytest.approx(
        sim.regret_thompson.expected
    )


def test_every_allocation_basis():
    rng = np.random.default_rng(6)
    rows = [users(rng, 4000, c) for c in (0.02, 0.02, 0.03, 0.021)]
    arms = [
        CreativeArm.from_units(f"c{j}", imp, clk, (conv > 0).astype(float))  # converting users
        for j, (imp, clk, conv, _) in enumerate(rows)
    ]
    for basis in ALLOCATIONS:
        alloc = analyze_creatives(arms, control="c0", allocation=basis, draws=20_000).allocation
        w = alloc.weights
        assert sum(w.values()) == pytest.approx(1.0) and min(w.values()) >= alloc.floor - 1e-12
        assert alloc.simulation.regret_thompson.expected <= alloc.simulation.regret_equal.expected
        if basis.startswith("ctr"):
            assert max(w, key=w.__getitem__) == "c2"
    events = [CreativeArm.from_units(a.name, *rows[j][:3]) for j, a in enumerate(arms)]
    with pytest.raises(ValueError, match="0/1 conversions"):
        analyze_creatives(events, control="c0", allocation="conversion-user-beta")


def test_true_best_of_20_wins_prob_best_and_allocation():
    rng = np.random.default_rng(99)
    runs, hits_best, hits_alloc = 40, 0, 0
    sims = []
    for _ in range(runs):
        ctrs = 0.02 * rng.uniform(0.85, 1.1, 20)
        star = int(rng.integers(1, 20))
        ctrs[star] = 0.02 * 1.2
        res = tournament(rng, ctrs, 7000, draws=20_000, seed=int(rng.integers(1 << 31)))
        pb = [a.prob_best for a in res.arms]
        alloc = list(res.allocation.weights.values())
        hits_best += int(np.argmax(pb) == star)
        hits_alloc += int(np.argmax(alloc) == star)
        sims.append(res.allocation.simulation)
    r_t = np.mean([s.regret_thompson.expected for s in sims])
    r_e = np.mean([s.regret_equal.expected for s in sims])
    print(
        f"\n20 creatives, true best +20% (others −15% to +10%): highest prob_best {hits_best}/{runs}, largest "
        f"allocation {hits_alloc}/{runs}; mean regret over 100k impressions: Thompson "
        f"{r_t:.1f} clicks, equal split {r_e:.1f}"
    )
    assert hits_best >= 0.9 * runs and hits_alloc >= 0.9 * runs
    assert r_t < r_e


def test_aa_tournament_bh_false_discovery_rate():
    rng = np.random.default_rng(7)
    runs, alpha, any_rejection, rejections = 800, 0.05, 0, 0
    for _ in range(runs):
        res = tournament(rng, [0.02] * 10, 1000, draws=200, alpha=alpha)
        sig = sum(a.lift.significant for a in res.arms if a.lift is not None)
        any_rejection += sig > 0  # every null is true: FDR = P(at least one rejection)
        rejections += sig
    fdr = any_rejection / runs
    se = math.sqrt(fdr * (1 - fdr) / runs)
    print(
        f"\nA/A, 10 creatives, BH at α = {alpha}: FDR {fdr:.3f} (MC se {se:.3f}), {rejections} false discoveries in {runs} runs"
    )
    assert fdr <= alpha


# ----- fatigue ------------------------------------------------------------------------------
@pytest.mark.parametrize("dispersion", ["quasi", "binomial"])
def test_fatigue_matches_statsmodels_glm(dispersion):
    rng = np.random.default_rng(4)
    days = np.arange(15)
    imp = rng.integers(2000, 9000, days.size)
    p = rng.beta(60, 60 * (1 / (0.025 * np.exp(-0.03 * days)) - 1))  # overdispersed cells
    clk = rng.binomial(imp, p)
    fit = fit_fatigue(FatigueCurve("c1", imp, clk), dispersion=dispersion)
    # statsmodels' scale="X2" is the quasi-binomial dispersion only with proportions and
    # var_weights (with a two-column endog it ignores the trials; statsmodels 0.15).
    glm = sm.GLM(
        clk / imp,
        sm.add_constant(days.astype(float)),
        family=sm.families.Binomial(),
        var_weights=imp,
    )
    quasi = dispersion == "quasi"
    ref = glm.fit(tol=1e-14, scale="X2" if quasi else None, use_t=quasi)
    assert [fit.intercept, fit.slope] == pytest.approx(ref.params, rel=1e-8)
    assert fit.se == pytest.approx(ref.bse[1], rel=1e-8)
    assert fit.ci == pytest.approx(tuple(ref.conf_int()[1]), rel=1e-8)
    one_sided = ref.pvalues[1] / 2 if ref.params[1] < 0 else 1 - ref.pvalues[1] / 2
    assert fit.p_value_decline == pytest.approx(one_sided, rel=1e-7)
    if quasi:
        assert fit.dispersion == pytest.approx(ref.scale, rel=1e-8) and fit.dispersion > 1
        print(
            f"\nfatigue: slope {fit.slope:.4f}/day, quasi se {fit.se:.4f}, φ = {fit.dispersion:.2f}"
        )


# ----- the results dict and validation ------------------------------------------------------
def test_to_dict_shape_and_json_safety():
    rng = np.random.default_rng(1)
    arms = []
    for j, c in enumerate([0.02, 0.024, 0.021, 0.018]):
        imp, clk, conv, rev = users(rng, 3000, c)
        arm = CreativeArm.from_units(f"c{j}", imp, clk, conv, revenue=rev, spend=500.0)
        if j == 2:  # no cross-products for conversions: the CVR interval is undefined
            arm = replace(arm, sum_conversions_clicks=None, sum_conversions_impressions=None)
        arms.append(arm)
    fat = [FatigueCurve("c1", [900, 800, 700, 600], [25, 20, 16, 12])]
    d = analyze_creatives(arms, control="c0", draws=5000, fatigue=fat).to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d) >= {"arms", "shrinkage", "allocation", "fatigue"}
    arm_keys = set(
        "name users impressions clicks conversions ctr cvr cpa roas lift prob_best expected_loss "
        "shrunk_lift".split()
    )
    assert all(arm_keys <= set(a) for a in d["arms"])
    lift_keys = {"estimate", "ci", "p_value", "p_value_adjusted", "significant"}
    assert d["arms"][0]["lift"] is None and set(d["arms"][1]["lift"]) == lift_keys
    assert set(d["arms"][1]["shrunk_lift"]) == {"estimate", "sd", "ci"}
    assert d["arms"][2]["cvr"]["ci"] == [None, None] and d["arms"][2]["cvr"]["estimate"] > 0
    assert {"method", "mu", "tau2"} <= set(d["shrinkage"]) and d["shrinkage"]["method"] == "reml"
    sim = d["allocation"]["simulation"]
    assert {"thompson", "equal", "oracle", "regret_thompson", "regret_equal"} <= set(sim)
    assert sum(d["allocation"]["weights"].values()) == pytest.approx(1.0)
    assert d["allocation"]["floor"] == pytest.approx(1 / 40)
    assert set(d["fatigue"][0]) >= {"creative", "slope", "ci", "p_value_decline"}


def test_two_arms_skip_shrinkage():
    res = tournament(np.random.default_rng(0), [0.02, 0.022], 2000, draws=1000)
    assert res.shrinkage.method == "none"
    assert res.arms[1].shrunk_lift is not None
    assert res.arms[1].shrunk_lift.estimate == res.arms[1].lift.estimate


def test_clear_value_errors():
    rng = np.random.default_rng(0)
    imp, clk, *_ = users(rng, 200, 0.02)
    arm = CreativeArm.from_units("a", imp, clk)
    with pytest.raises(ValueError, match="2 to 5000"):
        analyze_creatives([arm], control="a")
    many = [CreativeArm.from_units(f"c{j}", imp, clk) for j in range(5001)]
    with pytest.raises(ValueError, match="2 to 5000"):
        analyze_creatives(many, control="c0")
    with pytest.raises(ValueError, match="control 'z'"):
        analyze_creatives(many[:3], control="z")
    with pytest.raises(ValueError, match="zero impressions"):
        CreativeArm.from_units("zero", np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="distinct"):
        analyze_creatives([arm, arm], control="a")
    with pytest.raises(ValueError, match="correction"):
        analyze_creatives(many[:3], control="c0", correction="fdr")
    with pytest.raises(ValueError, match="unknown creatives"):
        analyze_creatives(many[:3], control="c0", fatigue=[FatigueCurve("q", [5, 5, 5], [1, 1, 0])])
