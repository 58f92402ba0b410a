"""Charts of a :class:`~liftlab.analysis.Results`, drawn with Altair.

Every chart is built from aggregates only (per-variant counts, per-comparison effects and
intervals, per-day cumulative effects, posterior summaries and bootstrap histograms), never
from unit rows, so a chart embedded in a report carries no unit ids and its Vega-Lite spec
stays a few kilobytes whatever the size of the test. Each chart has a ``*_frame`` function
that returns exactly the table it plots.

- :func:`forest_plot`: each treatment's effect against control with its interval.
- :func:`srm_chart`: the observed traffic share of each variant against its planned share.
- :func:`traffic_chart`: units entering the test per day and variant.
- :func:`sequential_chart`: the cumulative effect over the days with its always-valid
  confidence sequence (or, for a group-sequential design, z against the boundaries).
- :func:`cumulative_chart`: the cumulative effect over the days with the fixed-horizon
  test's pointwise interval (plans that are not sequential; not valid for stopping early).
- :func:`posterior_chart`: the posterior of each treatment's effect (Bayesian method).
- :func:`bootstrap_chart`: the bootstrap distribution of each treatment's effect.
- :func:`use_static_renderer`: render charts as inline SVG (through ``vl-convert``), so an
  exported HTML report draws them offline, with no JavaScript and no CDN.
- :func:`use_notebook_renderer`: the inline SVG plus the Vega-Lite spec, which JupyterLab
  draws interactively; the exported HTML still holds only the SVG.

Every per-arm chart takes a ``listing`` (:func:`liftlab.scorecard.listed_arms`): it draws the
arms the report lists, in the listing's order, and says in its subtitle how many more there
are, so a chart of a 600-ad test stays as legible (no legend cut short) and as light as one of
15. Without a listing, a chart draws every arm.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, cast

import altair as alt
import numpy as np
import pandas as pd

from liftlab import format as fmt
from liftlab import theme
from liftlab.headline import INTERVAL_TEXT, STATUS_TEXT, STATUSES, Headline

if TYPE_CHECKING:
    from liftlab.analysis import Comparison, MetricResult, Traffic
    from liftlab.monitor import CumulativeView, SequentialView
    from liftlab.plan import Metric
    from liftlab.scorecard import Listing
    from liftlab.stats.srm import SRMResult

POSTERIOR_POINTS = 60
# the shared look (sizes, font, colours, wrapped titles): liftlab.theme
_WIDTH = theme.WIDTH
_SMALL_HEIGHT = theme.SMALL_HEIGHT
_DAY_AXIS = theme.DAY_AXIS
_nan_to_none = theme.nan_to_none
_finite = theme.finite
_colour_of = theme.colour_of
_variant_colours = theme.variant_colours
_level = theme.level
_title = theme.metric_title
_BAND_HEIGHT = _SMALL_HEIGHT + 30  # a cumulative effect by day
BAND_ARMS = 4  # more treatments than this on one chart of bands draw them paler
OTHER = theme.OTHER_COLOUR
# a listing of some of many arms: theme.PALETTE's ten colours, then ten more, by the arm's
# place in the listing (a place in a plan of 600 arms would repeat every ten)
LISTED_PALETTE = (
    *theme.PALETTE,
    "#1b9e77",
    "#7570b3",
    "#d95f02",
    "#e7298a",
    "#66a61e",
    "#a6761d",
    "#1f78b4",
    "#6a3d9a",
    "#b15928",
    "#17becf",
)
REST_COLOUR = "#9e9e9e"  # the line that stands for the arms not listed


def arm_colours(variants: list[str], shown: list[str], listing: Listing | None) -> alt.Scale:
    """The colour of each arm in ``shown``: its place in the plan's ``variants``
    (:func:`liftlab.theme.variant_colours`), or, when ``listing`` lists some of many arms,
    its place in the listing (:data:`LISTED_PALETTE`), the same in every chart."""
    if listing is None or listing.complete:
        return _variant_colours(variants, shown)
    order = list(listing.arms)
    return alt.Scale(
        domain=shown,
        range=[
            LISTED_PALETTE[order.index(v) % len(LISTED_PALETTE)] if v in order else REST_COLOUR
            for v in shown
        ],
    )


def _listed(metric_result: MetricResult, listing: Listing | None) -> MetricResult:
    """The metric with the listed arms only (all without a listing)."""
    return metric_result if listing is None else listing.only(metric_result)


def rest_note(listing: Listing | None, metric_result: MetricResult | None = None) -> str:
    """What a chart's subtitle adds when it draws some of many arms: ``12 of 599 ads shown;
    the other 587: 3 better, 584 flat`` (counted on ``metric_result``), or ``""``."""
    if listing is None or listing.complete:
        return ""
    from liftlab.scorecard import status_counts

    total = len(listing.treatments) + len(listing.rest)
    counts = status_counts(listing.rest_statuses(metric_result)) if metric_result else ""
    return (
        f"{len(listing.treatments):,} of {total:,} {listing.nouns} shown; the other "
        f"{len(listing.rest):,}{': ' + counts if counts else ''} in results.json"
    )


TIME_ARMS = 5
"""Over-time charts (cumulative, sequential) of a many-arm report draw at most this many
treatments: the first of the listing, which puts the verdict's pick and runner-up and the
leaders first. Five lines with their bands stay readable; twelve overlapping bands do not,
and the tables above list every listed arm's final numbers."""


def _over_time(
    metric_result: MetricResult, listing: Listing | None
) -> tuple[MetricResult, Listing | None, str]:
    """The metric with the treatments an over-time chart draws, the listing it colours by,
    and its subtitle's note on the arms left out (``""`` when it draws the whole listing)."""
    full = metric_result
    if listing is None or listing.complete or len(listing.treatments) <= TIME_ARMS:
        return _listed(metric_result, listing), listing, rest_note(listing, full)
    drawn = dataclasses.replace(listing, treatments=listing.treatments[:TIME_ARMS])
    total = len(listing.treatments) + len(listing.rest)
    note = (
        f"the {TIME_ARMS} leading of {total:,} {listing.nouns} drawn; the tables list "
        f"{len(listing.treatments)} and results.json every one"
    )
    return drawn.only(metric_result), listing, note


def _with_note(subtitle: str, note: str) -> str:
    return f"{subtitle}. {note[0].upper()}{note[1:]}" if note else subtitle


def _treatment_colour(metric_result: MetricResult, listing: Listing | None = None) -> alt.Color:
    """Colour by treatment variant (plan colours, or the listing's); the legend's symbols are
    opaque even when a layer draws translucent bands."""
    return alt.Color(
        "variant:N",
        scale=arm_colours(
            list(metric_result.variants), [c.variant for c in metric_result.comparisons], listing
        ),
        title=None,
        legend=alt.Legend(orient="right", symbolOpacity=1, symbolType="circle"),
    )


# ---- forest plot -------------------------------------------------------------------------------
EFFECTS_COLUMNS = [
    "variant",
    "control",
    "effect",
    "ci_low",
    "ci_high",
    "effect_type",
    "interval_kind",
    "level",
    "probability",
    "probability_kind",
    "status",
    "status_text",
    "headline",
]


def display_of_metric(metric: Metric, currency: str | None = None) -> fmt.Display:
    """The :class:`~liftlab.format.Display` of ``metric`` from its own fields (``label``,
    ``format``, ``decimals``) and the plan's ``currency``, as
    :func:`liftlab.decision.display_of` builds it from the plan."""
    chosen = metric.format or fmt.default_format(metric.type)
    return fmt.Display(
        label=metric.label or fmt.label_of(metric.name),
        format=chosen,
        decimals=metric.decimals,
        currency=currency if chosen == "currency" else None,
    )


def effects_frame(
    metric_result: MetricResult, display: fmt.Display | None = None
) -> tuple[pd.DataFrame, bool]:
    """One row per comparison: its headline (the forest plot's data), and whether the effects
    are relative.

    The effect and interval are the comparison's :class:`~liftlab.headline.Headline`, the
    numbers the verdict, scorecard and metric table show: the relative lift with its
    confidence interval (frequentist), the absolute difference with its always-valid or
    repeated confidence interval (sequential), the posterior mean with its credible interval
    (Bayesian). ``effect``, ``ci_low`` and ``ci_high`` are on the headline's scale: a fraction
    for a relative effect, metric units for an absolute one (a fraction for a percentage,
    shown in percentage points). Should the headlines of one metric not share a scale (a
    relative interval undefined for some treatments only), every row shows the absolute
    difference with its fixed-horizon interval of the same kind and level, so the axis stays
    shared. Columns: :data:`EFFECTS_COLUMNS`; ``status`` is the headline's status
    (:data:`liftlab.headline.STATUSES`), ``status_text`` its words, ``headline`` the effect
    and interval as every surface prints them (``display``: the metric's units; by default
    from the metric's fields).
    """
    m = metric_result.metric
    display = display or display_of_metric(m)
    comps = metric_result.comparisons
    types = {c.headline.effect_type for c in comps if c.headline is not None}
    relative = types == {"relative"}
    rows = []
    for c in comps:
        h = c.headline
        if h is None:
            h = Headline(
                effect=math.nan,
                effect_type="relative" if relative else "absolute",
                interval=(math.nan, math.nan),
                interval_kind="confidence",
                level=1 - c.effect.alpha,
                probability=None,
                probability_kind="p_value",
                status="not_enough_data",
                control_value=math.nan,
                treatment_value=math.nan,
            )
        elif len(types) > 1 and h.effect_type == "relative":
            e = c.effect
            h = dataclasses.replace(
                h, effect_type="absolute", effect=e.abs_effect, interval=_pair(e.abs_ci)
            )
        rows.append(
            {
                "variant": c.variant,
                "control": c.control,
                "effect": _nan_to_none(h.effect),
                "ci_low": _nan_to_none(h.interval[0]),
                "ci_high": _nan_to_none(h.interval[1]),
                "effect_type": h.effect_type,
                "interval_kind": h.interval_kind,
                "level": h.level,
                "probability": _nan_to_none(h.probability),
                "probability_kind": h.probability_kind,
                "status": h.status,
                "status_text": h.status_text,
                "headline": h.effect_text(display),
            }
        )
    return pd.DataFrame(rows, columns=EFFECTS_COLUMNS), relative


def _pair(ci: tuple[float, float] | None) -> tuple[float, float]:
    return (math.nan, math.nan) if ci is None else (float(ci[0]), float(ci[1]))


def _effect_axis(display: fmt.Display, relative: bool, title: str | list[str] | None) -> alt.Axis:
    """An axis of effects on the headline scale: signed percentages for a relative effect,
    percentage points for a difference of percentages, signed numbers otherwise."""
    if relative:
        return alt.Axis(format="+.1~%", title=title)
    if display.is_percent:
        return alt.Axis(title=title, labelExpr="format(datum.value * 100, '+.2~f')")
    # "r", not "g": Vega sets the precision from the tick step, and "g" at one digit of
    # precision writes +300 as +3e+2
    return alt.Axis(title=title, format="+,~r")


def forest_plot(
    metric_result: MetricResult,
    display: fmt.Display | None = None,
    listing: Listing | None = None,
) -> alt.LayerChart:
    """Each treatment's headline effect against control with its headline interval.

    A point per treatment at its headline effect and a rule spanning its headline interval
    (:func:`effects_frame`), so the chart shows the numbers the verdict and the metric table
    decide by: the confidence interval (frequentist), the always-valid or repeated confidence
    interval (sequential; an absolute difference, in percentage points for a percentage) or
    the credible interval (Bayesian). Each is coloured by its headline status, in the
    scorecard's colours (:data:`liftlab.scorecard.STATUS_COLOURS`); a dashed rule marks 0.
    The axis title and subtitle name the interval in words. ``display``: the metric's label
    and units (default: from the metric's own fields, no currency). ``listing``: the
    treatments drawn, in its order, and the others counted by status in the subtitle.
    """
    full = metric_result
    metric_result = _listed(metric_result, listing)
    m = metric_result.metric
    display = display or display_of_metric(m)
    data, relative = effects_frame(metric_result, display)
    comps = metric_result.comparisons
    control = comps[0].control if comps else "control"
    kinds = list(dict.fromkeys(data["interval_kind"]))
    level = float(data["level"].iloc[0]) if len(data) else 0.95
    kind = INTERVAL_TEXT.get(kinds[0], kinds[0]) if len(kinds) == 1 else "interval"
    interval = f"{level:.0%} {kind}"
    what, axis_text = _change_words(display, relative, control)
    axis = _effect_axis(display, relative, theme.axis_title(f"{axis_text} ({interval})", _WIDTH))
    estimate = "posterior mean" if kinds == ["credible"] else "estimate"
    subtitle = f"each variant's {what} vs {control}: {estimate} and {interval}"
    if kinds == ["always-valid"]:
        subtitle += " (valid at every look)"
    subtitle += ", as the decision reads it; colour: status"
    subtitle = _with_note(subtitle, rest_note(listing, full))
    chart = alt.layer(*_forest_layers(data, axis, interval)).properties(
        width=_WIDTH,
        height=alt.Step(34),
        title=theme.title(f"{display.label} ({m.role})", subtitle),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _change_words(display: fmt.Display, relative: bool, control: str) -> tuple[str, str]:
    """What the forest plot's effect is, in words for its subtitle and for its axis title:
    a relative change, percentage points, a change in the currency, or a plain change."""
    if relative:
        return "relative change", f"relative change vs {control}"
    if display.is_percent:
        return "change in percentage points", f"change vs {control}, percentage points"
    if display.format == "currency" and display.currency:
        return f"change in {display.currency}", f"change vs {control}, {display.currency}"
    return "change", f"change vs {control}"


def _status_colour(data: pd.DataFrame) -> alt.Color:
    """Colour by headline status, in the scorecard's colours, the legend listing only the
    statuses present in ``data``, in :data:`STATUSES` order."""
    from liftlab.scorecard import STATUS_COLOURS

    statuses = [s for s in STATUSES if s in set(data["status"])]
    return alt.Color(
        "status_text:N",
        scale=alt.Scale(
            domain=[STATUS_TEXT[s] for s in statuses],
            range=[STATUS_COLOURS.get(s, (OTHER, ""))[0] for s in statuses],
        ),
        title=None,
        legend=alt.Legend(orient="bottom"),
    )


def _forest_layers(data: pd.DataFrame, axis: alt.Axis, interval: str) -> list[alt.Chart]:
    """The forest plot's marks: a dashed rule at 0, then per treatment a rule over its
    interval and a point at its effect, coloured by status."""
    base = (
        alt.Chart(data)
        .encode(
            y=alt.Y("variant:N", title=None, sort=list(data["variant"])),
            color=_status_colour(data),
            description=alt.Description("description:N"),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("headline:N", title=f"change ({interval})"),
                alt.Tooltip("status_text:N", title="status"),
            ],
        )
        .transform_calculate(
            description="datum.variant + ': ' + datum.headline + ', ' + datum.status_text"
        )
    )
    # a little room at the ends, so an interval or 0 never lies on the frame
    x_scale = alt.Scale(padding=10)
    rule = base.mark_rule(strokeWidth=3).encode(
        x=alt.X("ci_low:Q", axis=axis, scale=x_scale), x2=alt.X2("ci_high:Q")
    )
    point = base.mark_point(filled=True, size=90, opacity=1).encode(
        x=alt.X("effect:Q", axis=axis, scale=x_scale)
    )
    zero = theme.zero_rule(x=axis, scale=x_scale).encode(
        description=alt.DescriptionValue("no change")
    )
    return [zero, rule, point]


# ---- health ------------------------------------------------------------------------------------
def srm_chart(srm: SRMResult, listing: Listing | None = None) -> alt.LayerChart:
    """Observed share of units per variant (bars) against the planned share (black ticks).

    Without a test (``p`` undefined: the arms were not randomised, so nothing was planned to
    check against) the bars show the observed shares alone. ``listing``: the arms drawn; the
    others' share together is in the subtitle.
    """
    observed = srm.observed_shares
    names = [v for v in (listing.arms if listing else srm.expected_weights)]
    names = [v for v in names if v in srm.expected_weights]
    tested = math.isfinite(srm.p_value)
    data = pd.DataFrame(
        [
            {
                "variant": v,
                "units": int(srm.counts.get(v, 0)),
                "observed": _nan_to_none(observed.get(v, math.nan)),
                "planned": _nan_to_none(srm.expected_weights[v]),
            }
            for v in names
        ]
    )
    tooltip = [
        alt.Tooltip("variant:N"),
        alt.Tooltip("units:Q", format=","),
        alt.Tooltip("observed:Q", title="observed share", format=".2%"),
    ]
    if tested:
        tooltip.append(alt.Tooltip("planned:Q", title="planned share", format=".2%"))
    base = alt.Chart(data).encode(
        y=alt.Y("variant:N", title=None, sort=list(data["variant"])), tooltip=tooltip
    )
    what = "share of units (bar: observed, tick: planned)" if tested else "observed share of units"
    # tick labels with the digits the shares need: 0.17% each of 600 arms is not "0%"
    top = max([x for x in [*data["observed"], *data["planned"]] if x is not None], default=1.0)
    digits = 0 if top >= 0.1 else 1 if top >= 0.01 else 2
    axis = alt.Axis(format=f".{digits}~%", title=what)
    bars = base.mark_bar(color="#f4a261" if srm.mismatch else "#8fb9d9").encode(
        x=alt.X("observed:Q", axis=axis)
    )
    layers: list[alt.Chart] = [bars]
    if tested:
        verdict = "MISMATCH" if srm.mismatch else "ok"
        subtitle = f"Pearson χ² p = {srm.p_value:.3g} ({verdict} at α = {srm.alpha:g})"
        layers.append(
            base.mark_tick(color="black", thickness=2, size=26).encode(
                x=alt.X("planned:Q", axis=axis)
            )
        )
    else:
        subtitle = "no sample-ratio test: no split was planned (the arms were not randomised)"
    if listing is not None and listing.rest:
        rest = sum(observed.get(v, 0.0) for v in listing.rest if v in observed)
        subtitle += (
            f"; the other {len(listing.rest):,} {listing.nouns}: {rest:.1%} of units together"
        )
    chart = alt.layer(*layers).properties(
        width=_WIDTH,
        height=alt.Step(32),
        title=theme.title("Traffic split", subtitle),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def traffic_frame(traffic: Traffic, listing: Listing | None = None) -> pd.DataFrame:
    """Units entering the test per day and variant: columns ``day``, ``variant``, ``units``.

    With a ``listing`` of some of many arms: the listed arms, then one series for the others,
    their mean per arm each day (labelled ``other 585 ads (mean)``), so its scale matches.
    """
    names = list(traffic.units)
    if listing is not None and listing.rest:
        names = [v for v in listing.arms if v in traffic.units]
    rows = [
        {"day": pd.Timestamp(day), "variant": v, "units": int(traffic.units[v][k])}
        for v in names
        for k, day in enumerate(traffic.days)
    ]
    rest = [v for v in (listing.rest if listing is not None else ()) if v in traffic.units]
    if rest:
        label = rest_label(listing)
        for k, day in enumerate(traffic.days):
            mean = sum(traffic.units[v][k] for v in rest) / len(rest)
            rows.append({"day": pd.Timestamp(day), "variant": label, "units": mean})
    return pd.DataFrame(rows, columns=["day", "variant", "units"])


def rest_label(listing: Listing | None) -> str:
    """The series that stands for the arms not listed: ``other 585 ads (mean)``."""
    n = len(listing.rest) if listing is not None else 0
    nouns = listing.nouns if listing is not None else "variants"
    return f"other {n:,} {nouns} (mean)"


def traffic_chart(traffic: Traffic, listing: Listing | None = None) -> alt.LayerChart | None:
    """Daily units per variant (one line per variant); ``None`` when the data have no days.

    A healthy test shows parallel lines in the planned proportions; a line that drops or
    jumps on one day points to an assignment or logging change. ``listing``: the arms drawn;
    the others as one grey dashed line, their mean per arm.
    """
    data = traffic_frame(traffic, listing)
    if data.empty:
        return None
    variants = list(traffic.units)
    shown = list(dict.fromkeys(data["variant"]))
    rest = listing is not None and bool(listing.rest)
    base = alt.Chart(data).encode(
        x=alt.X("day:T", axis=_DAY_AXIS),
        y=alt.Y("units:Q", title="units per day", scale=alt.Scale(zero=True)),
        color=alt.Color(
            "variant:N",
            scale=arm_colours(variants, shown, listing),
            title=None,
            legend=alt.Legend(orient="right", symbolOpacity=1),
        ),
        strokeDash=alt.condition(
            alt.datum.variant == rest_label(listing), alt.value([4, 3]), alt.value([1, 0])
        )
        if rest
        else alt.StrokeDashValue([1, 0]),
        tooltip=[
            alt.Tooltip("day:T", format="%Y-%m-%d"),
            alt.Tooltip("variant:N"),
            alt.Tooltip("units:Q", format=",.4~g"),
        ],
    )
    what = f"units entering the test each day (UTC), {len(traffic.days)} days"
    if rest:
        assert listing is not None
        what += (
            f"; {len(listing.treatments):,} of {len(variants) - 1:,} {listing.nouns} shown, "
            "the others as their mean per arm (dashed)"
        )
    chart = base.mark_line(strokeWidth=2).properties(
        width=_WIDTH,
        height=_SMALL_HEIGHT,
        title=theme.title("Daily units per variant", what),
    )
    return cast("alt.LayerChart", theme.configure(chart))


# ---- sequential --------------------------------------------------------------------------------
SEQUENTIAL_COLUMNS = [
    "variant",
    "day",
    "n_control",
    "n_treatment",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "z",
    "boundary",
    "information_fraction",
    "rejected",
]


def _looks_frame(
    views: Sequence[tuple[str, SequentialView | CumulativeView | None]],
    columns: list[str],
    *,
    ordered: bool,
) -> pd.DataFrame:
    """One row per treatment × look of its daily view, with the given ``columns``.

    A band whose bounds are not both finite (or, with ``ordered``, come out crossed) is NaN
    on that look, so only its finite part is drawn.
    """
    rows = []
    for variant, view in views:
        if view is None:
            continue
        for look in view.looks:
            lo, hi = _finite(look.ci_low), _finite(look.ci_high)
            if not (math.isfinite(lo) and math.isfinite(hi) and (lo <= hi or not ordered)):
                lo = hi = math.nan
            row = {
                "variant": variant,
                "day": pd.Timestamp(look.day),
                "n_control": int(look.n_control),
                "n_treatment": int(look.n_treatment),
                "estimate": _finite(look.estimate),
                "ci_low": lo,
                "ci_high": hi,
                "p_value": _finite(look.p_value),
                "z": _finite(look.z),
                "boundary": _finite(look.boundary),
                "information_fraction": _finite(look.information_fraction),
                "rejected": bool(look.rejected),
            }
            rows.append({k: row[k] for k in columns})
    return pd.DataFrame(rows, columns=columns)


def sequential_frame(metric_result: MetricResult) -> pd.DataFrame:
    """Every look of every treatment's sequential view, one row per variant × look.

    ``estimate``, ``ci_low`` and ``ci_high`` are the cumulative absolute effect and the
    always-valid confidence sequence (group-sequential: the repeated interval at the look) in
    the metric's units. Bounds that are infinite or undefined, and looks whose running
    intersection is empty (``ci_low > ci_high``), have both bounds set to NaN, so only the
    finite part of the band is drawn.
    """
    views = [(c.variant, c.sequential) for c in metric_result.comparisons]
    return _looks_frame(views, SEQUENTIAL_COLUMNS, ordered=True)


def _first_rejections(metric_result: MetricResult) -> pd.DataFrame:
    rows = [
        {
            "variant": c.variant,
            "day": pd.Timestamp(c.sequential.first_rejection),
            "label": "rejected",
        }
        for c in metric_result.comparisons
        if c.sequential is not None and c.sequential.first_rejection is not None
    ]
    return pd.DataFrame(rows, columns=["variant", "day", "label"])


def sequential_chart(
    metric_result: MetricResult, listing: Listing | None = None
) -> alt.LayerChart | None:
    """The sequential view of a metric (``None`` without one).

    Always-valid methods (mSPRT, asymptotic confidence sequence): the cumulative absolute
    effect of each treatment by day, its always-valid confidence sequence as a band (finite
    parts only), a rule at 0 and a dotted rule on the day the test first rejected.
    Group-sequential designs: the z statistic at each planned look against ``±boundary``.
    ``listing``: the treatments drawn (the others counted in the subtitle).
    """
    metric_result, listing, note = _over_time(metric_result, listing)
    data = sequential_frame(metric_result)
    if data.empty:
        return None
    views = [c.sequential for c in metric_result.comparisons if c.sequential is not None]
    kind = views[0].kind
    if kind == "group-sequential" and data["boundary"].notna().any():
        return _group_sequential_chart(metric_result, data, listing, note)
    m = metric_result.metric
    alpha = views[0].alpha
    level = _level(alpha)
    control = metric_result.comparisons[0].control
    y_axis = theme.abs_axis(m, f"difference vs {control}", length=_BAND_HEIGHT)
    if kind == "group-sequential":
        sub = f"cumulative difference so far; {views[0].note or 'no planned look reached yet'}"
    else:
        method = "mSPRT" if kind == "msprt" else "asymptotic confidence sequence"
        sub = (
            f"cumulative difference and its {level} always-valid confidence sequence "
            f"({method}); the test rejects once the band leaves 0"
        )
    sub = _with_note(sub, note)
    layers = _band_layers(metric_result, data, y_axis, p_title="always-valid p", listing=listing)
    rejections = _first_rejections(metric_result)
    if not rejections.empty:
        marks = alt.Chart(rejections).encode(x=alt.X("day:T", axis=_DAY_AXIS))
        layers.append(marks.mark_rule(color="#b42318", strokeDash=[2, 3], strokeWidth=1.5))
        layers.append(
            marks.mark_text(
                align="right", baseline="top", dx=-4, dy=4, color="#b42318", fontSize=11
            )
            .encode(y=alt.YValue(0), text=alt.Text("label:N"))
            .transform_calculate(label="'first rejection: ' + datum.variant")
        )
    chart = alt.layer(*layers).properties(
        width=_WIDTH, height=_BAND_HEIGHT, title=_title(m, "cumulative effect by day", sub)
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _band_layers(
    metric_result: MetricResult,
    data: pd.DataFrame,
    y_axis: alt.Axis,
    *,
    p_title: str,
    listing: Listing | None = None,
) -> list[alt.Chart]:
    """A dashed rule at 0, each treatment's interval as a band (finite rows only) and its
    estimate as a line with points, by day (``data``: a :func:`sequential_frame` or
    :func:`cumulative_frame`)."""
    base = alt.Chart(data).encode(
        x=alt.X("day:T", axis=_DAY_AXIS), color=_treatment_colour(metric_result, listing)
    )
    many = len(metric_result.comparisons) > BAND_ARMS  # overlapping bands: paler, lines read
    band = (
        base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)")
        .mark_area(opacity=0.07 if many else 0.18)
        .encode(
            y=alt.Y("ci_low:Q", axis=y_axis),
            y2=alt.Y2("ci_high:Q"),
        )
    )
    tooltip = [
        alt.Tooltip("day:T", format="%Y-%m-%d"),
        alt.Tooltip("variant:N"),
        alt.Tooltip("n_control:Q", format=","),
        alt.Tooltip("n_treatment:Q", format=","),
        alt.Tooltip("estimate:Q", format="+.4~g"),
        alt.Tooltip("ci_low:Q", format="+.4~g"),
        alt.Tooltip("ci_high:Q", format="+.4~g"),
        alt.Tooltip("p_value:Q", title=p_title, format=".3g"),
    ]
    line = base.mark_line(strokeWidth=2).encode(y=alt.Y("estimate:Q", axis=y_axis), tooltip=tooltip)
    zero = theme.zero_rule(y=y_axis)
    return [zero, band, line]


# ---- cumulative effect (fixed horizon) ---------------------------------------------------------
# the sequential frame's columns up to the p-value: a pointwise look has no boundary or stop
CUMULATIVE_COLUMNS = SEQUENTIAL_COLUMNS[: SEQUENTIAL_COLUMNS.index("p_value") + 1]


def cumulative_frame(metric_result: MetricResult) -> pd.DataFrame:
    """Every daily look of every treatment's cumulative view, one row per variant × day.

    ``estimate``, ``ci_low`` and ``ci_high`` are the absolute effect of the fixed-horizon test
    on all units exposed up to that day and its pointwise interval, in the metric's units;
    ``p_value`` is that test's. Undefined bounds (too few units on the first days) are NaN.
    """
    views = [(c.variant, c.cumulative) for c in metric_result.comparisons]
    return _looks_frame(views, CUMULATIVE_COLUMNS, ordered=False)


def cumulative_chart(
    metric_result: MetricResult, listing: Listing | None = None
) -> alt.LayerChart | None:
    """The cumulative effect by day with its pointwise interval (``None`` without one).

    One line per treatment (plan colours): the absolute difference from control on all units
    exposed up to each day, its fixed-horizon ``1 − alpha`` interval as a band and a dashed
    rule at 0. The intervals are pointwise, not valid for stopping early (see
    :func:`liftlab.monitor.fixed_horizon_view`); the last day is the final analysis.
    ``listing``: the treatments drawn (the others counted in the subtitle).
    """
    metric_result, listing, note = _over_time(metric_result, listing)
    data = cumulative_frame(metric_result)
    if data.empty:
        return None
    m = metric_result.metric
    view = next(c.cumulative for c in metric_result.comparisons if c.cumulative is not None)
    control = metric_result.comparisons[0].control
    y_axis = theme.abs_axis(m, f"difference vs {control}", length=_BAND_HEIGHT)
    layers = _band_layers(metric_result, data, y_axis, p_title="p (pointwise)", listing=listing)
    chart = alt.layer(*layers).properties(
        width=_WIDTH,
        height=_BAND_HEIGHT,
        title=_title(
            m,
            "cumulative difference by day",
            _with_note(
                f"difference vs {control} on the units so far, pointwise {_level(view.alpha)} "
                "CI — not valid for stopping early",
                note,
            ),
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _group_sequential_chart(
    metric_result: MetricResult, data: pd.DataFrame, listing: Listing | None, note: str
) -> alt.LayerChart:
    """Each treatment's z statistic at the planned looks against the dashed ±boundary of its
    group-sequential design, and 0; ``data`` is :func:`sequential_frame`'s, ``note`` the
    listing's line for the subtitle."""
    m = metric_result.metric
    data = data[data["boundary"].notna()]
    view = next(c.sequential for c in metric_result.comparisons if c.sequential is not None)
    x = alt.X("day:T", axis=_DAY_AXIS)
    y_axis = alt.Axis(title=theme.axis_title("z statistic at each look", _BAND_HEIGHT))
    zero = theme.zero_rule(y=y_axis)
    layers = (
        zero,
        _boundary_layer(data, x, y_axis),
        _z_layer(data, x, y_axis, _treatment_colour(metric_result, listing)),
    )
    chart = alt.layer(*layers).properties(
        width=_WIDTH,
        height=_BAND_HEIGHT,
        title=_title(
            m,
            "z at each planned look",
            _with_note(
                f"group-sequential test ({_spending_name(view.spending)}-type spending): the "
                "test stops when z crosses the dashed ±boundary",
                note,
            ),
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


def _boundary_layer(data: pd.DataFrame, x: alt.X, y_axis: alt.Axis) -> alt.Chart:
    """The group-sequential boundary at each look, above and below 0: a dashed red line with
    a dot per look, one per side and treatment."""
    bounds = pd.concat(
        [
            data.assign(bound=data["boundary"], side="upper"),
            data.assign(bound=-data["boundary"], side="lower"),
        ]
    )[["variant", "day", "information_fraction", "bound", "side"]]
    return (
        alt.Chart(bounds)
        .mark_line(
            color="#b42318", strokeDash=[5, 3], point=alt.OverlayMarkDef(color="#b42318", size=20)
        )
        .encode(x=x, y=alt.Y("bound:Q", axis=y_axis), detail=["side:N", "variant:N"])
    )


def _z_layer(data: pd.DataFrame, x: alt.X, y_axis: alt.Axis, colour: alt.Color) -> alt.Chart:
    """Each treatment's z statistic at the looks, a line with a point per look, with its day,
    information fraction and boundary in the tooltip."""
    return (
        alt.Chart(data)
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(filled=True, size=40))
        .encode(
            x=x,
            y=alt.Y("z:Q", axis=y_axis),
            color=colour,
            tooltip=[
                alt.Tooltip("day:T", format="%Y-%m-%d"),
                alt.Tooltip("variant:N"),
                alt.Tooltip("information_fraction:Q", title="information", format=".0%"),
                alt.Tooltip("z:Q", format="+.3f"),
                alt.Tooltip("boundary:Q", format=".3f"),
            ],
        )
    )


def _spending_name(spending: str | None) -> str:
    """The spending function's name as written in the literature (``O'Brien–Fleming``)."""
    return (spending or "").replace("obrien-fleming", "O'Brien–Fleming").replace("pocock", "Pocock")


# ---- Bayesian posterior ------------------------------------------------------------------------
def posterior_frame(
    metric_result: MetricResult, points: int = POSTERIOR_POINTS
) -> tuple[pd.DataFrame, str]:
    """A normal density per treatment for the posterior of its effect, and the scale.

    The scale is the Bayesian headline scale (``relative`` or ``absolute``). For the Gaussian
    model the posterior *is* normal: mean and standard deviation follow from the equal-tailed
    credible interval, ``sd = (hi − lo) / (2 z_{1−α/2})``. For the Beta-Binomial model the
    normal is an approximation, centred on the posterior mean with that same spread. Columns:
    ``variant``, ``effect``, ``density``, ``better`` (``True`` on the side of 0 that beats
    control, for the metric's direction). The grid is shared by all treatments and includes 0.
    """
    comps = [c for c in metric_result.comparisons if c.bayes is not None]
    columns = ["variant", "effect", "density", "better"]
    if not comps:
        return pd.DataFrame([], columns=columns), "relative"
    scale = comps[0].bayes.effect_scale if comps[0].bayes else "relative"
    params = []
    for c in comps:
        b = c.bayes
        assert b is not None
        mean = b.rel_effect if scale == "relative" else b.abs_effect
        lo, hi = b.rel_ci if scale == "relative" else b.abs_ci
        z = NormalDist().inv_cdf(1 - b.alpha / 2)
        sd = (hi - lo) / (2 * z)
        if b.method == "gaussian":
            mean = (lo + hi) / 2
        if all(math.isfinite(x) for x in (mean, sd)) and sd > 0:
            params.append((c.variant, mean, sd))
    if not params:
        return pd.DataFrame([], columns=columns), scale
    low = min(mu - 4 * sd for _, mu, sd in params)
    high = max(mu + 4 * sd for _, mu, sd in params)
    grid = np.linspace(low, high, points)
    if low < 0 < high:
        grid = np.unique(np.append(grid, 0.0))
    sign = 1 if metric_result.metric.direction == "increase" else -1
    rows = []
    for variant, mu, sd in params:
        dist = NormalDist(mu, sd)
        rows += [
            {
                "variant": variant,
                "effect": float(x),
                "density": dist.pdf(float(x)),
                "better": bool(sign * x >= 0),
            }
            for x in grid
        ]
    return pd.DataFrame(rows, columns=columns), scale


def posterior_chart(
    metric_result: MetricResult, listing: Listing | None = None
) -> alt.LayerChart | None:
    """The posterior of each treatment's effect, one curve per treatment (``None`` without one).

    The area on the better side of 0 is shaded: it is (approximately, see
    :func:`posterior_frame`) the chance to beat control. A dashed rule marks 0. ``listing``:
    the treatments drawn (the others counted in the subtitle).
    """
    full = metric_result
    metric_result = _listed(metric_result, listing)
    data, scale = posterior_frame(metric_result)
    if data.empty:
        return None
    m = metric_result.metric
    comps = [c for c in metric_result.comparisons if c.bayes is not None]
    method = comps[0].bayes.method if comps[0].bayes else "gaussian"
    control = metric_result.comparisons[0].control
    relative = scale == "relative"
    axis = (
        alt.Axis(format="+.0~%", title=f"relative effect vs {control}")
        if relative
        else theme.abs_axis(m, f"absolute difference vs {control}")
    )
    colour = _treatment_colour(metric_result, listing)
    base = alt.Chart(data).encode(x=alt.X("effect:Q", axis=axis), color=colour)
    shade = (
        base.transform_filter("datum.better")
        .mark_area(opacity=0.2)
        .encode(
            y=alt.Y("density:Q", axis=None, stack=None),
        )
    )
    curve = base.mark_line(strokeWidth=2).encode(
        y=alt.Y("density:Q", axis=None),
        tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("effect:Q", format="+.3~g")],
    )
    zero = theme.zero_rule(x=axis)
    side = "above" if m.direction == "increase" else "below"
    model = (
        "normal posterior"
        if method == "gaussian"
        else "normal approximation of the Beta-Binomial posterior"
    )
    chart = alt.layer(zero, shade, curve).properties(
        width=_WIDTH,
        height=_SMALL_HEIGHT,
        title=_title(
            m,
            "posterior of the effect",
            _with_note(
                f"{model}; shaded: effect {side} 0, the chance to beat control",
                rest_note(listing, full),
            ),
        ),
    )
    return cast("alt.LayerChart", theme.configure(chart))


# ---- bootstrap ---------------------------------------------------------------------------------
BOOTSTRAP_COLUMNS = ["variant", "bin_start", "bin_end", "count", "effect", "ci_low", "ci_high"]


def bootstrap_frame(metric_result: MetricResult) -> pd.DataFrame:
    """The bootstrap histogram of each treatment's effect: one row per variant × bin.

    ``bin_start``/``bin_end``/``count`` come from the result's histogram (never the resamples
    themselves); ``effect``, ``ci_low`` and ``ci_high`` repeat the point estimate and interval.
    """
    rows = []
    for c in metric_result.comparisons:
        bs = c.bootstrap
        if bs is None:
            continue
        edges, counts = bs.histogram.edges, bs.histogram.counts
        for k, count in enumerate(counts):
            rows.append(
                {
                    "variant": c.variant,
                    "bin_start": float(edges[k]),
                    "bin_end": float(edges[k + 1]),
                    "count": int(count),
                    "effect": _finite(bs.effect),
                    "ci_low": _finite(bs.ci[0]),
                    "ci_high": _finite(bs.ci[1]),
                }
            )
    return pd.DataFrame(rows, columns=BOOTSTRAP_COLUMNS)


def bootstrap_chart(
    metric_result: MetricResult, listing: Listing | None = None
) -> alt.VConcatChart | None:
    """One small histogram per treatment of its bootstrap effects, interval marked.

    Bars: the bootstrap distribution; dark rules: the interval; solid rule: the estimate; dashed
    grey rule: 0. ``None`` when no bootstrap was run. ``listing``: the treatments drawn (the
    others counted in the subtitle).
    """
    full = metric_result
    metric_result = _listed(metric_result, listing)
    data = bootstrap_frame(metric_result)
    if data.empty:
        return None
    m = metric_result.metric
    boots = [c for c in metric_result.comparisons if c.bootstrap is not None]
    first = boots[0].bootstrap
    assert first is not None
    level = _level(first.alpha)
    method = {"bca": "BCa", "percentile": "percentile"}.get(first.method, first.method)
    stat = first.statistic
    stats = stat + "s" if stat in ("mean", "median") else stat
    what = f"{'relative ' if first.effect_type == 'relative' else ''}difference in {stats}"
    lo = float(min(data["bin_start"].min(), data["ci_low"].min(), 0.0))
    hi = float(max(data["bin_end"].max(), data["ci_high"].max(), 0.0))
    x_scale = alt.Scale(domain=[lo, hi], nice=False)
    panels = []
    for i, c in enumerate(boots):
        part = data[data["variant"] == c.variant]
        colour = arm_colours(list(metric_result.variants), [c.variant], listing).range[0]
        # only the bottom panel's axis has a title; the others share it
        title = f"{what} vs {c.control}" if i == len(boots) - 1 else None
        axis = (
            alt.Axis(format="+.0~%", title=title)
            if first.effect_type == "relative"
            else theme.abs_axis(m, title)
        )
        zero = (
            alt.Chart(pd.DataFrame({"x": [0.0]}))
            .mark_rule(color="#9e9e9e", strokeDash=[2, 2])
            .encode(x=alt.X("x:Q", scale=x_scale))
        )
        layers = (
            zero,
            _bootstrap_histogram(part, c, colour, axis, x_scale),
            _bootstrap_rules(part, level, x_scale, legend=i == 0),
        )
        panels.append(
            alt.layer(*layers).properties(
                width=_WIDTH,
                height=80,
                title=theme.title(f"{c.variant} − {c.control}", fontSize=12),
            )
        )
    chart = alt.vconcat(*panels, spacing=8).properties(
        title=_title(
            m,
            "bootstrap distribution",
            _with_note(
                f"{first.n_resamples:,} resamples of the {what}; {level} {method} interval",
                rest_note(listing, full),
            ),
        )
    )
    return cast("alt.VConcatChart", theme.configure(chart))


def _bootstrap_histogram(
    part: pd.DataFrame, comparison: Comparison, colour: str, axis: alt.Axis, x_scale: alt.Scale
) -> alt.Chart:
    """One treatment's bootstrap distribution (its rows of :func:`bootstrap_frame`) as a
    stepped area: the outline of the histogram's bars, one path rather than a rect per bin."""
    steps = pd.DataFrame(
        {
            "x": [*part["bin_start"], float(part["bin_end"].iloc[-1])],
            "count": [*part["count"], int(part["count"].iloc[-1])],
        }
    )
    c = comparison
    return (
        alt.Chart(steps)
        .mark_area(color=colour, opacity=0.75, interpolate="step-after")
        .encode(
            x=alt.X("x:Q", axis=axis, scale=x_scale),
            y=alt.Y("count:Q", title="resamples"),
            description=alt.DescriptionValue(
                f"bootstrap distribution of {c.variant} − {c.control}, "
                f"{int(part['count'].sum()):,} resamples in {len(part)} bins"
            ),
        )
    )


def _bootstrap_rules(
    part: pd.DataFrame, level: str, x_scale: alt.Scale, *, legend: bool
) -> alt.Chart:
    """Dark rules at one treatment's estimate (solid) and at its interval's ends (dashed); the
    legend of the two dash styles only where ``legend``."""
    marks = pd.DataFrame(
        [
            {"x": float(part["ci_low"].iloc[0]), "what": f"{level} CI"},
            {"x": float(part["ci_high"].iloc[0]), "what": f"{level} CI"},
            {"x": float(part["effect"].iloc[0]), "what": "estimate"},
        ]
    ).dropna()
    return (
        alt.Chart(marks)
        .mark_rule(strokeWidth=2, color="#1b1b1b")
        .encode(
            x=alt.X("x:Q", scale=x_scale),
            strokeDash=alt.StrokeDash(
                "what:N",
                scale=alt.Scale(domain=["estimate", f"{level} CI"], range=[[1, 0], [6, 3]]),
                title=None,
                legend=alt.Legend(orient="right") if legend else None,
            ),
        )
    )


# The data transformer liftlab's notebooks enable (:func:`frame_values`).
DATA_TRANSFORMER = "liftlab"
_MAX_ROWS = 5000  # Altair's default limit: a larger frame gets Altair's own error


def frame_values(data: Any, max_rows: int = _MAX_ROWS) -> Any:
    """Altair's default data transformer, faster on the frames liftlab's charts draw.

    A pandas DataFrame of at most ``max_rows`` rows whose columns are all floats, integers,
    booleans, times, strings or objects becomes ``{"values": records}`` with the values
    Altair's ``sanitize_pandas_dataframe`` and ``to_dict(orient="records")`` give: Python
    floats with NaN and infinities as None, Python ints and bools, times as full ISO strings
    (NaT as ""), missing strings and objects as None, NumPy arrays as lists. Anything else
    (categories, nullable types, other data) goes to Altair's default transformer. Altair's version copies the frame and converts each
    column in pandas: a fifth of a report's chart time. The test suite checks that every demo
    chart's spec is the same with either.
    """
    columns = _plain_columns(data, max_rows)
    if columns is None:
        from altair.vegalite.data import default_data_transformer

        return default_data_transformer(data, max_rows=max_rows)
    names = [str(name) for name in data.columns]
    return {"values": [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]}


def _plain_columns(data: Any, max_rows: int) -> list[list[Any]] | None:
    """Each column's JSON-ready values (see :func:`frame_values`), or None to leave the frame
    to Altair."""
    if not isinstance(data, pd.DataFrame) or len(data) > max_rows:
        return None
    if not all(isinstance(name, str) for name in data.columns) or data.columns.has_duplicates:
        return None
    if isinstance(data.index, pd.MultiIndex):
        return None
    out = []
    for name in data.columns:
        values = _plain_values(data[name])
        if values is None:
            return None
        out.append(values)
    return out


def _plain_values(col: pd.Series) -> list[Any] | None:
    kind, name = col.dtype.kind, str(col.dtype)
    if name in ("str", "string", "object"):
        return [_plain(v) for v in col.to_numpy(dtype=object)]
    if name == "float64":
        return [float(v) if math.isfinite(v) else None for v in col.to_numpy().tolist()]
    if name in ("int64", "int32", "bool"):
        return cast("list[Any]", col.to_numpy().tolist())
    if kind == "M":  # a full ISO time, as Vega reads it in local time (Altair's rule)
        return ["" if t is pd.NaT else t.isoformat() for t in col]
    return None


def _plain(v: Any) -> Any:
    """An object column's value as Altair writes it: an array as a list, a missing value
    (as pandas' ``notnull`` sees one: None, NaN, NaT, ``pd.NA``) as None, a NumPy scalar as
    the Python value ``to_dict`` gives."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float | np.floating) and v != v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _use_frame_values() -> None:
    if DATA_TRANSFORMER not in alt.data_transformers.names():
        alt.data_transformers.register(DATA_TRANSFORMER, frame_values)
    alt.data_transformers.enable(DATA_TRANSFORMER)


def use_static_renderer() -> None:
    """Render charts as inline SVG (``image/svg+xml``, drawn by ``vl-convert``).

    The exported HTML then draws every chart without JavaScript or a CDN, so a report opens
    offline and reads the same in ten years. Altair's default renderer would load Vega from a
    CDN. :func:`use_notebook_renderer` adds the interactive chart for JupyterLab to the SVG.
    """
    alt.renderers.enable("svg")
    _use_frame_values()


# JupyterLab 4 draws Vega-Lite 5 itself (its vega5 extension, no CDN) for this mime type; it
# has none for Vega-Lite 6, which Altair writes (``alt.SCHEMA_VERSION``). liftlab's charts use
# nothing Vega-Lite 6 added: each compiles with Vega-Lite 5 (the tests check it).
VEGALITE_MIME = "application/vnd.vegalite.v5+json"
VEGALITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
NOTEBOOK_RENDERER = "liftlab-notebook"


def notebook_mimebundle(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """A chart's mimebundle for notebooks: the Vega-Lite spec and the same chart as SVG.

    ``application/vnd.vegalite.v5+json`` (:data:`VEGALITE_MIME`): the spec, its ``$schema``
    set to Vega-Lite 5, which JupyterLab draws interactively (tooltips) with its own copy of
    Vega; ``image/svg+xml``: the chart drawn by ``vl-convert``, as :func:`use_static_renderer`
    draws it. nbconvert's HTML export picks the SVG (Vega-Lite is not in its display
    priority), so a report exported from the notebook stays offline, with no script.
    """
    from altair.utils.mimebundle import spec_to_mimebundle

    svg = spec_to_mimebundle(
        spec,
        format="svg",
        mode="vega-lite",
        vega_version=alt.VEGA_VERSION,
        vegaembed_version=alt.VEGAEMBED_VERSION,
        vegalite_version=alt.VEGALITE_VERSION,
        **metadata,
    )
    assert isinstance(svg, dict)
    return {VEGALITE_MIME: {**spec, "$schema": VEGALITE_SCHEMA}, **svg}


def use_notebook_renderer() -> None:
    """Render charts as both an interactive Vega-Lite chart and inline SVG
    (:func:`notebook_mimebundle`): interactive in JupyterLab, static and offline in the
    exported HTML. The report and explore notebooks use it."""
    if NOTEBOOK_RENDERER not in alt.renderers.names():
        alt.renderers.register(NOTEBOOK_RENDERER, notebook_mimebundle)
    alt.renderers.enable(NOTEBOOK_RENDERER)
    _use_frame_values()


def show(*items: Any) -> None:
    """Display ``items`` in order, as ``IPython.display.display(*items)`` would, drawing
    the charts among them two at a time and without validating their specs again.

    Displaying a chart validates its Vega-Lite spec against the schema (``to_dict``) before
    the renderer draws it; liftlab's chart builders are validated by the test suite, and the
    check costs about a third of a report's chart time. The renderer (:func:`use_notebook_renderer`
    or :func:`use_static_renderer`) then draws each chart with vl-convert, which lets go of
    the GIL: two threads draw two charts at once. Each chart's output (its mimebundle) is the
    one ``display(chart)`` gives (with its plain-text form); other items are displayed as
    they are.
    """
    from concurrent.futures import ThreadPoolExecutor

    from IPython.display import display

    drawn = [i for i, item in enumerate(items) if isinstance(item, alt.TopLevelMixin)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="liftlab-chart") as pool:
        bundles = dict(zip(drawn, pool.map(lambda i: _bundle(items[i]), drawn), strict=True))
    for i, item in enumerate(items):
        if i in bundles:
            data, metadata = bundles[i]
            display(data, metadata=metadata, raw=True)
        else:
            display(item)


def _bundle(chart: alt.TopLevelMixin) -> tuple[dict[str, Any], dict[str, Any]]:
    """A chart's mimebundle (data, metadata) from the active renderer, from its unvalidated
    spec (as Altair's ``_repr_mimebundle_`` builds it, without the schema check)."""
    spec = chart.to_dict(validate=False, context={"pre_transform": False})
    renderer = alt.renderers.get()
    got = renderer(spec) if renderer is not None else {}
    data, metadata = (dict(got[0]), dict(got[1])) if isinstance(got, tuple) else (dict(got), {})
    return {**data, "text/plain": repr(chart)}, metadata  # as IPython adds to a display
