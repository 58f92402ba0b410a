"""Sequential tests: closed forms, published boundaries, and calibration by simulation.

Where each expected number comes from:

- mSPRT likelihood ratio: the mixture integral computed with ``scipy.integrate.quad``.
- Confidence sequences: their defining inversion (``p(θ₀) = α`` at the interval's ends) and
  the Waudby-Smith et al. (2024) Robbins-mixture formula written out literally.
- Lan–DeMets O'Brien–Fleming-type bounds, five equal looks, two-sided α = 0.05 (α/2 per
  side): 4.877, 3.357, 2.680, 2.290, 2.031, as published by R's ldbounds and gsDesign
  (``gsDesign(k=5, test.type=2, sfu=sfLDOF)``).
- Crossing probabilities: ``scipy.stats.multivariate_normal.cdf`` on the canonical joint
  distribution ``Cov(Z_j, Z_k) = sqrt(t_j/t_k)`` at test time.
- Classical O'Brien–Fleming and Pocock designs: Jennison & Turnbull (2000), the ch. 2
  tables: ``C_B(5, 0.05) = 2.040``, ``R_B(5, 0.05, 0.1) = 1.026``, ``C_P(5, 0.05) = 2.413``,
  ``R_P(5, 0.05, 0.1) = 1.207``.
- Calibration: Monte Carlo with fixed seeds; bounds from the binomial distribution.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy import stats as sps
from scipy.stats import multivariate_normal

from liftlab.stats.moments import Moments
from liftlab.stats.sequential import (
    always_valid,
    always_valid_arrays,
    boundaries,
    crossing_probabilities,
    group_sequential,
    msprt_log_lr,
    msprt_tau,
    robbins_rho2,
    sample_size_inflation,
    spending,
)

ALPHA = 0.05
FIVE = [0.2, 0.4, 0.6, 0.8, 1.0]
Z975 = float(sps.norm.ppf(0.975))


def _mc_upper(rate: float, n: int, z: float = 2.58) -> float:
    """Upper end of a one-sided 99.5% Monte Carlo allowance around ``rate``."""
    return rate + z * math.sqrt(rate * (1 - rate) / n)


def _corr(t: list[float]) -> np.ndarray:
    a = np.asarray(t)
    return np.sqrt(np.minimum.outer(a, a) / np.maximum.outer(a, a))


def _mvn_cross(
    t: list[float], c: list[float], *, two_sided: bool = True, drift: float = 0.0
) -> float:
    """P(some |Z_k| ≥ c_k) (or Z_k ≥ c_k) under the canonical distribution, by scipy."""
    k = len(t)
    mean = drift * np.sqrt(np.asarray(t))
    lower = -np.asarray(c) if two_sided else np.full(k, -np.inf)
    inside = multivariate_normal.cdf(
        np.asarray(c),
        mean=mean,
        cov=_corr(t),
        lower_limit=lower,
        abseps=1e-8,
        releps=1e-8,
        maxpts=400_000,
        rng=20240601,
    )
    return 1.0 - float(inside)


def _binary(n: int, k: int) -> Moments:
    """Moments of a 0/1 metric: ``k`` ones among ``n`` units (Σy = Σy² = k)."""
    return Moments(n, float(k), float(k))


def _arm_variance(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Sample variance (n − 1) of 0/1 data with ``k`` ones, as Moments.var_y computes it."""
    return np.maximum((k - k * k / n) / (n - 1), 0.0)


# ================================================================================================
# mSPRT and confidence sequences: closed forms
# ================================================================================================


@pytest.mark.parametrize(
    ("est", "var", "tau"), [(0.0, 1.0, 1.0), (0.8, 0.3, 0.5), (-2.5, 0.7, 2.0), (0.01, 1e-4, 0.02)]
)
def test_msprt_likelihood_ratio_is_the_normal_mixture(est, var, tau):
    """Λ = ∫ N(Δ̂; θ, V) N(θ; 0, τ²) dθ / N(Δ̂; 0, V), by quadrature."""
    sd = math.sqrt(var)
    num, _ = integrate.quad(
        lambda th: sps.norm.pdf(est, th, sd) * sps.norm.pdf(th, 0, tau),
        -np.inf,
        np.inf,
        epsabs=0,
        epsrel=1e-12,
        points=None,
    )
    expected = math.log(num / sps.norm.pdf(est, 0, sd))
    assert float(msprt_log_lr(est, var, tau)) == pytest.approx(expected, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("method", ["msprt", "asymptotic-cs"])
def test_confidence_sequence_is_the_inversion_of_the_test(method):
    """At each end of the raw interval the always-valid p-value for that null is exactly α."""
    est = np.array([0.012, -0.004, 0.007])
    var = np.array([4e-5, 2e-5, 1e-5])
    kw = {"tau": 0.01, "n_total": np.array([2_000, 4_000, 8_000]), "planned_n": 8_000}
    raw = always_valid_arrays(est, var, method=method, intersect=False, **kw)
    for k in range(3):
        for end in (raw.ci_low[k], raw.ci_high[k]):
            one = always_valid_arrays(
                est[k : k + 1],
                var[k : k + 1],
                method=method,
                null=float(end),
                tau=0.01,
                n_total=kw["n_total"][k : k + 1],
                planned_n=8_000,
            )
            assert one.p_value[0] == pytest.approx(ALPHA, rel=1e-9)


def test_asymptotic_cs_is_the_robbins_mixture_of_waudby_smith_et_al():
    """C_t = μ̂ ± σ̂ sqrt(2(tρ²+1)/(t²ρ²) log(sqrt(tρ²+1)/α)), σ̂² = t·V, ρ² from t*."""
    t = np.array([1_000.0, 5_000.0, 20_000.0, 80_000.0])
    var = 0.18 / t * 2  # two arms of variance 0.09 with t/2 units each: V = 0.36/t
    est = np.zeros_like(t)
    rho2 = robbins_rho2(20_000)
    c = -2 * math.log(ALPHA)
    assert rho2 == pytest.approx((c + math.log(c + 1)) / 20_000, rel=1e-15)
    sigma = np.sqrt(t * var)
    literal = sigma * np.sqrt(
        2 * (t * rho2 + 1) / (t**2 * rho2) * np.log(np.sqrt(t * rho2 + 1) / ALPHA)
    )
    res = always_valid_arrays(
        est, var, method="asymptotic-cs", n_total=t, planned_n=20_000, intersect=False
    )
    np.testing.assert_allclose(res.ci_high, literal, rtol=1e-12)
    # Their ρ is a one-step approximation of the exact optimum: at t* the widths agree to 0.1%.
    widths = [
        always_valid_arrays(
            [0.0], [0.36 / 20_000], method="asymptotic-cs", n_total=[20_000], planned_n=n
        ).ci_high[0]
        for n in np.geomspace(5_000, 80_000, 401)
    ]
    assert literal[2] <= min(widths) * 1.001


def test_msprt_tau_makes_the_sequence_tightest_and_is_about_the_mde():
    v_star = 2e-6
    tau = msprt_tau(v_star)

    def width(s: float) -> float:
        return float(always_valid_arrays([0.0], [v_star], tau=s).ci_high[0])

    best = optimize.minimize_scalar(
        width, bounds=(1e-4, 0.1), method="bounded", options={"xatol": 1e-10}
    )
    assert tau == pytest.approx(best.x, rel=1e-4)
    # r* solves r − log(1 + r) = −2 log α.
    r = tau**2 / v_star
    assert r - math.log1p(r) == pytest.approx(-2 * math.log(ALPHA), rel=1e-12)
    # A design sized for MDE δ at 80% power has V* = δ²/(z_{.975} + z_{.8})²: τ_opt ≈ 1.02 δ.
    delta = 0.003
    v_planned = (delta / (Z975 + sps.norm.ppf(0.8))) ** 2
    ratio = msprt_tau(v_planned) / delta
    print(f"\noptimal tau / MDE at 80% power: {ratio:.4f}; r* = {r:.4f}")
    assert 1.0 < ratio < 1.05


def test_always_valid_on_moments_matches_the_array_function():
    rng = np.random.default_rng(3)
    days = [
        (
            Moments.from_arrays(rng.normal(10, 3, 400)),
            Moments.from_arrays(rng.normal(10.4, 3, 420)),
        )
        for _ in range(10)
    ]
    looks = list(itertools.accumulate(days, lambda a, b: (a[0] + b[0], a[1] + b[1])))
    res = always_valid(looks, mde=0.5)
    est = np.array([t.mean_y - c.mean_y for c, t in looks])
    var = np.array([c.var_y / c.n + t.var_y / t.n for c, t in looks])
    arr = always_valid_arrays(est, var, tau=0.5)
    assert [row.p_value for row in res.looks] == pytest.approx(arr.p_value.tolist(), rel=1e-12)
    assert [row.look for row in res.looks] == list(range(1, 11))
    assert res.tau == 0.5 and res.method == "msprt" and res.rho2 is None
    assert res.p_value == res.looks[-1].p_value
    assert res.ci == (res.looks[-1].ci_low, res.looks[-1].ci_high)
    assert res.first_rejection == next((r.look for r in res.looks if r.rejected), None)
    acs = always_valid(looks, method="asymptotic-cs", planned_n=8_000)
    assert acs.tau is None and acs.rho2 == pytest.approx(robbins_rho2(8_000))
    assert all(row.ci_low <= row.ci_high for row in acs.looks)


def test_always_valid_errors_speak_to_the_analyst():
    looks = [(_binary(100, 10), _binary(100, 12))]
    with pytest.raises(ValueError, match="tau, or mde"):
        always_valid(looks)
    with pytest.raises(ValueError, match="planned_n"):
        always_valid(looks, method="asymptotic-cs")
    with pytest.raises(ValueError, match="method must be one of"):
        always_valid(looks, tau=0.01, method="bayes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one look"):
        always_valid([], tau=0.01)


def test_too_few_units_give_no_evidence_and_a_note():
    looks = [
        (_binary(1, 0), _binary(1, 1)),
        (_binary(50, 0), _binary(50, 0)),
        (_binary(500, 50), _binary(500, 80)),
    ]
    res = always_valid(looks, tau=0.03)
    assert res.looks[0].p_value == 1.0 and res.looks[1].p_value == 1.0
    assert math.isinf(res.looks[0].ci_low) and math.isinf(res.looks[1].ci_high)
    assert res.looks[2].p_value < 1.0
    assert res.note is not None and "no evidence" in res.note


def test_time_varying_effect_empties_the_intersection_and_is_flagged():
    est = np.array([0.05, -0.05])
    var = np.array([1e-6, 1e-6])
    arr = always_valid_arrays(est, var, tau=0.01)
    assert arr.ci_low[1] > arr.ci_high[1]
    looks = [
        (_binary(10_000, 1_000), _binary(10_000, 1_500)),
        (_binary(1_000_000, 100_000), _binary(1_000_000, 95_000)),
    ]
    res = always_valid(looks, tau=0.01)
    assert res.note is not None and "empty" in res.note


# ================================================================================================
# Properties
# ================================================================================================


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-5, 5, allow_nan=False),
            st.one_of(st.floats(1e-8, 10), st.just(0.0), st.just(math.nan)),
        ),
        min_size=1,
        max_size=30,
    ),
    st.floats(1e-3, 10),
    st.sampled_from(["msprt", "asymptotic-cs"]),
)
def test_always_valid_p_value_never_increases(pairs, tau, method):
    est = np.array([e for e, _ in pairs])
    var = np.array([v for _, v in pairs])
    n_total = np.arange(1, len(pairs) + 1) * 100.0
    res = always_valid_arrays(
        est, var, tau=tau, method=method, n_total=n_total, planned_n=1_000, intersect=False
    )
    assert np.all(np.diff(res.p_value) <= 0)
    assert np.all((res.p_value >= 0) & (res.p_value <= 1))
    assert np.all(res.ci_low <= est) and np.all(res.ci_high >= est)
    inter = always_valid_arrays(est, var, tau=tau, method=method, n_total=n_total, planned_n=1_000)
    assert np.all(inter.ci_low[1:] >= inter.ci_low[:-1])
    assert np.all(inter.ci_high[1:] <= inter.ci_high[:-1])
    np.testing.assert_array_equal(inter.p_value, res.p_value)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(2, 300), st.floats(0, 1), st.integers(2, 300), st.floats(0, 1)),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["msprt", "asymptotic-cs"]),
)
def test_always_valid_on_daily_counts_is_monotone(days, method):
    daily = [(_binary(nc, round(fc * nc)), _binary(nt, round(ft * nt))) for nc, fc, nt, ft in days]
    looks = list(itertools.accumulate(daily, lambda a, b: (a[0] + b[0], a[1] + b[1])))
    res = always_valid(looks, tau=0.05, method=method, planned_n=2_000)
    p = [row.p_value for row in res.looks]
    assert all(b <= a for a, b in itertools.pairwise(p))
    assert all(0 <= x <= 1 for x in p)
    assert all(row.rejected == (row.p_value <= ALPHA) for row in res.looks)


# ================================================================================================
# Calibration: daily peeking
# ================================================================================================

DAYS, PER_DAY, RATE, SIMS = 28, 500, 0.10, 10_000
PLANNED_PER_ARM = DAYS * PER_DAY
# The MDE a fixed 28-day test detects with 80% power (unpooled normal approximation):
# δ = (z_{.975} + z_{.8}) · sqrt(2 p (1 − p) / n).
MDE = (Z975 + float(sps.norm.ppf(0.8))) * math.sqrt(2 * RATE * (1 - RATE) / PLANNED_PER_ARM)


def _simulate(effect: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (estimate, variance, units) per simulated experiment × day."""
    rng = np.random.default_rng(seed)
    kc = rng.binomial(PER_DAY, RATE, (SIMS, DAYS)).cumsum(axis=1).astype(float)
    kt = rng.binomial(PER_DAY, RATE + effect, (SIMS, DAYS)).cumsum(axis=1).astype(float)
    n = PER_DAY * np.arange(1, DAYS + 1, dtype=float)
    est = kt / n - kc / n
    var = _arm_variance(kc, n) / n + _arm_variance(kt, n) / n
    return est, var, 2 * n


def test_peeking_inflates_the_naive_test_but_not_the_always_valid_ones():
    start = time.perf_counter()
    est, var, n_total = _simulate(0.0, seed=11)
    naive = (np.abs(est) / np.sqrt(var) > Z975).any(axis=1).mean()
    msprt = always_valid_arrays(est, var, tau=MDE)
    acs = always_valid_arrays(
        est, var, method="asymptotic-cs", n_total=n_total, planned_n=2 * PLANNED_PER_ARM
    )
    rate_msprt = msprt.rejected.any(axis=1).mean()
    rate_acs = ((acs.ci_low > 0) | (acs.ci_high < 0)).any(axis=1).mean()
    fixed = (np.abs(est[:, -1]) / np.sqrt(var[:, -1]) > Z975).mean()
    print(
        f"\nA/A, {DAYS} daily looks, {SIMS} sims: naive any-look {naive:.4f}, fixed horizon "
        f"{fixed:.4f}, mSPRT (tau = MDE = {MDE:.5f}) {rate_msprt:.4f}, asymptotic CS "
        f"{rate_acs:.4f} ({time.perf_counter() - start:.2f} s)"
    )
    assert naive > 0.10
    assert rate_msprt <= _mc_upper(ALPHA, SIMS)
    assert rate_acs <= _mc_upper(ALPHA, SIMS)
    # The interval excludes 0 exactly when the always-valid p-value is at most α.
    for res in (msprt, acs):
        np.testing.assert_array_equal((res.ci_low > 0) | (res.ci_high < 0), res.rejected)


def test_confidence_sequences_cover_the_true_effect_at_every_look():
    effect = MDE  # the effect the fixed 28-day test detects with 80% power
    est, var, n_total = _simulate(effect, seed=12)
    msprt = always_valid_arrays(est, var, tau=MDE)
    acs = always_valid_arrays(
        est, var, method="asymptotic-cs", n_total=n_total, planned_n=2 * PLANNED_PER_ARM
    )
    floor = 1 - _mc_upper(ALPHA, SIMS)
    rates = {}
    for name, res in (("msprt", msprt), ("asymptotic-cs", acs)):
        # With the running intersection, covering at the last look means covering at all.
        rates[name] = ((res.ci_low <= effect) & (res.ci_high >= effect)).all(axis=1).mean()
        assert rates[name] >= floor
    naive_cover = (np.abs(est - effect) <= Z975 * np.sqrt(var)).all(axis=1).mean()
    power = {name: float(r.rejected[:, -1].mean()) for name, r in (("mSPRT", msprt), ("CS", acs))}
    print(
        f"\ncoverage at all {DAYS} looks (true effect {effect:.5f}): mSPRT {rates['msprt']:.4f}, "
        f"asymptotic CS {rates['asymptotic-cs']:.4f}, naive 95% CIs {naive_cover:.4f}; "
        f"power by day {DAYS}: {power}"
    )
    assert naive_cover < floor


# ================================================================================================
# Group-sequential designs
# ================================================================================================


def test_spending_functions():
    assert spending(1.0, 0.025) == 0.025 and spending(1.0, 0.025, "pocock") == 0.025
    assert spending(0.0, 0.025) == 0.0 and spending(1.3, 0.025, "pocock") == 0.025
    expected = 2 * sps.norm.sf(sps.norm.ppf(1 - 0.025 / 2) / math.sqrt(0.2))
    assert spending(0.2, 0.025) == pytest.approx(expected, rel=1e-12)
    assert spending(0.2, 0.05, "pocock") == pytest.approx(0.05 * math.log(1 + (math.e - 1) * 0.2))
    grid = np.linspace(0.01, 1, 50)
    for kind in ("obrien-fleming", "pocock"):
        values = [spending(float(t), 0.05, kind) for t in grid]  # type: ignore[arg-type]
        assert all(b > a for a, b in itertools.pairwise(values))
    with pytest.raises(ValueError, match="spending kind"):
        spending(0.5, 0.05, "haybittle")  # type: ignore[arg-type]


def test_obrien_fleming_bounds_match_ldbounds_and_gsdesign():
    bounds = boundaries(FIVE, 0.05, "obrien-fleming")
    print(f"\nLan-DeMets OBF-type bounds, 5 looks: {np.round(bounds, 4)}")
    np.testing.assert_allclose(bounds, [4.877, 3.357, 2.680, 2.290, 2.031], atol=5e-4)


@pytest.mark.parametrize("kind", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize(
    ("t", "sides"), [(FIVE, 2), ([0.25, 0.5, 0.75, 1.0], 1), ([0.15, 0.45, 0.7, 1.0], 2)]
)
def test_bounds_spend_the_spending_function_exactly(kind, t, sides):
    """Cumulative crossing probability at each look = α*(t_k), by scipy's multivariate normal."""
    bounds = boundaries(t, 0.05, kind, sides)
    if kind == "pocock" and t == FIVE:
        print(f"\nLan-DeMets Pocock-type bounds, 5 looks: {np.round(bounds, 4)}")
    for k in range(1, len(t) + 1):
        crossed = _mvn_cross(t[:k], bounds[:k], two_sided=sides == 2)
        assert crossed == pytest.approx(sides * spending(t[k - 1], 0.05 / sides, kind), abs=1e-5)
    up, down = crossing_probabilities(t, bounds, [-c for c in bounds] if sides == 2 else None)
    assert sum(up) + sum(down) == pytest.approx(0.05, abs=1e-9)


def test_single_look_is_the_fixed_test():
    assert boundaries([1.0]) == pytest.approx([1.959964], abs=1e-6)
    assert boundaries([1.0], sides=1) == pytest.approx([float(sps.norm.ppf(0.95))], abs=1e-9)
    assert boundaries([1.0], kind="pocock") == pytest.approx([Z975], abs=1e-9)


def test_overrun_spends_nothing_more():
    bounds = boundaries([0.5, 1.0, 1.2])
    assert bounds[:2] == pytest.approx(boundaries([0.5, 1.0]), abs=1e-12)
    assert math.isinf(bounds[2])
    with pytest.raises(ValueError, match="strictly increasing"):
        boundaries([0.5, 0.5, 1.0])


def _classical(kind: str, k: int = 5, alpha: float = 0.05) -> tuple[float, float]:
    """Classical constant-shape design: (C, R) for k equal looks, two-sided, power 0.9."""
    t = [i / k for i in range(1, k + 1)]
    shape = [math.sqrt(k / i) if kind == "obf" else 1.0 for i in range(1, k + 1)]

    def size(c: float) -> float:
        up, down = crossing_probabilities(t, [c * s for s in shape], [-c * s for s in shape])
        return sum(up) + sum(down) - alpha

    c = optimize.brentq(size, 1.5, 4, xtol=1e-12)
    upper = [c * s for s in shape]
    lower = [-u for u in upper]

    def power(theta: float) -> float:
        return sum(crossing_probabilities(t, upper, lower, drift=theta)[0]) - 0.9

    theta = optimize.brentq(power, 1, 6, xtol=1e-12)
    return c, (theta / (Z975 + sps.norm.ppf(0.9))) ** 2


def test_crossing_probabilities_reproduce_jennison_turnbull_tables():
    c_b, r_b = _classical("obf")
    c_p, r_p = _classical("pocock")
    print(f"\nclassical OBF C={c_b:.4f} R={r_b:.4f}; classical Pocock C={c_p:.4f} R={r_p:.4f}")
    assert c_b == pytest.approx(2.040, abs=5e-4) and r_b == pytest.approx(1.026, abs=5e-4)
    assert c_p == pytest.approx(2.413, abs=5e-4) and r_p == pytest.approx(1.207, abs=5e-4)


@pytest.mark.parametrize(("kind", "classical"), [("obrien-fleming", 1.026), ("pocock", 1.207)])
def test_sample_size_inflation(kind, classical):
    """Power at the solved drift checked by scipy; the factor is near J&T's classical one.

    The Lan–DeMets spending versions put their last bound below the classical design's
    (OBF-type 2.031 vs 2.040; Pocock-type 2.386 vs a constant 2.413), so they need a little
    less information: within 0.02 below the classical factor, and above 1.
    """
    factor = sample_size_inflation(FIVE, 0.05, 0.9, kind)
    theta = math.sqrt(factor) * (Z975 + float(sps.norm.ppf(0.9)))
    bounds = boundaries(FIVE, 0.05, kind)
    # One-sided crossing by scipy (the lower bound's chance under this drift is below 1e-9).
    assert _mvn_cross(FIVE, bounds, two_sided=False, drift=theta) == pytest.approx(0.9, abs=1e-5)
    print(f"\nLan-DeMets {kind} inflation, 5 looks, power 0.9: {factor:.4f}")
    assert classical - 0.02 < factor < classical
    assert sample_size_inflation([1.0], 0.05, 0.8) == pytest.approx(1.0, abs=1e-9)


def test_group_sequential_on_moments():
    planned = 10_000
    looks = [
        (_binary(2_000, 200), _binary(2_000, 215)),
        (_binary(4_000, 400), _binary(4_000, 470)),
        (_binary(6_000, 600), _binary(6_000, 720)),
    ]
    res = group_sequential(looks, planned, 0.05, "obrien-fleming")
    t = [0.2, 0.4, 0.6]
    assert [r.information_fraction for r in res.looks] == pytest.approx(t)
    assert [r.boundary for r in res.looks] == pytest.approx(boundaries(t), abs=1e-12)
    c2, t2 = _binary(4_000, 400), _binary(4_000, 470)
    z2 = (t2.mean_y - c2.mean_y) / math.sqrt(c2.var_y / c2.n + t2.var_y / t2.n)
    assert res.looks[1].z == pytest.approx(z2, rel=1e-12)
    assert [r.crossed for r in res.looks] == [False, False, True]
    assert res.rejected and res.stopped_at == 3 and res.decision == "reject"
    assert res.looks[0].nominal_alpha == pytest.approx(2 * sps.norm.sf(res.looks[0].boundary))
    assert res.looks[2].alpha_spent == pytest.approx(2 * spending(0.6, 0.025))
    early = group_sequential(looks[:1], planned)
    assert early.decision == "continue" and early.stopped_at is None
    flat = [(_binary(n, n // 10), _binary(n, n // 10)) for n in (5_000, 10_000)]
    assert group_sequential(flat, planned).decision == "fail-to-reject"
    with pytest.raises(ValueError, match="no more units"):
        group_sequential([looks[1], looks[0]], planned)


def test_group_sequential_type_one_error_by_simulation():
    """A/A, five equal looks with the OBF-type bounds: size within the 99% binomial range."""
    start = time.perf_counter()
    sims, per_look, looks = 20_000, 2_000, 5
    rng = np.random.default_rng(21)
    kc = rng.binomial(per_look, RATE, (sims, looks)).cumsum(axis=1).astype(float)
    kt = rng.binomial(per_look, RATE, (sims, looks)).cumsum(axis=1).astype(float)
    n = per_look * np.arange(1, looks + 1, dtype=float)
    z = (kt - kc) / n / np.sqrt((_arm_variance(kc, n) + _arm_variance(kt, n)) / n)
    bounds = np.asarray(boundaries(FIVE))
    crossed = (np.abs(z) >= bounds).any(axis=1)
    lo, hi = sps.binom.ppf([0.005, 0.995], sims, ALPHA)
    print(
        f"\ngroup-sequential A/A size, 5 OBF looks, {sims} sims: {crossed.mean():.4f} "
        f"(99% range {lo / sims:.4f}-{hi / sims:.4f}; {time.perf_counter() - start:.2f} s)"
    )
    assert lo <= crossed.sum() <= hi
    # The Moments path gives the same decisions.
    for i in range(40):
        per = [
            (_binary(int(n[k]), int(kc[i, k])), _binary(int(n[k]), int(kt[i, k]))) for k in range(5)
        ]
        assert group_sequential(per, looks * per_look).rejected == bool(crossed[i])
