"""Sample size, minimum detectable effect (MDE) and power of a treatment-vs-control test.

Pure functions, no I/O. :func:`sample_size` gives the units each arm needs (and the days and
weeks that takes at a given daily traffic); :func:`mde` is its inverse in the effect (the
smallest effect a given number of units detects); :func:`power_at` is its inverse in the
power (the chance a given number of units detects a given effect; used for power curves).

Notation. Arm ``g`` gets the planned share ``w_g`` of ``N`` units in total, ``n_g = N·w_g``
(control first; equal shares by default). ``p1`` is the control value (the ``baseline``),
``p2 = p1 + δ`` the treatment value. The effect ``δ`` comes from ``mde``: ``δ = mde·p1`` when
``mde_type`` is ``relative`` (the default), ``δ = mde`` when ``absolute``. A negative ``mde``
is a decrease; the formulas use ``|δ|``. ``z_q`` is the standard normal ``q``-quantile,
``z_a = z_{1−α/2}`` two-sided and ``z_{1−α}`` one-sided, and ``z_b = z_{power}``.
``σ² = p(1−p)`` for a proportion at rate ``p``; for a mean metric ``σ = sd`` in both arms.

Conventions, chosen by ``convention`` (default in bold):

- **unpooled** (matches the Welch / z analysis liftlab runs, see
  :mod:`liftlab.stats.frequentist`): the normal approximation with each arm's own variance,
  ``N = (z_a + z_b)² · (σ²_c/w_c + σ²_t/w_t) / δ²``, so that with equal shares
  ``n = (z_a + z_b)² · (σ²_c + σ²_t) / δ²`` per arm (e.g. Chow, Shao & Wang, 2008, *Sample
  Size Calculations in Clinical Research*, §4.2; Kohavi, Tang & Xu, 2020, *Trustworthy Online
  Controlled Experiments*, ch. 17). Proportions and means.
- ``pooled``: the classic two-proportion formula (Fleiss, Levin & Paik, 2003, *Statistical
  Methods for Rates and Proportions*, §4.2; R's ``power.prop.test``): the null variance uses
  the pooled rate, the alternative variance each arm's own,
  ``n = [z_a·sqrt(2·p̄·q̄) + z_b·sqrt(p1·q1 + p2·q2)]² / δ²`` per arm with equal shares,
  ``p̄ = (p1 + p2)/2``, ``q = 1 − p``. Unequal shares (Fleiss et al. §4.4): with
  ``p̄ = (w_c·p1 + w_t·p2)/(w_c + w_t)`` (the rate pooled over the two arms compared),
  ``V0 = p̄q̄·(1/w_c + 1/w_t)`` and ``V1 = p1q1/w_c + p2q2/w_t``,
  ``N = [z_a·sqrt(V0) + z_b·sqrt(V1)]² / δ²``. Proportions only.
- ``arcsine`` (Cohen, 1988, *Statistical Power Analysis for the Behavioral Sciences*, ch. 6):
  Cohen's ``h = 2·asin(sqrt(p2)) − 2·asin(sqrt(p1))``, the difference on the
  variance-stabilised scale where each arm's variance is ``1/n_g``:
  ``N = (z_a + z_b)² · (1/w_c + 1/w_t) / h²``; ``n = 2·(z_a + z_b)² / h²`` per arm with equal
  shares (statsmodels ``NormalIndPower`` with ``proportion_effectsize``). Proportions only.

Several treatments: every treatment is compared with control, each at the same effect. The
family has ``comparisons`` members (default ``arms − 1``; :func:`liftlab.design.design_plan`
passes primary metrics × treatments). With a ``correction`` other than ``none`` each
comparison is sized at the Bonferroni level ``α/comparisons``. That is exact for Bonferroni
and conservative for Holm and Hochberg (their first step is Bonferroni's and later steps are
easier); BH and BY control a different error rate (FDR) and are sized the same way,
conservatively. ``N`` is the largest any comparison needs (the smallest treatment share
binds) and :func:`power_at` reports the smallest per-comparison power: the chance that one
given comparison detects the effect, not that all of them do.

Rounding: the units of each arm ``N·w_g`` are rounded up (``math.ceil`` after subtracting
``1e-9``, so an exact integer stays as it is); ``total`` is the sum of the rounded arms;
``days = ceil(total / daily_units)`` and ``weeks = ceil(days / 7)`` (whole weeks, so that
every weekday is seen equally often).

Power: the normal approximation. A two-sided test also rejects when the estimate lands far
on the wrong side; that tail (at most ``Φ(−2·z_a)``, about 1e-6 at α = 0.05 and 80% power)
is left out, as in the closed forms above, so ``power_at`` is the exact inverse of
``sample_size``. (statsmodels ``NormalIndPower`` includes it: its two-sided ``n`` is smaller by
a few parts in a million.)

``n_per_variant`` in :func:`mde` and :func:`power_at` is the control arm's units (every arm's
under equal shares), so ``N = n_per_variant / w_c``; or give ``total`` (``N``) instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy import optimize
from scipy import stats as sps

from liftlab.stats.multiple import CORRECTIONS

MetricType = Literal["proportion", "mean"]
MdeType = Literal["relative", "absolute"]
Alternative = Literal["two-sided", "one-sided"]
Convention = Literal["unpooled", "pooled", "arcsine"]

CONVENTIONS = ("unpooled", "pooled", "arcsine")
ROUNDING_TOLERANCE = 1e-9
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Units per arm (and in total) for a test to detect ``mde`` with probability ``power``.

    ``per_variant`` maps each arm (control first) to its units, rounded up;
    ``per_variant_exact`` holds the unrounded values. ``n_control`` is the control arm's
    units and ``n_treatment`` the largest treatment arm's (all arms are equal under equal
    shares). ``days``/``weeks`` are ``None`` without ``daily_units``.
    """

    per_variant: dict[str, int]
    per_variant_exact: dict[str, float]
    n_control: int
    n_treatment: int
    total: int
    total_exact: float
    days: int | None
    weeks: int | None
    daily_units: float | None
    metric_type: MetricType
    convention: Convention
    baseline: float
    treatment: float
    abs_mde: float
    rel_mde: float | None
    mde_type: MdeType
    sd: float | None
    alpha: float
    alpha_per_comparison: float
    power: float
    alternative: Alternative
    correction: str
    comparisons: int
    weights: dict[str, float]

    @property
    def n_per_variant(self) -> int:
        """The control arm's units (every arm's under equal shares)."""
        return self.n_control

    def power_at(self, n_per_variant: float) -> float:
        """Power of this design's test with ``n_per_variant`` units in the control arm."""
        return power_at(
            metric_type=self.metric_type,
            baseline=self.baseline,
            mde=self.abs_mde,
            mde_type="absolute",
            n_per_variant=n_per_variant,
            sd=self.sd,
            alpha=self.alpha,
            alternative=self.alternative,
            arms=len(self.weights),
            weights=list(self.weights.values()),
            convention=self.convention,
            correction=self.correction,
            comparisons=self.comparisons,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (``None`` where undefined)."""
        return asdict(self)


def sample_size(
    *,
    metric_type: MetricType,
    baseline: float,
    mde: float,
    mde_type: MdeType = "relative",
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
    daily_units: float | None = None,
    variants: Sequence[str] | None = None,
) -> SampleSize:
    """Units each arm needs to detect ``mde`` with probability ``power`` (see module doc).

    ``variants`` names the arms (control first) in ``per_variant``; default ``control``,
    ``treatment`` (``treatment_1``, ``treatment_2``, ... with more than two arms).
    """
    w = _weights(arms, weights)
    names = _names(arms, variants)
    alpha_c, n_comp = _alpha_per_comparison(alpha, arms, correction, comparisons)
    _check_power(power)
    p1, p2, delta = _effect(metric_type, baseline, mde, mde_type, sd, convention)
    z_a, z_b = _z_alpha(alpha_c, alternative), _z(power)
    if z_a + z_b <= 0:
        raise ValueError(f"power {power} must exceed the test's size α ({alpha_c:.4g})")
    big_n = max(
        _required_total(metric_type, convention, p1, p2, sd, w[0], wt, z_a, z_b) for wt in w[1:]
    )
    exact = {name: big_n * wg for name, wg in zip(names, w, strict=True)}
    rounded = {name: _ceil(x) for name, x in exact.items()}
    total = sum(rounded.values())
    days = weeks = None
    if daily_units is not None:
        if not (math.isfinite(daily_units) and daily_units > 0):
            raise ValueError(f"daily_units {daily_units} must be a positive number of units a day")
        days = _ceil(total / daily_units)
        weeks = math.ceil(days / 7)
    return SampleSize(
        per_variant=rounded,
        per_variant_exact=exact,
        n_control=rounded[names[0]],
        n_treatment=max(rounded[n] for n in names[1:]),
        total=total,
        total_exact=big_n,
        days=days,
        weeks=weeks,
        daily_units=daily_units,
        metric_type=metric_type,
        convention=convention,
        baseline=p1,
        treatment=p2,
        abs_mde=delta,
        rel_mde=delta / p1 if p1 != 0 else None,
        mde_type=mde_type,
        sd=None if sd is None else float(sd),
        alpha=alpha,
        alpha_per_comparison=alpha_c,
        power=power,
        alternative=alternative,
        correction=correction,
        comparisons=n_comp,
        weights=dict(zip(names, w, strict=True)),
    )


def power_at(
    *,
    metric_type: MetricType,
    baseline: float,
    mde: float,
    n_per_variant: float | None = None,
    total: float | None = None,
    mde_type: MdeType = "relative",
    sd: float | None = None,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
) -> float:
    """Chance that a comparison detects ``mde`` with the given units (normal approximation).

    Give ``n_per_variant`` (the control arm's units) or ``total``. The wrong-side tail of a
    two-sided test is left out, so this is the exact inverse of :func:`sample_size`. With
    several treatments, the smallest per-comparison power.
    """
    w = _weights(arms, weights)
    alpha_c, _ = _alpha_per_comparison(alpha, arms, correction, comparisons)
    big_n = _total_units(n_per_variant, total, w)
    p1, p2, _ = _effect(metric_type, baseline, mde, mde_type, sd, convention)
    z_a = _z_alpha(alpha_c, alternative)
    return min(_power(metric_type, convention, p1, p2, sd, w[0], wt, z_a, big_n) for wt in w[1:])


def mde(
    *,
    metric_type: MetricType,
    baseline: float,
    n_per_variant: float | None = None,
    total: float | None = None,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
    mde_type: MdeType = "relative",
) -> float:
    """The smallest increase detectable with probability ``power`` with the given units.

    Give ``n_per_variant`` (the control arm's units) or ``total``. Returned as a relative
    (``δ/baseline``) or absolute (``δ``) effect, as ``mde_type`` says. Closed form for mean
    metrics and the arcsine convention; otherwise the root of ``sample_size(δ) = N`` by
    ``scipy.optimize.brentq`` over increases that keep the treatment rate at most 1.
    """
    w = _weights(arms, weights)
    alpha_c, _ = _alpha_per_comparison(alpha, arms, correction, comparisons)
    _check_power(power)
    big_n = _total_units(n_per_variant, total, w)
    _check_baseline(metric_type, baseline, mde_type, sd, convention)
    z_a, z_b = _z_alpha(alpha_c, alternative), _z(power)
    if z_a + z_b <= 0:
        raise ValueError(f"power {power} must exceed the test's size α ({alpha_c:.4g})")
    k = max(1 / w[0] + 1 / wt for wt in w[1:])
    p1 = baseline
    if metric_type == "mean":
        assert sd is not None
        delta = (z_a + z_b) * sd * math.sqrt(k / big_n)
    elif convention == "arcsine":
        h = (z_a + z_b) * math.sqrt(k / big_n)
        angle = math.asin(math.sqrt(p1)) + h / 2
        if angle >= math.pi / 2:
            raise ValueError(
                f"{big_n:.6g} units cannot detect any increase from {p1:g}: "
                "even a rate of 100% is not detectable; add units"
            )
        delta = math.sin(angle) ** 2 - p1
    else:

        def excess(d: float) -> float:
            need = max(
                _required_total(metric_type, convention, p1, p1 + d, None, w[0], wt, z_a, z_b)
                for wt in w[1:]
            )
            return math.log(need) - math.log(big_n)

        hi = 1 - p1
        if excess(hi) > 0:
            raise ValueError(
                f"{big_n:.6g} units cannot detect any increase from {p1:g}: "
                "even a rate of 100% is not detectable; add units"
            )
        lo = hi * 1e-9
        if excess(lo) <= 0:
            delta = lo
        else:
            delta = float(optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=1e-13))
    return delta / p1 if mde_type == "relative" else delta


# ----- the formulas ------------------------------------------------------------------------
def _required_total(
    metric_type: str,
    convention: str,
    p1: float,
    p2: float,
    sd: float | None,
    w_c: float,
    w_t: float,
    z_a: float,
    z_b: float,
) -> float:
    """``N`` for one treatment-vs-control comparison (see the module doc for each formula)."""
    delta = abs(p2 - p1)
    if metric_type == "mean":
        assert sd is not None
        return (z_a + z_b) ** 2 * sd**2 * (1 / w_c + 1 / w_t) / delta**2
    if convention == "arcsine":
        h = _cohens_h(p1, p2)
        return (z_a + z_b) ** 2 * (1 / w_c + 1 / w_t) / h**2
    v1 = p1 * (1 - p1) / w_c + p2 * (1 - p2) / w_t
    if convention == "pooled":
        v0 = _pooled_null_variance(p1, p2, w_c, w_t)
        root = z_a * math.sqrt(v0) + z_b * math.sqrt(v1)
        if root <= 0:
            raise ValueError("power is too low for the pooled formula; raise power")
        return root**2 / delta**2
    return (z_a + z_b) ** 2 * v1 / delta**2


def _power(
    metric_type: str,
    convention: str,
    p1: float,
    p2: float,
    sd: float | None,
    w_c: float,
    w_t: float,
    z_a: float,
    big_n: float,
) -> float:
    """Power of one comparison with ``N`` units in total (main tail only)."""
    delta = abs(p2 - p1)
    if metric_type == "mean":
        assert sd is not None
        x = delta * math.sqrt(big_n) / (sd * math.sqrt(1 / w_c + 1 / w_t)) - z_a
    elif convention == "arcsine":
        x = abs(_cohens_h(p1, p2)) * math.sqrt(big_n / (1 / w_c + 1 / w_t)) - z_a
    else:
        v1 = p1 * (1 - p1) / w_c + p2 * (1 - p2) / w_t
        if convention == "pooled":
            v0 = _pooled_null_variance(p1, p2, w_c, w_t)
            x = (delta * math.sqrt(big_n) - z_a * math.sqrt(v0)) / math.sqrt(v1)
        else:
            x = delta * math.sqrt(big_n / v1) - z_a
    return float(sps.norm.cdf(x))


def _cohens_h(p1: float, p2: float) -> float:
    """Cohen's ``h = 2·asin(sqrt(p2)) − 2·asin(sqrt(p1))``."""
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def _pooled_null_variance(p1: float, p2: float, w_c: float, w_t: float) -> float:
    """``p̄q̄·(1/w_c + 1/w_t)`` with ``p̄`` pooled over the two arms compared."""
    p_bar = (w_c * p1 + w_t * p2) / (w_c + w_t)
    return p_bar * (1 - p_bar) * (1 / w_c + 1 / w_t)


# ----- inputs ------------------------------------------------------------------------------
def _z(q: float) -> float:
    return float(sps.norm.ppf(q))


def _z_alpha(alpha: float, alternative: str) -> float:
    if alternative == "two-sided":
        return _z(1 - alpha / 2)
    if alternative == "one-sided":
        return _z(1 - alpha)
    raise ValueError(f"alternative '{alternative}' is not known; use two-sided or one-sided")


def _ceil(x: float) -> int:
    return math.ceil(x - ROUNDING_TOLERANCE)


def _check_power(power: float) -> None:
    if not 0 < power < 1:
        raise ValueError(f"power {power} must lie between 0 and 1 (0.8 is usual)")


def _weights(arms: int, weights: Sequence[float] | None) -> list[float]:
    if isinstance(arms, bool) or not isinstance(arms, int) or arms < 2:
        raise ValueError(f"arms {arms!r} must be a whole number of at least 2 (control + one)")
    if weights is None:
        return [1 / arms] * arms
    w = [float(x) for x in weights]
    if len(w) != arms:
        raise ValueError(
            f"{len(w)} weights for {arms} arms; give one weight per arm, control first"
        )
    if not all(math.isfinite(x) and x > 0 for x in w):
        raise ValueError(f"weights {w} must all be positive traffic shares")
    s = sum(w)
    if abs(s - 1) > WEIGHT_TOLERANCE:
        raise ValueError(f"weights sum to {s:.6g}, they must sum to 1")
    return [x / s for x in w]


def _names(arms: int, variants: Sequence[str] | None) -> list[str]:
    if variants is None:
        if arms == 2:
            return ["control", "treatment"]
        return ["control", *(f"treatment_{i}" for i in range(1, arms))]
    names = [str(v) for v in variants]
    if len(names) != arms or len(set(names)) != arms:
        raise ValueError(f"variants {names} must name each of the {arms} arms once, control first")
    return names


def _alpha_per_comparison(
    alpha: float, arms: int, correction: str, comparisons: int | None
) -> tuple[float, int]:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must lie between 0 and 1 (0.05 is usual)")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction '{correction}'; use one of {', '.join(CORRECTIONS)}")
    m = arms - 1 if comparisons is None else comparisons
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"comparisons {comparisons!r} must be a whole number of at least 1")
    return (alpha if correction == "none" else alpha / m), m


def _total_units(n_per_variant: float | None, total: float | None, w: Sequence[float]) -> float:
    if (n_per_variant is None) == (total is None):
        raise ValueError("give exactly one of n_per_variant (control arm's units) or total")
    big_n = n_per_variant / w[0] if n_per_variant is not None else total
    assert big_n is not None
    if not (math.isfinite(big_n) and big_n > 0):
        raise ValueError(f"the number of units ({n_per_variant or total}) must be positive")
    return float(big_n)


def _check_baseline(
    metric_type: str, baseline: float, mde_type: str, sd: float | None, convention: str
) -> None:
    if metric_type not in ("proportion", "mean"):
        raise ValueError(
            f"metric_type '{metric_type}' is not supported; use proportion or mean "
            "(size a ratio metric as a mean of per-unit values)"
        )
    if convention not in CONVENTIONS:
        raise ValueError(f"convention '{convention}' is not known; use {', '.join(CONVENTIONS)}")
    if mde_type not in ("relative", "absolute"):
        raise ValueError(f"mde_type '{mde_type}' is not known; use relative or absolute")
    if not math.isfinite(baseline):
        raise ValueError(f"baseline {baseline} must be a finite number")
    if metric_type == "proportion":
        if not 0 < baseline < 1:
            raise ValueError(f"baseline {baseline} is a rate and must lie between 0 and 1")
        if sd is not None:
            raise ValueError(
                "sd applies to mean metrics; a proportion's spread follows from its baseline"
            )
        return
    if convention != "unpooled":
        raise ValueError(
            f"the {convention} convention is for proportions; use unpooled for a mean metric"
        )
    if sd is None:
        raise ValueError(
            "a mean metric needs sd: the standard deviation of the metric per unit in control"
        )
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(f"sd {sd} must be a positive number")
    if mde_type == "relative" and baseline == 0:
        raise ValueError("a relative mde needs a non-zero baseline; use mde_type='absolute'")


def _effect(
    metric_type: str,
    baseline: float,
    mde: float,
    mde_type: str,
    sd: float | None,
    convention: str,
) -> tuple[float, float, float]:
    """``(p1, p2, δ)`` after checking the inputs."""
    _check_baseline(metric_type, baseline, mde_type, sd, convention)
    if not (math.isfinite(mde) and mde != 0):
        raise ValueError(f"mde {mde} must be a non-zero effect (negative for a decrease)")
    delta = mde * baseline if mde_type == "relative" else mde
    p2 = baseline + delta
    if metric_type == "proportion" and not 0 < p2 < 1:
        raise ValueError(
            f"baseline {baseline:g} with mde {mde:g} ({mde_type}) gives a treatment rate of "
            f"{p2:g}, outside (0, 1); use a smaller mde"
        )
    return float(baseline), float(p2), float(delta)
