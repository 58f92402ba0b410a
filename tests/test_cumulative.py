"""The cumulative effect by day of plans that are not sequential (fixed horizon, pointwise).

Where each expected number comes from (at a day: the unit rows exposed up to and including it):

- mean and proportion metrics: ``scipy.stats.ttest_ind(equal_var=False)`` and its
  ``confidence_interval()``;
- ratio metrics: the delta method written out in numpy on the linearised unit values
  ``(y − R·x) / x̄`` of each arm, with a normal interval and p-value;
- CUPED: the treatment coefficient of the OLS fit ``y ~ 1 + treated + x`` (numpy lstsq);
- the last look: the final comparison of the same analysis (all the data).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pytest
import vl_convert as vlc
from scipy import stats as sps

from liftlab import Results, analyze, charts, load_plan, present
from liftlab.aggregate import unit_statistics
from liftlab.analysis import analyze_statistics
from liftlab.monitor import fixed_horizon_view
from liftlab.stats.frequentist import welch_test
from liftlab.stats.moments import Moments
from liftlab.units import open_units
from tests.conftest import base_plan, write_plan, write_table

MARK = re.compile(r'aria-roledescription="([a-z]+) mark"')
# the same look record as the sequential view's; a pointwise look has no z, boundary or stop
LOOK_KEYS = {
    "day",
    "n_control",
    "n_treatment",
    "estimate",
    "se",
    "ci",
    "p_value",
    "z",
    "boundary",
    "information_fraction",
    "rejected",
}
TREATMENTS = ("b", "c")


def _raw(units: dict[str, Any], *, timestamp: bool = True, **analysis: Any) -> dict[str, Any]:
    raw = base_plan(str(units["path"]))
    if timestamp:
        raw["data"]["timestamp"] = "exposed_at"
    raw["analysis"].update(analysis)
    return raw


def _analyze(tmp_path: Path, units: dict[str, Any], **kw: Any) -> Results:
    """``base_plan`` on the ``units`` table (3 arms, 7 days), with ``analysis`` overrides."""
    return analyze(load_plan(write_plan(tmp_path / "plan.yaml", _raw(units, **kw))))


def _exposed_by(units: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's UTC exposure day and the distinct days, in order."""
    day = units["cols"]["exposed_at"].astype("datetime64[D]")
    return day, np.unique(day)


def _arm(units: dict[str, Any], column: str, variant: str, sel: np.ndarray) -> np.ndarray:
    cols = units["cols"]
    return np.asarray(cols[column], dtype=float)[sel & (cols["variant"] == variant)]


def _close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# ---- the numbers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metric", "column"), [("revenue", "revenue"), ("conversion", "converted")]
)
def test_looks_are_welch_on_the_units_exposed_so_far(
    tmp_path: Path, units: dict[str, Any], metric: str, column: str
) -> None:
    res = _analyze(tmp_path, units)
    day, days = _exposed_by(units)
    for v in TREATMENTS:
        view = res.metric(metric).comparison(v).cumulative
        assert view is not None and view.kind == "fixed-horizon" and view.alpha == 0.05
        assert [lk.day for lk in view.looks] == [d.astype(object) for d in days]
        for look, d in zip(view.looks, days, strict=True):
            sel = day <= d
            c, t = _arm(units, column, "control", sel), _arm(units, column, v, sel)
            ref = sps.ttest_ind(t, c, equal_var=False)
            lo, hi = ref.confidence_interval(confidence_level=0.95)
            assert (look.n_control, look.n_treatment) == (c.size, t.size)
            assert _close(look.estimate, t.mean() - c.mean())
            assert _close(look.se, math.sqrt(c.var(ddof=1) / c.size + t.var(ddof=1) / t.size))
            assert _close(look.ci_low, lo) and _close(look.ci_high, hi)
            assert _close(look.p_value, ref.pvalue)


def test_ratio_looks_are_the_delta_method_in_numpy(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    day, days = _exposed_by(units)
    z = sps.norm.ppf(0.975)

    def ratio_and_var(variant: str, sel: np.ndarray) -> tuple[float, float]:
        y, x = _arm(units, "clicks", variant, sel), _arm(units, "impressions", variant, sel)
        r = y.sum() / x.sum()
        lin = (y - r * x) / x.mean()  # linearised values: Var(R) ≈ Var(lin) / n
        return r, lin.var(ddof=1) / y.size

    for v in TREATMENTS:
        view = res.metric("ctr").comparison(v).cumulative
        assert view is not None
        for look, d in zip(view.looks, days, strict=True):
            r_c, v_c = ratio_and_var("control", day <= d)
            r_t, v_t = ratio_and_var(v, day <= d)
            est, se = r_t - r_c, math.sqrt(v_c + v_t)
            assert _close(look.estimate, est)
            assert _close(look.se, se)
            assert _close(look.ci_low, est - z * se) and _close(look.ci_high, est + z * se)
            assert _close(look.p_value, 2 * sps.norm.sf(abs(est) / se))


def test_cuped_look_is_the_ols_treatment_coefficient(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    day, days = _exposed_by(units)
    view = res.metric("revenue_cuped").comparison("b").cumulative
    assert view is not None
    for k in (1, len(days) // 2, len(days) - 1):
        sel = day <= days[k]
        y_c, y_t = _arm(units, "revenue", "control", sel), _arm(units, "revenue", "b", sel)
        x_c, x_t = (_arm(units, "pre_revenue", v, sel) for v in ("control", "b"))
        y, x = np.concatenate([y_c, y_t]), np.concatenate([x_c, x_t])
        treated = np.concatenate([np.zeros(y_c.size), np.ones(y_t.size)])
        design = np.column_stack([np.ones_like(y), treated, x])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        assert _close(view.looks[k].estimate, float(coef[1]), rel=1e-8)


@pytest.mark.parametrize("method", ["frequentist", "bayesian"])
def test_last_look_is_the_final_analysis(
    tmp_path: Path, units: dict[str, Any], method: str
) -> None:
    res = _analyze(tmp_path, units, method=method)
    for m in res.metrics:
        assert m.status == "ok"
        for c in m.comparisons:
            assert c.cumulative is not None
            last, e = c.cumulative.looks[-1], c.effect
            assert (last.n_control, last.n_treatment) == (
                m.variants[c.control].n,
                m.variants[c.variant].n,
            )
            for got, want in (
                (last.estimate, e.abs_effect),
                (last.se, e.abs_se),
                (last.ci_low, e.abs_ci[0]),
                (last.ci_high, e.abs_ci[1]),
                (last.p_value, e.p_value),
            ):
                assert _close(got, want, rel=1e-12), (m.metric.name, c.variant)


def test_view_refuses_a_test_at_another_level() -> None:
    days = [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    looks = [(Moments.from_arrays([0.0, 1.0, 2.0]), Moments.from_arrays([1.0, 2.0, 4.0]))] * 2

    def test(c: Moments, t: Moments):  # type: ignore[no-untyped-def]
        return welch_test(c, t, alpha=0.1)

    assert fixed_horizon_view(days, looks, test, alpha=0.1).looks[0].ci_low < 0
    with pytest.raises(ValueError, match="alpha"):
        fixed_horizon_view(days, looks, test, alpha=0.05)


# ---- when there is none ------------------------------------------------------------------------
def test_no_cumulative_view_without_two_days_or_when_sequential(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    def views(res: Results) -> list[Any]:
        return [c.cumulative for m in res.metrics for c in m.comparisons]

    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    assert views(seq) == [None] * 8
    assert all(c.sequential is not None for m in seq.metrics for c in m.comparisons)
    assert views(_analyze(tmp_path, units, timestamp=False)) == [None] * 8
    # precomputed statistics without a day
    plan = load_plan(write_plan(tmp_path / "plan.yaml", _raw(units)))
    stats = unit_statistics(plan, open_units(plan))
    bare = dataclasses.replace(stats, days=[], daily={}, daily_counts={})
    assert views(analyze_statistics(plan, bare)) == [None] * 8
    # every unit exposed on one day: one look is no view
    cols = dict(units["cols"])
    cols["exposed_at"] = np.full(len(cols["user_id"]), np.datetime64("2026-03-01T12:00:00", "s"))
    one_day = write_table(tmp_path / "one-day.parquet", cols)
    raw = _raw(units)
    raw["data"]["units"] = str(one_day)
    assert views(analyze(load_plan(write_plan(tmp_path / "one.yaml", raw)))) == [None] * 8


def test_a_failure_leaves_the_metric_standing(
    tmp_path: Path, units: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ArithmeticError("boom")

    monkeypatch.setattr("liftlab.methods.cumulative.fixed_horizon_views", broken)
    res = _analyze(tmp_path, units)
    for m in res.metrics:
        assert m.status == "ok" and len(m.comparisons) == 2
        assert all(c.cumulative is None for c in m.comparisons)
    assert "cumulative" not in json.dumps(res.to_dict())
    assert charts.cumulative_chart(res.metric("revenue")) is None


# ---- results.json ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["frequentist", "bayesian"])
def test_results_json_holds_the_looks(tmp_path: Path, units: dict[str, Any], method: str) -> None:
    res = _analyze(tmp_path, units, method=method)
    out = json.loads(res.to_json())
    _, days = _exposed_by(units)
    for m_json, m in zip(out["metrics"], res.metrics, strict=True):
        for c_json, c in zip(m_json["comparisons"], m.comparisons, strict=True):
            section = c_json["cumulative"]
            assert set(section) == {"kind", "alpha", "looks"}
            assert section["kind"] == "fixed-horizon" and section["alpha"] == 0.05
            assert [lk["day"] for lk in section["looks"]] == [str(d) for d in days]
            assert all(set(lk) == LOOK_KEYS for lk in section["looks"])
            assert c.cumulative is not None
            for lk, look in zip(section["looks"], c.cumulative.looks, strict=True):
                assert lk["estimate"] == look.estimate and lk["ci"] == [look.ci_low, look.ci_high]
                assert lk["z"] is None and lk["boundary"] is None and lk["rejected"] is False
                assert lk["p_value"] == look.p_value and lk["n_control"] == look.n_control
    # the same inputs give the same file
    again = _analyze(tmp_path, units, method=method)
    same = dataclasses.replace(again, generated_at=res.generated_at)
    assert same.to_json() == res.to_json()


def test_results_json_has_no_section_for_sequential_plans(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    comps = [c for m in seq.to_dict()["metrics"] for c in m["comparisons"]]
    assert comps and all("sequential" in c and "cumulative" not in c for c in comps)


def test_undefined_look_values_are_null(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    m = res.metric("revenue")
    c = m.comparison("b")
    assert c.cumulative is not None
    looks = list(c.cumulative.looks)
    looks[0] = dataclasses.replace(looks[0], ci_low=math.nan, ci_high=math.inf, p_value=math.nan)
    view = dataclasses.replace(c.cumulative, looks=tuple(looks))
    odd = dataclasses.replace(c, methods={**c.methods, "cumulative": view})
    m2 = dataclasses.replace(m, comparisons=[odd, m.comparison("c")])
    res2 = dataclasses.replace(res, metrics=[m2])
    first = json.loads(res2.to_json())["metrics"][0]["comparisons"][0]["cumulative"]["looks"][0]
    assert first["ci"] == [None, None] and first["p_value"] is None
    # the chart draws no band on that day
    data = charts.cumulative_frame(m2)
    assert data.loc[0, ["ci_low", "ci_high"]].isna().all()
    assert data[["ci_low", "ci_high"]].notna().all(axis=1).sum() == len(data) - 1


# ---- chart and text ----------------------------------------------------------------------------
def _marks(chart: alt.TopLevelMixin) -> Counter[str]:
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.lstrip().startswith("<svg")
    return Counter(MARK.findall(svg))


def test_chart_plots_one_row_per_day_and_treatment(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    m = res.metric("revenue")
    data = charts.cumulative_frame(m)
    assert list(data.columns) == charts.CUMULATIVE_COLUMNS
    _, days = _exposed_by(units)
    assert len(data) == len(days) * len(m.comparisons) == 7 * 2
    for v in TREATMENTS:
        view = m.comparison(v).cumulative
        assert view is not None
        rows = data[data["variant"] == v]
        np.testing.assert_allclose(rows["estimate"], [lk.estimate for lk in view.looks])
        np.testing.assert_allclose(rows["ci_high"], [lk.ci_high for lk in view.looks])
    # aggregates only: no unit value in the chart's data
    assert not set(data["estimate"]) & {float(x) for x in units["cols"]["revenue"]}
    chart = charts.cumulative_chart(m)
    assert chart is not None
    spec = json.dumps(chart.to_dict())
    assert "pointwise 95% CI" in spec and "not valid for stopping early" in spec
    marks = _marks(chart)
    assert marks["area"] == 2 and marks["line"] == 2 and marks["rule"] >= 1
    # proportions too (percentage-point axis)
    assert _marks(charts.cumulative_chart(res.metric("conversion")))["area"] == 2  # type: ignore[arg-type]


def test_metric_views_show_it_after_the_forest_plot(tmp_path: Path, units: dict[str, Any]) -> None:
    def titles(res: Results, name: str) -> list[str]:
        views = present.metric_views(res.metric(name), res)
        return [
            v.to_dict()["title"]["text"] if isinstance(v, alt.TopLevelMixin) else type(v).__name__
            for v in views
        ]

    freq = _analyze(tmp_path, units)
    shown = titles(freq, "revenue")
    forest = shown.index("revenue (primary)")
    assert shown[forest + 1] == "revenue: cumulative difference by day"
    assert shown[forest + 2] == "Markdown"
    bayes = _analyze(tmp_path, units, method="bayesian")
    shown = titles(bayes, "conversion")
    assert shown.index("conversion: cumulative difference by day") < shown.index(
        "conversion: posterior of the effect"
    )
    caption = present.cumulative_markdown(bayes.metric("conversion"))
    assert "novelty" in caption and "peeking" in caption and "not the posterior" in caption
    assert "not the posterior" not in present.cumulative_markdown(freq.metric("revenue"))
    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    assert "revenue: cumulative difference by day" not in titles(seq, "revenue")
    assert present.cumulative_markdown(seq.metric("revenue")) == ""


def test_conventions_mention_it_only_when_shown(tmp_path: Path, units: dict[str, Any]) -> None:
    text = present.conventions_markdown(_analyze(tmp_path, units))
    assert "**Cumulative difference by day**" in text and "7 days" in text
    assert "not valid for stopping early" in text
    bare = present.conventions_markdown(_analyze(tmp_path, units, timestamp=False))
    assert "Cumulative difference" not in bare
