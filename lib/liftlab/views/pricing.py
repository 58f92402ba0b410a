"""The pricing section of the report: :class:`~liftlab.kinds.pricing.PricingSection` → views.

:func:`views` shows a summary in words, a per-arm table, the demand curve and the revenue
(and profit) per visitor curve with its optimum, drawn from aggregates only (the section's
statistics: :mod:`liftlab.kinds.pricing` and :mod:`liftlab.stats.pricing`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import altair as alt
import pandas as pd

from liftlab import format as fmt
from liftlab import theme
from liftlab.decision import display_of
from liftlab.present import cap_name, md_text
from liftlab.views import KIND_ANCHOR, unbroken

if TYPE_CHECKING:
    from liftlab.analysis import Results
    from liftlab.kinds.pricing import PricingSection
    from liftlab.plan import Metric
    from liftlab.stats.pricing import (
        Decomposition,
        Estimate,
        Lift,
        OptimalPrice,
        PricingResult,
    )

SERIES = {"revenue": "revenue per visitor", "profit": "profit per visitor"}
_SERIES_COLOURS = alt.Scale(domain=list(SERIES.values()), range=["#4c78a8", "#54a24b"])
_FIT_COLOUR = "#444"


# ---- text ----------------------------------------------------------------------------------------
_LIFT = fmt.Display("lift", "percent")
_ELASTICITY = fmt.Display("elasticity")


def _price(x: float) -> str:
    """A price as a chart label: ``24``, ``27.12`` (the text uses :func:`_money_text`)."""
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def money_display(results: Results, metric: str) -> fmt.Display:
    """The display of ``metric`` (its label and decimals) in the plan's currency: prices, order
    value, revenue and profit are amounts of money whatever the metric's own format."""
    return replace(
        display_of(results.plan, metric), format="currency", currency=results.plan.currency
    )


def _money_text(x: float | None, currency: str | None) -> str:
    """A price or amount in the plan's currency with cents: ``€24.00``, ``€27.12``."""
    return fmt.money(x, currency, 2)


def _range(lo: float, hi: float, currency: str | None) -> str:
    return f"{_money_text(lo, currency)}–{_money_text(hi, currency)}"


def _decimals(display: fmt.Display, estimates: list[Estimate | None]) -> int:
    """One number of decimals for a column (its interval ends too): distinct estimates print
    distinctly (:func:`liftlab.format.value_decimals`)."""
    return fmt.value_decimals(display, [e.estimate for e in estimates if e is not None])


def _spread(display: fmt.Display, e: Estimate | None, decimals: int) -> bool:
    """Whether ``e``'s interval shows as one: its ends print differently from the estimate
    (an interval of no width, or of rounding noise in the sums, is none)."""
    if e is None or e.ci is None:
        return False
    shown = {fmt.value(display, x, decimals) for x in (e.estimate, *e.ci)}
    return len(shown) > 1


def _est(display: fmt.Display, e: Estimate | None, decimals: int) -> str:
    """``estimate [lo, hi]`` of an :class:`~liftlab.stats.pricing.Estimate` in ``display``."""
    if e is None:
        return fmt.DASH
    if not _spread(display, e, decimals):  # no sampling variance: the estimate alone
        return fmt.value(display, e.estimate, decimals)
    assert e.ci is not None
    return fmt.value_interval(display, e.estimate, *e.ci, decimals=decimals)


def _lift(x: Lift) -> str:
    return fmt.effect_text(_LIFT, x.estimate, x.ci, "relative")


def _optimum_line(
    o: OptimalPrice, what: str, level: str, money: fmt.Display, note: str = ""
) -> str:
    """The optimum of ``what`` (revenue or profit) per visitor in words, edge or not."""
    lo, hi = o.price_range
    cur = money.currency
    tested = _range(lo, hi, cur)
    text = (
        f"**{what.capitalize()} per visitor{note} is highest at a price of "
        f"{_money_text(o.price, cur)}** ({level} CI {_range(o.ci[0], o.ci[1], cur)} from "
        f"{o.draws:,} simulated refits of the curve [parametric bootstrap]) within the tested "
        f"range {tested}; the fitted curve gives {fmt.value(money, o.value)} per visitor there."
    )
    if o.at_edge:
        side = "top" if o.price >= (lo + hi) / 2 else "bottom"
        way = "higher" if side == "top" else "lower"
        text += (
            f" ⚠ **The optimum is at the {side} edge of the tested range**: {what} still "
            f"rises towards {_money_text(o.price, cur)}, so a {way} price may do better, but it "
            f"was not tested and nothing outside {tested} is extrapolated."
        )
    else:
        text += f" It lies inside the range; nothing outside {tested} is extrapolated."
        if o.edge_fraction >= 0.05:
            text += f" {fmt.percent(o.edge_fraction, 0)} of the refits put it at an edge."
    return text


def _driver(d: Decomposition) -> str:
    """Which moved revenue per visitor in one comparison: conversion or order value."""
    conv, aov = d.conversion_lift, d.aov_lift
    head = (
        f"{md_text(d.variant)} vs {md_text(d.control)}: revenue per visitor "
        f"{_lift(d.rpv_lift)} ({fmt.p_clause(d.rpv_lift.p_value, 'unadjusted p')})"
    )
    if conv.log_ratio is None or aov.log_ratio is None:
        return head + "; the split is undefined without buyers in both arms."
    c_txt = f"conversion {_lift(conv)}"
    a_txt = f"order value {_lift(aov)}"
    if (conv.log_ratio >= 0) != (aov.log_ratio >= 0):
        big, small = (c_txt, a_txt) if abs(conv.log_ratio) > abs(aov.log_ratio) else (a_txt, c_txt)
        return f"{head}: {big} outweighed {small}."
    main = "conversion" if abs(conv.log_ratio) > abs(aov.log_ratio) else "order value"
    way = "rose" if conv.log_ratio >= 0 else "fell"
    return f"{head}: both {way}, mostly {main} ({c_txt}, {a_txt})."


def _caps(section: PricingSection, results: Results, money: fmt.Display) -> str:
    """`` (capped as analysed: revenue_per_visitor ≤ €480.00)`` or nothing."""
    if not section.revenue_caps:
        return ""
    rev = _metric(results, section.revenue)
    caps = ", ".join(
        f"{cap_name(rev, col)} ≤ {fmt.value(money, v)}" for col, v in section.revenue_caps.items()
    )
    return f" (capped as analysed: {caps})"


def summary_markdown(section: PricingSection, results: Results) -> str:
    """The section heading and its findings in plain words (Markdown)."""
    r = section.result
    level, d = fmt.level(r.alpha), r.demand
    cur = results.plan.currency
    money = money_display(results, section.revenue)
    conversion = display_of(results.plan, section.conversion)
    lines = [
        KIND_ANCHOR,
        "",
        "## Pricing",
        "",
        f"*Metrics: {md_text(conversion.label)} (conversion) and {md_text(money.label)} "
        f"(revenue){_caps(section, results, money)}; order value = revenue / buyers. Demand curve: conversion as a smooth function of price, fitted to the "
        f"{len(d.prices)} tested prices ({d.link}-link binomial GLM); the best price is searched "
        f"within the tested range {_range(*d.price_range, cur)} only. {level} intervals; the "
        "p-values here are per comparison, not adjusted: the verdict rests on the metrics' "
        "headlines above.*",
        "",
        "- " + _optimum_line(r.optimal_price, "revenue", level, money),
    ]
    if r.optimal_profit_price is not None:
        note = f" (unit cost {_money_text(r.unit_cost or 0.0, cur)})"
        lines.append("- " + _optimum_line(r.optimal_profit_price, "profit", level, money, note))
    best = max(r.arms, key=lambda a: a.rpv.estimate)
    digits = _decimals(money, [a.rpv for a in r.arms])
    lines.append(
        f"- As tested, **{md_text(best.name)}** (price {_money_text(best.price, cur)}) has the "
        f"highest observed revenue per visitor, {_est(money, best.rpv, digits)} (chance it is "
        f"the highest: {fmt.mc_probability(r.prob_best_rpv.get(best.name))})."
    )
    lines += [f"- {_driver(x)}" for x in r.decomposition]
    elast = "; ".join(
        f"{fmt.effect_text(_ELASTICITY, e.estimate, e.ci, 'absolute')} at "
        f"{_money_text(e.price, cur)}"
        for e in r.elasticity
    )
    lines.append(
        f"- Price elasticity of conversion (% change in conversion for a 1% higher price): "
        f"{elast}. Where it is above -1 a price rise lifts revenue per visitor; below -1 it "
        "lowers it."
    )
    lines += _fit_lines(r)
    return "\n".join(lines) + "\n"


def _fit_lines(r: PricingResult) -> list[str]:
    """The trend of conversion with price and how well the demand curve fits, in words."""
    t, d = r.trend, r.demand
    test = f"trend test [Cochran–Armitage]: z = {fmt.number(t.z, 2, sign=True)}, "
    test += fmt.p_clause(t.p_value)
    if t.p_value < r.alpha:
        trend = "falls" if t.z < 0 else "rises"
        lines = [f"- Conversion {trend} as the price rises ({test})."]
    else:
        lines = [f"- No clear trend of conversion with price ({test}; not significant)."]
    gof = d.gof()
    if gof["df"] > 0:
        p = gof["pearson_p_value"]
        chi2 = f"Pearson χ² = {fmt.number(d.pearson_chi2, 2)} on {gof['df']} df, "
        chi2 += fmt.p_clause(p)
        if p is not None and p < r.alpha:
            lines.append(
                f"- The demand curve fits the arms' conversion poorly: read it with care "
                f"(goodness of fit: {chi2})."
            )
        else:
            lines.append(
                f"- The demand curve is consistent with the arms' observed conversion "
                f"(goodness of fit: {chi2})."
            )
    return lines


def arms_markdown(section: PricingSection, results: Results) -> str:
    """One row per arm: price, visitors, buyers, conversion, order value, revenue and profit
    per visitor with their intervals, chance of the highest RPV and the elasticity there.

    Order value has an interval only when it varies among a variant's buyers; when every
    buyer of every variant paid the same amount the column is named without one and a note
    says why.
    """
    r = section.result
    level, cur = fmt.level(r.alpha), results.plan.currency
    elast = {e.price: e for e in r.elasticity}
    money = money_display(results, section.revenue)
    conversion = display_of(results.plan, section.conversion)
    conv_d = _decimals(conversion, [a.conversion for a in r.arms])
    aov_d = _decimals(money, [a.aov for a in r.arms])
    rpv_d = _decimals(money, [a.rpv for a in r.arms])
    profit_d = _decimals(money, [a.profit for a in r.arms])
    profit = r.unit_cost is not None
    aov_ci = any(_spread(money, a.aov, aov_d) for a in r.arms)
    head = ["variant", "price", "visitors", "buyers", f"conversion ({level} CI)"]
    head += [f"order value ({level} CI)" if aov_ci else "order value"]
    head += [f"revenue / visitor ({level} CI)"]
    head += [f"profit / visitor ({level} CI)"] if profit else []
    head += ["chance highest revenue / visitor", f"elasticity ({level} CI)"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for a in r.arms:
        e = elast.get(a.price)
        name = md_text(a.name) + ("\u00a0(control)" if a.name == r.control else "")
        cells = [name, _money_text(a.price, cur), fmt.count(a.n), fmt.count(a.buyers)]
        cells += [_est(conversion, a.conversion, conv_d), _est(money, a.aov, aov_d)]
        cells += [_est(money, a.rpv, rpv_d)]
        cells += [_est(money, a.profit, profit_d)] if profit else []
        cells += [fmt.mc_probability(r.prob_best_rpv.get(a.name))]
        cells += [
            fmt.effect_text(_ELASTICITY, e.estimate, e.ci, "absolute")
            if e is not None
            else fmt.DASH
        ]
        lines.append("| " + " | ".join([name, *map(unbroken, cells[1:])]) + " |")
    if not aov_ci:
        lines += [
            "",
            "*Order value has no interval: every buyer of a variant spent the same amount, so "
            "it does not vary by chance.*",
        ]
    return "\n".join(lines) + "\n"


# ---- charts --------------------------------------------------------------------------------------
def arms_frame(section: PricingSection) -> pd.DataFrame:
    """Per arm: price, conversion, revenue and profit per visitor with their interval ends."""
    rows = []
    for a in section.result.arms:
        row: dict[str, Any] = {"variant": a.name, "price": a.price, "n": a.n, "buyers": a.buyers}
        for key, e in (("conversion", a.conversion), ("rpv", a.rpv), ("profit", a.profit)):
            ci = e.ci if e is not None and e.ci is not None else (math.nan, math.nan)
            row[key] = e.estimate if e is not None else math.nan
            row[f"{key}_low"], row[f"{key}_high"] = ci
        rows.append(row)
    return pd.DataFrame(rows)


def demand_frame(section: PricingSection) -> pd.DataFrame:
    """The fitted conversion over the tested range with its band (``PricingResult.curve``)."""
    return pd.DataFrame(section.result.curve, columns=["price", "conversion", "ci_low", "ci_high"])


def value_frame(section: PricingSection) -> pd.DataFrame:
    """Revenue (and profit) per visitor under the model, ``(p − k)·q(p)`` with its band."""
    r, rows = section.result, []
    costs = {"revenue": 0.0} | ({"profit": r.unit_cost} if r.unit_cost is not None else {})
    for key, k in costs.items():
        for p, q, lo, hi in r.curve:
            a, b = sorted(((p - k) * lo, (p - k) * hi))
            rows.append(
                {"series": SERIES[key], "price": p, "value": (p - k) * q, "low": a, "high": b}
            )
    return pd.DataFrame(rows)


def observed_frame(section: PricingSection) -> pd.DataFrame:
    """Each arm's observed revenue (and profit) per visitor with its interval, long form."""
    arms, keys = arms_frame(section), {"revenue": "rpv", "profit": "profit"}
    parts = [
        arms.assign(series=SERIES[key], value=arms[c], low=arms[f"{c}_low"], high=arms[f"{c}_high"])
        for key, c in keys.items()
        if key == "revenue" or section.result.unit_cost is not None
    ]
    return pd.concat(parts)[["variant", "series", "price", "value", "low", "high"]]


def optimum_frame(section: PricingSection) -> pd.DataFrame:
    """The optimal price of each objective with its bootstrap interval and a label."""
    r = section.result
    opts = [("revenue", r.optimal_price), ("profit", r.optimal_profit_price)]
    rows = []
    for i, (key, o) in enumerate((k, o) for k, o in opts if o is not None):
        label = f"{key} optimum {_price(o.price)}"
        row = {"series": SERIES[key], "price": o.price, "low": o.ci[0], "high": o.ci[1]}
        right = o.price > sum(o.price_range) / 2
        rows.append(row | {"value": o.value, "label": label, "label_y": 4 + 14 * i, "right": right})
    return pd.DataFrame(rows)


def _money_title(what: str, results: Results) -> str:
    """An axis title with the plan's currency: ``price (EUR)``; plain without one."""
    currency = results.plan.currency
    return f"{what} ({currency})" if currency else what


def _price_scale(section: PricingSection) -> alt.Scale:
    lo, hi = section.result.demand.price_range
    pad = 0.06 * (hi - lo) if hi > lo else 1.0
    return alt.Scale(domain=[lo - pad, hi + pad], nice=False)


def _tips(level: str, fmt: str, value: str, *first: str) -> list[alt.Tooltip]:
    """Tooltips: ``first`` fields, then ``value`` and its interval ends ``low``, ``high``."""
    return [
        *(alt.Tooltip(f) for f in first),
        alt.Tooltip(f"{value}:Q", format=fmt),
        alt.Tooltip("low:Q", title=f"{level} CI low", format=fmt),
        alt.Tooltip("high:Q", title=f"{level} CI high", format=fmt),
    ]


def demand_chart(section: PricingSection, results: Results) -> alt.LayerChart:
    """Fitted conversion against price with its band, and each arm's conversion with its CI."""
    r, level = section.result, theme.level(section.result.alpha)
    x = alt.X("price:Q", title=_money_title("price", results), scale=_price_scale(section))
    y = alt.Axis(format=".1%", title="conversion")
    curve = alt.Chart(demand_frame(section)).encode(x=x)
    band = curve.mark_area(opacity=0.18, color=_FIT_COLOUR).encode(
        y=alt.Y("ci_low:Q", axis=y, scale=alt.Scale(zero=False)), y2=alt.Y2("ci_high:Q")
    )
    line = curve.mark_line(color=_FIT_COLOUR, strokeWidth=2).encode(y=alt.Y("conversion:Q", axis=y))
    arms = arms_frame(section).rename(columns={"conversion_low": "low", "conversion_high": "high"})
    legend = alt.Legend(orient="right", symbolOpacity=1)
    colour = alt.Color(
        "variant:N",
        scale=theme.variant_colours(list(results.plan.variants)),
        title=None,
        legend=legend,
    )
    tips = _tips(level, ".2%", "conversion", "variant:N", "price:Q", "n:Q", "buyers:Q")
    base = alt.Chart(arms).encode(x=x, color=colour, tooltip=tips)
    ci = base.mark_rule(strokeWidth=2).encode(y=alt.Y("low:Q", axis=y), y2=alt.Y2("high:Q"))
    point = base.mark_point(filled=True, size=80, opacity=1).encode(y=alt.Y("conversion:Q", axis=y))
    sub = (
        f"line: fitted {r.demand.link} demand curve with its {level} band; points: each arm's "
        f"observed conversion with its {level} CI"
    )
    chart = alt.layer(band, line, ci, point).properties(
        width=theme.WIDTH,
        height=theme.SMALL_HEIGHT + 60,
        title=theme.metric_title(_metric(results, section.conversion), "demand curve", sub),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def value_chart(section: PricingSection, results: Results) -> alt.LayerChart:
    """Revenue (and profit) per visitor under the model with its band, the arms' observed
    values with their CIs, and each optimum as a dashed rule over its shaded bootstrap CI."""
    r, level = section.result, theme.level(section.result.alpha)
    scale = _price_scale(section)
    x = alt.X("price:Q", title=_money_title("price", results), scale=scale)
    y = alt.Axis(title=_money_title("per visitor", results), format="~g")
    legend = alt.Legend(orient="right", symbolOpacity=1)
    colour = alt.Color("series:N", scale=_SERIES_COLOURS, title=None, legend=legend)
    curve = alt.Chart(value_frame(section)).encode(x=x, color=colour)
    band = curve.mark_area(opacity=0.15).encode(
        y=alt.Y("low:Q", axis=y, scale=alt.Scale(zero=False)), y2=alt.Y2("high:Q")
    )
    line = curve.mark_line(strokeWidth=2).encode(y=alt.Y("value:Q", axis=y))
    tips = _tips(level, ",.4~g", "value", "variant:N", "series:N", "price:Q")
    points = alt.Chart(observed_frame(section)).encode(x=x, color=colour, tooltip=tips)
    ci = points.mark_rule(strokeWidth=2).encode(y=alt.Y("low:Q", axis=y), y2=alt.Y2("high:Q"))
    dots = points.mark_point(filled=True, size=70, opacity=1).encode(y=alt.Y("value:Q", axis=y))
    opt = alt.Chart(optimum_frame(section)).encode(color=colour)
    shade = opt.mark_rect(opacity=0.1).encode(x=alt.X("low:Q", scale=scale), x2=alt.X2("high:Q"))
    rule = opt.mark_rule(strokeDash=[5, 3], strokeWidth=2).encode(
        x=alt.X("price:Q", scale=scale), tooltip=_tips(level, ",.2f", "price", "label:N")
    )
    labels = [  # beside the rule, on the side with room
        opt.transform_filter(f"datum.right == {side}")
        .mark_text(align="right" if side else "left", baseline="top", dx=-4 if side else 4)
        .encode(
            x=alt.X("price:Q", scale=scale),
            y=alt.Y("label_y:Q", scale=None),
            text=alt.Text("label:N"),
        )
        for side in ("true", "false")
    ]
    what = "revenue and profit" if r.unit_cost is not None else "revenue"
    sub = (
        f"lines: fitted, {level} band; points: observed per arm, {level} CI; dashed: the "
        f"optimum within the tested range, shaded: its {level} CI"
    )
    chart = alt.layer(shade, band, line, ci, dots, rule, *labels).properties(
        width=theme.WIDTH,
        height=theme.SMALL_HEIGHT + 80,
        title=theme.metric_title(
            _metric(results, section.revenue), f"{what} per visitor by price", sub
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _metric(results: Results, name: str) -> Metric:
    return next(m for m in results.plan.metrics if m.name == name)


def views(section: PricingSection, results: Results) -> list[Any]:
    """The summary, the per-arm table, the demand curve and the revenue/profit curve."""
    from IPython.display import Markdown

    return [
        Markdown(summary_markdown(section, results)),
        Markdown(arms_markdown(section, results)),
        demand_chart(section, results),
        value_chart(section, results),
    ]
