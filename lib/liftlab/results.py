"""Serialisation of :class:`liftlab.analysis.Results` to the results contract (results.json).

The contract, every key with its type, meaning and unit, the versioning rule and the
changelog, is ``docs/results.md``; its JSON Schema is ``liftlab/results.schema.json``, both
generated from the types of :mod:`liftlab.contract`. The file's ``schema_version`` is
:data:`SCHEMA_VERSION`. The original contract keys are kept as they are; everything else
extends them. Numbers are plain JSON floats, ``null`` where undefined (never NaN or infinity);
dates are ISO strings. The same inputs give the same file, byte for byte, apart from
``generated_at``.

Every comparison carries ``headline`` (:class:`liftlab.headline.Headline`): the effect,
interval, probability and status its method decides by; the verdict, the scorecard, the
index and the command line show it and nothing else. Each metric carries its display
(``label``, ``format``, ``decimals``) and the file its ``currency``, so that any reader of
the file prints numbers as the report does (:mod:`liftlab.format`). ``data_sha256`` is a
digest over the data files' SHA-256 digests (or an engine table's identity), not a hash of
the raw bytes of one file; ``manifest.json`` lists what it covers.

This module only lays the document out; every result in it (a comparison, its method
results, a look, an SRM test, the decision) is written by one function,
:func:`liftlab.jsonsafe.clean`, from the fields its dataclass declares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liftlab import __version__
from liftlab.decision import display_of
from liftlab.jsonsafe import clean, fields_of

if TYPE_CHECKING:
    from liftlab.analysis import MetricResult, Results
    from liftlab.plan import Plan

# The version of the results contract (docs/results.md): an added key bumps the minor version,
# a renamed or removed key the major version.
SCHEMA_VERSION = "1.0"


def results_dict(r: Results) -> dict[str, Any]:
    a = r.plan.analysis
    out = {
        "schema_version": SCHEMA_VERSION,
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
        "progress": r.progress,
        "srm": {
            **fields_of(r.srm),
            "randomization": r.plan.randomization,
            "applies": r.plan.randomization != "none",
        },
        "data_quality": _quality(r),
        "traffic": {
            "days": [d.isoformat() for d in r.traffic.days],
            "units": r.traffic.units,
        },
        "metrics": [_metric(m, r.plan) for m in r.metrics],
        "decision": r.decision,
    }
    for kind, section in r.sections.items():  # "pricing", "creative", "landing_page"
        out[kind] = section
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
        "variants": m.variants,
        "comparisons": m.comparisons,
        "prob_best": m.best,
        **m.methods,  # the metric-scope methods' results (cap_sensitivity), null where none
    }
