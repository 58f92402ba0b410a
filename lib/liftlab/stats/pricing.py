"""Pricing analysis on sufficient statistics: per-arm metrics, a demand curve and its optimum.

Each price arm arrives as the engine's sums over its visitors (no unit rows), see
:class:`PriceArm`: the visitor count ``n``, ``Σc`` (buyers; ``c`` = 1 when the visitor
bought), ``Σr`` and ``Σr²`` (``r`` = revenue per visitor, 0 for non-buyers), ``Σr·c`` and,
optionally, the units sold ``u`` (``Σu``, ``Σu²``, ``Σr·u``; default one unit per purchase,
``u = c``).

Conventions (defaults in bold; alternatives by name):

- **Conversion** ``Σc/n`` with the **Wald** interval ``p̂ ± z·sqrt(p̂(1 − p̂)/n)`` (binomial
  variance, ``n`` denominator; a single point when the conversion is 0 or 1) or ``wilson``
  (Wilson, 1927, score interval), as ``statsmodels``' ``proportion_confint`` ``normal`` and
  ``wilson``.
- **AOV** (average order value among buyers) ``Σr/Σc``: a ratio of sums over visitors, so the
  delta method of :func:`liftlab.stats.frequentist.ratio_variance` with ``y = r``, ``x = c``,
  ``Σc² = Σc`` and ``Σr·c``; normal interval. ``NaN`` without buyers.
- **RPV** (revenue per visitor) ``Σr/n``, and **profit per visitor** ``Σ(r − k·u)/n`` for a
  unit cost ``k``: the mean of per-visitor values, sample variance (``n − 1``), Student-t
  interval with ``n − 1`` df (the one-sample form of the project's Welch convention).
- **Decomposition** of a treatment arm against control. ``RPV = conversion × AOV`` exactly,
  so ``log(RPV_t/RPV_c) = log(conv_t/conv_c) + log(AOV_t/AOV_c)``. Each log ratio has the
  delta-method variance ``Σ_g Var(m̂_g)/m̂_g²`` (arms independent; ``Var`` as above: binomial
  for conversion, the ratio variance for AOV, ``s²_r/n`` for RPV), a normal interval
  ``exp(L ± z·se) − 1`` for the lift and a two-sided z p-value. When revenue comes only from
  buyers the conversion and AOV log ratios are asymptotically uncorrelated, so the RPV
  variance is close to the sum of the two parts; each is reported from its own variance.
- **Demand** ``q(p) = h(α + β·p)``, ``h`` the inverse **logit** or ``log`` link: a binomial
  GLM of buyers out of visitors, arms pooled per distinct price, fitted by Fisher scoring
  (IRLS) with step-halving. The likelihood depends on the data only through the per-price
  counts, so this is exactly the MLE of the unit-level 0/1 regression. Covariance = inverse
  expected Fisher information at the MLE (observed = expected for the logit; statsmodels'
  ``GLM`` default). ``loglik`` is the unit-level Bernoulli log-likelihood
  ``Σ[y log q + (n − y) log(1 − q)]``; statsmodels' grouped ``llf`` adds ``Σ log C(n, y)``.
  ``deviance`` and Pearson χ² are the grouped ones, with ``k − 2`` df for ``k`` prices
  (goodness of fit only when ``k > 2``). Band of ``q(p)``: the normal interval of the linear
  predictor ``η ± z·sqrt(g'Σg)``, ``g = (1, p)``, transformed by ``h`` (the log link's upper
  bound is capped at 1).
- **Elasticity** ``ε(p) = q'(p)·p/q(p)``: ``β·p·(1 − q(p))`` (logit), ``β·p`` (log), with a
  delta-method normal interval (gradient in ``(α, β)``).
- **Optimal price** maximises ``R(p) = p·q(p)`` (revenue per visitor under the model, one unit
  at the list price per purchase) or profit ``(p − k)·q(p)`` over the *tested* range
  ``[min price, max price]`` only: nothing is extrapolated. With ``β < 0`` the objective is
  unimodal with the closed-form stationary point ``p* = k − (1 + ω(α + βk − 1))/β`` (logit;
  ``ω`` the Wright omega function, ``ω(z) = W(eᶻ)``) or ``p* = k − 1/β`` (log), clipped to
  the range; with ``β ≥ 0`` the best end of the range. When ``R`` still rises at the top
  price the answer is the top edge: a higher price was not tested. Interval: parametric
  (Krinsky–Robb) bootstrap, ``draws`` (default 2000) ``(α, β) ~ N(θ̂, Σ̂)`` from
  ``numpy.random.default_rng(seed)``, each re-optimised within the range; equal-tailed
  percentile interval. ``at_edge``: the optimum lies within 1% of the range width of an
  end; ``edge_fraction``: the share of draws that do.
- **Chance of the highest RPV** (model-free): each arm's RPV ``~ N(r̄, s²_r/n)``,
  independent, by seeded Monte Carlo (:func:`liftlab.stats.bayesian.prob_best`).
- **Trend test**: Cochran–Armitage for a linear trend in conversion with the prices as
  scores, ``z = Σ y_i(p_i − p̄) / sqrt(π̂(1 − π̂)·Σ n_i(p_i − p̄)²)`` (``p̄`` visitor-weighted,
  ``π̂`` pooled conversion), two-sided normal p. ``z²`` is the Rao score statistic for
  ``β = 0`` in the logistic model; statsmodels' ``Table.test_ordinal_association`` (linear-by-
  linear, permutation variance) gives ``z·sqrt((N − 1)/N)``. ``z > 0``: conversion rises
  with price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liftlab.startup import lazy_module
from liftlab.stats.bayesian import NormalPosterior, prob_best
from liftlab.stats.frequentist import ppf, ratio_variance, sf
from liftlab.stats.moments import Moments

sc = lazy_module("scipy.special")  # loaded on first use

LINKS = ("logit", "log")
CONVERSION_INTERVALS = ("wald", "wilson")
DEFAULT_DRAWS = 2_000
DEFAULT_SEED = 20_240_601
EDGE_TOLERANCE = 0.01
"""An optimum within this fraction of the range width of an end is ``at_edge``."""
_EXTREME_Q = 1e-9

Float = NDArray[np.float64]


# ----- input ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PriceArm:
    """One price arm as the engine's sums over its visitors.

    Attributes:
        name: arm name; price: the list price shown.
        n: visitors; buyers: ``Σc``, visitors who bought.
        revenue_sum, revenue_sumsq: ``Σr``, ``Σr²`` of revenue per visitor (0 for non-buyers).
        revenue_buyers_sum: ``Σr·c``; ``None`` means ``Σr`` (revenue only from buyers).
        unit_cost: cost ``k`` of one unit sold, for profit ``r − k·u`` per visitor.
        units_sum, units_sumsq, revenue_units_sum: ``Σu``, ``Σu²``, ``Σr·u`` of units sold per
            visitor; ``None`` means one unit per purchase (``u = c``). Give all three or none.
    """

    name: str
    price: float
    n: int
    buyers: int
    revenue_sum: float
    revenue_sumsq: float
    revenue_buyers_sum: float | None = None
    unit_cost: float | None = None
    units_sum: float | None = None
    units_sumsq: float | None = None
    revenue_units_sum: float | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"arm {self.name!r} has {self.n} visitors; every arm needs at least 1")
        if not 0 <= self.buyers <= self.n:
            raise ValueError(
                f"arm {self.name!r}: buyers must be in [0, n={self.n}], got {self.buyers}"
            )
        if not (math.isfinite(self.price) and self.price >= 0):
            raise ValueError(f"arm {self.name!r}: price must be finite and ≥ 0, got {self.price}")
        if self.unit_cost is not None and not (
            math.isfinite(self.unit_cost) and self.unit_cost >= 0
        ):
            raise ValueError(f"arm {self.name!r}: unit_cost must be finite and ≥ 0")
        units = (self.units_sum, self.units_sumsq, self.revenue_units_sum)
        if any(v is None for v in units) and any(v is not None for v in units):
            raise ValueError(
                f"arm {self.name!r}: give units_sum, units_sumsq and revenue_units_sum together"
            )

    @property
    def sum_rc(self) -> float:
        """``Σr·c``."""
        return self.revenue_sum if self.revenue_buyers_sum is None else self.revenue_buyers_sum

    def revenue_moments(self) -> Moments:
        """``y = r``, ``x = c`` (so ``Σx² = Σc``): the AOV ``Σr/Σc`` is the ratio ``Σy/Σx``."""
        return Moments(
            self.n, self.revenue_sum, self.revenue_sumsq, self.buyers, self.buyers, self.sum_rc
        )

    def profit_moments(self, unit_cost: float) -> Moments:
        """``y = r − k·u``: ``Σy = Σr − kΣu``, ``Σy² = Σr² − 2kΣru + k²Σu²``."""
        if self.units_sum is None:
            su, su2, sru = float(self.buyers), float(self.buyers), self.sum_rc
        else:
            su, su2, sru = (
                self.units_sum,
                float(self.units_sumsq or 0.0),
                float(self.revenue_units_sum or 0.0),
            )
        k = unit_cost
        return Moments(
            self.n, self.revenue_sum - k * su, self.revenue_sumsq - 2 * k * sru + k * k * su2
        )


# ----- results -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate, its standard error and ``1 − α`` interval (``None`` if undefined)."""

    estimate: float
    se: float
    ci: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": _num(self.estimate), "se": _num(self.se), "ci": _ci(self.ci)}


@dataclass(frozen=True, slots=True)
class ArmMetrics:
    """Per-arm conversion, AOV, RPV and (with a unit cost) profit per visitor."""

    name: str
    price: float
    n: int
    buyers: int
    conversion: Estimate
    aov: Estimate
    rpv: Estimate
    profit: Estimate | None
    alpha: float
    conversion_interval: str


@dataclass(frozen=True, slots=True)
class Lift:
    """``treatment/control − 1`` with its log ratio, normal interval and two-sided p-value."""

    estimate: float
    log_ratio: float | None
    se_log: float
    ci: tuple[float, float] | None
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": _num(self.estimate),
            "ci": _ci(self.ci),
            "log_ratio": _num(self.log_ratio),
            "p_value": _num(self.p_value),
        }


@dataclass(frozen=True, slots=True)
class Decomposition:
    """RPV lift of ``variant`` over ``control`` split into conversion and AOV lifts."""

    variant: str
    control: str
    rpv_lift: Lift
    conversion_lift: Lift
    aov_lift: Lift

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "control": self.control,
            "rpv_lift": self.rpv_lift.to_dict(),
            "conversion_lift": self.conversion_lift.to_dict(),
            "aov_lift": self.aov_lift.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Elasticity:
    """Price elasticity of conversion at ``price`` with its delta-method interval."""

    price: float
    estimate: float
    se: float
    ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"price": self.price, "estimate": _num(self.estimate), "ci": _ci(self.ci)}


@dataclass(frozen=True, slots=True)
class DemandFit:
    """Binomial GLM ``q(p) = h(intercept + slope·p)`` fitted on per-price counts.

    ``prices``, ``n``, ``buyers`` are the distinct prices (ascending) and pooled counts.
    """

    link: str
    intercept: float
    slope: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    loglik: float
    deviance: float
    pearson_chi2: float
    df_resid: int
    prices: tuple[float, ...]
    n: tuple[int, ...]
    buyers: tuple[int, ...]
    iterations: int

    @property
    def params(self) -> Float:
        return np.array([self.intercept, self.slope])

    @property
    def cov(self) -> Float:
        return np.array(self.covariance, dtype=float)

    @property
    def price_range(self) -> tuple[float, float]:
        return self.prices[0], self.prices[-1]

    def q(self, price: ArrayLike) -> Float:
        """Predicted conversion at ``price``."""
        return _inverse_link(self.link, self.intercept + self.slope * np.asarray(price, float))[0]

    def band(self, price: ArrayLike, alpha: float = 0.05) -> tuple[Float, Float, Float]:
        """``q(p)`` and the ends of its ``1 − α`` band (normal interval of ``η``, transformed)."""
        p = np.asarray(price, dtype=float)
        eta = self.intercept + self.slope * p
        c = self.cov
        se = np.sqrt(np.maximum(c[0, 0] + 2 * p * c[0, 1] + p * p * c[1, 1], 0.0))
        z = _z(alpha)
        q = _inverse_link(self.link, eta)[0]
        lo = _inverse_link(self.link, eta - z * se)[0]
        hi = _inverse_link(self.link, eta + z * se)[0]
        return q, lo, np.minimum(hi, 1.0)

    def elasticity(self, price: ArrayLike, alpha: float = 0.05) -> list[Elasticity]:
        """``ε(p)`` at each price with its delta-method normal interval."""
        b, c, z = self.slope, self.cov, _z(alpha)
        out = []
        for p in np.atleast_1d(np.asarray(price, dtype=float)):
            if self.link == "logit":
                q = float(self.q(p))
                eps = b * p * (1 - q)
                grad = np.array([-b * p * q * (1 - q), p * (1 - q) * (1 - b * p * q)])
            else:
                eps, grad = b * p, np.array([0.0, p])
            se = math.sqrt(max(float(grad @ c @ grad), 0.0))
            out.append(Elasticity(float(p), float(eps), se, (eps - z * se, eps + z * se)))
        return out

    def gof(self) -> dict[str, Any]:
        """Pearson χ² and deviance with ``k − 2`` df (p-values ``None`` when ``k = 2``)."""
        df = self.df_resid
        return {
            "pearson_chi2": _num(self.pearson_chi2),
            "deviance": _num(self.deviance),
            "df": df,
            "pearson_p_value": _num(float(sc.chdtrc(df, self.pearson_chi2))) if df > 0 else None,
            "deviance_p_value": _num(float(sc.chdtrc(df, self.deviance))) if df > 0 else None,
        }


@dataclass(frozen=True, slots=True)
class OptimalPrice:
    """The model's best price in the tested range, with its bootstrap percentile interval.

    ``value`` is the objective at ``price`` under the fitted model (revenue or profit per
    visitor); ``note`` explains an optimum at an end of the range.
    """

    objective: str
    price: float
    ci: tuple[float, float]
    value: float
    at_edge: bool
    edge_fraction: float
    price_range: tuple[float, float]
    unit_cost: float | None
    draws: int
    seed: int
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "price": _num(self.price),
            "ci": _ci(self.ci),
            "value": _num(self.value),
            "at_edge": self.at_edge,
            "edge_fraction": _num(self.edge_fraction),
            "range": list(self.price_range),
            "unit_cost": self.unit_cost,
            "draws": self.draws,
            "seed": self.seed,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class TrendTest:
    """Cochran–Armitage trend test: ``z`` and its two-sided normal p-value."""

    z: float
    p_value: float


@dataclass(frozen=True, slots=True)
class PricingResult:
    """Everything :func:`analyze_pricing` computes; :meth:`to_dict` is JSON-safe."""

    alpha: float
    control: str
    unit_cost: float | None
    arms: tuple[ArmMetrics, ...]
    prob_best_rpv: dict[str, float]
    demand: DemandFit
    elasticity: tuple[Elasticity, ...]
    curve: tuple[tuple[float, float, float, float], ...]
    optimal_price: OptimalPrice
    optimal_profit_price: OptimalPrice | None
    trend: TrendTest
    decomposition: tuple[Decomposition, ...]

    def to_dict(self) -> dict[str, Any]:
        k = self.unit_cost
        d = self.demand
        return {
            "alpha": self.alpha,
            "control": self.control,
            "unit_cost": k,
            "arms": [
                {
                    "name": a.name,
                    "price": a.price,
                    "n": a.n,
                    "buyers": a.buyers,
                    "conversion": a.conversion.to_dict(),
                    "aov": a.aov.to_dict(),
                    "rpv": a.rpv.to_dict(),
                    "profit": a.profit.to_dict() if a.profit is not None else None,
                    "prob_best_rpv": _num(self.prob_best_rpv[a.name]),
                }
                for a in self.arms
            ],
            "demand": {
                "link": d.link,
                "coefficients": {"intercept": d.intercept, "price": d.slope},
                "se": {
                    "intercept": _num(math.sqrt(d.cov[0, 0])),
                    "price": _num(math.sqrt(d.cov[1, 1])),
                },
                "covariance": [[_num(v) for v in row] for row in d.covariance],
                "loglik": _num(d.loglik),
                "iterations": d.iterations,
                "elasticity": [e.to_dict() for e in self.elasticity],
                "curve": [
                    {
                        "price": p,
                        "conversion": _num(q),
                        "ci_low": _num(lo),
                        "ci_high": _num(hi),
                        "rpv": _num(p * q),
                        "profit": _num((p - k) * q) if k is not None else None,
                    }
                    for p, q, lo, hi in self.curve
                ],
                "gof": d.gof(),
            },
            "optimal_price": self.optimal_price.to_dict(),
            "optimal_profit_price": (
                self.optimal_profit_price.to_dict() if self.optimal_profit_price else None
            ),
            "trend": {"z": _num(self.trend.z), "p_value": _num(self.trend.p_value)},
            "decomposition": [x.to_dict() for x in self.decomposition],
        }


# ----- per-arm metrics -----------------------------------------------------------------------
def arm_metrics(
    arm: PriceArm,
    alpha: float = 0.05,
    *,
    conversion_interval: str = "wald",
    unit_cost: float | None = None,
) -> ArmMetrics:
    """Conversion, AOV, RPV and profit per visitor of one arm (conventions in the module doc).

    Profit needs a unit cost: ``unit_cost`` here or the arm's own (they must agree).
    """
    if conversion_interval not in CONVERSION_INTERVALS:
        raise ValueError(f"conversion_interval must be one of {CONVERSION_INTERVALS}")
    z, n = _z(alpha), arm.n
    p = arm.buyers / n
    se_p = math.sqrt(p * (1 - p) / n)
    if conversion_interval == "wald":
        conv_ci = (p - z * se_p, p + z * se_p)
    else:
        d = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / d
        half = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        conv_ci = (mid - half, mid + half)
    m = arm.revenue_moments()
    if arm.buyers > 0:
        aov = arm.revenue_sum / arm.buyers
        aov_se = math.sqrt(max(ratio_variance(m), 0.0)) if n > 1 else math.nan
        aov_est = Estimate(aov, aov_se, _normal_ci(aov, aov_se, z))
    else:
        aov_est = Estimate(math.nan, math.nan, None)
    cost = _resolve_cost([arm], unit_cost)
    profit = _mean_t(arm.profit_moments(cost), alpha) if cost is not None else None
    return ArmMetrics(
        name=arm.name,
        price=arm.price,
        n=n,
        buyers=arm.buyers,
        conversion=Estimate(p, se_p, conv_ci),
        aov=aov_est,
        rpv=_mean_t(m, alpha),
        profit=profit,
        alpha=alpha,
        conversion_interval=conversion_interval,
    )


def decompose(control: PriceArm, treatment: PriceArm, alpha: float = 0.05) -> Decomposition:
    """Split the RPV lift into conversion and AOV lifts on the log scale (module doc).

    ``log_ratio`` of RPV equals the sum of the conversion and AOV log ratios exactly.
    """
    z = _z(alpha)

    def parts(a: PriceArm) -> dict[str, tuple[float, float]]:
        conv = a.buyers / a.n
        aov = a.revenue_sum / a.buyers if a.buyers else math.nan
        rpv = a.revenue_sum / a.n
        m = a.revenue_moments()
        v_aov = ratio_variance(m) if a.buyers else math.nan
        return {
            "conversion": (conv, conv * (1 - conv) / a.n),
            "aov": (aov, v_aov),
            "rpv": (rpv, m.var_y / a.n),
        }

    pc, pt = parts(control), parts(treatment)
    lifts = {k: _log_lift(*pc[k], *pt[k], z) for k in pc}
    return Decomposition(
        treatment.name, control.name, lifts["rpv"], lifts["conversion"], lifts["aov"]
    )


def prob_best_rpv(
    arms: Sequence[PriceArm], draws: int = 100_000, seed: int = DEFAULT_SEED
) -> dict[str, float]:
    """Chance each arm has the highest RPV: ``RPV_g ~ N(r̄_g, s²_g/n_g)`` independent, by
    seeded Monte Carlo (:func:`liftlab.stats.bayesian.prob_best`, arms in the given order).
    """
    _check_names(arms)
    post = {}
    for a in arms:
        m = a.revenue_moments()
        if a.n < 2:
            raise ValueError(f"arm {a.name!r} has {a.n} visitor; an RPV variance needs 2")
        post[a.name] = NormalPosterior(m.mean_y, math.sqrt(m.var_y / a.n))
    return prob_best(post, seed=seed, draws=draws).prob_best


# ----- demand model ------------------------------------------------------------------------
def fit_demand(
    arms: Sequence[PriceArm], link: str = "logit", *, max_iter: int = 100, tol: float = 1e-10
) -> DemandFit:
    """Binomial GLM of conversion on price, by Fisher scoring on the per-price counts.

    Raises:
        ValueError: fewer than 2 distinct prices, no buyers at all or only buyers, or
            (quasi-)separated data where the MLE does not exist (the fit does not converge
            or predicts a conversion of 0 or 1): the demand curve is then unavailable.
    """
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}, got {link!r}")
    prices, n, y = _grouped(arms)
    _check_demand_data(prices, n, y)
    # Fit on centred, scaled prices for conditioning; map back to (intercept, slope) at the end.
    mid, half = float(prices.mean()), float(prices.max() - prices.min()) / 2
    x = np.column_stack([np.ones_like(prices), (prices - mid) / half])
    theta, ll, converged, it = _fisher_scoring(link, x, n, y, max_iter, tol)
    q, dq = _inverse_link(link, x @ theta)
    if not converged or not math.isfinite(ll) or q.min() < _EXTREME_Q or q.max() > 1 - _EXTREME_Q:
        where = "q(p) = 1 at some price (the log-link MLE is on its boundary; try link='logit')"
        if link == "logit" or q.min() < _EXTREME_Q:
            where = "a predicted conversion of 0 or 1 (the data are (quasi-)separated)"
        raise ValueError(
            f"demand fit unavailable: the {link}-link binomial MLE does not exist (no convergence "
            f"in {max_iter} iterations): the fit heads to {where}; conversions per price: "
            + ", ".join(f"{p:g}: {int(b)}/{int(m)}" for p, b, m in zip(prices, y, n, strict=True))
        )
    v = q * (1 - q)
    jac = np.array([[1.0, -mid / half], [0.0, 1.0 / half]])
    params = jac @ theta
    cov = jac @ np.linalg.inv(_fisher_information(x, n, dq, v)) @ jac.T
    mu = n * q
    dev = 2 * float(np.sum(sc.xlogy(y, y / mu) + sc.xlogy(n - y, (n - y) / (n - mu))))
    return DemandFit(
        link=link,
        intercept=float(params[0]),
        slope=float(params[1]),
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        loglik=ll,
        deviance=dev,
        pearson_chi2=float(np.sum((y - mu) ** 2 / (n * v))),
        df_resid=int(prices.size - 2),
        prices=tuple(float(p) for p in prices),
        n=tuple(int(m) for m in n),
        buyers=tuple(int(b) for b in y),
        iterations=it,
    )


def _check_demand_data(prices: Float, n: Float, y: Float) -> None:
    """At least 2 distinct prices, and neither no buyers nor only buyers (where the binomial
    MLE does not exist)."""
    if prices.size < 2:
        raise ValueError(
            f"the demand curve needs at least 2 distinct prices, got {prices.size} "
            f"({', '.join(map(str, prices))}): conversion cannot be related to price"
        )
    total_y, total_n = float(y.sum()), float(n.sum())
    if total_y == 0:
        raise ValueError(
            "demand fit unavailable: no visitor bought at any price (conversion 0 everywhere); "
            "the binomial MLE does not exist"
        )
    if total_y == total_n:
        raise ValueError(
            "demand fit unavailable: every visitor bought at every price (conversion 1 "
            "everywhere); the binomial MLE does not exist"
        )


def _fisher_information(x: Float, n: Float, dq: Float, v: Float) -> Float:
    """``Xᵀ W X`` with ``W = n·(dq/dη)²/(q(1 − q))`` per price."""
    info: Float = x.T @ (x * (n * dq * dq / v)[:, None])
    return info


def _fisher_scoring(
    link: str, x: Float, n: Float, y: Float, max_iter: int, tol: float
) -> tuple[Float, float, bool, int]:
    """Fisher scoring from the pooled conversion (slope 0) with step-halving (never lower the
    likelihood, never leave the link's domain): the coefficients on ``x``, the
    log-likelihood, whether the steps fell below ``tol``, and the iterations. It stops early
    on a fitted conversion of exactly 0 or 1 (separation), a singular information or a step
    that halving cannot make acceptable."""
    pbar = float(y.sum()) / float(n.sum())
    theta = np.array([math.log(pbar / (1 - pbar)) if link == "logit" else math.log(pbar), 0.0])
    ll = _loglik(link, x @ theta, n, y)
    converged, it = False, 0
    while it < max_iter and not converged:
        it += 1
        q, dq = _inverse_link(link, x @ theta)
        v = q * (1 - q)
        if not np.all(v > 0):  # a fitted conversion of exactly 0 or 1: separation
            break
        score = x.T @ ((y - n * q) * dq / v)
        try:
            step = np.linalg.solve(_fisher_information(x, n, dq, v), score)
        except np.linalg.LinAlgError:
            break
        t = 1.0  # step-halving: never lower the likelihood, never leave the link's domain
        while t >= 1e-12:
            ll_new = _loglik(link, x @ (theta + t * step), n, y)
            if math.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1 + abs(ll)):
                break
            t /= 2
        if t < 1e-12:
            break
        theta, ll = theta + t * step, ll_new
        converged = float(np.max(np.abs(t * step))) < tol
    return theta, ll, converged, it


def optimal_price(
    fit: DemandFit,
    *,
    unit_cost: float | None = None,
    alpha: float = 0.05,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> OptimalPrice:
    """Price maximising ``p·q(p)`` (or ``(p − k)·q(p)`` with ``unit_cost=k``) in the tested range.

    No extrapolation: the search is over ``[min price, max price]``; an optimum at an end
    (``at_edge``) means the objective still improves towards that end. The interval is the
    parametric bootstrap percentile interval (module doc).
    """
    if draws < 1:
        raise ValueError(f"optimal_price needs at least one draw, got {draws}")
    lo, hi = fit.price_range
    k = 0.0 if unit_cost is None else float(unit_cost)
    best = float(
        _argmax_price(fit.link, np.array([fit.intercept]), np.array([fit.slope]), lo, hi, k)[0]
    )
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal(fit.params, fit.cov, size=draws, method="cholesky")
    boot = _argmax_price(fit.link, theta[:, 0], theta[:, 1], lo, hi, k)
    ci = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    tol = EDGE_TOLERANCE * (hi - lo)
    edge = (boot - lo <= tol) | (hi - boot <= tol)
    at_edge = best - lo <= tol or hi - best <= tol
    note = None
    if hi - best <= tol:
        note = f"optimum at the top of the tested range ({hi:g}): higher prices were not tested"
    elif best - lo <= tol:
        note = f"optimum at the bottom of the tested range ({lo:g}): lower prices were not tested"
    return OptimalPrice(
        objective="revenue" if unit_cost is None else "profit",
        price=best,
        ci=(float(ci[0]), float(ci[1])),
        value=float((best - k) * fit.q(best)),
        at_edge=bool(at_edge),
        edge_fraction=float(edge.mean()),
        price_range=(lo, hi),
        unit_cost=unit_cost,
        draws=draws,
        seed=seed,
        note=note,
    )


def trend_test(arms: Sequence[PriceArm]) -> TrendTest:
    """Cochran–Armitage test of a linear trend in conversion over prices (module doc)."""
    p = np.array([a.price for a in arms], dtype=float)
    n = np.array([a.n for a in arms], dtype=float)
    y = np.array([a.buyers for a in arms], dtype=float)
    if np.unique(p).size < 2:
        raise ValueError("the trend test needs at least 2 distinct prices")
    big_n = n.sum()
    pi = y.sum() / big_n
    if pi in (0.0, 1.0):
        raise ValueError("the trend test needs some buyers and some non-buyers")
    pbar = float(n @ p) / big_n
    t = float(y @ (p - pbar))
    var = pi * (1 - pi) * float(n @ (p - pbar) ** 2)
    z = t / math.sqrt(var)
    return TrendTest(z, 2 * sf(abs(z)))


# ----- everything ----------------------------------------------------------------------------
def analyze_pricing(
    arms: Sequence[PriceArm],
    *,
    alpha: float = 0.05,
    link: str = "logit",
    unit_cost: float | None = None,
    control: str | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    conversion_interval: str = "wald",
    grid_points: int = 41,
    prob_best_draws: int = 100_000,
) -> PricingResult:
    """Per-arm metrics, decomposition against control, demand curve, optimum and trend test.

    ``unit_cost`` (or the arms' common ``unit_cost``) adds profit per visitor and the
    profit-optimal price. ``control`` names the control arm (default: the first). The curve
    has ``grid_points`` prices spread evenly over the tested range. The demand-curve parts
    raise ``ValueError`` when the fit is unavailable (see :func:`fit_demand`);
    :func:`arm_metrics` and :func:`decompose` still work then.
    """
    if not arms:
        raise ValueError("analyze_pricing needs at least one arm")
    _check_names(arms)
    names = [a.name for a in arms]
    control = names[0] if control is None else control
    if control not in names:
        raise ValueError(f"control {control!r} is not one of the arms {names}")
    cost = _resolve_cost(arms, unit_cost)
    fit = fit_demand(arms, link)
    ctrl = arms[names.index(control)]
    lo, hi = fit.price_range
    grid = np.linspace(lo, hi, max(grid_points, 2))
    q, q_lo, q_hi = fit.band(grid, alpha)
    return PricingResult(
        alpha=alpha,
        control=control,
        unit_cost=cost,
        arms=tuple(
            arm_metrics(a, alpha, conversion_interval=conversion_interval, unit_cost=cost)
            for a in arms
        ),
        prob_best_rpv=prob_best_rpv(arms, prob_best_draws, seed),
        demand=fit,
        elasticity=tuple(fit.elasticity(fit.prices, alpha)),
        curve=tuple(
            (float(g), float(a), float(b), float(c))
            for g, a, b, c in zip(grid, q, q_lo, q_hi, strict=True)
        ),
        optimal_price=optimal_price(fit, alpha=alpha, draws=draws, seed=seed),
        optimal_profit_price=(
            optimal_price(fit, unit_cost=cost, alpha=alpha, draws=draws, seed=seed)
            if cost is not None
            else None
        ),
        trend=trend_test(arms),
        decomposition=tuple(decompose(ctrl, a, alpha) for a in arms if a.name != control),
    )


# ----- helpers ---------------------------------------------------------------------------------
def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return ppf(1 - alpha / 2)


def _num(x: float | None) -> float | None:
    """JSON-safe number: ``None`` for ``None``, NaN and ±inf."""
    return float(x) if x is not None and math.isfinite(x) else None


def _ci(ci: tuple[float, float] | None) -> list[float | None] | None:
    return None if ci is None else [_num(ci[0]), _num(ci[1])]


def _normal_ci(est: float, se: float, z: float) -> tuple[float, float] | None:
    return (est - z * se, est + z * se) if math.isfinite(se) else None


def _mean_t(m: Moments, alpha: float) -> Estimate:
    """Mean of ``y`` with its Student-t interval (``n − 1`` df)."""
    if m.n < 2:
        return Estimate(m.mean_y, math.nan, None)
    se = math.sqrt(m.var_y / m.n)
    crit = ppf(1 - alpha / 2, m.n - 1)
    return Estimate(m.mean_y, se, (m.mean_y - crit * se, m.mean_y + crit * se))


def _log_lift(mc: float, vc: float, mt: float, vt: float, z: float) -> Lift:
    est = mt / mc - 1 if mc != 0 and math.isfinite(mc) else math.nan
    if not (mc > 0 and mt > 0):
        return Lift(est, None, math.nan, None, math.nan)
    log_ratio = math.log(mt / mc)
    se = math.sqrt(vt / mt**2 + vc / mc**2) if vt >= 0 and vc >= 0 else math.nan
    if not se > 0:
        return Lift(est, log_ratio, se, None, math.nan)
    ci = (math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1)
    return Lift(est, log_ratio, se, ci, 2 * sf(abs(log_ratio) / se))


def _check_names(arms: Sequence[PriceArm]) -> None:
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"arm names must be unique, got {names}")


def _resolve_cost(arms: Sequence[PriceArm], unit_cost: float | None) -> float | None:
    """One unit cost for all arms: ``unit_cost``, else the arms' common one (or ``None``)."""
    costs = {a.unit_cost for a in arms}
    if unit_cost is not None:
        if not (math.isfinite(unit_cost) and unit_cost >= 0):
            raise ValueError(f"unit_cost must be finite and ≥ 0, got {unit_cost}")
        if costs - {None, unit_cost}:
            raise ValueError(f"unit_cost={unit_cost} disagrees with the arms' unit costs {costs}")
        return float(unit_cost)
    if len(costs) > 1:
        raise ValueError(f"arms give different unit costs {costs}; a product has one unit cost")
    return costs.pop()


def _grouped(arms: Sequence[PriceArm]) -> tuple[Float, Float, Float]:
    """Distinct prices (ascending) with visitors and buyers pooled per price."""
    if not arms:
        raise ValueError("the demand curve needs arms")
    p = np.array([a.price for a in arms], dtype=float)
    prices, idx = np.unique(p, return_inverse=True)
    n = np.bincount(idx, weights=[a.n for a in arms]).astype(float)
    y = np.bincount(idx, weights=[a.buyers for a in arms]).astype(float)
    return prices, n, y


def _inverse_link(link: str, eta: Float) -> tuple[Float, Float]:
    """``q = h(η)`` and ``dq/dη``."""
    if link == "logit":
        q = sc.expit(eta)
        return q, q * (1 - q)
    q = np.exp(eta)
    return q, q


def _loglik(link: str, eta: Float, n: Float, y: Float) -> float:
    """Unit-level Bernoulli log-likelihood; ``-inf`` outside the log link's domain ``q < 1``."""
    if link == "logit":
        lq, l1q = sc.log_expit(eta), sc.log_expit(-eta)
    else:
        if np.any(eta >= 0):
            return -math.inf
        lq, l1q = eta, np.log(-np.expm1(eta))
    return float(np.sum(y * lq + (n - y) * l1q))


def _argmax_price(link: str, a: Float, b: Float, lo: float, hi: float, k: float) -> Float:
    """Maximiser of ``(p − k)·q(p)`` over ``[lo, hi]`` for each ``(a, b)``, vectorised.

    Candidates: both ends and, when ``b < 0``, the clipped stationary point (module doc);
    the best candidate wins (ties to the stationary point).
    """
    neg = b < 0
    safe_b = np.where(neg, b, -1.0)
    if link == "logit":
        root = k - (1 + sc.wrightomega(a + safe_b * k - 1)) / safe_b
    else:
        root = k - 1 / safe_b
    root = np.where(neg, np.clip(root, lo, hi), lo)
    cand = np.stack([root, np.full_like(a, lo), np.full_like(a, hi)])
    value = (cand - k) * _inverse_link(link, a + b * cand)[0]
    best: Float = cand[np.argmax(value, axis=0), np.arange(a.size)]
    return best
