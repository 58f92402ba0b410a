"""Bayesian engine against references computed at test time.

Where each expected number comes from:

- ``P(B > A)`` for Beta posteriors: ``scipy.integrate.quad`` of ``∫ f_B(x)·F_A(x) dx`` (the
  integration order opposite to liftlab's own fallback), with densities and CDFs from
  ``scipy.stats.beta`` / ``scipy.special.betainc``; and a seeded 2,000,000-draw Monte Carlo.
- Expected losses: ``scipy.integrate.dblquad`` of ``(x − y)·f(x)·f(y)`` over ``x > y``, and the
  1-D layer-cake identity ``E[max(0, X − Y)] = ∫ F_Y(t)·(1 − F_X(t)) dt`` with ``quad``.
- Credible intervals of the Beta-Binomial model: quantiles of the exact distribution of
  ``p_t − p_c`` and ``p_t/p_c`` (``quad`` for the CDF, ``brentq`` to invert it).
- Gaussian model: the normal-normal conjugate update written out here, and the frequentist
  normal interval from :func:`liftlab.stats.frequentist.compare` with ``df = inf``.
- Calibration under the prior: experiments whose true rates / effects are drawn from the
  prior itself; a correct posterior probability then matches the observed frequency. Checked
  per decile of the predicted probability (99% binomial interval) and overall with
  Spiegelhalter's (1986) z-test of the Brier score (*Statistics in Medicine* 5:421–433).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy import special as sc
from scipy import stats as sps

from liftlab.stats.bayesian import (
    MAX_EXACT_TERMS,
    BetaPosterior,
    NormalPosterior,
    NormalPrior,
    beta_binomial_effect,
    beta_expected_loss,
    beta_posterior,
    gaussian_effect,
    log_beta,
    normal_expected_loss,
    prob_best,
    prob_beta_greater,
)
from liftlab.stats.frequentist import compare
from liftlab.stats.moments import Moments

HYPO = settings(max_examples=40, deadline=None, derandomize=True)


# ----- references -------------------------------------------------------------------------
def _pdf(x: float, a: float, b: float) -> float:
    """Beta density from its definition (small parameters only)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - sc.betaln(a, b))


def ref_prob_greater(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(X2 > X1) = ∫ f2(x)·F1(x) dx over [0, 1] by quad (small parameters)."""
    value = integrate.quad(
        lambda x: _pdf(x, a2, b2) * sc.betainc(a1, b1, x),
        0,
        1,
        epsabs=1e-13,
        epsrel=1e-12,
        limit=400,
        full_output=1,  # no IntegrationWarning: a poor reference shows up as a failed assert
    )[0]
    return value


def ref_expected_loss_2d(a1: float, b1: float, a2: float, b2: float) -> float:
    """E[max(0, X1 − X2)] = ∫_0^1 ∫_{x2}^1 (x1 − x2) f1(x1) f2(x2) dx1 dx2 by dblquad."""
    value, _ = integrate.dblquad(
        lambda x1, x2: (x1 - x2) * _pdf(x1, a1, b1) * _pdf(x2, a2, b2),
        0,
        1,
        lambda x2: x2,
        1,
        epsabs=1e-12,
        epsrel=1e-10,
    )
    return value


def ref_expected_loss_layer_cake(a1: float, b1: float, a2: float, b2: float) -> float:
    """E[max(0, X1 − X2)] = ∫ F2(t)·(1 − F1(t)) dt (scipy.stats.beta, with break points)."""
    d1, d2 = sps.beta(a1, b1), sps.beta(a2, b2)
    lo = min(d1.ppf(1e-15), d2.ppf(1e-15))
    hi = max(d1.isf(1e-15), d2.isf(1e-15))
    pts = sorted({d.mean() + k * d.std() for d in (d1, d2) for k in (-4, -2, 0, 2, 4)})
    value, _ = integrate.quad(
        lambda t: d2.cdf(t) * d1.sf(t),
        lo,
        hi,
        points=[p for p in pts if lo < p < hi],
        epsabs=1e-14,
        epsrel=1e-12,
        limit=400,
    )
    return value


def _counts(draw, max_n: int = 80) -> tuple[int, int, int, int]:
    n_c = draw(st.integers(0, max_n))
    n_t = draw(st.integers(0, max_n))
    return n_c, draw(st.integers(0, n_c)), n_t, draw(st.integers(0, n_t))


# ----- P(B > A): the published 2,000/10,000 vs 2,100/10,000 case ---------------------------
def test_chance_to_beat_2000_vs_2100_of_10000():
    """Beta(1, 1) priors: posteriors Beta(2001, 8001) and Beta(2101, 7901); P(B > A) ≈ 0.96006."""
    a1, b1, a2, b2 = 1 + 2_000, 1 + 8_000, 1 + 2_100, 1 + 7_900
    t0 = time.perf_counter()
    ours = prob_beta_greater(a1, b1, a2, b2)
    elapsed = time.perf_counter() - t0

    d1, d2 = sps.beta(a1, b1), sps.beta(a2, b2)
    pts = [d.mean() + k * d.std() for d in (d1, d2) for k in (-3, 0, 3)]
    quad_ref, quad_err = integrate.quad(
        lambda x: d1.pdf(x) * d2.sf(x), 0.1, 0.35, points=sorted(pts), epsabs=1e-14, limit=200
    )
    draws = 2_000_000
    rng = np.random.default_rng(20240601)
    mc = float(np.mean(rng.beta(a2, b2, draws) > rng.beta(a1, b1, draws)))
    mc_sd = math.sqrt(ours * (1 - ours) / draws)
    print(
        f"\nP(B > A): liftlab {ours:.12f} ({elapsed * 1e3:.2f} ms), quad {quad_ref:.12f} "
        f"(±{quad_err:.1e}), Monte Carlo {mc:.6f} ± {mc_sd:.6f} (2e6 draws) -> "
        f"5 decimals {round(quad_ref, 5)}, MC 3 decimals {round(mc, 3)}"
    )
    assert abs(ours - quad_ref) < 1e-9
    assert round(quad_ref, 5) == 0.96006  # quad confirms the published figure
    assert round(ours, 5) == round(quad_ref, 5)
    assert abs(mc - ours) < 4 * mc_sd
    assert round(mc, 3) == round(ours, 3)


def test_exact_sum_is_fast_and_matches_quadrature_at_large_counts():
    """100,000+ successes: Miller's sum (≈1e5 terms) against the quadrature path."""
    a1, b1, a2, b2 = 1 + 100_000, 1 + 900_000, 1 + 101_000, 1 + 899_000
    t0 = time.perf_counter()
    exact = prob_beta_greater(a1, b1, a2, b2, method="exact")
    elapsed = time.perf_counter() - t0
    quad = prob_beta_greater(a1, b1, a2, b2, method="quad")
    print(f"\n1e5 terms: exact {exact:.13f} in {elapsed * 1e3:.1f} ms, quad {quad:.13f}")
    assert abs(exact - quad) < 1e-9
    assert elapsed < 1.0


def test_above_max_exact_terms_falls_back_to_quadrature():
    s = MAX_EXACT_TERMS + 200_000
    args = (1 + s, 1 + 9 * s, 1 + s + 3_000, 1 + 9 * s - 3_000)
    auto = prob_beta_greater(*args)
    assert auto == prob_beta_greater(*args, method="quad")
    d1, d2 = BetaPosterior(*args[:2]), BetaPosterior(*args[2:])
    normal = sps.norm.cdf((d2.mean - d1.mean) / math.sqrt(d1.var + d2.var))
    assert abs(auto - normal) < 1e-3  # Beta ≈ normal at 10⁶ counts; loose sanity check


@HYPO
@given(data=st.data())
def test_exact_formula_matches_quadrature_on_integer_grid(data):
    n_c, s_c, n_t, s_t = _counts(data.draw)
    a = data.draw(st.integers(1, 3))
    b = data.draw(st.integers(1, 3))
    args = (a + s_c, b + n_c - s_c, a + s_t, b + n_t - s_t)
    assert abs(prob_beta_greater(*args) - ref_prob_greater(*args)) < 1e-8


@HYPO
@given(
    data=st.data(),
    a=st.floats(0.2, 4.0).filter(lambda v: not v.is_integer()),
    b=st.floats(0.2, 4.0).filter(lambda v: not v.is_integer()),
)
def test_quadrature_fallback_matches_reference_for_non_integer_priors(data, a, b):
    n_c, s_c, n_t, s_t = _counts(data.draw)
    args = (a + s_c, b + n_c - s_c, a + s_t, b + n_t - s_t)
    with pytest.raises(ValueError, match="integer"):
        prob_beta_greater(*args, method="exact")
    assert abs(prob_beta_greater(*args) - ref_prob_greater(*args)) < 1e-8


@HYPO
@given(data=st.data())
def test_all_four_summation_paths_agree(data):
    """Forcing the sum over each parameter in turn (others made non-integer) gives one answer."""
    n_c, s_c, n_t, s_t = _counts(data.draw, max_n=40)
    base = (1 + s_c, 1 + n_c - s_c, 1 + s_t, 1 + n_t - s_t)
    ref = ref_prob_greater(*base)
    for keep in range(4):  # shift the other three parameters by a non-integer amount
        args = tuple(v if i == keep else v + 0.5 for i, v in enumerate(base))
        assert abs(prob_beta_greater(*args) - ref_prob_greater(*args)) < 1e-8
    assert abs(prob_beta_greater(*base) - ref) < 1e-8


def test_log_beta_matches_scipy_where_scipy_is_accurate():
    a = np.array([0.3, 1.0, 2.5, 9.9, 10.0, 37.0, 500.0, 3.0, 12.0])
    b = np.array([0.7, 1.0, 8.0, 11.0, 10.0, 2.0, 4_000.0, 1e4, 5.5])
    np.testing.assert_allclose(log_beta(a, b), sc.betaln(a, b), rtol=1e-13, atol=1e-13)


# ----- properties of P(B > A) ----------------------------------------------------------------
@HYPO
@given(data=st.data(), a=st.sampled_from([0.5, 1.0, 2.0, 1.5]))
def test_probabilities_complementary_and_in_unit_interval(data, a):
    n_c, s_c, n_t, s_t = _counts(data.draw, max_n=500)
    args = (a + s_c, a + n_c - s_c, a + s_t, a + n_t - s_t)
    p = prob_beta_greater(*args)
    q = prob_beta_greater(args[2], args[3], args[0], args[1])
    assert 0.0 <= p <= 1.0
    assert abs(p + q - 1.0) < 1e-10  # continuous posteriors: no ties
    if args[:2] == args[2:]:
        assert abs(p - 0.5) < 1e-10


def test_invalid_beta_parameters_raise():
    with pytest.raises(ValueError):
        prob_beta_greater(0, 1, 1, 1)
    with pytest.raises(ValueError):
        prob_beta_greater(1, 1, math.inf, 1)
    with pytest.raises(ValueError):
        prob_beta_greater(1, 1, 1, 1, method="mc")


# ----- expected loss ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        (1 + 3, 1 + 17, 1 + 5, 1 + 15),
        (20 + 31, 180 + 469, 20 + 44, 180 + 456),
        (0.5 + 4, 0.5 + 20, 0.5 + 7, 0.5 + 18),  # non-integer: quadrature inside
        (1 + 0, 1 + 12, 1 + 2, 1 + 10),
    ],
)
def test_expected_loss_matches_double_integral(args):
    a1, b1, a2, b2 = args
    for x, y in ((args[:2], args[2:]), (args[2:], args[:2])):
        ours = beta_expected_loss(*x, *y)
        ref2d = ref_expected_loss_2d(*x, *y)
        ref1d = ref_expected_loss_layer_cake(*x, *y)
        print(f"\nE[max(0, X−Y)] {x} vs {y}: liftlab {ours:.12g} dblquad {ref2d:.12g}")
        assert abs(ours - ref2d) < 1e-8
        assert abs(ours - ref1d) < 1e-9
    # E[max(0, D)] − E[max(0, −D)] = E[D]
    diff = beta_expected_loss(a1, b1, a2, b2) - beta_expected_loss(a2, b2, a1, b1)
    assert diff == pytest.approx(a1 / (a1 + b1) - a2 / (a2 + b2), abs=1e-12)


def test_expected_loss_at_10000_matches_layer_cake_integral():
    args = (1 + 2_000, 1 + 8_000, 1 + 2_100, 1 + 7_900)  # control, treatment
    loss_treat = beta_expected_loss(*args)  # E[max(0, p_c − p_t)]
    loss_ctrl = beta_expected_loss(*args[2:], *args[:2])
    ref_t = ref_expected_loss_layer_cake(*args)
    ref_c = ref_expected_loss_layer_cake(*args[2:], *args[:2])
    print(f"\nloss of shipping {loss_treat:.12g} (quad {ref_t:.12g}), keeping {loss_ctrl:.12g}")
    assert abs(loss_treat - ref_t) < 1e-10
    assert abs(loss_ctrl - ref_c) < 1e-10


@pytest.mark.parametrize(
    ("control", "treatment"), [((12, 40), (18, 40)), ((30, 400), (41, 380)), ((5, 9), (2, 11))]
)
def test_relative_losses_and_mean_lift_match_integrals(control, treatment):
    c, t = (
        Moments(control[1], control[0], control[0]),
        Moments(treatment[1], treatment[0], treatment[0]),
    )
    res = beta_binomial_effect(c, t, draws=1_000)
    ac, bc = 1 + control[0], 1 + control[1] - control[0]
    at, bt = 1 + treatment[0], 1 + treatment[1] - treatment[0]

    def rel_loss(sign: int) -> float:
        """E[max(0, sign·(1 − x_t/x_c))]: dblquad over the half of the square where it is > 0."""
        inner_lo, inner_hi = (
            ((lambda xc: 0.0), (lambda xc: xc)) if sign > 0 else ((lambda xc: xc), (lambda xc: 1.0))
        )
        value, _ = integrate.dblquad(
            lambda xt, xc: sign * (1 - xt / xc) * _pdf(xt, at, bt) * _pdf(xc, ac, bc),
            0,
            1,
            inner_lo,
            inner_hi,
            epsabs=1e-11,
            epsrel=1e-9,
        )
        return value

    inv_mean, _ = integrate.quad(lambda x: _pdf(x, ac, bc) / x, 0, 1, epsabs=1e-12)
    assert res.rel_effect == pytest.approx(at / (at + bt) * inv_mean - 1, abs=1e-9)
    assert res.expected_loss_treatment_rel == pytest.approx(rel_loss(+1), abs=1e-6)
    assert res.expected_loss_control_rel == pytest.approx(rel_loss(-1), abs=1e-6)


# ----- the Beta-Binomial result ----------------------------------------------------------------
def _props(s: int, n: int) -> Moments:
    return Moments(n, float(s), float(s))


def _diff_quantile(ac, bc, at, bt, q, *, ratio: bool) -> float:
    """Exact q-quantile of p_t − p_c (or p_t/p_c − 1) by quad + brentq.

    ``P(p_t − p_c ≤ d) = ∫ f_c(x) F_t(x + d) dx``;
    ``P(p_t/p_c − 1 ≤ d) = ∫ f_c(x) F_t((1 + d) x) dx``.
    """
    mc, sd = ac / (ac + bc), math.sqrt(ac * bc / ((ac + bc) ** 2 * (ac + bc + 1)))
    lo, hi = max(0.0, mc - 12 * sd), min(1.0, mc + 12 * sd)

    def cdf(d: float) -> float:
        def shifted(x: float) -> float:
            return min(1.0, (1 + d) * x) if ratio else min(1.0, max(0.0, x + d))

        def integrand(x: float) -> float:
            return _pdf(x, ac, bc) * sc.betainc(at, bt, shifted(x))

        return integrate.quad(integrand, lo, hi, points=[mc], epsabs=1e-12, limit=200)[0] - q

    return optimize.brentq(cdf, -0.99 if ratio else -0.5, 3.0 if ratio else 0.5, xtol=1e-12)


def test_beta_binomial_result_pieces():
    c, t = _props(2_000, 10_000), _props(2_100, 10_000)
    res = beta_binomial_effect(c, t)
    ac, bc, at, bt = 2_001, 8_001, 2_101, 7_901
    assert res.method == "beta-binomial"
    assert res.prior == "Beta(1, 1) on each arm's rate"
    assert res.prob_beat_control == prob_beta_greater(ac, bc, at, bt)
    assert res.expected_loss_treatment == beta_expected_loss(ac, bc, at, bt)
    assert res.expected_loss_control == beta_expected_loss(at, bt, ac, bc)
    assert res.expected_loss == res.expected_loss_treatment
    assert res.abs_effect == pytest.approx(at / (at + bt) - ac / (ac + bc), rel=1e-12)
    assert res.effect == res.rel_effect and res.ci == res.rel_ci
    assert (res.n_draws, res.note) == (200_000, None)
    # credible intervals (Monte Carlo, 2e5 draws) against the exact quantiles
    sd_abs = math.sqrt(BetaPosterior(ac, bc).var + BetaPosterior(at, bt).var)
    for k, q in enumerate((0.025, 0.975)):
        exact_abs = _diff_quantile(ac, bc, at, bt, q, ratio=False)
        exact_rel = _diff_quantile(ac, bc, at, bt, q, ratio=True)
        print(
            f"\nq={q}: abs {res.abs_ci[k]:.6f} exact {exact_abs:.6f}; "
            f"rel {res.rel_ci[k]:.6f} exact {exact_rel:.6f}"
        )
        assert abs(res.abs_ci[k] - exact_abs) < 0.02 * sd_abs
        assert abs(res.rel_ci[k] - exact_rel) < 0.02 * sd_abs / (ac / (ac + bc))


def test_beta_binomial_seed_direction_and_swap():
    c, t = _props(130, 1_000), _props(150, 1_050)
    a = beta_binomial_effect(c, t, seed=7)
    assert a == beta_binomial_effect(c, t, seed=7)  # same seed, identical result
    b = beta_binomial_effect(c, t, seed=8)
    assert b.abs_ci != a.abs_ci and b.prob_beat_control == a.prob_beat_control
    down = beta_binomial_effect(c, t, seed=7, direction="decrease")
    assert down.prob_beat_control == pytest.approx(1 - a.prob_beat_control, abs=1e-12)
    assert down.expected_loss_treatment == a.expected_loss_control
    assert down.expected_loss_treatment_rel == a.expected_loss_control_rel
    swapped = beta_binomial_effect(t, c, seed=7)
    assert swapped.prob_beat_control == pytest.approx(1 - a.prob_beat_control, abs=1e-12)
    assert swapped.expected_loss_treatment == a.expected_loss_control
    assert swapped.expected_loss_control == a.expected_loss_treatment
    absolute = beta_binomial_effect(c, t, seed=7, relative=False)
    assert absolute.effect == a.abs_effect and absolute.ci == a.abs_ci


def test_beta_binomial_validation_and_tiny_counts():
    with pytest.raises(ValueError, match="0/1"):
        beta_binomial_effect(Moments(10, 5.0, 9.0), _props(3, 10))
    with pytest.raises(ValueError, match="whole number"):
        beta_binomial_effect(Moments(10, 12.0, 12.0), _props(3, 10))
    res = beta_binomial_effect(_props(0, 10), _props(1, 10), prior=(0.5, 0.5))
    assert res.prior == "Beta(0.5, 0.5) on each arm's rate"
    assert res.rel_effect == math.inf and res.expected_loss_control_rel == math.inf
    assert 0 <= res.expected_loss_treatment_rel <= 1 and res.note
    empty = beta_binomial_effect(_props(0, 0), _props(0, 0))  # posterior = prior
    assert empty.prob_beat_control == pytest.approx(0.5, abs=1e-12)
    assert beta_posterior(_props(3, 10), (2, 5)) == BetaPosterior(5, 12)


@HYPO
@given(data=st.data())
def test_beta_binomial_properties(data):
    n_c, s_c, n_t, s_t = _counts(data.draw, max_n=300)
    res = beta_binomial_effect(_props(s_c, n_c), _props(s_t, n_t), draws=2_000)
    assert 0.0 <= res.prob_beat_control <= 1.0
    assert res.expected_loss_treatment >= 0 and res.expected_loss_control >= 0
    assert res.expected_loss_control - res.expected_loss_treatment == pytest.approx(
        res.treatment_mean - res.control_mean, abs=1e-12
    )
    assert res.abs_ci[0] <= res.abs_ci[1] and res.rel_ci[0] >= -1.0


# ----- Gaussian model ------------------------------------------------------------------------
def test_gaussian_conjugate_update_closed_form():
    mc, mt, vc, vt = 20.0, 21.0, 0.09, 0.11
    est, se2 = mt - mc, vc + vt
    mu0, tau = 0.2, 0.5
    post_var = 1 / (1 / se2 + 1 / tau**2)
    post_mean = post_var * (est / se2 + mu0 / tau**2)
    sd = math.sqrt(post_var)
    res = gaussian_effect(
        control_mean=mc,
        treatment_mean=mt,
        var_control_mean=vc,
        var_treatment_mean=vt,
        prior=NormalPrior(mu0, tau),
        effect="absolute",
    )
    z = sps.norm.ppf(0.975)
    assert res.abs_effect == pytest.approx(post_mean, rel=1e-12)
    assert res.abs_ci == pytest.approx((post_mean - z * sd, post_mean + z * sd), rel=1e-12)
    assert res.prob_beat_control == pytest.approx(sps.norm.cdf(post_mean / sd), rel=1e-12)
    loss_ref, _ = integrate.quad(
        lambda d: max(0.0, -d) * sps.norm.pdf(d, post_mean, sd), -np.inf, 0, epsabs=1e-14
    )
    gain_ref, _ = integrate.quad(
        lambda d: max(0.0, d) * sps.norm.pdf(d, post_mean, sd), 0, np.inf, epsabs=1e-14
    )
    assert res.expected_loss_treatment == pytest.approx(loss_ref, abs=1e-10)
    assert res.expected_loss_control == pytest.approx(gain_ref, abs=1e-10)
    assert res.rel_effect == pytest.approx(post_mean / mc, rel=1e-12)
    assert res.expected_loss_treatment_rel == pytest.approx(loss_ref / mc, abs=1e-10)
    assert res.prior == "Normal(mean=0.2, sd=0.5) on the absolute effect"


def test_gaussian_relative_scale_closed_form():
    mc, mt, vc, vt = 4.0, 4.4, 0.01, 0.012
    rel = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)  # GrowthBook's delta-method variance
    z = sps.norm.ppf(0.95)
    flat = gaussian_effect(
        control_mean=mc, treatment_mean=mt, var_control_mean=vc, var_treatment_mean=vt, alpha=0.1
    )
    assert flat.rel_effect == pytest.approx(rel, rel=1e-12)
    assert flat.rel_ci == pytest.approx((rel - z * se, rel + z * se), rel=1e-12)
    assert flat.abs_ci == pytest.approx(((rel - z * se) * mc, (rel + z * se) * mc), rel=1e-12)
    loss_rel = normal_expected_loss(rel, se)
    assert flat.expected_loss_treatment_rel == pytest.approx(loss_rel, rel=1e-12)
    assert flat.expected_loss_treatment == pytest.approx(loss_rel * mc, rel=1e-12)
    mu0, tau = 0.0, 0.05
    post_var = 1 / (1 / se**2 + 1 / tau**2)
    post_mean = post_var * (rel / se**2 + mu0 / tau**2)
    proper = gaussian_effect(
        control_mean=mc,
        treatment_mean=mt,
        var_control_mean=vc,
        var_treatment_mean=vt,
        prior=NormalPrior(mu0, tau),
    )
    assert proper.rel_effect == pytest.approx(post_mean, rel=1e-12)
    assert proper.prob_beat_control == pytest.approx(
        sps.norm.cdf(post_mean / math.sqrt(post_var)), rel=1e-12
    )


@pytest.mark.parametrize("direction", ["increase", "decrease"])
def test_flat_prior_reproduces_frequentist_normal_interval(direction):
    eff = compare(
        method="z",
        control_mean=0.31,
        treatment_mean=0.335,
        var_control_mean=1.1e-4,
        var_treatment_mean=1.3e-4,
        df=math.inf,
        alpha=0.1,
    )
    res = gaussian_effect(eff, effect="absolute", alpha=0.1, direction=direction)
    assert res.abs_ci == pytest.approx(eff.abs_ci, rel=1e-12)
    assert res.abs_effect == pytest.approx(eff.abs_effect, rel=1e-12)
    assert res.prob_beat_control == pytest.approx(eff.prob_beat_control(direction), rel=1e-12)
    assert res.expected_loss == pytest.approx(eff.expected_loss(direction), rel=1e-10)
    keyword = gaussian_effect(
        control_mean=0.31,
        treatment_mean=0.335,
        var_control_mean=1.1e-4,
        var_treatment_mean=1.3e-4,
        effect="absolute",
        alpha=0.1,
        direction=direction,
    )
    assert keyword == res


def test_gaussian_losses_identity_and_directions():
    kw = {"control_mean": 2.0, "treatment_mean": 1.9, "var_control_mean": 0.004}
    up = gaussian_effect(**kw, var_treatment_mean=0.005)
    down = gaussian_effect(**kw, var_treatment_mean=0.005, direction="decrease")
    assert up.prob_beat_control + down.prob_beat_control == pytest.approx(1.0, abs=1e-15)
    assert up.expected_loss_treatment == down.expected_loss_control
    # E[max(0, Δ)] − E[max(0, −Δ)] = E[Δ]
    assert up.expected_loss_control_rel - up.expected_loss_treatment_rel == pytest.approx(
        up.rel_effect, abs=1e-14
    )


def test_gaussian_soft_errors_and_argument_checks():
    res = gaussian_effect(
        control_mean=0.0, treatment_mean=1.0, var_control_mean=0.1, var_treatment_mean=0.1
    )
    assert math.isnan(res.prob_beat_control) and "not positive" in (res.note or "")
    res = gaussian_effect(
        control_mean=1.0, treatment_mean=1.0, var_control_mean=0.0, var_treatment_mean=0.0
    )
    assert math.isnan(res.prob_beat_control) and "zero variance" in (res.note or "")
    res = gaussian_effect(
        control_mean=-1.0,
        treatment_mean=1.0,
        var_control_mean=0.1,
        var_treatment_mean=0.1,
        effect="absolute",
    )
    assert res.prob_beat_control > 0.99 and math.isnan(res.rel_effect)
    with pytest.raises(ValueError, match="all four"):
        gaussian_effect(control_mean=1.0)
    eff = compare(
        method="z",
        control_mean=1.0,
        treatment_mean=1.1,
        var_control_mean=0.01,
        var_treatment_mean=0.01,
        df=math.inf,
    )
    with pytest.raises(ValueError, match="not both"):
        gaussian_effect(eff, control_mean=1.0)
    with pytest.raises(ValueError, match="effect"):
        gaussian_effect(eff, effect="log")
    with pytest.raises(ValueError):
        NormalPrior(0.0, 0.0)


# ----- many arms -----------------------------------------------------------------------------
def test_prob_best_two_beta_arms_matches_exact():
    a, b = BetaPosterior(1 + 200, 1 + 1_800), BetaPosterior(1 + 215, 1 + 1_785)
    draws = 100_000
    res = prob_best({"A": a, "B": b}, seed=11, draws=draws)
    exact = prob_beta_greater(a.a, a.b, b.a, b.b)
    sd = math.sqrt(exact * (1 - exact) / draws)
    assert abs(res.prob_best["B"] - exact) < 3 * sd
    assert res.prob_best["A"] + res.prob_best["B"] == pytest.approx(1.0, abs=1e-12)
    # expected loss of choosing A is E[max(0, B − A)], to Monte Carlo error
    rng = np.random.default_rng(11)
    regret = np.maximum(0.0, rng.beta(b.a, b.b, draws) - rng.beta(a.a, a.b, draws))
    loss_exact = beta_expected_loss(b.a, b.b, a.a, a.b)
    assert abs(res.expected_loss["A"] - loss_exact) < 4 * regret.std() / math.sqrt(draws)
    assert res.seed == 11 and res.draws == draws


def test_prob_best_two_normal_arms_matches_closed_form():
    a, b = NormalPosterior(1.00, 0.02), NormalPosterior(1.03, 0.025)
    res = prob_best({"A": a, "B": b}, seed=3, draws=100_000)
    exact = sps.norm.cdf((b.mean - a.mean) / math.hypot(a.sd, b.sd))
    assert abs(res.prob_best["B"] - exact) < 3 * math.sqrt(exact * (1 - exact) / 100_000)
    down = prob_best({"A": a, "B": b}, seed=3, draws=100_000, direction="decrease")
    assert down.prob_best["A"] == pytest.approx(res.prob_best["B"], abs=1e-12)


def test_prob_best_many_arms_sums_to_one_and_is_reproducible():
    arms = {
        "control": BetaPosterior(101, 901),
        "b": BetaPosterior(111, 891),
        "c": BetaPosterior(95, 907),
        "d": NormalPosterior(0.105, 0.01),
    }
    first = prob_best(arms, seed=42, draws=50_000)
    again = prob_best(arms, seed=42, draws=50_000)
    assert first == again
    assert sum(first.prob_best.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(0 <= p <= 1 for p in first.prob_best.values())
    assert all(v >= 0 for v in first.expected_loss.values())
    assert min(first.expected_loss, key=first.expected_loss.__getitem__) == max(
        first.prob_best, key=first.prob_best.__getitem__
    )
    assert prob_best(arms, seed=43, draws=50_000) != first
    samples = {"x": np.array([1.0, 2.0, 3.0]), "y": np.array([2.0, 1.0, 4.0])}
    res = prob_best(samples)
    assert res.prob_best == {"x": 1 / 3, "y": 2 / 3} and res.seed is None
    assert res.expected_loss == pytest.approx({"x": 2 / 3, "y": 1 / 3})
    with pytest.raises(ValueError, match="same length"):
        prob_best({"x": np.zeros(3), "y": np.zeros(4)})


def _one_matrix(arms: dict, seed: int, draws: int, direction: str) -> tuple[dict, dict]:
    """The reference: every arm's draws in one ``draws × arms`` matrix, drawn arm after arm."""
    rng = np.random.default_rng(seed)
    cols = []
    for arm in arms.values():
        if isinstance(arm, BetaPosterior):
            cols.append(rng.beta(arm.a, arm.b, draws))
        elif isinstance(arm, NormalPosterior):
            cols.append(rng.normal(arm.mean, arm.sd, draws))
        else:
            cols.append(np.asarray(arm, dtype=float))
    theta = np.column_stack(cols) * (1 if direction == "increase" else -1)
    counts = np.bincount(theta.argmax(axis=1), minlength=theta.shape[1]) / draws
    loss = (theta.max(axis=1, keepdims=True) - theta).mean(axis=0)
    return dict(zip(arms, counts.tolist(), strict=True)), dict(zip(arms, loss, strict=True))


@pytest.mark.parametrize("direction", ["increase", "decrease"])
@pytest.mark.parametrize("block", [1, 3 * 500, 7 * 500, 10**9])
def test_prob_best_in_blocks_gives_the_numbers_of_one_matrix(block, direction):
    """Blocks of one arm, of three, of seven or all arms at once: the one matrix's numbers."""
    rng = np.random.default_rng(8)
    draws = 500
    arms: dict = {f"n{j}": NormalPosterior(1.0 + 0.01 * (j % 4), 0.02) for j in range(9)}
    arms |= {f"b{j}": BetaPosterior(100 + j, 900) for j in range(5)}
    arms["samples"] = rng.normal(1.02, 0.02, draws)
    arms["tie"] = arms["samples"].copy()  # ties go to the arm listed first
    res = prob_best(arms, seed=5, draws=draws, direction=direction, block=block)
    best, loss = _one_matrix(arms, 5, draws, direction)
    assert res.prob_best == best
    assert res.expected_loss == pytest.approx(loss, abs=1e-13)
    assert res.prob_best["tie"] == 0.0


def test_prob_best_at_600_arms_stays_in_bounded_memory():
    """600 arms × 100,000 draws is 480 MB as one matrix; drawn in blocks it is one block."""
    import tracemalloc

    rng = np.random.default_rng(2)
    arms = {
        f"ad {j}": NormalPosterior(0.02 + 0.002 * rng.standard_normal(), 1e-3) for j in range(600)
    }
    tracemalloc.start()
    try:
        res = prob_best(arms, seed=1, draws=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert sum(res.prob_best.values()) == pytest.approx(1.0, abs=1e-12)


def test_prob_best_of_normal_posteriors_matches_quadrature():
    """``P(i best) = ∫ φ_i(x) Π_{j≠i} Φ_j(x) dx`` and ``E[max] = ∫ x Σ_i φ_i Π_{j≠i} Φ_j dx``
    by ``scipy.integrate.quad``, against 200,000 draws (4 Monte Carlo SEs)."""
    mu = np.array([1.00, 1.02, 1.03, 0.99, 1.025])
    sd = np.array([0.02, 0.015, 0.03, 0.01, 0.02])
    arms = {f"a{i}": NormalPosterior(float(mu[i]), float(sd[i])) for i in range(mu.size)}
    draws = 200_000
    res = prob_best(arms, seed=9, draws=draws, block=2 * draws)  # blocks of two arms

    def dens(x: float, i: int) -> float:
        others = [sps.norm.cdf(x, mu[j], sd[j]) for j in range(mu.size) if j != i]
        return float(sps.norm.pdf(x, mu[i], sd[i]) * np.prod(others))

    lo, hi = float((mu - 8 * sd).min()), float((mu + 8 * sd).max())
    e_max = 0.0
    for i in range(mu.size):
        p = integrate.quad(dens, lo, hi, args=(i,), epsabs=1e-12, points=mu.tolist())[0]
        e_max += integrate.quad(lambda x, j: x * dens(x, j), lo, hi, args=(i,), epsabs=1e-12)[0]
        assert abs(res.prob_best[f"a{i}"] - p) < 4 * math.sqrt(p * (1 - p) / draws) + 1e-9
    for i in range(mu.size):
        # the loss's MC error is below the sd of max − θ_i over √draws, at most 2·max(sd)/√draws
        assert res.expected_loss[f"a{i}"] == pytest.approx(
            e_max - mu[i], abs=4 * 2 * sd.max() / math.sqrt(draws)
        )


# ----- calibration under the prior -----------------------------------------------------------
def _calibration_table(pred: np.ndarray, outcome: np.ndarray, title: str) -> None:
    """Decile buckets of the predicted probability vs the observed frequency; Spiegelhalter z."""
    order = np.argsort(pred, kind="stable")
    print(f"\n{title}\n  bucket   n   mean predicted   observed   99% interval")
    for k, idx in enumerate(np.array_split(order, 10)):
        n, p_bar, hits = idx.size, float(pred[idx].mean()), int(outcome[idx].sum())
        lo, hi = sps.binom.ppf(0.005, n, p_bar), sps.binom.ppf(0.995, n, p_bar)
        print(
            f"  {k + 1:>6} {n:>4}   {p_bar:>14.4f}   {hits / n:>8.4f}   "
            f"[{lo / n:.4f}, {hi / n:.4f}]"
        )
        assert lo <= hits <= hi, f"bucket {k + 1}: {hits}/{n} vs predicted {p_bar:.4f}"
    # Spiegelhalter (1986): Σ(y−p)² − Σp(1−p) has mean 0, variance Σ p(1−p)(1−2p)².
    brier = float(np.mean((pred - outcome) ** 2))
    z = float(
        np.sum((pred - outcome) ** 2 - pred * (1 - pred))
        / math.sqrt(np.sum(pred * (1 - pred) * (1 - 2 * pred) ** 2))
    )
    print(
        f"  Brier {brier:.4f} (expected {np.mean(pred * (1 - pred)):.4f}), Spiegelhalter z {z:+.2f}"
    )
    assert abs(z) < sps.norm.ppf(0.995)
    assert brier < 0.25  # better than always saying 50%


def test_beta_binomial_calibrated_under_its_prior():
    rng = np.random.default_rng(2024)
    a, b, n, runs = 20.0, 180.0, 500, 4_000
    p_c, p_t = rng.beta(a, b, runs), rng.beta(a, b, runs)
    s_c, s_t = rng.binomial(n, p_c), rng.binomial(n, p_t)
    pred = np.array(
        [
            prob_beta_greater(a + sc_, b + n - sc_, a + st_, b + n - st_)
            for sc_, st_ in zip(s_c.tolist(), s_t.tolist(), strict=True)
        ]
    )
    _calibration_table(pred, (p_t > p_c).astype(float), "Beta(20, 180) prior, n = 500 per arm")


def test_beta_binomial_credible_intervals_cover_under_the_prior():
    rng = np.random.default_rng(99)
    a, b, n, runs = 20.0, 180.0, 500, 400
    p_c, p_t = rng.beta(a, b, runs), rng.beta(a, b, runs)
    s_c, s_t = rng.binomial(n, p_c), rng.binomial(n, p_t)
    cover_abs = cover_rel = 0
    for i in range(runs):
        r = beta_binomial_effect(
            _props(int(s_c[i]), n), _props(int(s_t[i]), n), prior=(a, b), draws=2_000, seed=i
        )
        cover_abs += r.abs_ci[0] <= p_t[i] - p_c[i] <= r.abs_ci[1]
        cover_rel += r.rel_ci[0] <= p_t[i] / p_c[i] - 1 <= r.rel_ci[1]
    lo, hi = sps.binom.ppf(0.005, runs, 0.95), sps.binom.ppf(0.995, runs, 0.95)
    print(f"\n95% credible intervals cover: abs {cover_abs}/{runs}, rel {cover_rel}/{runs}")
    assert lo <= cover_abs <= hi and lo <= cover_rel <= hi


def test_gaussian_calibrated_under_a_proper_prior():
    rng = np.random.default_rng(7)
    runs, mu0, tau = 4_000, 0.01, 0.02
    se = rng.uniform(0.005, 0.03, runs)
    delta = rng.normal(mu0, tau, runs)
    estimate = rng.normal(delta, se)
    prior = NormalPrior(mu0, tau)
    pred, covered = np.empty(runs), 0
    for i in range(runs):
        r = gaussian_effect(
            control_mean=1.0,
            treatment_mean=1.0 + float(estimate[i]),
            var_control_mean=float(se[i] ** 2 / 2),
            var_treatment_mean=float(se[i] ** 2 / 2),
            prior=prior,
            effect="absolute",
        )
        pred[i] = r.prob_beat_control
        covered += r.abs_ci[0] <= delta[i] <= r.abs_ci[1]
    _calibration_table(pred, (delta > 0).astype(float), "Gaussian, N(0.01, 0.02²) prior")
    lo, hi = sps.binom.ppf(0.005, runs, 0.95), sps.binom.ppf(0.995, runs, 0.95)
    print(f"  95% credible intervals cover {covered}/{runs} (99% range [{lo:.0f}, {hi:.0f}])")
    assert lo <= covered <= hi
