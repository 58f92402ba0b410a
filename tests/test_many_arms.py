"""Many arms at once: the array forms equal the scalar tests and the one-matrix Monte Carlo.

- :func:`liftlab.stats.frequentist.abs_effects` (Welch, CUPED, delta method with normal and
  t reference) against :func:`welch_test`, :func:`cuped_test` and :func:`ratio_test` on
  each pair of moments, to the last bit, over random sums and the edge cases (no units, one
  unit, zero variance, a zero denominator, a negative mean).
- :func:`liftlab.monitor.fixed_horizon_views` against :func:`fixed_horizon_view` run on
  each comparison's running sums (``Moments`` added day by day), look by look, exactly; and
  the views :func:`liftlab.analysis.analyze_statistics` attaches to a 40-arm analysis.
- :func:`liftlab.stats.bayesian.prob_best` on normal posteriors against the one
  ``arms × draws`` matrix of ``rng.normal`` reduced with ``argmax`` (the earlier
  implementation, written out here), exactly; and each metric's chance of being best in an
  analysis the same whether its draws run on one thread or several (``LIFTLAB_THREADS``),
  and equal to ``prob_best`` on the arms' means and standard errors.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from liftlab.aggregate import UnitStats
from liftlab.analysis import analyze_statistics
from liftlab.monitor import fixed_horizon_view, fixed_horizon_views
from liftlab.plan import parse_plan
from liftlab.stats.bayesian import NormalPosterior, prob_best
from liftlab.stats.frequentist import (
    Effect,
    MomentArrays,
    abs_effects,
    cuped_test,
    ratio_test,
    welch_test,
)
from liftlab.stats.moments import Moments

SCALAR = {
    "welch-t": welch_test,
    "cuped-welch-t": cuped_test,
    "delta-z": lambda c, t, alpha: ratio_test(c, t, alpha=alpha, reference="normal"),
    "delta-t": lambda c, t, alpha: ratio_test(c, t, alpha=alpha, reference="t"),
}


def _random_moments(rng: np.random.Generator, n: int) -> Moments:
    """The sums of ``n`` units with a positive ``x`` (impressions) and ``y`` around 0.02 x."""
    x = rng.poisson(rng.uniform(5, 500), n).astype(float)
    y = rng.binomial(x.astype(int), rng.uniform(0.005, 0.05)).astype(float)
    return Moments.from_arrays(y, x)


def _cases(seed: int = 3) -> list[Moments]:
    rng = np.random.default_rng(seed)
    cases = [_random_moments(rng, int(n)) for n in rng.integers(2, 60, 40)]
    return [
        *cases,
        Moments(0, 0.0, 0.0),  # no units
        Moments(1, 3.0, 9.0, 100.0, 10_000.0, 300.0),  # one unit
        Moments(5, 10.0, 20.0, 50.0, 500.0, 100.0),  # y and x constant: zero variance
        Moments(4, 2.0, 2.0, 0.0, 0.0, 0.0),  # zero denominator
        Moments(6, -9.0, 30.0, 60.0, 700.0, -80.0),  # negative mean
    ]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("method", list(SCALAR))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_array_effects_equal_the_scalar_tests_to_the_last_bit(method: str, alpha: float) -> None:
    cases = _cases()
    control, treatments = cases[0], cases
    out = abs_effects(
        method, MomentArrays.of([[control]]), MomentArrays.of([treatments]), alpha=alpha
    )
    for k, t in enumerate(treatments):
        e: Effect = SCALAR[method](control, t, alpha=alpha)
        assert e.method == method
        got = (out.estimate[0, k], out.se[0, k], out.ci_low[0, k], out.ci_high[0, k])
        want = (e.abs_effect, e.abs_se, *e.abs_ci)
        assert all(_same(float(g), w) for g, w in zip(got, want, strict=True)), (k, got, want)
        assert _same(float(out.p_value[0, k]), e.p_value), (k, out.p_value[0, k], e.p_value)
    # an edge case as control too: every comparison NaN where the scalar test is
    edge = abs_effects(method, MomentArrays.of([[cases[-4]]]), MomentArrays.of([cases[:3]]))
    for k, t in enumerate(cases[:3]):
        assert _same(float(edge.p_value[0, k]), SCALAR[method](cases[-4], t, alpha=0.05).p_value)


def _daily(rng: np.random.Generator, days: int, dead: bool = False) -> list[Moments]:
    """An arm's daily moments; ``dead``: no units on the first days (a late launch)."""
    out = [_random_moments(rng, int(rng.integers(2, 30))) for _ in range(days)]
    if dead:
        out[0] = out[1] = Moments(0, 0.0, 0.0)
    return out


@pytest.mark.parametrize("method", list(SCALAR))
def test_views_of_all_arms_equal_one_view_per_comparison(method: str) -> None:
    rng = np.random.default_rng(8)
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=k) for k in range(9)]
    control = _daily(rng, len(days))
    arms = {f"ad{g}": _daily(rng, len(days), dead=g % 5 == 0) for g in range(25)}
    views = fixed_horizon_views(days, control, arms, method, alpha=0.05)
    assert list(views) == list(arms)
    zero = Moments(0, 0.0, 0.0)
    for name, daily in arms.items():
        looks, c_run, t_run = [], zero, zero
        for c_day, t_day in zip(control, daily, strict=True):
            c_run, t_run = c_run + c_day, t_run + t_day
            looks.append((c_run, t_run))

        def test(c: Moments, t: Moments) -> Effect:
            return SCALAR[method](c, t, alpha=0.05)

        want = fixed_horizon_view(days, looks, test, alpha=0.05)
        got = views[name]
        assert (got.kind, got.alpha, len(got.looks)) == (want.kind, want.alpha, len(want.looks))
        for g, w in zip(got.looks, want.looks, strict=True):
            assert (g.day, g.n_control, g.n_treatment) == (w.day, w.n_control, w.n_treatment)
            for field in ("estimate", "se", "ci_low", "ci_high", "p_value"):
                assert _same(getattr(g, field), getattr(w, field)), (name, g.day, field)


def _forty_arms() -> tuple[Any, UnitStats, list[dt.date]]:
    """40 arms, a ratio (delta-z) and a mean metric on unit statistics with daily moments."""
    rng = np.random.default_rng(21)
    names = [f"ad{g:02d}" for g in range(40)]
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=k) for k in range(6)]
    daily = {
        metric: {v: _daily(rng, len(days), dead=v == "ad07") for v in names}
        for metric in ("ctr", "clicks")
    }

    def total(ms: list[Moments]) -> Moments:
        out = Moments(0, 0.0, 0.0)
        for m in ms:
            out = out + m
        return out

    moments = {metric: {v: total(d) for v, d in by.items()} for metric, by in daily.items()}
    plan = parse_plan(
        {
            "name": "forty-ads",
            "kind": "landing_page",
            "hypothesis": "some ad earns more clicks per impression",
            "unit": "user_id",
            "variants": {v: {} for v in names},
            "data": {"units": "units.parquet"},
            "metrics": [
                {"name": "ctr", "role": "primary", "type": "ratio"}
                | {"numerator": "clicks", "denominator": "impressions"},
                {"name": "clicks", "type": "mean", "column": "clicks"},
            ],
            "analysis": {"correction": "bh"},
        }
    )
    counts = {v: moments["ctr"][v].n for v in names}
    return plan, UnitStats(counts, moments, days=days, daily=daily), days


def test_the_analysis_attaches_each_arms_view_and_the_last_look_is_the_analysis() -> None:
    plan, stats, days = _forty_arms()
    res = analyze_statistics(plan, stats)
    moments = stats.moments
    for m in res.metrics:
        assert len(m.comparisons) == 39
        for c in m.comparisons:
            assert c.cumulative is not None and len(c.cumulative.looks) == len(days)
            last = c.cumulative.looks[-1]
            assert (last.estimate, last.se, last.p_value) == (
                c.effect.abs_effect,
                c.effect.abs_se,
                c.effect.p_value,
            )
            assert (last.ci_low, last.ci_high) == c.effect.abs_ci
            assert last.n_treatment == moments[m.metric.name][c.variant].n


def test_prob_best_equals_the_one_matrix_of_draws() -> None:
    """The blocked, in-place draws and strict row-by-row maximum against ``rng.normal`` on
    the whole ``arms × draws`` matrix and ``argmax`` (first arm on ties), for both
    directions and a block size that splits the arms unevenly."""
    rng = np.random.default_rng(5)
    k, draws, seed = 57, 3_000, 99
    means, sds = rng.normal(0.02, 0.004, k), rng.uniform(0.001, 0.003, k)
    arms = {
        f"ad{g}": NormalPosterior(float(m), float(s))
        for g, (m, s) in enumerate(zip(means, sds, strict=True))
    }
    for direction in ("increase", "decrease"):
        got = prob_best(arms, seed=seed, draws=draws, direction=direction, block=draws * 8)
        theta = np.random.default_rng(seed).normal(means[:, None], sds[:, None], (k, draws))
        if direction == "decrease":
            theta = -theta
        best = theta.argmax(axis=0)
        want_p = np.bincount(best, minlength=k) / draws
        want_loss = np.maximum(theta.max(axis=0).mean() - theta.mean(axis=1), 0.0)
        assert list(got.prob_best.values()) == want_p.tolist()
        assert list(got.expected_loss.values()) == want_loss.tolist()
    with pytest.raises(ValueError, match="negative"):
        prob_best({"a": NormalPosterior(0.0, 1.0), "b": NormalPosterior(0.0, -1.0)})


def test_best_arm_draws_give_the_same_numbers_on_any_number_of_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan, stats, _ = _forty_arms()
    best = {}
    for threads in ("1", "4"):
        monkeypatch.setenv("LIFTLAB_THREADS", threads)
        best[threads] = {m.metric.name: m.best for m in analyze_statistics(plan, stats).metrics}
    assert best["1"] == best["4"]
    ctr = best["1"]["ctr"]
    assert ctr is not None
    arms = {}
    for v, m in stats.moments["ctr"].items():  # the delta-method rate and its standard error
        r = m.sum_y / m.sum_x
        var = (m.var_y - 2 * r * m.cov_xy + r * r * m.var_x) / (m.n * (m.mean_x * m.mean_x))
        arms[v] = NormalPosterior(r, math.sqrt(var))
    want = prob_best(arms, seed=plan.analysis.bayesian.seed)
    assert ctr.prob_best == want.prob_best and ctr.expected_loss == want.expected_loss


def test_an_arm_without_a_standard_error_never_wins_and_hides_no_other_arm() -> None:
    """An arm whose metric is undefined (cost per purchase with no purchase: NaN mean and SE)
    draws NaN. It takes no draw and has a NaN loss; every other arm keeps its share, as in
    the one matrix with that arm's row left out of the maximum. (The earlier ``argmax`` per
    block let a NaN take the whole block's draws, so the arms drawn in its block lost theirs.)
    """
    rng = np.random.default_rng(9)
    k, draws, seed, dead = 30, 2_000, 4, 12
    means, sds = rng.normal(50, 5, k), rng.uniform(2, 6, k)
    means[dead] = sds[dead] = math.nan
    arms = {
        f"ad{g}": NormalPosterior(float(m), float(s))
        for g, (m, s) in enumerate(zip(means, sds, strict=True))
    }
    got = prob_best(arms, seed=seed, draws=draws, direction="decrease", block=draws * 7)
    theta = -np.random.default_rng(seed).normal(means[:, None], sds[:, None], (k, draws))
    want_p = np.bincount(np.nan_to_num(theta, nan=-np.inf).argmax(axis=0), minlength=k) / draws
    assert list(got.prob_best.values()) == want_p.tolist()
    assert got.prob_best[f"ad{dead}"] == 0.0 and math.isnan(got.expected_loss[f"ad{dead}"])
    assert sum(got.prob_best.values()) == pytest.approx(1.0, abs=1e-12)
