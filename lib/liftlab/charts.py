"""Charts of a :class:`~liftlab.analysis.Results`, drawn with Altair.

Every chart is built from aggregates only (per-variant counts and per-comparison effects and
intervals), never from unit rows, so a chart embedded in a report carries no unit ids and its
Vega-Lite spec stays a few kilobytes whatever the size of the test.

- :func:`forest_plot`: each treatment's effect against control with its confidence interval.
- :func:`srm_chart`: the observed traffic share of each variant against its planned share.
- :func:`use_static_renderer`: render charts as inline SVG (through ``vl-convert``), so an
  exported HTML report draws them offline, with no JavaScript and no CDN.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import altair as alt
import pandas as pd

if TYPE_CHECKING:
    from liftlab.analysis import MetricResult
    from liftlab.stats.srm import SRMResult

SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
_COLOURS = alt.Scale(domain=[SIGNIFICANT, NOT_SIGNIFICANT], range=["#1f77b4", "#9e9e9e"])
_WIDTH = 560


def _nan_to_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def effects_frame(metric_result: MetricResult) -> tuple[pd.DataFrame, bool]:
    """One row per comparison (the forest plot's data) and whether the effects are relative.

    Relative effects (``mean_t / mean_c − 1``) are used when every comparison has a relative
    interval; otherwise (e.g. a control mean of zero, or an unbounded Fieller interval) the
    absolute difference ``mean_t − mean_c`` is shown for all of them, so the axis stays shared.
    """
    comps = metric_result.comparisons
    relative = bool(comps) and all(c.effect.rel_ci is not None for c in comps)
    rows = []
    for c in comps:
        e = c.effect
        lo, hi = e.rel_ci if relative and e.rel_ci is not None else e.abs_ci
        rows.append(
            {
                "variant": c.variant,
                "control": c.control,
                "effect": _nan_to_none(e.rel_effect if relative else e.abs_effect),
                "ci_low": _nan_to_none(lo),
                "ci_high": _nan_to_none(hi),
                "p_value": _nan_to_none(e.p_value),
                "p_value_adjusted": _nan_to_none(c.p_value_adjusted),
                "significance": SIGNIFICANT if c.significant else NOT_SIGNIFICANT,
            }
        )
    columns = [
        "variant",
        "control",
        "effect",
        "ci_low",
        "ci_high",
        "p_value",
        "p_value_adjusted",
        "significance",
    ]
    return pd.DataFrame(rows, columns=columns), relative


def forest_plot(metric_result: MetricResult) -> alt.LayerChart:
    """Each treatment's effect against control with its confidence interval.

    A point per treatment and a rule spanning its ``1 − alpha`` interval, coloured by whether
    the comparison is significant (after the plan's correction for primary metrics), and a
    dashed rule at zero. The x axis is the relative effect as a percentage, or the absolute
    difference when a relative interval is undefined (see :func:`effects_frame`).
    """
    m = metric_result.metric
    data, relative = effects_frame(metric_result)
    alpha = metric_result.comparisons[0].effect.alpha if metric_result.comparisons else 0.05
    level = f"{1 - alpha:.0%}"
    what = "relative effect" if relative else "absolute difference"
    fmt = "+.1%" if relative else "+.4~g"
    axis = alt.Axis(format="+.1~%" if relative else "~g", title=f"{what} vs control ({level} CI)")
    control = metric_result.comparisons[0].control if metric_result.comparisons else "control"

    base = alt.Chart(data).encode(
        y=alt.Y("variant:N", title=None, sort=list(data["variant"])),
        color=alt.Color(
            "significance:N", scale=_COLOURS, title=None, legend=alt.Legend(orient="bottom")
        ),
        tooltip=[
            alt.Tooltip("variant:N"),
            alt.Tooltip("effect:Q", title=what, format=fmt),
            alt.Tooltip("ci_low:Q", title=f"{level} CI low", format=fmt),
            alt.Tooltip("ci_high:Q", title=f"{level} CI high", format=fmt),
            alt.Tooltip("p_value:Q", title="p-value", format=".3g"),
            alt.Tooltip("p_value_adjusted:Q", title="adjusted p-value", format=".3g"),
            alt.Tooltip("significance:N"),
        ],
    )
    interval = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("ci_low:Q", axis=axis), x2=alt.X2("ci_high:Q")
    )
    point = base.mark_point(filled=True, size=90, opacity=1).encode(x=alt.X("effect:Q", axis=axis))
    zero = (
        alt.Chart(pd.DataFrame({"zero": [0.0]}))
        .mark_rule(color="#444", strokeDash=[4, 4])
        .encode(x=alt.X("zero:Q", axis=axis))
    )
    chart = alt.layer(zero, interval, point).properties(
        width=_WIDTH,
        height=alt.Step(34),
        title=alt.TitleParams(
            f"{m.name} ({m.role})",
            subtitle=f"{what} of each variant vs {control}, {level} confidence interval",
            anchor="start",
        ),
    )
    return cast("alt.LayerChart", chart)


def srm_chart(srm: SRMResult) -> alt.LayerChart:
    """Observed share of units per variant (bars) against the planned share (black ticks)."""
    observed = srm.observed_shares
    data = pd.DataFrame(
        [
            {
                "variant": v,
                "units": int(srm.counts.get(v, 0)),
                "observed": _nan_to_none(observed.get(v, math.nan)),
                "planned": _nan_to_none(w),
            }
            for v, w in srm.expected_weights.items()
        ]
    )
    base = alt.Chart(data).encode(
        y=alt.Y("variant:N", title=None, sort=list(data["variant"])),
        tooltip=[
            alt.Tooltip("variant:N"),
            alt.Tooltip("units:Q", format=","),
            alt.Tooltip("observed:Q", title="observed share", format=".2%"),
            alt.Tooltip("planned:Q", title="planned share", format=".2%"),
        ],
    )
    axis = alt.Axis(format=".0%", title="share of units (bar: observed, tick: planned)")
    bars = base.mark_bar(color="#f4a261" if srm.mismatch else "#8fb9d9").encode(
        x=alt.X("observed:Q", axis=axis)
    )
    ticks = base.mark_tick(color="black", thickness=2, size=26).encode(
        x=alt.X("planned:Q", axis=axis)
    )
    verdict = "MISMATCH" if srm.mismatch else "ok"
    chart = alt.layer(bars, ticks).properties(
        width=_WIDTH,
        height=alt.Step(32),
        title=alt.TitleParams(
            "Traffic split",
            subtitle=f"Pearson χ² p = {srm.p_value:.3g} ({verdict} at α = {srm.alpha:g})",
            anchor="start",
        ),
    )
    return cast("alt.LayerChart", chart)


def use_static_renderer() -> None:
    """Render charts as inline SVG (``image/svg+xml``, drawn by ``vl-convert``).

    Used by ``liftlab report``: the exported HTML then draws every chart without JavaScript or
    a CDN, so a report opens offline and reads the same in ten years.
    """
    alt.renderers.enable("svg")
