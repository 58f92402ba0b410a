"""Sample sizes per decision rule: group-sequential, always-valid and Bayesian.

Where each expected number comes from:

- Group-sequential inflation factors: Jennison & Turnbull (2000), *Group Sequential Methods
  with Applications to Clinical Trials*, Tables 2.3 and 2.4, classical designs with five
  equal looks, two-sided α = 0.05, power 0.9: ``R_B = 1.026`` (O'Brien–Fleming),
  ``R_P = 1.207`` (Pocock). The Lan–DeMets spending versions sized here need a little less.
- Expected sizes and the chance of stopping at each look: a seeded Monte Carlo simulation of
  Brownian motion with the design's boundaries, written out here; tolerances from its
  standard error.
- The mSPRT's final-look size: the real :func:`liftlab.stats.sequential.always_valid` on
  seeded normal data at that size; the schedule's size: the same with daily looks.
- The flat-prior Bayesian size: :func:`liftlab.stats.power.sample_size`, one-sided at
  ``α = 1 − ship_threshold``; sizes with priors and losses: the real
  :func:`~liftlab.stats.bayesian.gaussian_effect` and
  :func:`~liftlab.stats.bayesian.beta_binomial_effect` on seeded simulated data.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as sps

from liftlab.stats.bayesian import NormalPrior, beta_binomial_effect, gaussian_effect
from liftlab.stats.method_power import (
    bayesian_size,
    group_sequential_size,
    msprt_size,
)
from liftlab.stats.moments import Moments
from liftlab.stats.power import sample_size
from liftlab.stats.sequential import always_valid, msprt_log_lr, robbins_rho2

P_C, DELTA = 0.1, 0.01
VAR_C, VAR_T = P_C * (1 - P_C), (P_C + DELTA) * (1 - P_C - DELTA)


def _within(observed: float, expected: float, se: float, k: float = 4.0) -> None:
    assert abs(observed - expected) <= k * se, (observed, expected, se)


# ===== group-sequential ==========================================================================
def _simulate_stops(
    t: tuple[float, ...], bounds: tuple[float, ...], drift: float, sides: int, reps: int, seed: int
) -> np.ndarray:
    """Look index (0-based) at which each simulated Brownian path with ``drift`` stops."""
    rng = np.random.default_rng(seed)
    dt = np.diff(np.concatenate(([0.0], t)))
    s = np.cumsum(drift * dt + rng.standard_normal((reps, len(t))) * np.sqrt(dt), axis=1)
    z = s / np.sqrt(t)
    crossed = (np.abs(z) if sides == 2 else z) >= np.asarray(bounds)
    crossed[:, -1] = True
    return crossed.argmax(axis=1)


@pytest.mark.parametrize(
    ("kind", "published", "tolerance"),
    [("obrien-fleming", 1.026, 0.006), ("pocock", 1.207, 0.02)],
)
def test_inflation_is_near_jennison_turnbull(kind: str, published: float, tolerance: float) -> None:
    r = group_sequential_size(1000.0, looks=5, kind=kind, alpha=0.05, power=0.9)  # type: ignore[arg-type]
    assert r.inflation == pytest.approx(published, abs=tolerance)
    assert r.inflation < published  # the spending version's last bound is lower
    assert r.n_max == pytest.approx(1000.0 * r.inflation, rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "power", "sides"),
    [
        ("obrien-fleming", 0.8, 2),
        ("obrien-fleming", 0.9, 2),
        ("pocock", 0.9, 2),
        ("obrien-fleming", 0.8, 1),
    ],
)
def test_expected_size_matches_brownian_simulation(kind: str, power: float, sides: int) -> None:
    r = group_sequential_size(5000.0, looks=5, kind=kind, alpha=0.05, power=power, sides=sides)  # type: ignore[arg-type]
    t = r.information_fractions
    drift = (sps.norm.ppf(1 - 0.05 / sides) + sps.norm.ppf(power)) * math.sqrt(r.inflation)
    for theta, expected_n, stops, seed in (
        (drift, r.expected_n_alternative, r.stop_alternative, 1),
        (0.0, r.expected_n_null, r.stop_null, 2),
    ):
        reps = 200_000
        look = _simulate_stops(t, r.boundaries, theta, sides, reps, seed)
        fraction = np.asarray(t)[look]
        _within(expected_n / r.n_max, fraction.mean(), fraction.std() / math.sqrt(reps))
        share = np.bincount(look, minlength=len(t)) / reps
        for p_model, p_sim in zip(stops, share, strict=True):
            _within(p_model, p_sim, math.sqrt(max(p_sim * (1 - p_sim), 1e-6) / reps))
    assert sum(r.stop_alternative) == pytest.approx(1.0, abs=1e-12)
    # O'Brien–Fleming saves about a quarter of the fixed size under the MDE (J&T §2.7).
    assert r.expected_n_alternative < r.n_fixed < r.n_max


def test_one_look_is_the_fixed_design() -> None:
    r = group_sequential_size(1234.5, looks=1, alpha=0.05, power=0.8)
    assert r.inflation == 1.0
    assert r.expected_n_alternative == pytest.approx(1234.5)
    assert r.boundaries[0] == pytest.approx(sps.norm.ppf(0.975), abs=1e-9)


def test_unequal_fractions_and_bad_input() -> None:
    r = group_sequential_size(1000.0, information_fractions=[0.5, 0.75, 1.0], alpha=0.05)
    assert r.information_fractions == (0.5, 0.75, 1.0)
    for kwargs, words in [
        ({"looks": None}, "give looks"),
        ({"looks": 0}, "looks 0"),
        ({"information_fractions": [0.5, 0.9]}, "to 1"),
        ({"looks": 3, "kind": "haybittle"}, "kind 'haybittle'"),
        ({"looks": 3, "sides": 3}, "sides 3"),
        ({"looks": 3, "alpha": 1.5}, "alpha 1.5"),
    ]:
        with pytest.raises(ValueError, match=words):
            group_sequential_size(1000.0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_fixed"):
        group_sequential_size(-1.0, looks=3)


# ===== always valid ==============================================================================
def _normal_looks(
    rng: np.random.Generator, big_n: float, t: tuple[float, ...], delta: float, sd: float
) -> list[tuple[Moments, Moments]]:
    """Cumulative moments of normal data (equal arms, sd in both) at the looks ``t``."""
    sizes = np.diff(np.concatenate(([0], np.round(np.asarray(t) * big_n / 2).astype(int))))
    looks, c, tr = [], Moments(0, 0.0, 0.0), Moments(0, 0.0, 0.0)
    for n in sizes:
        c = c + Moments.from_arrays(rng.normal(0.0, sd, n))
        tr = tr + Moments.from_arrays(rng.normal(delta, sd, n))
        looks.append((c, tr))
    return looks


def test_final_look_size_matches_always_valid_on_simulated_data() -> None:
    sd, delta = 1.0, 0.2
    r = msprt_size(sd**2, sd**2, delta, alpha=0.05, power=0.8)
    rng = np.random.default_rng(7)
    reps, hits = 1500, 0
    for _ in range(reps):
        res = always_valid(_normal_looks(rng, r.n_final_look, (1.0,), delta, sd), tau=delta)
        hits += res.rejected and res.estimate > 0
    _within(hits / reps, 0.8, math.sqrt(0.8 * 0.2 / reps), k=3.5)
    assert r.tau == delta and r.power_final_look == pytest.approx(0.8, abs=1e-9)


def test_schedule_size_matches_always_valid_with_daily_looks() -> None:
    sd, delta, days = 1.0, 0.2, 10
    r = msprt_size(sd**2, sd**2, delta, alpha=0.05, power=0.8, looks=days)
    assert r.n_schedule is not None and r.n_schedule_se is not None
    rng = np.random.default_rng(11)
    reps, hits = 1500, 0
    for _ in range(reps):
        looks = _normal_looks(rng, r.n_schedule, r.information_fractions or (), delta, sd)
        res = always_valid(looks, tau=delta)
        first = res.first_rejection
        hits += first is not None and res.looks[first - 1].estimate > 0
    _within(hits / reps, 0.8, math.sqrt(0.8 * 0.2 / reps), k=3.5)


@settings(max_examples=60, deadline=None)
@given(
    var_c=st.floats(0.01, 100.0),
    var_t=st.floats(0.01, 100.0),
    delta=st.floats(0.01, 10.0),
    w_c=st.floats(0.1, 0.6),
    alpha=st.sampled_from([0.001, 0.01, 0.05, 0.1]),
    power=st.floats(0.5, 0.99),
    tau_ratio=st.floats(0.1, 10.0),
)
def test_final_look_size_solves_the_likelihood_ratio_bound(
    var_c: float,
    var_t: float,
    delta: float,
    w_c: float,
    alpha: float,
    power: float,
    tau_ratio: float,
) -> None:
    """At ``n_final_look`` the estimate at which ``log Λ = −log α`` (the real ``msprt_log_lr``,
    solved here by Brent) is reached with probability ``power``."""
    w_t = 1 - w_c
    tau = tau_ratio * delta
    r = msprt_size(var_c, var_t, delta, alpha=alpha, power=power, w_c=w_c, w_t=w_t, tau=tau)
    v_n = (var_c / w_c + var_t / w_t) / r.n_final_look
    edge = optimize.brentq(
        lambda x: float(msprt_log_lr(x, v_n, tau)) + math.log(alpha), 0.0, 100 * math.sqrt(v_n)
    )
    assert sps.norm.sf(edge, loc=delta, scale=math.sqrt(v_n)) == pytest.approx(power, abs=1e-7)
    one_sided = (sps.norm.ppf(1 - alpha) + sps.norm.ppf(power)) ** 2 * v_n * r.n_final_look
    assert r.n_final_look >= one_sided / delta**2  # never below the one-sided fixed test


def test_daily_size_matches_always_valid_with_one_look_a_day() -> None:
    sd, delta, daily = 1.0, 0.2, 40.0
    r = msprt_size(sd**2, sd**2, delta, daily_units=daily)
    assert r.looks is not None and r.n_schedule == r.looks * daily == r.total
    days = r.looks
    rng = np.random.default_rng(13)
    reps, first_days = 1500, []
    t = tuple(k / days for k in range(1, days + 1))
    for _ in range(reps):
        res = always_valid(_normal_looks(rng, days * daily, t, delta, sd), tau=delta)
        first = res.first_rejection
        ok = first is not None and res.looks[first - 1].estimate > 0
        first_days.append(first if ok else days + 1)
    by_day = np.asarray(first_days)
    se = math.sqrt(0.8 * 0.2 / reps)
    assert np.mean(by_day <= days) >= 0.8 - 3.5 * se  # enough by the last day
    assert np.mean(by_day <= days - 1) <= 0.8 + 3.5 * se  # not yet a day earlier
    eq = msprt_size(sd**2, sd**2, delta, looks=days)
    assert eq.n_schedule is not None and eq.n_schedule_se is not None
    assert abs(eq.n_schedule - r.total) <= daily + 4 * eq.n_schedule_se


def test_looks_only_add_rejections() -> None:
    r1 = msprt_size(VAR_C, VAR_T, DELTA, looks=1)
    assert r1.n_schedule is not None and r1.n_schedule_se is not None
    _within(r1.n_schedule, r1.n_final_look, r1.n_schedule_se)
    previous = r1.n_final_look * 1.01
    for looks in (7, 28, 120):
        r = msprt_size(VAR_C, VAR_T, DELTA, looks=looks)
        assert r.n_schedule is not None
        assert r.n_schedule < previous  # more looks, more chances: fewer units
        assert r.power_final_look < 0.8  # at that N the final look alone has less power
        assert r.total == r.n_schedule and r.price_of_peeking == r.total / r.n_fixed
        previous = r.n_schedule
    assert r1.n_fixed == pytest.approx(
        sample_size(
            metric_type="proportion", baseline=P_C, mde=DELTA, mde_type="absolute"
        ).total_exact,
        rel=1e-9,
    )


def test_monotone_in_alpha_power_delta_and_u_shaped_in_tau() -> None:
    base = msprt_size(VAR_C, VAR_T, DELTA, looks=14)
    for kwargs in ({"alpha": 0.01}, {"power": 0.9}):
        r = msprt_size(VAR_C, VAR_T, DELTA, looks=14, **kwargs)  # type: ignore[arg-type]
        assert r.n_final_look > base.n_final_look and r.total > base.total
    smaller = msprt_size(VAR_C, VAR_T, DELTA / 2, looks=14, tau=DELTA)
    assert smaller.n_final_look > base.n_final_look and smaller.total > base.total
    sizes = [msprt_size(VAR_C, VAR_T, DELTA, tau=k * DELTA).n_final_look for k in (0.1, 1.0, 10.0)]
    assert sizes[0] > sizes[1] < sizes[2]
    assert (
        msprt_size(VAR_C, VAR_T, -DELTA).total
        == base.n_final_look
        == msprt_size(VAR_C, VAR_T, DELTA).total
    )


def test_asymptotic_cs_is_the_msprt_with_its_mixing_ratio() -> None:
    planned = 20_000.0
    rho2 = robbins_rho2(2 * planned, alpha=0.05)
    v = VAR_C / 0.5 + VAR_T / 0.5
    cs = msprt_size(VAR_C, VAR_T, DELTA, method="asymptotic-cs", planned_n=planned)
    ms = msprt_size(VAR_C, VAR_T, DELTA, tau=math.sqrt(rho2 * v))
    assert cs.rho2 == pytest.approx(rho2) and cs.tau is None
    assert cs.n_final_look == pytest.approx(ms.n_final_look, rel=1e-9)
    default = msprt_size(VAR_C, VAR_T, DELTA, method="asymptotic-cs")
    assert default.planned_n == pytest.approx(default.n_fixed * 0.5)


def test_asymptotic_cs_final_look_matches_always_valid() -> None:
    # planned far above the size found, where the boundary is steep in r = t·ρ²
    sd, delta, planned = 1.0, 0.2, 10_000
    third = 1 / 3  # three arms: the pair compared holds two thirds of all units
    r = msprt_size(
        sd**2, sd**2, delta, method="asymptotic-cs", planned_n=planned, w_c=third, w_t=third
    )
    rng = np.random.default_rng(5)
    reps, hits = 3000, 0
    for _ in range(reps):
        looks = _normal_looks(rng, 2 * third * r.n_final_look, (1.0,), delta, sd)
        res = always_valid(looks, method="asymptotic-cs", planned_n=2 * planned)
        hits += res.rejected and res.estimate > 0
    _within(hits / reps, 0.8, math.sqrt(0.8 * 0.2 / reps), k=3.5)


def test_simulation_is_seeded_and_fast() -> None:
    a = msprt_size(VAR_C, VAR_T, DELTA, looks=60, seed=123)
    b = msprt_size(VAR_C, VAR_T, DELTA, looks=60, seed=123)
    assert a == b
    start = time.perf_counter()
    msprt_size(VAR_C, VAR_T, DELTA, looks=365, seed=99)  # fresh paths: nothing cached
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"delta": 0.0}, "delta 0.0"),
        ({"alpha": 0.0}, "alpha 0.0"),
        ({"power": 1.0}, "power 1.0"),
        ({"w_c": 0.7, "w_t": 0.5}, "exceed 1"),
        ({"var_c": -1.0}, "var_c -1.0"),
        ({"tau": -0.1}, "tau -0.1"),
        ({"looks": 0}, "looks 0"),
        ({"looks": 10_000}, "looks 10000"),
        ({"information_fractions": [0.3, 0.2, 1.0]}, "increase"),
        ({"method": "bayes"}, "method 'bayes'"),
        ({"planned_n": 100.0}, "asymptotic-cs"),
        ({"method": "asymptotic-cs", "tau": 0.1}, "tau is the mSPRT"),
        ({"paths": 10}, "paths 10"),
        ({"daily_units": 0.0}, "daily_units 0.0"),
        ({"daily_units": 100.0, "looks": 5}, "not several"),
        ({"daily_units": 1.0}, "more than 400 days"),
    ],
)
def test_msprt_bad_input(kwargs: dict, words: str) -> None:
    args = {"var_c": VAR_C, "var_t": VAR_T, "delta": DELTA}
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        msprt_size(args.pop("var_c"), args.pop("var_t"), args.pop("delta"), **args)


# ===== Bayesian ==================================================================================
@pytest.mark.parametrize("threshold", [0.9, 0.95, 0.99])
def test_flat_prior_is_the_one_sided_fixed_test(threshold: float) -> None:
    r = bayesian_size(4.0, 6.25, 0.3, ship_threshold=threshold, w_c=0.4, w_t=0.6)
    ref = sample_size(
        metric_type="mean",
        baseline=10.0,
        mde=0.3,
        mde_type="absolute",
        sd=2.0,
        sd_treatment=2.5,
        alpha=1 - threshold,
        alternative="one-sided",
        weights=[0.4, 0.6],
    )
    assert r.total == pytest.approx(ref.total_exact, rel=1e-9)
    assert r.n_control == pytest.approx(0.4 * r.total)


@settings(max_examples=60, deadline=None)
@given(
    var_c=st.floats(1e-4, 1e4),
    var_t=st.floats(1e-4, 1e4),
    delta=st.floats(1e-3, 1e3),
    w_c=st.floats(0.05, 0.6),
    threshold=st.floats(0.51, 0.999),
    power=st.floats(0.05, 0.99),
)
def test_flat_prior_closed_form(
    var_c: float, var_t: float, delta: float, w_c: float, threshold: float, power: float
) -> None:
    """``N = (z_t + z_power)²·(var_c/w_c + var_t/w_t)/δ²`` wherever that is above the floor."""
    w_t = 1 - w_c
    expected = (
        (sps.norm.ppf(threshold) + sps.norm.ppf(power)) ** 2
        * (var_c / w_c + var_t / w_t)
        / delta**2
    )
    r = bayesian_size(var_c, var_t, delta, w_c=w_c, w_t=w_t, ship_threshold=threshold, power=power)
    floor = 2 / min(w_c, w_t)
    if sps.norm.ppf(threshold) + sps.norm.ppf(power) > 0 and expected > floor:
        assert r.total == pytest.approx(expected, rel=1e-8)
    else:
        assert r.total == pytest.approx(floor)


def _share_shipped(decide, reps: int) -> float:  # type: ignore[no-untyped-def]
    return sum(bool(decide()) for _ in range(reps)) / reps


@pytest.mark.parametrize(
    ("effect", "prior", "criterion", "loss", "delta", "sd_c", "sd_t"),
    [
        ("absolute", NormalPrior(0.0, 0.5), "prob_beat", None, 0.4, 3.0, 3.5),
        ("relative", NormalPrior(0.0, 0.2), "prob_beat", None, 2.5, 15.0, 18.0),
        ("relative", None, "expected_loss", 0.3, 2.5, 15.0, 18.0),
        ("absolute", NormalPrior(0.1, 0.3), "expected_loss", 0.01, 0.4, 3.0, 3.5),
    ],
)
def test_gaussian_size_ships_with_the_power_under_gaussian_effect(
    effect: str,
    prior: NormalPrior | None,
    criterion: str,
    loss: float | None,
    delta: float,
    sd_c: float,
    sd_t: float,
) -> None:
    m_c, w_c, w_t = 10.0, 0.4, 0.6
    r = bayesian_size(
        sd_c**2,
        sd_t**2,
        delta,
        power=0.8,
        w_c=w_c,
        w_t=w_t,
        effect=effect,  # type: ignore[arg-type]
        control_mean=m_c,
        prior_mean=prior.mean if prior else 0.0,
        prior_sd=prior.sd if prior else None,
        criterion=criterion,  # type: ignore[arg-type]
        loss_threshold=loss,
    )
    n_c, n_t = r.total * w_c, r.total * w_t
    rng = np.random.default_rng(3)

    def ships() -> bool:
        mc = rng.normal(m_c, sd_c / math.sqrt(n_c))
        mt = rng.normal(m_c + delta, sd_t / math.sqrt(n_t))
        res = gaussian_effect(
            control_mean=mc,
            treatment_mean=mt,
            var_control_mean=sd_c**2 / n_c,
            var_treatment_mean=sd_t**2 / n_t,
            prior=prior,
            effect=effect,
        )
        if criterion == "prob_beat":
            return res.prob_beat_control >= 0.95
        assert loss is not None
        return res.expected_loss_treatment <= loss

    reps = 4000
    _within(_share_shipped(ships, reps), 0.8, math.sqrt(0.8 * 0.2 / reps), k=3.5)


@pytest.mark.parametrize(
    ("prior", "w_c", "w_t"), [((1.0, 1.0), 0.5, 0.5), ((20.0, 180.0), 0.25, 0.75)]
)
def test_beta_binomial_size_ships_with_the_power_under_beta_binomial_effect(
    prior: tuple[float, float], w_c: float, w_t: float
) -> None:
    p_c, delta = 0.1, 0.03
    var_t = (p_c + delta) * (1 - p_c - delta)
    r = bayesian_size(
        p_c * (1 - p_c),
        var_t,
        delta,
        model="beta-binomial",
        control_mean=p_c,
        beta_prior=prior,
        w_c=w_c,
        w_t=w_t,
    )
    n_c, n_t = round(r.total * w_c), round(r.total * w_t)
    rng = np.random.default_rng(17)

    def ships() -> bool:
        s_c, s_t = rng.binomial(n_c, p_c), rng.binomial(n_t, p_c + delta)
        res = beta_binomial_effect(
            Moments(n_c, s_c, s_c), Moments(n_t, s_t, s_t), prior=prior, draws=1
        )
        return res.prob_beat_control >= 0.95

    reps = 1500
    _within(_share_shipped(ships, reps), 0.8, math.sqrt(0.8 * 0.2 / reps), k=3)


def test_a_sceptical_beta_prior_needs_more_units() -> None:
    p_c, delta = 0.1, 0.03
    args = (p_c * (1 - p_c), (p_c + delta) * (1 - p_c - delta), delta)
    flat = bayesian_size(*args, model="beta-binomial", control_mean=p_c)
    sceptical = bayesian_size(*args, model="beta-binomial", control_mean=p_c, beta_prior=(20, 180))
    gauss = bayesian_size(*args)
    assert sceptical.total > flat.total
    assert flat.total == pytest.approx(gauss.total, rel=0.01)


def test_direction_decrease_mirrors_increase() -> None:
    up = bayesian_size(4.0, 4.0, 0.3, prior_mean=0.05, prior_sd=0.2)
    down = bayesian_size(4.0, 4.0, -0.3, prior_mean=-0.05, prior_sd=0.2, direction="decrease")
    assert down.total == pytest.approx(up.total, rel=1e-12)
    assert down.posterior_sd == pytest.approx(up.posterior_sd, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"delta": -0.3}, "good direction"),
        ({"prior_mean": 0.5, "prior_sd": 0.1}, "alone meets the ship rule"),
        ({"ship_threshold": 0.4}, "ship_threshold 0.4"),
        ({"criterion": "expected_loss"}, "needs loss_threshold"),
        ({"loss_threshold": 0.1}, "goes with criterion"),
        ({"criterion": "regret"}, "criterion 'regret'"),
        ({"model": "poisson"}, "model 'poisson'"),
        ({"effect": "relative"}, "control_mean > 0"),
        ({"model": "beta-binomial", "control_mean": 0.1}, "p\\(1−p\\)"),
        ({"model": "beta-binomial"}, "control rate"),
        ({"prior_sd": 0.0}, "prior_sd 0.0"),
        ({"direction": "up"}, "direction 'up'"),
    ],
)
def test_bayesian_bad_input(kwargs: dict, words: str) -> None:
    args = {"var_c": 4.0, "var_t": 4.0, "delta": 0.3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        bayesian_size(args.pop("var_c"), args.pop("var_t"), args.pop("delta"), **args)


def test_results_serialise_to_plain_types() -> None:
    import json

    for r in (
        group_sequential_size(100.0, looks=3),
        msprt_size(VAR_C, VAR_T, DELTA, looks=5),
        bayesian_size(VAR_C, VAR_T, DELTA),
    ):
        d = r.to_dict()
        assert json.loads(json.dumps(d, allow_nan=False)) == d
