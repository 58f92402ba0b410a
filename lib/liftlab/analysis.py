"""The analysis of a plan: statistics per metric and variant, corrections, SRM and a verdict.

:func:`analyze` is the one entry point used by the command line, the notebooks and Python
users alike. It reads sufficient statistics from the engine (see :mod:`liftlab.aggregate`);
only metrics with a method that needs unit rows (a bootstrap or a rank test) read unit-level
values of that one column. It returns an immutable :class:`Results`, which serialises to the results contract of
``DESIGN.md`` with :meth:`Results.to_dict`.

Every comparison carries the frequentist effect (Welch, delta method or CUPED; see
:mod:`liftlab.stats.frequentist`) and the results of every comparison method that applies
(:mod:`liftlab.methods`, run in the registry's order and kept by name in
``Comparison.methods``). The plan's ``analysis.method`` adds and decides by:

- ``frequentist``: two-sided p-values; ``primary`` metrics form the family (every primary
  metric × every treatment) adjusted with ``correction`` (Holm by default); significant when
  the adjusted p-value is below ``alpha``.
- ``bayesian``: the Beta-Binomial or Gaussian model of :mod:`liftlab.stats.bayesian`; a
  primary comparison is a win when the chance to beat control is at least ``ship_threshold``
  (0.95), a loss when it is at most ``1 − ship_threshold``. ``prob_beat_control`` and
  ``expected_loss`` in the results come from this model.
- ``sequential``: always-valid p-values (mSPRT or asymptotic confidence sequence) or a
  group-sequential test over the daily looks (see :mod:`liftlab.monitor`); the always-valid
  p-values of the primary family are adjusted with ``correction`` (valid at any stopping
  time, since each is).

Plans that are not sequential also get, for every comparison, the cumulative effect by day
(when the data have at least two days; :mod:`liftlab.methods.cumulative`): the same
fixed-horizon test on all units exposed up to each day, with its pointwise interval. It shows
novelty effects and the danger of peeking; it decides nothing, and a failure to compute it
leaves the rest of the metric as it is.

``guardrail`` and ``secondary`` metrics are not corrected (``p_value_adjusted`` repeats the
raw value).

Each finished comparison carries its :class:`~liftlab.headline.Headline`: the one effect,
interval, probability and status its method decides by, which every surface shows. The
verdict (:mod:`liftlab.decision`) reads the headlines and the sample-size progress
(:mod:`liftlab.progress`), which compares against a planned size only when the plan planned
one.

A metric that cannot be analysed (an empty arm, zero variance, a zero control mean for a
relative effect, values a model cannot take) is flagged with its reason and the rest of the
analysis goes on.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from liftlab.aggregate import UnitStats, metric_values, unit_statistics
from liftlab.decision import decide
from liftlab.errors import DataError
from liftlab.findings import Comparison, MetricResult, Results, Traffic, VariantSummary
from liftlab.headline import headline_of
from liftlab.methods import MetricInput, comparison_results, metric_results, needs_rows
from liftlab.methods.base import test_for
from liftlab.methods.cap_sensitivity import SensitivityRow
from liftlab.plan import Analysis, Metric, Plan
from liftlab.progress import designed_n, progress_of
from liftlab.sources import Scope, UnitSource, engine_threads
from liftlab.stats.bayesian import BayesResult, BestArm, NormalPosterior, beta_posterior, prob_best
from liftlab.stats.frequentist import Effect, ratio_variance
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import adjust_pvalues
from liftlab.stats.srm import SRMResult, srm_test
from liftlab.units import open_units

__all__ = [
    "Comparison",
    "MetricResult",
    "Results",
    "SensitivityRow",
    "Traffic",
    "VariantSummary",
    "analyze",
    "analyze_statistics",
]


# ---- the analysis ------------------------------------------------------------------------------
def analyze(
    plan: Plan,
    data: str | Path | None = None,
    *,
    as_of: Any = None,
    segment: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
) -> Results:
    """Analyse ``plan`` on its data (or on ``data``, a path that overrides ``data.units``).

    ``as_of`` (a date, ``"2026-11-10"`` or a datetime): the analysis as it would have been at
    the end of that day (or at that moment): only units exposed by then and, for event
    plans, only events by then. Metric windows still apply, and a window not yet complete at
    ``as_of`` counts the events observed so far: what the report would have shown that day.
    A unit-table plan needs ``data.timestamp``. ``segment`` (column -> a value or a list of
    values, e.g. ``{"device": "mobile"}``): only those units; for event plans the column is
    one of ``data.segments`` and a unit's segment is that of its first exposure. Either one
    is recorded in ``Results.scope``. Neither works on precomputed statistics (there are no
    rows to filter). Mistakes raise one-line :class:`~liftlab.errors.PlanError` or
    :class:`~liftlab.errors.DataError`.
    """
    from liftlab.exports import resolve_plan

    plan = resolve_plan(plan)  # an export's arms (variants: from_data) and groups, read from it
    scope = Scope.of(plan, as_of, segment)
    if plan.data.statistics is not None and data is None:
        return _analyze_precomputed(plan, generated_at)
    src = open_units(plan, data, scope=scope)
    # The data files' SHA-256 (the fingerprint) reads every byte on one core; hashlib lets go
    # of the GIL, so it runs beside the engine's passes instead of after them.
    hasher = ThreadPoolExecutor(1, thread_name_prefix="liftlab-fingerprint")
    fingerprint = hasher.submit(src.describe)
    hasher.shutdown(wait=False)
    stats = unit_statistics(plan, src)
    if scope is not None and not sum(stats.counts.values()):
        raise DataError(
            f"no units in the slice {scope.text()}; check the date and the segment values",
            source=plan.source,
            field="as_of" if scope.as_of is not None else "segment",
        )
    values = {
        m.name: metric_values(plan, src, m, stats.caps.get(m.name))
        for m in plan.metrics
        if needs_rows(plan, m)
    }
    described = fingerprint.result()
    results = analyze_statistics(
        plan,
        stats,
        values=values,
        data_label=src.label,
        data_sha256=described["fingerprint"],
        generated_at=generated_at,
        data_quality=src.quality,
        src=src,
    )
    return replace(results, data_identity=described, scope=scope)


def _analyze_precomputed(plan: Plan, generated_at: str | None) -> Results:
    """:func:`analyze` of a plan whose ``data.statistics`` are precomputed sums."""
    from liftlab.precomputed import read_statistics

    pre, pre_src = read_statistics(plan)
    described = pre_src.describe()
    return replace(
        analyze_statistics(
            plan,
            pre,
            data_label=pre_src.label,
            data_sha256=described["fingerprint"],
            generated_at=generated_at,
        ),
        data_identity=described,
    )


def analyze_statistics(
    plan: Plan,
    stats: UnitStats,
    *,
    values: dict[str, dict[str, np.ndarray]] | None = None,
    data_label: str = "<statistics>",
    data_sha256: str | None = None,
    generated_at: str | None = None,
    data_quality: dict[str, Any] | None = None,
    src: UnitSource | None = None,
) -> Results:
    """Analyse precomputed sufficient statistics (the engine-free half of :func:`analyze`).

    ``src`` (the unit source the statistics came from) lets a kind's section run its own
    small query (creative fatigue); without it that part is skipped.
    """
    srm = sample_ratio(plan, stats, src)
    progress = progress_of(plan, stats)
    metrics = _metric_results(plan, stats, values)
    results = Results(
        plan=plan,
        srm=srm,
        metrics=metrics,
        decision=decide(plan, srm, metrics, progress),
        data_label=data_label,
        data_sha256=data_sha256,
        generated_at=generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        planned_n_per_variant=progress.planned_n,
        progress=progress,
        traffic=Traffic(list(stats.days), dict(stats.daily_counts)),
        data_quality=data_quality,
        segment_srm=_segment_srm(plan, stats),
    )
    from liftlab.kinds import analyze_kind, kind_caveats

    results = replace(results, sections=analyze_kind(plan, stats, results, src))
    extra = kind_caveats(results)
    if extra:
        decision = replace(results.decision, caveats=(*results.decision.caveats, *extra))
        results = replace(results, decision=decision)
    return results


def _segment_srm(plan: Plan, stats: UnitStats) -> dict[str, dict[str, SRMResult]]:
    """The sample-ratio test within each segment value (unit-randomised plans on units)."""
    return {
        col: {
            value: srm_test(counts, plan.weights, alpha=plan.analysis.srm_alpha)
            for value, counts in by_value.items()
        }
        for col, by_value in stats.segment_counts.items()
        if plan.randomization == "unit" and not plan.data.on_aggregates
    }


def _metric_results(
    plan: Plan, stats: UnitStats, values: dict[str, dict[str, np.ndarray]] | None
) -> list[MetricResult]:
    """Every metric's comparisons and methods (the best-arm draws in threads beside them),
    then the primary family's correction."""
    planned = designed_n(plan, stats)  # the size a sequential monitor is tuned to
    with ThreadPoolExecutor(max_workers=_draw_threads(plan)) as pool:
        best = _best_arms(pool, plan, stats)
        drafts = [
            _metric_draft(plan, stats, m, planned, (values or {}).get(m.name), best.get(m.name))
            for m in plan.metrics
        ]
    return _corrected(plan.analysis, drafts)


def _corrected(a: Analysis, drafts: list[_Draft]) -> list[MetricResult]:
    """The metrics with adjusted p-values, verdicts and headlines: the primary family (every
    primary metric × treatment) adjusted with the plan's ``correction``, on fixed-horizon
    p-values, or always-valid ones when sequential; other metrics keep their raw p-value."""
    family: list[tuple[int, int]] = []
    pvals: list[float] = []
    for i, d in enumerate(drafts):
        if d.metric.role == "primary":
            for j, c in enumerate(d.comparisons):
                family.append((i, j))
                pvals.append(_method_p(a, c))
    adjusted = dict(zip(family, adjust_pvalues(pvals, a.correction), strict=True))

    metrics = []
    for i, d in enumerate(drafts):
        comps = []
        for j, c in enumerate(d.comparisons):
            p_adj = adjusted.get((i, j), _method_p(a, c))
            comps.append(_finish(a, d.metric, c, p_adj))
        metrics.append(
            MetricResult(
                metric=d.metric,
                variants=d.variants,
                comparisons=comps,
                caps=d.caps,
                methods=d.methods,
                best=d.best,
                status=d.status,
                reason=d.reason,
            )
        )
    return metrics


def sample_ratio(plan: Plan, stats: UnitStats, src: UnitSource | None = None) -> SRMResult:
    """The sample-ratio check the plan's ``randomization`` calls for.

    ``unit``: Pearson χ² of the units per arm (on an ad-platform export, the sums of its
    ``units`` role) against the planned weights. ``impression``: of the impressions per arm
    (:func:`liftlab.exports.srm_counts`). ``none``: there is no planned split to check (the
    platform's delivery chose who saw each arm); the result carries the counts per arm with
    a NaN statistic and p-value, and never a mismatch.
    """
    a = plan.analysis
    if plan.randomization == "none":
        names = list(plan.weights)
        counts = {v: int(stats.counts.get(v, 0)) for v in names}
        return SRMResult(
            counts, dict(plan.weights), math.nan, len(names) - 1, math.nan, a.srm_alpha
        )
    counts = stats.counts
    if src is not None and plan.data.on_aggregates:
        from liftlab.exports import srm_counts

        counts = srm_counts(plan, src) or counts
    return srm_test(counts, plan.weights, alpha=a.srm_alpha)


@dataclass
class _Draft:
    metric: Metric
    variants: dict[str, VariantSummary]
    comparisons: list[Comparison]
    caps: dict[str, float]
    methods: dict[str, Any]
    best: BestArm | None
    status: str
    reason: str | None


def _metric_draft(
    plan: Plan,
    stats: UnitStats,
    metric: Metric,
    planned: int | None,
    values: dict[str, np.ndarray] | None,
    best_arm: Future[BestArm] | None = None,
) -> _Draft:
    """A metric's summaries, its comparisons with every method of :mod:`liftlab.methods`
    that applies, and its metric-scope results; a failure caused by the data flags the
    metric with its reason."""
    mom = stats.moments[metric.name]
    variants = {v: _summary(metric, mom[v]) for v in plan.variants}
    caps = stats.caps.get(metric.name, {})
    try:
        test = test_for(plan, metric)
        effects = {v: test(mom[plan.control_name], mom[v]) for v in plan.treatments}
        inp = _metric_input(plan, stats, metric, effects, planned, values)
        by_variant = comparison_results(inp)
        comparisons = [_compare(plan, metric, v, e, by_variant[v]) for v, e in effects.items()]
        methods = metric_results(inp)
        best = best_arm.result() if best_arm is not None else None
    except (ValueError, ArithmeticError) as exc:
        failed = metric_results(None)
        reason = f"cannot be analysed: {exc}"
        return _Draft(metric, variants, [], caps, failed, None, "error", reason)
    notes = sorted({f"{c.variant}: {c.effect.note}" for c in comparisons if c.effect.note})
    status = "flagged" if notes else "ok"
    return _Draft(
        metric, variants, comparisons, caps, methods, best, status, "; ".join(notes) or None
    )


def _metric_input(
    plan: Plan,
    stats: UnitStats,
    metric: Metric,
    effects: dict[str, Effect],
    planned: int | None,
    values: dict[str, np.ndarray] | None,
) -> MetricInput:
    """What the methods read about ``metric``: its sums, effects, daily sums, cap levels and
    (when fetched) unit values."""
    return MetricInput(
        plan=plan,
        metric=metric,
        moments=stats.moments[metric.name],
        effects=effects,
        days=stats.days,
        daily=stats.daily.get(metric.name),
        capped=stats.sensitivity.get(metric.name),
        values=values,
        planned_n=planned,
    )


def _compare(
    plan: Plan, metric: Metric, variant: str, eff: Effect, methods: dict[str, Any]
) -> Comparison:
    """A treatment's comparison before the family's correction: the effect, the methods'
    results, and the chance to beat control and expected loss (from the posterior when the
    plan is Bayesian)."""
    bayes: BayesResult | None = methods.get("bayesian")
    if bayes is not None:
        pbc, loss = bayes.prob_beat_control, bayes.expected_loss_treatment
    else:
        pbc, loss = eff.prob_beat_control(metric.direction), eff.expected_loss(metric.direction)
    return Comparison(
        variant=variant,
        control=plan.control_name,
        effect=eff,
        p_value_adjusted=math.nan,
        significant=False,
        direction_sign=1 if metric.direction == "increase" else -1,
        cuped=metric.covariate is not None,
        prob_beat_control=pbc,
        expected_loss=loss,
        methods=methods,
    )


def _method_p(a: Analysis, c: Comparison) -> float:
    """The p-value the plan's method decides by (always-valid when sequential)."""
    if c.sequential is not None and c.sequential.p_value is not None:
        return c.sequential.p_value
    return c.effect.p_value


def _finish(a: Analysis, metric: Metric, c: Comparison, p_adj: float) -> Comparison:
    if a.method == "bayesian" and c.bayes is not None:
        thr = a.bayesian.ship_threshold
        pbc = c.bayes.prob_beat_control
        significant = bool(pbc >= thr or pbc <= 1 - thr)
    elif a.method == "sequential" and c.sequential is not None:
        if c.sequential.kind == "group-sequential":
            significant = c.sequential.rejected
        else:
            significant = bool(p_adj <= a.alpha)
    else:
        significant = bool(p_adj < a.alpha)
    done = replace(c, p_value_adjusted=p_adj, significant=significant)
    return replace(done, headline=headline_of(a, metric, done))


def _draw_threads(plan: Plan) -> int:
    """Threads for the metrics' best-arm draws: one per metric, at most the cores (or
    ``LIFTLAB_THREADS``, which limits the engine's threads too)."""
    cores = engine_threads() or os.cpu_count() or 1
    return max(1, min(len(plan.metrics), cores))


def _best_arms(
    pool: ThreadPoolExecutor, plan: Plan, stats: UnitStats
) -> dict[str, Future[BestArm]]:
    """Each metric's chance of being best (plans with more than two arms), drawn in ``pool``
    while the comparisons are computed.

    The draws dominate an export of hundreds of ads (six metrics × arms × 100,000 normal
    draws) and numpy releases the GIL while drawing, so the metrics' draws run side by side;
    each metric has its own generator from the plan's seed, so the numbers do not depend on
    the threads. An error is raised where the result is read (:func:`_metric_draft`).
    """
    if len(plan.variants) <= 2:
        return {}
    return {
        m.name: pool.submit(_best_arm, plan, m, stats.moments[m.name])
        for m in plan.metrics
        if m.name in stats.moments
    }


def _best_arm(plan: Plan, metric: Metric, mom: dict[str, Moments]) -> BestArm:
    a = plan.analysis
    arms: dict[str, Any] = {}
    if metric.type == "proportion" and metric.covariate is None:
        arms = {v: beta_posterior(mom[v], a.bayesian.beta_prior) for v in plan.variants}
    else:
        for v in plan.variants:
            s = _summary(metric, mom[v])
            arms[v] = NormalPosterior(s.mean, s.se)
    return prob_best(arms, seed=a.bayesian.seed, direction=metric.direction)


def _summary(metric: Metric, m: Moments) -> VariantSummary:
    if metric.type == "ratio":
        ratio = m.sum_y / m.sum_x if m.sum_x else math.nan
        var_r = ratio_variance(m)
        return VariantSummary(m.n, ratio, var_r * m.n, math.sqrt(var_r) if var_r >= 0 else math.nan)
    se = math.sqrt(m.var_y / m.n) if m.n > 1 else math.nan
    return VariantSummary(m.n, m.mean_y, m.var_y, se)
