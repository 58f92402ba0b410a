"""``kind: creative``: the ad-creative tournament section of a report.

:func:`analyze` turns the engine's per-creative sums into
:class:`~liftlab.stats.creative.CreativeArm` and runs
:func:`~liftlab.stats.creative.analyze_creatives`, whose docstring holds every convention
(delta-method rates, BH-adjusted lifts, probability best, empirical-Bayes shrinkage, Thompson
budget, fatigue GLM); :func:`caveats` adds sentences to the verdict. What the report shows:
:mod:`liftlab.views.creative`. Inputs:

- ``creative.ctr`` (a ratio metric): per creative the users, Σclicks, Σimpressions, their
  squares and cross-product: the metric's moments, after its cap if it has one.
- ``creative.conversion`` (optional; proportion or mean): Σconversions, Σconversions², and
  the per-user sums of conversions × clicks and × impressions that the engine adds for this
  kind (``UnitStats.cross_sums``), so conversion per click and per impression get
  delta-method intervals; CPA needs only the conversions total.
- ``creative.revenue`` (optional mean metric): Σrevenue and Σrevenue², for ROAS.
- each variant's ``spend``: CPA (with a conversion metric), CPC and ROAS (with a revenue
  metric), on unit and event tables. On an ad-platform export the money comes from the
  export instead (:func:`export_money`, one grouped query over its clusters): spend, CPA,
  CPC, ROAS and conversion value with delta-method intervals over the clusters; a typed
  ``spend:`` is then not used.
- Fatigue: on event tables, the impressions and clicks of the ctr metric (both ``count``) by
  day since the unit's first exposure, ``fatigue_days`` days, one grouped query
  (:func:`liftlab.events.events_by_exposure_day`). On an ad-platform export whose rows are
  ad × day clusters (``data.aggregates`` with a date column, arm = the ad), the ctr
  metric's impressions and clicks by day since the creative's first day with impressions,
  ``fatigue_days`` days (:func:`export_day_counts`): the decline of an ad over its life
  (wear-out), which calendar time and the platform's delivery also move, unlike the
  per-user decline of event tables. Skipped, with a note, for unit tables (per-user totals
  have no days), exports whose rows are added up per cluster, precomputed statistics, a
  ctr metric that does not count both events, or ``fatigue: false``; a creative whose counts cannot be fitted is left out,
  with a note. A creative "declines" when its one-sided p-value for a negative slope,
  adjusted by the plan's correction across the fitted creatives, is below α.

The plan's ``alpha``, ``correction`` and control apply; probability best and the budget use
CTR (normal approximation, user-randomised); the budget is simulated for
``next_impressions`` impressions (default: this test's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from liftlab import format as fmt
from liftlab.plan import CreativeOptions, EventAgg
from liftlab.stats.creative import (
    ArmResult,
    CreativeArm,
    CreativeResult,
    FatigueCurve,
    MoneySums,
    analyze_creatives,
    fit_fatigue,
)
from liftlab.stats.multiple import adjust_pvalues

if TYPE_CHECKING:
    from liftlab.aggregate import UnitStats
    from liftlab.analysis import Results
    from liftlab.plan import Plan
    from liftlab.sources import UnitSource


@dataclass(frozen=True)
class CreativeSection:
    """The tournament (:class:`CreativeResult`), the counts behind fatigue, and notes."""

    result: CreativeResult
    ctr_metric: str
    conversion_metric: str | None
    revenue_metric: str | None
    curves: tuple[FatigueCurve, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    inputs: tuple[CreativeArm, ...] = ()
    show: int = 15
    since: str = "first exposure"  # what the fatigue's day index counts from

    @property
    def units(self) -> str:
        """What the ``users`` of an arm count: users, or an export's rows (its clusters)."""
        return "users" if self.since == "first exposure" else "export rows"

    @property
    def shown(self) -> list[ArmResult]:
        """The ``show`` best-ranked creatives, and control after them when it is not among
        them: the rows the tables and charts list."""
        ranked = self.result.ranked
        top = ranked[: self.show]
        if all(a.name != self.result.control for a in top):
            top.append(self.result.arm(self.result.control))
        return top

    @property
    def rest(self) -> list[ArmResult]:
        """The creatives not listed (counted and summed in one row)."""
        listed = {a.name for a in self.shown}
        return [a for a in self.result.ranked if a.name not in listed]

    def pooled(self, names: list[str], label: str) -> CreativeArm | None:
        """The summed inputs of ``names`` as one arm (``None`` without inputs)."""
        by_name = {a.name: a for a in self.inputs}
        if not names or any(n not in by_name for n in names):
            return None
        return CreativeArm.combine(label, [by_name[n] for n in names])

    @property
    def declining(self) -> dict[str, tuple[float, bool]]:
        """Per fitted creative: the adjusted one-sided p-value for decline and whether < α."""
        fits = self.result.fatigue or ()
        if not fits:
            return {}
        r = self.result
        adjusted = adjust_pvalues([f.p_value_decline for f in fits], r.correction)
        return {
            f.creative: (float(p), bool(p < r.alpha and f.slope < 0))
            for f, p in zip(fits, adjusted, strict=True)
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": "ok",
            "ctr_metric": self.ctr_metric,
            "conversion_metric": self.conversion_metric,
            "revenue_metric": self.revenue_metric,
            **self.result.to_dict(),
        }
        flags = self.declining
        for f in out["fatigue"] or []:
            f["p_value_decline_adjusted"], f["declining"] = flags[f["creative"]]
        out["fatigue_counts"] = {
            c.creative: {
                "impressions": [int(x) for x in c.impressions],
                "clicks": [int(x) for x in c.clicks],
            }
            for c in self.curves
        } or None
        out["notes"] = dict(self.notes)
        return out


# ---- analysis ----------------------------------------------------------------------------------
def _options(plan: Plan) -> CreativeOptions:
    if plan.creative is not None:
        return plan.creative
    ratios = [m.name for m in plan.metrics if m.type == "ratio"]
    if len(ratios) != 1:
        raise ValueError("creative: name the click-through ratio metric, e.g. creative: {ctr: ctr}")
    return CreativeOptions(ctr=ratios[0])


def export_day_counts(
    src: UnitSource, impressions: str, clicks: str, days: int
) -> dict[str, dict[str, list[float]]]:
    """Per creative, impressions and clicks on each day since its first day with
    impressions (day 0, up to ``days − 1``), from an export's daily rows in one grouped
    query (``src.extras["export"]``, which has a ``date`` when each row is a cluster)."""
    from liftlab.exports import exact_sum  # the data layer: not for reading results
    from liftlab.sources import fetch

    t = src.extras["export"]
    seen = t.filter(t[impressions] > 0)
    first = seen.group_by(v_=seen.variant).aggregate(first_=seen.date.min())
    j = t.join(first, t.variant == first.v_)
    j = j.mutate(d_=j.date.delta(j.first_, unit="day").cast("int64"))
    j = j.filter((j.d_ >= 0) & (j.d_ < days))
    sums = j.group_by(v_=j.variant, day_=j.d_).aggregate(
        i_=exact_sum(j[impressions]), c_=exact_sum(j[clicks])
    )
    rows = fetch(sums).to_pylist()
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        per = out.setdefault(str(r["v_"]), {impressions: [0.0] * days, clicks: [0.0] * days})
        per[impressions][int(r["day_"])] += float(r["i_"] or 0)
        per[clicks][int(r["day_"])] += float(r["c_"] or 0)
    return out


def export_money(src: UnitSource | None) -> dict[str, MoneySums]:
    """Per creative, the export's money sums over its clusters (:class:`MoneySums`: spend,
    clicks, conversions and conversion value with their squares and cross-products with
    spend), in one grouped query; ``{}`` when the source is not an export with spend and
    clicks."""
    if src is None or "export" not in src.extras:
        return {}
    from liftlab.exports import exact_sum  # the data layer: not for reading results
    from liftlab.sources import fetch

    t = src.extras["export"]
    if not {"spend", "clicks"} <= set(t.columns):
        return {}
    s = t.spend
    aggs: dict[str, Any] = {"n": t.count(), "spend": exact_sum(s), "spend2": exact_sum(s * s)}
    for role in ("clicks", "conversions", "value"):
        if role in t.columns:
            x = t[role]
            aggs[role] = exact_sum(x)
            aggs[f"{role}2"] = exact_sum(x * x)
            aggs[f"{role}_spend"] = exact_sum(x * s)
    rows = fetch(t.group_by(v_=t.variant).aggregate(**aggs)).to_pylist()

    def sums(r: dict[str, Any]) -> MoneySums:
        def f(key: str) -> float | None:
            return float(r[key] or 0.0) if key in r else None

        return MoneySums(
            int(r["n"]),
            float(r["spend"] or 0.0),
            float(r["spend2"] or 0.0),
            float(r["clicks"] or 0.0),
            float(r["clicks2"] or 0.0),
            float(r["clicks_spend"] or 0.0),
            f("conversions"),
            f("conversions2"),
            f("conversions_spend"),
            f("value"),
            f("value2"),
            f("value_spend"),
        )

    return {str(r["v_"]): sums(r) for r in rows}


def _day_counts(
    plan: Plan, opts: CreativeOptions, src: UnitSource | None
) -> tuple[dict[str, dict[str, list[float]]], tuple[str, str], str | None]:
    """Impressions and clicks by day per creative, their two keys, or why there are none:
    days since a user's first exposure on event tables, since the creative's first
    impression on an ad-platform export's daily rows."""
    from liftlab.events import events_by_exposure_day

    metric = next(m for m in plan.metrics if m.name == opts.ctr)
    num, den = metric.numerator, metric.denominator
    if not opts.fatigue:
        return {}, ("", ""), "fatigue is off in the plan (creative: {fatigue: false})"
    if src is not None and "export" in src.extras:
        cols = src.extras["export"].columns
        if "date" not in cols:
            return (
                {},
                ("", ""),
                (
                    "fatigue needs the export's daily rows, but they are added up per "
                    "cluster (data.cluster) or have no date column (columns: {date: ...})"
                ),
            )
        if not (isinstance(num, str) and isinstance(den, str) and {num, den} <= set(cols)):
            return {}, ("", ""), f"fatigue needs {opts.ctr} to be clicks over impressions"
        keys = (den, num)
        return export_day_counts(src, den, num, opts.fatigue_days), keys, None
    if not (isinstance(num, EventAgg) and isinstance(den, EventAgg)):
        return (
            {},
            ("", ""),
            (
                "fatigue needs event tables or an ad-platform export's daily rows: a unit "
                "table's per-user totals have no days"
            ),
        )
    if src is None or "events" not in src.extras:
        return {}, ("", ""), "fatigue needs the event tables, which this analysis did not read"
    if num.aggregate != "count" or den.aggregate != "count" or num.event == den.event:
        return {}, ("", ""), f"fatigue needs {opts.ctr} to count two events (aggregate: count)"
    counts = events_by_exposure_day(src, [den.event, num.event], opts.fatigue_days)
    return cast("dict[str, dict[str, list[float]]]", counts), (den.event, num.event), None


def _curves(
    plan: Plan, opts: CreativeOptions, src: UnitSource | None, alpha: float, names: list[str]
) -> tuple[list[FatigueCurve], str | None]:
    """Impressions and clicks by day per creative of ``names`` that can be fitted, or why
    there are none."""
    counts, (den, num), why = _day_counts(plan, opts, src)
    if why:
        return [], why
    curves, dropped = [], []
    for v in names:
        per, zeros = counts.get(v, {}), [0] * opts.fatigue_days
        curve = FatigueCurve(v, tuple(per.get(den, zeros)), tuple(per.get(num, zeros)))
        try:
            fit_fatigue(curve, alpha=alpha)
        except ValueError as exc:
            dropped.append(f"{v} ({str(exc).split(': ', 1)[-1]})")
            continue
        curves.append(curve)
    if not dropped:
        return curves, None
    more = f" and {len(dropped) - 5:,} more" if len(dropped) > 5 else ""
    return curves, f"fatigue not fitted for {', '.join(dropped[:5])}{more}"


def _left_out(
    out: list[str], groups: dict[str, list[str]] | None, control: str, notes: dict[str, str]
) -> dict[str, list[str]] | None:
    """The tournament compares creatives with at least two users (an export's rows) and some
    impressions. The others (``out``: an ad that ran one day, or had no impressions) are left
    out of it and of its groups and named in ``notes["left_out"]``; the metrics list them."""
    if not out:
        return groups
    if control in out:
        raise ValueError(
            f"control {control!r} has fewer than two rows or no impressions: choose another"
        )
    more = f" and {len(out) - 5:,} more" if len(out) > 5 else ""
    notes["left_out"] = (
        f"{len(out):,} creatives with fewer than two rows or no impressions are left out of "
        f"the tournament: {', '.join(out[:5])}{more}"
    )
    if groups is None:
        return None
    gone = set(out)
    kept = {g: [n for n in m if n not in gone] for g, m in groups.items()}
    return {g: m for g, m in kept.items() if m}


def _arms(
    plan: Plan, opts: CreativeOptions, stats: UnitStats, src: UnitSource | None
) -> tuple[list[CreativeArm], list[str]]:
    """One :class:`CreativeArm` per creative with at least two users (an export's rows) and
    some impressions, in plan order, and the names of the others (left out)."""
    conv = stats.moments[opts.conversion] if opts.conversion else None
    rev = stats.moments[opts.revenue] if opts.revenue else None
    cross = stats.cross_sums
    money = export_money(src)
    arms, out = [], []
    for v, variant in plan.variants.items():
        m = stats.moments[opts.ctr][v]
        if m.n < 2 or not m.sum_x > 0:
            out.append(v)
            continue
        c, r = (conv[v] if conv else None), (rev[v] if rev else None)
        arms.append(
            CreativeArm(
                v,
                m.n,
                impressions=m.sum_x,
                clicks=m.sum_y,
                sum_impressions2=m.sum_x2,
                sum_clicks2=m.sum_y2,
                sum_clicks_impressions=m.sum_xy,
                conversions=c.sum_y if c else 0.0,
                sum_conversions2=c.sum_y2 if c else None,
                sum_conversions_clicks=cross.get(f"{opts.conversion}.y*{opts.ctr}.y", {}).get(v),
                sum_conversions_impressions=cross.get(f"{opts.conversion}.y*{opts.ctr}.x", {}).get(
                    v
                ),
                spend=variant.spend if (c or r) else None,
                revenue=r.sum_y if r else None,
                sum_revenue2=r.sum_y2 if r else None,
                money=money.get(v),
            )
        )
    return arms, out


def analyze(
    plan: Plan, stats: UnitStats, results: Results, src: UnitSource | None
) -> CreativeSection:
    """The tournament on the plan's metrics (module docstring)."""
    opts = _options(plan)
    a = plan.analysis
    arms, out = _arms(plan, opts, stats, src)
    notes: dict[str, str] = {}
    groups = _left_out(out, opts.groups, plan.control_name, notes)
    if opts.conversion and arms and arms[0].sum_conversions_clicks is None:
        notes["conversion"] = (
            "conversion per click and per impression are estimates without intervals: they "
            "need per-user conversions × clicks and × impressions (plan: creative.conversion)"
        )
    curves, why = _curves(plan, opts, src, a.alpha, [x.name for x in arms])
    if why:
        notes["fatigue"] = why
    result = analyze_creatives(
        arms,
        control=plan.control_name,
        alpha=a.alpha,
        correction=a.correction,
        floor=opts.floor if opts.floor is not None else min(0.01, 0.1 / len(arms)),
        prior=opts.prior,
        top_k=opts.top_k,
        groups=groups,
        n_next=opts.next_impressions or max(1, round(sum(x.impressions for x in arms))),
        draws=opts.draws,
        seed=opts.seed,
        fatigue=curves or None,
    )
    return CreativeSection(
        result,
        opts.ctr,
        opts.conversion,
        opts.revenue,
        tuple(curves),
        notes,
        tuple(arms),
        opts.show,
        "the creative's first impression" if src and "export" in src.extras else "first exposure",
    )


# ---- verdict caveats ---------------------------------------------------------------------------
def caveats(section: CreativeSection, results: Results) -> list[str]:
    """What a reader should weigh before shipping the winner: conversion per click where the
    winner is the worst of all creatives, and a cost per acquisition above the runner-up's
    (both with intervals; the verdict itself decides by the primary metric's headline)."""
    d = results.decision
    if d.recommendation != "ship" or d.variant is None:
        return []
    r = section.result
    names = [a.name for a in r.arms]
    if d.variant not in names:
        return []
    best = r.arm(d.variant)
    runner = r.arm(d.runner_up) if d.runner_up in names else None
    out = []
    cvr = {a.name: a.cvr.estimate for a in r.arms if math.isfinite(a.cvr.estimate)}
    if section.conversion_metric and len(cvr) >= 3 and min(cvr, key=cvr.__getitem__) == d.variant:
        per_click = fmt.Display("conversion per click", "percent")
        pair = [cvr[n] for n in (d.variant, d.runner_up) if n in cvr]
        digits = max(fmt.value_decimals(per_click, pair), 2)
        shown = {k: fmt.value(per_click, v, digits) for k, v in cvr.items()}
        with_ci = fmt.value_interval(per_click, best.cvr.estimate, *best.cvr.ci, decimals=digits)
        rival = "" if runner is None else f"; runner-up {runner.name}: {shown[runner.name]}"
        out.append(
            f"{d.variant} has the lowest conversion per click of all {len(cvr)} creatives "
            f"({with_ci}{rival})."
        )
    if (
        runner is not None
        and best.cpa is not None
        and runner.cpa is not None
        and math.isfinite(best.cpa.estimate)
        and math.isfinite(runner.cpa.estimate)
        and best.cpa.estimate > runner.cpa.estimate
    ):
        money = fmt.Display("cost per acquisition", "currency", currency=results.plan.currency)
        shown = fmt.values(money, {"b": best.cpa.estimate, "r": runner.cpa.estimate})
        out.append(
            f"{d.variant}'s cost per acquisition ({shown['b']}) is higher than runner-up "
            f"{runner.name}'s ({shown['r']})."
        )
    return out
