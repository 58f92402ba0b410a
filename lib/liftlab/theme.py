"""The look every liftlab chart shares: sizes, font, colours, wrapped titles, axes.

The charts of :mod:`liftlab.charts` and of the kinds' sections (:mod:`liftlab.views`) are
drawn to SVG by vl-convert, which lays the text out with the metrics of the font it is given,
then read in a browser that may draw it with another. So that no title, label or legend is cut
or collides when the reader's font is wider than the one measured (DejaVu Sans, common on
Linux, is about a sixth wider than Arial), the charts

- ask for :data:`FONT`, Arial first with its metric twins (Liberation Sans on Linux,
  Helvetica on macOS), the metrics vl-convert measures with;
- wrap chart titles, subtitles and long axis titles into lines measured in the wider font
  (:func:`wrap`, :func:`title`, :func:`axis_title`), so they fit the plot either way;
- keep :data:`PADDING` around the chart for labels and legends that grow, and a gap of
  :data:`LABEL_SEPARATION` between tick labels (Vega hides the labels that would come closer).

:func:`configure` applies the font, padding and label settings to a top-level chart; every
chart function calls it last (Vega-Lite allows a config on the top-level chart only). The
``liftlab check`` command flags a cut, truncated or overlapping text
(:mod:`liftlab.browser`); ``browser.WIDE_FONT_CSS`` draws a page in the wider font.

Colours: :data:`PALETTE` gives each variant a fixed colour by its place in the plan
(:func:`variant_colours`), the same in every chart; :data:`SIGNIFICANCE_COLOURS` colours a
comparison by :data:`SIGNIFICANT` or :data:`NOT_SIGNIFICANT`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

import altair as alt
import pandas as pd

if TYPE_CHECKING:
    from liftlab.plan import Metric

# ---- sizes (CSS pixels) -----------------------------------------------------------------------
WIDTH = 560  # the plot area of a full-width chart; a report's content column is ~1030 px
SMALL_HEIGHT = 150  # the plot area of a short chart (one line or band per variant over days)
PADDING = {"left": 24, "right": 24, "top": 6, "bottom": 6}  # room for text drawn wider
LABEL_SEPARATION = 8  # the least gap between two tick labels (closer ones are hidden)
LEGEND_LABEL_LIMIT = 240  # legend labels are never truncated below this width

# ---- text -------------------------------------------------------------------------------------
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
TITLE_SIZE = 13  # chart title, bold
SUBTITLE_SIZE = 11
AXIS_TITLE_SIZE = 11  # bold
LABEL_SIZE = 10  # tick and legend labels

# ---- colours ----------------------------------------------------------------------------------
SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
SIGNIFICANCE_COLOURS = alt.Scale(
    domain=[SIGNIFICANT, NOT_SIGNIFICANT], range=["#1f77b4", "#9e9e9e"]
)
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#9d755d",
    "#ff9da6",
    "#bab0ac",
)
OTHER_COLOUR = "#444"  # a variant not in the plan; also the dashed rule at zero
DAY_AXIS = alt.Axis(format="%b %d", title=None, labelAngle=0, tickMinStep=86_400_000)

# Advance widths in em of DejaVu Sans (the widest common sans-serif), rounded up: wrapping by
# them leaves room whichever font the browser draws with.
_NARROW = set(" .,:;'|!il()[]jtfI-")
_WIDE = set("mwMW%@—")
_EM_BOLD = 1.1  # bold is about a tenth wider


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """An upper estimate of the width of ``text`` in pixels at font ``size``."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.36
        elif ch in _WIDE:
            em += 0.98
        elif ch.isupper():
            em += 0.74
        elif ch.isdigit():
            em += 0.64
        else:
            em += 0.63
    return em * size * (_EM_BOLD if bold else 1.0)


def wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` px (by :func:`text_width`).

    A single word wider than ``width`` keeps a line of its own. ``[]`` for empty text.
    """
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size, bold=bold) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def title(
    text: str, subtitle: str | None = None, *, width: float = WIDTH, **kw: Any
) -> alt.TitleParams:
    """A chart title anchored at the start, title and subtitle wrapped to ``width`` px.

    ``kw`` go to :class:`altair.TitleParams` (e.g. ``fontSize`` for a panel title).
    """
    size = kw.get("fontSize", TITLE_SIZE)
    lines: Any = wrap(text, width, size, bold=True)
    params: dict[str, Any] = {"anchor": "start", **kw}
    if subtitle:
        params["subtitle"] = wrap(subtitle, width, SUBTITLE_SIZE)
    return alt.TitleParams(lines if len(lines) > 1 else text, **params)


def axis_title(text: str | None, length: float) -> str | list[str] | None:
    """An axis title, in lines when it is longer than the axis (``length`` px)."""
    if not text:
        return None
    lines = wrap(text, length, AXIS_TITLE_SIZE, bold=True)
    return lines if len(lines) > 1 else text


def metric_label(metric: Metric) -> str:
    """The metric's name for readers: its ``label``, else its name with spaces (as
    :func:`liftlab.decision.display_of` and every other surface name it)."""
    return metric.label or metric.name.replace("_", " ")


def metric_title(metric: Metric, what: str, subtitle: str) -> alt.TitleParams:
    """``"<metric label>: <what>"`` over ``subtitle``, wrapped to :data:`WIDTH`."""
    return title(f"{metric_label(metric)}: {what}", subtitle)


def abs_axis(metric: Metric, text: str | None, *, length: float = WIDTH) -> alt.Axis:
    """An axis for an absolute difference: percentage points for a proportion metric.

    ``length`` is the axis's length in px, to wrap the title into (see :func:`axis_title`).
    """
    if metric.type == "proportion":
        return alt.Axis(
            title=axis_title(f"{text} (percentage points)" if text else None, length),
            labelExpr="format(datum.value * 100, '+.2~f')",
        )
    return alt.Axis(title=axis_title(text, length), format="+,~r")


def zero_rule(
    *, x: alt.Axis | None = None, y: alt.Axis | None = None, scale: alt.Scale | None = None
) -> alt.Chart:
    """The dashed rule that marks no change: at 0 on the effect axis, vertical on an ``x``
    axis, horizontal on a ``y`` axis; ``scale``: the effect axis's, where the chart sets one."""
    rule = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color=OTHER_COLOUR, strokeDash=[4, 4])
    if x is not None:
        return rule.encode(x=alt.X("zero:Q", axis=x, scale=scale or alt.Undefined))
    return rule.encode(y=alt.Y("zero:Q", axis=y, scale=scale or alt.Undefined))


Chart = TypeVar("Chart", bound=alt.TopLevelMixin)


def configure(chart: Chart) -> Chart:
    """``chart`` with the shared font, padding, title sizes and label spacing (top level only)."""
    return chart.configure(  # type: ignore[no-any-return]
        font=FONT,
        padding=PADDING,
        title=alt.TitleConfig(
            fontSize=TITLE_SIZE, subtitleFontSize=SUBTITLE_SIZE, subtitlePadding=4, offset=8
        ),
        axis=alt.AxisConfig(
            labelFontSize=LABEL_SIZE,
            titleFontSize=AXIS_TITLE_SIZE,
            labelSeparation=LABEL_SEPARATION,
            labelOverlap=True,
            titlePadding=6,
            ticks=False,  # the grid marks the values; tick marks would only add lines
            labelPadding=4,
        ),
        # about one tick per 80 px: every label drawn, none hidden in the SVG for overlapping
        axisX=alt.AxisConfig(tickCount=7),
        legend=alt.LegendConfig(labelLimit=LEGEND_LABEL_LIMIT, labelFontSize=LABEL_SIZE),
    )


# ---- colours by variant -----------------------------------------------------------------------
def colour_of(variant: str, variants: list[str]) -> str:
    """The fixed colour of ``variant``, by its place in the plan's ``variants``."""
    return PALETTE[variants.index(variant) % len(PALETTE)] if variant in variants else OTHER_COLOUR


def variant_colours(variants: list[str], shown: list[str] | None = None) -> alt.Scale:
    """One fixed colour per variant (by its place in the plan), so every chart agrees.

    ``shown`` limits the legend to the variants a chart draws (e.g. the treatments only).
    """
    shown = variants if shown is None else shown
    return alt.Scale(domain=shown, range=[colour_of(v, variants) for v in shown])


# ---- values -----------------------------------------------------------------------------------
def level(alpha: float) -> str:
    """The confidence level of ``alpha`` as a percentage: ``0.05`` → ``"95%"``."""
    return f"{1 - alpha:.0%}"


def nan_to_none(x: float | None) -> float | None:
    """``x`` as a float, ``None`` where it is missing or not finite (a JSON null in a spec)."""
    return None if x is None or not math.isfinite(x) else float(x)


def finite(x: float | None) -> float:
    """``x`` as a float, NaN where it is missing or infinite (pandas drops it as missing)."""
    return float(x) if x is not None and math.isfinite(x) else math.nan
