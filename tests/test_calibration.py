"""Calibration of the frequentist engine: A/A false-positive rates and CI coverage.

Vectorised from sufficient statistics: each simulated experiment is reduced to its per-arm
``Moments`` (numpy sums over axis 1), then analysed by the same functions as real data. With
2,000 experiments per metric type the false-positive rate at α = 0.05 must lie inside the 99%
binomial interval around 0.05 (Clopper–Pearson, scipy), and 95% intervals must cover the
true effect (zero) at the nominal rate. Rates are printed (``pytest -s``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from liftlab.stats.frequentist import cuped_test, ratio_test, welch_test
from liftlab.stats.moments import Moments

SIMS = 2_000
ALPHA = 0.05


def band(p: float, n: int, level: float = 0.99) -> tuple[float, float]:
    """Where the observed rate of n Bernoulli(p) trials falls with probability ``level``."""
    lo, hi = sps.binom.interval(level, n, p)
    return lo / n, hi / n


def moments_rows(y: np.ndarray, x: np.ndarray | None = None) -> list[Moments]:
    """Per-row Moments of a (sims × units) array (and its partner x)."""
    sy, syy = y.sum(axis=1), (y * y).sum(axis=1)
    if x is None:
        return [Moments(y.shape[1], float(a), float(b)) for a, b in zip(sy, syy, strict=True)]
    sx, sxx, sxy = x.sum(axis=1), (x * x).sum(axis=1), (x * y).sum(axis=1)
    return [
        Moments(y.shape[1], *map(float, vals)) for vals in zip(sy, syy, sx, sxx, sxy, strict=True)
    ]


def simulate(kind: str, rng: np.random.Generator, n: int = 400) -> tuple[list, list]:
    def arm() -> list[Moments]:
        if kind == "proportion":
            return moments_rows((rng.random((SIMS, n)) < 0.1).astype(float))
        if kind == "mean":  # skewed revenue-like values
            return moments_rows(rng.lognormal(1.0, 1.0, (SIMS, n)))
        if kind == "ratio":
            imp = 1.0 + rng.poisson(4, (SIMS, n))
            clicks = rng.binomial(imp.astype(int), 0.05).astype(float)
            return moments_rows(clicks, imp)
        pre = rng.gamma(2.0, 5.0, (SIMS, n))  # cuped
        return moments_rows(2.0 + 0.7 * pre + rng.normal(0, 4, (SIMS, n)), pre)

    return arm(), arm()


TESTS = {"proportion": welch_test, "mean": welch_test, "ratio": ratio_test, "cuped": cuped_test}


@pytest.mark.parametrize("kind", list(TESTS))
def test_aa_false_positive_rate_and_coverage(kind):
    rng = np.random.default_rng(["proportion", "mean", "ratio", "cuped"].index(kind))
    control, treatment = simulate(kind, rng)
    effects = [TESTS[kind](c, t, alpha=ALPHA) for c, t in zip(control, treatment, strict=True)]
    fpr = np.mean([e.p_value < ALPHA for e in effects])
    coverage = np.mean([e.abs_ci[0] <= 0 <= e.abs_ci[1] for e in effects])
    rel_coverage = np.mean([e.rel_ci[0] <= 0 <= e.rel_ci[1] for e in effects])
    lo, hi = band(ALPHA, SIMS)
    print(
        f"\nA/A {kind:>10}: false-positive rate {fpr:.4f} (99% band {lo:.4f}–{hi:.4f}), "
        f"95% CI coverage {coverage:.4f}, relative (log-delta) {rel_coverage:.4f}"
    )
    assert lo <= fpr <= hi
    assert 1 - hi <= coverage <= 1 - lo
    assert 1 - hi <= rel_coverage <= 1 - lo


def test_power_against_a_true_effect():
    """With a real +20% lift on a 10% rate and 4,000 units per arm, Welch rejects ~ 80%."""
    rng = np.random.default_rng(99)
    n = 4_000
    c = moments_rows((rng.random((SIMS, n)) < 0.10).astype(float))
    t = moments_rows((rng.random((SIMS, n)) < 0.12).astype(float))
    rejected = np.mean([welch_test(a, b).p_value < ALPHA for a, b in zip(c, t, strict=True)])
    # normal-approximation power of the two-sided test at this n (closed form)
    se = np.sqrt((0.1 * 0.9 + 0.12 * 0.88) / n)
    power = sps.norm.sf(sps.norm.ppf(1 - ALPHA / 2) - 0.02 / se)
    lo, hi = band(power, SIMS)
    print(f"\npower at +20%: simulated {rejected:.4f}, normal approximation {power:.4f}")
    assert lo <= rejected <= hi
