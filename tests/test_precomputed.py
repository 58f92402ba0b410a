"""Precomputed sufficient statistics give the same results as the unit table they summarise."""

from __future__ import annotations

import pandas as pd
import pytest

from liftlab import DataError, analyze
from liftlab.aggregate import unit_statistics
from liftlab.plan import load_plan
from liftlab.units import open_units
from tests.conftest import base_plan, write_plan


def _stats_file(tmp_path, units) -> tuple:
    raw = base_plan(str(units["path"]))
    raw["data"]["timestamp"] = "exposed_at"
    unit_plan = load_plan(write_plan(tmp_path / "u.yaml", raw))
    stats = unit_statistics(unit_plan, open_units(unit_plan))
    rows = []
    for metric, per_variant in stats.daily.items():
        for variant, series in per_variant.items():
            for day, m in zip(stats.days, series, strict=True):
                rows.append(
                    {
                        "metric": metric,
                        "variant": variant,
                        "day": day,
                        "n": m.n,
                        "sum_y": m.sum_y,
                        "sum_y2": m.sum_y2,
                        "sum_x": m.sum_x,
                        "sum_x2": m.sum_x2,
                        "sum_xy": m.sum_xy,
                    }
                )
    pd.DataFrame(rows).to_csv(tmp_path / "stats.csv", index=False)
    pre = base_plan("x.parquet")
    pre["data"] = {"statistics": "stats.csv"}
    for m in pre["metrics"]:
        for key in ("column", "numerator", "denominator"):
            m.pop(key, None)
        if m.get("covariate"):
            m["covariate"] = "pre_revenue"  # a name for the record; the sums carry it
    return unit_plan, pre


def test_precomputed_statistics_match_the_unit_table(tmp_path, units):
    unit_plan, pre = _stats_file(tmp_path, units)
    a = analyze(unit_plan)
    b = analyze(load_plan(write_plan(tmp_path / "p.yaml", pre)))
    for m in ("conversion", "revenue", "revenue_cuped", "ctr"):
        for v in ("b", "c"):
            ea, eb = a.metric(m).comparison(v).effect, b.metric(m).comparison(v).effect
            assert eb.p_value == pytest.approx(ea.p_value, rel=1e-9)
            assert eb.abs_ci[0] == pytest.approx(ea.abs_ci[0], rel=1e-9)
    assert b.srm.counts == a.srm.counts
    assert b.traffic.units == a.traffic.units


def test_precomputed_errors(tmp_path, units):
    _, pre = _stats_file(tmp_path, units)
    df = pd.read_csv(tmp_path / "stats.csv")
    df.drop(columns=["sum_y2"]).to_csv(tmp_path / "bad.csv", index=False)
    pre["data"]["statistics"] = "bad.csv"
    with pytest.raises(DataError, match=r"data\.statistics: 'sum_y2' is not a column of bad\.csv"):
        analyze(load_plan(write_plan(tmp_path / "p.yaml", pre)))
    df[df.metric != "ctr"].to_csv(tmp_path / "noctr.csv", index=False)
    pre["data"]["statistics"] = "noctr.csv"
    with pytest.raises(DataError, match="has no rows for metric 'ctr'"):
        analyze(load_plan(write_plan(tmp_path / "p.yaml", pre)))
