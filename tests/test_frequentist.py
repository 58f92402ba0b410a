"""Frequentist tests on sufficient statistics against scipy/statsmodels on the raw values.

References, all computed at test time: ``scipy.stats.ttest_ind(equal_var=False)`` (Welch),
its ``confidence_interval``, a statsmodels OLS fit (CUPED point estimate), and a Monte Carlo
simulation (delta-method variance of a ratio).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from liftlab.stats.frequentist import (
    cuped_test,
    fieller_interval,
    log_delta_interval,
    norm_cdf,
    norm_pdf,
    ppf,
    ratio_test,
    ratio_variance,
    sf,
    welch_test,
)
from liftlab.stats.moments import Moments

REL = 1e-9


def _arms(seed: int = 1, n_c: int = 800, n_t: int = 1_100):
    rng = np.random.default_rng(seed)
    c = rng.lognormal(1.0, 0.9, n_c)
    t = rng.lognormal(1.08, 1.0, n_t)
    return c, t


def test_moments_match_numpy():
    c, _ = _arms()
    x = c * 0.5 + 1
    m = Moments.from_arrays(c, x)
    assert m.mean_y == pytest.approx(c.mean(), rel=1e-12)
    assert m.var_y == pytest.approx(c.var(ddof=1), rel=1e-10)
    assert m.cov_xy == pytest.approx(np.cov(x, c, ddof=1)[0, 1], rel=1e-10)
    a, b = Moments.from_arrays(c[:300]), Moments.from_arrays(c[300:])
    assert (a + b).var_y == pytest.approx(m.var_y, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_welch_matches_scipy(alpha):
    c, t = _arms()
    eff = welch_test(Moments.from_arrays(c), Moments.from_arrays(t), alpha=alpha)
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert eff.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert eff.statistic == pytest.approx(ref.statistic, rel=REL)
    assert eff.df == pytest.approx(ref.df, rel=REL)
    lo, hi = ref.confidence_interval(1 - alpha)
    assert eff.abs_ci[0] == pytest.approx(lo, rel=REL)
    assert eff.abs_ci[1] == pytest.approx(hi, rel=REL)
    assert eff.abs_effect == pytest.approx(t.mean() - c.mean(), rel=REL)


def test_welch_on_proportions_matches_scipy():
    rng = np.random.default_rng(3)
    c = (rng.random(5_000) < 0.10).astype(float)
    t = (rng.random(5_200) < 0.115).astype(float)
    eff = welch_test(Moments.from_arrays(c), Moments.from_arrays(t))
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert eff.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert eff.abs_ci[0] == pytest.approx(ref.confidence_interval(0.95)[0], rel=REL)


def test_log_delta_relative_interval_closed_form():
    """exp(log(mt/mc) ± z·sqrt(vt/mt² + vc/mc²)) − 1, written out independently."""
    c, t = _arms()
    eff = welch_test(Moments.from_arrays(c), Moments.from_arrays(t))
    mc, mt = c.mean(), t.mean()
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    se = math.sqrt(vt / mt**2 + vc / mc**2)
    z = sps.norm.ppf(0.975)
    assert eff.rel_effect == pytest.approx(mt / mc - 1, rel=REL)
    assert eff.rel_ci[0] == pytest.approx(math.exp(math.log(mt / mc) - z * se) - 1, rel=REL)
    assert eff.rel_ci[1] == pytest.approx(math.exp(math.log(mt / mc) + z * se) - 1, rel=REL)
    assert eff.rel_ci[0] > -1


def test_relative_interval_undefined_for_nonpositive_means():
    assert log_delta_interval(-1.0, 0.1, 2.0, 0.1, 0.05) is None
    assert fieller_interval(0.01, 1.0, 2.0, 0.1, 0.05) is None  # control not away from 0


def test_fieller_interval_solves_its_quadratic():
    mc, vc, mt, vt = 10.0, 0.25, 11.0, 0.3
    lo, hi = fieller_interval(mc, vc, mt, vt, 0.05)
    z = sps.norm.ppf(0.975)
    for rho in (lo + 1, hi + 1):  # the pivot (mt − ρ mc)/sqrt(vt + ρ² vc) equals ±z at the ends
        assert abs(mt - rho * mc) / math.sqrt(vt + rho * rho * vc) == pytest.approx(z, rel=1e-9)
    assert lo < mt / mc - 1 < hi


def test_ratio_delta_method_variance_matches_simulation():
    """Var(Σy/Σx) by the delta method against the spread of 10,000 simulated experiments."""
    rng = np.random.default_rng(11)
    n, reps = 1_000, 10_000
    # impressions per user 1 + Poisson(4), clicks Binomial(impressions, 0.03 + user effect)
    imp = 1 + rng.poisson(4, size=(reps, n))
    p = np.clip(0.03 + rng.normal(0, 0.01, size=(reps, n)), 0, 1)
    clicks = rng.binomial(imp, p)
    ratios = clicks.sum(axis=1) / imp.sum(axis=1)
    empirical = ratios.var(ddof=1)
    predicted = np.mean(
        [ratio_variance(Moments.from_arrays(clicks[i], imp[i])) for i in range(200)]
    )
    # 10,000 replicates give the empirical variance to about ±1.4% (sd ≈ sqrt(2/reps))
    assert predicted == pytest.approx(empirical, rel=0.05)


def test_ratio_test_is_a_z_test_on_the_delta_variances():
    rng = np.random.default_rng(5)
    imp_c, imp_t = 1 + rng.poisson(4, 4000), 1 + rng.poisson(4, 4000)
    clk_c, clk_t = rng.binomial(imp_c, 0.03), rng.binomial(imp_t, 0.034)
    mc, mt = Moments.from_arrays(clk_c, imp_c), Moments.from_arrays(clk_t, imp_t)
    eff = ratio_test(mc, mt)
    rc, rt = clk_c.sum() / imp_c.sum(), clk_t.sum() / imp_t.sum()

    def var(y, x):  # delta method written with numpy, per Deng et al. (2018), eq. (3)
        r = y.sum() / x.sum()
        lin = (y - r * x) / x.mean()
        return lin.var(ddof=1) / y.size

    se = math.sqrt(var(clk_c, imp_c) + var(clk_t, imp_t))
    assert eff.abs_effect == pytest.approx(rt - rc, rel=REL)
    assert eff.abs_se == pytest.approx(se, rel=1e-9)
    assert eff.p_value == pytest.approx(2 * sps.norm.sf(abs(rt - rc) / se), rel=1e-9)
    assert math.isinf(eff.df)


def test_cuped_matches_ols_and_welch_on_adjusted_values():
    rng = np.random.default_rng(9)
    n_c, n_t = 1_500, 1_700
    x_c, x_t = rng.gamma(2, 5, n_c), rng.gamma(2, 5, n_t)
    y_c = 3 + 0.8 * x_c + rng.normal(0, 4, n_c)
    y_t = 3.6 + 0.8 * x_t + rng.normal(0, 4, n_t)
    eff = cuped_test(Moments.from_arrays(y_c, x_c), Moments.from_arrays(y_t, x_t))

    # OLS y ~ 1 + treated + x: the treated coefficient is the CUPED effect, the x slope is θ.
    y = np.concatenate([y_c, y_t])
    x = np.concatenate([x_c, x_t])
    d = np.concatenate([np.zeros(n_c), np.ones(n_t)])
    fit = sm.OLS(y, sm.add_constant(np.column_stack([d, x]))).fit()
    assert eff.abs_effect == pytest.approx(fit.params[1], rel=REL)
    assert eff.theta == pytest.approx(fit.params[2], rel=REL)

    # Variance: Welch's test on the adjusted unit values y − θ(x − x̄), θ from the OLS fit.
    theta = fit.params[2]
    ref = sps.ttest_ind(
        y_t - theta * (x_t - x.mean()), y_c - theta * (x_c - x.mean()), equal_var=False
    )
    assert eff.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert eff.abs_ci[0] == pytest.approx(ref.confidence_interval(0.95)[0], rel=1e-9)
    # and CUPED narrows the interval against the unadjusted test
    raw = welch_test(Moments.from_arrays(y_c), Moments.from_arrays(y_t))
    assert eff.abs_se < raw.abs_se


def test_zero_variance_is_flagged_not_crashed():
    m = Moments(100, 10.0, 10.0)  # ten ones out of a hundred...
    z = Moments(100, 0.0, 0.0)  # ... against all zeros
    eff = welch_test(z, z)
    assert math.isnan(eff.p_value) and eff.note == "zero variance in both arms"
    eff2 = welch_test(z, m)
    assert eff2.note == "control mean is zero: no relative effect"
    assert eff2.rel_ci is None


def test_prob_beat_control_and_expected_loss_closed_form():
    c, t = _arms()
    eff = welch_test(Moments.from_arrays(c), Moments.from_arrays(t))
    mu, s = eff.abs_effect, eff.abs_se
    assert eff.prob_beat_control() == pytest.approx(sps.norm.cdf(mu / s), rel=1e-12)
    assert eff.prob_beat_control("decrease") == pytest.approx(sps.norm.cdf(-mu / s), rel=1e-12)
    # E[max(0, −Δ)] by numerical integration of the normal density
    from scipy.integrate import quad

    loss, _ = quad(
        lambda d: max(0.0, -d) * sps.norm.pdf(d, mu, s), mu - 12 * s, mu + 12 * s, points=[0]
    )
    assert eff.expected_loss() == pytest.approx(loss, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=40),
    st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=40),
    st.randoms(use_true_random=False),
)
def test_properties_pvalue_range_ci_contains_estimate_order_invariance(c, t, rnd):
    mc, mt = Moments.from_arrays(c), Moments.from_arrays(t)
    eff = welch_test(mc, mt)
    if math.isnan(eff.p_value):
        return
    assert 0 <= eff.p_value <= 1
    assert eff.abs_ci[0] <= eff.abs_effect <= eff.abs_ci[1]
    shuffled = list(t)
    rnd.shuffle(shuffled)
    again = welch_test(mc, Moments.from_arrays(shuffled))
    assert again.p_value == pytest.approx(eff.p_value, rel=1e-6, abs=1e-12)


def test_non_inferiority_matches_scipy_one_sided_welch():
    """H0: Δ ≤ m is Welch's one-sided test of t − m·1 against c (scipy, alternative='greater')."""
    from liftlab.stats.frequentist import non_inferiority

    c, t = _arms(seed=4)
    eff = welch_test(Moments.from_arrays(c), Moments.from_arrays(t))
    ni = non_inferiority(eff, -0.02, margin_type="relative", alpha=0.05)
    m = -0.02 * c.mean()
    ref = sps.ttest_ind(t - m, c, equal_var=False, alternative="greater")
    assert ni.margin_abs == pytest.approx(m, rel=1e-12)
    assert ni.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert ni.bound == pytest.approx(ref.confidence_interval(0.95).low + m, rel=1e-9)
    assert ni.passed == (ref.pvalue < 0.05) == (ni.bound > m)
    # a metric where lower is better: H0: Δ ≥ m (m > 0), scipy alternative='less'
    nd = non_inferiority(eff, 0.5, margin_type="absolute", direction="decrease")
    ref2 = sps.ttest_ind(t - 0.5, c, equal_var=False, alternative="less")
    assert nd.p_value == pytest.approx(ref2.pvalue, rel=1e-9)


def test_distribution_functions_equal_scipy_stats_to_the_last_bit():
    """ppf, sf, norm_cdf and norm_pdf against scipy.stats.norm and frozen scipy.stats.t (what
    the tests used before), on random and edge arguments: the same float, not just close."""
    rng = np.random.default_rng(11)
    dfs = np.concatenate([rng.uniform(0.5, 5, 200), rng.lognormal(3, 2, 200), [1, 2, 1e6]])
    xs = np.concatenate([rng.normal(0, 3, 403), [0.0, 40.0, -40.0]])[: dfs.size]
    qs = rng.uniform(0.0005, 0.9995, dfs.size)
    for df, x, q in zip(dfs.tolist(), xs.tolist(), qs.tolist(), strict=True):
        assert ppf(q, df) == float(sps.t(df).ppf(q))
        assert sf(x, df) == float(sps.t(df).sf(x))
        assert ppf(q) == float(sps.norm.ppf(q))
        assert sf(x) == float(sps.norm.sf(x))
        assert norm_cdf(x) == float(sps.norm.cdf(x))
        assert norm_pdf(x) == float(sps.norm.pdf(x))
    for bad in (math.nan, 0.0, -1.0):  # scipy's argument check: NaN, as here
        assert math.isnan(ppf(0.975, bad)) and math.isnan(float(sps.t(bad).ppf(0.975)))
        assert math.isnan(sf(1.0, bad)) and math.isnan(float(sps.t(bad).sf(1.0)))
    assert math.isnan(sf(math.nan, 4.0)) and sf(math.inf, 4.0) == 0.0 == sps.t(4.0).sf(math.inf)
