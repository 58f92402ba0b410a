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
``σ² = p(1−p)`` for a proportion at rate ``p``; for a mean metric ``σ_c = sd`` in control and
``σ_t = sd_treatment`` in each treatment (``sd`` by default: the same spread in every arm).

Conventions, chosen by ``convention`` (default in bold):

- **unpooled** (matches the Welch / z analysis liftlab runs, see
  :mod:`liftlab.stats.frequentist`): the normal approximation with each arm's own variance,
  ``N = (z_a + z_b)² · (σ²_c/w_c + σ²_t/w_t) / δ²``, so that with equal shares
  ``n = (z_a + z_b)² · (σ²_c + σ²_t) / δ²`` per arm (e.g. Chow, Shao & Wang, 2008, *Sample
  Size Calculations in Clinical Research*, §4.2; Kohavi, Tang & Xu, 2020, *Trustworthy Online
  Controlled Experiments*, ch. 17). Proportions, means and ratios.
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

Metric types (``metric_type``):

- ``proportion``: ``σ² = p(1−p)`` in each arm, from the baseline.
- ``mean``: ``σ = sd``, the unit-level standard deviation, in both arms.
- ``ratio`` (``Σy/Σx`` per arm with the unit as the randomization unit, e.g. clicks per
  impression): the delta method linearises the ratio, ``R̂ − R ≈ (ȳ − R·x̄)/x̄``, so that
  ``Var(R̂) = σ²_lin/n`` with the *linearised per-unit sd*
  ``σ_lin = sqrt(s²_y − 2R·s_xy + R²·s²_x)/x̄ = sqrt(n·Var(R̂))`` (Deng, Knoblich & Lu, 2018,
  "Applying the Delta Method in Metric Analytics", KDD). A ratio is then sized with the mean
  formula at ``baseline = R`` and ``sd = σ_lin``. Give ``sd`` (``σ_lin``) or historical
  :class:`~liftlab.stats.moments.Moments` of the control arm (``y`` numerator, ``x``
  denominator) as ``moments``: ``sd = ratio_sd_from_moments(moments)``, i.e.
  ``sqrt(n·ratio_variance(m))`` (:func:`liftlab.stats.frequentist.ratio_variance`). Unpooled
  convention and z test only (the analysis is the delta-method z-test). A ratio's spread
  usually grows with its level (a CTR's ``σ²_lin ≈ R(1−R)/x̄`` when clicks are binomial in
  impressions); give the treatment's as ``sd_treatment``, or the design is slightly
  under-powered (CTR 3% → 3.3% with 5 impressions per unit: 0.78 instead of 0.80).

CUPED (``cuped_rho``, proportions and means, unpooled convention only). Regressing the
metric on its pre-period covariate with the optimal slope ``θ = Cov(Y, X)/Var(X)`` leaves the
variance ``Var(Y − θX) = Var(Y)·(1 − ρ²)``, ``ρ = Corr(Y, X)`` (Deng, Xu, Kohavi & Walker,
2013, "Improving the Sensitivity of Online Controlled Experiments by Utilizing
Pre-Experiment Data", WSDM, §3.3). Every unit variance above is multiplied by the *variance
reduction factor* ``1 − ρ²``, so ``N`` is too (``variance_factor`` in the result). Estimate
``ρ`` from historical data with :func:`cuped_rho_from_moments`. (θ estimated from the data
costs about one degree of freedom, ignored here.)

Non-inferiority and superiority by a margin (``margin``, ``margin_type``; unpooled
convention only). ``H0: Δ ≤ m`` against ``H1: Δ > m``, tested one-sided at ``α``, where
``Δ = p2 − p1`` is the true effect and ``m`` the margin, in the metric's units
(``margin_type="absolute"``, the default) or as a share of the baseline (``"relative"``:
``m = margin·p1``). A negative margin is "no worse than": ``margin=-0.02`` with
``margin_type="relative"`` is the guardrail convention "not more than 2% worse". The true
effect under the alternative is ``mde`` (``δ``), by default ``0`` ("prove it is not worse by
more than the margin when it is really equal"). Then

``N = (z_{1−α} + z_{power})² · (σ²_c/w_c + σ²_t/w_t) / (δ − m)²``

(Chow, Shao & Wang, 2008, §4.2, non-inferiority/superiority of two means and, with
``σ² = p(1−p)`` in each arm, §4.2's large-sample test of two proportions; Julious, 2004,
"Sample sizes for clinical trials with Normal data", *Statistics in Medicine* 23, §5),
with ``σ²_t`` at the treatment value ``p1 + δ``. For a metric whose good direction is down
(margin positive, ``H1: Δ < m``) the same formula holds with ``|δ − m|``. With ``margin = 0``
this is the one-sided superiority test above. A margin implies ``alternative="one-sided"``.

t test (``test="t"``, mean metrics). The default ``"z"`` is the normal approximation above.
``"t"`` is the power of Welch's test, the analysis liftlab runs on mean metrics: the
statistic ``T = (Δ̂ − m)/se`` follows a noncentral t with ``ν`` Welch–Satterthwaite degrees of
freedom, ``ν = (a + b)²/(a²/(n_c−1) + b²/(n_t−1))``, ``a = σ²_c/n_c``, ``b = σ²_t/n_t``, and
noncentrality ``λ = |δ − m|/sqrt(a + b)``; power ``= P(T_ν(λ) > t_{ν,1−α'})`` with
``scipy.stats.nct`` (``α' = α/2`` two-sided, ``α`` one-sided; the wrong-side tail left out as
below). ``sample_size`` solves it for ``N`` by ``scipy.optimize.brentq`` on ``log N``, never
below 2 units in the smallest arm; ``mde`` solves for ``λ``. Where ``nct`` returns NaN or the
root finder fails (far tails: effects so small that ``N`` reaches 1e12 and more, or so large
that 2 units suffice, or α near 1e-8) liftlab falls back to the normal approximation, and the
result says so: ``approximation="normal-fallback"`` (``"noncentral-t"`` otherwise, and
``"normal"`` for the z test).

Sequential designs (``sequential={"kind": "obrien-fleming" | "pocock", "looks": K}``, or
``"information_fractions": [t_1, ..., 1]`` instead of equally spaced ``looks``). A
group-sequential test that may stop at ``K`` planned looks needs more units at the last look
than the fixed design at the same α and power: ``N_max = N_fixed · IF`` with the inflation
factor ``IF = sample_size_inflation(information_fractions, alpha, power, kind, sides)`` of
:mod:`liftlab.stats.sequential` (Lan–DeMets spending boundaries at the per-comparison α,
``sides = 2`` two-sided and ``1`` one-sided; ``IF`` is the squared ratio of the drift at which
the design crosses its upper boundary with probability ``power`` to ``z_a + z_b``; Jennison &
Turnbull, 2000, *Group Sequential Methods with Applications to Clinical Trials*, §2.7, Tables
2.3 and 2.4: about 1.02 for five O'Brien–Fleming looks, 1.2 for Pocock's). The same factor
multiplies the t-test and pooled designs, a normal-theory approximation for them.
:func:`power_at` gives the chance of crossing the upper boundary at some look for the drift of
the fixed design with the same units, so it inverts :func:`sample_size`.

Always-valid and Bayesian designs are sized by :mod:`liftlab.stats.method_power`, in the same
terms (per-unit variances, absolute effect, per-comparison α, shares):
:func:`~liftlab.stats.method_power.msprt_size` gives the units by which the mSPRT (or the
asymptotic confidence sequence) has rejected with probability ``power``, in closed form for a
single final look and by a seeded simulation for a schedule of looks (daily looks: one per
planned day), with its ratio to this module's fixed-horizon size;
:func:`~liftlab.stats.method_power.bayesian_size` the units at which the chance to beat
control reaches ``ship_threshold`` (or the expected loss falls below a threshold) with
probability ``power``; :func:`~liftlab.stats.method_power.group_sequential_size` adds to the
inflation factor above the expected size under the MDE and under no effect, and the chance of
stopping at each look.

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
every weekday is seen equally often); ``duration_days_rounded_to_weeks = 7·weeks``.

Power: the normal approximation. A two-sided test also rejects when the estimate lands far
on the wrong side; that tail (at most ``Φ(−2·z_a)``, about 1e-6 at α = 0.05 and 80% power)
is left out, as in the closed forms above, so ``power_at`` is the exact inverse of
``sample_size``. (statsmodels ``NormalIndPower`` includes it: its two-sided ``n`` is smaller by
a few parts in a million.)

``n_per_variant`` in :func:`mde` and :func:`power_at` is the control arm's units (every arm's
under equal shares), so ``N = n_per_variant / w_c``; or give ``total`` (``N``) instead.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy import optimize, special

from liftlab.stats.frequentist import ratio_variance
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import CORRECTIONS
from liftlab.stats.types import MetricType

MdeType = Literal["relative", "absolute"]
Alternative = Literal["two-sided", "one-sided"]
Convention = Literal["unpooled", "pooled", "arcsine"]
TestKind = Literal["z", "t"]
Approximation = Literal["normal", "noncentral-t", "normal-fallback"]
SequentialKind = Literal["obrien-fleming", "pocock"]

CONVENTIONS = ("unpooled", "pooled", "arcsine")
METRIC_TYPES = ("proportion", "mean", "ratio")
SEQUENTIAL_KINDS = ("obrien-fleming", "pocock")
ROUNDING_TOLERANCE = 1e-9
WEIGHT_TOLERANCE = 1e-6
T_MIN_UNITS = 2.0  # the t-test needs a variance in every arm
_SOLVER_DOUBLINGS = 200
_MAX_DRIFT = 40.0  # z drift beyond which a design's power is 0 or 1 to double precision


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Units per arm (and in total) for a test to detect ``mde`` with probability ``power``.

    ``per_variant`` maps each arm (control first) to its units, rounded up;
    ``per_variant_exact`` holds the unrounded values. ``n_control`` is the control arm's
    units and ``n_treatment`` the largest treatment arm's (all arms are equal under equal
    shares). ``days``/``weeks``/``duration_days_rounded_to_weeks`` are ``None`` without
    ``daily_units``.

    ``abs_mde`` is the true effect ``δ`` the design is powered for (``0`` in the classic
    non-inferiority design), ``margin`` the non-inferiority margin in the metric's units
    (``rel_margin`` as a share of the baseline). ``sd`` is the unit-level sd of a mean metric
    or the linearised sd of a ratio; ``variance_factor`` is CUPED's ``1 − ρ²`` (``1`` without
    CUPED). ``total_exact_fixed`` is the fixed-design ``N`` and ``inflation`` the
    group-sequential factor that turns it into ``total_exact``. ``approximation`` says which
    power formula gave the answer: ``normal``, ``noncentral-t`` or ``normal-fallback``.
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
    sd_treatment: float | None = None
    margin: float = 0.0
    rel_margin: float | None = None
    cuped_rho: float | None = None
    variance_factor: float = 1.0
    test: TestKind = "z"
    approximation: Approximation = "normal"
    sequential: dict[str, Any] | None = None
    inflation: float = 1.0
    total_exact_fixed: float | None = None
    duration_days_rounded_to_weeks: int | None = None

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
            sd_treatment=self.sd_treatment,
            alpha=self.alpha,
            alternative=self.alternative,
            arms=len(self.weights),
            weights=list(self.weights.values()),
            convention=self.convention,
            correction=self.correction,
            comparisons=self.comparisons,
            cuped_rho=self.cuped_rho,
            margin=self.margin,
            margin_type="absolute",
            test=self.test,
            sequential=self.sequential,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (``None`` where undefined)."""
        return asdict(self)


# ----- helpers for historical data -----------------------------------------------------------
def ratio_sd_from_moments(m: Moments) -> float:
    """Linearised per-unit sd of a ratio ``Σy/Σx`` from historical moments: ``sqrt(n·Var(R))``.

    ``Var(R)`` is the delta-method variance :func:`liftlab.stats.frequentist.ratio_variance`
    (``y`` the numerator, ``x`` the denominator), so the result is
    ``sqrt(s²_y − 2R·s_xy + R²·s²_x)/x̄`` (Deng, Knoblich & Lu, 2018). Raises ``ValueError``
    when it is undefined (fewer than two units, a zero denominator) or zero.
    """
    if m.n < 2:
        raise ValueError(f"historical moments have {m.n} units; a ratio's sd needs at least 2")
    if m.sum_x == 0:
        raise ValueError("historical moments have a zero denominator sum; the ratio is undefined")
    sd = math.sqrt(max(m.n * ratio_variance(m), 0.0))
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(
            "historical moments give the ratio no variance; check the numerator and denominator"
        )
    return sd


def cuped_rho_from_moments(m: Moments) -> float:
    """Correlation of the metric ``y`` with its pre-period covariate ``x``: ``ρ = s_xy/(s_x·s_y)``.

    From historical moments (``y`` the metric, ``x`` the covariate), for ``cuped_rho``. Raises
    ``ValueError`` when it is undefined (fewer than two units, no variance).
    """
    if m.n < 2:
        raise ValueError(f"historical moments have {m.n} units; a correlation needs at least 2")
    vx, vy = m.var_x, m.var_y
    if not (vx > 0 and vy > 0):
        raise ValueError("historical moments have no variance in the metric or its covariate")
    return max(-1.0, min(1.0, m.cov_xy / math.sqrt(vx * vy)))


# ----- the public functions --------------------------------------------------------------------
def sample_size(
    *,
    metric_type: MetricType,
    baseline: float,
    mde: float = 0.0,
    mde_type: MdeType = "relative",
    sd: float | None = None,
    sd_treatment: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative | None = None,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
    daily_units: float | None = None,
    variants: Sequence[str] | None = None,
    moments: Moments | None = None,
    cuped_rho: float | None = None,
    margin: float = 0.0,
    margin_type: MdeType = "absolute",
    test: TestKind = "z",
    sequential: Mapping[str, Any] | None = None,
) -> SampleSize:
    """Units each arm needs to detect ``mde`` with probability ``power`` (see module doc).

    Args:
        metric_type: ``proportion``, ``mean`` or ``ratio``.
        baseline: the control rate, mean or ratio.
        mde: the true effect to detect (relative or absolute, as ``mde_type`` says); may be
            ``0`` only with a non-zero ``margin`` (the classic non-inferiority design).
        sd: unit-level sd (mean), linearised sd ``sqrt(n·Var(R))`` (ratio), in control.
        sd_treatment: the same in each treatment arm, when it differs (default ``sd``).
        alternative: ``two-sided`` (default) or ``one-sided``; a margin makes it one-sided.
        variants: names of the arms (control first) in ``per_variant``; default ``control``,
            ``treatment`` (``treatment_1``, ``treatment_2``, ... with more than two arms).
        moments: historical control moments of a ratio metric (``y`` numerator, ``x``
            denominator), instead of ``sd``.
        cuped_rho: correlation of the metric with its pre-period covariate; the variance is
            multiplied by the CUPED variance reduction factor ``1 − ρ²`` (Deng et al., 2013).
        margin, margin_type: non-inferiority margin, ``H0: Δ ≤ margin`` vs ``H1: Δ > margin``.
        test: ``z`` (normal approximation) or ``t`` (noncentral t, Welch df; mean metrics).
        sequential: ``{"kind": "obrien-fleming" | "pocock", "looks": K}`` (or
            ``"information_fractions"``): the fixed ``N`` times the group-sequential inflation.
    """
    w = _weights(arms, weights)
    names = _names(arms, variants)
    alpha_c, n_comp = _alpha_per_comparison(alpha, arms, correction, comparisons)
    _check_power(power)
    alt = _alternative(alternative, margin)
    d = _design(
        metric_type=metric_type,
        baseline=baseline,
        mde=mde,
        mde_type=mde_type,
        sd=sd,
        sd_treatment=sd_treatment,
        moments=moments,
        convention=convention,
        cuped_rho=cuped_rho,
        margin=margin,
        margin_type=margin_type,
        test=test,
    )
    tail, z_a, z_b = _z_values(alpha_c, alt, power)
    fixed_n, approximation = _fixed_total(d, w, tail, z_a, z_b, power)
    seq = _sequential(sequential)
    inflation = 1.0 if seq is None else _inflation(seq, alpha_c, alt, power)
    return SampleSize(
        **_allocation(fixed_n * inflation, names, w, daily_units),
        metric_type=metric_type,
        convention=convention,
        baseline=d.p1,
        treatment=d.p2,
        abs_mde=d.delta,
        rel_mde=d.delta / d.p1 if d.p1 != 0 else None,
        mde_type=mde_type,
        sd=None if d.sd is None else float(d.sd),
        alpha=alpha,
        alpha_per_comparison=alpha_c,
        power=power,
        alternative=alt,
        correction=correction,
        comparisons=n_comp,
        weights=dict(zip(names, w, strict=True)),
        sd_treatment=None if sd_treatment is None else d.sd_t,
        margin=d.margin,
        rel_margin=d.margin / d.p1 if d.p1 != 0 else None,
        cuped_rho=None if cuped_rho is None else float(cuped_rho),
        variance_factor=d.factor,
        test=test,
        approximation=approximation,
        sequential=None if seq is None else seq.to_dict(),
        inflation=inflation,
        total_exact_fixed=fixed_n,
    )


def _fixed_total(
    d: _Design, w: Sequence[float], tail: float, z_a: float, z_b: float, power: float
) -> tuple[float, Approximation]:
    """The fixed design's ``N``: the largest any treatment-vs-control comparison needs, by
    the noncentral t where ``test="t"`` solves (``noncentral-t``), else the normal
    approximation (``normal``, or ``normal-fallback`` when the t failed for some arm)."""
    approximation: Approximation = "normal"
    needs = []
    for wt in w[1:]:
        need = _required_total(d, w[0], wt, z_a, z_b)
        if d.test == "t":
            need_t = _required_total_t(d, w[0], wt, tail, power, need)
            if need_t is None:
                approximation = "normal-fallback"
            else:
                need = need_t
                if approximation == "normal":
                    approximation = "noncentral-t"
        needs.append(need)
    return max(needs), approximation


def _allocation(
    big_n: float, names: Sequence[str], w: Sequence[float], daily_units: float | None
) -> dict[str, Any]:
    """The :class:`SampleSize` fields that follow from ``N`` units in all: each arm's units
    (``N·w_g``, and rounded up), the control's and the largest treatment's, the total, and
    the days and weeks (``⌈total / daily_units⌉`` days, whole weeks) at ``daily_units``."""
    exact = {name: big_n * wg for name, wg in zip(names, w, strict=True)}
    rounded = {name: round_up(x) for name, x in exact.items()}
    total = sum(rounded.values())
    days = weeks = None
    if daily_units is not None:
        if not (math.isfinite(daily_units) and daily_units > 0):
            raise ValueError(f"daily_units {daily_units} must be a positive number of units a day")
        days = round_up(total / daily_units)
        weeks = math.ceil(days / 7)
    return {
        "per_variant": rounded,
        "per_variant_exact": exact,
        "n_control": rounded[names[0]],
        "n_treatment": max(rounded[n] for n in names[1:]),
        "total": total,
        "total_exact": big_n,
        "days": days,
        "weeks": weeks,
        "daily_units": daily_units,
        "duration_days_rounded_to_weeks": None if weeks is None else 7 * weeks,
    }


def power_at(
    *,
    metric_type: MetricType,
    baseline: float,
    mde: float = 0.0,
    n_per_variant: float | None = None,
    total: float | None = None,
    mde_type: MdeType = "relative",
    sd: float | None = None,
    sd_treatment: float | None = None,
    alpha: float = 0.05,
    alternative: Alternative | None = None,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
    moments: Moments | None = None,
    cuped_rho: float | None = None,
    margin: float = 0.0,
    margin_type: MdeType = "absolute",
    test: TestKind = "z",
    sequential: Mapping[str, Any] | None = None,
) -> float:
    """Chance that a comparison detects ``mde`` with the given units.

    Give ``n_per_variant`` (the control arm's units) or ``total``. The wrong-side tail of a
    two-sided test is left out, so this is the exact inverse of :func:`sample_size`. With
    several treatments, the smallest per-comparison power. Other arguments as in
    :func:`sample_size`; with ``test="t"`` the noncentral-t power, the normal approximation
    where that is NaN. With ``sequential``, the chance of crossing the upper boundary at some
    look (module doc).
    """
    w = _weights(arms, weights)
    alpha_c, _ = _alpha_per_comparison(alpha, arms, correction, comparisons)
    big_n = _total_units(n_per_variant, total, w)
    alt = _alternative(alternative, margin)
    d = _design(
        metric_type=metric_type,
        baseline=baseline,
        mde=mde,
        mde_type=mde_type,
        sd=sd,
        sd_treatment=sd_treatment,
        moments=moments,
        convention=convention,
        cuped_rho=cuped_rho,
        margin=margin,
        margin_type=margin_type,
        test=test,
    )
    tail = _tail(alpha_c, alt)

    def fixed_power(n: float) -> float:
        return min(_power(d, w[0], wt, tail, n) for wt in w[1:])

    seq = _sequential(sequential)
    if seq is None:
        return fixed_power(big_n)
    return _sequential_power(fixed_power, big_n, seq, alpha_c, alt)


def mde(
    *,
    metric_type: MetricType,
    baseline: float,
    n_per_variant: float | None = None,
    total: float | None = None,
    sd: float | None = None,
    sd_treatment: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative | None = None,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    convention: Convention = "unpooled",
    correction: str = "none",
    comparisons: int | None = None,
    mde_type: MdeType = "relative",
    moments: Moments | None = None,
    cuped_rho: float | None = None,
    margin: float = 0.0,
    margin_type: MdeType = "absolute",
    test: TestKind = "z",
    sequential: Mapping[str, Any] | None = None,
) -> float:
    """The smallest increase detectable with probability ``power`` with the given units.

    Give ``n_per_variant`` (the control arm's units) or ``total``. Returned as a relative
    (``δ/baseline``) or absolute (``δ``) effect, as ``mde_type`` says. Closed form for mean
    and ratio metrics and the arcsine convention; otherwise the root of
    ``sample_size(δ) = N`` by ``scipy.optimize.brentq`` over increases that keep the
    treatment rate at most 1. With a ``margin`` it is the smallest true effect ``δ > margin``
    the non-inferiority test detects (``margin + gap``; negative when a treatment slightly
    worse than control is still shown non-inferior). With ``test="t"`` the noncentrality is
    solved from ``scipy.stats.nct`` (normal approximation where that fails); with
    ``sequential`` the fixed design's MDE at ``N / IF``.
    """
    w = _weights(arms, weights)
    alpha_c, _ = _alpha_per_comparison(alpha, arms, correction, comparisons)
    _check_power(power)
    big_n = _total_units(n_per_variant, total, w)
    alt = _alternative(alternative, margin)
    d = _design(
        metric_type=metric_type,
        baseline=baseline,
        mde=None,
        mde_type=mde_type,
        sd=sd,
        sd_treatment=sd_treatment,
        moments=moments,
        convention=convention,
        cuped_rho=cuped_rho,
        margin=margin,
        margin_type=margin_type,
        test=test,
    )
    tail, z_a, z_b = _z_values(alpha_c, alt, power)
    seq = _sequential(sequential)
    if seq is not None:
        big_n /= _inflation(seq, alpha_c, alt, power)
    if d.metric_type != "proportion":
        delta = d.margin + _closed_form_gap(d, w, tail, z_a, z_b, power, big_n)
    elif d.convention == "arcsine":
        delta = _arcsine_delta(d.p1, w, z_a, z_b, big_n)
    else:
        delta = d.margin + _solved_gap(d, w, z_a, z_b, big_n)
    return delta / d.p1 if mde_type == "relative" else delta


def _z_values(alpha_c: float, alternative: str, power: float) -> tuple[float, float, float]:
    """The one-tail size, ``z_a`` and ``z_b`` (module doc); a power that does not exceed
    the test's size is refused."""
    tail = _tail(alpha_c, alternative)
    z_a, z_b = _z(1 - tail), _z(power)
    if z_a + z_b <= 0:
        raise ValueError(f"power {power} must exceed the test's size α ({alpha_c:.4g})")
    return tail, z_a, z_b


def _closed_form_gap(
    d: _Design,
    w: Sequence[float],
    tail: float,
    z_a: float,
    z_b: float,
    power: float,
    big_n: float,
) -> float:
    """The detectable ``δ − m`` of a mean or ratio metric with ``N`` units:
    ``(z_a + z_b)·sqrt(max_t(σ²_c/w_c + σ²_t/w_t)/N)``, or the noncentral t's where it
    solves for every treatment (``test="t"``)."""
    v_c, v_t = d.unit_variances()
    gap = (z_a + z_b) * math.sqrt(max(v_c / w[0] + v_t / wt for wt in w[1:]) / big_n)
    if d.test == "t":
        gaps = [_gap_t(d, w[0], wt, tail, power, big_n) for wt in w[1:]]
        if all(g is not None for g in gaps):
            gap = max(g for g in gaps if g is not None)
    return gap


def _arcsine_delta(p1: float, w: Sequence[float], z_a: float, z_b: float, big_n: float) -> float:
    """The detectable increase from the rate ``p1`` by the arcsine convention: Cohen's
    ``h = (z_a + z_b)·sqrt(max_t(1/w_c + 1/w_t)/N)`` turned back into a rate,
    ``sin²(asin(sqrt(p1)) + h/2) − p1``."""
    h = (z_a + z_b) * math.sqrt(max(1 / w[0] + 1 / wt for wt in w[1:]) / big_n)
    angle = math.asin(math.sqrt(p1)) + h / 2
    if angle >= math.pi / 2:
        raise ValueError(
            f"{big_n:.6g} units cannot detect any increase from {p1:g}: "
            "even a rate of 100% is not detectable; add units"
        )
    return math.sin(angle) ** 2 - p1


def _solved_gap(d: _Design, w: Sequence[float], z_a: float, z_b: float, big_n: float) -> float:
    """The detectable ``δ − m`` of a proportion (unpooled or pooled convention): the root of
    ``log N(δ) = log N`` by ``scipy.optimize.brentq`` over increases that keep the treatment
    rate at most 1 (the smallest tried, ``10⁻⁹`` of the largest, when even it needs no
    more units)."""
    p1, m = d.p1, d.margin

    def excess(g: float) -> float:
        trial = d.with_effect(m + g)
        need = max(_required_total(trial, w[0], wt, z_a, z_b) for wt in w[1:])
        return math.log(need) - math.log(big_n)

    hi = 1 - p1 - m
    if excess(hi) > 0:
        raise ValueError(
            f"{big_n:.6g} units cannot detect any increase from {p1:g}: "
            "even a rate of 100% is not detectable; add units"
        )
    lo = hi * 1e-9
    if excess(lo) <= 0:
        return lo
    return float(optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=1e-13))


# ----- the design in one place -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Design:
    """Checked inputs of one design: the values, the effect, the variance and the test."""

    metric_type: str
    convention: str
    p1: float
    p2: float
    delta: float  # true effect p2 − p1
    margin: float  # absolute
    sd: float | None  # mean: unit sd; ratio: linearised sd (control)
    sd_t: float | None  # the treatment arm's (= sd unless given)
    factor: float  # CUPED's 1 − ρ²
    test: str

    @property
    def gap(self) -> float:
        """``|δ − m|``, the distance of the true effect from the null."""
        return abs(self.delta - self.margin)

    def unit_variances(self) -> tuple[float, float]:
        """``(σ²_c, σ²_t)`` per unit, after CUPED."""
        if self.metric_type == "proportion":
            return (
                self.p1 * (1 - self.p1) * self.factor,
                self.p2 * (1 - self.p2) * self.factor,
            )
        assert self.sd is not None and self.sd_t is not None
        return self.sd**2 * self.factor, self.sd_t**2 * self.factor

    def with_effect(self, delta: float) -> _Design:
        """The same design powered for the true effect ``delta``."""
        return dataclasses.replace(self, p2=self.p1 + delta, delta=delta)


def _design(
    *,
    metric_type: str,
    baseline: float,
    mde: float | None,
    mde_type: str,
    sd: float | None,
    sd_treatment: float | None,
    moments: Moments | None,
    convention: str,
    cuped_rho: float | None,
    margin: float,
    margin_type: str,
    test: str,
) -> _Design:
    """Check the inputs and resolve them into a :class:`_Design` (``mde=None``: no effect)."""
    if moments is not None:
        if metric_type != "ratio":
            raise ValueError(
                "moments give a ratio metric its sd; for a mean metric pass sd= "
                "(e.g. sqrt(moments.var_y))"
            )
        if sd is not None:
            raise ValueError("give sd or moments for a ratio metric, not both")
        sd = ratio_sd_from_moments(moments)
    _check_baseline(metric_type, baseline, mde_type, sd, convention)
    if sd_treatment is not None:
        if metric_type == "proportion":
            raise ValueError(
                "sd_treatment applies to mean and ratio metrics; a proportion's spread follows "
                "from its rate"
            )
        if not (math.isfinite(sd_treatment) and sd_treatment > 0):
            raise ValueError(f"sd_treatment {sd_treatment} must be a positive number")
    factor = _cuped_factor(cuped_rho, metric_type, convention)
    if test not in ("z", "t"):
        raise ValueError(f"test '{test}' is not known; use z or t")
    if test == "t" and metric_type != "mean":
        raise ValueError(
            f"test='t' applies to mean metrics; a {metric_type} metric is sized with the "
            "normal approximation, use test='z'"
        )
    m = _margin(margin, margin_type, baseline, metric_type, convention)
    sd_c = None if sd is None else float(sd)
    sd_t = sd_c if sd_treatment is None else float(sd_treatment)
    if mde is None:
        delta = 0.0
    else:
        if not math.isfinite(mde) or (mde == 0 and m == 0):
            raise ValueError(f"mde {mde} must be a non-zero effect (negative for a decrease)")
        delta = float(mde * baseline if mde_type == "relative" else mde)
        p2 = baseline + delta
        if metric_type == "proportion" and not 0 < p2 < 1:
            raise ValueError(
                f"baseline {baseline:g} with mde {mde:g} ({mde_type}) gives a treatment rate of "
                f"{p2:g}, outside (0, 1); use a smaller mde"
            )
        if delta == m:
            raise ValueError(
                f"the true effect {delta:g} equals the margin {m:g}: no test can tell them "
                "apart; give an mde on the better side of the margin"
            )
    return _Design(
        metric_type=metric_type,
        convention=convention,
        p1=float(baseline),
        p2=float(baseline + delta),
        delta=delta,
        margin=m,
        sd=sd_c,
        sd_t=sd_t,
        factor=factor,
        test=test,
    )


# ----- the formulas ----------------------------------------------------------------------------
def _required_total(d: _Design, w_c: float, w_t: float, z_a: float, z_b: float) -> float:
    """``N`` for one treatment-vs-control comparison, normal approximation (module doc)."""
    if d.convention == "arcsine":
        h = _cohens_h(d.p1, d.p2)
        return (z_a + z_b) ** 2 * (1 / w_c + 1 / w_t) / h**2
    v_c, v_t = d.unit_variances()
    v1 = v_c / w_c + v_t / w_t
    if d.convention == "pooled":
        v0 = _pooled_null_variance(d.p1, d.p2, w_c, w_t)
        root = z_a * math.sqrt(v0) + z_b * math.sqrt(v1)
        if root <= 0:
            raise ValueError("power is too low for the pooled formula; raise power")
        return root**2 / d.gap**2
    return (z_a + z_b) ** 2 * v1 / d.gap**2


def _power_normal(d: _Design, w_c: float, w_t: float, tail: float, big_n: float) -> float:
    """Power of one comparison with ``N`` units in total, normal approximation (main tail)."""
    z_a = _z(1 - tail)
    if d.convention == "arcsine":
        x = abs(_cohens_h(d.p1, d.p2)) * math.sqrt(big_n / (1 / w_c + 1 / w_t)) - z_a
    else:
        v_c, v_t = d.unit_variances()
        v1 = v_c / w_c + v_t / w_t
        if d.convention == "pooled":
            v0 = _pooled_null_variance(d.p1, d.p2, w_c, w_t)
            x = (d.gap * math.sqrt(big_n) - z_a * math.sqrt(v0)) / math.sqrt(v1)
        else:
            x = d.gap * math.sqrt(big_n / v1) - z_a
    return float(special.ndtr(x))  # scipy.stats.norm.cdf, the same float


def _power(d: _Design, w_c: float, w_t: float, tail: float, big_n: float) -> float:
    """Power of one comparison: noncentral t for ``test="t"`` (normal where NaN), else z."""
    if d.test == "t":
        p = _power_t(d, w_c, w_t, tail, big_n)
        if math.isfinite(p):
            return p
    return _power_normal(d, w_c, w_t, tail, big_n)


def _welch(d: _Design, w_c: float, w_t: float, big_n: float) -> tuple[float, float]:
    """``(se of the difference for a unit effect scale, Welch df)`` with ``N`` units in total."""
    n_c, n_t = big_n * w_c, big_n * w_t
    v_c, v_t = d.unit_variances()
    a, b = v_c / n_c, v_t / n_t
    if min(n_c, n_t) <= 1:
        return math.sqrt(a + b), math.nan
    df = (a + b) ** 2 / (a * a / (n_c - 1) + b * b / (n_t - 1))
    return math.sqrt(a + b), df


def _nct_sf(t_crit: float, df: float, nc: float) -> float:
    """``P(T_df(nc) > t_crit)``; NaN where scipy cannot say."""
    from scipy import stats as sps  # on first use: half the import time of the analysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = float(sps.nct.sf(t_crit, df, nc))
        except (ArithmeticError, ValueError):  # pragma: no cover - scipy returns NaN instead
            return math.nan
    return p if 0 <= p <= 1 else math.nan


def _t_crit(tail: float, df: float) -> float:
    """``scipy.stats.t.isf(tail, df)``: ``-stdtrit(df, tail)``, the same float."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return -float(special.stdtrit(df, tail))


def _power_t(d: _Design, w_c: float, w_t: float, tail: float, big_n: float) -> float:
    """Noncentral-t power of Welch's test (main tail); NaN where it cannot be computed."""
    se, df = _welch(d, w_c, w_t, big_n)
    if not (math.isfinite(df) and df > 0 and se > 0):
        return math.nan
    return _nct_sf(_t_crit(tail, df), df, d.gap / se)


def _required_total_t(
    d: _Design, w_c: float, w_t: float, tail: float, power: float, n_normal: float
) -> float | None:
    """``N`` at which the noncentral-t power reaches ``power``; ``None`` if that fails."""
    lo = T_MIN_UNITS / min(w_c, w_t)

    def short(log_n: float) -> float:
        p = _power_t(d, w_c, w_t, tail, math.exp(log_n))
        if not math.isfinite(p):
            raise ArithmeticError("noncentral t is NaN")
        return p - power

    try:
        if short(math.log(lo)) >= 0:
            return lo
        hi = max(n_normal, lo) * 1.5
        for _ in range(_SOLVER_DOUBLINGS):
            if short(math.log(hi)) >= 0:
                break
            hi *= 2
        else:
            return None
        log_n = optimize.brentq(short, math.log(lo), math.log(hi), xtol=1e-13, rtol=1e-14)
    except (ArithmeticError, ValueError, RuntimeError):
        return None
    n = math.exp(float(log_n))
    return n if math.isfinite(n) else None


def _gap_t(
    d: _Design, w_c: float, w_t: float, tail: float, power: float, big_n: float
) -> float | None:
    """``|δ − m|`` the Welch t-test detects with ``N`` units; ``None`` if that fails."""
    se, df = _welch(d, w_c, w_t, big_n)
    if not (math.isfinite(df) and df > 0 and se > 0):
        return None
    t_crit = _t_crit(tail, df)

    def short(nc: float) -> float:
        p = _nct_sf(t_crit, df, nc)
        if not math.isfinite(p):
            raise ArithmeticError("noncentral t is NaN")
        return p - power

    try:
        hi = max(t_crit, 1.0) + max(_z(power), 1.0)
        for _ in range(_SOLVER_DOUBLINGS):
            if short(hi) >= 0:
                break
            hi *= 2
        else:
            return None
        nc = float(optimize.brentq(short, 0.0, hi, xtol=1e-13, rtol=1e-14))
    except (ArithmeticError, ValueError, RuntimeError):
        return None
    return nc * se


def _cohens_h(p1: float, p2: float) -> float:
    """Cohen's ``h = 2·asin(sqrt(p2)) − 2·asin(sqrt(p1))``."""
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def _pooled_null_variance(p1: float, p2: float, w_c: float, w_t: float) -> float:
    """``p̄q̄·(1/w_c + 1/w_t)`` with ``p̄`` pooled over the two arms compared."""
    p_bar = (w_c * p1 + w_t * p2) / (w_c + w_t)
    return p_bar * (1 - p_bar) * (1 / w_c + 1 / w_t)


# ----- sequential designs ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Sequential:
    kind: str
    information_fractions: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "looks": len(self.information_fractions),
            "information_fractions": list(self.information_fractions),
        }


def _sequential(spec: Mapping[str, Any] | None) -> _Sequential | None:
    """Check ``{"kind", "looks" | "information_fractions"}``; ``None`` for a fixed design."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ValueError(
            "sequential must be a mapping such as {'kind': 'obrien-fleming', 'looks': 4}"
        )
    unknown = set(spec) - {"kind", "looks", "information_fractions"}
    if unknown:
        raise ValueError(
            f"sequential has unknown key '{sorted(unknown)[0]}'; use kind and looks "
            "(or information_fractions)"
        )
    kind = spec.get("kind")
    if kind not in SEQUENTIAL_KINDS:
        raise ValueError(
            f"sequential kind {kind!r} is not known; use {' or '.join(SEQUENTIAL_KINDS)}"
        )
    looks, fractions = spec.get("looks"), spec.get("information_fractions")
    if fractions is None:
        if isinstance(looks, bool) or not isinstance(looks, int) or looks < 1:
            raise ValueError(f"sequential looks {looks!r} must be a whole number of at least 1")
        return _Sequential(kind, tuple(k / looks for k in range(1, looks + 1)))
    t = tuple(float(x) for x in fractions)
    if (
        not t
        or abs(t[-1] - 1) > 1e-12
        or not all(a < b for a, b in zip((0.0, *t[:-1]), t, strict=True))
    ):
        raise ValueError(
            f"information_fractions {list(t)} must increase from above 0 to 1 (the last look)"
        )
    if looks is not None and looks != len(t):
        raise ValueError(f"looks {looks} does not match {len(t)} information_fractions")
    return _Sequential(kind, (*t[:-1], 1.0))


def _inflation(seq: _Sequential, alpha: float, alternative: str, power: float) -> float:
    """Group-sequential inflation factor ``N_max / N_fixed`` (module doc)."""
    if len(seq.information_fractions) == 1:
        return 1.0
    factor = _cached_inflation(
        seq.kind, seq.information_fractions, alpha, _sides(alternative), power
    )
    if not (math.isfinite(factor) and factor >= 1 - 1e-9):
        raise ValueError(f"the sequential inflation factor {factor} is not a number ≥ 1")
    return factor


def _sequential_module() -> Any:
    """:mod:`liftlab.stats.sequential`, imported when a sequential design is first sized."""
    try:
        from liftlab.stats import sequential
    except ImportError as exc:  # pragma: no cover - the module ships with liftlab
        raise ValueError(
            "sequential designs need liftlab.stats.sequential (sample_size_inflation), "
            "which this installation lacks; drop sequential= for a fixed design"
        ) from exc
    return sequential


@functools.lru_cache(maxsize=256)
def _cached_inflation(
    kind: str, fractions: tuple[float, ...], alpha: float, sides: int, power: float
) -> float:
    seq_mod = _sequential_module()
    return float(
        seq_mod.sample_size_inflation(
            list(fractions), alpha=alpha, power=power, kind=kind, sides=sides
        )
    )


@functools.lru_cache(maxsize=256)
def _cached_boundaries(
    kind: str, fractions: tuple[float, ...], alpha: float, sides: int
) -> tuple[float, ...]:
    seq_mod = _sequential_module()
    return tuple(seq_mod.boundaries(list(fractions), alpha, kind, sides))


def _sides(alternative: str) -> int:
    return 2 if alternative == "two-sided" else 1


def _sequential_power(
    fixed_power: Callable[[float], float],
    big_n: float,
    seq: _Sequential,
    alpha: float,
    alternative: str,
) -> float:
    """Power of a group-sequential design whose last look has ``N`` units.

    The fixed design's power ``p_f`` at ``N`` gives the drift of its z statistic,
    ``θ = z_{1−α'} + z_{p_f}`` (exact for the normal-approximation formulas, the equivalent
    drift otherwise); the sequential power is the chance of crossing the upper boundary at
    some look with that drift (:func:`liftlab.stats.sequential.crossing_probabilities`).
    At ``N = N_fixed·IF`` this is the target power again: the inverse of
    :func:`sample_size` (exactly so for the unpooled and arcsine normal formulas).
    """
    p_f = fixed_power(big_n)
    if len(seq.information_fractions) == 1 or not 0 < p_f < 1:
        return p_f
    sides = _sides(alternative)
    upper = _cached_boundaries(seq.kind, seq.information_fractions, alpha, sides)
    lower = [-c for c in upper] if sides == 2 else None
    drift = _z(1 - _tail(alpha, alternative)) + _z(p_f)
    drift = min(max(drift, -_MAX_DRIFT), _MAX_DRIFT)
    up, _ = _sequential_module().crossing_probabilities(
        list(seq.information_fractions), list(upper), lower, drift=drift
    )
    return float(min(max(sum(up), 0.0), 1.0))


# ----- inputs ----------------------------------------------------------------------------------
def _z(q: float) -> float:
    return float(special.ndtri(q))  # scipy.stats.norm.ppf, the same float


def _tail(alpha: float, alternative: str) -> float:
    """The one-tail size: ``α/2`` two-sided, ``α`` one-sided."""
    if alternative == "two-sided":
        return alpha / 2
    if alternative == "one-sided":
        return alpha
    raise ValueError(f"alternative '{alternative}' is not known; use two-sided or one-sided")


def _alternative(alternative: str | None, margin: float) -> Alternative:
    """``two-sided`` by default; ``one-sided`` (and only that) with a non-zero margin."""
    if not math.isfinite(margin):
        raise ValueError(f"margin {margin} must be a finite number")
    if alternative is None:
        return "one-sided" if margin != 0 else "two-sided"
    if alternative not in ("two-sided", "one-sided"):
        raise ValueError(f"alternative '{alternative}' is not known; use two-sided or one-sided")
    if margin != 0 and alternative != "one-sided":
        raise ValueError(
            "a non-inferiority margin is tested one-sided (H1: Δ > margin); "
            "use alternative='one-sided' or leave it out"
        )
    return alternative  # type: ignore[return-value]


def _margin(
    margin: float, margin_type: str, baseline: float, metric_type: str, convention: str
) -> float:
    """The margin in the metric's units, checked."""
    if margin_type not in ("relative", "absolute"):
        raise ValueError(f"margin_type '{margin_type}' is not known; use relative or absolute")
    if margin == 0:
        return 0.0
    if convention != "unpooled":
        raise ValueError(
            f"a non-inferiority margin is sized with the unpooled formula, not {convention}; "
            "use convention='unpooled'"
        )
    if margin_type == "relative" and baseline == 0:
        raise ValueError("a relative margin needs a non-zero baseline; use margin_type='absolute'")
    m = float(margin * baseline if margin_type == "relative" else margin)
    if metric_type == "proportion" and not 0 < baseline + m < 1:
        raise ValueError(
            f"margin {margin:g} ({margin_type}) puts the null at a rate of {baseline + m:g}, "
            "outside (0, 1); use a smaller margin"
        )
    return m


def _cuped_factor(cuped_rho: float | None, metric_type: str, convention: str) -> float:
    """CUPED's variance reduction factor ``1 − ρ²`` (1 without CUPED)."""
    if cuped_rho is None:
        return 1.0
    if metric_type == "ratio":
        raise ValueError(
            "cuped_rho applies to proportion and mean metrics (liftlab's analysis has no "
            "CUPED for ratios); remove cuped_rho"
        )
    if convention != "unpooled":
        raise ValueError(
            f"cuped_rho is sized with the unpooled formula, not {convention}; "
            "use convention='unpooled' (or drop cuped_rho)"
        )
    rho = float(cuped_rho)
    if not (math.isfinite(rho) and -1 < rho < 1):
        raise ValueError(f"cuped_rho {cuped_rho} must be a correlation strictly between -1 and 1")
    return 1 - rho * rho


def round_up(x: float) -> int:
    """Units rounded up, an exact integer left as it is: ``ceil(x − 1e-9)`` (the module's
    rounding convention, shared by :mod:`liftlab.design`)."""
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
    if metric_type not in METRIC_TYPES:
        raise ValueError(
            f"metric_type '{metric_type}' is not supported; use {', '.join(METRIC_TYPES)}"
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
            f"the {convention} convention is for proportions; use unpooled for a "
            f"{metric_type} metric"
        )
    if sd is None:
        if metric_type == "ratio":
            raise ValueError(
                "a ratio metric needs sd (its linearised per-unit sd, sqrt(n·Var(R))) or "
                "moments (historical sums of the numerator and denominator)"
            )
        raise ValueError(
            "a mean metric needs sd: the standard deviation of the metric per unit in control"
        )
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(f"sd {sd} must be a positive number")
    if mde_type == "relative" and baseline == 0:
        raise ValueError("a relative mde needs a non-zero baseline; use mde_type='absolute'")
