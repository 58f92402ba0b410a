"""Funnels, segments, novelty and repeat purchase, on sufficient statistics.

Everything here reuses :mod:`liftlab.stats.frequentist` (Welch t, delta-method ratio, log-delta
relative interval) and :mod:`liftlab.stats.multiple` (corrections by name). Inputs are counts or
:class:`~liftlab.stats.moments.Moments` computed by the engine; nothing reads unit rows.

**Funnels** (:func:`funnel_analysis`). Steps are ordered, e.g. ``landing_view → signup →
purchase``. Per unit, ``reached_k ∈ {0, 1}`` with ``reached_k ≤ reached_{k−1}``: a unit counts
at a step only if it reached every earlier step (the engine computes these flags; a purchase
without a signup does not count at ``purchase``). ``reached_0 = 1`` for every exposed unit, so
``count_0 = n``. Per variant the input is ``n`` and ``count_k`` for each step.

- Conditional step rate ``r_k = count_k / count_{k−1}`` (the first step relative to the ``n``
  exposed units); end-to-end rate ``count_K / n``. Rate intervals: Wilson score interval of
  ``count_k`` successes in ``count_{k−1}`` trials (conditional on reaching the previous step the
  step's conversions are binomial); equal to statsmodels ``proportion_confint(method="wilson")``.
- Comparisons: the first step and the end-to-end rate are unconditional proportions of the
  exposed units: Welch's test on the 0/1 values (:func:`~liftlab.stats.frequentist.welch_test`,
  as every proportion metric in liftlab). A later step's denominator ``count_{k−1}`` is random
  (the treatment can change who reaches it), so ``r_k = Σ reached_k / Σ reached_{k−1}`` is a
  ratio of per-unit sums: the delta method with the unit as the randomisation unit
  (:func:`~liftlab.stats.frequentist.ratio_test`, z test). With ``y = reached_k`` and ``x =
  reached_{k−1}`` the flags give ``Σy² = Σy = c_k``, ``Σx² = Σx = c_{k−1}`` and
  ``Σxy = c_k`` (``y ≤ x``), so the moments follow from counts (:func:`step_moments`), and the
  delta-method variance reduces exactly to ``Var(r̂_k) = n/(n−1) · r_k(1−r_k)/c_{k−1}``
  (the binomial variance on the random denominator, with the ``n − 1`` sample-moment factor).
- Lift ``r_t/r_c − 1`` with the log-delta interval; the p-value is the absolute test's.
- Decomposition: ``log(E2E_t/E2E_c) = Σ_k log(r_{k,t}/r_{k,c})`` exactly (the end-to-end rate
  is the product of the step rates), so each step's log ratio is its share of the end-to-end
  change (``log_ratio``; NaN/None when a rate is zero).
- Family for ``p_value_adjusted``: every step × treatment variant (one family); the end-to-end
  comparisons form their own family (one per treatment). ``biggest_change`` is the step ×
  treatment with the smallest raw p-value (the smallest adjusted p-value too, every correction
  being monotone); ``None`` when no p-value could be computed.

**Segments** (:func:`segment_analysis`). Input: dimension → level → variant → Moments. The
levels of a dimension must partition the units (put missing values in their own level); the
pooled effect is the test on the sums over levels (exact, Moments add). Per level the effect of
``test`` (``welch``, ``ratio`` or ``cuped`` of :mod:`~liftlab.stats.frequentist`) on the chosen
``scale``: ``absolute`` (**default**; the difference, its interval) or ``relative`` (the lift
with the log-delta interval; combined on ``log(m_t/m_c)`` with variance
``v_t/m_t² + v_c/m_c²``). Level p-values are the absolute test's; ``p_value_adjusted`` applies
``correction`` over every level of every dimension in the call (one treatment per call).

- Stratified estimate: inverse-variance (fixed-effect) weighted mean of the within-level
  effects, ``θ̂ = Σ w_j θ_j / Σ w_j``, ``w_j = 1/v_j``, ``se = 1/sqrt(Σ w_j)``, normal interval
  and z test (as statsmodels ``combine_effects`` ``mean_effect_fe``). It works for means,
  proportions and ratios alike (Mantel–Haenszel would need 2×2 tables). Only *estimable* levels
  count: finite effect and positive finite variance on the scale.
- Heterogeneity: Cochran's ``Q = Σ w_j (θ_j − θ̂)²``, χ² with ``df = L − 1`` over the ``L``
  estimable levels (NaN when ``L < 2``).
- Simpson's paradox (``simpson``): the pooled effect is non-zero and either (a) every estimable
  level's effect is non-zero with the sign opposite to the pooled one, or (b) the stratified
  estimate's sign is opposite to the pooled one. (a) implies (b) — a weighted mean of effects
  of one sign has that sign — so the flag is exactly "stratified and pooled have opposite
  signs"; the message says whether the stronger form (a) holds. It compares point estimates,
  not significance. In a randomised test it means the variant split differs across levels
  (a ramp, a bug) or the dimension is itself affected by the treatment.
- ``message``: the Simpson warning, and/or a heterogeneity note when Q's p-value ``< alpha``.

**Novelty** (:func:`novelty_analysis`, :func:`novelty_from_cohorts`). Units are split by their
first-exposure date: ``early`` is ``day < cut``, ``late`` is ``day ≥ cut``. The default cut is
``first + ⌈D/2⌉`` days with ``D`` the calendar days from the first to the last day in the input
(14 days → 7 + 7; 7 days → 4 + 3). Per-day Moments sum exactly into cohorts. The effect
(``test``, ``scale``) is estimated in each cohort; the cohorts hold different units, so the
difference ``early − late`` has variance ``v_early + v_late`` (normal interval, z test). On the
``relative`` scale the difference is ``lift_early − lift_late`` with delta-method variances
``(1 + lift)² · Var(log ratio)``. Verdict, with ``s = +1`` for ``direction="increase"``
(``−1`` for ``decrease``): ``novelty`` when ``p < alpha`` and ``s·(early − late) > 0`` (the
effect fades), ``primacy`` (users learning, or change aversion wearing off) when ``p < alpha``
and ``s·(early − late) < 0``, else ``stable`` (also when the difference cannot be computed:
``p_value`` is then ``None``). Caveats: early cohorts are often heavier users
(composition, not novelty), and late units have less time to act unless the metric has a fixed
per-unit window.

**Repeat purchase** (:func:`repeat_purchase_effect`). From per-variant counts of ``exposed``
units, ``buyers`` (≥ 1 purchase in the window) and ``repeaters`` (≥ 2 purchases within N days
of exposure, or ≥ 1 repeat after the first purchase — the engine's definition; the statistics
are the same). Denominator by name: ``exposed`` (**default**; ``repeaters/exposed``, Welch on
0/1 values; randomisation-valid) or ``buyers`` (``repeaters/buyers``: a conditional funnel step,
delta method as above; it conditions on a post-treatment outcome, so a treatment that brings in
less loyal marginal buyers lowers it without hurting anyone).

Every result serialises with ``to_dict()`` to plain JSON: NaN and ±inf become ``None``, tuples
lists, dates ISO strings.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from liftlab.jsonsafe import clean
from liftlab.startup import lazy_module
from liftlab.stats.frequentist import (
    Effect,
    cuped_test,
    quantile,
    ratio_test,
    sf,
    welch_test,
)
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import adjust_pvalues

sc = lazy_module("scipy.special")  # loaded on first use

TESTS: dict[str, Callable[..., Effect]] = {
    "welch": welch_test,
    "ratio": ratio_test,
    "cuped": cuped_test,
}
SCALES = ("absolute", "relative")
DIRECTIONS = ("increase", "decrease")
REPEAT_DENOMINATORS = ("exposed", "buyers")
NAN_CI = (math.nan, math.nan)


def _jdict(d: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): clean(v) for k, v in d.items()}


def _ci(e: Effect, scale: str) -> tuple[float, float]:
    if scale == "absolute":
        return e.abs_ci
    return e.rel_ci if e.rel_ci is not None else NAN_CI


def _on_scale(e: Effect, scale: str) -> tuple[float, float]:
    """(estimate, variance) of the effect on the additive scale: difference or log ratio."""
    if scale == "absolute":
        var = e.abs_se**2
        return e.abs_effect, var
    mc, mt, vc, vt = e.control_mean, e.treatment_mean, e.var_control_mean, e.var_treatment_mean
    if not (mc > 0 and mt > 0 and vc >= 0 and vt >= 0):
        return math.nan, math.nan
    return math.log(mt / mc), vt / mt**2 + vc / mc**2


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


# ----- funnels ---------------------------------------------------------------------------------
def _proportion(n: int, count: int) -> Moments:
    """Moments of a 0/1 metric: ``Σy² = Σy = count``."""
    return Moments(n, float(count), float(count))


def step_moments(n: int, count_prev: int, count: int) -> Moments:
    """Moments of a conditional step, ``y = reached_k``, ``x = reached_{k−1}``, from counts.

    0/1 flags with ``y ≤ x``: ``Σy² = Σxy = count``, ``Σx² = count_prev`` (module doc).
    """
    return Moments(
        n, float(count), float(count), float(count_prev), float(count_prev), float(count)
    )


def wilson_interval(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; NaN when there are no trials."""
    if trials <= 0:
        return NAN_CI
    z = quantile(alpha)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return (lo, hi)


@dataclass(frozen=True, slots=True)
class StepRate:
    """One variant at one step: units reaching it, the (conditional) rate and Wilson CI."""

    variant: str
    users: int
    rate: float
    ci: tuple[float, float]


@dataclass(frozen=True, slots=True)
class StepComparison:
    """A treatment's lift at one step (or end to end) vs control; ``log_ratio = log(1+lift)``."""

    variant: str
    rate_control: float
    rate: float
    lift: float
    ci: tuple[float, float] | None
    p_value: float
    p_value_adjusted: float
    log_ratio: float
    method: str


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    variants: tuple[StepRate, ...]
    comparisons: tuple[StepComparison, ...]


@dataclass(frozen=True, slots=True)
class FunnelAnalysis:
    """Per-step rates and lifts, end-to-end lifts, the log decomposition and biggest change."""

    steps: tuple[str, ...]
    control: str
    alpha: float
    correction: str
    by_step: tuple[FunnelStep, ...]
    end_to_end: tuple[StepComparison, ...]

    def decomposition(self) -> dict[str, tuple[float, ...]]:
        """Per treatment, the step log ratios (they sum to the end-to-end log ratio)."""
        return {
            e.variant: tuple(
                c.log_ratio for s in self.by_step for c in s.comparisons if c.variant == e.variant
            )
            for e in self.end_to_end
        }

    def biggest_change(self) -> tuple[str, StepComparison] | None:
        """The (step, comparison) with the smallest raw p-value; None when none is finite."""
        found = [
            (c.p_value, i, s.step, c)
            for i, s in enumerate(self.by_step)
            for c in s.comparisons
            if math.isfinite(c.p_value)
        ]
        if not found:
            return None
        _, _, step, comp = min(found, key=lambda t: (t[0], t[1]))
        return step, comp

    def to_dict(self) -> dict[str, Any]:
        big = self.biggest_change()
        return _jdict(
            {
                "steps": list(self.steps),
                "control": self.control,
                "alpha": self.alpha,
                "correction": self.correction,
                "by_step": [
                    {
                        "step": s.step,
                        "variants": [asdict(v) for v in s.variants],
                        "comparisons": [asdict(c) for c in s.comparisons],
                    }
                    for s in self.by_step
                ],
                "end_to_end": [asdict(c) for c in self.end_to_end],
                "decomposition": [
                    {
                        "variant": variant,
                        "log_ratio": e.log_ratio,
                        "step_log_ratios": list(parts),
                    }
                    for (variant, parts), e in zip(
                        self.decomposition().items(), self.end_to_end, strict=True
                    )
                ],
                "biggest_change": None
                if big is None
                else {
                    "step": big[0],
                    "variant": big[1].variant,
                    "lift": big[1].lift,
                    "p_value": big[1].p_value,
                    "p_value_adjusted": big[1].p_value_adjusted,
                },
            }
        )


def _funnel_counts(
    variant: str, value: Sequence[int] | Mapping[str, int], steps: Sequence[str]
) -> tuple[int, ...]:
    """``(n, count_1, …, count_K)`` from ``[n, c_1, …]`` or ``{"n": n, step: count, …}``."""
    if isinstance(value, Mapping):
        missing = [k for k in ("n", *steps) if k not in value]
        if missing:
            raise ValueError(f"funnel counts of '{variant}' lack {', '.join(missing)}")
        raw = [value["n"], *(value[s] for s in steps)]
    else:
        raw = list(value)
        if len(raw) != len(steps) + 1:
            raise ValueError(
                f"funnel counts of '{variant}' need n and one count per step "
                f"({len(steps) + 1} numbers); got {len(raw)}"
            )
    counts = tuple(int(c) for c in raw)
    if any(c != r for c, r in zip(counts, raw, strict=True)) or counts[-1] < 0:
        raise ValueError(f"funnel counts of '{variant}' must be non-negative whole numbers")
    if any(b > a for a, b in itertools.pairwise(counts)):
        raise ValueError(
            f"funnel counts of '{variant}' must not increase down the funnel "
            f"(a unit counts at a step only if it reached every earlier step): {counts}"
        )
    return counts


def _step_comparison(variant: str, e: Effect, p_adj: float = math.nan) -> StepComparison:
    c, t = e.control_mean, e.treatment_mean
    log_ratio = math.log(t / c) if c > 0 and t > 0 else math.nan
    return StepComparison(
        variant, c, t, e.rel_effect, e.rel_ci, e.p_value, p_adj, log_ratio, e.method
    )


def _with_adjusted(comps: list[StepComparison], correction: str) -> list[StepComparison]:
    adjusted = adjust_pvalues([c.p_value for c in comps], correction)
    return [replace(c, p_value_adjusted=a) for c, a in zip(comps, adjusted, strict=True)]


def funnel_analysis(
    steps: Sequence[str],
    counts_by_variant: Mapping[str, Sequence[int] | Mapping[str, int]],
    control: str,
    alpha: float = 0.05,
    correction: str = "holm",
) -> FunnelAnalysis:
    """Per-step conditional rates and lifts vs ``control``, end to end, and the decomposition.

    ``counts_by_variant[variant]`` is ``[n, count_1, …, count_K]`` (``n`` exposed units, then
    the units reaching each step in order) or ``{"n": n, step: count, …}``. Conventions in the
    module docstring.
    """
    steps = tuple(steps)
    if not steps or len(set(steps)) != len(steps) or "n" in steps:
        raise ValueError("steps must be distinct, non-empty, and not named 'n'")
    if control not in counts_by_variant:
        raise ValueError(f"control '{control}' has no funnel counts")
    if len(counts_by_variant) < 2:
        raise ValueError("a funnel comparison needs the control and at least one treatment")
    adjust_pvalues([], correction)  # validates the name
    counts = {v: _funnel_counts(v, c, steps) for v, c in counts_by_variant.items()}
    variants = [control, *(v for v in counts if v != control)]
    treatments = variants[1:]

    def test(v: str, k: int) -> Effect:
        """Step k (1-based) of treatment v vs control; k = 0 for end to end."""
        if k <= 1:  # unconditional: a proportion of the exposed units
            c, t = (_proportion(counts[a][0], counts[a][k or -1]) for a in (control, v))
            return welch_test(c, t, alpha=alpha)
        c, t = (step_moments(counts[a][0], counts[a][k - 1], counts[a][k]) for a in (control, v))
        return ratio_test(c, t, alpha=alpha)

    raw: list[list[StepComparison]] = [
        [_step_comparison(v, test(v, k)) for v in treatments] for k in range(1, len(steps) + 1)
    ]
    flat = _with_adjusted([c for row in raw for c in row], correction)
    width = len(treatments)
    by_step = tuple(
        FunnelStep(
            step,
            tuple(
                StepRate(
                    v,
                    counts[v][k],
                    counts[v][k] / counts[v][k - 1] if counts[v][k - 1] else math.nan,
                    wilson_interval(counts[v][k], counts[v][k - 1], alpha),
                )
                for v in variants
            ),
            tuple(flat[(k - 1) * width : k * width]),
        )
        for k, step in enumerate(steps, start=1)
    )
    e2e = [_step_comparison(v, test(v, 0)) for v in treatments]
    return FunnelAnalysis(
        steps, control, alpha, correction, by_step, tuple(_with_adjusted(e2e, correction))
    )


# ----- segments --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EffectSummary:
    """An effect on the chosen scale: arm sizes and means, estimate, CI, p-value."""

    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    effect: float
    ci: tuple[float, float]
    p_value: float

    @classmethod
    def of(cls, e: Effect, control: Moments, treatment: Moments, scale: str) -> EffectSummary:
        est = e.abs_effect if scale == "absolute" else e.rel_effect
        return cls(
            control.n,
            treatment.n,
            e.control_mean,
            e.treatment_mean,
            est,
            _ci(e, scale),
            e.p_value,
        )

    def to_dict(self) -> dict[str, Any]:
        return _jdict(asdict(self))


@dataclass(frozen=True, slots=True)
class SegmentLevel:
    level: str
    summary: EffectSummary
    p_value_adjusted: float

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, **self.summary.to_dict()} | _jdict(
            {"p_value_adjusted": self.p_value_adjusted}
        )


@dataclass(frozen=True, slots=True)
class Combined:
    """Inverse-variance stratified estimate (on the scale) and Cochran's Q over the levels."""

    effect: float
    ci: tuple[float, float]
    se: float
    p_value: float
    levels_used: int
    q: float
    df: int
    q_p_value: float


@dataclass(frozen=True, slots=True)
class SegmentDimension:
    dimension: str
    levels: tuple[SegmentLevel, ...]
    pooled: EffectSummary
    combined: Combined
    simpson: bool
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        c = self.combined
        return {
            "dimension": self.dimension,
            "levels": [lv.to_dict() for lv in self.levels],
            "pooled": self.pooled.to_dict(),
            "stratified": clean(
                {
                    "effect": c.effect,
                    "ci": c.ci,
                    "se": c.se,
                    "p_value": c.p_value,
                    "levels_used": c.levels_used,
                }
            ),
            "heterogeneity": clean({"q": c.q, "df": c.df, "p_value": c.q_p_value}),
            "simpson": self.simpson,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class SegmentAnalysis:
    control: str
    treatment: str
    test: str
    scale: str
    alpha: float
    correction: str
    dimensions: tuple[SegmentDimension, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "treatment": self.treatment,
            "test": self.test,
            "scale": self.scale,
            "alpha": self.alpha,
            "correction": self.correction,
            "dimensions": [d.to_dict() for d in self.dimensions],
        }


def _combine(pairs: Sequence[tuple[float, float]], scale: str, alpha: float) -> Combined:
    """Fixed-effect inverse-variance mean and Cochran's Q of (estimate, variance) pairs."""
    ok = [(t, v) for t, v in pairs if math.isfinite(t) and math.isfinite(v) and v > 0]
    if not ok:
        return Combined(math.nan, NAN_CI, math.nan, math.nan, 0, math.nan, 0, math.nan)
    w_sum = sum(1 / v for _, v in ok)
    theta = sum(t / v for t, v in ok) / w_sum
    se = 1 / math.sqrt(w_sum)
    df = len(ok) - 1
    q = sum((t - theta) ** 2 / v for t, v in ok) if df > 0 else math.nan
    q_p = float(sc.chdtrc(df, q)) if df > 0 else math.nan
    z = quantile(alpha)
    p = 2 * sf(abs(theta) / se)
    est, lo, hi = theta, theta - z * se, theta + z * se
    if scale == "relative":  # back from the log ratio to the lift
        est, lo, hi = math.expm1(est), math.expm1(lo), math.expm1(hi)
    return Combined(est, (lo, hi), se, p, len(ok), q, df, q_p)


def _sign(x: float) -> int:
    return 0 if not math.isfinite(x) or x == 0 else (1 if x > 0 else -1)


def _segment_message(
    dimension: str, pooled: float, levels: Sequence[float], combined: Combined, alpha: float
) -> tuple[bool, str | None]:
    """Simpson flag (module doc) and the message for one dimension."""
    s_pool = _sign(pooled)
    within = [_sign(t) for t in levels]
    strong = s_pool != 0 and bool(within) and all(s == -s_pool for s in within)
    simpson = s_pool != 0 and (strong or _sign(combined.effect) == -s_pool)
    notes: list[str] = []
    if simpson:
        word = {1: "positive", -1: "negative"}
        where = (
            f"every level of '{dimension}' shows a {word[-s_pool]} effect"
            if strong
            else f"the stratified (within-level) estimate over '{dimension}' is {word[-s_pool]}"
        )
        notes.append(
            f"Simpson's paradox: the pooled effect is {word[s_pool]} but {where}. The variant "
            "split probably differs across levels, or the treatment changes the segment itself; "
            "trust the stratified estimate and check the assignment."
        )
    if math.isfinite(combined.q_p_value) and combined.q_p_value < alpha:
        notes.append(
            f"The effect differs across levels of '{dimension}' (Cochran's Q = {combined.q:.3g}, "
            f"df = {combined.df}, p = {combined.q_p_value:.3g})."
        )
    return simpson, " ".join(notes) or None


def segment_analysis(
    moments: Mapping[str, Mapping[str, Mapping[str, Moments]]],
    *,
    control: str,
    treatment: str,
    test: str = "welch",
    scale: str = "absolute",
    alpha: float = 0.05,
    correction: str = "holm",
) -> SegmentAnalysis:
    """Per-level effects, pooled and stratified estimates, Cochran's Q and Simpson's check.

    ``moments[dimension][level][variant]`` are the engine's Moments of the metric (``y``; a
    ratio's denominator or a CUPED covariate in ``x``). Conventions in the module docstring.
    """
    _check("test", test, tuple(TESTS))
    _check("scale", scale, SCALES)
    adjust_pvalues([], correction)
    run = TESTS[test]
    rows: list[tuple[str, list[tuple[str, Effect, Moments, Moments]], Effect, Moments, Moments]]
    rows = []
    for dim, by_level in moments.items():
        if not by_level:
            raise ValueError(f"segment dimension '{dim}' has no levels")
        levels = []
        for level, arms in by_level.items():
            if control not in arms or treatment not in arms:
                raise ValueError(f"segment {dim}={level} lacks '{control}' or '{treatment}'")
            mc, mt = arms[control], arms[treatment]
            levels.append((str(level), run(mc, mt, alpha=alpha), mc, mt))
        pc = _sum(m for _, _, m, _ in levels)
        pt = _sum(m for _, _, _, m in levels)
        rows.append((dim, levels, run(pc, pt, alpha=alpha), pc, pt))
    adjusted = iter(
        adjust_pvalues([e.p_value for _, lv, *_ in rows for _, e, _, _ in lv], correction)
    )
    dims = []
    for dim, levels, pooled, pc, pt in rows:
        pairs = [_on_scale(e, scale) for _, e, _, _ in levels]
        combined = _combine(pairs, scale, alpha)
        estimable = [t for t, v in pairs if math.isfinite(t) and math.isfinite(v) and v > 0]
        simpson, message = _segment_message(
            dim, _on_scale(pooled, scale)[0], estimable, combined, alpha
        )
        dims.append(
            SegmentDimension(
                dim,
                tuple(
                    SegmentLevel(lv, EffectSummary.of(e, mc, mt, scale), next(adjusted))
                    for lv, e, mc, mt in levels
                ),
                EffectSummary.of(pooled, pc, pt, scale),
                combined,
                simpson,
                message,
            )
        )
    return SegmentAnalysis(control, treatment, test, scale, alpha, correction, tuple(dims))


def _sum(ms: Any) -> Moments:
    total = Moments(0, 0.0, 0.0)
    for m in ms:
        total = total + m
    return total


# ----- novelty ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NoveltyAnalysis:
    """Early vs late cohort effects, their difference (early − late) and the verdict."""

    cut: dt.date | None
    scale: str
    direction: str
    early: EffectSummary
    late: EffectSummary
    difference: float
    difference_ci: tuple[float, float]
    difference_se: float
    difference_p_value: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "cut": clean(self.cut),
            "scale": self.scale,
            "direction": self.direction,
            "early": self.early.to_dict(),
            "late": self.late.to_dict(),
            "difference": clean(
                {
                    "estimate": self.difference,
                    "ci": self.difference_ci,
                    "se": self.difference_se,
                    "p_value": self.difference_p_value,
                }
            ),
            "verdict": self.verdict,
        }


def default_cut(days: Sequence[dt.date]) -> dt.date:
    """``first + ⌈D/2⌉`` days, ``D`` the calendar days from the first to the last day."""
    first, last = min(days), max(days)
    span = (last - first).days + 1
    return first + dt.timedelta(days=-(-span // 2))


def split_cohorts(
    daily: Mapping[dt.date, Mapping[str, Moments]], cut: dt.date
) -> tuple[dict[str, Moments], dict[str, Moments]]:
    """Sum per-day Moments into ``early`` (``day < cut``) and ``late`` (``day ≥ cut``)."""
    early: dict[str, Moments] = {}
    late: dict[str, Moments] = {}
    for day, arms in daily.items():
        into = early if day < cut else late
        for variant, m in arms.items():
            into[variant] = into[variant] + m if variant in into else m
    return early, late


def novelty_from_cohorts(
    early: Mapping[str, Moments],
    late: Mapping[str, Moments],
    *,
    control: str,
    treatment: str,
    cut: dt.date | None = None,
    test: str = "welch",
    scale: str = "absolute",
    direction: str = "increase",
    alpha: float = 0.05,
) -> NoveltyAnalysis:
    """Novelty check from per-variant Moments of the early and late cohorts (module doc)."""
    _check("test", test, tuple(TESTS))
    _check("scale", scale, SCALES)
    _check("direction", direction, DIRECTIONS)
    for name, cohort in (("early", early), ("late", late)):
        if control not in cohort or treatment not in cohort:
            raise ValueError(f"the {name} cohort lacks '{control}' or '{treatment}'")
    run = TESTS[test]
    e_early = run(early[control], early[treatment], alpha=alpha)
    e_late = run(late[control], late[treatment], alpha=alpha)
    (t_e, v_e), (t_l, v_l) = _on_scale(e_early, scale), _on_scale(e_late, scale)
    if scale == "relative":  # lift = exp(log ratio) − 1; Var(lift) ≈ (1 + lift)² Var(log ratio)
        t_e, v_e = math.expm1(t_e), math.exp(2 * t_e) * v_e
        t_l, v_l = math.expm1(t_l), math.exp(2 * t_l) * v_l
    diff = t_e - t_l
    var = v_e + v_l
    if math.isfinite(var) and var > 0:
        se = math.sqrt(var)
        p = 2 * sf(abs(diff) / se)
        z = quantile(alpha)
        ci = (diff - z * se, diff + z * se)
    else:
        se, p, ci = math.nan, math.nan, NAN_CI
    good = 1 if direction == "increase" else -1
    verdict = "stable"
    if p < alpha:
        verdict = "novelty" if good * diff > 0 else "primacy"
    return NoveltyAnalysis(
        cut,
        scale,
        direction,
        EffectSummary.of(e_early, early[control], early[treatment], scale),
        EffectSummary.of(e_late, late[control], late[treatment], scale),
        diff,
        ci,
        se,
        p,
        verdict,
    )


def novelty_analysis(
    daily: Mapping[dt.date, Mapping[str, Moments]],
    *,
    control: str,
    treatment: str,
    cut: dt.date | None = None,
    test: str = "welch",
    scale: str = "absolute",
    direction: str = "increase",
    alpha: float = 0.05,
) -> NoveltyAnalysis:
    """Novelty check from per-exposure-day Moments, split at ``cut`` (default: half the days)."""
    if not daily:
        raise ValueError("novelty analysis needs per-day Moments")
    cut = default_cut(list(daily)) if cut is None else cut
    early, late = split_cohorts(daily, cut)
    if not early or not late:
        raise ValueError(f"the cut {cut.isoformat()} leaves an empty cohort")
    return novelty_from_cohorts(
        early,
        late,
        control=control,
        treatment=treatment,
        cut=cut,
        test=test,
        scale=scale,
        direction=direction,
        alpha=alpha,
    )


# ----- repeat purchase -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RepeatCounts:
    """One variant's ``exposed`` units, ``buyers`` and ``repeaters`` (within the window)."""

    exposed: int
    buyers: int
    repeaters: int

    def __post_init__(self) -> None:
        if not 0 <= self.repeaters <= self.buyers <= self.exposed:
            raise ValueError(
                "repeat-purchase counts need 0 ≤ repeaters ≤ buyers ≤ exposed; got "
                f"{self.repeaters}, {self.buyers}, {self.exposed}"
            )


@dataclass(frozen=True, slots=True)
class RepeatPurchaseEffect:
    """Repeat-purchase rate per arm, absolute and relative effect (module doc)."""

    denominator: str
    effect: Effect

    def to_dict(self) -> dict[str, Any]:
        e = self.effect  # Effect has no to_dict: pick the fields that matter here
        return _jdict(
            {
                "denominator": self.denominator,
                "method": e.method,
                "rate_control": e.control_mean,
                "rate_treatment": e.treatment_mean,
                "difference": e.abs_effect,
                "difference_ci": e.abs_ci,
                "lift": e.rel_effect,
                "lift_ci": e.rel_ci,
                "p_value": e.p_value,
            }
        )


def repeat_purchase_effect(
    control: RepeatCounts,
    treatment: RepeatCounts,
    *,
    denominator: str = "exposed",
    alpha: float = 0.05,
) -> RepeatPurchaseEffect:
    """Effect on the repeat-purchase rate, among all ``exposed`` units (default) or ``buyers``."""
    _check("denominator", denominator, REPEAT_DENOMINATORS)
    if denominator == "exposed":
        c, t = (
            Moments(a.exposed, float(a.repeaters), float(a.repeaters)) for a in (control, treatment)
        )
        return RepeatPurchaseEffect(denominator, welch_test(c, t, alpha=alpha))
    c, t = (step_moments(a.exposed, a.buyers, a.repeaters) for a in (control, treatment))
    return RepeatPurchaseEffect(denominator, ratio_test(c, t, alpha=alpha))
