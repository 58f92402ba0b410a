"""End to end on a unit table: the engine's sufficient statistics give scipy's numbers.

Each reference is computed at test time from the raw arrays that were written to disk:
Welch (``scipy.stats.ttest_ind(equal_var=False)``), CUPED (statsmodels OLS), Holm
(``multipletests``), SRM (``scipy.stats.chisquare``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from liftlab import DataError, analyze, parse_plan
from liftlab.plan import load_plan
from tests.conftest import base_plan, write_plan, write_table

REL = 1e-9


def _plan(tmp_path, units, mutate=None):
    raw = base_plan(str(units["path"]))
    if mutate:
        mutate(raw)
    return load_plan(write_plan(tmp_path / "plan.yaml", raw))


def test_analysis_matches_scipy_statsmodels(tmp_path, units):
    cols = units["cols"]
    res = analyze(_plan(tmp_path, units))
    v = cols["variant"]
    arm = {k: v == k for k in ("control", "b", "c")}

    # Welch on the 0/1 and the amount metrics
    for name, col in (("conversion", "converted"), ("revenue", "revenue")):
        y = np.asarray(cols[col], dtype=float)
        for variant in ("b", "c"):
            ref = sps.ttest_ind(y[arm[variant]], y[arm["control"]], equal_var=False)
            c = res.metric(name).comparison(variant)
            assert c.effect.p_value == pytest.approx(ref.pvalue, rel=REL)
            assert c.effect.abs_ci[1] == pytest.approx(ref.confidence_interval().high, rel=REL)
        assert res.metric(name).variants["b"].variance == pytest.approx(
            y[arm["b"]].var(ddof=1), rel=REL
        )

    # Holm over the primary family (2 metrics × 2 treatments), in plan order
    raw_p = [
        res.metric(m).comparison(t).effect.p_value
        for m in ("conversion", "revenue")
        for t in ("b", "c")
    ]
    adj = [
        res.metric(m).comparison(t).p_value_adjusted
        for m in ("conversion", "revenue")
        for t in ("b", "c")
    ]
    np.testing.assert_allclose(adj, multipletests(raw_p, method="holm")[1], rtol=REL)
    # secondary and guardrail metrics are not corrected
    cup = res.metric("revenue_cuped").comparison("b")
    assert cup.p_value_adjusted == cup.effect.p_value

    # CUPED against OLS y ~ 1 + treated + x on the two arms compared
    sel = arm["control"] | arm["b"]
    y, x = cols["revenue"][sel], cols["pre_revenue"][sel]
    d = (v[sel] == "b").astype(float)
    fit = sm.OLS(y, sm.add_constant(np.column_stack([d, x]))).fit()
    assert cup.effect.abs_effect == pytest.approx(fit.params[1], rel=REL)
    assert cup.effect.theta == pytest.approx(fit.params[2], rel=REL)
    assert cup.cuped

    # SRM against scipy
    counts = [int(arm[k].sum()) for k in ("control", "b", "c")]
    n = sum(counts)
    ref = sps.chisquare(counts, [n * 0.34, n * 0.33, n * 0.33])
    assert res.srm.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert res.srm.counts == dict(zip(("control", "b", "c"), counts, strict=True))

    # ratio: Σclicks/Σimpressions per arm
    ctr = res.metric("ctr").variants["b"]
    assert ctr.mean == pytest.approx(
        cols["clicks"][arm["b"]].sum() / cols["impressions"][arm["b"]].sum(), rel=REL
    )


def test_results_json_contract(tmp_path, units):
    res = analyze(_plan(tmp_path, units), generated_at="2026-01-01T00:00:00Z")
    d = json.loads(res.to_json())
    for key in (
        "experiment",
        "liftlab_version",
        "plan_sha256",
        "data_sha256",
        "generated_at",
        "srm",
        "metrics",
        "decision",
    ):
        assert key in d
    assert set(d["srm"]) >= {"p_value", "counts", "expected_weights", "mismatch"}
    m = d["metrics"][0]
    assert set(m) >= {"name", "role", "type", "variants", "comparisons"}
    assert set(m["variants"]["control"]) >= {"n", "mean", "variance"}
    comp = m["comparisons"][0]
    for key in (
        "variant",
        "control",
        "abs_effect",
        "abs_ci",
        "rel_effect",
        "rel_ci",
        "p_value",
        "p_value_adjusted",
        "significant",
        "method",
        "cuped",
        "prob_beat_control",
        "expected_loss",
    ):
        assert key in comp
    assert d["decision"]["recommendation"] in {"ship", "do_not_ship", "keep_running", "investigate"}
    # same inputs, same bytes
    again = analyze(_plan(tmp_path, units), generated_at="2026-01-01T00:00:00Z")
    assert again.to_json() == res.to_json()


def test_csv_gives_the_same_statistics(tmp_path, units):
    csv = write_table(tmp_path / "units.csv", units["cols"])
    a = analyze(_plan(tmp_path, units))
    b = analyze(_plan(tmp_path, units), data=csv)
    for m in ("conversion", "revenue", "revenue_cuped", "ctr"):
        assert b.metric(m).comparison("b").effect.p_value == pytest.approx(
            a.metric(m).comparison("b").effect.p_value, rel=1e-9
        )


def test_quantile_cap_is_computed_in_the_engine(tmp_path, units):
    def cap(raw):
        raw["metrics"][1]["cap"] = {"quantile": 0.99}

    res = analyze(_plan(tmp_path, units, cap))
    y = units["cols"]["revenue"]
    # of the non-zero values (the default convention); numpy's default quantile is linear
    # interpolation, as quantile_cont
    q = float(np.quantile(y[y != 0], 0.99))
    assert res.metric("revenue").caps["revenue"] == pytest.approx(q, rel=1e-12)
    capped = np.minimum(y, q)
    arm = units["cols"]["variant"]
    ref = sps.ttest_ind(capped[arm == "b"], capped[arm == "control"], equal_var=False)
    assert res.metric("revenue").comparison("b").effect.p_value == pytest.approx(
        ref.pvalue, rel=REL
    )


def _data_error(tmp_path, cols, mutate_plan=None) -> str:
    path = write_table(tmp_path / "bad.parquet", cols)
    raw = base_plan(str(path))
    if mutate_plan:
        mutate_plan(raw)
    plan = load_plan(write_plan(tmp_path / "p.yaml", raw))
    with pytest.raises(DataError) as info:
        analyze(plan)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "p.yaml") + ": ")
    return msg.removeprefix(str(tmp_path / "p.yaml") + ": ")


def test_missing_column(tmp_path, units):
    def typo(raw):
        raw["metrics"][1]["column"] = "revnue"

    msg = _data_error(tmp_path, units["cols"], typo)
    assert (
        msg
        == f"metrics[1].column: 'revnue' is not a column of {tmp_path / 'bad.parquet'} (did you mean 'revenue'?)"
    )


def test_unknown_variant(tmp_path, units):
    cols = dict(units["cols"])
    cols["variant"] = np.where(cols["variant"] == "c", "d", cols["variant"])
    msg = _data_error(tmp_path, cols)
    assert msg.startswith("variants: ") and "has variant 'd'" in msg and "add it to variants" in msg


def test_null_unit_ids(tmp_path, units):
    cols = dict(units["cols"])
    ids = [None if i % 500 == 0 else int(i) for i in cols["user_id"]]
    cols["user_id"] = ids
    msg = _data_error(tmp_path, cols)
    assert msg.startswith("unit: 6 rows of") and "have no unit id in 'user_id'" in msg


def test_non_numeric_metric(tmp_path, units):
    cols = dict(units["cols"])
    cols["revenue"] = np.asarray([f"${x:.2f}" for x in cols["revenue"]])
    msg = _data_error(tmp_path, cols)
    assert msg.startswith("metrics[1].column: 'revenue' in") and "not numbers" in msg


def test_non_binary_proportion_and_nulls(tmp_path, units):
    cols = dict(units["cols"])
    cols["converted"] = cols["converted"] * 2
    assert "holds values other than 0 and 1" in _data_error(tmp_path, cols)
    cols = dict(units["cols"])
    cols["clicks"] = [None if i == 3 else int(x) for i, x in enumerate(cols["clicks"])]
    assert _data_error(tmp_path, cols).startswith(
        "metrics[3].numerator: 'clicks' has 1 empty values"
    )


def test_duplicate_units_and_missing_file(tmp_path, units):
    cols = dict(units["cols"])
    cols["user_id"] = np.where(cols["user_id"] == 5, 6, cols["user_id"])
    assert "1 unit ids in 'user_id'" in _data_error(tmp_path, cols)
    plan = parse_plan(base_plan(str(tmp_path / "missing.parquet")))
    with pytest.raises(DataError, match=r"data\.units: '.*missing\.parquet' not found"):
        analyze(plan)


def test_srm_mismatch_means_investigate(tmp_path, units):
    def skew(raw):
        raw["variants"] = {"control": {"weight": 0.5}, "b": {"weight": 0.25}, "c": {"weight": 0.25}}

    res = analyze(_plan(tmp_path, units, skew))
    assert res.srm.mismatch
    assert res.decision.recommendation == "investigate"
    assert "Sample ratio mismatch" in res.decision.reason


def test_empty_arm_is_reported_not_crashed(tmp_path, units):
    cols = dict(units["cols"])
    keep = cols["variant"] != "c"
    cols = {k: np.asarray(v)[keep] for k, v in cols.items()}
    path = write_table(tmp_path / "two.parquet", cols)
    res = analyze(parse_plan(base_plan(str(path))))
    c = res.metric("conversion").comparison("c")
    assert c.effect.note == "fewer than two units in an arm"
    assert math.isnan(c.effect.p_value)
    assert json.loads(res.to_json())["metrics"][0]["comparisons"][1]["p_value"] is None


def test_daily_statistics_match_pandas_and_add_up(tmp_path, units):
    """Per variant × day sums from the one grouped query equal a pandas groupby of the rows."""
    from liftlab.aggregate import unit_statistics
    from liftlab.units import open_units

    def daily(raw):
        raw["data"]["timestamp"] = "exposed_at"

    plan = _plan(tmp_path, units, daily)
    stats = unit_statistics(plan, open_units(plan))
    df = pd.DataFrame(units["cols"])
    df["day"] = df["exposed_at"].dt.date
    ref = df.groupby(["variant", "day"])["revenue"].agg(["count", "sum"])
    assert stats.days == sorted(df["day"].unique())
    for v in ("control", "b", "c"):
        for k, day in enumerate(stats.days):
            m = stats.daily["revenue"][v][k]
            assert m.n == ref.loc[(v, day), "count"] == stats.daily_counts[v][k]
            assert m.sum_y == pytest.approx(ref.loc[(v, day), "sum"], rel=1e-12)
    # the last cumulative day equals the totals
    last_day, last = list(stats.cumulative("ctr"))[-1]
    assert last_day == stats.days[-1]
    for v in ("control", "b", "c"):
        assert last[v].n == stats.moments["ctr"][v].n
        assert last[v].sum_xy == pytest.approx(stats.moments["ctr"][v].sum_xy, rel=1e-12)
    # results are the same with or without the day grouping
    a = analyze(_plan(tmp_path, units)).metric("revenue_cuped").comparison("b").effect
    b = analyze(plan).metric("revenue_cuped").comparison("b").effect
    assert b.p_value == pytest.approx(a.p_value, rel=1e-9)


def test_cap_sensitivity_levels_match_numpy(tmp_path, units):
    from liftlab.aggregate import unit_statistics
    from liftlab.units import open_units

    plan = _plan(tmp_path, units)
    stats = unit_statistics(plan, open_units(plan))
    y = units["cols"]["revenue"]
    arm = units["cols"]["variant"] == "b"
    for label, q in (("no cap", None), ("p99", 0.99), ("p99.9", 0.999)):
        caps, mom = stats.sensitivity["revenue"][label]
        capped = y if q is None else np.minimum(y, np.quantile(y[y != 0], q))
        assert mom["b"].sum_y == pytest.approx(capped[arm].sum(), rel=1e-12)
        assert mom["b"].sum_y2 == pytest.approx((capped[arm] ** 2).sum(), rel=1e-12)
        if q is not None:
            assert caps["revenue"] == pytest.approx(np.quantile(y[y != 0], q), rel=1e-12)
    # the CUPED metric caps its covariate at the covariate's own quantile (non-zero values)
    caps, _ = stats.sensitivity["revenue_cuped"]["p99"]
    pre = units["cols"]["pre_revenue"]
    assert caps["pre_revenue"] == pytest.approx(np.quantile(pre[pre != 0], 0.99), rel=1e-12)


def test_timestamp_errors(tmp_path, units):
    def bad_ts(raw):
        raw["data"]["timestamp"] = "revenue"

    path = tmp_path / "p.yaml"
    plan = load_plan(write_plan(path, _raw(units, bad_ts)))
    with pytest.raises(
        DataError, match=r"data\.timestamp: 'revenue' in .* holds float64 values, not dates"
    ):
        analyze(plan)


def _raw(units, mutate):
    raw = base_plan(str(units["path"]))
    mutate(raw)
    return raw
