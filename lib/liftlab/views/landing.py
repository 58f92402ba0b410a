"""The landing-page section of the report: :class:`~liftlab.kinds.landing.LandingSection` → views.

:func:`views` shows a heading and a plain-language summary of every part, a warning box per
Simpson's paradox, then each part's table and chart (the funnel's step rates and lifts, each
primary metric by segment, novelty's early and late cohorts), drawn from the section's
aggregates only (the statistics: :mod:`liftlab.kinds.landing` and :mod:`liftlab.stats.funnel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import altair as alt
import pandas as pd

from liftlab import format as fmt
from liftlab import theme
from liftlab.decision import display_of, evidence
from liftlab.kinds.landing import is_unavailable
from liftlab.plan import LandingOptions
from liftlab.present import CORRECTION_NAMES, md_text, warning_box
from liftlab.theme import NOT_SIGNIFICANT, SIGNIFICANT
from liftlab.views import KIND_ANCHOR, unbroken

if TYPE_CHECKING:
    from liftlab.analysis import Results
    from liftlab.kinds.landing import LandingSection
    from liftlab.plan import Metric, Plan

VERDICTS = {
    "novelty": "novelty: the effect fades (stronger among early units than late ones)",
    "primacy": "primacy: the effect grows (weaker among early units than late ones)",
    "stable": "stable: no evidence that the effect changes over time",
}
_SEGMENT_COLOURS = alt.Scale(
    domain=["level", "pooled", "stratified"], range=["#4c78a8", "#444444", "#f58518"]
)
_COHORT_COLOURS = alt.Scale(
    domain=["early", "late", "early − late"], range=["#4c78a8", "#54a24b", "#9e9e9e"]
)


# ---- frames (exactly what each chart plots) and charts -------------------------------------------
def _row(label: str, kind: str, est: Any, ci: Any, p: Any = None, **extra: Any) -> dict[str, Any]:
    lo, hi = ci or (None, None)
    values = {"estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p}
    return {
        "label": label,
        "kind": kind,
        **{k: theme.finite(v) for k, v in values.items()},
        **extra,
    }


def funnel_frames(f: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per step × variant the (conditional) rate and Wilson interval (``kind`` = variant); per
    step and end to end × treatment the lift, its interval and ``kind`` = significance
    (adjusted p < alpha)."""
    rates = [
        _row(s["step"], v["variant"], v["rate"], v["ci"], users=v["users"])
        for s in f["by_step"]
        for v in s["variants"]
    ]
    many = len(f["end_to_end"]) > 1
    lifts = [
        _row(
            f"{step} · {c['variant']}" if many else step,
            SIGNIFICANT if (c["p_value_adjusted"] or 1.0) < f["alpha"] else NOT_SIGNIFICANT,
            c["lift"],
            c["ci"],
            c["p_value"],
            p_value_adjusted=theme.finite(c["p_value_adjusted"]),
        )
        for step, comps in [(s["step"], s["comparisons"]) for s in f["by_step"]]
        + [("end to end", f["end_to_end"])]
        for c in comps
    ]
    return pd.DataFrame(rates), pd.DataFrame(lifts)


def segment_frame(seg: dict[str, Any]) -> pd.DataFrame:
    """Per dimension: each level's effect, the pooled effect and the stratified estimate."""
    rows = []
    for d in seg["dimensions"]:
        dim, flag = d["dimension"], bool(d["simpson"])
        rows += [
            _row(f"{dim} = {lv['level']}", "level", lv["effect"], lv["ci"], lv["p_value"])
            for lv in d["levels"]
        ]
        for kind in ("pooled", "stratified"):
            x = d[kind]
            rows.append(_row(f"{dim}: {kind}", kind, x["effect"], x["ci"], x["p_value"]))
        for r in rows[-len(d["levels"]) - 2 :]:
            r["simpson"] = flag
    return pd.DataFrame(rows)


def novelty_frame(by_treatment: dict[str, Any]) -> pd.DataFrame:
    """Per treatment: the early and late cohorts' effects and their difference."""
    many, rows = len(by_treatment) > 1, []
    for t, nov in by_treatment.items():
        d = nov["difference"]
        for kind, x in (("early", nov["early"]), ("late", nov["late"])):
            rows.append(
                _row(f"{kind} · {t}" if many else kind, kind, x["effect"], x["ci"], x["p_value"])
            )
        diff = "early − late"
        rows.append(
            _row(f"{diff} · {t}" if many else diff, diff, d["estimate"], d["ci"], d["p_value"])
        )
    return pd.DataFrame(rows)


def _intervals(
    data: pd.DataFrame, axis: alt.Axis, scale: alt.Scale, title: alt.TitleParams
) -> alt.LayerChart:
    """Forest-style rows: a point per estimate, a rule over its interval, a rule at zero."""
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", sort=list(data["label"]), title=None),
        color=alt.Color("kind:N", scale=scale, title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip(c) for c in data.columns if c != "kind"],
    )
    chart = alt.layer(
        theme.zero_rule(x=axis),
        base.mark_rule(strokeWidth=3).encode(
            x=alt.X("ci_low:Q", axis=axis), x2=alt.X2("ci_high:Q")
        ),
        base.mark_point(filled=True, size=80, opacity=1).encode(x=alt.X("estimate:Q", axis=axis)),
    ).properties(width=theme.WIDTH, height=alt.Step(26), title=title)
    return cast("alt.LayerChart", chart)


def funnel_chart(f: dict[str, Any], variants: list[str]) -> alt.VConcatChart:
    """Step rates per variant with Wilson intervals, above the lift per step with its CI."""
    rates, lifts = funnel_frames(f)
    level, steps = theme.level(f["alpha"]), list(f["steps"])
    axis = alt.Axis(format=".0%", title=f"step rate ({level} Wilson CI)")
    base = alt.Chart(rates).encode(
        y=alt.Y("label:N", sort=steps, title=None),
        yOffset=alt.YOffset("kind:N", sort=variants),
        color=alt.Color(
            "kind:N",
            scale=theme.variant_colours(variants),
            title=None,
            legend=alt.Legend(orient="right", symbolOpacity=1, symbolType="circle"),
        ),
        tooltip=[
            *map(alt.Tooltip, ("label", "kind", "users")),
            alt.Tooltip("estimate:Q", format=".2%"),
        ],
    )
    top = alt.layer(
        base.mark_bar(opacity=0.3).encode(x=alt.X("estimate:Q", axis=axis)),
        base.mark_rule(strokeWidth=2).encode(
            x=alt.X("ci_low:Q", axis=axis), x2=alt.X2("ci_high:Q")
        ),
        base.mark_point(filled=True, size=50, opacity=1).encode(x=alt.X("estimate:Q", axis=axis)),
    ).properties(
        width=theme.WIDTH,
        height=(16 * len(variants) + 10) * len(steps),
        title=theme.title(
            "Funnel: step rates",
            "share of the units at the previous step (the first: of exposed units) "
            "that reached each step",
        ),
    )
    correction = CORRECTION_NAMES.get(f["correction"], f["correction"])
    bottom = _intervals(
        lifts,
        alt.Axis(format="+.0%", title=f"lift vs {f['control']} ({level} CI)"),
        theme.SIGNIFICANCE_COLOURS,
        theme.title(
            "Funnel: lift per step",
            f"coloured when the adjusted p-value ({correction}) < {f['alpha']:g}",
        ),
    )
    chart = alt.vconcat(top, bottom, spacing=16).resolve_scale(color="independent")
    return cast("alt.VConcatChart", theme.configure(chart))


def segment_chart(metric: Metric, treatment: str, seg: dict[str, Any]) -> alt.LayerChart:
    level = theme.level(seg["alpha"])
    chart = _intervals(
        segment_frame(seg),
        theme.abs_axis(metric, f"{treatment} − {seg['control']} ({level} CI)"),
        _SEGMENT_COLOURS,
        theme.title(
            f"{theme.metric_label(metric)}: effect by segment ({treatment})",
            "each level, all units pooled, and the inverse-variance stratified estimate",
        ),
    )
    return theme.configure(chart)


def novelty_chart(
    metric: Metric, by_treatment: dict[str, Any], cut: str, alpha: float
) -> alt.LayerChart:
    chart = _intervals(
        novelty_frame(by_treatment),
        theme.abs_axis(metric, f"effect vs control ({theme.level(alpha)} CI)"),
        _COHORT_COLOURS,
        theme.title(
            f"{theme.metric_label(metric)}: novelty",
            f"effect among units first exposed before {cut} (early) and from {cut} "
            "(late), and the difference",
        ),
    )
    return theme.configure(chart)


# ---- report ------------------------------------------------------------------------------------
def warning_html(title: str, text: str) -> str:
    """A visible warning box, flagged, that tests and the page find by ``liftlab-simpson``."""
    return warning_box("flagged", title, text, css_class="liftlab-simpson")


_LIFT = fmt.Display("lift", "percent")
_RATE = fmt.Display("step rate", "percent")


def _lift(x: float | None, ci: Any = None) -> str:
    """A relative change, with its interval when given: ``+7.8% [+3.5%, +12.2%]``."""
    return fmt.effect_text(_LIFT, x, tuple(ci) if ci is not None else None, "relative")


def _diff(display: fmt.Display, x: float | None, ci: Any) -> str:
    """A difference in the metric's units with its interval: ``+0.79 pp [+0.36 pp, +1.21 pp]``."""
    lo, hi = ci or (None, None)
    return fmt.effect_text(display, x, (lo, hi), "absolute")


def _rates(f: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, str]:
    """One step's rates with their Wilson intervals, one number of decimals for the step:
    distinct rates print distinctly, and so do an interval's ends and its rate
    (``100.00% [99.99%, 100.00%]``)."""
    d = fmt.value_decimals(_RATE, [v["rate"] for v in variants])
    for v in variants:
        d = max(d, fmt.value_decimals(_RATE, [v["rate"], *(v["ci"] or ())]))
    out = {}
    for v in variants:
        lo, hi = v["ci"] or (None, None)
        out[v["variant"]] = fmt.value_interval(_RATE, v["rate"], lo, hi, decimals=d)
    return out


def _funnel_summary(f: dict[str, Any], window: float) -> str:
    alpha, parts = f["alpha"], []
    for e in f["end_to_end"]:
        t = e["variant"]
        comps = [
            (s["step"], c) for s in f["by_step"] for c in s["comparisons"] if c["variant"] == t
        ]
        sig = [(s, c) for s, c in comps if (c["p_value_adjusted"] or 1.0) < alpha]
        moved = "; ".join(
            f"{'gained' if (c['lift'] or 0) > 0 else 'lost'} users at **{md_text(s)}** "
            f"({_lift(c['lift'], c['ci'])}, {fmt.p_clause(c['p_value_adjusted'], 'adjusted p')})"
            for s, c in sig
        )
        still = [md_text(s) for s, c in comps if all(c is not x for _, x in sig)]
        text = f"**{md_text(t)}** " + (moved or "changed no step clearly")
        if sig and still:
            text += f"; no clear change at {', '.join(still)}"
        ends = fmt.values(_RATE, {"control": e["rate_control"], "treatment": e["rate"]})
        parts.append(
            f"{text}. End to end: {ends['control']} → {ends['treatment']} "
            f"({_lift(e['lift'], e['ci'])}, {fmt.p_clause(e['p_value_adjusted'], 'adjusted p')})."
        )
    big = f["biggest_change"]
    if big is not None:
        parts.append(
            f"The step that changed most (smallest p-value): **{md_text(big['step'])}** "
            f"({md_text(big['variant'])} {_lift(big['lift'])}, {fmt.p_clause(big['p_value'])})."
        )
    path = " → ".join(md_text(s) for s in f["steps"])
    return f"- **Funnel** ({path}, within {window:g} days of exposure): " + " ".join(parts)


def step_metric(plan: Plan, step: str) -> Metric | None:
    """The plan's metric that asks whether a unit reached funnel ``step``: a proportion of
    units with the step's event (``aggregate: any``) or with the step's 0/1 column; a primary
    one first."""
    found = [
        m
        for m in plan.metrics
        if m.type == "proportion"
        and (
            (m.event == step and m.event_aggregate == "any")
            or (m.event is None and m.column == step)
        )
    ]
    return min(found, key=lambda m: m.role != "primary", default=None)


def headline_note(f: dict[str, Any], results: Results) -> str:
    """Why a funnel step and the metric of the same event print different p-values: the step
    tests are fixed-horizon diagnostics; the decision uses the metric's headline, quoted here
    exactly as the scorecard prints it."""
    plan = results.plan
    quoted = []
    for step in f["steps"]:
        m = step_metric(plan, step)
        if m is None:
            continue
        mr = next((x for x in results.metrics if x.metric.name == m.name), None)
        heads = [
            (c.variant, c.headline)
            for c in (mr.comparisons if mr is not None else [])
            if c.headline is not None
        ]
        if not heads:
            continue
        label = md_text(display_of(plan, m.name).label)
        many = len(heads) > 1
        said = "; ".join(
            (f"{md_text(v)}: " if many else "") + evidence(plan, m.name, h) for v, h in heads
        )
        quoted.append(f"the headline of {label} above for step {md_text(step)}: {said}")
    text = (
        "Step tests are fixed-horizon diagnostics (one test on all the data, adjusted over "
        "the steps), so their p-values differ from the metrics' headlines; the decision uses "
    )
    if quoted:
        return f"*{text}{'; and '.join(quoted)}.*"
    return f"*{text}the headlines of the primary metrics above.*"


def _funnel_table(f: dict[str, Any], results: Results) -> str:
    level, control = fmt.level(f["alpha"]), f["control"]
    big = (f["biggest_change"] or {}).get("step")
    adjusted = CORRECTION_NAMES.get(f["correction"], md_text(f["correction"]))
    lines = [
        "### Funnel",
        "",
        "*Step rate: the share of units at the previous step that reached this one (the first "
        "step: of all exposed units). Lift: treatment rate / control rate − 1; the first step "
        "and end to end by Welch's test on 0/1 values, later steps by the delta method (their "
        "denominator is itself random). Adjusted p: adjusted for testing every step of every "
        f"treatment at once [{adjusted}].*",
        "",
        f"| step | variant | units | step rate ({level} CI) | lift vs {md_text(control)} "
        f"({level} CI) | p | adjusted p |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def row(step: str, variant: str, users: int, rate: str, c: dict[str, Any] | None) -> str:
        cells = [fmt.DASH] * 3
        if c is not None:
            cells = [_lift(c["lift"], c["ci"]), fmt.p_value(c["p_value"])]
            cells.append(fmt.p_value(c["p_value_adjusted"]))
        cells = [md_text(variant), fmt.count(users), *map(unbroken, [rate, *cells])]
        return f"| {step} | " + " | ".join(cells) + " |"

    for s in f["by_step"]:
        comps = {c["variant"]: c for c in s["comparisons"]}
        name = md_text(s["step"]) + (" ◀ biggest change" if s["step"] == big else "")
        rates = _rates(f, s["variants"])
        for v in s["variants"]:
            variant = v["variant"]
            lines.append(row(name, variant, v["users"], rates[variant], comps.get(variant)))
    e2e = {e["variant"]: e for e in f["end_to_end"]}
    control_rate = next(iter(e2e.values()))["rate_control"] if e2e else None
    last = f["by_step"][-1]["variants"]
    ends = fmt.values(
        _RATE,
        {
            v["variant"]: control_rate if v["variant"] not in e2e else e2e[v["variant"]]["rate"]
            for v in last
        },
    )
    for v in last:
        lines.append(
            row("end to end", v["variant"], v["users"], ends[v["variant"]], e2e.get(v["variant"]))
        )
    lines += ["", headline_note(f, results)]
    return "\n".join(lines) + "\n"


def heterogeneity_text(d: dict[str, Any], alpha: float) -> str:
    """Whether one dimension's levels share the effect, in words, with Cochran's Q test."""
    p = d["heterogeneity"]["p_value"]
    test = f"heterogeneity test [Cochran's Q]: {fmt.p_clause(p)}"
    if p is not None and p < alpha:
        return f"the effect differs across levels of {md_text(d['dimension'])} ({test})"
    return (
        f"no evidence that the effect differs across levels of {md_text(d['dimension'])} ({test})"
    )


def _segment_table(display: fmt.Display, treatment: str, seg: dict[str, Any]) -> str:
    level, control = fmt.level(seg["alpha"]), seg["control"]
    rows_of = [
        (
            d,
            [(md_text(lv["level"]), lv) for lv in d["levels"]]
            + [("*all units* (pooled)", d["pooled"])],
        )
        for d in seg["dimensions"]
    ]
    # one number of decimals for the table, enough for each row's two means to differ
    digits = max(
        fmt.value_decimals(display, [x["control_mean"], x["treatment_mean"]])
        for _, rows in rows_of
        for _, x in rows
    )
    lines = [
        f"#### {md_text(display.label)}: {md_text(treatment)} vs {md_text(control)} by segment",
        "",
        f"| segment | level | units ({md_text(control)} / {md_text(treatment)}) | "
        f"{md_text(control)} | {md_text(treatment)} | difference ({level} CI) | p | adjusted p |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for d, rows in rows_of:
        dim = md_text(d["dimension"])
        for name, x in rows:
            cells = [
                f"{fmt.count(x['n_control'])} / {fmt.count(x['n_treatment'])}",
                fmt.value(display, x["control_mean"], digits),
                fmt.value(display, x["treatment_mean"], digits),
                _diff(display, x["effect"], x["ci"]),
                fmt.p_value(x["p_value"]),
                fmt.p_value(x.get("p_value_adjusted")),
            ]
            lines.append(f"| {dim} | {name} | " + " | ".join(map(unbroken, cells)) + " |")
        st = d["stratified"]
        cells = [_diff(display, st["effect"], st["ci"]), fmt.p_value(st["p_value"]), fmt.DASH]
        lines.append(
            f"| {dim} | *levels weighted by their precision* (stratified) | | | | "
            + " | ".join(map(unbroken, cells))
            + " |"
        )
        notes.append(heterogeneity_text(d, seg["alpha"]))
    lines += [line for n in notes for line in ("", f"*{n[:1].upper()}{n[1:]}.*")]
    return "\n".join(lines) + "\n"


def _segment_summary(display: fmt.Display, treatment: str, seg: dict[str, Any]) -> str | None:
    """What stands out for one metric and treatment (``None``: nothing, no paradox)."""
    notes = [
        f"**Simpson's paradox** over {md_text(d['dimension'])} (see the warning)"
        if d["simpson"]
        else heterogeneity_text(d, seg["alpha"])
        for d in seg["dimensions"]
        if d["simpson"] or d["message"]
    ]
    name = md_text(display.label)
    return f"{name} ({md_text(treatment)}): {', '.join(notes)}" if notes else None


def _novelty_text(display: fmt.Display, treatment: str, nov: dict[str, Any], alpha: float) -> str:
    d = nov["difference"]
    return (
        f"{md_text(display.label)} ({md_text(treatment)}): **{VERDICTS[nov['verdict']]}**; "
        f"early {_diff(display, nov['early']['effect'], nov['early']['ci'])}, late "
        f"{_diff(display, nov['late']['effect'], nov['late']['ci'])}, difference "
        f"{_diff(display, d['estimate'], d['ci'])} ({fmt.p_clause(d['p_value'])}, "
        f"{fmt.level(alpha)} CIs)"
    )


def _repeat_text(display: fmt.Display, r: dict[str, Any], control: str) -> str:
    shown = fmt.values(display, r["rate"])
    rates = ", ".join(f"{md_text(v)} {x}" for v, x in shown.items())
    effects = "; ".join(
        f"{md_text(t)} vs {md_text(control)} {_lift(e['lift'], e['lift_ci'])} "
        f"(difference {_diff(display, e['difference'], e['difference_ci'])}, "
        f"{fmt.p_clause(e['p_value'])})"
        for t, e in r["effects"].items()
    )
    text = (
        f"{md_text(display.label)}: two or more {md_text(r['event'])} events within "
        f"{r['window_days']:g} days of exposure: {rates}; {effects}"
    )
    for t, e in (r["among_buyers"] or {}).items():
        text += (
            f"; among buyers ({md_text(r['buyers_metric'])}) {md_text(t)} "
            f"{_lift(e['lift'], e['lift_ci'])} ({fmt.p_clause(e['p_value'])}; conditions on "
            "buying, which the treatment may change)"
        )
    return text


def _entries(
    part: dict[str, Any], label: Callable[[str], str]
) -> tuple[list[str], list[tuple[str, str, dict[str, Any]]]]:
    """A per-metric, per-treatment part: notes on what is unavailable, and the rest."""
    notes, ok = [], []
    for name, per in part.items():
        if is_unavailable(per):
            notes.append(f"{md_text(label(name))}: unavailable: {md_text(per['reason'])}")
            continue
        for t, x in per.items():
            if is_unavailable(x):
                notes.append(
                    f"{md_text(label(name))} ({md_text(t)}): unavailable: {md_text(x['reason'])}"
                )
            else:
                ok.append((name, t, x))
    return notes, ok


def _bullet(title: str, part: Any, lines: list[str]) -> str:
    if is_unavailable(part):
        return f"- **{title}**: unavailable: {md_text(part['reason'])}"
    return f"- **{title}**: " + ("; ".join(lines) if lines else "nothing to report") + "."


# A part's contribution to the report: its summary line, its warning boxes, its details.
Shown = tuple[str, list[Any], list[Any]]


class _Names:
    """The plan's metrics by name and their displays (labels and decimals)."""

    def __init__(self, plan: Plan) -> None:
        self.metrics = {m.name: m for m in plan.metrics}
        self.displays = {m.name: display_of(plan, m.name) for m in plan.metrics}

    def label(self, name: str) -> str:
        return self.displays[name].label if name in self.displays else name


def _funnel_views(f: dict[str, Any], results: Results) -> Shown:
    """The funnel's summary line, its table and its chart."""
    from IPython.display import Markdown

    if is_unavailable(f):
        return _bullet("Funnel", f, []), [], []
    plan = results.plan
    window = (plan.landing_page or LandingOptions()).funnel_window_days
    details = [Markdown(_funnel_table(f, results)), funnel_chart(f, list(plan.variants))]
    return _funnel_summary(f, window), [], details


def _segment_views(part: dict[str, Any], results: Results, names: _Names) -> Shown:
    """The segments' summary line, a warning per Simpson's paradox, each table and chart."""
    from IPython.display import HTML, Markdown

    notes, ok = _entries(part, names.label)
    found = {(n, t): _segment_summary(names.displays[n], t, seg) for n, t, seg in ok}
    lines = notes + [x for x in found.values() if x is not None]
    if clean := [
        f"{md_text(names.label(n))} ({md_text(t)})" for (n, t), x in found.items() if x is None
    ]:
        lines.append(
            f"no Simpson's paradox and a consistent effect across levels for {', '.join(clean)}"
        )
    warnings = [
        HTML(warning_html(f"{names.label(n)}, {t}, by {d['dimension']}", d["message"]))
        for n, t, seg in ok
        for d in seg["dimensions"]
        if d["simpson"]
    ]
    dims = ", ".join(md_text(d) for d in results.plan.data.segments)
    details: list[Any] = [Markdown("### Segments")] * bool(ok)
    for n, t, seg in ok:
        details += [
            Markdown(_segment_table(names.displays[n], t, seg)),
            segment_chart(names.metrics[n], t, seg),
        ]
    return _bullet(f"Segments ({dims})", None, lines), warnings, details


def _novelty_views(part: dict[str, Any], results: Results, names: _Names) -> Shown:
    """Novelty's summary line and one chart per metric (every treatment in it)."""
    from IPython.display import Markdown

    alpha = results.plan.analysis.alpha
    notes, ok = _entries(part, names.label)
    lines = notes + [_novelty_text(names.displays[n], t, nov, alpha) for n, t, nov in ok]
    cuts = sorted({nov["cut"] for *_, nov in ok})
    when = f" (units first exposed before {', '.join(cuts)} against later ones)" if cuts else ""
    by_metric: dict[str, dict[str, Any]] = {}
    for n, t, nov in ok:
        by_metric.setdefault(n, {})[t] = nov
    details: list[Any] = [Markdown("### Novelty")] * bool(ok)
    details += [
        novelty_chart(names.metrics[n], per, next(iter(per.values()))["cut"], alpha)
        for n, per in by_metric.items()
    ]
    return _bullet(f"Novelty{when}", None, lines), [], details


def _repeat_views(part: dict[str, Any], results: Results, names: _Names) -> Shown:
    """Repeat purchase's summary line (it has no table or chart)."""
    control = results.plan.control_name
    lines = [
        f"{md_text(names.label(n))}: unavailable: {md_text(r['reason'])}"
        if is_unavailable(r)
        else _repeat_text(names.displays[n], r, control)
        for n, r in part.items()
    ]
    return _bullet("Repeat purchase", None, lines), [], []


def views(section: LandingSection, results: Results) -> list[Any]:
    """Heading, plain-language summary, Simpson warnings, then each part's table and chart."""
    from IPython.display import Markdown

    names = _Names(results.plan)
    parts: list[Shown] = []
    if section.funnel is not None:
        parts.append(_funnel_views(section.funnel, results))
    if section.segments is not None:
        parts.append(_segment_views(section.segments, results, names))
    if section.novelty is not None:
        parts.append(_novelty_views(section.novelty, results, names))
    if section.repeat_purchase is not None:
        parts.append(_repeat_views(section.repeat_purchase, results, names))
    head = (
        f"{KIND_ANCHOR}\n\n## Landing page: funnel, segments, novelty\n\n"
        "*Diagnostics on the same units as the metrics above, each one test on all the data "
        f"(fixed-horizon) with {fmt.level(results.plan.analysis.alpha)} intervals; the verdict "
        "rests on the primary metrics' headlines.*\n\n" + "\n".join(s for s, _, _ in parts)
    )
    warnings = [w for _, ws, _ in parts for w in ws]
    details = [d for _, _, ds in parts for d in ds]
    return [Markdown(head), *warnings, *details]
