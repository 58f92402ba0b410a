"""``kind: pricing``: the pricing section of the results (the views: :mod:`liftlab.views.pricing`).

:func:`analyze` turns the engine's sums into one :class:`~liftlab.stats.pricing.PriceArm` per
variant and hands them to :func:`liftlab.stats.pricing.analyze_pricing` (the statistics and
their conventions live there): per variant, ``n`` and the buyers ``Σc`` are the moments of the
plan's ``pricing.conversion`` metric (a 0/1 purchase flag), ``Σr`` and ``Σr²`` those of its
``pricing.revenue`` metric (revenue per visitor, 0 for non-buyers, after the plan's cap: the
revenue is used *as analysed*); revenue comes from buyers only, so ``Σr·c = Σr``. The price
and the unit cost are the variants'; the control is the plan's. A plan of kind pricing
without a ``pricing:`` block adds no section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liftlab.stats.pricing import PriceArm, PricingResult, analyze_pricing

if TYPE_CHECKING:
    from liftlab.aggregate import UnitStats
    from liftlab.analysis import Results
    from liftlab.plan import Plan
    from liftlab.sources import UnitSource


@dataclass(frozen=True)
class PricingSection:
    """The pricing analysis of a plan: the statistics' result and where its inputs came from."""

    result: PricingResult
    conversion: str
    revenue: str
    revenue_caps: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """:meth:`PricingResult.to_dict` plus ``status``, the metrics used and the revenue cap."""
        return {
            "status": "ok",
            "metrics": {"conversion": self.conversion, "revenue": self.revenue},
            "revenue_caps": dict(self.revenue_caps),
            **self.result.to_dict(),
        }


def price_arms(plan: Plan, stats: UnitStats) -> tuple[list[PriceArm], float | None]:
    """One :class:`PriceArm` per variant (plan order) and the plan's unit cost (or ``None``)."""
    opts = plan.pricing
    assert opts is not None
    sums = {}
    for field_name, metric in (("conversion", opts.conversion), ("revenue", opts.revenue)):
        if metric not in stats.moments:
            raise ValueError(f"pricing.{field_name}: no sums for metric '{metric}'")
        sums[field_name] = stats.moments[metric]
    arms = []
    for name, variant in plan.variants.items():
        conv, rev = sums["conversion"].get(name), sums["revenue"].get(name)
        if conv is None or rev is None or conv.n < 1:
            raise ValueError(f"pricing: variant '{name}' has no units")
        if conv.n != rev.n:
            raise ValueError(
                f"pricing: variant '{name}' has {conv.n} units for '{opts.conversion}' but "
                f"{rev.n} for '{opts.revenue}'; both must count every visitor"
            )
        buyers = round(conv.sum_y)
        if abs(conv.sum_y - buyers) > 1e-6 or abs(conv.sum_y2 - conv.sum_y) > 1e-6 * (1 + buyers):
            raise ValueError(f"pricing.conversion: '{opts.conversion}' is not a 0/1 purchase flag")
        price = float(variant.price) if variant.price is not None else math.nan
        arms.append(PriceArm(name, price, conv.n, buyers, rev.sum_y, rev.sum_y2))
    cost = next((v.unit_cost for v in plan.variants.values() if v.unit_cost is not None), None)
    return arms, cost


def analyze(
    plan: Plan, stats: UnitStats, results: Results, src: UnitSource | None = None
) -> PricingSection | None:
    """The pricing section (``None`` without a ``pricing:`` block); ``ValueError`` when the
    demand curve cannot be fitted (the dispatcher shows it as unavailable)."""
    opts = plan.pricing
    if opts is None:
        return None
    arms, cost = price_arms(plan, stats)
    result = analyze_pricing(
        arms,
        alpha=plan.analysis.alpha,
        link=opts.link,
        unit_cost=cost,
        control=plan.control_name,
        draws=opts.draws,
        seed=opts.seed,
    )
    caps = dict(stats.caps.get(opts.revenue, {}))
    return PricingSection(result, opts.conversion, opts.revenue, caps)
