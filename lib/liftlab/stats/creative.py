"""Ad-creative tournaments (2 to 5,000 creatives), on per-creative sufficient statistics.

The user is the randomisation unit; the engine returns, per creative, the number of users
``n`` and per-user sums of impressions ``i``, clicks ``c``, conversions ``v`` (and revenue),
with the squares and cross-products the delta method needs (:class:`CreativeArm`). Sample
(co)variances use ``n − 1``; ``z`` is the normal ``1 − α/2`` quantile. Conventions:

- **Rates** ``CTR = Σc/Σi``, ``CVR = Σv/Σc`` (per click) and ``Σv/Σi`` (per impression) are
  ratios of per-user sums: delta-method variance
  (:func:`liftlab.stats.frequentist.ratio_variance`, Deng et al. 2018) and the Wald interval
  ``R ± z·se``. Impressions are not independent trials, so no binomial interval is used.
- **CPA** ``= spend / Σv``. Spend is a fixed amount per creative, so all the randomness is in
  the conversions total ``V = Σv``, whose variance given ``n`` users is ``n·s²_v``. The
  interval is ``V``'s log-scale interval ``V·exp(±z·se_V/V)`` inverted:
  ``CPA·exp(∓z·se_V/V)``, always positive. ``sum_conversions2 = None`` means conversions
  count converting users (0/1 per user), so ``Σv² = Σv``.
- **ROAS** ``= revenue / spend``: the revenue total's normal interval
  ``Rev ± z·sqrt(n·s²_rev)`` divided by spend. **CPC** ``= spend / Σc`` as CPA, with the
  clicks total.
- **Money from an ad-platform export** (:class:`MoneySums`, ``CreativeArm.money``): each
  row (cluster) has its own spend, so spend is random as conversions, clicks and
  conversion value are, and they move together (a bigger day costs more and sells more).
  CPA ``= Σs/Σv``, CPC ``= Σs/Σc`` and ROAS ``= Σw/Σs`` (``s`` spend, ``w`` conversion
  value, sums over the creative's clusters) are ratios of sums with the delta-method
  variance over clusters, covariance included (:func:`ratio_variance`,
  ``Var(R) ≈ (s²_y − 2R·s_xy + R²·s²_x)/(n·x̄²)``, ``n − 1`` moments). CPA and CPC take the
  log-scale interval ``R·exp(±z·se/R)`` (always positive; with a constant spend it is the
  interval above), ROAS the Wald interval ``R ± z·se``. ``z`` is normal, as for every
  interval of the tournament; the plan's ``cpa``/``roas`` metrics compare the same ratios
  across arms. Conversions here are the export's conversions column, whatever
  ``conversion`` metric the rates use.
- **Lift vs control**: :func:`liftlab.stats.frequentist.ratio_test` (two-sided delta-method
  z-test of the difference in CTR; relative lift ``CTR_t/CTR_c − 1`` with the log-delta
  interval), p-values of the ``k − 1`` comparisons adjusted by
  :func:`liftlab.stats.multiple.adjust_pvalues`; **default** ``bh``: a tournament screens
  many creatives and FDR control keeps power as ``k`` grows where FWER methods do not.
  ``significant`` is adjusted p < α.
- **Chance of being best and expected loss**: :func:`rank_arms` on independent normal
  posteriors of each arm's rate (arms have disjoint users), under the prior below, seeded;
  ``metric`` picks ``ctr`` (default), ``cvr`` or ``cvr_impression``. The loss
  ``E[max_j θ_j − θ_g]`` is in the metric's units.
- **Ranking, top k and the campaign prior** (:func:`rank_arms`): ``prior="campaign"``
  (**default**) ranks the creatives on the empirical-Bayes posterior of ``metric`` across
  the campaign, the normal–normal model ``R̂_g ~ N(θ_g, se_g²)``, ``θ_g ~ N(μ, τ²)`` fitted
  exactly as the lifts below (:func:`shrink_lifts` on the rates: REML ``τ²``, Morris's
  correction), giving ``θ_g | data ≈ N(r̃_g, sd_g²)``; ``prior="flat"`` uses
  ``N(R̂_g, se_g²)``. With hundreds of ads many are small, and under a flat prior their
  noise makes them look best (the winner's curse); the campaign prior pulls them toward
  the campaign's mean by their noise. A CTR's SE grows with the CTR, which the weights read
  as noise: in simulation (600 ads, CTR 2% ± 0.5%, binomial clicks) ``τ̂²`` is about 1.5%
  low on average (SEs at the pooled rate remove that but ignore each ad's overdispersion
  between users). An arm whose delta-method SE is 0 or undefined (no
  clicks) gets, for the fit only, the binomial SE at the pooled rate,
  ``sqrt(p̄(1 − p̄)/Σx_g)``. Rank 1 is the highest posterior mean (ties: listed first).
  ``prob_best``, ``expected_loss`` and ``prob_top_k`` (chance of being among the ``top_k``
  highest) are Monte Carlo over independent draws of the arms' posteriors (the shared
  ``μ̂`` is ignored), ``default_rng(seed)``, arm after arm, ``draws`` per arm: the same
  stream as :func:`liftlab.stats.bayesian.prob_best`, so both give identical numbers; the
  arms are drawn in blocks of at most :data:`BLOCK` numbers (memory stays bounded at 5,000
  arms). Each probability's Monte Carlo standard error is ``sqrt(p(1 − p)/draws)``, at
  most ``0.5/sqrt(draws)`` (0.0035 at the default 20,000); ``mc_se`` is the largest over
  the arms. ``prob_best`` sums to 1 and ``prob_top_k`` to ``top_k`` exactly.
- **Groups** (``groups={group: [creatives]}``, e.g. a creative concept): each group's sums
  are the sums of its creatives' (users are disjoint), so its rates get the same
  delta-method intervals; its chance of being the best group is drawn from the groups'
  flat normal posteriors.
- **Winner's-curse shrinkage** (:func:`shrink_lifts`) of the ``K = k − 1`` relative lifts
  ``l_g ~ N(θ_g, s_g²)``, ``θ_g ~ N(μ, τ²)``, with ``s_g² = v_t/m_c² + m_t²·v_c/m_c⁴`` (as
  :func:`liftlab.stats.bayesian.gaussian_effect`). ``τ²`` by ``reml`` (**default**; root of
  the restricted-likelihood score by Brent's method, 0 when the score is ≤ 0 at 0; less
  biased than DerSimonian–Laird when the ``s_g`` differ, the choice of Veroniki et al. 2016
  and Langan et al. 2019), ``dl`` (DerSimonian & Laird 1986, closed form) or ``pm`` (Paule &
  Mandel 1982, root of ``Σw(l − μ̂)² = K − 1``). ``μ̂ = Σw l/Σw``, ``w = 1/(s² + τ̂²)``,
  ``C_g = s_g²/(s_g² + τ̂²)`` (``B_g = 1 − C_g``); shrunk lift ``μ̂ + B_g(l_g − μ̂)``.
  Posterior sd, ``morris=False``: ``sqrt(s_g²·B_g + C_g²/Σw)``, the exact posterior given
  ``τ̂²`` with a flat prior on ``μ`` (``τ̂²`` plugged in). ``morris=True`` (**default**
  when ``K ≥ 4``; plug-in for ``K = 3``): Morris's (1983, JASA 78:47) correction for
  estimating ``τ²`` as well, ``C*_g = min(1, (K−3)/(K−1)·C_g)`` in the estimate and variance
  ``s_g²(1 − (K−1)/K·C*_g) + 2/(K−3)·C*_g²(l_g − μ̂)²``; with equal ``s`` the estimate is
  Efron–Morris's James–Stein rule. Why the default: in simulations with 5 to 50 lifts (the
  tests run 20) the plug-in 95% intervals cover only 84–89%, Morris's 93–97%, similar MSE.
  Intervals ``± z·sd``. Fewer than 3 lifts: no shrinkage (``method="none"``, shrunk =
  raw). The lifts share the control arm, so they are positively correlated; the model
  treats them as independent, which overstates their independent noise and so, if
  anything, shrinks too much.
- **Budget** (:func:`apply_floor`, :func:`simulate_allocation`): Thompson weights
  ``P(arm is best)`` from :func:`rank_arms` (flat prior: the budget explores) under
  ``allocation=`` ``ctr`` (**default**; the normal approximation of CTR, which respects
  user randomisation), ``ctr-beta``
  (``Beta(1+clicks, 1+impressions−clicks)``, per impression), ``conversion-beta`` (per
  impression) or ``conversion-user-beta`` (``Beta(1+converting users, 1+other users)``, per
  user). The per-impression Betas treat impressions as independent and are overconfident.
  Floor: arms below ``floor`` are set to it and the rest rescaled to fill the remainder,
  repeated until none is below (ratios among the unfloored arms are kept). Default
  ``1/(10k)``: a tenth of an equal share, so at most 10% of traffic in total goes to
  exploration floors whatever ``k``. The simulation draws "true" rates from the same
  posteriors (normal draws clipped at 0; generator ``default_rng([seed, 1])``) and gives
  the expected clicks/conversions of ``N`` next-period units (impressions, users for
  ``conversion-user-beta``) under the Thompson weights, an equal split and the oracle, and
  each policy's regret vs the oracle (paired), with Monte Carlo standard errors.
- **Creative fatigue** (:func:`fit_fatigue`): binomial GLM (logit) of clicks on the day
  index (days since the user's first impression), fitted by IRLS on grouped cells; one-sided
  p-value for decline ``P(T ≤ slope/se)``. Impressions of one user are correlated (and the
  same users fill several days), so the grouped-binomial SE is anti-conservative.
  **Default** ``dispersion="quasi"``: SE times ``sqrt(φ)``, ``φ`` = Pearson χ²/(cells − 2)
  (not floored at 1), t(cells − 2) reference; it costs nothing when ``φ ≈ 1``. It fixes
  overdispersion within cells, not correlation between cells, nor the survivorship of
  heavy users into later days. ``binomial``: ``φ = 1`` with a normal reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liftlab.jsonsafe import clean
from liftlab.startup import lazy_module
from liftlab.stats.bayesian import (
    BLOCK,
    DEFAULT_SEED,
    BetaPosterior,
    NormalPosterior,
    draw_blocks,
    fold_best,
)
from liftlab.stats.frequentist import ratio_test, ratio_variance
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import CORRECTIONS, adjust_pvalues
from liftlab.stats.roots import brentq

sc = lazy_module("scipy.special")  # loaded on first use

MIN_ARMS, MAX_ARMS = 2, 5000
PRIORS = ("campaign", "flat")
TAU2_METHODS = ("reml", "dl", "pm")
METRICS = ("ctr", "cvr", "cvr_impression")
ALLOCATIONS = ("ctr", "ctr-beta", "conversion-beta", "conversion-user-beta")
DISPERSIONS = ("quasi", "binomial")
Posterior = BetaPosterior | NormalPosterior
Array = NDArray[np.float64]
NAN2 = (math.nan, math.nan)


def _pick(obj: Any, keys: str) -> dict[str, Any]:
    """``{key: JSON-safe value}`` for the space-separated attribute names ``keys``."""
    return {k: clean(getattr(obj, k)) for k in keys.split()}


def _z(alpha: float) -> float:
    return float(sc.ndtri(1 - alpha / 2))


# ----- inputs --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MoneySums:
    """One creative's money on an ad-platform export, over its ``n`` clusters (rows): totals,
    squares and cross-products with spend of spend ``s``, conversions ``v``, clicks ``c`` and
    conversion value ``w`` (``None``: the export has no such column). Sums add across
    creatives (their rows are disjoint)."""

    n: int
    spend: float
    spend2: float
    clicks: float
    clicks2: float
    spend_clicks: float
    conversions: float | None = None
    conversions2: float | None = None
    spend_conversions: float | None = None
    value: float | None = None
    value2: float | None = None
    value_spend: float | None = None

    def __add__(self, other: MoneySums) -> MoneySums:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        names = [f.name for f in fields(self)]
        return MoneySums(*(add(getattr(self, k), getattr(other, k)) for k in names))  # type: ignore[arg-type]

    def over(self, numerator: str, denominator: str) -> Moments:
        """:class:`Moments` of ``Σnumerator/Σdenominator``, one of them ``spend`` and the
        other ``clicks``, ``conversions`` or ``value``."""
        other = denominator if numerator == "spend" else numerator
        cross = {
            "clicks": self.spend_clicks,
            "conversions": self.spend_conversions,
            "value": self.value_spend,
        }[other]
        y, x = self._side(numerator), self._side(denominator)
        return Moments(self.n, *y, *x, float(cross if cross is not None else math.nan))

    def _side(self, name: str) -> tuple[float, float]:
        total, squares = getattr(self, name), getattr(self, f"{name}2")
        if total is None or squares is None:
            raise ValueError(f"the export has no {name} column")
        return float(total), float(squares)


def _summed(sums: Sequence[MoneySums]) -> MoneySums | None:
    out = sums[0] if sums else None
    for m in sums[1:]:
        out = out + m if out is not None else m
    return out


@dataclass(frozen=True, slots=True)
class CreativeArm:
    """Per-user sums for one creative (``c`` clicks, ``i`` impressions, ``v`` conversions).

    ``None`` cross-products leave the intervals that need them NaN; ``sum_conversions2 =
    None`` means conversions are converting users (0/1). ``spend`` is a fixed amount;
    ``revenue`` needs ``sum_revenue2`` (Σ per-user revenue²). ``money``: an export's
    per-cluster spend, clicks, conversions and value, which CPA, CPC and ROAS then use
    (module docstring).
    """

    name: str
    users: int
    impressions: float
    clicks: float
    sum_impressions2: float
    sum_clicks2: float
    sum_clicks_impressions: float
    conversions: float = 0.0
    sum_conversions2: float | None = None
    sum_conversions_clicks: float | None = None
    sum_conversions_impressions: float | None = None
    spend: float | None = None
    revenue: float | None = None
    sum_revenue2: float | None = None
    money: MoneySums | None = None

    def __post_init__(self) -> None:
        if self.users < 2:
            raise ValueError(f"creative {self.name!r}: needs at least 2 users, got {self.users}")
        if not self.impressions > 0:
            raise ValueError(f"creative {self.name!r}: zero impressions (CTR undefined)")
        if self.clicks < 0 or self.conversions < 0:
            raise ValueError(f"creative {self.name!r}: negative clicks or conversions")
        if self.spend is not None and not self.spend >= 0:
            raise ValueError(f"creative {self.name!r}: spend must be ≥ 0, got {self.spend}")
        if self.revenue is not None and self.sum_revenue2 is None:
            raise ValueError(f"creative {self.name!r}: revenue needs sum_revenue2 for its CI")

    @classmethod
    def from_units(
        cls,
        name: str,
        impressions: ArrayLike,
        clicks: ArrayLike,
        conversions: ArrayLike | None = None,
        *,
        revenue: ArrayLike | None = None,
        spend: float | None = None,
    ) -> CreativeArm:
        """Sums of per-user arrays (for tests and notebooks; the engine computes them)."""
        i, c = np.asarray(impressions, float), np.asarray(clicks, float)
        v = np.zeros_like(i) if conversions is None else np.asarray(conversions, float)
        r = None if revenue is None else np.asarray(revenue, float)
        rev, rev2 = (None, None) if r is None else (float(r.sum()), float(r @ r))
        dots = [float(a @ b) for a, b in ((i, i), (c, c), (c, i), (v, v), (v, c), (v, i))]
        ii, cc, ci, vv, vc, vi = dots
        sums = float(i.sum()), float(c.sum()), float(v.sum())
        return cls(
            name, i.size, sums[0], sums[1], ii, cc, ci, sums[2], vv, vc, vi, spend, rev, rev2
        )

    @classmethod
    def combine(cls, name: str, arms: Sequence[CreativeArm]) -> CreativeArm:
        """The sums of several creatives as one (their users are disjoint); an optional sum
        is ``None`` when any creative lacks it, ``sum_conversions2`` filled in from 0/1."""

        def total(field: str) -> Any:
            values = [getattr(a, field) for a in arms]
            return None if any(v is None for v in values) else sum(values)

        fields = (
            "impressions clicks sum_impressions2 sum_clicks2 sum_clicks_impressions conversions"
        ).split()
        optional = (
            "sum_conversions_clicks sum_conversions_impressions spend revenue sum_revenue2"
        ).split()
        conv2 = [a.sum_v2 for a in arms]
        money = [a.money for a in arms if a.money is not None]
        return cls(
            name,
            sum(a.users for a in arms),
            **{f: total(f) for f in fields},
            sum_conversions2=sum(conv2)
            if any(a.sum_conversions2 is not None for a in arms)
            else None,
            **{f: total(f) for f in optional},
            money=_summed(money) if len(money) == len(arms) else None,
        )

    @property
    def sum_v2(self) -> float:
        """``Σv²``; ``Σv`` when conversions are converting users (``sum_conversions2`` None)."""
        return self.conversions if self.sum_conversions2 is None else self.sum_conversions2

    def moments(self, metric: str) -> Moments:
        """:class:`Moments` of ``metric`` (``y`` numerator, ``x`` denominator per user)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        c2, i2 = (self.clicks, self.sum_clicks2), (self.impressions, self.sum_impressions2)
        y = c2 if metric == "ctr" else (self.conversions, self.sum_v2)
        x = c2 if metric == "cvr" else i2
        xy = {
            "ctr": self.sum_clicks_impressions,
            "cvr": self.sum_conversions_clicks,
            "cvr_impression": self.sum_conversions_impressions,
        }[metric]
        return Moments(self.users, *y, *x, math.nan if xy is None else xy)


@dataclass(frozen=True, slots=True)
class FatigueCurve:
    """Impressions and clicks of one creative by day index (days since first impression)."""

    creative: str
    impressions: tuple[float, ...]
    clicks: tuple[float, ...]
    days: tuple[float, ...] | None = None  # default 0, 1, …, D

    def __post_init__(self) -> None:
        for f in ("impressions", "clicks", "days"):
            v = getattr(self, f)
            if v is not None:
                object.__setattr__(self, f, tuple(float(x) for x in v))


# ----- results -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate with its standard error and ``1 − α`` interval."""

    estimate: float
    se: float
    ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "estimate ci")


@dataclass(frozen=True, slots=True)
class Lift:
    """Relative CTR lift vs control: ``se`` is the linear delta-method SE, ``ci`` log-delta."""

    estimate: float
    se: float
    ci: tuple[float, float]
    p_value: float
    p_value_adjusted: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "estimate ci p_value p_value_adjusted significant")


@dataclass(frozen=True, slots=True)
class ShrunkLift:
    estimate: float
    sd: float
    ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "estimate sd ci")


@dataclass(frozen=True, slots=True)
class Ranking:
    """Monte Carlo ranking (:func:`rank_arms`): per arm, in the order given, the chance of
    being best, the expected loss ``E[max_j θ_j − θ_g]`` and the chance of being in the top
    ``top_k``; ``mc_se`` is the largest Monte Carlo SE of those probabilities."""

    names: tuple[str, ...]
    prob_best: tuple[float, ...]
    expected_loss: tuple[float, ...]
    prob_top_k: tuple[float, ...]
    top_k: int
    draws: int
    mc_se: float


@dataclass(frozen=True, slots=True)
class GroupResult:
    """A group of creatives (e.g. a concept) as one arm: summed volumes, rates, P(best),
    and money (CPA, CPC, ROAS, spend and value, as :class:`ArmResult`'s) from the sums."""

    name: str
    creatives: tuple[str, ...]
    users: int
    impressions: float
    clicks: float
    conversions: float
    ctr: Interval
    cvr: Interval
    prob_best: float
    cpa: Interval | None = None
    cpc: Interval | None = None
    roas: Interval | None = None
    spend: float | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        keys = "name creatives users impressions clicks conversions ctr cvr prob_best"
        return _pick(self, keys + " cpa cpc roas spend value")


@dataclass(frozen=True, slots=True)
class ArmResult:
    """One creative: rates, lift vs control (``None`` for control), P(best), shrunk lift;
    ``rank`` (1 = best) and ``prob_top_k`` under the result's prior, ``shrunk_rate`` the
    campaign posterior of the ranking metric (``None`` under the flat prior); ``cpa``,
    ``cpc``, ``roas`` and the totals ``spend`` and conversion ``value`` (``None`` without
    spend or value: from the export's money sums when the arm has them)."""

    name: str
    users: int
    impressions: float
    clicks: float
    conversions: float
    ctr: Interval
    cvr: Interval
    cvr_impression: Interval
    cpa: Interval | None
    roas: Interval | None
    lift: Lift | None
    prob_best: float
    expected_loss: float
    shrunk_lift: ShrunkLift | None
    rank: int = 0
    prob_top_k: float = math.nan
    shrunk_rate: ShrunkLift | None = None
    cpc: Interval | None = None
    spend: float | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        keys = "name users impressions clicks conversions ctr cvr cvr_impression cpa roas lift"
        return _pick(
            self,
            keys + " prob_best expected_loss shrunk_lift rank prob_top_k shrunk_rate"
            " cpc spend value",
        )


@dataclass(frozen=True, slots=True)
class Shrinkage:
    """Empirical-Bayes fit: ``raw``/``se`` in, shrunk ``estimate``/``sd``/``ci`` out."""

    method: str
    mu: float
    mu_se: float
    tau2: float
    morris: bool
    raw: tuple[float, ...]
    se: tuple[float, ...]
    estimate: tuple[float, ...]
    sd: tuple[float, ...]
    ci: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "method mu mu_se tau2 morris")


@dataclass(frozen=True, slots=True)
class MonteCarlo:
    expected: float
    se: float

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "expected se")


@dataclass(frozen=True, slots=True)
class AllocationSimulation:
    """Expected reward (clicks or conversions) of ``n_next`` units under each policy."""

    n_next: int
    draws: int
    thompson: MonteCarlo
    equal: MonteCarlo
    oracle: MonteCarlo
    regret_thompson: MonteCarlo
    regret_equal: MonteCarlo

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "n_next draws thompson equal oracle regret_thompson regret_equal")


@dataclass(frozen=True, slots=True)
class Allocation:
    """Thompson weights after the floor (``prob_best``: before it) and their simulation."""

    basis: str
    weights: dict[str, float]
    prob_best: dict[str, float]
    floor: float
    simulation: AllocationSimulation

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "basis weights floor simulation")


@dataclass(frozen=True, slots=True)
class FatigueFit:
    """Logit slope of CTR per day since first impression (negative: fatigue)."""

    creative: str
    intercept: float
    slope: float
    se: float
    ci: tuple[float, float]
    p_value_decline: float
    dispersion: float
    method: str
    df: int

    def to_dict(self) -> dict[str, Any]:
        return _pick(self, "creative slope se ci p_value_decline dispersion method")


@dataclass(frozen=True, slots=True)
class CreativeResult:
    """Everything :func:`analyze_creatives` found; :meth:`to_dict` is JSON-safe."""

    control: str
    alpha: float
    correction: str
    metric: str
    arms: tuple[ArmResult, ...]
    shrinkage: Shrinkage
    allocation: Allocation
    fatigue: tuple[FatigueFit, ...] | None
    draws: int
    seed: int
    prior: str = "campaign"
    top_k: int = 1
    mc_se: float = math.nan
    campaign: Shrinkage | None = None
    groups: tuple[GroupResult, ...] | None = None

    def arm(self, name: str) -> ArmResult:
        return next(a for a in self.arms if a.name == name)

    @property
    def ranked(self) -> list[ArmResult]:
        """The arms from rank 1 (best) down."""
        return sorted(self.arms, key=lambda a: a.rank)

    def to_dict(self) -> dict[str, Any]:
        keys = "control alpha correction metric draws seed arms shrinkage allocation fatigue"
        return _pick(self, keys + " prior top_k mc_se campaign groups")


# ----- per-arm figures -----------------------------------------------------------------------
def rate_interval(m: Moments, alpha: float = 0.05) -> Interval:
    """``Σy/Σx`` with its delta-method SE and Wald interval (NaN where undefined)."""
    est = m.sum_y / m.sum_x if m.sum_x else math.nan
    var = ratio_variance(m)
    se = math.sqrt(var) if var >= 0 else math.nan
    return Interval(est, se, (est - _z(alpha) * se, est + _z(alpha) * se))


def _cost(m: Moments, alpha: float) -> Interval:
    """``Σy/Σx`` (a cost: spend over something) with the delta-method SE and the log-scale
    interval ``R·exp(±z·se/R)``."""
    if not m.sum_x > 0:
        return Interval(math.nan, math.nan, NAN2)
    est, var = m.sum_y / m.sum_x, ratio_variance(m)
    se = math.sqrt(var) if var >= 0 else math.nan
    cv, z = (se / est if est > 0 else math.nan), _z(alpha)
    return Interval(est, se, (est * math.exp(-z * cv), est * math.exp(z * cv)))


def money_interval(arm: CreativeArm, what: str, alpha: float = 0.05) -> Interval | None:
    """``cpa``, ``cpc`` or ``roas`` from the export's money sums (``None`` without them, or
    without the column it needs); module docstring."""
    m = arm.money
    if m is None:
        return None
    if what == "roas":
        if m.value is None:
            return None
        r = rate_interval(m.over("value", "spend"), alpha)
        return r if m.spend > 0 else Interval(math.nan, math.nan, NAN2)
    if what == "cpa" and m.conversions is None:
        return None
    return _cost(m.over("spend", "conversions" if what == "cpa" else "clicks"), alpha)


def _totals(arm: CreativeArm) -> tuple[float | None, float | None]:
    """The creative's spend and conversion value: the export's, else the given ones."""
    if arm.money is not None:
        return arm.money.spend, arm.money.value
    return arm.spend, arm.revenue


def cpc_interval(arm: CreativeArm, alpha: float = 0.05) -> Interval | None:
    """``spend/Σc``: from the export's money sums, else a fixed spend over the clicks total
    (the inverted log-scale interval of that total, as CPA)."""
    if arm.money is not None:
        return money_interval(arm, "cpc", alpha)
    if arm.spend is None:
        return None
    return _fixed_cost(arm.spend, Moments(arm.users, arm.clicks, arm.sum_clicks2), alpha)


def _fixed_cost(spend: float, total: Moments, alpha: float) -> Interval:
    """A fixed ``spend`` over a random total ``T = Σy`` (variance ``n·s²_y``): ``spend/T``
    with ``T``'s log-scale interval inverted."""
    if not total.sum_y > 0:
        return Interval(math.nan, math.nan, NAN2)
    est, cv = spend / total.sum_y, math.sqrt(total.n * total.var_y) / total.sum_y
    z = _z(alpha)
    return Interval(est, est * cv, (est * math.exp(-z * cv), est * math.exp(z * cv)))


def cpa_interval(arm: CreativeArm, alpha: float = 0.05) -> Interval | None:
    """``spend/Σv`` with the inverted log-scale interval of the conversions total (from the
    export's money sums when the arm has them)."""
    if arm.money is not None:
        return money_interval(arm, "cpa", alpha)
    if arm.spend is None:
        return None
    return _fixed_cost(arm.spend, Moments(arm.users, arm.conversions, arm.sum_v2), alpha)


def roas_interval(arm: CreativeArm, alpha: float = 0.05) -> Interval | None:
    """``revenue/spend`` with the revenue total's normal interval over spend (from the
    export's money sums when the arm has them)."""
    if arm.money is not None:
        return money_interval(arm, "roas", alpha)
    if arm.spend is None or arm.revenue is None or arm.sum_revenue2 is None:
        return None
    if not arm.spend > 0:
        return Interval(math.nan, math.nan, NAN2)
    var_rev = Moments(arm.users, arm.revenue, arm.sum_revenue2).var_y
    est, se = arm.revenue / arm.spend, math.sqrt(arm.users * var_rev) / arm.spend
    return Interval(est, se, (est - _z(alpha) * se, est + _z(alpha) * se))


# ----- empirical-Bayes shrinkage -------------------------------------------------------------
def _tau2_dl(lift: Array, var: Array) -> float:
    w = 1 / var
    mu = w @ lift / w.sum()
    q = w @ (lift - mu) ** 2
    return max(0.0, float((q - (lift.size - 1)) / (w.sum() - (w @ w) / w.sum())))


def _tau2_pm(lift: Array, var: Array) -> float:
    k = lift.size

    def q(t: float) -> float:
        w = 1 / (var + t)
        return float(w @ (lift - w @ lift / w.sum()) ** 2 - (k - 1))

    if q(0.0) <= 0:
        return 0.0
    hi = float(np.sum((lift - lift.mean()) ** 2) / (k - 1))  # q(hi) ≤ 0 since w < 1/hi
    return float(brentq(q, 0.0, hi, xtol=1e-300, rtol=1e-14))


def _tau2_reml(lift: Array, var: Array) -> float:
    """Root of the REML score ``Σw²(l − μ̂)² − Σw + Σw²/Σw`` by Brent's method; 0 if ≤ 0 at 0."""

    def score(t: float) -> float:
        w = 1 / (var + t)
        mu = w @ lift / w.sum()
        return float(np.sum(w**2 * (lift - mu) ** 2) - w.sum() + (w @ w) / w.sum())

    if score(0.0) <= 0:
        return 0.0
    hi = float(np.sum((lift - lift.mean()) ** 2) / (lift.size - 1))
    while score(hi) > 0:
        hi *= 2
    return float(brentq(score, 0.0, hi, xtol=1e-300, rtol=1e-14))


def estimate_tau2(lifts: ArrayLike, ses: ArrayLike, method: str = "reml") -> float:
    """Between-creative variance ``τ²`` of the lifts by ``reml``, ``dl`` or ``pm``."""
    if method not in TAU2_METHODS:
        raise ValueError(f"method must be one of {TAU2_METHODS}, got {method!r}")
    lift, var = np.asarray(lifts, float), np.asarray(ses, float) ** 2
    if lift.size < 2 or lift.shape != var.shape or not np.all(var > 0):
        raise ValueError("need at least 2 lifts with positive standard errors")
    return {"reml": _tau2_reml, "dl": _tau2_dl, "pm": _tau2_pm}[method](lift, var)


def shrink_lifts(
    lifts: ArrayLike,
    ses: ArrayLike,
    *,
    method: str = "reml",
    morris: bool | None = None,
    alpha: float = 0.05,
) -> Shrinkage:
    """Empirical-Bayes (normal–normal) shrinkage of lifts toward their mean (module doc).

    ``morris=None`` applies Morris's correction when there are at least 4 lifts.
    """
    lift, s = np.asarray(lifts, float), np.asarray(ses, float)
    k = lift.size
    morris = k >= 4 if morris is None else morris
    if k < 3:
        raise ValueError(f"shrinkage needs at least 3 lifts, got {k}")
    if morris and k < 4:
        raise ValueError(f"the Morris correction needs at least 4 lifts, got {k}")
    var = s**2
    tau2 = estimate_tau2(lift, s, method)
    w = 1 / (var + tau2)
    mu, v_mu = float(w @ lift / w.sum()), float(1 / w.sum())
    c = var / (var + tau2)
    if morris:
        c = np.minimum(1.0, (k - 3) / (k - 1) * c)
        post_var = var * (1 - (k - 1) / k * c) + 2 / (k - 3) * c**2 * (lift - mu) ** 2
    else:
        post_var = var * (1 - c) + c**2 * v_mu
    est, sd = mu + (1 - c) * (lift - mu), np.sqrt(post_var)
    z = _z(alpha)
    cis = tuple((float(e - z * d), float(e + z * d)) for e, d in zip(est, sd, strict=True))
    raw, ses, ests, sds = (tuple(float(v) for v in a) for a in (lift, s, est, sd))
    return Shrinkage(method, mu, math.sqrt(v_mu), tau2, morris, raw, ses, ests, sds, cis)


# ----- ranking -------------------------------------------------------------------------------
def rank_arms(
    posteriors: Mapping[str, Posterior],
    *,
    top_k: int = 1,
    draws: int = 20_000,
    seed: int = DEFAULT_SEED,
) -> Ranking:
    """Chance best, expected loss and chance of being in the top ``top_k`` (module doc).

    One pass over blocks of arms keeps each draw's best value and arm and its ``top_k``
    highest; memory is ``draws × (top_k + arms per block)``, time ``∝ draws × arms``.
    """
    names, posts = list(posteriors), list(posteriors.values())
    k = len(names)
    if k < 1 or draws < 1:
        raise ValueError(f"ranking needs at least one arm and one draw, got {k} and {draws}")
    top_k = min(max(1, int(top_k)), k)
    rng = np.random.default_rng(seed)
    best_v, best_i = np.full(draws, -np.inf), np.zeros(draws, np.intp)
    top_v, top_i = np.empty((draws, 0)), np.empty((draws, 0), np.intp)
    means = np.empty(k)
    for start, theta in draw_blocks(posts, draws, rng, block=BLOCK):
        c = theta.shape[0]
        means[start : start + c] = theta.mean(axis=1)
        fold_best(theta, start, best_v, best_i)  # strict: ties stay with the arm listed first
        if top_k > 1:
            top_v = np.concatenate([top_v, theta.T], axis=1)
            ids = np.broadcast_to(np.arange(start, start + c), (draws, c))
            top_i = np.concatenate([top_i, ids], axis=1)
            if top_v.shape[1] > top_k:
                keep = np.argpartition(-top_v, top_k - 1, axis=1)[:, :top_k]
                top_v = np.take_along_axis(top_v, keep, axis=1)
                top_i = np.take_along_axis(top_i, keep, axis=1)
    pb = np.bincount(best_i, minlength=k) / draws
    pt = pb if top_k == 1 else np.bincount(top_i.ravel(), minlength=k) / draws
    loss = best_v.mean() - means
    se = float(np.sqrt(np.maximum(pb * (1 - pb), pt * (1 - pt)).max() / draws))
    tup = tuple
    return Ranking(
        tup(names), tup(pb.tolist()), tup(loss.tolist()), tup(pt.tolist()), top_k, draws, se
    )


# ----- budget allocation ---------------------------------------------------------------------
def apply_floor(weights: Mapping[str, float], floor: float) -> dict[str, float]:
    """Weights with every arm at least ``floor``, the others rescaled to sum to 1."""
    k = len(weights)
    if not 0 <= floor <= 1 / k:
        raise ValueError(f"floor must be in [0, 1/k] = [0, {1 / k:.4g}], got {floor}")
    p = np.asarray(list(weights.values()), float)
    fixed = np.zeros(k, dtype=bool)
    while True:
        budget, free = 1 - floor * fixed.sum(), ~fixed
        total = p[free].sum()
        scaled = p * budget / total if total > 0 else np.full(k, budget / free.sum())
        new = np.where(fixed, floor, scaled)
        low = free & (new < floor)
        if not low.any():
            return dict(zip(weights, new.tolist(), strict=True))
        fixed |= low


def simulate_allocation(
    posteriors: Mapping[str, Posterior],
    weights: Mapping[str, float],
    *,
    n_next: int = 100_000,
    draws: int = 100_000,
    seed: int = DEFAULT_SEED,
) -> AllocationSimulation:
    """Expected reward of ``n_next`` units under Thompson weights, equal split and oracle."""
    rng = np.random.default_rng([seed, 1])
    w = np.asarray([weights[k] for k in posteriors], float)
    th, eq, orc = np.zeros(draws), np.zeros(draws), np.full(draws, -np.inf)
    for start, block in draw_blocks(list(posteriors.values()), draws, rng, clip=True, block=BLOCK):
        theta = n_next * block  # arms × draws
        th += w[start : start + theta.shape[0]] @ theta
        eq += theta.sum(axis=0)
        orc = np.maximum(orc, theta.max(axis=0))
    eq /= len(w)

    def mc(x: Array) -> MonteCarlo:
        return MonteCarlo(float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)))

    return AllocationSimulation(n_next, draws, mc(th), mc(eq), mc(orc), mc(orc - th), mc(orc - eq))


def _beta(successes: float, trials: float, what: str) -> BetaPosterior:
    if abs(successes - round(successes)) > 1e-9 or not 0 <= successes <= trials:
        raise ValueError(f"{what}: successes must be whole numbers in [0, trials]")
    return BetaPosterior(1 + round(successes), 1 + trials - round(successes))


def allocation_posteriors(arms: Sequence[CreativeArm], basis: str = "ctr") -> dict[str, Posterior]:
    """Each arm's posterior of the reward rate under ``basis`` (module doc)."""
    out: dict[str, Posterior] = {}
    for a in arms:
        if basis == "ctr":
            r = rate_interval(a.moments("ctr"))
            out[a.name] = NormalPosterior(r.estimate, r.se)
        elif basis == "ctr-beta":
            out[a.name] = _beta(a.clicks, a.impressions, f"{a.name} ctr-beta")
        elif basis == "conversion-beta":
            out[a.name] = _beta(a.conversions, a.impressions, f"{a.name} conversion-beta")
        elif basis == "conversion-user-beta":
            if a.sum_v2 != a.conversions:
                raise ValueError(f"{a.name}: conversion-user-beta needs 0/1 conversions per user")
            out[a.name] = _beta(a.conversions, a.users, f"{a.name} conversion-user-beta")
        else:
            raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {basis!r}")
    return out


# ----- creative fatigue ----------------------------------------------------------------------
def fit_fatigue(
    curve: FatigueCurve, *, alpha: float = 0.05, dispersion: str = "quasi"
) -> FatigueFit:
    """Binomial-logit slope of CTR on the day index, by IRLS on the grouped cells."""
    if dispersion not in DISPERSIONS:
        raise ValueError(f"dispersion must be one of {DISPERSIONS}, got {dispersion!r}")
    m, y = np.asarray(curve.impressions, float), np.asarray(curve.clicks, float)
    d = np.arange(m.size, dtype=float) if curve.days is None else np.asarray(curve.days, float)
    if not m.shape == y.shape == d.shape:
        raise ValueError(f"fatigue {curve.creative!r}: days, impressions, clicks differ in length")
    if np.any(y < 0) or np.any(y > m):
        raise ValueError(f"fatigue {curve.creative!r}: clicks must lie in [0, impressions]")
    keep = m > 0
    m, y, d = m[keep], y[keep], d[keep]
    if np.unique(d).size < 2 or (dispersion == "quasi" and m.size < 3):
        raise ValueError(f"fatigue {curve.creative!r}: too few days with impressions")
    if y.sum() == 0 or np.all(y == m):
        raise ValueError(f"fatigue {curve.creative!r}: no clicks (or only clicks): no slope")
    x = np.column_stack([np.ones_like(d), d])
    eta = sc.logit((y + 0.5) / (m + 1))
    beta = np.zeros(2)
    for _ in range(100):
        p = sc.expit(eta)
        wt = m * p * (1 - p)
        xtw = x.T * wt
        new = np.linalg.solve(xtw @ x, xtw @ (eta + (y - m * p) / wt))
        eta = x @ new
        done = np.max(np.abs(new - beta)) <= 1e-13 * (1 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    else:
        raise ValueError(f"fatigue {curve.creative!r}: IRLS did not converge (separation?)")
    p = sc.expit(eta)
    wt = m * p * (1 - p)
    cov = np.linalg.inv((x.T * wt) @ x)
    df = int(m.size - 2)
    phi = float(np.sum((y - m * p) ** 2 / wt) / df) if dispersion == "quasi" else 1.0
    slope, se = float(beta[1]), math.sqrt(cov[1, 1] * phi)
    if dispersion == "quasi":  # scipy.stats.t's own special functions, without freezing one
        crit, p_decline = float(sc.stdtrit(df, 1 - alpha / 2)), float(sc.stdtr(df, slope / se))
    else:
        crit, p_decline = _z(alpha), float(sc.ndtr(slope / se))
    ci = (slope - crit * se, slope + crit * se)
    return FatigueFit(curve.creative, float(beta[0]), slope, se, ci, p_decline, phi, dispersion, df)


# ----- the tournament ------------------------------------------------------------------------
def _lifts(
    arms: Sequence[CreativeArm], control: str, alpha: float, correction: str
) -> dict[str, Lift]:
    """Each challenger's relative CTR lift vs control, p-values adjusted together."""
    ctrl = next(a for a in arms if a.name == control)
    challengers = [a for a in arms if a.name != control]
    effects = [ratio_test(ctrl.moments("ctr"), a.moments("ctr"), alpha=alpha) for a in challengers]
    p_adj = adjust_pvalues([e.p_value for e in effects], correction)
    lifts: dict[str, Lift] = {}
    for a, e, pa in zip(challengers, effects, p_adj, strict=True):
        mc, mt, vc, vt = e.control_mean, e.treatment_mean, e.var_control_mean, e.var_treatment_mean
        se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4) if mc > 0 else math.nan
        lifts[a.name] = Lift(e.rel_effect, se, e.rel_ci or NAN2, e.p_value, pa, bool(pa < alpha))
    return lifts


def _shrunk_lifts(
    lifts: Mapping[str, Lift], shrinkage: str, morris: bool | None, alpha: float
) -> tuple[Shrinkage, dict[str, ShrunkLift]]:
    """The shrinkage fit of the lifts with an estimate and a positive SE, and each
    creative's shrunk lift (NaN for the others)."""
    ok = [n for n, lf in lifts.items() if math.isfinite(lf.estimate) and lf.se > 0]
    fit = _shrink_or_not(
        [lifts[n].estimate for n in ok], [lifts[n].se for n in ok], shrinkage, morris, alpha
    )
    shrunk = {n: ShrunkLift(fit.estimate[j], fit.sd[j], fit.ci[j]) for j, n in enumerate(ok)} | {
        n: ShrunkLift(math.nan, math.nan, NAN2) for n in lifts if n not in ok
    }
    return fit, shrunk


def _ranking_posteriors(
    arms: Sequence[CreativeArm],
    rate: Mapping[str, Interval],
    metric: str,
    prior: str,
    shrinkage: str,
    morris: bool | None,
    alpha: float,
) -> tuple[Shrinkage | None, dict[str, NormalPosterior]]:
    """The posteriors the creatives are ranked by: under the ``campaign`` prior (with its
    fit), or ``flat``, each rate's normal approximation (and no fit)."""
    if prior == "campaign":
        return campaign_posteriors(arms, rate, metric, method=shrinkage, morris=morris, alpha=alpha)
    posts = {n: NormalPosterior(r.estimate, r.se) for n, r in rate.items()}
    if not all(math.isfinite(p.mean) and p.sd >= 0 for p in posts.values()):
        raise ValueError(f"{metric}: estimate or SE undefined for some creative")
    return None, posts


def _thompson_allocation(
    arms: Sequence[CreativeArm], basis: str, floor: float, n_next: int, draws: int, seed: int
) -> Allocation:
    """The Thompson weights (each arm's chance of being best under the ``basis``
    posteriors, then the ``floor``) and their simulation over the next ``n_next`` units."""
    alloc_posts = allocation_posteriors(arms, basis)
    probs = dict(
        zip(alloc_posts, rank_arms(alloc_posts, draws=draws, seed=seed).prob_best, strict=True)
    )
    weights = apply_floor(probs, floor)
    sim = simulate_allocation(alloc_posts, weights, n_next=n_next, draws=draws, seed=seed)
    return Allocation(basis, weights, probs, floor, sim)


def _shrink_or_not(
    values: Sequence[float], ses: Sequence[float], method: str, morris: bool | None, alpha: float
) -> Shrinkage:
    """:func:`shrink_lifts`, or the raw values as they are when there are fewer than 3."""
    if len(values) >= 3:
        return shrink_lifts(values, ses, method=method, morris=morris, alpha=alpha)
    z = _z(alpha)
    raw, se = tuple(values), tuple(ses)
    cis = tuple((e - z * s, e + z * s) for e, s in zip(raw, se, strict=True))
    return Shrinkage("none", math.nan, math.nan, math.nan, False, raw, se, raw, se, cis)


def campaign_posteriors(
    arms: Sequence[CreativeArm],
    rates: Mapping[str, Interval],
    metric: str,
    *,
    method: str = "reml",
    morris: bool | None = None,
    alpha: float = 0.05,
) -> tuple[Shrinkage, dict[str, NormalPosterior]]:
    """The campaign prior's fit on ``metric`` and each arm's posterior (module doc)."""
    ms = [a.moments(metric) for a in arms]
    sum_x = sum(m.sum_x for m in ms)
    pooled = sum(m.sum_y for m in ms) / sum_x if sum_x > 0 else math.nan
    est, ses = [], []
    for a, m in zip(arms, ms, strict=True):
        r = rates[a.name]
        se = r.se
        if not (math.isfinite(se) and se > 0):
            se = math.sqrt(max(pooled * (1 - pooled), 1e-12) / m.sum_x) if m.sum_x else math.nan
        if not (math.isfinite(r.estimate) and math.isfinite(se) and se > 0):
            raise ValueError(f"{metric}: estimate or SE undefined for creative {a.name!r}")
        est.append(r.estimate)
        ses.append(se)
    fit = _shrink_or_not(est, ses, method, morris, alpha)
    posts = {a.name: NormalPosterior(fit.estimate[j], fit.sd[j]) for j, a in enumerate(arms)}
    return fit, posts


def group_results(
    arms: Sequence[CreativeArm],
    groups: Mapping[str, Sequence[str]],
    *,
    alpha: float = 0.05,
    draws: int = 20_000,
    seed: int = DEFAULT_SEED,
) -> tuple[GroupResult, ...]:
    """Each group's summed creatives as one arm, and its chance of being the best group."""
    by_name = {a.name: a for a in arms}
    unknown = sorted({n for members in groups.values() for n in members} - set(by_name))
    if unknown:
        raise ValueError(f"groups name unknown creatives: {unknown[:5]}")
    if any(not members for members in groups.values()):
        raise ValueError("every group needs at least one creative")
    combined = [CreativeArm.combine(g, [by_name[n] for n in m]) for g, m in groups.items()]
    ctr = {g.name: rate_interval(g.moments("ctr"), alpha) for g in combined}
    posts = {n: NormalPosterior(r.estimate, max(r.se, 0.0)) for n, r in ctr.items()}
    best = rank_arms(posts, draws=draws, seed=seed).prob_best
    return tuple(
        GroupResult(
            g.name,
            tuple(groups[g.name]),
            g.users,
            g.impressions,
            g.clicks,
            g.conversions,
            ctr[g.name],
            rate_interval(g.moments("cvr"), alpha),
            best[j],
            cpa_interval(g, alpha),
            cpc_interval(g, alpha),
            roas_interval(g, alpha),
            *_totals(g),
        )
        for j, g in enumerate(combined)
    )


def _check(arms: Sequence[CreativeArm], control: str, **options: Any) -> None:
    """The errors :func:`analyze_creatives` raises for its arguments, in one line each."""
    k = len(arms)
    if not MIN_ARMS <= k <= MAX_ARMS:
        raise ValueError(f"a tournament needs {MIN_ARMS} to {MAX_ARMS} creatives, got {k}")
    names = [a.name for a in arms]
    if len(set(names)) != k:
        raise ValueError("creative names must be distinct")
    if control not in names:
        shown = names if k <= 10 else [*names[:10], "…"]
        raise ValueError(f"control {control!r} is not among the creatives {shown}")
    allowed = {
        "correction": CORRECTIONS,
        "metric": METRICS,
        "shrinkage": TAU2_METHODS,
        "prior": PRIORS,
    }
    for key, values in allowed.items():
        if options[key] not in values:
            raise ValueError(f"{key} must be one of {values}, got {options[key]!r}")
    if not 0 < options["alpha"] < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {options['alpha']}")
    if options["top_k"] < 1:
        raise ValueError(f"top_k must be at least 1, got {options['top_k']}")


def analyze_creatives(
    arms: Sequence[CreativeArm],
    *,
    control: str,
    alpha: float = 0.05,
    correction: str = "bh",
    metric: str = "ctr",
    shrinkage: str = "reml",
    morris: bool | None = None,
    allocation: str = "ctr",
    floor: float | None = None,
    n_next: int = 100_000,
    draws: int = 100_000,
    seed: int = DEFAULT_SEED,
    fatigue: Sequence[FatigueCurve] | None = None,
    fatigue_dispersion: str = "quasi",
    prior: str = "campaign",
    top_k: int = 3,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> CreativeResult:
    """Analyse a creative tournament; every convention is in the module docstring.

    Args:
        arms: 2 to 5,000 creatives with distinct names, one of them ``control``.
        control: the reference creative for lifts.
        alpha: level of tests and ``1 − α`` intervals.
        correction: multiple-testing correction (:data:`liftlab.stats.multiple.CORRECTIONS`).
        metric: the ranking metric (rank, ``prob_best``, ``expected_loss``, ``prob_top_k``):
            ``ctr``, ``cvr`` or ``cvr_impression``.
        shrinkage, morris: ``τ²`` estimator and Morris's correction (``None``: when K ≥ 4),
            for the lifts and the campaign prior.
        allocation: posterior of the Thompson weights (:data:`ALLOCATIONS`).
        floor: least share per arm (default ``1/(10k)``).
        n_next: next period's units (impressions; users for ``conversion-user-beta``).
        draws, seed: Monte Carlo draws per arm and seed (ranking and the simulation).
        fatigue: optional day-index curves per creative; ``fatigue_dispersion`` their SE.
        prior: ``campaign`` (empirical Bayes across the creatives) or ``flat`` for ranking.
        top_k: ``prob_top_k`` is the chance of being among the ``top_k`` best (capped at k).
        groups: optional ``{group: [creatives]}`` reported as summed arms.

    Raises:
        ValueError: < 2 or > 5,000 arms, duplicate names, a missing control, unknown
            options, a metric whose SE cannot be computed, or invalid fatigue curves.
    """
    _check(
        arms, control, correction=correction, metric=metric, alpha=alpha,
        shrinkage=shrinkage, prior=prior, top_k=top_k,
    )  # fmt: skip
    k = len(arms)
    floor = 1 / (10 * k) if floor is None else floor
    rates = {a.name: {m: rate_interval(a.moments(m), alpha) for m in METRICS} for a in arms}
    lifts = _lifts(arms, control, alpha, correction)
    fit, shrunk = _shrunk_lifts(lifts, shrinkage, morris, alpha)
    rate = {n: r[metric] for n, r in rates.items()}
    campaign, posts = _ranking_posteriors(arms, rate, metric, prior, shrinkage, morris, alpha)
    ranking = rank_arms(posts, top_k=top_k, draws=draws, seed=seed)
    order = sorted(range(k), key=lambda j: -posts[arms[j].name].mean)
    rank = {arms[j].name: i + 1 for i, j in enumerate(order)}
    alloc = _thompson_allocation(arms, allocation, floor, n_next, draws, seed)
    fat = None
    if fatigue is not None:
        unknown = {c.creative for c in fatigue} - set(rate)
        if unknown:
            raise ValueError(f"fatigue curves for unknown creatives: {sorted(unknown)}")
        fat = tuple(fit_fatigue(c, alpha=alpha, dispersion=fatigue_dispersion) for c in fatigue)
    grouped = (
        None if groups is None else group_results(arms, groups, alpha=alpha, draws=draws, seed=seed)
    )

    def one(j: int, a: CreativeArm) -> ArmResult:
        r = rates[a.name]
        c = None if campaign is None else campaign
        rate_post = None if c is None else ShrunkLift(c.estimate[j], c.sd[j], c.ci[j])
        return ArmResult(
            a.name, a.users, a.impressions, a.clicks, a.conversions,
            r["ctr"], r["cvr"], r["cvr_impression"],
            cpa_interval(a, alpha), roas_interval(a, alpha),
            lifts.get(a.name), ranking.prob_best[j], ranking.expected_loss[j],
            shrunk.get(a.name), rank[a.name], ranking.prob_top_k[j], rate_post,
            cpc_interval(a, alpha), *_totals(a),
        )  # fmt: skip

    results = tuple(one(j, a) for j, a in enumerate(arms))
    return CreativeResult(
        control, alpha, correction, metric, results, fit, alloc, fat, draws, seed,
        prior, ranking.top_k, ranking.mc_se, campaign, grouped,
    )  # fmt: skip
