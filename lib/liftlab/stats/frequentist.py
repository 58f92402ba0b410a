"""Frequentist comparisons of a treatment with control, on sufficient statistics.

Every test here reduces to the same "effect moments": the two arm means (or ratios, or
CUPED-adjusted means), the variances of those estimates and the degrees of freedom. One
function, :func:`compare`, turns them into the absolute effect with its confidence interval
and two-sided p-value, and the relative effect with its interval.

Conventions (defaults in bold; alternatives by name):

- **Mean and proportion metrics**: Welch's unequal-variance t-test on unit-level values.
  Sample variances use ``n - 1``; degrees of freedom are Welch–Satterthwaite. The absolute CI
  is ``diff ± t_{1-α/2, df} · se``. Proportions are means of 0/1 values, so this is the
  Welch test on the 0/1 data (equal to ``scipy.stats.ttest_ind(equal_var=False)``).
- **Ratio metrics** (``Σnumerator / Σdenominator`` per arm, e.g. clicks / impressions with the
  user as the unit): the delta method with the numerator–denominator covariance,
  ``Var(R) ≈ (s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²)``, and a normal (z) test and interval
  (Deng et al., 2018, "Applying the Delta Method in Metric Analytics", KDD).
- **Ratio metrics over few clusters** (``ratio_test(reference="t")``; an ad-platform
  export, whose ``n`` is its clusters: ads, or ad × day rows): the same delta-method variance,
  which is ``s²_u / G`` for the cluster-level linearised values ``u_i = (y_i − R·x_i)/x̄``,
  with a Student t reference of Welch–Satterthwaite degrees of freedom from the two arms'
  variances with ``G_c − 1`` and ``G_t − 1`` (:func:`welch_df`; Satterthwaite, 1946), for
  the p-value, the absolute interval and the relative interval (its quantile, on either
  relative method). The normal reference ignores that the variance is estimated from a
  handful of clusters: in simulation (4,000 replicates; CTR 2% against 2.5%, varying 30%
  between clusters, impressions 30%), its 95% interval of the difference covers 86% of the
  time at 3 clusters per arm, 90% at 5, 92% at 10 and 94.5% at 30; the t reference 95%,
  96%, 94% and 95% (``tests/test_few_clusters.py``). Impressions that vary much more between
  clusters (a few big clusters dominate) leave both short of 95%, the t less so. The
  alternative, not implemented, is the bias-reduced CR2 variance with Bell–McCaffrey
  degrees of freedom (Bell & McCaffrey, 2002; Pustejovsky & Tipton, 2018), which needs each
  cluster's leverage ``x_i/Σx``, i.e. per-cluster values the sums here do not keep.
- **CUPED** (Deng, Xu, Kohavi & Walker, 2013, WSDM): ``θ`` is the pooled within-arm
  regression slope of ``y`` on the pre-period covariate ``x`` over the two arms compared,
  ``θ = Σ_g S_xy,g / Σ_g S_xx,g``; adjusted means are ``ȳ_g − θ(x̄_g − x̄_pooled)``. The
  adjusted difference equals the treatment coefficient of the OLS fit ``y ~ 1 + treated + x``.
  Its variance is the Welch variance of the adjusted unit values ``y − θx`` per arm (θ treated
  as known; Welch–Satterthwaite df).
- **Relative effect** ``mean_t / mean_c − 1``. Interval by name:
  ``log-delta`` (**default**): the delta method on ``log(mean_t / mean_c)`` with a normal
  quantile, ``exp(log ratio ± z·sqrt(v_t/m_t² + v_c/m_c²)) − 1``; asymmetric and never below
  −100%; needs both means positive. ``fieller``: Fieller's interval for the ratio of two
  independent means (Fieller, 1954), unbounded when the control mean is not significantly
  different from zero (then ``None``). The relative effect has no p-value of its own: the
  p-value is the absolute test's.
- **Chance to beat control and expected loss**: a Gaussian model of the absolute effect with
  a flat prior, ``Δ ~ N(estimate, se²)``: ``P(Δ > 0)`` (``P(Δ < 0)`` for metrics whose
  good direction is ``decrease``), and the expected loss of shipping the treatment
  ``E[max(0, −Δ)]`` in the metric's own units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from liftlab.startup import lazy_module
from liftlab.stats.moments import Moments

sc = lazy_module("scipy.special")  # loaded on first use

RELATIVE_INTERVALS = ("log-delta", "fieller")
RATIO_REFERENCES = ("normal", "t")


@dataclass(frozen=True, slots=True)
class Effect:
    """A treatment-vs-control comparison. ``None``/NaN marks what cannot be computed."""

    method: str
    control_mean: float
    treatment_mean: float
    var_control_mean: float
    var_treatment_mean: float
    abs_effect: float
    abs_se: float
    df: float
    abs_ci: tuple[float, float]
    p_value: float
    rel_effect: float
    rel_ci: tuple[float, float] | None
    alpha: float
    relative_interval: str = "log-delta"
    theta: float | None = None
    note: str | None = None

    @property
    def statistic(self) -> float:
        """The t (or z) statistic, ``abs_effect / abs_se``."""
        return self.abs_effect / self.abs_se if self.abs_se > 0 else math.nan

    def prob_beat_control(self, direction: str = "increase") -> float:
        """Chance the treatment is better, under the flat-prior Gaussian model of Δ."""
        if not self.abs_se > 0:
            return math.nan
        z = self.abs_effect / self.abs_se
        return norm_cdf(z if direction == "increase" else -z)

    def expected_loss(self, direction: str = "increase") -> float:
        """``E[max(0, −Δ)]`` of shipping the treatment, in the metric's units (flat prior)."""
        if not self.abs_se > 0:
            return math.nan
        mu = self.abs_effect if direction == "increase" else -self.abs_effect
        return normal_expected_loss(mu, self.abs_se)


def normal_expected_loss(mu: float, sigma: float) -> float:
    """``E[max(0, −D)]`` for ``D ~ N(mu, sigma²)``: ``σ·φ(μ/σ) − μ·Φ(−μ/σ)``, at least 0.

    The expected loss of shipping when ``D`` is the gain; ``E[max(0, D)]`` (the loss of
    keeping control) is ``normal_expected_loss(−mu, sigma)``. Shared by the flat-prior view
    here and the Gaussian model of :mod:`liftlab.stats.bayesian`.
    """
    z = mu / sigma
    return max(0.0, float(sigma * norm_pdf(z) - mu * norm_cdf(-z)))


# ----- distribution functions -----------------------------------------------------------------
# The values of scipy.stats.norm and scipy.stats.t (same special functions, same arithmetic,
# equal to the last bit) without building a distribution object per call, which costs about a
# millisecond: thousands of comparisons (an export of hundreds of ads) spent most of their
# time there. ``df = inf`` is the normal; an invalid df (NaN, not positive) gives NaN.
_NORM_PDF_C = np.sqrt(2 * np.pi)


def norm_cdf(x: float) -> float:
    """``Φ(x)``, as ``scipy.stats.norm.cdf`` (``scipy.special.ndtr``)."""
    return float(sc.ndtr(x))


def norm_pdf(x: float) -> float:
    """``φ(x)``, as ``scipy.stats.norm.pdf``: ``exp(−x²/2)/sqrt(2π)``."""
    return float(np.exp(-(x * x) / 2.0) / _NORM_PDF_C)


def ppf(q: float, df: float = math.inf) -> float:
    """The ``q`` quantile of the normal (``df = inf``) or of Student's t with ``df``, as
    ``scipy.stats.norm.ppf`` / ``scipy.stats.t.ppf`` (``ndtri``, ``stdtrit``) for ``0 < q < 1``."""
    if math.isinf(df) and df > 0:
        return float(sc.ndtri(q))
    return float(sc.stdtrit(df, q)) if df > 0 else math.nan


def sf(x: float, df: float = math.inf) -> float:
    """The upper tail ``P(T > x)`` of the normal (``df = inf``) or of Student's t with ``df``,
    as ``scipy.stats.norm.sf`` / ``scipy.stats.t.sf`` (``ndtr(−x)``, ``stdtr(df, −x)``)."""
    if math.isinf(df) and df > 0:
        return float(sc.ndtr(-x))
    return float(sc.stdtr(df, -x)) if df > 0 else math.nan


def compare(
    *,
    method: str,
    control_mean: float,
    treatment_mean: float,
    var_control_mean: float,
    var_treatment_mean: float,
    df: float,
    alpha: float = 0.05,
    relative_interval: str = "log-delta",
    theta: float | None = None,
    relative_df: float = math.inf,
) -> Effect:
    """Absolute and relative effect, interval and two-sided p-value from effect moments.

    ``df = inf`` gives the normal (z) test; a finite ``df`` the Student t with that df.
    ``relative_df`` is the reference of the relative interval's quantile: normal (``inf``,
    the default of every test but the cluster-based ratio test) or t with that df.
    """
    if relative_interval not in RELATIVE_INTERVALS:
        raise ValueError(f"relative_interval must be one of {RELATIVE_INTERVALS}")
    diff = treatment_mean - control_mean
    var = var_control_mean + var_treatment_mean
    se = math.sqrt(var) if var >= 0 else math.nan
    note = None
    if not math.isfinite(se):
        note = "fewer than two units in an arm"
        p, ci = math.nan, (math.nan, math.nan)
    elif se == 0:
        note = "zero variance in both arms"
        p, ci = math.nan, (math.nan, math.nan)
    else:
        crit = ppf(1 - alpha / 2, df)
        p = 2 * sf(abs(diff) / se, df)
        ci = (diff - crit * se, diff + crit * se)
    rel = treatment_mean / control_mean - 1 if control_mean != 0 else math.nan
    if control_mean == 0:
        note = note or "control mean is zero: no relative effect"
    if relative_interval == "fieller":
        rel_ci = fieller_interval(
            control_mean, var_control_mean, treatment_mean, var_treatment_mean, alpha, relative_df
        )
    else:
        rel_ci = log_delta_interval(
            control_mean, var_control_mean, treatment_mean, var_treatment_mean, alpha, relative_df
        )
    return Effect(
        method=method,
        control_mean=control_mean,
        treatment_mean=treatment_mean,
        var_control_mean=var_control_mean,
        var_treatment_mean=var_treatment_mean,
        abs_effect=diff,
        abs_se=se,
        df=df,
        abs_ci=ci,
        p_value=p,
        rel_effect=rel,
        rel_ci=rel_ci,
        alpha=alpha,
        relative_interval=relative_interval,
        theta=theta,
        note=note,
    )


def quantile(alpha: float, df: float = math.inf) -> float:
    """The two-sided critical value ``q_{1−α/2}``: normal when ``df`` is infinite, else t."""
    return ppf(1 - alpha / 2, df)


def log_delta_interval(
    mean_c: float,
    var_mean_c: float,
    mean_t: float,
    var_mean_t: float,
    alpha: float,
    df: float = math.inf,
) -> tuple[float, float] | None:
    """CI of ``mean_t/mean_c − 1`` by the delta method on the log ratio.

    The quantile is normal (``df = inf``, default) or t with ``df``. ``None`` when a mean is
    not positive (the log ratio is undefined).
    """
    if not (mean_c > 0 and mean_t > 0) or not (var_mean_c >= 0 and var_mean_t >= 0):
        return None
    log_ratio = math.log(mean_t / mean_c)
    se = math.hypot(math.sqrt(var_mean_t) / mean_t, math.sqrt(var_mean_c) / mean_c)
    z = quantile(alpha, df)
    return (_exp(log_ratio - z * se) - 1, _exp(log_ratio + z * se) - 1)


def _exp(x: float) -> float:
    """``exp(x)``, infinite instead of an overflow (an interval with no upper bound)."""
    return math.exp(x) if x < 709.0 else math.inf


def fieller_interval(
    mean_c: float,
    var_mean_c: float,
    mean_t: float,
    var_mean_t: float,
    alpha: float,
    df: float = math.inf,
) -> tuple[float, float] | None:
    """Fieller's CI of ``mean_t/mean_c − 1`` for independent means.

    Solves ``(m_t − ρ m_c)² = z² (v_t + ρ² v_c)`` for ρ, ``z`` the normal quantile
    (``df = inf``, default) or t with ``df``. ``None`` when the interval is not bounded
    (``m_c² ≤ z² v_c``: the control mean is not clearly away from zero).
    """
    z2 = quantile(alpha, df) ** 2
    a = mean_c**2 - z2 * var_mean_c
    b = -2 * mean_t * mean_c
    c = mean_t**2 - z2 * var_mean_t
    disc = b * b - 4 * a * c
    if a <= 0 or disc < 0:
        return None
    root = math.sqrt(disc)
    lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    return (lo - 1, hi - 1)


def welch_df(var_mean_c: float, var_mean_t: float, n_c: int, n_t: int) -> float:
    """Welch–Satterthwaite degrees of freedom from the variances of the two means."""
    total = var_mean_c + var_mean_t
    num = total * total  # squares as products, as in the array form (welch_df_arrays)
    den = (
        var_mean_c * var_mean_c / (n_c - 1) + var_mean_t * var_mean_t / (n_t - 1)
        if min(n_c, n_t) > 1
        else 0
    )
    return num / den if den > 0 else math.nan


def welch_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    relative_interval: str = "log-delta",
) -> Effect:
    """Welch's t-test of the means of ``y`` (mean and proportion metrics)."""
    vc = control.var_y / control.n if control.n else math.nan
    vt = treatment.var_y / treatment.n if treatment.n else math.nan
    return compare(
        method="welch-t",
        control_mean=control.mean_y,
        treatment_mean=treatment.mean_y,
        var_control_mean=vc,
        var_treatment_mean=vt,
        df=welch_df(vc, vt, control.n, treatment.n),
        alpha=alpha,
        relative_interval=relative_interval,
    )


def ratio_variance(m: Moments) -> float:
    """Delta-method variance of ``R = Σy / Σx`` (y numerator, x denominator).

    ``Var(R) ≈ (s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²)`` with sample (``n − 1``) moments.
    """
    if m.n < 2 or m.sum_x == 0:
        return math.nan
    r = m.sum_y / m.sum_x
    return (m.var_y - 2 * r * m.cov_xy + r * r * m.var_x) / (m.n * (m.mean_x * m.mean_x))


def ratio_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    relative_interval: str = "log-delta",
    reference: str = "normal",
) -> Effect:
    """Delta-method test of a ratio metric ``Σy/Σx`` (numerator y, denominator x).

    ``reference``: ``normal`` (**default**; method ``delta-z``: many units) or ``t`` (method
    ``delta-t``: the moments count clusters, e.g. an export's rows; Welch–Satterthwaite df
    on the clusters, also for the relative interval's quantile). Module docstring.
    """
    if reference not in RATIO_REFERENCES:
        raise ValueError(f"reference must be one of {RATIO_REFERENCES}, got {reference!r}")

    def ratio(m: Moments) -> float:
        return m.sum_y / m.sum_x if m.sum_x != 0 else math.nan

    vc, vt = ratio_variance(control), ratio_variance(treatment)
    df = welch_df(vc, vt, control.n, treatment.n) if reference == "t" else math.inf
    return compare(
        method="delta-t" if reference == "t" else "delta-z",
        control_mean=ratio(control),
        treatment_mean=ratio(treatment),
        var_control_mean=vc,
        var_treatment_mean=vt,
        df=df,
        alpha=alpha,
        relative_interval=relative_interval,
        relative_df=df,
    )


def cuped_theta(control: Moments, treatment: Moments) -> float:
    """Pooled within-arm slope of y on the covariate x: ``Σ_g S_xy,g / Σ_g S_xx,g``."""
    sxx = control.ss_x + treatment.ss_x
    if not sxx > 0:
        return 0.0
    return (control.sp_xy + treatment.sp_xy) / sxx


def cuped_test(
    control: Moments,
    treatment: Moments,
    *,
    alpha: float = 0.05,
    relative_interval: str = "log-delta",
) -> Effect:
    """CUPED-adjusted Welch test: y is the metric, x its pre-period covariate."""
    theta = cuped_theta(control, treatment)
    n_all = control.n + treatment.n
    x_pooled = (control.sum_x + treatment.sum_x) / n_all if n_all else math.nan

    def adjusted(m: Moments) -> tuple[float, float]:
        if m.n < 2:
            return m.mean_y, math.nan
        mean = m.mean_y - theta * (m.mean_x - x_pooled)
        var = m.var_y + theta * theta * m.var_x - 2 * theta * m.cov_xy
        return mean, max(var, 0.0) / m.n

    mc, vc = adjusted(control)
    mt, vt = adjusted(treatment)
    return compare(
        method="cuped-welch-t",
        control_mean=mc,
        treatment_mean=mt,
        var_control_mean=vc,
        var_treatment_mean=vt,
        df=welch_df(vc, vt, control.n, treatment.n),
        alpha=alpha,
        relative_interval=relative_interval,
        theta=theta,
    )


@dataclass(frozen=True, slots=True)
class NonInferiority:
    """One-sided non-inferiority test of a guardrail against its margin.

    ``margin_abs`` is the margin in the metric's units; ``bound`` the one-sided ``1 − α``
    confidence bound of the effect on the side that matters; ``passed`` when the test rejects
    "worse than the margin" (equivalently, the bound lies on the good side of the margin).
    """

    margin: float
    margin_type: str
    margin_abs: float
    statistic: float
    p_value: float
    bound: float
    passed: bool


def non_inferiority(
    effect: Effect,
    margin: float,
    *,
    margin_type: str = "relative",
    direction: str = "increase",
    alpha: float = 0.05,
) -> NonInferiority:
    """Test H0: "the treatment is worse than ``margin``" one-sided at ``alpha``.

    For a metric whose good direction is ``increase`` the margin is negative and
    H0: Δ ≤ m against H1: Δ > m, with ``t = (Δ̂ − m)/se`` and ``p = P(T ≥ t)``; for
    ``decrease`` the margin is positive and the inequalities flip. A ``relative`` margin is
    turned into metric units with the control mean (taken as known): ``m = margin ·
    mean_c``. The same t (Welch df) or normal (ratio metrics) reference distribution as the
    two-sided test (Chow, Shao & Wang, 2008, §3.2; Schuirmann's one-sided test).
    """
    m_abs = margin * effect.control_mean if margin_type == "relative" else margin
    if not effect.abs_se > 0 or not math.isfinite(m_abs):
        return NonInferiority(margin, margin_type, m_abs, math.nan, math.nan, math.nan, False)
    crit = ppf(1 - alpha, effect.df)
    if direction == "increase":
        stat = (effect.abs_effect - m_abs) / effect.abs_se
        bound = effect.abs_effect - crit * effect.abs_se
    else:
        stat = (m_abs - effect.abs_effect) / effect.abs_se
        bound = effect.abs_effect + crit * effect.abs_se
    p = sf(stat, effect.df)
    return NonInferiority(margin, margin_type, m_abs, float(stat), p, float(bound), p < alpha)


# ----- many comparisons at once ---------------------------------------------------------------
# The absolute effect of Welch, CUPED and the delta method on arrays of sums (every arm, every
# daily look) in a few numpy operations. Each element is the scalar test's number to the last
# bit: the same operations in the same order (``tests/test_many_arms.py`` checks it).
Array = NDArray[np.float64]
ARRAY_METHODS = ("welch-t", "cuped-welch-t", "delta-z", "delta-t")


@dataclass(frozen=True, slots=True)
class MomentArrays:
    """The sums of many :class:`Moments` as arrays of one shape (e.g. arms × looks).

    Its properties are the elementwise :class:`Moments` properties (``n − 1`` sample
    variances, clipped at 0; NaN below two units)."""

    n: NDArray[np.int64]
    sum_y: Array
    sum_y2: Array
    sum_x: Array
    sum_x2: Array
    sum_xy: Array

    @classmethod
    def of(cls, rows: Sequence[Sequence[Moments]]) -> MomentArrays:
        """From a table of moments (rows × columns)."""
        fields = ("sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy")
        n = np.array([[m.n for m in row] for row in rows], dtype=np.int64)
        sums = [np.array([[getattr(m, f) for m in row] for row in rows], float) for f in fields]
        return cls(n, *sums)

    def cumsum(self) -> MomentArrays:
        """Running sums along the last axis (in order, as ``Moments`` added one by one)."""
        sums = (self.sum_y, self.sum_y2, self.sum_x, self.sum_x2, self.sum_xy)
        return MomentArrays(np.cumsum(self.n, axis=-1), *(np.cumsum(a, axis=-1) for a in sums))

    @property
    def mean_y(self) -> Array:
        return _per_unit(self.sum_y, self.n)

    @property
    def mean_x(self) -> Array:
        return _per_unit(self.sum_x, self.n)

    @property
    def var_y(self) -> Array:
        return _centered_arrays(self.sum_y2, self.sum_y, self.sum_y, self.n, variance=True)

    @property
    def var_x(self) -> Array:
        return _centered_arrays(self.sum_x2, self.sum_x, self.sum_x, self.n, variance=True)

    @property
    def cov_xy(self) -> Array:
        return _centered_arrays(self.sum_xy, self.sum_x, self.sum_y, self.n)


def _per_unit(total: Array, n: NDArray[np.int64]) -> Array:
    with np.errstate(all="ignore"):
        return np.where(n != 0, total / n, math.nan)


def _centered_arrays(
    sab: Array, sa: Array, sb: Array, n: NDArray[np.int64], *, variance: bool = False
) -> Array:
    with np.errstate(all="ignore"):
        value = (sab - sa * sb / n) / (n - 1)
    return np.where(n < 2, math.nan, np.maximum(value, 0.0) if variance else value)


@dataclass(frozen=True, slots=True)
class AbsEffects:
    """The absolute effect of many comparisons: :class:`Effect`'s ``abs_effect``,
    ``abs_se``, ``abs_ci`` and ``p_value`` (NaN where the scalar test gives NaN), as arrays."""

    estimate: Array
    se: Array
    ci_low: Array
    ci_high: Array
    p_value: Array


def abs_effects(
    method: str, control: MomentArrays, treatment: MomentArrays, *, alpha: float = 0.05
) -> AbsEffects:
    """:func:`welch_test`, :func:`cuped_test` or :func:`ratio_test` (``delta-z``: normal,
    ``delta-t``: t reference) on arrays of control and treatment sums (broadcast)."""
    if method not in ARRAY_METHODS:
        raise ValueError(f"method must be one of {ARRAY_METHODS}, got {method!r}")
    c, t = control, treatment
    with np.errstate(all="ignore"):
        if method == "welch-t":
            mc, mt = c.mean_y, t.mean_y
            vc = np.where(c.n != 0, c.var_y / c.n, math.nan)
            vt = np.where(t.n != 0, t.var_y / t.n, math.nan)
        elif method == "cuped-welch-t":
            mc, mt, vc, vt = _cuped_arrays(c, t)
        else:
            mc, mt = _ratio_arrays(c), _ratio_arrays(t)
            vc, vt = ratio_variance_arrays(c), ratio_variance_arrays(t)
        df = welch_df_arrays(vc, vt, c.n, t.n) if method != "delta-z" else np.inf
        diff = mt - mc
        var = vc + vt
        se = np.where(var >= 0, np.sqrt(var), math.nan)
        ok = np.isfinite(se) & (se != 0)
        crit = ppf_arrays(1 - alpha / 2, df)
        p = np.where(ok, 2 * sf_arrays(np.abs(diff) / se, df), math.nan)
        low = np.where(ok, diff - crit * se, math.nan)
        high = np.where(ok, diff + crit * se, math.nan)
    return AbsEffects(diff, se, low, high, p)


def _ratio_arrays(m: MomentArrays) -> Array:
    return np.where(m.sum_x != 0, m.sum_y / m.sum_x, math.nan)


def ratio_variance_arrays(m: MomentArrays) -> Array:
    """:func:`ratio_variance` elementwise."""
    r = m.sum_y / m.sum_x
    mx = m.mean_x
    var = (m.var_y - 2 * r * m.cov_xy + r * r * m.var_x) / (m.n * (mx * mx))
    return np.where((m.n < 2) | (m.sum_x == 0), math.nan, var)


def welch_df_arrays(vc: Array, vt: Array, n_c: NDArray[np.int64], n_t: NDArray[np.int64]) -> Array:
    """:func:`welch_df` elementwise."""
    total = vc + vt
    num = total * total
    den = np.where(np.minimum(n_c, n_t) > 1, vc * vc / (n_c - 1) + vt * vt / (n_t - 1), 0.0)
    return np.where(den > 0, num / den, math.nan)


def _cuped_arrays(c: MomentArrays, t: MomentArrays) -> tuple[Array, Array, Array, Array]:
    """:func:`cuped_test`'s adjusted means and their variances, elementwise."""
    sxx = c.var_x * (c.n - 1) + t.var_x * (t.n - 1)
    sxy = c.cov_xy * (c.n - 1) + t.cov_xy * (t.n - 1)
    theta = np.where(sxx > 0, sxy / sxx, 0.0)
    n_all = c.n + t.n
    x_pooled = np.where(n_all != 0, (c.sum_x + t.sum_x) / n_all, math.nan)

    def adjusted(m: MomentArrays) -> tuple[Array, Array]:
        mean = m.mean_y - theta * (m.mean_x - x_pooled)
        var = m.var_y + theta * theta * m.var_x - 2 * theta * m.cov_xy
        few = m.n < 2
        return np.where(few, m.mean_y, mean), np.where(few, math.nan, np.maximum(var, 0.0) / m.n)

    mc, vc = adjusted(c)
    mt, vt = adjusted(t)
    return mc, mt, vc, vt


def ppf_arrays(q: float, df: Array | float) -> Array:
    """:func:`ppf` elementwise over ``df``."""
    df = np.asarray(df, dtype=float)
    with np.errstate(all="ignore"):
        t = np.where(df > 0, sc.stdtrit(np.where(np.isinf(df), 1.0, df), q), math.nan)
    return np.where(np.isposinf(df), sc.ndtri(q), t)


def sf_arrays(x: Array, df: Array | float) -> Array:
    """:func:`sf` elementwise."""
    df = np.asarray(df, dtype=float)
    with np.errstate(all="ignore"):
        t = np.where(df > 0, sc.stdtr(np.where(np.isinf(df), 1.0, df), -x), math.nan)
    return np.where(np.isposinf(df), sc.ndtr(-x), t)
