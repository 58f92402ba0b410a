"""The analysis of a plan: statistics per metric and variant, corrections, SRM and a verdict.

:func:`analyze` is the one entry point used by the command line, the notebooks and Python
users alike. It reads only sufficient statistics from the engine (see :mod:`liftlab.aggregate`)
and returns an immutable :class:`Results`, which serialises to the results contract of
``DESIGN.md`` with :meth:`Results.to_dict`.

Which comparisons count as significant:

- ``primary`` metrics: the family is every primary metric × every treatment variant, each
  compared with control; p-values are adjusted with the plan's ``correction`` (Holm by
  default) and a comparison is significant when its adjusted p-value is below ``alpha``.
- ``guardrail`` and ``secondary`` metrics: raw p-values against ``alpha`` (no correction;
  ``p_value_adjusted`` repeats the raw value). A guardrail *fails* when it moves significantly
  in its bad direction.

The decision, in order: a sample-ratio mismatch means ``investigate`` (no effect can be
trusted); a treatment that wins on at least one primary metric, loses on none and harms no
guardrail is a ``ship`` candidate (the one with the largest relative lift on the first primary
metric is recommended); a treatment that loses on a primary metric or fails a guardrail, with
no candidate to ship, gives ``do_not_ship``; otherwise ``inconclusive``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liftlab import __version__
from liftlab.aggregate import UnitStats, unit_statistics
from liftlab.plan import Metric, Plan
from liftlab.sources import open_units
from liftlab.stats.frequentist import Effect, cuped_test, ratio_test, ratio_variance, welch_test
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import adjust_pvalues
from liftlab.stats.srm import SRMResult, srm_test


@dataclass(frozen=True)
class VariantSummary:
    """One arm of one metric: units, mean (or ratio), unit-level variance, standard error.

    For ratio metrics ``mean`` is ``Σnumerator/Σdenominator`` and ``variance`` is the
    linearised unit-level variance, ``n · Var_delta(R)``.
    """

    n: int
    mean: float
    variance: float
    se: float


@dataclass(frozen=True)
class Comparison:
    """One treatment against control on one metric."""

    variant: str
    control: str
    effect: Effect
    p_value_adjusted: float
    significant: bool
    cuped: bool
    prob_beat_control: float
    expected_loss: float


@dataclass(frozen=True)
class MetricResult:
    """A metric's per-variant summaries and its comparisons with control."""

    metric: Metric
    variants: dict[str, VariantSummary]
    comparisons: list[Comparison]
    caps: dict[str, float]

    def comparison(self, variant: str) -> Comparison:
        return next(c for c in self.comparisons if c.variant == variant)


@dataclass(frozen=True)
class Decision:
    recommendation: str
    reason: str
    variant: str | None = None


@dataclass(frozen=True)
class Results:
    """Everything an analysis found; serialise with :meth:`to_dict` / :meth:`to_json`."""

    plan: Plan
    srm: SRMResult
    metrics: list[MetricResult]
    decision: Decision
    data_label: str
    data_sha256: str | None
    generated_at: str

    def metric(self, name: str) -> MetricResult:
        return next(m for m in self.metrics if m.metric.name == name)

    @property
    def total_units(self) -> int:
        return sum(self.srm.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """The results contract of DESIGN.md (NaN becomes null)."""
        a = self.plan.analysis
        out = {
            "experiment": self.plan.name,
            "kind": self.plan.kind,
            "hypothesis": self.plan.hypothesis,
            "liftlab_version": __version__,
            "plan_sha256": self.plan.sha256,
            "data_sha256": self.data_sha256,
            "data_source": self.data_label,
            "generated_at": self.generated_at,
            "analysis": {
                "method": a.method,
                "alpha": a.alpha,
                "correction": a.correction,
                "relative_interval": a.relative_interval,
                "control": self.plan.control_name,
            },
            "srm": {
                "p_value": self.srm.p_value,
                "statistic": self.srm.statistic,
                "df": self.srm.df,
                "counts": self.srm.counts,
                "expected_weights": self.srm.expected_weights,
                "mismatch": self.srm.mismatch,
                "alpha": self.srm.alpha,
            },
            "metrics": [_metric_dict(m) for m in self.metrics],
            "decision": {
                "recommendation": self.decision.recommendation,
                "variant": self.decision.variant,
                "reason": self.decision.reason,
            },
        }
        return _clean(out)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write_json(self, path: str | Path) -> Path:
        """Write ``results.json`` atomically (temporary file, then rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    def table(self):  # type: ignore[no-untyped-def]
        """One row per metric × treatment, as a pandas DataFrame (for notebooks)."""
        import pandas as pd

        rows = []
        for m in self.metrics:
            for c in m.comparisons:
                e = c.effect
                rows.append(
                    {
                        "metric": m.metric.name,
                        "role": m.metric.role,
                        "variant": c.variant,
                        "control_mean": e.control_mean,
                        "variant_mean": e.treatment_mean,
                        "abs_effect": e.abs_effect,
                        "abs_ci_low": e.abs_ci[0],
                        "abs_ci_high": e.abs_ci[1],
                        "rel_effect": e.rel_effect,
                        "rel_ci_low": e.rel_ci[0] if e.rel_ci else math.nan,
                        "rel_ci_high": e.rel_ci[1] if e.rel_ci else math.nan,
                        "p_value": e.p_value,
                        "p_value_adjusted": c.p_value_adjusted,
                        "significant": c.significant,
                        "method": e.method,
                    }
                )
        return pd.DataFrame(rows)


def _metric_dict(m: MetricResult) -> dict[str, Any]:
    return {
        "name": m.metric.name,
        "role": m.metric.role,
        "type": m.metric.type,
        "direction": m.metric.direction,
        "caps": m.caps or None,
        "variants": {
            k: {"n": v.n, "mean": v.mean, "variance": v.variance, "se": v.se}
            for k, v in m.variants.items()
        },
        "comparisons": [
            {
                "variant": c.variant,
                "control": c.control,
                "control_mean": c.effect.control_mean,
                "variant_mean": c.effect.treatment_mean,
                "abs_effect": c.effect.abs_effect,
                "abs_se": c.effect.abs_se,
                "abs_ci": list(c.effect.abs_ci),
                "rel_effect": c.effect.rel_effect,
                "rel_ci": list(c.effect.rel_ci) if c.effect.rel_ci else None,
                "df": c.effect.df,
                "p_value": c.effect.p_value,
                "p_value_adjusted": c.p_value_adjusted,
                "significant": c.significant,
                "method": c.effect.method,
                "cuped": c.cuped,
                "theta": c.effect.theta,
                "prob_beat_control": c.prob_beat_control,
                "expected_loss": c.expected_loss,
                "note": c.effect.note,
            }
            for c in m.comparisons
        ],
    }


def _clean(obj: Any) -> Any:
    """Plain JSON: NaN and ±inf become null, tuples become lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


# ---- the analysis ------------------------------------------------------------------------------
def analyze(
    plan: Plan, data: str | Path | None = None, *, generated_at: str | None = None
) -> Results:
    """Analyse ``plan`` on its data (or on ``data``, a path that overrides ``data.units``)."""
    src = open_units(plan, data)
    stats = unit_statistics(plan, src)
    return analyze_statistics(
        plan,
        stats,
        data_label=src.label,
        data_sha256=src.fingerprint(),
        generated_at=generated_at,
    )


def analyze_statistics(
    plan: Plan,
    stats: UnitStats,
    *,
    data_label: str = "<statistics>",
    data_sha256: str | None = None,
    generated_at: str | None = None,
) -> Results:
    """Analyse precomputed sufficient statistics (the engine-free half of :func:`analyze`)."""
    a = plan.analysis
    srm = srm_test(stats.counts, plan.weights, alpha=a.srm_alpha)
    effects: list[tuple[Metric, str, Effect]] = []
    for metric in plan.metrics:
        mom = stats.moments[metric.name]
        for variant in plan.treatments:
            effects.append(
                (metric, variant, _test(metric, mom[plan.control_name], mom[variant], a))
            )

    primary_idx = [i for i, (m, _, _) in enumerate(effects) if m.role == "primary"]
    adjusted = adjust_pvalues([effects[i][2].p_value for i in primary_idx], a.correction)
    p_adj = {i: p for i, p in zip(primary_idx, adjusted, strict=True)}

    by_metric: dict[str, list[Comparison]] = {m.name: [] for m in plan.metrics}
    for i, (metric, variant, eff) in enumerate(effects):
        padj = p_adj.get(i, eff.p_value)
        by_metric[metric.name].append(
            Comparison(
                variant=variant,
                control=plan.control_name,
                effect=eff,
                p_value_adjusted=padj,
                significant=bool(padj < a.alpha),
                cuped=metric.covariate is not None,
                prob_beat_control=eff.prob_beat_control(metric.direction),
                expected_loss=eff.expected_loss(metric.direction),
            )
        )
    metrics = [
        MetricResult(
            metric=m,
            variants={v: _summary(m, stats.moments[m.name][v]) for v in plan.variants},
            comparisons=by_metric[m.name],
            caps=stats.caps.get(m.name, {}),
        )
        for m in plan.metrics
    ]
    return Results(
        plan=plan,
        srm=srm,
        metrics=metrics,
        decision=decide(plan, srm, metrics),
        data_label=data_label,
        data_sha256=data_sha256,
        generated_at=generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _test(metric: Metric, control: Moments, treatment: Moments, a: Any) -> Effect:
    kw = {"alpha": a.alpha, "relative_interval": a.relative_interval}
    if metric.type == "ratio":
        return ratio_test(control, treatment, **kw)
    if metric.covariate is not None:
        return cuped_test(control, treatment, **kw)
    return welch_test(control, treatment, **kw)


def _summary(metric: Metric, m: Moments) -> VariantSummary:
    if metric.type == "ratio":
        ratio = m.sum_y / m.sum_x if m.sum_x else math.nan
        var_r = ratio_variance(m)
        return VariantSummary(m.n, ratio, var_r * m.n, math.sqrt(var_r) if var_r >= 0 else math.nan)
    se = math.sqrt(m.var_y / m.n) if m.n > 1 else math.nan
    return VariantSummary(m.n, m.mean_y, m.var_y, se)


def _direction_sign(metric: Metric) -> int:
    return 1 if metric.direction == "increase" else -1


def decide(plan: Plan, srm: SRMResult, metrics: list[MetricResult]) -> Decision:
    """The recommendation and its reason (rules in the module docstring)."""
    if srm.mismatch:
        shares = ", ".join(f"{k} {v:.1%}" for k, v in srm.observed_shares.items())
        planned = ", ".join(f"{k} {v:.1%}" for k, v in srm.expected_weights.items())
        return Decision(
            "investigate",
            f"Sample ratio mismatch (χ² p = {srm.p_value:.2g}): observed {shares} against "
            f"planned {planned}. Assignment or logging is broken; no effect can be trusted.",
        )
    primary = [m for m in metrics if m.metric.role == "primary"]
    guard = [m for m in metrics if m.metric.role == "guardrail"]

    def moved(m: MetricResult, variant: str, sign: int) -> bool:
        c = m.comparison(variant)
        return c.significant and c.effect.abs_effect * _direction_sign(m.metric) * sign > 0

    candidates, losers = [], []
    for v in plan.treatments:
        wins = [m.metric.name for m in primary if moved(m, v, +1)]
        losses = [m.metric.name for m in primary if moved(m, v, -1)]
        harms = [m.metric.name for m in guard if moved(m, v, -1)]
        if wins and not losses and not harms:
            candidates.append(v)
        elif losses or harms:
            losers.append((v, losses, harms))
    first = primary[0]
    if candidates:
        best = max(
            candidates,
            key=lambda v: _direction_sign(first.metric) * first.comparison(v).effect.rel_effect,
        )
        c = first.comparison(best)
        lo, hi = c.effect.rel_ci or (math.nan, math.nan)
        return Decision(
            "ship",
            f"{best} beats {plan.control_name} on {first.metric.name}: "
            f"{c.effect.rel_effect:+.1%} (95% CI {lo:+.1%} to {hi:+.1%}, adjusted p = "
            f"{c.p_value_adjusted:.2g}), with no primary metric worse and no guardrail harmed.",
            best,
        )
    if losers:
        v, losses, harms = losers[0]
        what = []
        if losses:
            what.append(f"worse on {', '.join(losses)}")
        if harms:
            what.append(f"harms guardrail {', '.join(harms)}")
        return Decision(
            "do_not_ship",
            f"{v} is significantly {' and '.join(what)}; keep {plan.control_name}.",
            v,
        )
    return Decision(
        "inconclusive",
        "No primary metric moved significantly for any variant "
        f"(correction: {plan.analysis.correction}); the test cannot tell the variants apart "
        "at this sample size. Keep running to the planned sample size, or stop and keep "
        f"{plan.control_name}.",
    )
