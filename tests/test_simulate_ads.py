"""The simulated Meta Ads Manager export: seeded bytes, the meta preset's headers, campaign
CTRs within sampling error of the truth, and the demo plan on it.

References are independent of liftlab's engine: the file is read with pandas, the campaign
CTRs are column sums, their standard errors the delta method over the campaign's ads written
out with numpy (``Var(Σy/Σx) = (s²_y − 2R·s_xy + R²·s²_x)/(n·x̄²)``, sample moments with
``n − 1``), and the truths are those the simulator states in ``truth.json`` (expected clicks
over expected impressions given the ads drawn).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liftlab import analyze, load_plan, present
from liftlab.exports import PRESETS
from liftlab.simulate_ads import ADS, BEST_AD, EXPORT_FILE, FATIGUE, write_meta_export
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ads")
    return out / EXPORT_FILE, write_meta_export(out)


def _frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def test_the_export_is_the_same_bytes_for_a_seed_and_differs_for_another(export, tmp_path):
    path, truth = export
    again = write_meta_export(tmp_path)
    assert (tmp_path / EXPORT_FILE).read_bytes() == path.read_bytes()
    assert again == truth
    (tmp_path / "other").mkdir()
    write_meta_export(tmp_path / "other", seed=1)
    assert (tmp_path / "other" / EXPORT_FILE).read_bytes() != path.read_bytes()


def test_headers_are_the_meta_presets_and_rows_are_ad_days(export):
    path, _ = export
    df = _frame(path)
    for role, headers in PRESETS["meta"].items():  # a header of each role's list is present
        spelled = [h.replace("(XXX)", "(USD)") for h in headers]
        assert any(h in df.columns for h in spelled), role
    assert df["Ad name"].nunique() == sum(len(a) for a in ADS.values()) == 30
    assert set(df["Campaign name"]) == set(ADS)
    assert 300 <= len(df) <= 1_000
    assert not df.duplicated(["Reporting starts", "Ad name"]).any()  # one row per ad and day
    assert df["Reporting starts"].nunique() == 21
    assert (df["Reach"] <= df["Impressions"]).all() and (df["Link clicks"] >= 0).all()
    # view-through purchases: rows with purchases but no link clicks, kept as a platform has them
    view_through = df[(df["Link clicks"] == 0) & (df["Purchases"] > 0)]
    assert 1 <= len(view_through) <= 10
    clicked = df[df["Link clicks"] > 0]
    assert (clicked["Purchases"] <= clicked["Link clicks"]).all()
    assert ((df["Purchases"] > 0) == (df["Purchases conversion value"] > 0)).all()


def _delta_se(y: np.ndarray, x: np.ndarray) -> float:
    n, r = len(y), y.sum() / x.sum()
    s_yy, s_xx, s_xy = np.var(y, ddof=1), np.var(x, ddof=1), np.cov(y, x, ddof=1)[0, 1]
    return float(np.sqrt((s_yy - 2 * r * s_xy + r * r * s_xx) / (n * x.mean() ** 2)))


def test_campaign_ctrs_are_within_sampling_error_of_the_truth(export):
    path, truth = export
    df = _frame(path)
    assert list(truth["campaign_ctr"]) == list(ADS)
    for campaign, true_ctr in truth["campaign_ctr"].items():
        ads = df[df["Campaign name"] == campaign].groupby("Ad name")[["Link clicks", "Impressions"]]
        sums = ads.sum()
        y, x = sums["Link clicks"].to_numpy(float), sums["Impressions"].to_numpy(float)
        observed = y.sum() / x.sum()
        # the truth is conditional on the ads drawn: only days and clicks vary, so the spread
        # over ads (the delta method's) bounds the error generously
        assert abs(observed - true_ctr) < 3 * _delta_se(y, x), campaign
        assert abs(observed / true_ctr - 1) < 0.10, campaign
    # the concepts differ as the model says: UGC > Video > Static
    c = truth["campaign_ctr"]
    assert c["Spring - UGC"] > c["Spring - Video"] > c["Spring - Static"]


def test_the_best_ad_is_the_true_best_and_the_observed_best(export):
    path, truth = export
    df = _frame(path)
    assert truth["best_ad"] == BEST_AD == max(truth["ctr"], key=truth["ctr"].get)
    sums = df.groupby("Ad name")[["Link clicks", "Impressions"]].sum()
    observed = sums["Link clicks"] / sums["Impressions"]
    assert observed.idxmax() == BEST_AD
    runner_up = max(v for k, v in truth["ctr"].items() if k != BEST_AD)
    assert truth["ctr"][BEST_AD] > 1.2 * runner_up


def test_fatiguing_ads_lose_clicks_per_impression_with_age(export):
    """CTR in an ad's second week of life over its first week: about ``decay⁷`` for the
    fatiguing ads (geometric mean over them of observed / expected within 25%: a day's gamma
    multiplier has sd 0.35, so one ad's ratio is off by about 20%), and about 1 for the others
    pooled (within 10%)."""
    path, truth = export
    assert truth["ctr_decay_per_day"] == FATIGUE
    df = _frame(path)
    df["age"] = df.groupby("Ad name")["Reporting starts"].rank(method="dense") - 1

    def week_ratio(rows: pd.DataFrame) -> float:
        week = [rows[(rows["age"] >= a) & (rows["age"] < a + 7)] for a in (1, 8)]
        ctr = [w["Link clicks"].sum() / w["Impressions"].sum() for w in week]
        return float(ctr[1] / ctr[0])

    logs = [np.log(week_ratio(df[df["Ad name"] == ad]) / d**7) for ad, d in FATIGUE.items()]
    assert abs(np.exp(np.mean(logs)) - 1) < 0.25
    assert abs(week_ratio(df[~df["Ad name"].isin(list(FATIGUE))]) - 1) < 0.10


def test_the_demo_plan_finds_the_best_ad_observationally(tmp_path):
    (tmp_path / "experiments").mkdir()
    shutil.copy(ROOT / "experiments" / "ad-export.yaml", tmp_path / "experiments")
    (tmp_path / "data").mkdir()
    truth = write_meta_export(tmp_path / "data")
    res = analyze(load_plan(tmp_path / "experiments" / "ad-export.yaml"))
    assert res.plan.randomization == "none"
    assert np.isnan(res.srm.p_value) and not res.srm.mismatch  # no sample-ratio verdict
    assert res.decision.recommendation != "investigate"
    assert res.decision.variant == truth["best_ad"]
    assert res.decision.reason.startswith("Observed, not randomised:")
    assert any("not randomised" in c for c in res.decision.caveats)
    # the engine's CTR of each ad is the file's Σclicks/Σimpressions
    df = _frame(tmp_path / "data" / EXPORT_FILE)
    sums = df.groupby("Ad name")[["Link clicks", "Impressions"]].sum()
    ctr = res.metric("ctr").variants
    for ad in (BEST_AD, "Static 01", "UGC 07"):
        assert ctr[ad].mean == pytest.approx(
            sums.loc[ad, "Link clicks"] / sums.loc[ad, "Impressions"], rel=1e-12
        )
    # thirty ads: the title lists them in one line (the verdict stays near the top), in clusters
    title = present.title_markdown(res)
    assert f"**{len(res.plan.variants)} variants**: Static 01 (control), Static 02" in title
    assert "| variant |" not in title
    assert "clusters per variant so far" in present.progress_text(res)
    assert " units per variant" not in present.progress_text(res)
