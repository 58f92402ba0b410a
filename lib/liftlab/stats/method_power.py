"""Sample size for the way the plan decides: group-sequential, always-valid and Bayesian.

Pure functions, no I/O. :mod:`liftlab.stats.power` sizes the fixed-horizon test (and the
group-sequential maximum through its inflation factor); this module sizes the other
decision rules of :mod:`liftlab.analysis`, each for the one treatment-vs-control comparison
it is given:

- :func:`group_sequential_size`: Lan–DeMets group-sequential designs: maximum, expected
  units and the chance of stopping at each look.
- :func:`msprt_size`: always-valid designs (``method="msprt"`` or ``"asymptotic-cs"``): the
  units by which the test has rejected with probability ``power``.
- :func:`bayesian_size`: the Bayesian rule "ship when the chance to beat control is at least
  ``ship_threshold``" (or, by name, "when the expected loss of shipping is at most
  ``loss_threshold``").

Notation (as in :mod:`liftlab.stats.power`). ``N`` is the total number of units; arm ``g``
gets ``n_g = N·w_g`` of them (``w_c`` control, ``w_t`` the treatment; with more arms the
shares of all arms sum to 1, so ``w_c + w_t ≤ 1``). ``var_c`` and ``var_t`` are the per-unit
variances of the metric in each arm: ``p(1−p)`` for a proportion, ``sd²`` for a mean, the
linearised ``σ²_lin`` for a ratio, each possibly times CUPED's ``1 − ρ²``. The variance of
the effect estimate ``Δ̂ = ȳ_t − ȳ_c`` is ``V_N = v/N`` with ``v = var_c/w_c + var_t/w_t``.
``δ`` (``delta``) is the true absolute effect (treatment − control) the design is powered
for, the MDE; ``Φ`` and ``φ`` are the standard normal cdf and density, ``z_q = Φ⁻¹(q)``.
``alpha`` is the level of one comparison: the caller divides the plan's α by the number of
comparisons when the plan corrects for several (Bonferroni; conservative for Holm).
Sizes are exact (unrounded) ``N``; round each arm up as :mod:`liftlab.stats.power` does.

Group-sequential designs
------------------------
``K`` looks at information fractions ``0 < t_1 < … < t_K = 1`` of the maximum ``N_max``,
Lan–DeMets O'Brien–Fleming- or Pocock-type spending, symmetric two-sided bounds ``±c_k``
(``sides=2``, ``α/2`` per side) or one upper bound (``sides=1``), no futility bound: the
bounds, the inflation factor ``IF`` and the crossing probabilities all come from
:mod:`liftlab.stats.sequential` (Jennison & Turnbull, 2000, *Group Sequential Methods with
Applications to Clinical Trials*, ch. 2 and 19). ``N_max = N_fixed · IF``. Under a drift
``θ`` (the mean of ``Z`` at ``t = 1``) the test stops at look ``k < K`` when ``Z_k`` first
crosses either bound, and at look ``K`` otherwise, so
``P(stop at K) = 1 − Σ_{k<K} P(stop at k)`` and the expected size is
``E[N] = N_max · Σ_k t_k · P(stop at k)`` (Jennison & Turnbull §2.7). Under the alternative
(the MDE) ``θ = (z_{1−α/sides} + z_{power}) · sqrt(IF)``; under the null ``θ = 0``.

Always-valid designs
--------------------
The mSPRT of :mod:`liftlab.stats.sequential` rejects at a look when
``Λ_n ≥ 1/α``. With ``Z = Δ̂/sqrt(V)`` and ``r = τ²/V`` (``τ`` the mixing sd):

    log Λ = −½ log(1 + r) + Z² r / (2(1 + r)) ≥ −log α  ⟺  |Z| ≥ c(r),
    c(r)² = (1 + r)/r · (log(1 + r) − 2 log α).

- ``method="msprt"``: ``τ`` defaults to ``|δ|``, the analysis's default (the plan's MDE in
  absolute units), so ``r = τ²N/v`` grows with ``N``.
- ``method="asymptotic-cs"``: the Robbins-mixture confidence sequence is the same boundary
  with ``r = t·ρ²``, ``t = N·(w_c + w_t)`` the units of the two arms compared and
  ``ρ² = robbins_rho2(2·planned_n, alpha=tune_alpha)``, as the analysis tunes it
  (``planned_n`` units per arm; default the fixed-horizon design's control arm
  ``N_fixed·w_c``, what the analysis uses when the plan states none; ``tune_alpha`` is the
  plan's α, default ``alpha``: the analysis tunes ``ρ`` at the plan's α and compares the
  corrected p-value with it).

Power counts the paths that cross the bound on ``δ``'s side (a crossing on the wrong side is
not a detection; under the MDE it is rarer than ``α``). Two sizes:

(a) *Final look only*, closed form: reject at ``N`` alone, ``P ≈ Φ(|δ|/sqrt(V_N) − c(r_N))``,
    ``n_final_look`` the ``N`` where this is ``power`` (Brent's method on ``log N``). Looks
    before ``N`` can only add rejections, so this is conservative (an upper bound on the
    size under any schedule that ends at ``N``).
(b) *Under a look schedule* (``looks`` equally spaced in information, i.e. in units at steady
    traffic: daily looks for ``looks`` days are ``looks = planned days``, the analysis looks
    once a day; or any ``information_fractions`` ending at 1): the path of ``Z`` is a
    Brownian motion, ``Z_k = θ·sqrt(t_k) + B(t_k)/sqrt(t_k)`` with ``θ = |δ|·sqrt(N/v)``
    and ``r_k = r_N·t_k``. ``paths`` (20,000) seeded paths of ``B`` are drawn once and reused
    for every ``N`` (common random numbers, ``numpy.random.default_rng(seed)``), and
    ``n_schedule`` is found by bisection on ``log N`` (relative tolerance 1e-4) for the
    simulated power to reach ``power``. Its Monte Carlo standard error is
    ``sqrt(power·(1−power)/paths)`` divided by the slope of the simulated power in ``N``
    (a central difference over ``N·e^{±0.1}``). At most ``MAX_LOOKS`` looks.
(c) *Daily looks at a given traffic* (``daily_units``: units of all arms a day, as in
    :func:`liftlab.stats.power.sample_size`): a look after every ``daily_units`` units, the
    analysis's schedule. The looks sit at fixed numbers of units whatever the length of the
    test, so each path's first crossing is found in one pass over the days and the answer is
    a whole number of days: the first day by which a share ``power`` of the paths has
    crossed (``looks`` = those days, ``n_schedule`` = days × ``daily_units``; the same
    common random numbers, the standard error by a central difference over ±10% of the
    days). At most ``MAX_LOOKS`` days.

``total`` is ``n_schedule`` when a schedule is given and ``n_final_look`` otherwise;
``price_of_peeking = total / N_fixed``, with ``N_fixed = (z_{1−α/2} + z_{power})²·v/δ²`` the
two-sided fixed-horizon size of the same comparison (the unpooled convention). The mSPRT is
never smaller than the one-sided fixed test (Neyman–Pearson: ``Z_N`` is sufficient for
``δ`` and ``c(r) ≥ sqrt(−2 log α) ≥ z_{1−α}``); that is the lower end of every search.

Bayesian designs
----------------
The analysis (:mod:`liftlab.stats.bayesian`) ships a treatment when its chance to beat
control is at least ``ship_threshold``; :func:`bayesian_size` finds the ``N`` at which that
happens with probability ``power`` when the true effect is ``δ``. Each model turns the two
statistics the analysis sees, ``x = (x_c, x_t)`` (the arms' means or rates, independent and
normal around the truth ``x0`` with variances ``var_g/n_g``), into a normal posterior
``N(μ(x), σ(x)²)`` of the effect in the good direction; the rule ships when
``G(x) = μ(x) − m(σ(x)) ≥ 0``. With ``G`` linearised at ``x0`` (the delta method; central
differences of 1e-4 sd),

    power(N) = Φ( G(x0) / sqrt(Σ_g (∂G/∂x_g)²·var_g/n_g) ).

Where ``σ`` does not depend on the data (the absolute Gaussian model) ``G`` is linear and
this is exact: ``power = Φ((δ − c(V))/sqrt(V))`` with ``c(V)`` the smallest estimate that
ships. Where it does (a relative effect, whose delta-method variance the analysis takes at
the observed means; the Beta posteriors) the linearisation keeps that dependence. For a 25%
lift at a coefficient of variation of 1.5 (flat prior, 40/60 shares), the size that holds
``σ`` at the true means (1,404 units) is planned for 0.80, but ``gaussian_effect`` ships
there in 0.853 of simulated tests; the linearised margin gives 0.866.

- ``criterion="prob_beat"`` (default): ``Φ(μ/σ) ≥ ship_threshold`` ⟺ ``μ ≥ z_t·σ``,
  ``t = ship_threshold``.
- ``criterion="expected_loss"``: ship when the expected loss of shipping
  ``E[max(0, −Δ)] = σ·φ(μ/σ) − μ·Φ(−μ/σ)`` is at most ``loss_threshold`` (in the metric's
  units, as ``expected_loss`` in the results); ``m(σ)`` solves loss = threshold (Brent's
  method; the loss falls as ``μ`` grows). The analysis reports this loss but decides by the
  chance to beat control.

Models (``model``), as the analysis chooses them:

- ``gaussian`` (means, ratios, CUPED-adjusted metrics; ``x`` the arms' means, ``v_g =
  var_g/n_g``): ``effect="absolute"``: ``Δ̂ = x_t − x_c``, ``V = v_c + v_t = v/N``;
  ``effect="relative"``: ``Δ̂ = x_t/x_c − 1`` and its delta-method variance at the observed
  means, ``V = v_t/x_c² + x_t²·v_c/x_c⁴`` (as :func:`~liftlab.stats.bayesian.gaussian_effect`;
  needs ``control_mean = m_c > 0``; the truth is ``x0 = (m_c, m_c + δ)``). Flat prior
  (``prior_sd=None``): ``μ = Δ̂``, ``σ = sqrt(V)``; normal prior ``N(μ0, s0²)`` on that
  scale (``prior_mean``, ``prior_sd``): ``1/σ² = 1/V + 1/s0²``, ``μ = σ²·(Δ̂/V + μ0/s0²)``
  (the conjugate update). Flat, absolute, ``prob_beat``: ``N = (z_t + z_{power})²·v/δ²``,
  the one-sided fixed-horizon test at ``α = 1 − t``. A relative loss threshold is
  ``loss_threshold/m_c`` (the analysis's losses in metric units are the relative ones times
  the control mean).
- ``beta-binomial`` (proportions without a covariate; a ``Beta(a, b)`` prior on each arm's
  rate, ``beta_prior``): normal approximation of the two Beta posteriors. ``x`` are the
  observed rates ``s_g/n_g``, ``x0 = (p_c, p_c + δ)`` with ``p_c = control_mean``; the
  posterior means ``m_g = (a + n_g x_g)/(a + b + n_g)``, ``μ = m_t − m_c`` and
  ``σ² = Σ m_g(1−m_g)/(a + b + n_g + 1)`` (the Beta variances). ``var_c`` and ``var_t``
  must be the rates' ``p(1−p)``.

``direction="decrease"`` (lower is better) flips the signs of ``δ``, ``Δ̂`` and
``prior_mean``; ``delta`` must point in the good direction. The prior alone can decide
(``μ0 ≥ m(s0)``): then no data are needed and the function says so. ``N`` is the smallest
total on a doubling grid from ``2/min(w_c, w_t)`` where the power reaches ``power``, refined
by Brent's method on ``log N``.

No correction across arms: the analysis compares every treatment's chance to beat control
with the same ``ship_threshold`` whatever the number of arms (a Bayesian plan's
``correction`` does not apply), so the threshold is used as it is.

Each function raises ``ValueError`` with one line naming the bad input.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from liftlab.stats.frequentist import normal_expected_loss
from liftlab.stats.sequential import (
    boundaries,
    crossing_probabilities,
    robbins_rho2,
    sample_size_inflation,
)

SpendingKind = Literal["obrien-fleming", "pocock"]
AlwaysValidKind = Literal["msprt", "asymptotic-cs"]
BayesModel = Literal["gaussian", "beta-binomial"]
BayesCriterion = Literal["prob_beat", "expected_loss"]

DEFAULT_PATHS = 20_000
DEFAULT_SEED = 20_261_207
MAX_LOOKS = 400
_MAX_N = 1e15
_BISECT_RTOL = 1e-4
_SLOPE_STEP = 0.1


def _plain(value: Any) -> Any:
    """Tuples become lists, so that ``to_dict`` holds plain JSON types."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ===== results ===================================================================================
@dataclass(frozen=True, slots=True)
class GroupSequentialSize:
    """A group-sequential design's sizes (module docstring, "Group-sequential designs").

    Attributes:
        kind, sides, alpha, power: the design (``alpha`` per comparison, total over sides).
        information_fractions: ``t_k`` of each look, the last 1.
        boundaries: the z bound ``c_k`` of each look.
        inflation: ``IF = N_max / N_fixed``.
        n_fixed: the fixed-horizon ``N`` it was given; ``n_max = n_fixed · IF``.
        expected_n_alternative, expected_n_null: ``E[N]`` under the MDE and under no effect.
        stop_alternative, stop_null: the chance of stopping at each look (sums to 1).
    """

    kind: str
    sides: int
    alpha: float
    power: float
    information_fractions: tuple[float, ...]
    boundaries: tuple[float, ...]
    inflation: float
    n_fixed: float
    n_max: float
    expected_n_alternative: float
    expected_n_null: float
    stop_alternative: tuple[float, ...]
    stop_null: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return _plain(asdict(self))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class AlwaysValidSize:
    """An always-valid design's sizes (module docstring, "Always-valid designs").

    Attributes:
        method: ``msprt`` or ``asymptotic-cs``.
        alpha, power, delta: the level of the comparison, the power, the true effect.
        tau: the mSPRT's mixing sd (``None`` for ``asymptotic-cs``).
        rho2, planned_n: the asymptotic sequence's tuning and planned units per arm
            (``None`` for ``msprt``).
        n_fixed: the two-sided fixed-horizon ``N`` of the same comparison.
        n_final_look: the closed-form ``N`` rejecting at the final look alone (conservative).
        looks, information_fractions: the look schedule (``None`` without one); with
            ``daily_units`` ``looks`` is the number of days and ``n_schedule`` their units.
        daily_units: units (all arms) between two looks, when the schedule is daily.
        n_schedule, n_schedule_se: the simulated ``N`` under the schedule and its Monte Carlo
            standard error (``None`` without a schedule).
        power_final_look: the closed-form final-look power at ``total``.
        paths, seed: the simulation's paths and seed (``None`` without a schedule).
        total: the ``N`` to plan by (``n_schedule``, else ``n_final_look``).
        price_of_peeking: ``total / n_fixed``.
    """

    method: str
    alpha: float
    power: float
    delta: float
    tau: float | None
    rho2: float | None
    planned_n: float | None
    n_fixed: float
    n_final_look: float
    looks: int | None
    information_fractions: tuple[float, ...] | None
    daily_units: float | None
    n_schedule: float | None
    n_schedule_se: float | None
    power_final_look: float
    paths: int | None
    seed: int | None
    total: float
    price_of_peeking: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (``None`` where undefined)."""
        return _plain(asdict(self))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class BayesianSize:
    """A Bayesian design's size (module docstring, "Bayesian designs").

    Attributes:
        model, criterion, effect, direction: the analysis's model and the decision rule.
        threshold: ``ship_threshold`` (``prob_beat``) or ``loss_threshold`` in the metric's
            units (``expected_loss``).
        prior: the prior, in words.
        delta, power: the true absolute effect and the chance of shipping under it.
        total, n_control, n_treatment: ``N`` and the two arms' units (unrounded).
        posterior_sd: ``σ`` at ``total`` on the modelled scale, at the true means.
    """

    model: str
    criterion: str
    effect: str
    direction: str
    threshold: float
    prior: str
    delta: float
    power: float
    total: float
    n_control: float
    n_treatment: float
    posterior_sd: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return _plain(asdict(self))  # type: ignore[no-any-return]


# ===== group-sequential ==========================================================================
def group_sequential_size(
    n_fixed: float,
    *,
    looks: int | None = None,
    information_fractions: Sequence[float] | None = None,
    kind: SpendingKind = "obrien-fleming",
    alpha: float = 0.05,
    power: float = 0.8,
    sides: int = 2,
) -> GroupSequentialSize:
    """Maximum and expected size of a Lan–DeMets group-sequential design.

    Args:
        n_fixed: the fixed-horizon ``N`` of the same comparison at ``alpha`` and ``power``.
        looks: ``K`` equally spaced looks; or ``information_fractions`` ending at 1.
        kind: ``obrien-fleming`` or ``pocock`` type spending.
        alpha: the comparison's level (two-sided total when ``sides=2``).
        power: the chance to cross the upper bound under the MDE.
        sides: 2 (symmetric bounds) or 1 (upper bound only).
    """
    _positive("n_fixed", n_fixed)
    _probability("alpha", alpha)
    _probability("power", power)
    if kind not in ("obrien-fleming", "pocock"):
        raise ValueError(f"kind {kind!r} is not known; use obrien-fleming or pocock")
    if sides not in (1, 2):
        raise ValueError(f"sides {sides!r} must be 1 (one-sided) or 2 (two-sided)")
    t = _schedule(looks, information_fractions)
    if t is None:
        raise ValueError("give looks (a whole number ≥ 1) or information_fractions ending at 1")
    if _z(1 - alpha / sides) + _z(power) <= 0:
        raise ValueError(f"power {power} must exceed the test's size {alpha / sides:g}")
    inflation = sample_size_inflation(t, alpha, power, kind, sides) if len(t) > 1 else 1.0
    upper = boundaries(t, alpha, kind, sides)
    drift = (_z(1 - alpha / sides) + _z(power)) * math.sqrt(inflation)
    stop_alt = _stops(t, upper, sides, drift)
    stop_null = _stops(t, upper, sides, 0.0)
    n_max = float(n_fixed) * inflation
    return GroupSequentialSize(
        kind=kind,
        sides=sides,
        alpha=alpha,
        power=power,
        information_fractions=t,
        boundaries=tuple(upper),
        inflation=inflation,
        n_fixed=float(n_fixed),
        n_max=n_max,
        expected_n_alternative=n_max * sum(a * b for a, b in zip(t, stop_alt, strict=True)),
        expected_n_null=n_max * sum(a * b for a, b in zip(t, stop_null, strict=True)),
        stop_alternative=stop_alt,
        stop_null=stop_null,
    )


def _stops(
    t: Sequence[float], upper: Sequence[float], sides: int, drift: float
) -> tuple[float, ...]:
    """The chance of stopping at each look: a first crossing before the last, the rest at it."""
    lower = [-c for c in upper] if sides == 2 else None
    up, down = crossing_probabilities(t, upper, lower, drift=drift)
    early = [min(max(u + d, 0.0), 1.0) for u, d in zip(up[:-1], down[:-1], strict=True)]
    return (*early, max(0.0, 1.0 - sum(early)))


# ===== always valid ==============================================================================
def msprt_size(
    var_c: float,
    var_t: float,
    delta: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    w_c: float = 0.5,
    w_t: float = 0.5,
    tau: float | None = None,
    looks: int | None = None,
    information_fractions: Sequence[float] | None = None,
    daily_units: float | None = None,
    method: AlwaysValidKind = "msprt",
    planned_n: float | None = None,
    tune_alpha: float | None = None,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
) -> AlwaysValidSize:
    """Units by which an always-valid test rejects with probability ``power`` under ``delta``.

    Args:
        var_c, var_t: per-unit variances of the metric in control and the treatment.
        delta: the true absolute effect (treatment − control), not 0.
        alpha: the comparison's level (Bonferroni-adjusted by the caller).
        power: the chance of rejecting on ``delta``'s side by the last look.
        w_c, w_t: the two arms' shares of all units.
        tau: the mSPRT's mixing sd in the metric's units (default ``|delta|``).
        looks: equally spaced looks (e.g. one per planned day); or
            ``information_fractions`` ending at 1; or ``daily_units``: a look after every
            ``daily_units`` units (all arms), as the analysis looks once a day. None of
            them: the final look only.
        method: ``msprt`` or ``asymptotic-cs``.
        planned_n: ``asymptotic-cs``: the planned units per arm it is tuned to.
        tune_alpha: ``asymptotic-cs``: the α its ``ρ`` is tuned at (default ``alpha``).
        paths, seed: the simulation of the look schedule.
    """
    v = _unit_variance(var_c, var_t, w_c, w_t)
    _probability("alpha", alpha)
    _probability("power", power)
    if not (math.isfinite(delta) and delta != 0):
        raise ValueError(f"delta {delta} must be a non-zero effect")
    d = abs(float(delta))
    n_fixed = (_z(1 - alpha / 2) + _z(power)) ** 2 * v / d**2
    tau_used, rho2, planned = _mixing(method, d, tau, planned_n, tune_alpha, alpha, n_fixed * w_c)
    # r = kappa · N at a look after N units
    edge = _Edge(d, v, tau_used**2 / v if rho2 is None else rho2 * (w_c + w_t), alpha)
    lo = (_z(1 - alpha) + _z(power)) ** 2 * v / d**2
    n_final = _solve_log(lambda n: edge.final_power(n) - power, lo)
    t = _schedule(looks, information_fractions)
    n_sched, se, days = _schedule_size(t, daily_units, edge, power, lo, n_final, paths, seed)
    total = n_final if n_sched is None else n_sched
    simulated = n_sched is not None
    return AlwaysValidSize(
        method=method,
        alpha=alpha,
        power=power,
        delta=float(delta),
        tau=tau_used if rho2 is None else None,
        rho2=rho2,
        planned_n=planned,
        n_fixed=n_fixed,
        n_final_look=n_final,
        looks=days if t is None else len(t),
        information_fractions=t,
        daily_units=None if daily_units is None else float(daily_units),
        n_schedule=n_sched,
        n_schedule_se=se,
        power_final_look=edge.final_power(total),
        paths=paths if simulated else None,
        seed=seed if simulated else None,
        total=total,
        price_of_peeking=total / n_fixed,
    )


def _mixing(
    method: str,
    d: float,
    tau: float | None,
    planned_n: float | None,
    tune_alpha: float | None,
    alpha: float,
    default_planned: float,
) -> tuple[float, float | None, float | None]:
    """``(τ, ρ², planned_n)``: the mSPRT's τ, or the asymptotic sequence's ρ² and planned_n."""
    if method == "msprt":
        if planned_n is not None or tune_alpha is not None:
            raise ValueError("planned_n and tune_alpha tune asymptotic-cs; drop them for msprt")
        if tau is None:
            return d, None, None
        _positive("tau", tau)
        return float(tau), None, None
    if method == "asymptotic-cs":
        if tau is not None:
            raise ValueError("tau is the mSPRT's; asymptotic-cs is tuned by planned_n")
        planned = default_planned if planned_n is None else planned_n
        _positive("planned_n", planned)
        a = alpha if tune_alpha is None else tune_alpha
        _probability("tune_alpha", a)
        return 0.0, robbins_rho2(2 * planned, alpha=a), float(planned)
    raise ValueError(f"method {method!r} is not known; use msprt or asymptotic-cs")


def _bound(r: npt.ArrayLike, alpha: float) -> Any:
    """The mSPRT's z bound ``c(r) = sqrt((1 + r)/r · (log(1 + r) − 2 log α))``."""
    r = np.asarray(r, dtype=float)
    return np.sqrt((1 + r) / r * (np.log1p(r) - 2 * math.log(alpha)))


@dataclass(frozen=True, slots=True)
class _Edge:
    """The boundary on δ's side after ``N`` units: ``Z ≥ c(κN)``, ``E[Z] = |δ|·sqrt(N/v)``."""

    d: float
    v: float
    kappa: float
    alpha: float

    def margin(self, big_n: npt.ArrayLike) -> Any:
        """How far the noise ``Z − E[Z]`` must reach: ``c(κN) − |δ|·sqrt(N/v)``."""
        n = np.asarray(big_n, dtype=float)
        return _bound(self.kappa * n, self.alpha) - self.d * np.sqrt(n / self.v)

    def final_power(self, big_n: float) -> float:
        """``Φ(|δ|·sqrt(N/v) − c(κN))``: rejection at ``N`` by the final look alone."""
        return float(special.ndtr(-self.margin(big_n)))


@functools.lru_cache(maxsize=8)
def _brownian(t: tuple[float, ...], paths: int, seed: int) -> npt.NDArray[np.float32]:
    """``B(t_k)/sqrt(t_k)`` on ``paths`` seeded standard Brownian paths (read-only)."""
    rng = np.random.default_rng(seed)
    step = np.sqrt(np.diff(np.concatenate(([0.0], t)))).astype(np.float32)
    b = np.cumsum(rng.standard_normal((paths, len(t)), dtype=np.float32) * step, axis=1)
    b /= np.sqrt(np.asarray(t, dtype=np.float32))
    b.setflags(write=False)
    return b


def _schedule_size(
    t: tuple[float, ...] | None,
    daily_units: float | None,
    edge: _Edge,
    power: float,
    lo: float,
    n_final: float,
    paths: int,
    seed: int,
) -> tuple[float | None, float | None, int | None]:
    """``(n_schedule, its SE, days)`` under the look schedule; ``None`` for the final look."""
    if isinstance(paths, bool) or not isinstance(paths, int) or paths < 1_000:
        raise ValueError(f"paths {paths!r} must be a whole number of at least 1000")
    if t is None and daily_units is None:
        return None, None, None
    if daily_units is None:
        assert t is not None
        return (*_simulated_size(t, edge, power, lo, n_final, paths, seed), None)
    if t is not None:
        raise ValueError("give looks, information_fractions or daily_units, not several")
    _positive("daily_units", daily_units)
    days, se = _daily_size(float(daily_units), edge, power, n_final, paths, seed)
    return days * float(daily_units), se, days


def _simulated_size(
    t: tuple[float, ...], edge: _Edge, power: float, lo: float, hi: float, paths: int, seed: int
) -> tuple[float, float]:
    """``N`` where the simulated power under the schedule ``t`` reaches ``power``, and its SE."""
    u = _brownian(t, paths, seed)
    tk = np.asarray(t)

    def sim_power(big_n: float) -> float:
        return float(np.mean((u >= edge.margin(big_n * tk).astype(np.float32)).any(axis=1)))

    lo *= 0.5
    while sim_power(hi) < power:
        hi *= 2
        if hi > _MAX_N:
            raise ValueError("the effect is too small to detect with fewer than 1e15 units")
    while hi / lo - 1 > _BISECT_RTOL:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if sim_power(mid) < power else (lo, mid)
    e = math.exp(_SLOPE_STEP)
    slope = (sim_power(hi * e) - sim_power(hi / e)) / (hi * (e - 1 / e))
    return hi, _power_se(power, paths) / slope if slope > 0 else math.inf


def _daily_size(
    daily: float, edge: _Edge, power: float, n_final: float, paths: int, seed: int
) -> tuple[int, float]:
    """Whole days of looks (every ``daily`` units) by which the simulated power reaches
    ``power``, and the SE of ``N``. A path's first crossing does not depend on later days, so
    one pass over the days gives the power at every length."""
    k_max = min(math.ceil(1.2 * n_final / daily) + 1, MAX_LOOKS)
    days = np.arange(1, k_max + 1, dtype=float)
    u = _brownian(tuple(days), paths, seed)
    crossed = u >= edge.margin(days * daily).astype(np.float32)
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), k_max)
    share = np.cumsum(np.bincount(first, minlength=k_max + 1)[:k_max]) / paths
    k = int(np.searchsorted(share, power))  # share[k] ≥ power: k + 1 days
    if k >= k_max:
        raise ValueError(
            f"at {daily:g} units a day the test needs more than {MAX_LOOKS} days of looks; "
            "give looks (equally spaced) instead of daily_units"
        )
    h = max(1, round(_SLOPE_STEP * (k + 1)))
    a, b = max(k - h, 0), min(k + h, k_max - 1)
    slope = (share[b] - share[a]) / ((b - a) * daily) if b > a else 0.0
    return k + 1, _power_se(power, paths) / slope if slope > 0 else math.inf


def _power_se(power: float, paths: int) -> float:
    return math.sqrt(power * (1 - power) / paths)


# ===== Bayesian ==================================================================================
@dataclass(frozen=True, slots=True)
class _Stage:
    """At one ``N``: the two statistics the analysis sees, ``x ~ N(x0, diag(sd²))`` (control
    first), and ``posterior(x) = (μ, σ)`` on the modelled scale, good direction positive."""

    x0: tuple[float, float]
    sd: tuple[float, float]
    posterior: Callable[[float, float], tuple[float, float]]


def _ship_power(stage: _Stage, required: Callable[[float], float]) -> float:
    """``Φ(G(x0)/sd_G)`` for the ship margin ``G(x) = μ(x) − m(σ(x))``, linearised at ``x0``
    (central differences of ``10⁻⁴`` sd; exact when ``G`` is linear)."""

    def margin(x: tuple[float, float]) -> float:
        mu, sigma = stage.posterior(*x)
        return mu - required(sigma)

    var = 0.0
    for i in (0, 1):
        h = 1e-4 * stage.sd[i]
        up = tuple(x + h * (j == i) for j, x in enumerate(stage.x0))
        down = tuple(x - h * (j == i) for j, x in enumerate(stage.x0))
        var += ((margin(up) - margin(down)) / 2 / h * stage.sd[i]) ** 2  # type: ignore[arg-type]
    return float(special.ndtr(margin(stage.x0) / math.sqrt(var)))


def bayesian_size(
    var_c: float,
    var_t: float,
    delta: float,
    *,
    power: float = 0.8,
    w_c: float = 0.5,
    w_t: float = 0.5,
    ship_threshold: float = 0.95,
    criterion: BayesCriterion = "prob_beat",
    loss_threshold: float | None = None,
    model: BayesModel = "gaussian",
    effect: Literal["absolute", "relative"] = "absolute",
    control_mean: float | None = None,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    beta_prior: tuple[float, float] = (1.0, 1.0),
    direction: Literal["increase", "decrease"] = "increase",
) -> BayesianSize:
    """Units at which the Bayesian rule ships with probability ``power`` under ``delta``.

    Args:
        var_c, var_t: per-unit variances in control and the treatment.
        delta: the true absolute effect (treatment − control), in the good direction.
        power: the chance of shipping under ``delta``.
        w_c, w_t: the two arms' shares of all units.
        ship_threshold: ship when the chance to beat control is at least this.
        criterion: ``prob_beat`` or ``expected_loss`` (then ``loss_threshold``, metric units).
        model: ``gaussian`` or ``beta-binomial`` (proportions without a covariate).
        effect: ``gaussian``: the scale of the model and the prior.
        control_mean: the control mean (``relative`` and ``beta-binomial``).
        prior_mean, prior_sd: ``gaussian``: a ``N(prior_mean, prior_sd²)`` prior (flat if
            ``prior_sd`` is ``None``).
        beta_prior: ``beta-binomial``: ``(a, b)`` of each arm's ``Beta`` prior.
        direction: the metric's good direction.
    """
    _unit_variance(var_c, var_t, w_c, w_t)
    _probability("power", power)
    sign = _good_sign(delta, direction)
    stage, prior_text, scale = _bayes_model(
        var_c,
        var_t,
        delta,
        sign,
        w_c,
        w_t,
        model,
        effect,
        control_mean,
        prior_mean,
        prior_sd,
        beta_prior,
    )
    required, threshold = _ship_rule(criterion, ship_threshold, loss_threshold, scale)

    def shortfall(big_n: float) -> float:
        return _ship_power(stage(big_n), required) - power

    if prior_sd is not None and sign * prior_mean >= required(float(prior_sd)):
        raise ValueError(
            f"the prior N({prior_mean:g}, {prior_sd:g}²) alone meets the ship rule: "
            "no data are needed; use a wider prior_sd or a prior_mean nearer 0"
        )
    big_n = _first_root(shortfall, 2 / min(w_c, w_t))
    at_n = stage(big_n)
    return BayesianSize(
        model=model,
        criterion=criterion,
        effect=effect if model == "gaussian" else "absolute",
        direction=direction,
        threshold=threshold,
        prior=prior_text,
        delta=float(delta),
        power=power,
        total=big_n,
        n_control=big_n * w_c,
        n_treatment=big_n * w_t,
        posterior_sd=at_n.posterior(*at_n.x0)[1],
    )


def _good_sign(delta: float, direction: str) -> float:
    """``+1`` for ``increase``, ``−1`` for ``decrease``, after checking ``delta`` points that way."""
    if direction not in ("increase", "decrease"):
        raise ValueError(f"direction {direction!r} is not known; use increase or decrease")
    sign = 1.0 if direction == "increase" else -1.0
    if not (math.isfinite(delta) and sign * delta > 0):
        raise ValueError(
            f"delta {delta} must be a non-zero effect in the good direction "
            f"({'positive' if sign > 0 else 'negative'} for direction={direction!r})"
        )
    return sign


def _bayes_model(
    var_c: float,
    var_t: float,
    delta: float,
    sign: float,
    w_c: float,
    w_t: float,
    model: str,
    effect: str,
    control_mean: float | None,
    prior_mean: float,
    prior_sd: float | None,
    beta_prior: tuple[float, float],
) -> tuple[Callable[[float], _Stage], str, float]:
    """``N ↦ _Stage``, the prior in words, and the scale (``m_c`` relative, else 1)."""
    if model == "gaussian":
        if effect not in ("absolute", "relative"):
            raise ValueError(f"effect {effect!r} is not known; use absolute or relative")
        scale = 1.0
        if effect == "relative":
            if control_mean is None or not (math.isfinite(control_mean) and control_mean > 0):
                raise ValueError(
                    f"a relative effect needs control_mean > 0 (got {control_mean}); "
                    "use effect='absolute'"
                )
            scale = float(control_mean)
        return _gaussian(var_c, var_t, delta, sign, w_c, w_t, effect, scale, prior_mean, prior_sd)
    if model == "beta-binomial":
        if prior_sd is not None or prior_mean != 0:
            raise ValueError("prior_mean and prior_sd are the Gaussian model's; use beta_prior")
        return (
            _beta(var_c, var_t, delta, sign, w_c, w_t, control_mean, beta_prior),
            (f"Beta({beta_prior[0]:g}, {beta_prior[1]:g}) on each arm's rate"),
            1.0,
        )
    raise ValueError(f"model {model!r} is not known; use gaussian or beta-binomial")


def _gaussian(
    var_c: float,
    var_t: float,
    delta: float,
    sign: float,
    w_c: float,
    w_t: float,
    effect: str,
    m_c: float,
    prior_mean: float,
    prior_sd: float | None,
) -> tuple[Callable[[float], _Stage], str, float]:
    """The Gaussian model on the absolute or the relative (delta-method) effect: ``x`` are the
    arms' means; the relative variance is taken at the observed means, as the analysis does."""
    if not math.isfinite(prior_mean):
        raise ValueError(f"prior_mean {prior_mean} must be a finite number")
    if prior_sd is None:
        text = f"flat on the {effect} effect"
    else:
        _positive("prior_sd", prior_sd)
        text = f"Normal(mean={prior_mean:g}, sd={prior_sd:g}) on the {effect} effect"
    mu0 = sign * prior_mean

    def at(big_n: float) -> _Stage:
        v_c, v_t = var_c / (big_n * w_c), var_t / (big_n * w_t)

        def posterior(mc: float, mt: float) -> tuple[float, float]:
            if effect == "relative":
                est, var = mt / mc - 1, v_t / mc**2 + mt**2 * v_c / mc**4
            else:
                est, var = mt - mc, v_c + v_t
            if prior_sd is None:
                return sign * est, math.sqrt(var)
            post_var = 1 / (1 / var + 1 / prior_sd**2)
            return post_var * (sign * est / var + mu0 / prior_sd**2), math.sqrt(post_var)

        return _Stage((m_c, m_c + delta), (math.sqrt(v_c), math.sqrt(v_t)), posterior)

    return at, text, m_c


def _beta(
    var_c: float,
    var_t: float,
    delta: float,
    sign: float,
    w_c: float,
    w_t: float,
    control_mean: float | None,
    beta_prior: tuple[float, float],
) -> Callable[[float], _Stage]:
    """The normal approximation of the Beta-Binomial model: ``x`` are the observed rates."""
    if control_mean is None or not 0 < control_mean < 1:
        raise ValueError(
            f"beta-binomial needs control_mean, the control rate in (0, 1), got {control_mean}"
        )
    p_c, p_t = float(control_mean), float(control_mean) + delta
    if not 0 < p_t < 1:
        raise ValueError(f"the treatment rate {p_t:g} = control_mean + delta must lie in (0, 1)")
    for name, var, p in (("var_c", var_c, p_c), ("var_t", var_t, p_t)):
        if abs(var - p * (1 - p)) > 1e-9 + 1e-6 * p * (1 - p):
            raise ValueError(
                f"{name} {var:g} is not the rate's p(1−p) = {p * (1 - p):g}: the beta-binomial "
                "model is for a proportion without CUPED; use model='gaussian'"
            )
    a, b = (float(x) for x in beta_prior)
    if not all(math.isfinite(x) and x > 0 for x in (a, b)):
        raise ValueError(f"beta_prior {beta_prior} must be two positive numbers")

    def at(big_n: float) -> _Stage:
        n_c, n_t = big_n * w_c, big_n * w_t

        def posterior(r_c: float, r_t: float) -> tuple[float, float]:
            m_c, m_t = (a + n_c * r_c) / (a + b + n_c), (a + n_t * r_t) / (a + b + n_t)
            var = m_c * (1 - m_c) / (a + b + n_c + 1) + m_t * (1 - m_t) / (a + b + n_t + 1)
            return sign * (m_t - m_c), math.sqrt(var)

        sd = (math.sqrt(p_c * (1 - p_c) / n_c), math.sqrt(p_t * (1 - p_t) / n_t))
        return _Stage((p_c, p_t), sd, posterior)

    return at


def _ship_rule(
    criterion: str, ship_threshold: float, loss_threshold: float | None, scale: float
) -> tuple[Callable[[float], float], float]:
    """``σ ↦ m(σ)``, the smallest posterior mean that ships, and the threshold used."""
    if criterion == "prob_beat":
        if loss_threshold is not None:
            raise ValueError("loss_threshold goes with criterion='expected_loss'")
        if not 0.5 < ship_threshold < 1:
            raise ValueError(
                f"ship_threshold {ship_threshold} must lie between 0.5 and 1 (0.95 is usual)"
            )
        z_t = _z(ship_threshold)
        return (lambda sigma: z_t * sigma), float(ship_threshold)
    if criterion == "expected_loss":
        if loss_threshold is None:
            raise ValueError(
                "criterion='expected_loss' needs loss_threshold, in the metric's units"
            )
        _positive("loss_threshold", loss_threshold)
        eps = float(loss_threshold) / scale

        def required(sigma: float) -> float:
            def excess(m: float) -> float:
                return normal_expected_loss(m, sigma) - eps

            return float(optimize.brentq(excess, -eps, 40 * sigma + eps, xtol=1e-14 * sigma))

        return required, float(loss_threshold)
    raise ValueError(f"criterion {criterion!r} is not known; use prob_beat or expected_loss")


# ===== shared helpers ============================================================================
def _z(q: float) -> float:
    return float(special.ndtri(q))


def _positive(name: str, x: float | None) -> None:
    if x is None or isinstance(x, bool) or not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} {x!r} must be a positive number")


def _probability(name: str, x: float) -> None:
    if isinstance(x, bool) or not (math.isfinite(x) and 0 < x < 1):
        raise ValueError(f"{name} {x!r} must lie strictly between 0 and 1")


def _unit_variance(var_c: float, var_t: float, w_c: float, w_t: float) -> float:
    """``v = var_c/w_c + var_t/w_t``, after checking each input."""
    _positive("var_c", var_c)
    _positive("var_t", var_t)
    _positive("w_c", w_c)
    _positive("w_t", w_t)
    if w_c + w_t > 1 + 1e-9:
        raise ValueError(
            f"shares w_c {w_c:g} + w_t {w_t:g} exceed 1; give each arm's share of all units"
        )
    return var_c / w_c + var_t / w_t


def _schedule(looks: int | None, fractions: Sequence[float] | None) -> tuple[float, ...] | None:
    """The information fractions of the looks; ``None`` when neither is given."""
    if fractions is None:
        if looks is None:
            return None
        if isinstance(looks, bool) or not isinstance(looks, int) or not 1 <= looks <= MAX_LOOKS:
            raise ValueError(f"looks {looks!r} must be a whole number from 1 to {MAX_LOOKS}")
        return tuple(k / looks for k in range(1, looks + 1))
    t = tuple(float(x) for x in fractions)
    ok = bool(t) and len(t) <= MAX_LOOKS and abs(t[-1] - 1) <= 1e-12
    if not ok or not all(0 < a < b for a, b in zip((1e-300, *t), t, strict=False)):
        raise ValueError(
            f"information_fractions {list(t)} must increase from above 0 to 1 (the last look), "
            f"at most {MAX_LOOKS} of them"
        )
    if looks is not None and looks != len(t):
        raise ValueError(f"looks {looks} does not match {len(t)} information_fractions")
    return (*t[:-1], 1.0)


def _solve_log(f: Callable[[float], float], lo: float) -> float:
    """The root of an increasing ``f`` above ``lo`` (where ``f < 0``), by Brent on ``log N``."""
    hi = lo * 2
    while f(hi) < 0:
        lo, hi = hi, hi * 2
        if hi > _MAX_N:
            raise ValueError("the effect is too small to detect with fewer than 1e15 units")
    return math.exp(
        float(optimize.brentq(lambda x: f(math.exp(x)), math.log(lo), math.log(hi), xtol=1e-12))
    )


def _first_root(f: Callable[[float], float], floor: float) -> float:
    """The smallest ``N ≥ floor`` on a doubling grid where ``f ≥ 0``, refined by Brent."""
    if f(floor) >= 0:
        return floor
    lo = floor
    while f(lo * 2) < 0:
        lo *= 2
        if lo > _MAX_N:
            raise ValueError("the effect is too small to detect with fewer than 1e15 units")
    return math.exp(
        float(optimize.brentq(lambda x: f(math.exp(x)), math.log(lo), math.log(lo * 2), xtol=1e-12))
    )
