"""``charts.frame_values``: the data transformer liftlab's notebooks enable.

The reference is Altair's own default data transformer
(``altair.vegalite.data.default_data_transformer``): for every frame it handles, the values
must be equal, and every demo chart's spec must be the same under either transformer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest
from altair.vegalite.data import default_data_transformer

from liftlab import charts, present, views
from liftlab.report import load_results


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f": [1.5, np.nan, np.inf, -np.inf, 0.1],
            "i": np.arange(5, dtype="int64"),
            "i32": np.arange(5, dtype="int32") - 2,
            "b": [True, False, True, False, True],
            "s": pd.array(["a", None, "c", "d", "e"], dtype="str"),
            "o": pd.Series([None, 1.0, np.float64(2.5), np.array([1, 2]), "x"], dtype=object),
            "n": pd.Series([np.nan, np.int64(3), pd.NA, "y", True], dtype=object),
            "t": pd.to_datetime(
                ["2026-11-01", None, "2026-11-03 12:30:05", "2026-11-04", "2026"], format="mixed"
            ),
        }
    )


def test_every_plain_column_as_altair_writes_it() -> None:
    frame = _frame()
    want = default_data_transformer(frame)
    got = charts.frame_values(frame)
    assert got == want
    assert got["values"][1] == {
        "f": None, "i": 1, "i32": -1, "b": False, "s": None, "o": 1.0, "n": 3, "t": ""
    }  # fmt: skip
    assert type(got["values"][2]["o"]) is float and type(got["values"][0]["i"]) is int
    assert got["values"][2]["t"] == "2026-11-03T12:30:05"


def test_a_filtered_frame_keeps_its_order_not_its_index() -> None:
    part = _frame().iloc[[4, 0, 2]]
    assert charts.frame_values(part) == default_data_transformer(part)


@pytest.mark.parametrize(
    ("column", "plain"),
    [
        (pd.Categorical(["a", "b", None]), False),
        (pd.array([1, None, 3], dtype="Int64"), False),
        (pd.to_datetime(["2026-11-01", None, "2026-11-03"]).tz_localize("Europe/Berlin"), True),
    ],
    ids=["category", "nullable-int", "time-zone"],
)
def test_other_columns_as_altair_writes_them(column: Any, plain: bool) -> None:
    """Categories and nullable types are left to Altair; times with a zone are plain."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "other": column})
    assert (charts._plain_columns(frame, 5000) is not None) == plain
    assert charts.frame_values(frame) == default_data_transformer(frame)


def test_too_many_rows_is_altairs_error() -> None:
    frame = pd.DataFrame({"x": np.arange(5001.0)})
    with pytest.raises(alt.MaxRowsError):
        charts.frame_values(frame)
    assert len(charts.frame_values(frame.head(5000))["values"]) == 5000


def _frames(chart: Any) -> list[pd.DataFrame]:
    found = [chart.data] if isinstance(getattr(chart, "data", None), pd.DataFrame) else []
    for part in ("layer", "vconcat", "hconcat", "concat"):
        for sub in getattr(chart, part, None) or []:
            found += _frames(sub)
    return found


@pytest.mark.parametrize("plan", ["landing-headline", "creative-tournament", "pricing-three-tiers"])
def test_every_demo_chart_has_the_same_spec(project: Path, plan: str, monkeypatch) -> None:
    """Each chart of the report's sections: the same spec (data included) with liftlab's
    transformer as with Altair's default, and every frame taken by the fast path."""
    monkeypatch.chdir(project)
    results = load_results(project / "experiments" / f"{plan}.yaml")
    listing = present.listed_arms(results)
    items = [
        charts.srm_chart(results.srm, listing),
        charts.traffic_chart(results.traffic, listing),
        *present.metrics_section(results),
        *views.section_views(results),
    ]
    drawn = [i for i in items if isinstance(i, alt.TopLevelMixin)]
    assert len(drawn) >= 5
    frames = [f for chart in drawn for f in _frames(chart)]
    assert frames and all(charts._plain_columns(f, 5000) is not None for f in frames)
    with alt.data_transformers.enable("default"):
        want = [c.to_dict(validate=False) for c in drawn]
    charts.use_static_renderer()
    try:
        assert alt.data_transformers.active == charts.DATA_TRANSFORMER
        got = [c.to_dict(validate=False) for c in drawn]
    finally:
        alt.data_transformers.enable("default")
        alt.renderers.enable("default")
    assert got == want
