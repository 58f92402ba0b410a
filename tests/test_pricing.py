"""Pricing analysis on sums against references computed at test time.

Where each expected number comes from:

- Per-arm metrics: unit-level 0/1 and revenue arrays; ``statsmodels``' ``proportion_confint``
  (``normal``, ``wilson``), ``scipy.stats.ttest_1samp(...).confidence_interval`` (RPV, profit),
  and the linearisation ``(r − R·c)/c̄`` of the AOV computed from the unit rows.
- Decomposition: the delta-method variances written out here, and a Monte Carlo of repeated
  experiments for the standard errors of the log ratios.
- Demand: ``statsmodels.api.GLM`` with a ``Binomial`` family (logit and log links) on the
  grouped counts and on the expanded unit-level 0/1 rows; its ``get_prediction`` band; finite
  differences of its predictions (elasticity) and a parametric bootstrap that simulates and
  refits (elasticity standard errors).
- Optimal price: ``scipy.optimize.minimize_scalar(method="bounded")`` on the model objective.
- Trend test: statsmodels' GLM score test of ``β = 0`` and ``Table.test_ordinal_association``.
- A simulation with known demand: coverage of the bootstrap interval of the optimal price.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize
from scipy import special as sc
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table
from statsmodels.stats.proportion import proportion_confint

from liftlab.stats.pricing import (
    PriceArm,
    analyze_pricing,
    arm_metrics,
    decompose,
    fit_demand,
    optimal_price,
    prob_best_rpv,
    trend_test,
)

PRICES = np.array([10.0, 15.0, 20.0, 25.0])
N = np.array([1000, 1200, 900, 1100])
BUYERS = np.array([120, 118, 80, 70])
LINKS = {"logit": sm.families.links.Logit, "log": sm.families.links.Log}


def _count_arms(prices=PRICES, n=N, buyers=BUYERS, **kw) -> list[PriceArm]:
    """Arms where every buyer pays the list price (revenue = buyers·price)."""
    return [
        PriceArm(f"p{p:g}", float(p), int(m), int(b), b * p, b * p * p, **kw)
        for p, m, b in zip(prices, n, buyers, strict=True)
    ]


def _units(seed: int, n: int, conv: float, price: float):
    """Unit rows: purchase flag c, units u (1–3 per purchase), revenue r = u·price + tips.

    A few non-buyers have revenue (e.g. a paid add-on), so Σr·c ≠ Σr.
    """
    rng = np.random.default_rng(seed)
    c = (rng.random(n) < conv).astype(float)
    u = c * rng.integers(1, 4, n)
    r = u * price * rng.lognormal(0, 0.1, n) + (rng.random(n) < 0.01) * 2.0
    return c, u, r


def _arm_from_units(name, price, c, r, u=None, unit_cost=None) -> PriceArm:
    extra = {}
    if u is not None:
        extra = {
            "units_sum": u.sum(),
            "units_sumsq": (u * u).sum(),
            "revenue_units_sum": (r * u).sum(),
        }
    return PriceArm(
        name,
        price,
        c.size,
        int(c.sum()),
        r.sum(),
        (r * r).sum(),
        revenue_buyers_sum=(r * c).sum(),
        unit_cost=unit_cost,
        **extra,
    )


def _sm_fit(prices, n, buyers, link):
    endog = np.column_stack([buyers, n - buyers])
    fam = sm.families.Binomial(link=LINKS[link]())
    return sm.GLM(endog, sm.add_constant(prices), family=fam).fit(tol=1e-14)


# ----- per-arm metrics -----------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_arm_metrics_match_unit_level_references(alpha):
    c, _, r = _units(1, 3_000, 0.08, 20.0)
    arm = _arm_from_units("a", 20.0, c, r)
    m = arm_metrics(arm, alpha)
    lo, hi = proportion_confint(c.sum(), c.size, alpha=alpha, method="normal")
    assert m.conversion.estimate == pytest.approx(c.mean(), rel=1e-12)
    assert m.conversion.ci == pytest.approx((lo, hi), rel=1e-12)
    w = arm_metrics(arm, alpha, conversion_interval="wilson")
    assert w.conversion.ci == pytest.approx(
        proportion_confint(c.sum(), c.size, alpha=alpha, method="wilson"), rel=1e-12
    )
    ref = sps.ttest_1samp(r, 0.0).confidence_interval(1 - alpha)
    assert m.rpv.estimate == pytest.approx(r.mean(), rel=1e-12)
    assert m.rpv.ci == pytest.approx((ref.low, ref.high), rel=1e-10)
    # AOV: Σr/Σc with the linearised unit values (r − R·c)/c̄.
    aov = r.sum() / c.sum()
    psi = (r - aov * c) / c.mean()
    se = psi.std(ddof=1) / math.sqrt(c.size)
    z = sps.norm.ppf(1 - alpha / 2)
    assert m.aov.estimate == pytest.approx(aov, rel=1e-12)
    assert m.aov.se == pytest.approx(se, rel=1e-9)
    assert m.aov.ci == pytest.approx((aov - z * se, aov + z * se), rel=1e-9)
    # ... which is close to the naive standard error of revenue among buyers.
    buyers_r = r[c == 1]
    assert m.aov.se == pytest.approx(buyers_r.std(ddof=1) / math.sqrt(buyers_r.size), rel=0.05)
    assert m.profit is None


@pytest.mark.parametrize("explicit_units", [False, True])
def test_profit_per_visitor_matches_t_interval(explicit_units):
    c, u, r = _units(2, 2_500, 0.1, 30.0)
    k = 12.0
    if explicit_units:
        arm, profit = _arm_from_units("a", 30.0, c, r, u=u, unit_cost=k), r - k * u
    else:
        arm, profit = _arm_from_units("a", 30.0, c, r, unit_cost=k), r - k * c
    m = arm_metrics(arm)
    ref = sps.ttest_1samp(profit, 0.0).confidence_interval(0.95)
    assert m.profit is not None
    assert m.profit.estimate == pytest.approx(profit.mean(), rel=1e-10)
    assert m.profit.ci == pytest.approx((ref.low, ref.high), rel=1e-9)
    # A cost given to arm_metrics works the same; a conflicting one is refused.
    plain = _arm_from_units("a", 30.0, c, r, u=u if explicit_units else None)
    assert arm_metrics(plain, unit_cost=k).profit == m.profit
    with pytest.raises(ValueError, match="disagrees"):
        arm_metrics(arm, unit_cost=k + 1)


def test_arm_without_buyers_has_no_aov():
    arm = PriceArm("a", 10.0, 500, 0, 0.0, 0.0)
    m = arm_metrics(arm)
    assert math.isnan(m.aov.estimate) and m.aov.ci is None
    assert m.conversion.ci == (0.0, 0.0)  # Wald collapses; Wilson does not
    assert arm_metrics(arm, conversion_interval="wilson").conversion.ci[1] > 0


# ----- decomposition -------------------------------------------------------------------------
def test_decomposition_closed_form():
    c0, _, r0 = _units(3, 4_000, 0.08, 20.0)
    c1, _, r1 = _units(4, 4_200, 0.07, 25.0)
    ctrl, trt = _arm_from_units("c", 20.0, c0, r0), _arm_from_units("t", 25.0, c1, r1)
    d = decompose(ctrl, trt, alpha=0.1)
    z = sps.norm.ppf(0.95)

    def parts(c, r):
        aov = r.sum() / c.sum()
        psi = (r - aov * c) / c.mean()
        return {
            "conversion": (c.mean(), c.mean() * (1 - c.mean()) / c.size),
            "aov": (aov, psi.var(ddof=1) / c.size),
            "rpv": (r.mean(), r.var(ddof=1) / r.size),
        }

    p0, p1 = parts(c0, r0), parts(c1, r1)
    for key, lift in [("conversion", d.conversion_lift), ("aov", d.aov_lift), ("rpv", d.rpv_lift)]:
        (m0, v0), (m1, v1) = p0[key], p1[key]
        log_ratio = math.log(m1 / m0)
        se = math.sqrt(v0 / m0**2 + v1 / m1**2)
        assert lift.estimate == pytest.approx(m1 / m0 - 1, rel=1e-10)
        assert lift.log_ratio == pytest.approx(log_ratio, rel=1e-10)
        assert lift.ci == pytest.approx(
            (math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1), rel=1e-8
        )
        assert lift.p_value == pytest.approx(2 * sps.norm.sf(abs(log_ratio) / se), rel=1e-8)
    assert d.rpv_lift.log_ratio == pytest.approx(
        d.conversion_lift.log_ratio + d.aov_lift.log_ratio, abs=1e-12
    )
    assert (d.variant, d.control) == ("t", "c")


def test_decomposition_standard_errors_by_simulation():
    """sd of the log ratios over repeated experiments ≈ the delta-method se."""
    rng = np.random.default_rng(5)
    n, reps = 3_000, 1_500
    logs, ses = [], []
    for _ in range(reps):
        arms = []
        for name, conv, mu in [("c", 0.1, 3.0), ("t", 0.08, 3.2)]:
            c = (rng.random(n) < conv).astype(float)
            r = c * rng.lognormal(mu, 0.6, n)
            arms.append(_arm_from_units(name, 1.0, c, r))
        d = decompose(*arms)
        lifts = (d.rpv_lift, d.conversion_lift, d.aov_lift)
        logs.append([x.log_ratio for x in lifts])
        ses.append([x.se_log for x in lifts])
    sd, se = np.std(logs, axis=0, ddof=1), np.mean(ses, axis=0)
    print("\nlog-ratio sd (rpv, conversion, aov):", sd, "delta-method se:", se)
    np.testing.assert_allclose(se, sd, rtol=0.08)


# ----- demand fit ----------------------------------------------------------------------------
@pytest.mark.parametrize("link", ["logit", "log"])
@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_demand_fit_matches_statsmodels_grouped_and_unit_level(link):
    fit = fit_demand(_count_arms(), link)
    ref = _sm_fit(PRICES, N, BUYERS, link)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.cov, ref.cov_params(), rtol=1e-8)
    assert fit.deviance == pytest.approx(ref.deviance, rel=1e-8)
    assert fit.pearson_chi2 == pytest.approx(ref.pearson_chi2, rel=1e-8)
    assert fit.df_resid == ref.df_resid == 2
    log_binom = np.sum(sc.gammaln(N + 1) - sc.gammaln(BUYERS + 1) - sc.gammaln(N - BUYERS + 1))
    assert fit.loglik + log_binom == pytest.approx(ref.llf, rel=1e-10)
    # The same fit on expanded 0/1 rows: identical MLE, covariance and log-likelihood.
    price_rows = np.repeat(PRICES, N)
    y_rows = np.concatenate(
        [np.r_[np.ones(b), np.zeros(m - b)] for m, b in zip(N, BUYERS, strict=True)]
    )
    fam = sm.families.Binomial(link=LINKS[link]())
    unit = sm.GLM(y_rows, sm.add_constant(price_rows), family=fam).fit(tol=1e-14)
    np.testing.assert_allclose(fit.params, unit.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), unit.bse, rtol=1e-8)
    assert fit.loglik == pytest.approx(unit.llf, rel=1e-10)


def test_arms_sharing_a_price_are_pooled():
    arms = _count_arms()
    split = [
        *arms[:3],
        PriceArm("x1", 25.0, 600, 40, 1000.0, 25_000.0),
        PriceArm("x2", 25.0, 500, 30, 750.0, 18_750.0),
    ]
    a, b = fit_demand(arms), fit_demand(split)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    assert b.prices == a.prices and b.n == a.n


@pytest.mark.parametrize("link", ["logit", "log"])
@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_band_matches_statsmodels_prediction(link):
    fit = fit_demand(_count_arms(), link)
    ref = _sm_fit(PRICES, N, BUYERS, link)
    grid = np.linspace(10, 25, 7)
    q, lo, hi = fit.band(grid, alpha=0.1)
    frame = ref.get_prediction(sm.add_constant(grid)).summary_frame(alpha=0.1)
    np.testing.assert_allclose(q, frame["mean"], rtol=1e-8)
    np.testing.assert_allclose(lo, frame["mean_ci_lower"], rtol=1e-8)
    np.testing.assert_allclose(hi, frame["mean_ci_upper"], rtol=1e-8)


@pytest.mark.parametrize("link", ["logit", "log"])
@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
def test_elasticity_matches_finite_differences(link):
    fit = fit_demand(_count_arms(), link)
    ref = _sm_fit(PRICES, N, BUYERS, link)
    h = 1e-5
    for e in fit.elasticity(PRICES):
        p = e.price
        q_up, q_mid, q_dn = ref.predict(
            sm.add_constant(np.array([p + h, p, p - h]), has_constant="add")
        )
        assert e.estimate == pytest.approx((q_up - q_dn) / (2 * h) * p / q_mid, rel=1e-6)


@pytest.mark.parametrize("link", ["logit", "log"])
def test_elasticity_se_matches_parametric_bootstrap(link):
    """Simulate buyers from the fitted curve, refit, and compare the sd of ε with the se."""
    fit = fit_demand(_count_arms(), link)
    rng = np.random.default_rng(7)
    q = fit.q(PRICES)
    eps = []
    for _ in range(1_000):
        y = rng.binomial(N, q)
        refit = fit_demand(_count_arms(buyers=y), link)
        eps.append([e.estimate for e in refit.elasticity(PRICES)])
    sd = np.std(eps, axis=0, ddof=1)
    se = np.array([e.se for e in fit.elasticity(PRICES)])
    print(f"\n{link} elasticity sd (bootstrap):", sd, "delta se:", se)
    np.testing.assert_allclose(se, sd, rtol=0.1)


# ----- optimal price -------------------------------------------------------------------------
@pytest.mark.parametrize("link", ["logit", "log"])
@pytest.mark.parametrize("cost", [None, 3.0])
def test_optimal_price_matches_bounded_search(link, cost):
    buyers = np.array([200, 150, 95, 50])  # demand falls fast: the optimum is inside
    fit = fit_demand(_count_arms(buyers=buyers), link)
    a, b = fit.params
    h = sc.expit if link == "logit" else np.exp
    k = cost or 0.0
    ref = optimize.minimize_scalar(
        lambda p: -(p - k) * h(a + b * p),
        bounds=(10, 25),
        method="bounded",
        options={"xatol": 1e-10},
    )
    opt = optimal_price(fit, unit_cost=cost, draws=500, seed=3)
    assert 10 < opt.price < 25
    assert opt.price == pytest.approx(ref.x, abs=1e-6)
    assert opt.value == pytest.approx(-ref.fun, rel=1e-10)
    assert opt.objective == ("revenue" if cost is None else "profit")
    assert opt.ci[0] <= opt.price <= opt.ci[1]
    assert not opt.at_edge and opt.note is None
    assert optimal_price(fit, unit_cost=cost, draws=500, seed=3) == opt  # seeded


def test_optimal_price_bootstrap_draws_are_reoptimised():
    """Each draw's optimum equals a bounded search under that draw's (α, β)."""
    from liftlab.stats.pricing import _argmax_price

    rng = np.random.default_rng(11)
    a = rng.normal(-1.5, 1.0, 40)
    b = rng.normal(-0.03, 0.05, 40)  # includes increasing curves (b > 0)
    for link, h in [("logit", sc.expit), ("log", np.exp)]:
        for k in (0.0, 12.0):
            got = _argmax_price(link, a, b, 10.0, 25.0, k)
            grid = np.linspace(10, 25, 150_001)
            want = grid[np.argmax((grid - k) * h(a[:, None] + b[:, None] * grid), axis=1)]
            np.testing.assert_allclose(got, want, atol=2e-4)


def test_increasing_revenue_gives_the_top_edge():
    fit = fit_demand(_count_arms(buyers=np.array([100, 118, 88, 105])))
    opt = optimal_price(fit)
    assert opt.price == 25.0 and opt.at_edge
    assert "top of the tested range" in (opt.note or "")
    assert opt.edge_fraction > 0.5


# ----- prob best and trend -------------------------------------------------------------------
def test_prob_best_rpv_two_arms_closed_form():
    c0, _, r0 = _units(8, 3_000, 0.08, 20.0)
    c1, _, r1 = _units(9, 3_000, 0.075, 22.0)
    arms = [_arm_from_units("a", 20.0, c0, r0), _arm_from_units("b", 22.0, c1, r1)]
    pb = prob_best_rpv(arms, draws=200_000, seed=1)
    diff = r1.mean() - r0.mean()
    sd = math.hypot(r0.std(ddof=1) / math.sqrt(r0.size), r1.std(ddof=1) / math.sqrt(r1.size))
    assert pb["b"] == pytest.approx(sps.norm.cdf(diff / sd), abs=0.005)
    assert sum(pb.values()) == pytest.approx(1.0)
    assert prob_best_rpv(arms, draws=200_000, seed=1) == pb


def test_trend_test_equals_logistic_score_test_and_statsmodels_ordinal():
    t = trend_test(_count_arms())
    endog = np.column_stack([BUYERS, N - BUYERS])
    null = sm.GLM(endog, np.ones((4, 1)), family=sm.families.Binomial()).fit()
    full = sm.GLM(endog, sm.add_constant(PRICES), family=sm.families.Binomial())
    score, p_score, _ = full.score_test(np.r_[null.params, 0.0], k_constraints=1)
    assert t.z**2 == pytest.approx(score[0], rel=1e-10)
    assert t.p_value == pytest.approx(p_score[0], rel=1e-8)
    ordinal = Table(endog).test_ordinal_association(
        row_scores=PRICES, col_scores=np.array([1.0, 0.0])
    )
    total = N.sum()
    assert ordinal.zscore == pytest.approx(t.z * math.sqrt((total - 1) / total), rel=1e-10)
    assert t.z < 0  # conversion falls with price


# ----- the whole analysis --------------------------------------------------------------------
def test_analyze_pricing_dict_shape():
    arms = _count_arms(unit_cost=4.0)
    arms[0] = PriceArm("p10", 10.0, 1000, 0, 0.0, 0.0, unit_cost=4.0)  # no buyers: AOV undefined
    res = analyze_pricing(arms, control="p15", draws=300, grid_points=11)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert [a["name"] for a in d["arms"]] == ["p10", "p15", "p20", "p25"]
    first = d["arms"][0]
    assert set(first) >= {"name", "price", "conversion", "aov", "rpv", "profit", "prob_best_rpv"}
    assert first["aov"] == {"estimate": None, "se": None, "ci": None}
    assert set(first["profit"]) == {"estimate", "se", "ci"}
    dem = d["demand"]
    assert dem["link"] == "logit" and set(dem["coefficients"]) == {"intercept", "price"}
    assert len(dem["covariance"]) == 2 and len(dem["elasticity"]) == 4
    assert set(dem["elasticity"][0]) == {"price", "estimate", "ci"}
    assert len(dem["curve"]) == 11
    assert set(dem["curve"][0]) == {"price", "conversion", "ci_low", "ci_high", "rpv", "profit"}
    assert dem["gof"]["df"] == 2 and dem["gof"]["pearson_p_value"] is not None
    assert d["optimal_price"]["objective"] == "revenue"
    assert set(d["optimal_price"]) >= {"price", "ci", "at_edge", "edge_fraction", "objective"}
    assert d["optimal_profit_price"]["objective"] == "profit"
    assert set(d["trend"]) == {"z", "p_value"}
    assert [x["variant"] for x in d["decomposition"]] == ["p10", "p20", "p25"]
    assert all(x["control"] == "p15" for x in d["decomposition"])
    assert set(d["decomposition"][1]) >= {"rpv_lift", "conversion_lift", "aov_lift"}
    assert d["decomposition"][0]["aov_lift"]["ci"] is None  # no buyers in p10
    assert sum(a["prob_best_rpv"] for a in d["arms"]) == pytest.approx(1.0)
    assert analyze_pricing(_count_arms(), draws=300).to_dict()["optimal_profit_price"] is None


def _truth_optimum(a: float, b: float, lo: float, hi: float) -> float:
    res = optimize.minimize_scalar(
        lambda p: -p * sc.expit(a + b * p),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-9},
    )
    return float(res.x)


def test_simulation_coverage_of_optimal_price():
    """Known logistic demand with its revenue optimum (≈26.9) inside prices 15..35."""
    a, b = -1.5, -0.04
    prices = np.array([15.0, 20.0, 25.0, 30.0, 35.0])
    n = np.full(5, 4_000)
    truth = _truth_optimum(a, b, 15, 35)
    assert 20 < truth < 30
    k = 5.0  # unit cost: the profit optimum (≈31.6) is inside too, nearer the top
    truth_profit = k - (1 + float(sc.wrightomega(a + b * k - 1))) / b
    assert truth_profit == pytest.approx(
        optimize.minimize_scalar(
            lambda p: -(p - k) * sc.expit(a + b * p), bounds=(15, 35), method="bounded"
        ).x,
        abs=1e-4,
    )
    rng = np.random.default_rng(2024)
    runs, covered, covered_profit, edge = 200, 0, 0, 0
    start = time.perf_counter()
    for i in range(runs):
        y = rng.binomial(n, sc.expit(a + b * prices))
        res = analyze_pricing(
            _count_arms(prices, n, y), unit_cost=k, draws=2_000, seed=i, prob_best_draws=2_000
        )
        lo, hi = res.optimal_price.ci
        covered += lo <= truth <= hi
        edge += res.optimal_price.at_edge
        assert res.optimal_profit_price is not None
        lo, hi = res.optimal_profit_price.ci
        covered_profit += lo <= truth_profit <= hi
    elapsed = time.perf_counter() - start
    print(
        f"\nrevenue optimum {truth:.2f}: 95% CI coverage {covered}/{runs}, at_edge {edge}/{runs}; "
        f"profit optimum {truth_profit:.2f}: coverage {covered_profit}/{runs}; {elapsed:.1f}s"
    )
    assert covered / runs >= 0.90
    assert covered_profit / runs >= 0.90


def test_simulation_edge_optimum_is_flagged():
    """Demand so flat the revenue optimum (≈70) is far above the tested range 15..35."""
    a, b = -2.0, -0.015
    prices = np.array([15.0, 20.0, 25.0, 30.0, 35.0])
    n = np.full(5, 4_000)
    rng = np.random.default_rng(99)
    runs = 100
    at_edge = 0
    for i in range(runs):
        y = rng.binomial(n, sc.expit(a + b * prices))
        res = analyze_pricing(_count_arms(prices, n, y), draws=1_000, seed=i, prob_best_draws=2_000)
        at_edge += res.optimal_price.at_edge and res.optimal_price.price == 35.0
    print(f"\nedge optimum: at_edge (top) in {at_edge}/{runs} runs")
    assert at_edge / runs >= 0.9


# ----- edge cases ----------------------------------------------------------------------------
def test_edge_cases_raise_clear_errors():
    with pytest.raises(ValueError, match="0 visitors"):
        PriceArm("a", 10.0, 0, 0, 0.0, 0.0)
    one_price = [PriceArm(f"a{i}", 10.0, 100, 10, 100.0, 1000.0) for i in range(3)]
    with pytest.raises(ValueError, match="at least 2 distinct prices"):
        fit_demand(one_price)
    with pytest.raises(ValueError, match="at least 2 distinct prices"):
        analyze_pricing(one_price)
    with pytest.raises(ValueError, match="no visitor bought"):
        fit_demand(_count_arms(buyers=np.zeros(4, int)))
    with pytest.raises(ValueError, match="every visitor bought"):
        fit_demand(_count_arms(buyers=N))
    # Quasi-separation: all buy at the two low prices, none at 25, some at 20.
    with pytest.raises(ValueError, match="separated"):
        fit_demand(_count_arms(buyers=np.array([1000, 1200, 400, 0])))
    # Log link: a price where everyone bought puts the MLE on the boundary q = 1.
    with pytest.raises(ValueError, match="boundary"):
        fit_demand(_count_arms(buyers=np.array([1000, 600, 300, 100])), "log")
    with pytest.raises(ValueError, match="link must be"):
        fit_demand(_count_arms(), "probit")
    with pytest.raises(ValueError, match="unique"):
        analyze_pricing([*_count_arms(), _count_arms()[0]])
    with pytest.raises(ValueError, match="different unit costs"):
        analyze_pricing(
            [
                PriceArm("a", 1.0, 10, 1, 1.0, 1.0, unit_cost=0.5),
                PriceArm("b", 2.0, 10, 1, 2.0, 4.0, unit_cost=0.7),
            ]
        )
    with pytest.raises(ValueError, match="control"):
        analyze_pricing(_count_arms(), control="nope")
    with pytest.raises(ValueError, match="together"):
        PriceArm("a", 1.0, 10, 1, 1.0, 1.0, units_sum=1.0)
