"""Ad-platform exports (liftlab.exports): presets, roles, clusters, ratio metrics, the
declared randomization and data quality.

Every expected number is computed here from the rows of the hand-written export: sums with
pandas, intervals with the delta method over clusters written out with numpy
(``Var(R) = (s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²)``, sample moments with ``n − 1``, the t
quantile from scipy with Welch–Satterthwaite degrees of freedom over the clusters). The
coverage test simulates platform delivery with over-dispersion.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from liftlab import present
from liftlab.analysis import analyze
from liftlab.errors import DataError, PlanError
from liftlab.plan import parse_plan
from liftlab.stats.frequentist import ratio_test
from liftlab.stats.moments import Moments

Z = sps.norm.ppf(0.975)

META = """\
Reporting starts,Reporting ends,Campaign name,Ad set name,Ad name,Impressions,Reach,Link clicks,Amount spent (USD),Purchases,Purchases conversion value
2026-11-01,2026-11-01,Static,Broad,Ad 1,"1,200",900,30,$45.10,3,120.5
2026-11-01,2026-11-01,Static,Broad,Ad 2,800,700,12,30.00,1,40
2026-11-01,2026-11-01,Static,Broad,Ad 5,1000,800,20,38.00,2,60
2026-11-02,2026-11-02,Static,Broad,Ad 1,1500,1000,41,50.20,0,
2026-11-02,2026-11-02,Static,Broad,Ad 2,900,800,0,31.00,2,80
2026-11-02,2026-11-02,Static,Broad,Ad 5,1100,900,19,40.00,1,30
2026-11-01,2026-11-01,Video,Broad,Ad 3,1100,900,25,44.00,2,90
2026-11-01,2026-11-01,Video,Broad,Ad 4,700,600,9,-1,1,35
2026-11-01,2026-11-01,Video,Broad,Ad 6,1300,1000,40,52.00,3,110
2026-11-02,2026-11-02,Video,Broad,Ad 3,1300,1000,33,47.00,4,150
2026-11-02,2026-11-02,Video,Broad,Ad 4,950,800,14,,0,0
2026-11-02,2026-11-02,Video,Broad,Ad 6,1250,950,36,50.00,2,70
"""

GOOGLE = """\
Ad report
"November 1, 2026 - November 2, 2026"
Day,Campaign,Ad group,Ad ID,Impr.,Clicks,Cost,Conversions,Conv. value
2026-11-01,Brand,Group A,101,"2,100",80,120.50,4.00,200.00
2026-11-02,Brand,Group A,101,"2,300",95,130.00,5.00,260.00
2026-11-01,Brand,Group A,102,"1,900",60,110.00,2.00,90.00
2026-11-02,Brand,Group A,102,"1,700",52,100.25,--,--
2026-11-01,Generic,Group B,201,"3,000",70,150.00,3.00,150.00
2026-11-02,Generic,Group B,201,"2,800",66,140.00,2.50,120.00
2026-11-01,Generic,Group B,202,"2,500",40,125.00,1.00,45.00
2026-11-02,Generic,Group B,202,"2,600",45,128.00,2.00,95.00
Total: Account,--,--,--,"18,900",508,"1,003.75",19.50,960.00
"""

TIKTOK = """\
Date,Campaign name,Ad group name,Ad name,Impressions,Clicks (destination),Cost,Conversions,Total purchase value
2026-11-01,Spark,UGC,Clip 1,5000,60,40.0,3,90.0
2026-11-02,Spark,UGC,Clip 1,5200,66,42.0,2,70.0
2026-11-03,Spark,UGC,Clip 1,4800,51,39.0,4,120.0
2026-11-01,Spark,UGC,Clip 2,4500,70,38.0,5,150.0
2026-11-02,Spark,UGC,Clip 2,4700,75,40.0,3,95.0
2026-11-03,Spark,UGC,Clip 2,4400,62,37.5,2,60.0
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _plan(tmp_path: Path, data: dict[str, Any], variants: list[str], **extra: Any) -> Any:
    raw: dict[str, Any] = {
        "name": "export-test",
        "kind": "landing_page",
        "hypothesis": "One arm gets more clicks per impression.",
        "variants": {v: {} for v in variants},
        "randomization": "none",
        "data": data,
        "metrics": [
            {"name": "ctr", "type": "ctr", "role": "primary"},
            {"name": "cvr", "type": "cvr"},
            {"name": "cpc", "type": "cpc"},
            {"name": "cpm", "type": "cpm"},
            {"name": "cpa", "type": "cpa"},
            {"name": "roas", "type": "roas"},
            {"name": "value_per_conversion", "type": "value_per_conversion"},
        ],
        "landing_page": {"segments": False, "novelty": False},
    }
    raw.update(extra)
    return parse_plan(raw).with_source(None, tmp_path)


def _frame(text: str, skip: int = 0) -> pd.DataFrame:
    """The export as pandas reads it: separators and currency removed by hand."""
    from io import StringIO

    df = pd.read_csv(StringIO(text), skiprows=skip, thousands=",", na_values=["--"])
    return df


def _delta(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Σy/Σx and its delta-method variance over clusters (sample moments, n − 1)."""
    n = len(y)
    r = y.sum() / x.sum()
    s_yy, s_xx = np.var(y, ddof=1), np.var(x, ddof=1)
    s_xy = np.cov(y, x, ddof=1)[0, 1]
    return r, (s_yy - 2 * r * s_xy + r * r * s_xx) / (n * x.mean() ** 2)


def _check_ratio(results: Any, name: str, by_arm: dict[str, pd.DataFrame], num: str, den: str):
    """The comparison of ``name`` against the delta method on the clusters in ``by_arm``."""
    ctrl, treat = list(by_arm)
    r_c, v_c = _delta(by_arm[ctrl][num].to_numpy(float), by_arm[ctrl][den].to_numpy(float))
    r_t, v_t = _delta(by_arm[treat][num].to_numpy(float), by_arm[treat][den].to_numpy(float))
    m = results.metric(name)
    assert m.variants[ctrl].mean == pytest.approx(r_c, rel=1e-12)
    assert m.variants[treat].mean == pytest.approx(r_t, rel=1e-12)
    assert m.variants[ctrl].se == pytest.approx(math.sqrt(v_c), rel=1e-9)
    e = m.comparison(treat).effect
    n_c, n_t = len(by_arm[ctrl]), len(by_arm[treat])
    df = (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))  # Welch, on clusters
    half = sps.t.ppf(0.975, df) * math.sqrt(v_c + v_t)
    assert e.abs_effect == pytest.approx(r_t - r_c, rel=1e-10, abs=1e-12)
    assert e.abs_ci[0] == pytest.approx(r_t - r_c - half, rel=1e-9, abs=1e-12)
    assert e.abs_ci[1] == pytest.approx(r_t - r_c + half, rel=1e-9, abs=1e-12)


# ---- presets --------------------------------------------------------------------------------
def test_meta_preset_clusters_by_ad_and_matches_the_delta_method(tmp_path: Path) -> None:
    _write(tmp_path, "meta.csv", META)
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "campaign"}},
        ["Static", "Video"],
    )
    res = analyze(plan)
    df = _frame(META)
    df["spend"] = df["Amount spent (USD)"].astype(str).str.replace("$", "").astype(float)
    df["spend"] = df["spend"].fillna(0.0)
    df["value"] = df["Purchases conversion value"].fillna(0.0)
    # the arm (campaign) groups ads: each ad, its days added up, is a cluster
    per_ad = df.groupby(["Campaign name", "Ad name"], as_index=False)[
        ["Impressions", "Link clicks", "spend", "Purchases", "value"]
    ].sum()
    per_ad["spend_per_mille"] = 1000 * per_ad["spend"]
    by_arm = {a: per_ad[per_ad["Campaign name"] == a] for a in ("Static", "Video")}
    assert res.metric("ctr").variants["Static"].n == 3
    _check_ratio(res, "ctr", by_arm, "Link clicks", "Impressions")
    _check_ratio(res, "cvr", by_arm, "Purchases", "Link clicks")
    _check_ratio(res, "cpc", by_arm, "spend", "Link clicks")
    _check_ratio(res, "cpm", by_arm, "spend_per_mille", "Impressions")
    _check_ratio(res, "cpa", by_arm, "spend", "Purchases")
    _check_ratio(res, "roas", by_arm, "value", "spend")
    _check_ratio(res, "value_per_conversion", by_arm, "value", "Purchases")
    q = res.data_quality["export"]
    assert q["rows"] == 12 and q["clusters"] == 6 and q["cluster"] == "Ad name"
    assert q["zero_click_conversion_rows"] == 1 and q["zero_click_conversions"] == 2.0
    assert q["negative_spend_rows"] == 1 and q["missing_spend_rows"] == 1
    assert q["columns"]["spend"] == "Amount spent (USD)"


def test_google_ads_preset_skips_title_and_total_rows(tmp_path: Path) -> None:
    _write(tmp_path, "google.csv", GOOGLE)
    plan = _plan(
        tmp_path,
        {"aggregates": "google.csv", "preset": "google_ads", "columns": {"arm": "campaign"}},
        ["Brand", "Generic"],
    )
    res = analyze(plan)
    df = _frame(GOOGLE, skip=2)
    df = df[~df["Day"].str.startswith("Total")].fillna(0.0)
    for col in ("Impr.", "Cost"):
        df[col] = df[col].astype(str).str.replace(",", "").astype(float)
    per_ad = df.groupby(["Campaign", "Ad ID"], as_index=False)[
        ["Impr.", "Clicks", "Cost", "Conversions", "Conv. value"]
    ].sum()
    by_arm = {a: per_ad[per_ad["Campaign"] == a] for a in ("Brand", "Generic")}
    _check_ratio(res, "ctr", by_arm, "Clicks", "Impr.")
    _check_ratio(res, "cpa", by_arm, "Cost", "Conversions")
    _check_ratio(res, "roas", by_arm, "Conv. value", "Cost")
    q = res.data_quality["export"]
    assert q["rows"] == 9 and q["total_rows_skipped"] == 1 and q["rows_analysed"] == 8
    assert q["empty_cells"]["conversions"] == 1


def test_tiktok_preset_with_the_ad_as_arm_clusters_rows(tmp_path: Path) -> None:
    _write(tmp_path, "tiktok.csv", TIKTOK)
    plan = _plan(
        tmp_path,
        {"aggregates": "tiktok.csv", "preset": "tiktok", "columns": {"arm": "ad"}},
        ["Clip 1", "Clip 2"],
    )
    res = analyze(plan)
    df = _frame(TIKTOK)
    by_arm = {a: df[df["Ad name"] == a] for a in ("Clip 1", "Clip 2")}  # rows are clusters
    assert res.metric("ctr").variants["Clip 1"].n == 3
    _check_ratio(res, "ctr", by_arm, "Clicks (destination)", "Impressions")
    _check_ratio(res, "cvr", by_arm, "Conversions", "Clicks (destination)")
    _check_ratio(res, "roas", by_arm, "Total purchase value", "Cost")
    assert res.data_quality["export"]["cluster"] == "row"
    assert [d.isoformat() for d in res.traffic.days] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_columns_override_a_preset_and_add_a_role(tmp_path: Path) -> None:
    text = TIKTOK.replace("Clicks (destination)", "Dest clicks")
    _write(tmp_path, "tiktok.csv", text)
    plan = _plan(
        tmp_path,
        {
            "aggregates": "tiktok.csv",
            "preset": "tiktok",
            "columns": {"arm": "Ad name", "clicks": "Dest clicks", "paid": "Cost"},
        },
        ["Clip 1", "Clip 2"],
        metrics=[
            {"name": "ctr", "type": "ctr", "role": "primary"},
            {
                "name": "paid_per_click",
                "type": "ratio",
                "numerator": "paid",
                "denominator": "clicks",
            },
        ],
    )
    res = analyze(plan)
    df = _frame(text)
    by_arm = {a: df[df["Ad name"] == a] for a in ("Clip 1", "Clip 2")}
    _check_ratio(res, "paid_per_click", by_arm, "Cost", "Dest clicks")


# ---- errors -----------------------------------------------------------------------------------
def test_a_missing_column_names_the_column_role_and_preset(tmp_path: Path) -> None:
    _write(tmp_path, "meta.csv", META.replace("Link clicks", "Link clcks"))
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "campaign"}},
        ["Static", "Video"],
    )
    with pytest.raises(DataError) as err:
        analyze(plan)
    msg = str(err.value)
    assert "'Link clicks'" in msg and "for clicks" in msg and "meta preset" in msg
    assert "did you mean 'Link clcks'" in msg and "metrics[0].numerator" in msg
    assert "\n" not in msg


def test_a_missing_arm_column_and_no_arm(tmp_path: Path) -> None:
    _write(tmp_path, "meta.csv", META)
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "Campain name"}},
        ["Static", "Video"],
    )
    with pytest.raises(DataError, match="did you mean 'Campaign name'"):
        analyze(plan)
    with pytest.raises(PlanError, match=r"columns\.arm: say which column"):
        _plan(tmp_path, {"aggregates": "meta.csv", "preset": "meta"}, ["Static", "Video"])


def test_numbers_in_another_locale_are_refused_with_an_example(tmp_path: Path) -> None:
    _write(tmp_path, "tiktok.csv", TIKTOK.replace(",40.0,", ',"1.234,5",', 1))
    plan = _plan(
        tmp_path,
        {"aggregates": "tiktok.csv", "preset": "tiktok", "columns": {"arm": "ad"}},
        ["Clip 1", "Clip 2"],
    )
    with pytest.raises(
        DataError, match=r"'Cost' \(spend\) .* 1 values that are not numbers, e.g. '1.234,5'"
    ):
        analyze(plan)


def test_randomization_unit_on_an_export_needs_units(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="randomization: an export"):
        _plan(
            tmp_path,
            {"aggregates": "x.csv", "columns": {"arm": "campaign"}},
            ["a", "b"],
            randomization="unit",
        )
    with pytest.raises(PlanError, match="randomization: impression needs"):
        _plan(tmp_path, {"units": "x.csv"}, ["a", "b"], randomization="impression")


def test_shorthand_types_expand_to_ratios() -> None:
    plan = parse_plan(
        {
            "name": "x",
            "hypothesis": "h",
            "variants": {"a": {}, "b": {}},
            "randomization": "none",
            "data": {"aggregates": "x.csv", "columns": {"arm": "campaign"}},
            "metrics": [{"name": "cpa", "type": "cpa", "role": "primary"}],
        }
    )
    m = plan.metrics[0]
    assert (m.type, m.numerator, m.denominator, m.direction) == (
        "ratio",
        "spend",
        "conversions",
        "decrease",
    )
    with pytest.raises(PlanError, match="type: ctr sets numerator"):
        parse_plan(
            {
                "name": "x",
                "hypothesis": "h",
                "variants": {"a": {}, "b": {}},
                "randomization": "none",
                "data": {"aggregates": "x.csv", "columns": {"arm": "campaign"}},
                "metrics": [{"name": "c", "type": "ctr", "numerator": "x", "role": "primary"}],
            }
        )


# ---- the declared design --------------------------------------------------------------------
def test_randomization_none_has_no_srm_verdict_and_observational_wording(tmp_path: Path) -> None:
    # a lopsided delivery (three times the impressions in one arm) is no mismatch here
    rows = ["Day,Campaign name,Ad name,Impressions,Link clicks,Amount spent (USD),Purchases"]
    rng = np.random.default_rng(7)
    for day in range(1, 8):
        for ad in range(6):
            arm, scale = ("A", 1) if ad < 3 else ("B", 3)
            impr = int(1000 * scale * rng.uniform(0.8, 1.2))
            clicks = int(impr * (0.02 if arm == "A" else 0.04))
            rows.append(f"2026-11-{day:02d},{arm},ad{ad},{impr},{clicks},{impr / 100:.2f},1")
    _write(tmp_path, "meta.csv", "\n".join(rows) + "\n")
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "campaign"}},
        ["A", "B"],
        metrics=[{"name": "ctr", "type": "ctr", "role": "primary"}],
    )
    res = analyze(plan)
    assert not res.srm.mismatch and math.isnan(res.srm.p_value)
    out = res.to_dict()
    assert out["srm"]["applies"] is False and out["srm"]["p_value"] is None
    assert res.decision.recommendation == "ship"
    assert res.decision.reason.startswith("Observed, not randomised: B beats A")
    assert "not randomised" in res.decision.caveats[0]
    health = present.srm_markdown(res)
    assert "Not applicable" in health and "χ²" not in health
    assert "(observed, not randomised)" in present.verdict_markdown(res)
    conventions = present.conventions_markdown(res)
    assert "delta-method variance over clusters" in conventions
    # the sample is counted in clusters (here the ads: 3 per arm), and no share was planned
    title = present.title_markdown(res)
    assert "6 clusters (independent" in title and "planned share" not in title
    assert present.progress_text(res).startswith("3 clusters per variant so far")
    # the same data declared randomised by impression: the split is checked on impressions
    imp = plan.with_(randomization="impression")
    res_imp = analyze(imp)
    df = pd.read_csv(tmp_path / "meta.csv")
    assert res_imp.srm.counts == df.groupby("Campaign name")["Impressions"].sum().to_dict()
    assert res_imp.srm.mismatch and res_imp.decision.recommendation == "investigate"


def test_an_export_analyses_end_to_end_as_kind_creative_and_general(tmp_path: Path) -> None:
    _write(tmp_path, "meta.csv", META)
    data = {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "ad"}}
    ads = ["Ad 1", "Ad 2", "Ad 5", "Ad 3", "Ad 4", "Ad 6"]
    metrics = [
        {"name": "ctr", "type": "ctr", "role": "primary"},
        {"name": "conversions", "type": "mean", "column": "conversions"},
        {"name": "cpa", "type": "cpa"},
    ]
    creative = _plan(
        tmp_path,
        data,
        ads,
        kind="creative",
        metrics=metrics,
        landing_page=None,
        creative={"ctr": "ctr", "conversion": "conversions"},
    )
    res = analyze(creative)
    assert "creative" in res.sections and len(res.metric("ctr").comparisons) == 5
    general = _plan(tmp_path, data, ads, kind="general", metrics=metrics, landing_page=None)
    res_g = analyze(general)
    assert res_g.metric("cpa").variants["Ad 3"].n == 2


# ---- variance under platform delivery: coverage --------------------------------------------
def test_cluster_interval_covers_and_the_binomial_interval_does_not() -> None:
    """Two arms with the same mean CTR; ads draw CTRs from a beta distribution, each ad-day
    a gamma multiplier; 2,000 simulated exports. The delta method over ads (the real
    ratio_test on per-ad sums) covers the true difference (0) 95% of the time within
    binomial error; the interval that treats every impression as independent does not."""
    rng = np.random.default_rng(20261207)
    sims, ads, days = 2000, 60, 14
    a, b = 2.0, 98.0  # ad CTRs: mean 2%, sd about 1.4 percentage points
    ctr = rng.beta(a, b, size=(sims, 2, ads, 1))
    mult = rng.gamma(4.0, 1 / 4.0, size=(sims, 2, ads, days))  # day-to-day, mean 1
    impr = rng.poisson(
        rng.lognormal(np.log(3000), 0.6, size=(sims, 2, ads, 1)), (sims, 2, ads, days)
    )
    clicks = rng.binomial(impr, np.clip(ctr * mult, 0, 1))
    y, x = clicks.sum(axis=3).astype(float), impr.sum(axis=3).astype(float)  # per ad

    cluster_cover = naive_cover = 0
    for s in range(sims):
        arms = [
            Moments(
                ads,
                y[s, g].sum(),
                (y[s, g] ** 2).sum(),
                x[s, g].sum(),
                (x[s, g] ** 2).sum(),
                (x[s, g] * y[s, g]).sum(),
            )
            for g in (0, 1)
        ]
        lo, hi = ratio_test(arms[0], arms[1]).abs_ci
        cluster_cover += lo <= 0 <= hi
        p = [m.sum_y / m.sum_x for m in arms]
        se = math.sqrt(sum(pi * (1 - pi) / m.sum_x for pi, m in zip(p, arms, strict=True)))
        naive_cover += abs(p[1] - p[0]) <= Z * se
    cover, naive = cluster_cover / sims, naive_cover / sims
    err = math.sqrt(0.95 * 0.05 / sims)
    assert abs(cover - 0.95) < 4 * err, cover
    assert naive < 0.5, naive


def test_dates_that_are_not_dates_are_refused_and_as_of_cuts_days(tmp_path: Path) -> None:
    _write(tmp_path, "tiktok.csv", TIKTOK.replace("2026-11-03", "11/03/2026", 1))
    plan = _plan(
        tmp_path,
        {"aggregates": "tiktok.csv", "preset": "tiktok", "columns": {"arm": "ad"}},
        ["Clip 1", "Clip 2"],
    )
    with pytest.raises(DataError, match=r"'Date' \(date\) .* 1 values that are not dates"):
        analyze(plan)
    _write(tmp_path, "tiktok.csv", TIKTOK)
    res = analyze(plan, as_of="2026-11-02")
    assert res.metric("ctr").variants["Clip 1"].n == 2
    assert res.data_quality["export"]["rows_analysed"] == 4


def test_a_role_the_plan_does_not_use_may_hold_text(tmp_path: Path) -> None:
    # "Reach" (the meta preset's units) is not used under randomization: none
    _write(tmp_path, "meta.csv", META.replace(",900,30,", ",n/a,30,"))
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "campaign"}},
        ["Static", "Video"],
    )
    res = analyze(plan)
    assert res.data_quality["export"]["empty_cells"]["units"] == 1


def test_randomization_unit_checks_the_split_on_the_units_column(tmp_path: Path) -> None:
    _write(tmp_path, "meta.csv", META)
    plan = _plan(
        tmp_path,
        {
            "aggregates": "meta.csv",
            "preset": "meta",
            "columns": {"arm": "campaign", "units": "Reach"},
        },
        ["Static", "Video"],
        randomization="unit",
    )
    res = analyze(plan)
    reach = pd.read_csv(tmp_path / "meta.csv").groupby("Campaign name")["Reach"].sum()
    assert res.srm.counts == reach.to_dict()
    assert res.srm.p_value == pytest.approx(sps.chisquare(list(reach.to_numpy())).pvalue, rel=1e-9)
    assert not res.decision.reason.startswith("Observed")
    assert "clusters per variant" in analyze(plan.with_(randomization="none")).decision.reason


def test_a_parquet_export_without_preset_with_segments_and_row_clusters(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 40
    df = pd.DataFrame(
        {
            "date": pd.date_range("2026-11-01", periods=n // 4).repeat(4).date,
            "campaign": np.tile(["a", "a", "b", "b"], n // 4),
            "ad": np.tile(["a1", "a2", "b1", "b2"], n // 4),
            "age": np.tile(["18-24", "25-34"], n // 2),
            "impressions": rng.integers(500, 1500, n),
        }
    )
    df["clicks"] = rng.binomial(df["impressions"], 0.03)
    df.to_parquet(tmp_path / "export.parquet")
    plan = _plan(
        tmp_path,
        {
            "aggregates": "export.parquet",
            "columns": {"arm": "campaign"},
            "cluster": "row",
            "segments": ["age"],
        },
        ["a", "b"],
        metrics=[{"name": "ctr", "type": "ctr", "role": "primary"}],
    )
    res = analyze(plan)
    by_arm = {a: df[df["campaign"] == a] for a in ("a", "b")}
    _check_ratio(res, "ctr", by_arm, "clicks", "impressions")
    young = analyze(plan, segment={"age": "18-24"})
    by_arm = {a: df[(df["campaign"] == a) & (df["age"] == "18-24")] for a in ("a", "b")}
    _check_ratio(young, "ctr", by_arm, "clicks", "impressions")


# ---- the platforms' own pitfalls ------------------------------------------------------------
def _meta_results(indicators: tuple[str, str]) -> str:
    """META with Purchases renamed to Results and a Result indicator per row (campaign)."""
    lines = META.replace("Purchases,", "Results,", 1).splitlines()
    head = lines[0] + ",Result indicator"
    rows = [f"{r},{indicators[0] if ',Static,' in r else indicators[1]}" for r in lines[1:]]
    return "\n".join([head, *rows]) + "\n"


def test_meta_results_of_mixed_events_are_refused_and_of_one_event_are_conversions(
    tmp_path: Path,
) -> None:
    data = {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "campaign"}}
    _write(tmp_path, "meta.csv", _meta_results(("actions:lead", "actions:link_click")))
    plan = _plan(tmp_path, data, ["Static", "Video"])
    with pytest.raises(DataError) as err:
        analyze(plan)
    msg = str(err.value)
    assert "'Results' (conversions)" in msg and "2 different events" in msg
    assert "'actions:lead' and 'actions:link_click'" in msg and "Purchases" in msg
    assert "\n" not in msg and err.value.field == "data.columns.conversions"

    purchase = "actions:offsite_conversion.fb_pixel_purchase"
    _write(tmp_path, "meta.csv", _meta_results((purchase, purchase)))
    res = analyze(plan)
    df = _frame(META)
    for arm in ("Static", "Video"):
        rows = df[df["Campaign name"] == arm]
        spend = rows["Amount spent (USD)"].astype(str).str.replace("$", "").astype(float)
        expected = spend.fillna(0).sum() / rows["Purchases"].sum()
        assert res.metric("cpa").variants[arm].mean == pytest.approx(expected, rel=1e-12)


def test_meta_rows_spanning_the_period_are_not_days(tmp_path: Path) -> None:
    """Without the Day breakdown "Reporting starts" is the period's first day, not a day."""
    rows = META.splitlines()
    weekly = [rows[0]] + [
        r.replace("2026-11-01,2026-11-01", "2026-11-01,2026-11-07").replace(
            "2026-11-02,2026-11-02", "2026-11-08,2026-11-14"
        )
        for r in rows[1:]
    ]
    _write(tmp_path, "meta.csv", "\n".join(weekly) + "\n")
    data = {"aggregates": "meta.csv", "preset": "meta", "columns": {"arm": "ad"}}
    ads = [f"Ad {i}" for i in range(1, 7)]
    plan = _plan(tmp_path, data, ads)
    from liftlab.exports import open_export

    src = open_export(plan)
    assert "date" not in src.table.schema().names
    res = analyze(plan)
    assert res.metric("ctr").variants["Ad 1"].n == 2  # two rows, each a cluster
    with pytest.raises(DataError, match="as_of needs the export's day column"):
        analyze(plan, as_of="2026-11-08")
    # naming the column says the rows are days after all
    plan = _plan(tmp_path, {**data, "columns": {"arm": "ad", "date": "Reporting starts"}}, ads)
    assert "date" in open_export(plan).table.schema().names


@pytest.mark.parametrize(
    ("preset", "text", "header"),
    [
        ("meta", META, "Amount spent"),
        ("tiktok", TIKTOK, "Cost (USD)"),
        ("tiktok", TIKTOK, "Spend"),
    ],
)
def test_spend_headers_the_platforms_also_write(
    tmp_path: Path, preset: str, text: str, header: str
) -> None:
    original = "Amount spent (USD)" if preset == "meta" else "Cost"
    _write(tmp_path, "export.csv", text.replace(original, header, 1))
    arms = [f"Ad {i}" for i in range(1, 7)] if preset == "meta" else ["Clip 1", "Clip 2"]
    plan = _plan(
        tmp_path, {"aggregates": "export.csv", "preset": preset, "columns": {"arm": "ad"}}, arms
    )
    res = analyze(plan)
    df = _frame(text)
    col = df[original].astype(str).str.replace("$", "", regex=False).astype(float).fillna(0)
    arm_col = "Ad name"
    for arm in arms:
        mask = df[arm_col] == arm
        expected = 1000 * col[mask].sum() / df.loc[mask, "Impressions"].sum()
        assert res.metric("cpm").variants[arm].mean == pytest.approx(expected, rel=1e-12)


def test_an_export_gives_the_same_bytes_on_any_number_of_threads(tmp_path: Path, monkeypatch):
    """Rows added up per ad (the clusters of a campaign arm) are summed exactly, so the
    engine's thread count cannot change a last bit of results.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from liftlab.sources import THREADS_ENV

    rng = np.random.default_rng(11)
    ads, days = 300, 40
    ad = np.repeat([f"Ad {i}" for i in range(ads)], days)
    impressions = rng.integers(200, 5_000, ads * days).astype(float)
    clicks = rng.binomial(impressions.astype(int), 0.02).astype(float)
    pq.write_table(
        pa.table(
            {
                "Day": np.tile(np.datetime64("2026-10-01") + np.arange(days), ads),
                "Campaign name": np.where(np.arange(ads * days) // days % 2 == 0, "A", "B"),
                "Ad name": ad,
                "Impressions": impressions,
                "Link clicks": clicks,
                "Amount spent (USD)": impressions * rng.uniform(0.001, 0.02, ads * days) / 3,
                "Purchases": rng.binomial(clicks.astype(int), 0.05).astype(float),
                "Purchases conversion value": rng.gamma(2.0, 17.3, ads * days) / 7,
            }
        ),
        tmp_path / "meta.parquet",
        row_group_size=256,
    )
    plan = _plan(
        tmp_path,
        {"aggregates": "meta.parquet", "preset": "meta", "columns": {"arm": "campaign"}},
        ["A", "B"],
    )
    files = {}
    for threads in ("1", "2", "4", "8"):
        monkeypatch.setenv(THREADS_ENV, threads)
        files[threads] = analyze(plan, generated_at="2026-12-01T00:00:00Z").to_json()
    assert len(set(files.values())) == 1, [t for t in files if files[t] != files["1"]]
    res = analyze(plan)
    assert res.metric("ctr").variants["A"].n == ads // 2  # clusters are the ads
    # the creative section's money sums and daily counts per ad, read from the same rows
    from liftlab.exports import open_export
    from liftlab.kinds.creative import export_day_counts, export_money

    by_ad = _plan(
        tmp_path,
        {"aggregates": "meta.parquet", "preset": "meta", "columns": {"arm": "ad"}},
        [f"Ad {i}" for i in range(ads)],
    )
    seen = []
    for threads in ("1", "8"):
        monkeypatch.setenv(THREADS_ENV, threads)
        src = open_export(by_ad)
        seen.append((export_money(src), export_day_counts(src, "impressions", "clicks", 30)))
    assert seen[0] == seen[1]  # every float equal, not only close
