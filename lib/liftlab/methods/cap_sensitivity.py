"""Cap sensitivity (mean metrics): the metric's fixed-horizon test under each cap level (no
cap, p99, p99.9) the data layer summed, one row per level and treatment. It shows how much
an effect rests on a few large values; it decides nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.plan import Metric, Plan
from liftlab.stats.frequentist import Effect

name = "cap_sensitivity"
order = 70
needs: Need = "sums"
scope: Scope = "metric"


@dataclass(frozen=True)
class SensitivityRow:
    """The fixed-horizon comparison of a mean metric under one cap (no cap, p99, p99.9)."""

    label: str
    caps: dict[str, float]
    variant: str
    effect: Effect

    json_fields: ClassVar = (
        ("cap", "label"),
        ("cap_values", "caps"),
        "variant",
        ("abs_effect", "effect.abs_effect"),
        ("abs_ci", "effect.abs_ci"),
        ("rel_effect", "effect.rel_effect"),
        ("rel_ci", "effect.rel_ci"),
        ("p_value", "effect.p_value"),
    )


def applies(plan: Plan, metric: Metric) -> bool:
    return metric.type == "mean"


def run(inp: MetricInput) -> list[SensitivityRow] | None:
    """Every level × treatment, level by level; ``None`` when the data have no levels."""
    if not inp.capped:
        return None
    test = inp.test
    return [
        SensitivityRow(label, caps, v, test(moments[inp.control], moments[v]))
        for label, (caps, moments) in inp.capped.items()
        for v in inp.treatments
    ]
