"""The shared chart look (liftlab.theme): wrapped titles, axis titles, the top-level config."""

from __future__ import annotations

import itertools

import altair as alt
import pandas as pd
import pytest

from liftlab import theme

SUBTITLE = (
    "relative effect of each variant vs control, 95% confidence interval (fixed-horizon; "
    "the decision uses the always-valid interval)"
)


def test_text_width_grows_with_the_text_the_size_and_bold() -> None:
    assert theme.text_width("", 11) == 0
    assert theme.text_width("mmmm", 11) > theme.text_width("iiii", 11) > 0
    assert theme.text_width("effect", 22) == pytest.approx(2 * theme.text_width("effect", 11))
    assert theme.text_width("effect", 11, bold=True) > theme.text_width("effect", 11)


@pytest.mark.parametrize("width", [120, 300, 560])
def test_wrap_keeps_every_word_in_order_within_the_width(width: int) -> None:
    lines = theme.wrap(SUBTITLE, width, theme.SUBTITLE_SIZE)
    assert " ".join(lines) == SUBTITLE
    assert all(theme.text_width(line, theme.SUBTITLE_SIZE) <= width for line in lines)
    # greedy: the next line's first word would not have fitted on the line before
    for line, nxt in itertools.pairwise(lines):
        first = nxt.split()[0]
        assert theme.text_width(f"{line} {first}", theme.SUBTITLE_SIZE) > width
    assert len(lines) > 1


def test_wrap_keeps_a_word_longer_than_the_width_whole() -> None:
    assert theme.wrap("a conversion_rate_primary b", 40, 10) == [
        "a",
        "conversion_rate_primary",
        "b",
    ]
    assert theme.wrap("   ", 100, 10) == []


def test_title_is_a_string_when_it_fits_and_lines_when_not() -> None:
    short = theme.title("Traffic split", "units per variant").to_dict()
    assert short == {"text": "Traffic split", "subtitle": ["units per variant"], "anchor": "start"}
    long = theme.title("a title " * 20, SUBTITLE, width=300).to_dict()
    assert isinstance(long["text"], list) and len(long["text"]) > 1
    assert " ".join(long["text"]) == ("a title " * 20).strip()
    assert " ".join(long["subtitle"]) == SUBTITLE
    assert theme.title("x", fontSize=12).to_dict()["fontSize"] == 12


def test_axis_title_wraps_to_the_axis_length() -> None:
    assert theme.axis_title(None, 100) is None
    assert theme.axis_title("lift", 100) == "lift"
    lines = theme.axis_title("difference vs control (percentage points)", 180)
    assert isinstance(lines, list) and len(lines) == 2


def test_configure_sets_the_font_padding_and_label_gap() -> None:
    chart = alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q")
    config = theme.configure(chart).to_dict()["config"]
    assert config["font"] == theme.FONT and config["padding"] == theme.PADDING
    assert config["axis"]["labelSeparation"] == theme.LABEL_SEPARATION
    assert config["legend"]["labelLimit"] == theme.LEGEND_LABEL_LIMIT


def test_variant_colours_follow_the_plan_order() -> None:
    variants = ["control", "a", "b"]
    scale = theme.variant_colours(variants, ["b", "a"]).to_dict()
    assert scale == {"domain": ["b", "a"], "range": [theme.PALETTE[2], theme.PALETTE[1]]}
    assert theme.colour_of("nope", variants) == theme.OTHER_COLOUR
    assert theme.level(0.05) == "95%" and theme.level(0.1) == "90%"
    assert theme.nan_to_none(float("nan")) is None and theme.nan_to_none(2) == 2.0
    assert pd.isna(theme.finite(None)) and pd.isna(theme.finite(float("inf")))


def test_configure_draws_light_axes() -> None:
    chart = alt.Chart(pd.DataFrame({"x": [0.0, 1.0]})).mark_point().encode(x="x:Q")
    config = theme.configure(chart).to_dict()["config"]
    # the grid marks the values: no tick marks; about one x label per 80 px
    assert config["axis"]["ticks"] is False
    assert config["axisX"]["tickCount"] == 7 == round(theme.WIDTH / 80)


def test_metric_label_is_the_plans_label_else_the_name_with_spaces() -> None:
    from liftlab.plan import Metric

    plain = Metric.model_validate(
        {"name": "signup_rate", "role": "primary", "type": "proportion", "column": "signed_up"}
    )
    labelled = plain.model_copy(update={"label": "sign-ups"})
    assert theme.metric_label(plain) == "signup rate"
    assert theme.metric_label(labelled) == "sign-ups"
    assert (
        theme.metric_title(labelled, "posterior", "sub").to_dict()["text"] == "sign-ups: posterior"
    )
