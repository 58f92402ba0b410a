"""Sequential tests: look at an experiment more than once without inflating false positives.

Pure functions, no I/O. Two families, for two ways of working:

1. **Always-valid inference** (:func:`always_valid`, :func:`always_valid_arrays`): look as
   often as you like (every day, every hour), stop whenever; the p-value and the confidence
   sequence stay valid at any stopping time, chosen however you like.
2. **Group-sequential designs** (:func:`spending`, :func:`boundaries`,
   :func:`sample_size_inflation`, :func:`group_sequential`): a few planned looks, each with a
   z boundary from an alpha-spending function. Tighter than (1) when the looks are few.

Both work on the running "effect moments" of a treatment-vs-control comparison at look ``n``
(the cumulative data up to that look): the estimate ``Δ̂_n = ȳ_t − ȳ_c`` and its variance
``V_n = s²_c/n_c + s²_t/n_t`` (sample variances with ``n − 1``, as the Welch test in
:mod:`liftlab.stats.frequentist`). Looks are numbered from 1.

Always-valid inference
----------------------
**mSPRT** (``method="msprt"``, the default): the mixture sequential probability ratio test
of Johari, Koomen, Pekelis & Walsh (2022), "Always Valid Inference: Continuous Monitoring of
A/B Tests", *Operations Research* 70(3) (arXiv 1512.04922, 2015/2017), in the two-sample
normal form used by Optimizely's Stats Engine. With ``Δ̂_n ≈ N(Δ, V_n)`` and the alternative
mixed over ``Δ ~ N(θ₀, τ²)``, the likelihood ratio against ``H₀: Δ = θ₀`` is

    Λ_n(θ₀) = sqrt(V_n / (V_n + τ²)) · exp((Δ̂_n − θ₀)² τ² / (2 V_n (V_n + τ²))).

(Their two-stream form with ``n`` units per arm and known variance ``σ²`` is this with
``V_n = 2σ²/n``; here ``V_n`` is the Welch plug-in, so the guarantee is that of a normal
approximation, as in the paper's practical version.) Under ``H₀`` ``Λ_n`` is a nonnegative
martingale with mean 1, so by Ville's inequality ``P(∃n: Λ_n ≥ 1/α) ≤ α``.

- Always-valid p-value: ``p_n = min(1, p_{n−1}, 1/Λ_n(0))`` with ``p_0 = 1``; it never
  increases, and ``P(∃n: p_n ≤ α) ≤ α``. ``rejected`` is ``p_n ≤ α``.
- Confidence sequence: the values not rejected, ``{θ₀: Λ_n(θ₀) < 1/α}``. Taking logs,
  ``½ log(V/(V+τ²)) + (Δ̂−θ₀)² τ²/(2V(V+τ²)) < −log α`` ⟺
  ``(Δ̂−θ₀)² < V(V+τ²)/τ² · (log((V+τ²)/V) − 2 log α)``, so

      CS_n = Δ̂_n ± sqrt( V_n (V_n + τ²)/τ² · (log((V_n + τ²)/V_n) − 2 log α) ),

  and ``0 ∉ CS_n`` ⟺ ``1/Λ_n(0) ≤ α`` (up to ties). It covers the true ``Δ`` at every look
  at once with probability ``≥ 1 − α``. Johari et al. define the always-valid interval as
  ``{θ₀: p_n(θ₀) > α}``, the running intersection ``CS_1 ∩ … ∩ CS_n``; that is what is
  reported (``intersect=True``), so the interval excludes 0 exactly when ``p_n ≤ α``.
  ``intersect=False`` gives the raw ``CS_n``. An empty intersection (``ci_low > ci_high``)
  means no single constant effect fits all looks (a time-varying effect, or the normal
  approximation failing early on); it is flagged in :attr:`SequentialResult.note`.
- Tuning ``τ`` (the mixing standard deviation, in the metric's units; **default: the
  planned absolute MDE** ``mde``). With ``r = τ²/V`` the squared half-width is
  ``V · (1 + r)/r · (log(1 + r) − 2 log α)``, smallest at ``r*`` solving
  ``r* − log(1 + r*) = −2 log α``, i.e. ``r* = −W₋₁(−α²/e) − 1`` (Lambert W; 8.22 at
  α = 0.05). A design sized to detect the MDE ``δ`` with power ``1 − β`` has
  ``V* = δ²/(z_{1−α/2} + z_{1−β})²`` at its planned size, so the τ that makes the sequence
  tightest there is ``sqrt(r* V*) = δ · sqrt(r*)/(z_{1−α/2} + z_{1−β})``: 1.02 δ at α = 0.05
  and 80% power, 0.88 δ at 90%. Hence ``τ = MDE``. :func:`msprt_tau` gives the exact optimum
  for a planned ``V*``. (Optimizely's Stats Engine instead fits ``τ`` to the effects seen in
  past experiments; Johari et al. §5.) ``τ`` must be fixed before the data are seen.

**Asymptotic confidence sequence** (``method="asymptotic-cs"``): the Robbins normal-mixture
boundary of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2024), "Time-uniform central limit
theory and asymptotic confidence sequences", *Annals of Statistics* 52(6) (arXiv 2103.06476):
for the mean of i.i.d. values with sample standard deviation ``σ̂_t`` after ``t`` of them,

    C_t = μ̂_t ± σ̂_t · sqrt( 2(tρ² + 1)/(t²ρ²) · log( sqrt(tρ² + 1)/α ) ),

with ``ρ`` tuned to make the boundary tightest near a planned ``t*`` by their closed form
``ρ² = (−2 log α + log(−2 log α + 1)) / t*``. Here ``t = n_c + n_t`` (all units so far),
``t* = planned_n`` (planned units in **both** arms together), ``μ̂_t = Δ̂`` and
``σ̂²_t = t · V_t``: the variance of the difference-in-means influence function
``ψ = A(Y − μ_t)/π − (1 − A)(Y − μ_c)/(1 − π)`` at the observed share ``π = n_t/t``
(``Var ψ = σ²_t/π + σ²_c/(1 − π) = t·V``; the Hájek form of their inverse-propensity
estimator of the average treatment effect). Coverage holds asymptotically (as ``t*`` grows)
under finite moments, without normal data. The boundary is the mSPRT's with a
data-dependent mixing variance ``τ²_t = ρ² σ̂²_t`` (``r = tρ²``): substitute and the two
half-widths agree term by term. So the p-value is ``1/Λ_t(0)`` with that ``τ_t`` (the
smallest level at which the sequence, ``ρ`` held fixed, excludes 0), with the same running
minimum and running intersection. Their ``ρ²`` is one fixed-point step,
``r = c + log(1 + c)`` with ``c = −2 log α``, towards the exact ``r*`` above (7.94 vs 8.22 at
α = 0.05; the width at ``t*`` differs by under 0.1%).

Group-sequential designs
------------------------
Canonical joint distribution (Jennison & Turnbull, 2000, *Group Sequential Methods with
Applications to Clinical Trials*, ch. 3 and 19): at information fractions
``0 < t_1 < … < t_K`` the z statistics ``Z_k`` are such that ``S_k = Z_k √t_k`` is a
Brownian motion with drift θ, i.e. independent increments ``N(θΔt, Δt)``;
``Cov(Z_j, Z_k) = sqrt(t_j/t_k)`` for ``j ≤ k``, and θ is the mean of ``Z`` at ``t = 1``.

- Spending functions (Lan & DeMets, 1983, "Discrete sequential boundaries for clinical
  trials", *Biometrika* 70(3)), at level ``a``: O'Brien–Fleming type
  ``α*(t) = 2 − 2Φ(z_{1−a/2}/√t)`` and Pocock type ``α*(t) = a · log(1 + (e − 1)t)``; both
  are 0 at ``t = 0`` and ``a`` at ``t ≥ 1``.
- Two-sided designs (``sides=2``, default): symmetric bounds ``±c_k``; each side spends
  ``a = α/2`` with the one-sided function, the convention of R's gsDesign (``test.type=2``)
  and ldbounds (``alpha=c(α/2, α/2)``): the O'Brien–Fleming type then uses ``z_{1−α/4}``.
  ``c_k`` solves ``P₀(Z_k ≥ c_k, |Z_j| < c_j for j < k) = α*(t_k) − α*(t_{k−1})``: paths
  that crossed the lower bound have stopped, as in ldbounds and gsDesign (leaving them in
  changes the bounds by far less than 1e-6 at α = 0.05). These are the bounds published as
  4.877, 3.357, 2.680, 2.290, 2.031 for five equal looks at α = 0.05. (Reading the
  O'Brien–Fleming function as the two-sided *total*, ``2 − 2Φ(z_{1−α/2}/√t)`` over both
  sides, spends more early on: 4.38 instead of 4.88 at the first of five equal looks.)
  One-sided designs (``sides=1``) spend ``a = α`` above a single upper bound.
- Numerical method: Armitage, McPherson & Rowe (1969), as set out in Jennison & Turnbull
  ch. 19: the sub-density of ``Z_k`` on the continuation region is carried from look to
  look by Simpson's rule on their grid (``6r − 1`` points centred on the mean ``θ√t_k``,
  evenly spaced within ±3 and thinning out logarithmically to about ±(3 + 4 log r),
  trimmed to the continuation interval, with the bounds and the midpoints added). ``grid_r``
  is their ``r`` (gsDesign's default is 18; here 32: the crossing probabilities then move by
  about 1e-9 from ``r = 32`` to ``r = 128``, and agree with
  :func:`scipy.stats.multivariate_normal.cdf` to its own accuracy, about 1e-8). Each ``c_k``
  is found with Brent's method.
- Sample-size inflation: the drift ``θ`` at which the design's upper crossing probability
  is the power, over the fixed design's ``z_{1−α/s} + z_{power}`` (``s`` = sides), squared:
  ``R = I_max / I_fixed``. Jennison & Turnbull's ch. 2 tables give the classical
  (constant-boundary-shape) O'Brien–Fleming ``R_B(5, 0.05, 0.1) = 1.026`` and Pocock
  ``R_P(5, 0.05, 0.1) = 1.207`` for five equal looks, two-sided α = 0.05, power 0.9. The
  Lan–DeMets spending versions need a little less (their last bound is lower): 1.023 for
  the O'Brien–Fleming type and 1.192 for the Pocock type.
- Information fractions from sample sizes in :func:`group_sequential`:
  ``t_k = (n_c,k + n_t,k) / (2 · planned_n_per_arm)`` (exact when the arm variances do not
  change). A look past ``t = 1`` (an overrun) keeps its true ``t`` in the correlations and
  spends nothing more: its bound is infinite once all α is spent. The z statistic is
  ``Δ̂/sqrt(V)`` (the normal approximation of the Welch test; at A/B-test sizes the Welch
  t and z agree).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from liftlab.startup import lazy_module
from liftlab.stats.moments import Moments
from liftlab.stats.roots import brentq

special = lazy_module("scipy.special")  # loaded on first use

AlwaysValidMethod = Literal["msprt", "asymptotic-cs"]
SpendingKind = Literal["obrien-fleming", "pocock"]
Decision = Literal["reject", "continue", "fail-to-reject"]
FloatArray = npt.NDArray[np.float64]

ALWAYS_VALID_METHODS: tuple[str, ...] = ("msprt", "asymptotic-cs")
SPENDING_KINDS: tuple[str, ...] = ("obrien-fleming", "pocock")
GRID_R = 32
_C_MAX = 40.0  # no z boundary is larger; P(Z > 40) ≈ 4e-350


# ================================================================================================
# Always-valid inference
# ================================================================================================


@dataclass(frozen=True, slots=True)
class AlwaysValidLook:
    """One look of an always-valid analysis (cumulative data up to the look)."""

    look: int
    n_control: int
    n_treatment: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    rejected: bool


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """Always-valid p-values and confidence sequence at every look, and the final values.

    ``tau`` is the mSPRT's mixing standard deviation (``None`` for ``asymptotic-cs``);
    ``rho2`` and ``planned_n`` are the asymptotic sequence's tuning (``None`` for ``msprt``).
    ``estimate`` … ``rejected`` repeat the last look; ``first_rejection`` is the first look
    with ``p_value ≤ alpha`` (``None`` if none). ``note`` flags what needs a human's eyes.
    """

    method: str
    alpha: float
    tau: float | None
    rho2: float | None
    planned_n: int | None
    intersect: bool
    looks: tuple[AlwaysValidLook, ...]
    estimate: float
    se: float
    ci: tuple[float, float]
    p_value: float
    rejected: bool
    first_rejection: int | None
    note: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SequentialArrays:
    """Vectorised always-valid results; the last axis runs over looks."""

    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    rejected: npt.NDArray[np.bool_]


def msprt_tau(planned_variance: float, *, alpha: float = 0.05) -> float:
    """The mixing sd ``τ`` that makes the mSPRT confidence sequence tightest at ``V*``.

    ``τ = sqrt(r* · V*)`` with ``r* = −W₋₁(−α²/e) − 1`` the root of
    ``r − log(1 + r) = −2 log α`` (see the module docstring). ``planned_variance`` is the
    variance of the effect estimate at the planned sample size, ``σ²_c/n_c + σ²_t/n_t``.
    """
    _check_alpha(alpha)
    if not (math.isfinite(planned_variance) and planned_variance > 0):
        raise ValueError(f"planned_variance {planned_variance} must be a positive number")
    return math.sqrt(_optimal_ratio(alpha) * planned_variance)


def robbins_rho2(planned_n: float, *, alpha: float = 0.05) -> float:
    """Waudby-Smith et al.'s ``ρ² = (−2 log α + log(−2 log α + 1)) / t*`` for ``t* = planned_n``."""
    _check_alpha(alpha)
    if not (math.isfinite(planned_n) and planned_n > 0):
        raise ValueError(f"planned_n {planned_n} must be a positive number of units")
    c = -2 * math.log(alpha)
    return (c + math.log(c + 1)) / planned_n


def msprt_log_lr(
    estimate: npt.ArrayLike, variance: npt.ArrayLike, tau: npt.ArrayLike, *, null: float = 0.0
) -> FloatArray:
    """``log Λ`` of the normal-mixture SPRT (Johari et al.) for ``H₀: Δ = null``.

    ``log Λ = ½ log(V/(V+τ²)) + (Δ̂ − null)² τ² / (2V(V+τ²))``, elementwise. Where the
    variance or ``τ`` is not a positive number (too few units, no variation) there is no
    evidence: ``log Λ = 0``.
    """
    est = np.asarray(estimate, dtype=float) - null
    tau2 = np.square(np.asarray(tau, dtype=float))
    return _log_lr(est, np.asarray(variance, dtype=float), tau2)


def always_valid_arrays(
    estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    method: AlwaysValidMethod = "msprt",
    tau: float | None = None,
    mde: float | None = None,
    n_total: npt.ArrayLike | None = None,
    planned_n: float | None = None,
    null: float = 0.0,
    intersect: bool = True,
) -> SequentialArrays:
    """Always-valid p-values and confidence sequences on cumulative ``(Δ̂_n, V_n)`` arrays.

    Args:
        estimate: cumulative effect estimates ``Δ̂_n``; the last axis runs over looks (other
            axes, e.g. simulated experiments, are independent).
        variance: their variances ``V_n`` (same shape, or broadcastable).
        alpha: the level of the test and of the sequence (``1 − alpha`` coverage).
        method: ``"msprt"`` (Johari et al.) or ``"asymptotic-cs"`` (Waudby-Smith et al.).
        tau: mSPRT mixing sd in the metric's units; defaults to ``|mde|``.
        mde: the planned absolute MDE, the default for ``tau`` (see the module docstring).
        n_total: units so far, both arms (``asymptotic-cs``; broadcastable to ``estimate``).
        planned_n: planned units in both arms together, ``t*`` (``asymptotic-cs``).
        null: the effect under ``H₀`` for the p-value (the sequence does not depend on it).
        intersect: report the running intersection of the sequence (default) or each look's
            raw interval. The p-value is always the running minimum.
    """
    _check_alpha(alpha)
    est = np.asarray(estimate, dtype=float)
    var = np.asarray(variance, dtype=float)
    est, var = np.broadcast_arrays(est, var)
    if est.ndim == 0:
        raise ValueError("estimate must hold at least one look (an array, looks last)")
    tau2 = _mixing_variance(
        method, var, alpha=alpha, tau=tau, mde=mde, n_total=n_total, planned_n=planned_n
    )
    log_lr = _log_lr(est - null, var, tau2)
    p_look = np.exp(np.minimum(0.0, -log_lr))
    p_value = np.minimum.accumulate(p_look, axis=-1)
    half = _half_width(var, tau2, alpha)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(est) & np.isfinite(half)
        low = np.where(ok, est - half, -np.inf)
        high = np.where(ok, est + half, np.inf)
    if intersect:
        low = np.maximum.accumulate(low, axis=-1)
        high = np.minimum.accumulate(high, axis=-1)
    return SequentialArrays(p_value, low, high, p_value <= alpha)


def always_valid(
    looks: Sequence[tuple[Moments, Moments]],
    *,
    alpha: float = 0.05,
    tau: float | None = None,
    mde: float | None = None,
    method: AlwaysValidMethod = "msprt",
    planned_n: int | None = None,
    intersect: bool = True,
) -> SequentialResult:
    """Always-valid inference on the difference in means, at every look.

    Args:
        looks: ``(control, treatment)`` :class:`Moments` at each look, **cumulative** (all
            units so far). From daily moments: ``itertools.accumulate(days, lambda a, b:
            (a[0] + b[0], a[1] + b[1]))``.
        alpha: level of the test; the sequence covers with probability ``1 − alpha``.
        tau: mSPRT mixing sd in the metric's units (default ``|mde|``).
        mde: the planned absolute MDE (``mde · baseline`` for a relative one).
        method: ``"msprt"`` or ``"asymptotic-cs"`` (see the module docstring).
        planned_n: planned units in both arms together, where the asymptotic sequence is
            tightest (required for ``asymptotic-cs``).
        intersect: report the running intersection of the intervals (default).
    """
    if not looks:
        raise ValueError("always_valid needs at least one look")
    n_c = np.array([c.n for c, _ in looks], dtype=float)
    n_t = np.array([t.n for _, t in looks], dtype=float)
    est, var = _effect_moments(looks)
    arrays = always_valid_arrays(
        est,
        var,
        alpha=alpha,
        method=method,
        tau=tau,
        mde=mde,
        n_total=n_c + n_t,
        planned_n=planned_n,
        intersect=intersect,
    )
    rows = tuple(
        AlwaysValidLook(
            look=k + 1,
            n_control=int(n_c[k]),
            n_treatment=int(n_t[k]),
            estimate=float(est[k]),
            se=math.sqrt(var[k]) if var[k] >= 0 else math.nan,
            ci_low=float(arrays.ci_low[k]),
            ci_high=float(arrays.ci_high[k]),
            p_value=float(arrays.p_value[k]),
            rejected=bool(arrays.rejected[k]),
        )
        for k in range(len(looks))
    )
    last = rows[-1]
    first = next((row.look for row in rows if row.rejected), None)
    rho2 = None
    if method == "asymptotic-cs" and planned_n is not None:
        rho2 = robbins_rho2(planned_n, alpha=alpha)
    return SequentialResult(
        method=method,
        alpha=alpha,
        tau=_resolve_tau(tau, mde) if method == "msprt" else None,
        rho2=rho2,
        planned_n=planned_n,
        intersect=intersect,
        looks=rows,
        estimate=last.estimate,
        se=last.se,
        ci=(last.ci_low, last.ci_high),
        p_value=last.p_value,
        rejected=last.rejected,
        first_rejection=first,
        note=_sequence_note(rows, var),
    )


def _sequence_note(rows: Sequence[AlwaysValidLook], var: FloatArray) -> str | None:
    """Why the sequence reads oddly, if it does: its running intersection is empty from
    some look on, or some look has no variance in an arm."""
    empty = [row.look for row in rows if row.ci_low > row.ci_high]
    if empty:
        return (
            f"the confidence sequence's running intersection is empty from look {empty[0]}: "
            "no constant effect fits every look (a time-varying effect, or too few units "
            "for the normal approximation early on)"
        )
    if not np.all(var > 0):
        return "some looks have fewer than two units or no variation in an arm: no evidence"
    return None


# ----- always-valid helpers ---------------------------------------------------------------------
def _effect_moments(looks: Sequence[tuple[Moments, Moments]]) -> tuple[FloatArray, FloatArray]:
    """``Δ̂_n = ȳ_t − ȳ_c`` and ``V_n = s²_c/n_c + s²_t/n_t`` per look (NaN where undefined)."""
    est = np.array([t.mean_y - c.mean_y for c, t in looks], dtype=float)
    var = np.array(
        [(c.var_y / c.n + t.var_y / t.n) if min(c.n, t.n) > 1 else math.nan for c, t in looks],
        dtype=float,
    )
    return est, var


def _resolve_tau(tau: float | None, mde: float | None) -> float:
    if tau is None:
        if mde is None:
            raise ValueError(
                "the mSPRT needs its mixing sd: give tau, or mde (the planned absolute "
                "minimum detectable effect, the default tau)"
            )
        tau = abs(mde)
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau {tau} must be a positive number in the metric's units")
    return float(tau)


def _mixing_variance(
    method: str,
    var: FloatArray,
    *,
    alpha: float,
    tau: float | None,
    mde: float | None,
    n_total: npt.ArrayLike | None,
    planned_n: float | None,
) -> FloatArray:
    """``τ²`` per look: fixed for the mSPRT, ``ρ² · t · V_t`` for the asymptotic sequence."""
    if method == "msprt":
        return np.full_like(var, _resolve_tau(tau, mde) ** 2)
    if method == "asymptotic-cs":
        if planned_n is None or n_total is None:
            raise ValueError(
                "the asymptotic confidence sequence needs planned_n (planned units in both "
                "arms together, where it is tightest) and n_total (units so far)"
            )
        t = np.broadcast_to(np.asarray(n_total, dtype=float), var.shape)
        return robbins_rho2(planned_n, alpha=alpha) * t * var
    raise ValueError(f"method must be one of {ALWAYS_VALID_METHODS}, not {method!r}")


def _valid(var: FloatArray, tau2: FloatArray) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(var) & (var > 0) & np.isfinite(tau2) & (tau2 > 0)


def _log_lr(est: FloatArray, var: FloatArray, tau2: FloatArray) -> FloatArray:
    est, var, tau2 = np.broadcast_arrays(est, var, tau2)
    ok = _valid(var, tau2) & np.isfinite(est)
    v = np.where(ok, var, 1.0)
    s2 = np.where(ok, tau2, 1.0)
    e = np.where(ok, est, 0.0)
    out = -0.5 * np.log1p(s2 / v) + e * e * s2 / (2 * v * (v + s2))
    return np.where(ok, out, 0.0)


def _half_width(var: FloatArray, tau2: FloatArray, alpha: float) -> FloatArray:
    var, tau2 = np.broadcast_arrays(var, tau2)
    ok = _valid(var, tau2)
    v = np.where(ok, var, 1.0)
    s2 = np.where(ok, tau2, 1.0)
    half = np.sqrt((v + v * v / s2) * (np.log1p(s2 / v) - 2 * math.log(alpha)))
    return np.where(ok, half, np.inf)


def _optimal_ratio(alpha: float) -> float:
    """``r* = −W₋₁(−α²/e) − 1``, the root of ``r − log(1 + r) = −2 log α``."""
    return float(-special.lambertw(-(alpha**2) / math.e, k=-1).real - 1)


def _check_alpha(alpha: float) -> None:
    if not (0 < alpha < 1):
        raise ValueError(f"alpha {alpha} must be between 0 and 1")


# ================================================================================================
# Group-sequential designs
# ================================================================================================


@dataclass(frozen=True, slots=True)
class GroupSequentialLook:
    """One planned look: the z statistic against the look's boundary.

    ``nominal_alpha`` is the boundary as a fixed-sample p-value threshold (the look rejects
    when the naive p-value is below it); ``alpha_spent`` is the total α spent up to the look.
    """

    look: int
    n_control: int
    n_treatment: int
    information_fraction: float
    estimate: float
    se: float
    z: float
    boundary: float
    nominal_alpha: float
    alpha_spent: float
    crossed: bool


@dataclass(frozen=True, slots=True)
class GroupSequentialResult:
    """A group-sequential analysis: every look, and the decision at the first crossing.

    ``decision`` is ``reject`` (a boundary was crossed; ``stopped_at`` is the first look that
    crossed it), ``fail-to-reject`` (the planned information was reached without a crossing)
    or ``continue``.
    """

    kind: str
    alpha: float
    sides: int
    planned_n_per_arm: int
    looks: tuple[GroupSequentialLook, ...]
    rejected: bool
    stopped_at: int | None
    decision: Decision


def spending(t: float, alpha: float = 0.05, kind: SpendingKind = "obrien-fleming") -> float:
    """Lan–DeMets (1983) alpha-spending function at level ``alpha``: α spent by fraction ``t``.

    O'Brien–Fleming type ``2 − 2Φ(z_{1−α/2}/√t)``; Pocock type ``α log(1 + (e − 1)t)``.
    0 for ``t ≤ 0``, ``alpha`` for ``t ≥ 1``. For a two-sided design with symmetric bounds
    :func:`boundaries` spends ``spending(t, α/2)`` on each side.
    """
    _check_alpha(alpha)
    _check_kind(kind)
    if t <= 0:
        return 0.0
    if t >= 1:
        return alpha
    if kind == "obrien-fleming":
        return float(2 * special.ndtr(-special.ndtri(1 - alpha / 2) / math.sqrt(t)))
    return alpha * math.log1p((math.e - 1) * t)


def boundaries(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    kind: SpendingKind = "obrien-fleming",
    sides: int = 2,
    *,
    grid_r: int = GRID_R,
) -> list[float]:
    """Group-sequential z boundaries by Lan–DeMets alpha spending (see the module docstring).

    Args:
        information_fractions: ``t_1 < t_2 < …``, the share of the planned information at each
            look (values above 1 are overruns: they spend nothing more).
        alpha: the design's total type-I error (two-sided when ``sides=2``).
        kind: ``"obrien-fleming"`` or ``"pocock"`` type spending.
        sides: 2 for symmetric bounds ``±c_k`` spending ``α/2`` per side, 1 for an upper bound.
        grid_r: Jennison & Turnbull's grid parameter ``r`` (``6r − 1`` points per look).

    Returns:
        ``c_k`` per look (``inf`` where a look has no α left to spend); a two-sided design
        rejects at look ``k`` when ``|Z_k| ≥ c_k``, a one-sided one when ``Z_k ≥ c_k``.
    """
    t = _check_fractions(information_fractions)
    _check_alpha(alpha)
    _check_kind(kind)
    _check_sides(sides)
    per_side = alpha / sides
    cumulative = [spending(tk, per_side, kind) for tk in t]
    return _solve_boundaries(t, cumulative, sides, grid_r)


def crossing_probabilities(
    information_fractions: Sequence[float],
    upper: Sequence[float],
    lower: Sequence[float] | None = None,
    *,
    drift: float = 0.0,
    grid_r: int = GRID_R,
) -> tuple[list[float], list[float]]:
    """Probabilities of first crossing the upper and the lower bound at each look.

    ``Z_k`` follows the canonical joint distribution with drift ``θ = drift`` (the mean of
    ``Z`` at ``t = 1``). ``lower=None`` is a one-sided design (no lower bound); for a
    two-sided symmetric design pass ``[-c for c in upper]``. Returns ``(upper, lower)``
    lists; their sums are the overall crossing probabilities (size under drift 0, power
    under the alternative's drift).
    """
    t = _check_fractions(information_fractions)
    hi = [float(c) for c in upper]
    lo = [-math.inf] * len(t) if lower is None else [float(c) for c in lower]
    if not len(hi) == len(lo) == len(t):
        raise ValueError("give one upper (and lower) bound per information fraction")
    return _crossings(t, hi, lo, drift, grid_r)


def sample_size_inflation(
    information_fractions: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
    kind: SpendingKind = "obrien-fleming",
    sides: int = 2,
    *,
    grid_r: int = GRID_R,
) -> float:
    """``I_max / I_fixed``: how much larger a group-sequential design's maximum size is.

    Solves for the drift ``θ`` at which the probability of crossing the upper bound at some
    look is ``power`` (with the lower bound in place for ``sides=2``); the fixed design needs
    ``θ = z_{1−α/sides} + z_{power}``; the ratio of the two, squared, is the inflation.
    Multiply the fixed design's units per arm by it (the looks at ``t_k`` of that maximum).
    """
    if not (0 < power < 1):
        raise ValueError(f"power {power} must be between 0 and 1")
    t = _check_fractions(information_fractions)
    upper = boundaries(t, alpha, kind, sides, grid_r=grid_r)
    lower = [-c for c in upper] if sides == 2 else [-math.inf] * len(t)
    fixed = float(special.ndtri(1 - alpha / sides) + special.ndtri(power))
    if fixed <= 0:
        raise ValueError(f"power {power} must exceed the test's size")

    def shortfall(theta: float) -> float:
        up, _ = _crossings(t, upper, lower, theta, grid_r)
        return sum(up) - power

    theta = brentq(shortfall, 0.0, 3 * fixed + 10, xtol=1e-12)
    return float((theta / fixed) ** 2)


def group_sequential(
    looks: Sequence[tuple[Moments, Moments]],
    planned_n_per_arm: int,
    alpha: float = 0.05,
    kind: SpendingKind = "obrien-fleming",
    sides: int = 2,
    *,
    grid_r: int = GRID_R,
) -> GroupSequentialResult:
    """A group-sequential test of the difference in means at the looks taken so far.

    Args:
        looks: ``(control, treatment)`` :class:`Moments` at each look, **cumulative**.
        planned_n_per_arm: the design's maximum units per arm (the fixed design's size times
            :func:`sample_size_inflation`); ``t_k = (n_c + n_t)/(2 · planned_n_per_arm)``.
        alpha: total type-I error (two-sided when ``sides=2``).
        kind: spending function type.
        sides: 2 (reject for large ``|z|``) or 1 (reject for large ``z`` only).
        grid_r: numerical grid parameter of :func:`boundaries`.

    The boundaries are computed for the observed information fractions; a look's boundary
    depends only on the looks up to it, so earlier boundaries never change as looks are added.
    """
    if not looks:
        raise ValueError("group_sequential needs at least one look")
    if not planned_n_per_arm > 0:
        raise ValueError(f"planned_n_per_arm {planned_n_per_arm} must be a positive count")
    n_c = [c.n for c, _ in looks]
    n_t = [t.n for _, t in looks]
    t = [(a + b) / (2 * planned_n_per_arm) for a, b in zip(n_c, n_t, strict=True)]
    for k in range(1, len(t)):
        if not t[k] > t[k - 1]:
            raise ValueError(
                f"look {k + 1} has no more units ({n_c[k]} + {n_t[k]}) than look {k}: "
                "looks must be cumulative and add units"
            )
    est, var = _effect_moments(looks)
    bounds = boundaries(t, alpha, kind, sides, grid_r=grid_r)
    rows = []
    for k in range(len(looks)):
        se = math.sqrt(var[k]) if var[k] > 0 else math.nan
        z = float(est[k]) / se if se > 0 else math.nan
        crossed = bool(abs(z) >= bounds[k] if sides == 2 else z >= bounds[k])
        rows.append(
            GroupSequentialLook(
                look=k + 1,
                n_control=n_c[k],
                n_treatment=n_t[k],
                information_fraction=t[k],
                estimate=float(est[k]),
                se=se,
                z=z,
                boundary=bounds[k],
                nominal_alpha=float(sides * special.ndtr(-bounds[k])),
                alpha_spent=sides * spending(t[k], alpha / sides, kind),
                crossed=crossed,
            )
        )
    stopped = next((row.look for row in rows if row.crossed), None)
    decision: Decision = (
        "reject" if stopped is not None else "fail-to-reject" if t[-1] >= 1 else "continue"
    )
    return GroupSequentialResult(
        kind=kind,
        alpha=alpha,
        sides=sides,
        planned_n_per_arm=planned_n_per_arm,
        looks=tuple(rows),
        rejected=stopped is not None,
        stopped_at=stopped,
        decision=decision,
    )


# ----- group-sequential numerics (Jennison & Turnbull, 2000, ch. 19) ----------------------------
def _grid(mean: float, lo: float, hi: float, r: int) -> tuple[FloatArray, FloatArray]:
    """J&T's grid on ``(lo, hi)`` around ``mean`` with its midpoints and Simpson weights."""
    i = np.arange(1, 6 * r, dtype=float)
    x = mean + np.where(
        i < r,
        -3 - 4 * np.log(r / i),
        np.where(i <= 5 * r, -3 + 3 * (i - r) / (2 * r), 3 + 4 * np.log(r / (6 * r - i))),
    )
    pts = x[(x > lo) & (x < hi)]
    if lo > x[0]:
        pts = np.concatenate(([lo], pts))
    if hi < x[-1]:
        pts = np.concatenate((pts, [hi]))
    if pts.size < 2 or not hi > lo:
        return np.empty(0), np.empty(0)
    z = np.empty(2 * pts.size - 1)
    z[0::2] = pts
    z[1::2] = (pts[:-1] + pts[1:]) / 2
    d = np.diff(pts)
    w = np.zeros_like(z)
    w[1::2] = 4 * d / 6
    w[0:-1:2] += d / 6
    w[2::2] += d / 6
    return z, w


@dataclass(frozen=True, slots=True, eq=False)
class _State:
    """Grid ``z`` and Simpson-weighted sub-density ``g`` of ``Z`` at fraction ``t``."""

    z: FloatArray
    g: FloatArray
    t: float


_START = _State(np.zeros(1), np.ones(1), 0.0)  # a point mass at 0 before the first look


def _exit(state: _State, tk: float, c: float, drift: float, *, upper: bool) -> float:
    """P(Z_k beyond ``c`` and inside the continuation region at every earlier look)."""
    if state.z.size == 0:
        return 0.0
    dt = tk - state.t
    x = (c * math.sqrt(tk) - state.z * math.sqrt(state.t) - drift * dt) / math.sqrt(dt)
    tail = special.ndtr(-x) if upper else special.ndtr(x)
    return float(state.g @ tail)


def _advance(state: _State, tk: float, lo: float, hi: float, drift: float, r: int) -> _State:
    """Carry the sub-density to fraction ``tk``, restricted to ``(lo, hi)``."""
    z, w = _grid(drift * math.sqrt(tk), lo, hi, r)
    if z.size == 0 or state.z.size == 0:
        return _State(np.empty(0), np.empty(0), tk)
    dt = tk - state.t
    x = (z[:, None] * math.sqrt(tk) - state.z[None, :] * math.sqrt(state.t) - drift * dt) / (
        math.sqrt(dt)
    )
    density = math.sqrt(tk / dt) * (np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)) @ state.g
    return _State(z, w * density, tk)


def _crossings(
    t: Sequence[float], upper: Sequence[float], lower: Sequence[float], drift: float, r: int
) -> tuple[list[float], list[float]]:
    state = _START
    up, down = [], []
    for tk, hi, lo in zip(t, upper, lower, strict=True):
        up.append(_exit(state, tk, hi, drift, upper=True))
        down.append(_exit(state, tk, lo, drift, upper=False))
        state = _advance(state, tk, lo, hi, drift, r)
    return up, down


def _solve_boundaries(
    t: Sequence[float], cumulative: Sequence[float], sides: int, r: int
) -> list[float]:
    """``c_k`` spending ``cumulative[k] − cumulative[k−1]`` per side at look ``k`` (drift 0)."""
    state = _START
    spent = 0.0
    out: list[float] = []
    for tk, cum in zip(t, cumulative, strict=True):
        target = cum - spent
        spent = cum
        c = _spend(state, tk, sides, target) if target > 0 else math.inf
        out.append(c)
        state = _advance(state, tk, -c if sides == 2 else -math.inf, c, 0.0, r)
    return out


def _spend(state: _State, tk: float, sides: int, target: float) -> float:
    """The bound ``c`` whose first-crossing probability at ``tk`` (per side) is ``target``."""

    def excess(c: float) -> float:
        p = _exit(state, tk, c, 0.0, upper=True)
        if sides == 2:
            p += _exit(state, tk, -c, 0.0, upper=False)
        return p - sides * target

    floor = 1e-9 if sides == 2 else -_C_MAX
    if excess(floor) < 0:
        raise ValueError(f"cannot spend {target:.3g} at t = {tk:.4g}: α is too large")
    return float(brentq(excess, floor, _C_MAX, xtol=1e-13))


def _check_fractions(information_fractions: Sequence[float]) -> list[float]:
    t = [float(x) for x in information_fractions]
    if not t:
        raise ValueError("give at least one information fraction")
    if not all(math.isfinite(x) and x > 0 for x in t) or any(
        b <= a for a, b in itertools.pairwise(t)
    ):
        raise ValueError(
            f"information fractions {t} must be positive and strictly increasing "
            "(the share of the planned information at each look)"
        )
    return t


def _check_kind(kind: str) -> None:
    if kind not in SPENDING_KINDS:
        raise ValueError(f"spending kind must be one of {SPENDING_KINDS}, not {kind!r}")


def _check_sides(sides: int) -> None:
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, not {sides!r}")
