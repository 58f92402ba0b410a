"""The creative tournament's section of the report: :class:`~liftlab.kinds.creative.CreativeSection` → views.

:func:`views` shows the plain-language summary, the ranking table, volumes (with the CTR
trend), money (spend, CPA, CPC, ROAS) and groups when there are any, then the raw and shrunk
lifts, next period's budget split and the fatigue curves. Each table and chart lists the
``creative.show`` best-ranked creatives (and control) and sums the rest in one row. The
statistics and their conventions: :mod:`liftlab.kinds.creative` and :mod:`liftlab.stats.creative`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import altair as alt
import pandas as pd

from liftlab import format as fmt
from liftlab import theme
from liftlab.decision import display_of
from liftlab.present import CORRECTION_NAMES, md_text
from liftlab.stats.creative import (
    CreativeArm,
    cpa_interval,
    cpc_interval,
    rate_interval,
    roas_interval,
)
from liftlab.views import KIND_ANCHOR, unbroken

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from liftlab.analysis import Results
    from liftlab.kinds.creative import CreativeSection
    from liftlab.plan import Plan
    from liftlab.stats.creative import ArmResult, Interval

RAW, SHRUNK = "raw", "shrunk"
DOT_SHARE = 0.01  # the fatigue chart draws a day's CTR when it holds this share of impressions


# ---- text --------------------------------------------------------------------------------------
_LIFT = fmt.Display("lift", "percent")


def rate_display(results: Results, metric: str | None, label: str) -> fmt.Display:
    """A rate of the tournament (CTR, conversion) in percent, with the metric's label and
    decimals when it is a metric of the plan."""
    if metric is None:
        return fmt.Display(label, "percent")
    return replace(display_of(results.plan, metric), format="percent", currency=None)


def _lift(x: float | None, ci: tuple[float, float] | None = None) -> str:
    """A relative change, with its interval when given: ``+11.8% [+2.8%, +21.6%]``."""
    return fmt.effect_text(_LIFT, x, ci, "relative")


def _with_ci(display: fmt.Display, est: float, ci: tuple[float, float], decimals: int) -> str:
    """A value with its interval, or alone when the interval is undefined."""
    return fmt.value_interval(display, est, *ci, decimals=decimals)


def _names(names: list[str]) -> str:
    return ", ".join(f"**{md_text(n)}**" for n in names)


def adjustment_text(correction: str, comparisons: int, what: str = "challengers") -> str:
    """How the p-values were adjusted, in words: ``adjusted for testing 4 challengers at once
    [Benjamini–Hochberg]``; ``no adjustment needed (one challenger)`` for a single one."""
    if comparisons <= 1:
        return f"no adjustment needed (one {what.removesuffix('s')})"
    if correction == "none":
        return f"not adjusted for testing {comparisons} {what} at once"
    name = CORRECTION_NAMES.get(correction, correction)
    return f"adjusted for testing {comparisons} {what} at once [{name}]"


def _first(names: list[str], limit: int) -> str:
    """Bold names, the first ``limit`` of them and how many more."""
    more = len(names) - limit
    return _names(names[:limit]) + (f" and {fmt.count(more)} more" if more > 0 else "")


def _shrinkage_line(section: CreativeSection, best: ArmResult) -> str | None:
    r = section.result
    s, raw, k = r.shrinkage, best.lift, best.shrunk_lift
    if raw is None or k is None:
        return None
    line = (
        f"- Largest lift: **{md_text(best.name)}**, raw {_lift(raw.estimate, raw.ci)}, "
        f"shrunk {_lift(k.estimate, k.ci)}."
    )
    if s.method == "none":
        return line + " With fewer than three challengers the lifts are not shrunk."
    moved = fmt.number(100 * abs(raw.estimate - k.estimate), 1)
    return line + (
        " The top creative of a tournament got there partly by luck, so its raw lift "
        "tends to overstate the truth (the winner's curse); the shrunk lift moves each "
        f"raw lift toward the challengers' mean ({_lift(s.mu)}), the more so the larger "
        "its noise against the spread between creatives (τ = "
        f"{fmt.percent(math.sqrt(s.tau2), 1)}). Here it moves {moved} percentage points."
    )


def _ranking_line(section: CreativeSection, ctr: fmt.Display, digits: int) -> str:
    """How the creatives are ranked, the top ``top_k`` and the Monte Carlo error."""
    r = section.result
    top = r.ranked[: r.top_k]
    chances = ", ".join(f"**{md_text(a.name)}** {fmt.mc_probability(a.prob_top_k)}" for a in top)
    c = r.campaign
    if c is not None and c.method != "none":
        basis = (
            f"on CTR shrunk toward the campaign's mean ({fmt.value(ctr, c.mu, digits)}; "
            f"spread between creatives τ = {fmt.value(ctr, math.sqrt(c.tau2), digits)}), "
            "which keeps small, lucky creatives from the top"
        )
    else:
        basis = "on each creative's own CTR"
    error = fmt.number(100 * 0.5 / math.sqrt(r.draws), 1)
    return (
        f"- Ranked {basis}. Chance of being in the top {r.top_k}: {chances} "
        f"(chances from {fmt.count(r.draws)} draws, Monte Carlo error at most ±{error} pp)."
    )


def _floor_text(floor: float) -> str:
    """The budget floor as a percentage with one significant digit (``1%``, ``0.02%``)."""
    return fmt.percent(floor, fmt.decimals_for([100 * floor], sig=1))


def _budget_line(section: CreativeSection) -> str:
    r = section.result
    al = r.allocation
    sim = al.simulation
    order = sorted(al.weights.items(), key=lambda kv: -kv[1])
    head = order
    if len(order) > section.show:  # the creatives above the floor, at most `show`
        above = [kv for kv in order[: section.show] if kv[1] > al.floor * (1 + 1e-9)]
        head = above or order[:1]
    tail = order[len(head) :]
    digits = fmt.decimals_for([100 * w for _, w in head], sig=1)
    split = ", ".join(f"{md_text(n)} {fmt.percent(w, digits)}" for n, w in head)
    if tail:
        rest = sum(w for _, w in tail)
        split += f", the other {fmt.count(len(tail))} {fmt.percent(rest, digits)} together"
    gain = sim.thompson.expected - sim.equal.expected
    rel = gain / sim.equal.expected if sim.equal.expected > 0 else math.nan
    return (
        f"- Next period's budget (each creative in proportion to its chance of being best "
        f"[Thompson sampling on CTR], at least {_floor_text(al.floor)} each): {split}. Over "
        f"{fmt.count(sim.n_next)} impressions that is an expected "
        f"{fmt.count(sim.thompson.expected)} clicks against {fmt.count(sim.equal.expected)} for "
        f"an equal split: {fmt.number(gain, 0, sign=True)} clicks ({_lift(rel)})."
    )


def _fatigue_line(section: CreativeSection) -> str | None:
    r = section.result
    if not r.fatigue:
        return None
    flags = section.declining
    tired = [f for f in r.fatigue if flags[f.creative][1]]
    if not tired:
        return f"- No creative's CTR declines significantly with days since {section.since}."
    adjusted = adjustment_text(r.correction, len(r.fatigue), "creatives")
    tired.sort(key=lambda f: flags[f.creative][0])
    what = "; ".join(
        f"**{md_text(f.creative)}** {_lift(math.exp(f.slope) - 1)} per day (odds of "
        f"a click; {fmt.p_clause(flags[f.creative][0], 'one-sided p')} {adjusted})"
        for f in tired[: section.show]
    )
    more = len(tired) - section.show
    what += f"; and {fmt.count(more)} more" if more > 0 else ""
    return f"- CTR declines with days since {section.since} for {what}."


def _design(plan: Plan) -> str:
    """How the creatives were assigned, in words."""
    if plan.randomization == "none":
        return "not randomised: the platform's delivery chose who saw each ad"
    if plan.randomization == "impression":
        return "impressions randomised"
    return "exports' rows as clusters" if plan.data.on_aggregates else "users randomised"


def summary_markdown(section: CreativeSection, results: Results) -> str:
    """The heading and the plain-language findings, in the order a media buyer asks them."""
    r = section.result
    ctrl, level = md_text(r.control), fmt.level(r.alpha)
    ctr = rate_display(results, section.ctr_metric, "CTR")
    ctr_d = _decimals(ctr, section, lambda x: x.ctr.estimate)
    lead = max(r.arms, key=lambda x: x.prob_best)
    ch = [x for x in r.ranked if x.lift is not None]
    up = [x.name for x in ch if x.lift and x.lift.significant and x.lift.estimate > 0]
    down = [x.name for x in ch if x.lift and x.lift.significant and x.lift.estimate < 0]
    n = section.show
    lines = [
        KIND_ANCHOR,
        "",
        "## Creative tournament",
        "",
        f"{fmt.count(len(r.arms))} creatives on **{md_text(ctr.label)}** (clicks per "
        f"impression, {_design(results.plan)}), against **{ctrl}**; {level} intervals. These "
        "are the "
        "tournament's own tests (frequentist lifts, p-values adjusted across the creatives); "
        "the verdict rests on the metrics' headlines above.",
        "",
        f"- **{md_text(lead.name)}** leads: chance {fmt.mc_probability(lead.prob_best)} of having "
        f"the highest CTR ({_with_ci(ctr, lead.ctr.estimate, lead.ctr.ci, ctr_d)}).",
    ]
    if len(r.arms) > 2:
        lines.append(_ranking_line(section, ctr, ctr_d))
    lines.append(
        f"- {fmt.count(len(up)) if up else 'None'} of {fmt.count(len(ch))} challengers beat "
        f"{ctrl} on CTR, p-values {adjustment_text(r.correction, len(ch))}, α = {r.alpha:g}"
        + (f": {_first(up, n)}." if up else ".")
        + (f" Significantly worse: {_first(down, n)}." if down else "")
    )
    best = max(ch, key=lambda x: x.lift.estimate if x.lift else -math.inf, default=None)
    shrunk = None if best is None else _shrinkage_line(section, best)
    lines += [shrunk] if shrunk else []
    if r.groups:
        top = max(r.groups, key=lambda g: g.prob_best)
        lines.append(
            f"- {fmt.count(len(r.groups))} groups of creatives: **{md_text(top.name)}** has "
            f"the highest CTR with chance {fmt.mc_probability(top.prob_best)} "
            f"({_with_ci(ctr, top.ctr.estimate, top.ctr.ci, ctr_d)}, its "
            f"{fmt.count(len(top.creatives))} creatives summed)."
        )
    lines.append(_budget_line(section))
    fatigue = _fatigue_line(section)
    lines += [fatigue] if fatigue else []
    lines += ["", *(f"*Note: {md_text(n)}.*" for n in section.notes.values())]
    return "\n".join(lines) + "\n"


# ---- tables ------------------------------------------------------------------------------------
def _label(section: CreativeSection, name: str) -> str:
    return name + ("\u00a0(control)" if name == section.result.control else "")


def _decimals(
    display: fmt.Display, section: CreativeSection, value: Callable[[ArmResult], float | None]
) -> int:
    """Decimals for one column: distinct among the creatives listed (not all of them, which
    would take many digits to tell 600 values apart)."""
    return fmt.value_decimals(display, [value(x) for x in section.shown])


def _rest_label(section: CreativeSection) -> str:
    n = len(section.rest)
    return f"the other {fmt.count(n)} creative{'s' if n != 1 else ''}"


def creative_frame(section: CreativeSection, results: Results) -> pd.DataFrame:
    """One row per listed creative (best rank first; control too), and one for the rest:
    rank, CTR, lift (raw and shrunk), chance best and in the top k, next budget share."""
    r = section.result
    ctr = rate_display(results, section.ctr_metric, "CTR")
    ctr_d = _decimals(ctr, section, lambda x: x.ctr.estimate)
    shares = [r.allocation.weights[x.name] for x in section.shown]
    share_d = fmt.decimals_for([100 * w for w in shares], sig=2, minimum=1)
    adjusted = CORRECTION_NAMES.get(r.correction, r.correction)
    ctr_col, p_col = f"{ctr.label} ({fmt.level(r.alpha)} CI)", f"p (adjusted, {adjusted})"
    top_col = f"chance in top {r.top_k}"
    rows = []
    for x in section.shown:
        lift, shrunk = x.lift, x.shrunk_lift
        rows.append(
            {
                "creative": _label(section, x.name),
                "rank": fmt.count(x.rank),
                ctr_col: _with_ci(ctr, x.ctr.estimate, x.ctr.ci, ctr_d),
                "lift vs control": _lift(lift.estimate, lift.ci) if lift else fmt.DASH,
                p_col: fmt.p_value(lift.p_value_adjusted) if lift else fmt.DASH,
                "shrunk lift": _lift(shrunk.estimate, shrunk.ci) if shrunk else fmt.DASH,
                "chance best": fmt.mc_probability(x.prob_best),
                top_col: fmt.mc_probability(x.prob_top_k),
                "next budget": fmt.percent(r.allocation.weights[x.name], share_d),
            }
        )
    rest = section.rest
    if rest:
        names = [x.name for x in rest]
        pooled = section.pooled(names, "rest")
        rate = rate_interval(pooled.moments("ctr"), r.alpha) if pooled else None
        wins = sum(1 for x in rest if x.lift and x.lift.significant and x.lift.estimate > 0)
        rows.append(
            {
                "creative": _rest_label(section) + " (summed)",
                "rank": f"{fmt.count(rest[0].rank)}–{fmt.count(rest[-1].rank)}",
                ctr_col: _with_ci(ctr, rate.estimate, rate.ci, ctr_d) if rate else fmt.DASH,
                "lift vs control": fmt.DASH,
                p_col: f"{fmt.count(wins)} significantly higher",
                "shrunk lift": fmt.DASH,
                "chance best": fmt.mc_probability(sum(x.prob_best for x in rest)),
                top_col: fmt.DASH,
                "next budget": fmt.percent(sum(r.allocation.weights[n] for n in names), share_d),
            }
        )
    return _unbroken(pd.DataFrame(rows))


def _volume_row(
    section: CreativeSection, results: Results, x: ArmResult | CreativeArm, label: str
) -> dict[str, Any]:
    """Volumes and conversion of one creative (or a summed arm)."""
    r = section.result
    conv = rate_display(results, section.conversion_metric, "conversion")
    cvr_d = _decimals(conv, section, lambda a: a.cvr.estimate)
    cvr_i_d = _decimals(conv, section, lambda a: a.cvr_impression.estimate)
    if isinstance(x, CreativeArm):  # a summed arm: its rates from the sums
        cvr = rate_interval(x.moments("cvr"), r.alpha).estimate
        cvr_i = rate_interval(x.moments("cvr_impression"), r.alpha).estimate
    else:
        cvr, cvr_i = x.cvr.estimate, x.cvr_impression.estimate
    row: dict[str, Any] = {
        "creative": label,
        section.units: fmt.count(x.users),
        "impressions": fmt.count(x.impressions),
        "clicks": fmt.count(x.clicks),
    }
    if section.conversion_metric:
        row["conversions"] = fmt.count(x.conversions)
        row["conversions per click"] = fmt.value(conv, cvr, cvr_d)
        row["conversions per impression"] = fmt.value(conv, cvr_i, cvr_i_d)
    return row


def _money_row(
    section: CreativeSection, results: Results, x: ArmResult | CreativeArm, label: str
) -> dict[str, Any]:
    """Spend, conversion value, CPA, CPC and ROAS of one creative (or a summed arm)."""
    r = section.result
    money, currency = _cpa_display(results), results.plan.currency
    if isinstance(x, CreativeArm):  # a summed arm: its money from the sums
        cost = {"CPA": cpa_interval(x, r.alpha), "CPC": cpc_interval(x, r.alpha)}
        roas = roas_interval(x, r.alpha)
        spend, value = (
            (x.money.spend, x.money.value) if x.money is not None else (x.spend, x.revenue)
        )
    else:
        cost, roas, spend, value = {"CPA": x.cpa, "CPC": x.cpc}, x.roas, x.spend, x.value
    row: dict[str, Any] = {"creative": label}
    row["spend"] = fmt.money(spend, currency, 0) if spend is not None else fmt.DASH
    if any(a.value is not None for a in r.arms):
        row["conversion value"] = fmt.money(value, currency, 0) if value is not None else fmt.DASH
    for name, iv in cost.items():
        key = name.lower()
        if any(getattr(a, key) for a in r.arms):
            d = fmt.value_decimals(money, [_estimate(getattr(a, key)) for a in section.shown])
            row[name] = _with_ci(money, iv.estimate, iv.ci, d) if iv else fmt.DASH
    if any(a.roas for a in r.arms):
        roas_d = _decimals(_ROAS, section, lambda a: _estimate(a.roas))
        row["ROAS"] = _with_ci(_ROAS, roas.estimate, roas.ci, roas_d) if roas else fmt.DASH
    return row


def money_frame(section: CreativeSection, results: Results) -> pd.DataFrame:
    """One row per listed creative (best rank first; control too) and one for the rest,
    summed: spend, conversion value, CPA and CPC (in the plan's currency) and ROAS; empty
    when no creative has a spend (an export's, or a typed ``spend:``)."""
    if all(a.spend is None for a in section.result.arms):
        return pd.DataFrame()
    rows = [_money_row(section, results, x, _label(section, x.name)) for x in section.shown]
    pooled = section.pooled([x.name for x in section.rest], "rest")
    if pooled is not None:
        rows.append(_money_row(section, results, pooled, _rest_label(section) + " (summed)"))
    return _unbroken(pd.DataFrame(rows))


def _estimate(iv: Interval | None) -> float | None:
    return iv.estimate if iv is not None else None


def _cpa_display(results: Results) -> fmt.Display:
    return fmt.Display("cost per acquisition", "currency", currency=results.plan.currency)


_ROAS = fmt.Display("return on ad spend")


def volume_frame(section: CreativeSection, results: Results) -> pd.DataFrame:
    """One row per listed creative (best rank first; control too) and one for the rest,
    summed: volumes, conversion and the CTR trend (money: :func:`money_frame`)."""
    r = section.result
    fits = {f.creative: f for f in r.fatigue or ()}
    rows = []
    for x in section.shown:
        row = _volume_row(section, results, x, _label(section, x.name))
        if fits:
            f = fits.get(x.name)
            row["CTR trend per day"] = (
                _lift(math.exp(f.slope) - 1, (math.exp(f.ci[0]) - 1, math.exp(f.ci[1]) - 1))
                if f
                else fmt.DASH
            )
        rows.append(row)
    pooled = section.pooled([x.name for x in section.rest], "rest")
    if pooled is not None:
        row = _volume_row(section, results, pooled, _rest_label(section) + " (summed)")
        if fits:
            row["CTR trend per day"] = fmt.DASH
        rows.append(row)
    return _unbroken(pd.DataFrame(rows))


def _group_money(
    results: Results, spend: float | None, cpa: Interval | None, roas: Interval | None
) -> dict[str, str]:
    """A group's spend, CPA and ROAS cells (none without spend)."""
    if spend is None:
        return {}
    money, currency = _cpa_display(results), results.plan.currency
    out = {"spend": fmt.money(spend, currency, 0)}
    if cpa is not None:
        out["CPA"] = _with_ci(money, cpa.estimate, cpa.ci, 2)
    if roas is not None:
        out["ROAS"] = _with_ci(_ROAS, roas.estimate, roas.ci, 2)
    return out


def group_frame(section: CreativeSection, results: Results) -> pd.DataFrame:
    """One row per group of creatives (summed; the ``show`` groups with the highest CTR,
    the others summed in one row): creatives, volumes, CTR, chance best, and spend, CPA
    and ROAS when there is spend."""
    r = section.result
    ctr = rate_display(results, section.ctr_metric, "CTR")
    ctr_d = fmt.value_decimals(ctr, [g.ctr.estimate for g in r.groups or ()])
    ctr_col = f"{ctr.label} ({fmt.level(r.alpha)} CI)"
    ranked = sorted(r.groups or (), key=lambda g: -g.ctr.estimate)
    rows = [
        {
            "group": g.name,
            "creatives": fmt.count(len(g.creatives)),
            section.units: fmt.count(g.users),
            "impressions": fmt.count(g.impressions),
            "clicks": fmt.count(g.clicks),
            ctr_col: _with_ci(ctr, g.ctr.estimate, g.ctr.ci, ctr_d),
            "chance best group": fmt.mc_probability(g.prob_best),
            **_group_money(results, g.spend, g.cpa, g.roas),
        }
        for g in ranked[: section.show]
    ]
    rest = ranked[section.show :]
    pooled = section.pooled([n for g in rest for n in g.creatives], "rest")
    if pooled is not None:
        rate = rate_interval(pooled.moments("ctr"), r.alpha)
        rows.append(
            {
                "group": f"the other {fmt.count(len(rest))} groups (summed)",
                "creatives": fmt.count(sum(len(g.creatives) for g in rest)),
                section.units: fmt.count(pooled.users),
                "impressions": fmt.count(pooled.impressions),
                "clicks": fmt.count(pooled.clicks),
                ctr_col: _with_ci(ctr, rate.estimate, rate.ci, ctr_d),
                "chance best group": fmt.mc_probability(sum(g.prob_best for g in rest)),
                **_group_money(
                    results,
                    pooled.money.spend if pooled.money is not None else pooled.spend,
                    cpa_interval(pooled, r.alpha),
                    roas_interval(pooled, r.alpha),
                ),
            }
        )
    frame = pd.DataFrame(rows)
    numbers = [c for c in frame.columns if c != "group"]
    frame[numbers] = frame[numbers].map(unbroken)
    return frame


def _unbroken(frame: pd.DataFrame) -> pd.DataFrame:
    """Every number cell kept whole on its line (:func:`liftlab.views.unbroken`)."""
    numbers = [c for c in frame.columns if c != "creative"]
    frame[numbers] = frame[numbers].map(unbroken)
    return frame


def styled(frame: pd.DataFrame, uuid: str, first: str = "creative") -> Styler:
    """A frame styled like the metric tables (values HTML-escaped; ``first``, the name
    column, on the left)."""
    styler = frame.style.format(escape="html").hide(axis="index").set_uuid(uuid)
    styler = styler.set_properties(**{"text-align": "right", "padding": "4px 10px"})
    styler = styler.set_properties(subset=[first], **{"text-align": "left"})
    return styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: right; padding: 4px 10px;"},
            {"selector": "th.col0", "props": "text-align: left;"},
            {"selector": "", "props": "border-collapse: collapse; margin: 6px 0 10px 0;"},
        ]
    )


# ---- charts ------------------------------------------------------------------------------------
def lift_frame(section: CreativeSection) -> pd.DataFrame:
    """Per listed challenger (best rank first), its raw and its shrunk CTR lift with their
    intervals (two rows)."""
    rows = []
    for x in section.shown:
        if x.lift is None or x.shrunk_lift is None:
            continue
        for kind, est, ci in (
            (RAW, x.lift.estimate, x.lift.ci),
            (SHRUNK, x.shrunk_lift.estimate, x.shrunk_lift.ci),
        ):
            rows.append(
                {
                    "creative": x.name,
                    "estimate": kind,
                    "lift": theme.finite(est),
                    "ci_low": theme.finite(ci[0]),
                    "ci_high": theme.finite(ci[1]),
                }
            )
    return pd.DataFrame(rows, columns=["creative", "estimate", "lift", "ci_low", "ci_high"])


def lift_chart(section: CreativeSection) -> alt.LayerChart:
    """Dot-and-whisker of each challenger's raw and shrunk CTR lift against control."""
    r = section.result
    data = lift_frame(section)
    axis = alt.Axis(format="+.0~%", title=f"CTR lift vs {r.control} ({theme.level(r.alpha)} CI)")
    colour = alt.Color(
        "estimate:N",
        scale=alt.Scale(domain=[RAW, SHRUNK], range=["#9e9e9e", "#1f77b4"]),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )
    base = alt.Chart(data).encode(
        y=alt.Y("creative:N", title=None, sort=list(dict.fromkeys(data["creative"]))),
        yOffset=alt.YOffset("estimate:N", sort=[RAW, SHRUNK]),
        color=colour,
        tooltip=[
            alt.Tooltip("creative:N"),
            alt.Tooltip("estimate:N"),
            alt.Tooltip("lift:Q", format="+.1%"),
            alt.Tooltip("ci_low:Q", format="+.1%"),
            alt.Tooltip("ci_high:Q", format="+.1%"),
        ],
    )
    rule = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("ci_low:Q", axis=axis), x2=alt.X2("ci_high:Q")
    )
    point = base.mark_point(filled=True, size=80, opacity=1).encode(x=alt.X("lift:Q", axis=axis))
    zero = theme.zero_rule(x=axis)
    listed = len(set(data["creative"]))
    more = len(r.arms) - 1 - listed
    which = f"the {listed} best-ranked of {len(r.arms) - 1:,} challengers; " if more > 0 else ""
    chart = alt.layer(zero, rule, point).properties(
        width=theme.WIDTH,
        height=alt.Step(18),
        title=theme.title(
            "Creative tournament: raw and shrunk CTR lifts",
            f"{which}shrunk: empirical-Bayes estimates that correct for the winner's curse",
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def allocation_frame(section: CreativeSection) -> pd.DataFrame:
    """Budget share and chance best per creative, largest share first: the ``show`` largest
    and one row summing the rest. Ties (the many creatives held at the floor) go by chance
    best, then by the tables' order, so the bars name the creatives the tables list rather
    than the first ones of the plan."""
    al = section.result.allocation
    place = {x.name: i for i, x in enumerate(section.shown)}

    def key(n: str) -> tuple[float, float, float]:
        p = al.prob_best[n]
        return (-al.weights[n], -(0.0 if p != p else p), place.get(n, math.inf))

    order = sorted(al.weights, key=key)
    head, tail = order[: section.show], order[section.show :]
    rows = [
        {"creative": n, "weight": al.weights[n], "prob_best": theme.nan_to_none(al.prob_best[n])}
        for n in head
    ]
    if tail:
        rows.append(
            {
                "creative": f"the other {len(tail):,}",
                "weight": sum(al.weights[n] for n in tail),
                "prob_best": theme.nan_to_none(sum(al.prob_best[n] for n in tail)),
            }
        )
    return pd.DataFrame(rows, columns=["creative", "weight", "prob_best"])


def allocation_chart(section: CreativeSection, variants: list[str]) -> alt.LayerChart:
    """Next period's budget share per creative (bars) against an equal split (dashed rule)."""
    data = allocation_frame(section)
    axis = alt.Axis(format=".0%", title="share of next period's impressions")
    base = alt.Chart(data).encode(
        y=alt.Y("creative:N", title=None, sort=list(data["creative"])),
        tooltip=[
            alt.Tooltip("creative:N"),
            alt.Tooltip("weight:Q", title="budget share", format=".1%"),
            alt.Tooltip("prob_best:Q", title="P(best)", format=".1%"),
        ],
    )
    bars = base.mark_bar().encode(
        x=alt.X("weight:Q", axis=axis, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "creative:N",
            scale=theme.variant_colours(variants, list(data["creative"])),
            legend=None,
        ),
    )
    equal = (
        alt.Chart(pd.DataFrame({"equal": [1 / max(1, len(section.result.arms))]}))
        .mark_rule(color="#444", strokeDash=[4, 4])
        .encode(x=alt.X("equal:Q", axis=axis))
    )
    floor = section.result.allocation.floor
    chart = alt.layer(bars, equal).properties(
        width=theme.WIDTH,
        height=alt.Step(28),
        title=theme.title(
            "Next period's budget split",
            f"Thompson sampling on CTR, at least {_floor_text(floor)} each; dashed: equal split",
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


FATIGUE_LINES = 6
"""The fatigue chart draws at most this many creatives; the summary line names every
declining one."""


def fatigue_drawn(section: CreativeSection) -> list[str]:
    """The creatives the fatigue chart draws: the listed ones whose CTR declines
    significantly, steepest evidence first, then the other listed ones in the tables'
    order, up to :data:`FATIGUE_LINES` (a dozen dotted curves overlap past reading)."""
    flags = section.declining
    listed = [x.name for x in section.shown if x.name in flags]
    tired = sorted((n for n in listed if flags[n][1]), key=lambda n: flags[n][0])
    return list(dict.fromkeys([*tired, *listed]))[:FATIGUE_LINES]


def fatigue_frame(section: CreativeSection) -> pd.DataFrame:
    """Per fitted creative and day since first exposure: impressions, clicks, CTR, fitted CTR.

    ``dot``: the day holds at least ``DOT_SHARE`` of the creative's impressions (the chart
    draws its CTR; the few survivors of the last days would otherwise set the axis).
    """
    fits = {f.creative: f for f in section.result.fatigue or ()}
    listed = set(fatigue_drawn(section))
    rows = []
    for c in section.curves:
        f = fits.get(c.creative) if c.creative in listed else None
        days = c.days or tuple(float(d) for d in range(len(c.impressions)))
        total = sum(c.impressions)
        for d, m, y in zip(days, c.impressions, c.clicks, strict=True):
            if m <= 0 or f is None:
                continue
            eta = f.intercept + f.slope * d
            rows.append(
                {
                    "creative": c.creative,
                    "day": d,
                    "impressions": m,
                    "clicks": y,
                    "ctr": y / m,
                    "fitted": 1 / (1 + math.exp(-eta)),
                    "dot": bool(m >= DOT_SHARE * total),
                }
            )
    columns = ["creative", "day", "impressions", "clicks", "ctr", "fitted", "dot"]
    return pd.DataFrame(rows, columns=columns)


def fatigue_chart(section: CreativeSection, variants: list[str]) -> alt.LayerChart | None:
    """CTR by day since first exposure per creative (dots sized by impressions), fitted line."""
    data = fatigue_frame(section)
    if data.empty:
        return None
    shown = list(dict.fromkeys(data["creative"]))
    colour = alt.Color(
        "creative:N",
        scale=theme.variant_colours(variants, shown),
        title=None,
        legend=alt.Legend(orient="right", symbolOpacity=1),
    )
    x = alt.X("day:Q", axis=alt.Axis(title=f"days since {section.since}", tickMinStep=1))
    y_axis = alt.Axis(format=".1%", title="CTR")
    base = alt.Chart(data).encode(x=x, color=colour)
    dots = (
        base.transform_filter("datum.dot")
        .mark_circle(opacity=0.7)
        .encode(
            y=alt.Y("ctr:Q", axis=y_axis, scale=alt.Scale(zero=False)),
            size=alt.Size("impressions:Q", legend=None, scale=alt.Scale(range=[15, 160])),
            tooltip=[
                alt.Tooltip("creative:N"),
                alt.Tooltip("day:Q"),
                alt.Tooltip("impressions:Q", format=","),
                alt.Tooltip("clicks:Q", format=","),
                alt.Tooltip("ctr:Q", title="CTR", format=".2%"),
                alt.Tooltip("fitted:Q", title="fitted CTR", format=".2%"),
            ],
        )
    )
    line = base.mark_line(strokeWidth=2).encode(y=alt.Y("fitted:Q", axis=y_axis))
    chart = alt.layer(dots, line).properties(
        width=theme.WIDTH,
        height=200,
        title=theme.title(
            f"CTR by day since {section.since}",
            f"dots: observed, on days with at least {DOT_SHARE:.0%} of a creative's "
            "impressions (size: impressions); lines: binomial-logit fit per creative"
            + _fatigue_note(section, len(shown)),
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _fatigue_note(section: CreativeSection, drawn: int) -> str:
    fitted = len([x for x in section.shown if x.name in section.declining])
    if drawn >= fitted:
        return ""
    return f". {drawn} of the {fitted} listed creatives drawn: the declining ones first"


def views(section: CreativeSection, results: Results) -> list[Any]:
    """The summary, two tables (three with money, four with groups) and three charts (fatigue only when it
    was fitted); at most ``show`` creatives each, the rest counted."""
    from IPython.display import Markdown

    variants = list(results.plan.variants)
    out: list[Any] = [
        Markdown(summary_markdown(section, results)),
        styled(creative_frame(section, results), "liftlab-creative"),
        styled(volume_frame(section, results), "liftlab-creative-volume"),
    ]
    money = money_frame(section, results)
    if not money.empty:
        out.append(styled(money, "liftlab-creative-money"))
    if section.result.groups:
        out.append(styled(group_frame(section, results), "liftlab-creative-groups", "group"))
    if not lift_frame(section).empty:
        out.append(lift_chart(section))
    out.append(allocation_chart(section, variants))
    fat = fatigue_chart(section, variants)
    if fat is not None:
        out.append(fat)
    return out
