"""Serialisation of :class:`liftlab.analysis.Results` to the results contract (results.json).

The contract keys of ``DESIGN.md`` are kept as they are; everything else extends them. Numbers
are plain JSON floats, ``null`` where undefined (never NaN or infinity); dates are ISO
strings. The same inputs give the same file, byte for byte, apart from ``generated_at``.

Every comparison carries ``headline`` (:class:`liftlab.headline.Headline`): the effect,
interval, probability and status its method decides by; the verdict, the scorecard, the
index and the command line show it and nothing else. Each metric carries its display
(``label``, ``format``, ``decimals``) and the file its ``currency``, so that any reader of
the file prints numbers as the report does (:mod:`liftlab.format`). ``data_sha256`` is a
digest over the data files' SHA-256 digests (or an engine table's identity), not a hash of
the raw bytes of one file; ``manifest.json`` lists what it covers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liftlab import __version__
from liftlab.decision import display_of
from liftlab.jsonsafe import clean

if TYPE_CHECKING:
    from liftlab.analysis import Comparison, MetricResult, Results
    from liftlab.monitor import CumulativeView, Look, SequentialView
    from liftlab.plan import Plan


def results_dict(r: Results) -> dict[str, Any]:
    a = r.plan.analysis
    out = {
        "experiment": r.plan.name,
        "kind": r.plan.kind,
        "hypothesis": r.plan.hypothesis,
        "liftlab_version": __version__,
        "plan_sha256": r.plan.sha256,
        "data_sha256": r.data_sha256,
        "data_source": r.data_label,
        "generated_at": r.generated_at,
        "analysis": {
            "method": a.method,
            "alpha": a.alpha,
            "correction": a.correction,
            "relative_interval": a.relative_interval,
            "control": r.plan.control_name,
            "bayesian": a.bayesian.model_dump(mode="json") if a.method == "bayesian" else None,
            "sequential": a.sequential.model_dump(mode="json")
            if a.method == "sequential"
            else None,
        },
        "currency": r.plan.currency,
        "planned_n_per_variant": r.planned_n_per_variant,
        "progress": r.progress.to_dict() if r.progress is not None else None,
        "srm": {
            "p_value": r.srm.p_value,
            "statistic": r.srm.statistic,
            "df": r.srm.df,
            "counts": r.srm.counts,
            "expected_weights": r.srm.expected_weights,
            "mismatch": r.srm.mismatch,
            "alpha": r.srm.alpha,
            "randomization": r.plan.randomization,
            "applies": r.plan.randomization != "none",
        },
        "data_quality": _quality(r),
        "traffic": {
            "days": [d.isoformat() for d in r.traffic.days],
            "units": r.traffic.units,
        },
        "metrics": [_metric(m, r.plan) for m in r.metrics],
        "decision": {
            "recommendation": r.decision.recommendation,
            "variant": r.decision.variant,
            "reason": r.decision.reason,
            "runner_up": r.decision.runner_up,
            "caveats": list(r.decision.caveats),
        },
    }
    for kind, section in r.sections.items():  # "pricing", "creative", "landing_page"
        out[kind] = section.to_dict()
    return clean(out)


def _quality(r: Results) -> dict[str, Any]:
    """Data-quality findings: the event-table counts (if any) and SRM per segment."""
    out: dict[str, Any] = dict(r.data_quality or {})
    out["srm_by_segment"] = {
        col: {
            value: {
                "counts": s.counts,
                "p_value": s.p_value,
                "mismatch": s.mismatch,
            }
            for value, s in by_value.items()
        }
        for col, by_value in r.segment_srm.items()
    }
    out["srm_mismatch_segments"] = [
        f"{col}={value}"
        for col, by_value in r.segment_srm.items()
        for value, s in by_value.items()
        if s.mismatch
    ]
    return out


def _metric(m: MetricResult, plan: Plan) -> dict[str, Any]:
    display = display_of(plan, m.metric.name)
    return {
        "name": m.metric.name,
        "label": display.label,
        "format": display.format,
        "decimals": display.decimals,
        "role": m.metric.role,
        "type": m.metric.type,
        "direction": m.metric.direction,
        "status": m.status,
        "reason": m.reason,
        "caps": m.caps or None,
        "variants": {
            k: {"n": v.n, "mean": v.mean, "variance": v.variance, "se": v.se}
            for k, v in m.variants.items()
        },
        "comparisons": [_comparison(c) for c in m.comparisons],
        "prob_best": (
            {
                "prob_best": m.best.prob_best,
                "expected_loss": m.best.expected_loss,
                "draws": m.best.draws,
                "seed": m.best.seed,
            }
            if m.best is not None
            else None
        ),
        "cap_sensitivity": [
            {
                "cap": s.label,
                "cap_values": s.caps,
                "variant": s.variant,
                "abs_effect": s.effect.abs_effect,
                "abs_ci": list(s.effect.abs_ci),
                "rel_effect": s.effect.rel_effect,
                "rel_ci": list(s.effect.rel_ci) if s.effect.rel_ci else None,
                "p_value": s.effect.p_value,
            }
            for s in m.sensitivity
        ]
        or None,
    }


def _comparison(c: Comparison) -> dict[str, Any]:
    e = c.effect
    out: dict[str, Any] = {
        "variant": c.variant,
        "control": c.control,
        "headline": c.headline.to_dict() if c.headline is not None else None,
        "control_mean": e.control_mean,
        "variant_mean": e.treatment_mean,
        "abs_effect": e.abs_effect,
        "abs_se": e.abs_se,
        "abs_ci": list(e.abs_ci),
        "rel_effect": e.rel_effect,
        "rel_ci": list(e.rel_ci) if e.rel_ci else None,
        "df": e.df,
        "p_value": e.p_value,
        "p_value_adjusted": c.p_value_adjusted,
        "significant": c.significant,
        "method": e.method,
        "cuped": c.cuped,
        "theta": e.theta,
        "prob_beat_control": c.prob_beat_control,
        "expected_loss": c.expected_loss,
        "note": e.note,
    }
    if c.bayes is not None:
        b = c.bayes
        out["bayesian"] = {
            "model": b.method,
            "prior": b.prior,
            "effect_scale": b.effect_scale,
            "abs_effect": b.abs_effect,
            "abs_ci": list(b.abs_ci),
            "rel_effect": b.rel_effect,
            "rel_ci": list(b.rel_ci),
            "prob_beat_control": b.prob_beat_control,
            "expected_loss_treatment": b.expected_loss_treatment,
            "expected_loss_control": b.expected_loss_control,
            "expected_loss_treatment_rel": b.expected_loss_treatment_rel,
            "expected_loss_control_rel": b.expected_loss_control_rel,
            "draws": b.n_draws,
            "seed": b.seed,
            "note": b.note,
        }
    if c.sequential is not None:
        out["sequential"] = _sequential(c.sequential)
    if c.cumulative is not None:
        out["cumulative"] = _cumulative(c.cumulative)
    if c.non_inferiority is not None:
        ni = c.non_inferiority
        out["non_inferiority"] = {
            "margin": ni.margin,
            "margin_type": ni.margin_type,
            "margin_abs": ni.margin_abs,
            "statistic": ni.statistic,
            "p_value": ni.p_value,
            "bound": ni.bound,
            "passed": ni.passed,
        }
    if c.bootstrap is not None:
        bs = c.bootstrap
        out["bootstrap"] = {
            "statistic": bs.statistic,
            "method": bs.method,
            "scheme": bs.scheme,
            "control_estimate": bs.control_estimate,
            "treatment_estimate": bs.treatment_estimate,
            "effect": bs.effect,
            "ci": list(bs.ci),
            "p_value": bs.p_value,
            "se": bs.se,
            "n_resamples": bs.n_resamples,
            "seed": bs.seed,
            "histogram": {"edges": list(bs.histogram.edges), "counts": list(bs.histogram.counts)},
            "note": bs.note,
        }
    if c.rank is not None:
        rk = c.rank
        out["mann_whitney"] = {
            k: getattr(rk, k)
            for k in rk.__dataclass_fields__  # type: ignore[attr-defined]
            if isinstance(getattr(rk, k), int | float | str | type(None))
        }
    return out


def _sequential(s: SequentialView) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "status": s.status,
        "p_value": s.p_value,
        "ci": list(s.ci),
        "rejected": s.rejected,
        "first_rejection": s.first_rejection,
        "tau": s.tau,
        "planned_n": s.planned_n,
        "spending": s.spending,
        "note": s.note,
        "looks": [_look(look) for look in s.looks],
    }


def _cumulative(v: CumulativeView) -> dict[str, Any]:
    """The fixed-horizon test at each daily look: pointwise intervals, not valid for stopping."""
    return {"kind": v.kind, "alpha": v.alpha, "looks": [_look(look) for look in v.looks]}


def _look(look: Look) -> dict[str, Any]:
    """One daily look (sequential or pointwise); fields a view does not use are null."""
    return {
        "day": look.day,
        "n_control": look.n_control,
        "n_treatment": look.n_treatment,
        "estimate": look.estimate,
        "se": look.se,
        "ci": [look.ci_low, look.ci_high],
        "p_value": look.p_value,
        "z": look.z,
        "boundary": look.boundary,
        "information_fraction": look.information_fraction,
        "rejected": look.rejected,
    }
