"""``kind: landing_page``: the funnel step by step, segments with a Simpson's-paradox check,
novelty (early against late cohorts) and repeat purchase.

Built from the engine's sufficient statistics (:class:`~liftlab.aggregate.UnitStats`) with the
statistics of :mod:`liftlab.stats.funnel` (conventions there); nothing here reads unit rows.
Every test uses the plan's ``alpha``; adjusted p-values use its ``correction``.

- ``funnel``: :func:`~liftlab.stats.funnel.funnel_analysis` of ``stats.funnel_counts`` (units
  that reached each step of ``landing_page.funnel`` and every earlier one within
  ``funnel_window_days`` of exposure); ``None`` without a funnel.
- ``segments``: per primary metric, per treatment, :func:`~liftlab.stats.funnel.segment_analysis`
  over every ``data.segments`` column, on the absolute scale with the metric's own test
  (``ratio`` for ratios, ``cuped`` with a covariate, else ``welch``); ``None`` without segments
  or with ``landing_page.segments: false``.
- ``novelty``: per primary metric, per treatment, :func:`~liftlab.stats.funnel.novelty_analysis`
  of the per-day Moments (cut at ``novelty_cut``, default halfway through the days), in the
  metric's good direction; ``None`` with fewer than two days or ``novelty: false``.
- ``repeat_purchase``: per metric with ``aggregate: repeat``, the rate per variant and
  :func:`~liftlab.stats.funnel.repeat_purchase_effect` among all exposed units (the Welch test
  of the metric's own row), and among buyers when the plan also has the ``any`` metric of the
  same event and window; ``None`` without such a metric.

A part (or one metric's entry) that fails becomes ``{"status": "unavailable", "reason": ...}``;
the other parts stand. The report's views of the section: :mod:`liftlab.views.landing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from liftlab.plan import LandingOptions
from liftlab.stats.funnel import (
    RepeatCounts,
    funnel_analysis,
    novelty_analysis,
    repeat_purchase_effect,
    segment_analysis,
)

if TYPE_CHECKING:
    from liftlab.aggregate import UnitStats
    from liftlab.analysis import Results
    from liftlab.plan import Metric, Plan
    from liftlab.sources import UnitSource

SOFT_ERRORS = (ValueError, ArithmeticError, KeyError)
Part = dict[str, Any] | None


def _soft(make: Callable[..., Part], *args: Any, **kwargs: Any) -> Part:
    """``make(*args, **kwargs)``, or ``{"status": "unavailable", "reason": ...}`` on a soft error."""
    try:
        return make(*args, **kwargs)
    except SOFT_ERRORS as exc:
        text = str(exc).splitlines()[0] if str(exc) else repr(exc)
        return {"status": "unavailable", "reason": text}


def is_unavailable(part: Any) -> bool:
    """Whether a part (or one metric's entry) is ``{"status": "unavailable", ...}``."""
    return isinstance(part, dict) and part.get("status") == "unavailable"


def metric_test(m: Metric) -> str:
    """The metric's own test, by the names of :mod:`liftlab.stats.funnel`."""
    return "ratio" if m.type == "ratio" else "cuped" if m.covariate else "welch"


@dataclass(frozen=True)
class LandingSection:
    """The four parts, each a plain dict as in results.json (``None`` when not asked for)."""

    funnel: Part
    segments: Part
    novelty: Part
    repeat_purchase: Part

    def to_dict(self) -> dict[str, Any]:
        return {
            "funnel": self.funnel,
            "segments": self.segments,
            "novelty": self.novelty,
            "repeat_purchase": self.repeat_purchase,
        }


def analyze(
    plan: Plan, stats: UnitStats, results: Results, src: UnitSource | None
) -> LandingSection | None:
    """The landing-page section (module doc); ``None`` when no part applies."""
    opts = plan.landing_page or LandingOptions()
    alpha, correction, control = plan.analysis.alpha, plan.analysis.correction, plan.control_name
    primary = [m for m in plan.metrics if m.role == "primary"]

    def funnel() -> Part:
        if not stats.funnel_counts:
            raise ValueError("the statistics hold no funnel counts (they need unit rows)")
        return funnel_analysis(
            opts.funnel, stats.funnel_counts, control, alpha, correction
        ).to_dict()

    def per_treatment(run: Callable[..., Any], data: Any, **kw: Any) -> Part:
        """``run(data, control, treatment, alpha, **kw)`` for each treatment, soft errors."""

        def one(t: str) -> Part:
            return cast(
                "Part", run(data, control=control, treatment=t, alpha=alpha, **kw).to_dict()
            )

        return {t: _soft(one, t) for t in plan.treatments}

    def segments(m: Metric) -> Part:
        if not stats.segment_moments:
            raise ValueError("the statistics hold no per-segment moments (they need unit rows)")
        by_dim = {
            dim: {level: per[m.name] for level, per in levels.items()}
            for dim, levels in stats.segment_moments.items()
        }
        return per_treatment(segment_analysis, by_dim, test=metric_test(m), correction=correction)

    def novelty(m: Metric) -> Part:
        per = stats.daily[m.name]
        daily = {d: {v: per[v][k] for v in per} for k, d in enumerate(stats.days)}
        return per_treatment(
            novelty_analysis,
            daily,
            cut=opts.novelty_cut,
            test=metric_test(m),
            direction=m.direction,
        )

    repeat = [m for m in plan.metrics if m.on_events and m.event_aggregate == "repeat"]
    section = LandingSection(
        funnel=_soft(funnel) if opts.funnel else None,
        segments={m.name: _soft(segments, m) for m in primary}
        if opts.segments and plan.data.segments
        else None,
        novelty={m.name: _soft(novelty, m) for m in primary}
        if opts.novelty and len(stats.days) >= 2
        else None,
        repeat_purchase={m.name: _soft(_repeat, plan, stats, m) for m in repeat} or None,
    )
    return None if all(v is None for v in section.to_dict().values()) else section


def _repeat(plan: Plan, stats: UnitStats, m: Metric) -> dict[str, Any]:
    """Repeat rate per variant and its effect among exposed units (and buyers, if known)."""
    a, control = plan.analysis, plan.control_name
    buyers = next(
        (
            b
            for b in plan.metrics
            if b.event == m.event
            and b.type == "proportion"
            and b.event_aggregate == "any"
            and b.window_days == m.window_days
        ),
        None,
    )

    def counts(v: str) -> RepeatCounts:
        mom = stats.moments[m.name][v]
        r = round(mom.sum_y)
        # without a buyers metric only the ``exposed`` denominator is used; buyers ≥ repeaters
        b = round(stats.moments[buyers.name][v].sum_y) if buyers is not None else r
        return RepeatCounts(mom.n, b, r)

    def effects(denominator: str) -> dict[str, Any]:
        return {
            t: repeat_purchase_effect(
                counts(control), counts(t), denominator=denominator, alpha=a.alpha
            ).to_dict()
            for t in plan.treatments
        }

    per = {v: counts(v) for v in plan.variants}
    return {
        "event": m.event,
        "window_days": m.window_days,
        "exposed": {v: c.exposed for v, c in per.items()},
        "repeaters": {v: c.repeaters for v, c in per.items()},
        "rate": {v: c.repeaters / c.exposed if c.exposed else None for v, c in per.items()},
        "effects": effects("exposed"),
        "buyers_metric": None if buyers is None else buyers.name,
        "among_buyers": None if buyers is None else effects("buyers"),
    }
