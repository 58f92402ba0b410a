"""Bootstrap, Mann–Whitney and winsorized-sensitivity checks on unit-level arrays.

Where each expected number comes from, all computed at test time:

- ``scipy.stats.mannwhitneyu(treatment, control, method="asymptotic", use_continuity=True)``
  for U and the p-value; brute force over all pairs (``np.subtract.outer``) for the
  probability of superiority and the Hodges–Lehmann shift.
- ``scipy.stats.bootstrap(method="BCa")``: fed our own bootstrap distribution
  (``bootstrap_result=…, n_resamples=0``) it must give the same BCa interval to rounding (a
  deterministic check of z0, the jackknife acceleration and the quantile rule); run with its
  own 9,999 resamples it must agree within Monte Carlo error.
- A brute-force delete-one jackknife (``np.delete`` in a loop) for the closed-form
  acceleration.
- ``scipy.stats.ttest_ind(equal_var=False)`` (Welch) for the large-sample percentile interval
  and for every row of the winsorized table, on ``np.minimum(y, np.quantile(pooled, q))``.
- Closed forms: the Poisson(1) and Binomial pmfs for the frequency generators; the quantile of
  a zero-inflated lognormal; the binomial band for A/A coverage.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from liftlab.stats import bootstrap as boot
from liftlab.stats.bootstrap import bootstrap_compare, winsorize_sensitivity
from liftlab.stats.frequentist import welch_test
from liftlab.stats.moments import Moments
from liftlab.stats.rank import mann_whitney


def revenue(rng: np.random.Generator, n: int, p_zero: float = 0.95, mu: float = 3.0, sigma=1.2):
    """Zero-inflated lognormal "revenue per unit", rounded to cents."""
    paid = rng.random(n) >= p_zero
    return np.where(paid, np.round(rng.lognormal(mu, sigma, n), 2), 0.0)


# ----- Mann–Whitney -----------------------------------------------------------------------


def _mw_arms(kind: str, seed: int = 11):
    rng = np.random.default_rng(seed)
    c, t = rng.lognormal(0.0, 1.0, 300), rng.lognormal(0.15, 1.0, 260)
    if kind == "ties":  # many small tie groups
        c, t = np.round(c, 1), np.round(t, 1)
    elif kind == "zeros":  # one huge tie group at zero, as revenue
        c, t = revenue(rng, 1_500, 0.9), revenue(rng, 1_400, 0.88)
    return c, t


@pytest.mark.parametrize("kind", ["continuous", "ties", "zeros"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mann_whitney_matches_scipy(kind, alternative):
    c, t = _mw_arms(kind)
    res = mann_whitney(c, t, alternative=alternative)
    ref = sps.mannwhitneyu(t, c, alternative=alternative, method="asymptotic", use_continuity=True)
    assert res.u_statistic == pytest.approx(float(ref.statistic), rel=1e-12)
    assert res.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    # probability of superiority and Hodges–Lehmann by brute force over all pairs
    diff = np.subtract.outer(t, c)
    assert res.prob_superiority == pytest.approx(
        float(np.mean((diff > 0) + 0.5 * (diff == 0))), rel=1e-12
    )
    assert res.hodges_lehmann == pytest.approx(float(np.median(diff)), rel=1e-12, abs=1e-12)
    assert res.rank_biserial == pytest.approx(2 * res.prob_superiority - 1)


def test_mann_whitney_large_zero_inflated_matches_scipy():
    rng = np.random.default_rng(5)
    c, t = revenue(rng, 200_000), revenue(rng, 200_000, p_zero=0.948)
    res = mann_whitney(c, t)
    ref = sps.mannwhitneyu(t, c, method="asymptotic", use_continuity=True)
    assert res.u_statistic == pytest.approx(float(ref.statistic), rel=1e-12)
    assert res.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    assert res.hodges_lehmann == 0.0  # most pairs are (0, 0)


def test_mann_whitney_degenerate_and_errors():
    res = mann_whitney(np.zeros(5), np.zeros(7))
    ref = sps.mannwhitneyu(np.zeros(7), np.zeros(5), method="asymptotic")
    assert res.p_value == float(ref.pvalue) == 1.0
    assert res.note is not None
    with pytest.raises(ValueError, match="NaN"):
        mann_whitney(np.array([1.0, np.nan]), np.ones(3))
    with pytest.raises(ValueError, match="alternative"):
        mann_whitney(np.ones(3), np.ones(3), alternative="bigger")  # type: ignore[arg-type]


def test_hodges_lehmann_skipped_when_costly(monkeypatch):
    import liftlab.stats.rank as rank

    monkeypatch.setattr(rank, "HL_AUTO_MAX_DISTINCT", 10)
    c, t = _mw_arms("continuous")
    assert mann_whitney(c, t).hodges_lehmann is None
    assert "Hodges–Lehmann" in (mann_whitney(c, t).note or "")
    assert mann_whitney(c, t, hodges_lehmann=True).hodges_lehmann is not None


# ----- point estimates, jackknife, frequency generators ----------------------------------


@pytest.mark.parametrize("q", [0.0, 0.1, 0.37, 0.5, 0.9, 0.99, 1.0])
def test_point_estimates_match_numpy(q):
    rng = np.random.default_rng(2)
    y = np.concatenate([revenue(rng, 501), rng.normal(size=50)])
    arm = boot._compress(y, "y")
    assert boot._estimate(arm, boot._Stat("quantile", q)) == pytest.approx(
        float(np.quantile(y, q)), rel=1e-14, abs=1e-14
    )
    assert boot._estimate(arm, boot._Stat("mean")) == pytest.approx(float(y.mean()), rel=1e-12)


def _brute_acceleration(c, t, f, effect):
    """scipy's two-sample jackknife acceleration, by deleting each unit in turn."""

    def theta(cc, tt):
        return f(tt) - f(cc) if effect == "absolute" else f(tt) / f(cc) - 1

    num = den = 0.0
    for j, arm in enumerate((c, t)):
        vals = np.array(
            [
                theta(np.delete(c, i), t) if j == 0 else theta(c, np.delete(t, i))
                for i in range(arm.size)
            ]
        )
        n = arm.size
        u = (n - 1) * (vals.mean() - vals)
        num += (u**3).sum() / n**3
        den += (u**2).sum() / n**2
    return num / (6 * den**1.5)


@pytest.mark.parametrize("q", [None, 0.5, 0.9, 0.37])
@pytest.mark.parametrize("effect", ["absolute", "relative"])
def test_closed_form_acceleration_equals_brute_force_jackknife(q, effect):
    rng = np.random.default_rng(4)
    c = np.round(rng.lognormal(0.0, 1.0, 120), 2)  # ties included
    t = np.round(rng.lognormal(0.3, 1.1, 97), 2)
    stat = boot._Stat("mean") if q is None else boot._Stat("quantile", q)

    def f(x):
        return x.mean() if q is None else np.quantile(x, q)

    arms = (boot._compress(c, "c"), boot._compress(t, "t"))
    est = (boot._estimate(arms[0], stat), boot._estimate(arms[1], stat))
    a = boot._acceleration(arms, stat, est, effect)
    assert a == pytest.approx(_brute_acceleration(c, t, f, effect), rel=1e-8, abs=1e-14)


def test_acceleration_is_zero_when_the_jackknife_cannot_move_the_statistic():
    """Deleting any one unit leaves both medians unchanged: scipy's formula is 0/0 (NaN);
    we take a = 0 (BCa falls back to the bias-corrected interval)."""
    c, t = np.repeat([0.0, 1.0, 2.0], 50), np.repeat([0.0, 2.0, 3.0], 40)
    arms = (boot._compress(c, "c"), boot._compress(t, "t"))
    stat = boot._Stat("quantile", 0.5)
    est = (boot._estimate(arms[0], stat), boot._estimate(arms[1], stat))
    assert boot._acceleration(arms, stat, est, "absolute") == 0.0


def test_poisson_frequencies_follow_poisson():
    """Counts ≤ 12 use inversion by comparison passes, larger ones rng.poisson: every column's
    frequency must be Poisson(c_j) (chi-square goodness of fit against the pmf)."""
    levels = (1, 2, 5, 12, 13, 40)
    counts = np.random.default_rng(7).permutation(np.repeat(np.asarray(levels, np.int64), 60))
    plan = boot._Plan.of(counts)
    buf = boot._Buffers(4_000)  # small blocks: exercises the column blocking too
    w = boot._poisson_frequencies(plan, 400, np.random.default_rng(8), np.int64, buf)
    # the streaming means (block by block) see the same frequencies from the same stream
    values = np.arange(counts.size, dtype=float)[plan.perm]
    means = boot._poisson_means(plan, values, 400, np.random.default_rng(8), buf)
    assert means == pytest.approx(w @ values / w.sum(axis=1), rel=1e-12)
    w = w[:, plan.inv]  # back to value order
    for c in levels:
        x = w[:, counts == c].astype(np.int64).ravel()
        kmax = int(sps.poisson.ppf(0.999, c))
        obs = np.bincount(np.minimum(x, kmax), minlength=kmax + 1)
        pmf = sps.poisson.pmf(np.arange(kmax), c)
        exp = np.append(pmf, 1 - pmf.sum()) * x.size
        keep = exp > 5
        assert sps.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue > 1e-3


def test_multinomial_frequencies_are_multinomial():
    rng = np.random.default_rng(9)
    counts = np.array([3, 1, 1, 5, 1, 2, 7], dtype=np.int64)
    n = int(counts.sum())
    plan = boot._Plan.of(counts)
    w = boot._multinomial_frequencies(plan, n, 50_000, rng)[:, plan.inv]
    assert (w.sum(axis=1) == n).all() and w.min() >= 0
    # the class total of the 5-count value is Binomial(20, 1/4)
    obs = np.bincount(w[:, 3], minlength=n + 1)
    exp = sps.binom.pmf(np.arange(n + 1), n, 5 / n) * w.shape[0]
    keep = exp > 5
    assert sps.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue > 1e-3
    p = counts / n
    assert w.mean(axis=0) == pytest.approx(counts, rel=0.02)
    assert np.cov(w[:, 0], w[:, 6])[0, 1] == pytest.approx(-n * p[0] * p[6], abs=0.05)


# ----- intervals against Welch and scipy --------------------------------------------------


@pytest.mark.parametrize("scheme", ["poisson", "multinomial"])
def test_percentile_ci_of_mean_matches_welch_on_large_sample(scheme):
    """For ~normal data the percentile interval ≈ Welch's. Tolerance 5% of the width: each
    endpoint's Monte Carlo SD with B = 2,000 is sqrt(.025·.975/2000)/φ(1.96) ≈ 0.06 SE ≈ 1.5%
    of the width, so 5% is over 3 SD."""
    rng = np.random.default_rng(21)
    c, t = rng.normal(10.0, 3.0, 6_000), rng.normal(10.1, 3.5, 5_000)
    res = bootstrap_compare(c, t, n_resamples=2000, seed=3, scheme=scheme)
    ref = sps.ttest_ind(t, c, equal_var=False).confidence_interval(0.95)
    width = ref.high - ref.low
    assert res.effect == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert abs(res.ci[0] - ref.low) < 0.05 * width
    assert abs(res.ci[1] - ref.high) < 0.05 * width
    assert res.se == pytest.approx(width / (2 * 1.96), rel=0.08)  # SD of B draws: ~1.6% MC


@pytest.mark.parametrize("statistic", ["mean", "median"])
@pytest.mark.parametrize("effect", ["absolute", "relative"])
def test_bca_equals_scipy_given_the_same_bootstrap_distribution(statistic, effect):
    """Deterministic: scipy's BCa on our resampled effects must give our interval."""
    rng = np.random.default_rng(6)
    c, t = rng.lognormal(0.0, 1.0, 201), rng.lognormal(0.2, 1.0, 199)  # odd n: exact medians
    res = bootstrap_compare(
        c, t, statistic=statistic, effect=effect, method="bca", scheme="multinomial", seed=1
    )
    f = np.mean if statistic == "mean" else np.median
    if effect == "absolute":

        def fn(x, y, axis):
            return f(x, axis=axis) - f(y, axis=axis)
    else:

        def fn(x, y, axis):
            return f(x, axis=axis) / f(y, axis=axis) - 1

    prior = SimpleNamespace(bootstrap_distribution=np.asarray(res.effects))
    ref = sps.bootstrap(
        (t, c), fn, vectorized=True, method="BCa", n_resamples=0, bootstrap_result=prior
    )
    assert res.ci[0] == pytest.approx(float(ref.confidence_interval.low), rel=1e-9)
    assert res.ci[1] == pytest.approx(float(ref.confidence_interval.high), rel=1e-9)


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_ci_agrees_with_scipy_bootstrap_within_monte_carlo_error(method):
    """Independent resampling: ours (multinomial, B = 9,999) vs scipy's (B = 9,999).

    Each endpoint is a 2.5% quantile of B draws: its Monte Carlo SD is about
    sqrt(.025·.975/9999)/φ(1.96) ≈ 0.027 SE ≈ 0.7% of the width; the difference of two
    independent runs ≈ 1%, and BCa's estimated z0 adds about as much again. 10% of the
    width is more than 5 SD."""
    rng = np.random.default_rng(13)
    c, t = rng.lognormal(0.0, 1.0, 200), rng.lognormal(0.25, 1.0, 200)
    res = bootstrap_compare(c, t, n_resamples=9_999, method=method, scheme="multinomial", seed=2)
    ref = sps.bootstrap(
        (t, c),
        lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
        vectorized=True,
        method="BCa" if method == "bca" else "percentile",
        n_resamples=9_999,
        rng=np.random.default_rng(99),
    )
    lo, hi = float(ref.confidence_interval.low), float(ref.confidence_interval.high)
    assert abs(res.ci[0] - lo) < 0.10 * (hi - lo)
    assert abs(res.ci[1] - hi) < 0.10 * (hi - lo)
    assert res.se == pytest.approx(float(ref.standard_error), rel=0.05)


# ----- heavy-tailed revenue ---------------------------------------------------------------


def _revenue_quantile(q: float, p_zero: float, mu: float, sigma: float) -> float:
    """Quantile of the zero-inflated lognormal: 0 up to p_zero, then lognormal."""
    if q <= p_zero:
        return 0.0
    return math.exp(mu + sigma * float(sps.norm.ppf((q - p_zero) / (1 - p_zero))))


@pytest.mark.parametrize("scheme", ["poisson", "multinomial"])
def test_quantile_bootstrap_on_zero_inflated_revenue(scheme):
    rng = np.random.default_rng(17)
    n = 20_000
    c, t = revenue(rng, n, mu=3.0), revenue(rng, n, mu=3.2)
    # median: both arms' medians are 0 (95% zeros), so is the true difference
    med = bootstrap_compare(c, t, statistic="median", scheme=scheme, seed=5)
    assert med.effect == 0.0 and med.ci == (0.0, 0.0)
    assert med.p_value == 1.0  # every resampled difference ties at 0
    # the 99th percentile lies in the paying tail: compare with the closed form
    q = 0.99
    truth = _revenue_quantile(q, 0.95, 3.2, 1.2) - _revenue_quantile(q, 0.95, 3.0, 1.2)
    for method in ("percentile", "bca"):
        res = bootstrap_compare(
            c, t, statistic=("quantile", q), scheme=scheme, method=method, seed=5
        )
        assert res.statistic == "quantile(0.99)"
        assert res.ci[0] < truth < res.ci[1]
        assert res.ci[0] <= res.effect <= res.ci[1]
        assert 0.0 < res.p_value <= 1.0
    rel = bootstrap_compare(c, t, statistic=("quantile", q), effect="relative", seed=5)
    true_rel = _revenue_quantile(q, 0.95, 3.2, 1.2) / _revenue_quantile(q, 0.95, 3.0, 1.2) - 1
    assert rel.ci[0] < true_rel < rel.ci[1]


def test_relative_median_of_zero_control_is_undefined_not_a_crash():
    rng = np.random.default_rng(1)
    c, t = revenue(rng, 2_000), revenue(rng, 2_000)
    res = bootstrap_compare(c, t, statistic="median", effect="relative", n_resamples=200)
    assert math.isnan(res.effect) and math.isnan(res.p_value)
    assert res.n_invalid == 200 and res.note


def test_aa_coverage_of_percentile_ci_for_the_mean():
    """400 A/A experiments on zero-inflated revenue (80% zeros, 1,000 units per arm, 500
    resamples each): the 95% percentile interval must cover 0 at a rate inside the 99%
    binomial band around 0.95 ([368, 390] of 400), and the p-value must say the same as the
    interval (p < 0.05 ⇔ 0 outside) up to Monte Carlo resolution."""
    rng = np.random.default_rng(2024)
    reps, n = 400, 1_000
    data = revenue(rng, 2 * reps * n, p_zero=0.8, mu=2.0, sigma=1.0).reshape(reps, 2, n)
    covered = agree = 0
    for i in range(reps):
        res = bootstrap_compare(data[i, 0], data[i, 1], n_resamples=500, seed=i)
        inside = res.ci[0] <= 0.0 <= res.ci[1]
        covered += inside
        agree += (res.p_value >= 0.05) == inside
    lo, hi = sps.binom.ppf([0.005, 0.995], reps, 0.95)
    assert lo <= covered <= hi
    assert agree >= reps - 4


def test_bca_p_value_inverts_the_bca_interval():
    rng = np.random.default_rng(31)
    for shift in (0.0, 0.1, 0.2, 0.3, 0.5):
        c, t = rng.lognormal(0.0, 1.0, 300), rng.lognormal(shift, 1.0, 300)
        res = bootstrap_compare(c, t, method="bca", n_resamples=4000, seed=int(shift * 10))
        inside = res.ci[0] <= 0.0 <= res.ci[1]
        # away from the boundary the two must agree
        if abs(res.p_value - 0.05) > 0.01:
            assert (res.p_value >= 0.05) == inside


def test_percentile_p_value_formula():
    rng = np.random.default_rng(3)
    c, t = rng.exponential(1.0, 400), rng.exponential(1.15, 400)
    res = bootstrap_compare(c, t, n_resamples=3000, seed=8)
    e = res.effects
    b = e.size
    expected = min(1.0, 2 * min(1 + np.sum(e <= 0), 1 + np.sum(e >= 0)) / (b + 1))
    assert res.p_value == pytest.approx(expected, rel=1e-15)
    assert sum(res.histogram.counts) == b
    assert res.histogram.edges[0] == e.min() and res.histogram.edges[-1] == e.max()


# ----- reproducibility --------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different(monkeypatch):
    rng = np.random.default_rng(12)
    c, t = revenue(rng, 8_000, 0.9), revenue(rng, 8_000, 0.9)
    for statistic in ("mean", "median", ("quantile", 0.99)):
        a = bootstrap_compare(c, t, statistic=statistic, seed=42, n_resamples=500)
        b = bootstrap_compare(c, t, statistic=statistic, seed=42, n_resamples=500)
        d = bootstrap_compare(c, t, statistic=statistic, seed=43, n_resamples=500)
        assert a.effects.tobytes() == b.effects.tobytes()
        assert a == b  # every field but the array
        if statistic != "median":  # median differences are all 0 here
            assert a.effects.tobytes() != d.effects.tobytes()
    # invariant to the order of the rows, and to running the arms in threads or not
    a = bootstrap_compare(c, t, seed=42)
    perm = bootstrap_compare(rng.permutation(c), rng.permutation(t), seed=42)
    assert perm.effects.tobytes() == a.effects.tobytes()
    monkeypatch.setattr(boot, "_PARALLEL_ELEMENTS", 1 << 62)
    serial = bootstrap_compare(c, t, seed=42)
    assert serial.effects.tobytes() == a.effects.tobytes()
    # seed=None records the entropy it drew, which reproduces the run
    fresh = bootstrap_compare(c, t, seed=None, n_resamples=300)
    again = bootstrap_compare(c, t, seed=fresh.seed, n_resamples=300)
    assert again.effects.tobytes() == fresh.effects.tobytes()
    assert not a.effects.flags.writeable


def test_input_errors_speak_to_the_analyst():
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_compare(np.array([1.0, np.nan, 2.0]), np.ones(3))
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_compare(np.ones(1), np.ones(3))
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_compare(np.ones(3), np.ones(3), statistic=("quantile", 1.5))
    with pytest.raises(ValueError, match="scheme"):
        bootstrap_compare(np.ones(3), np.ones(3), scheme="bayesian")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    c=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=40),
    t=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=2, max_size=40),
    method=st.sampled_from(["percentile", "bca"]),
    scheme=st.sampled_from(["poisson", "multinomial"]),
    statistic=st.sampled_from(["mean", "median", ("quantile", 0.9)]),
)
def test_properties(c, t, method, scheme, statistic):
    """p in [0, 1]; the interval is ordered and never wider than the data allow."""
    c, t = np.asarray(c), np.asarray(t)
    res = bootstrap_compare(
        c, t, n_resamples=200, method=method, scheme=scheme, statistic=statistic, seed=1
    )
    if not math.isnan(res.p_value):
        assert 0.0 <= res.p_value <= 1.0
    if not math.isnan(res.ci[0]):
        slack = 1e-9 * (1 + t.max() + c.max())
        assert res.ci[0] <= res.ci[1] + slack
        assert t.min() - c.max() - slack <= res.ci[0]
        assert res.ci[1] <= t.max() - c.min() + slack


# ----- winsorized sensitivity -------------------------------------------------------------


def test_winsorize_sensitivity_rows_equal_welch_on_capped_values():
    rng = np.random.default_rng(23)
    c, t = revenue(rng, 40_000, 0.9, sigma=1.6), revenue(rng, 41_000, 0.9, mu=3.1, sigma=1.6)
    rows = winsorize_sensitivity(c, t)
    assert [r.label for r in rows] == ["none", "p99", "p99.9"]
    pooled = np.concatenate([c, t])
    for row, q in zip(rows, (None, 0.99, 0.999), strict=True):
        cap = None if q is None else float(np.quantile(pooled, q))
        cc = c if cap is None else np.minimum(c, cap)
        tt = t if cap is None else np.minimum(t, cap)
        ref = sps.ttest_ind(tt, cc, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert row.cap == cap
        assert row.effect == pytest.approx(tt.mean() - cc.mean(), rel=1e-9)
        assert row.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
        assert row.ci[0] == pytest.approx(float(ci.low), rel=1e-9)
        assert row.ci[1] == pytest.approx(float(ci.high), rel=1e-9)
        assert row.control_mean == pytest.approx(cc.mean(), rel=1e-12)
        assert row.treatment_mean == pytest.approx(tt.mean(), rel=1e-12)
        eff = welch_test(Moments.from_arrays(cc), Moments.from_arrays(tt))
        assert row.rel_ci == eff.rel_ci
        if cap is not None:
            assert row.n_capped_control == int(np.sum(c > cap))
    # capping shrinks the spread of a heavy tail: the interval narrows
    widths = [r.ci[1] - r.ci[0] for r in rows]
    assert widths[0] > widths[1] > 0 and widths[0] > widths[2]


def test_few_distinct_values_each_seen_many_times():
    """Revenue at a fixed price: only 0 and the price occur, each far more than a few times
    (no value falls in the small-count table). The mean difference matches Welch's."""
    rng = np.random.default_rng(12)
    c = np.where(rng.random(5_000) < 0.066, 19.0, 0.0)
    t = np.where(rng.random(5_000) < 0.053, 24.0, 0.0)
    res = bootstrap_compare(c, t, n_resamples=2_000, method="bca", seed=1)
    ref = sps.ttest_ind(t, c, equal_var=False).confidence_interval(0.95)
    width = ref.high - ref.low
    assert res.effect == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert abs(res.ci[0] - ref.low) < 0.1 * width and abs(res.ci[1] - ref.high) < 0.1 * width
