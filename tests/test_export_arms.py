"""Arms and groups read from an ad-platform export (liftlab.exports.resolve_plan).

The export is a seeded simulation of an Ads Manager download (three campaigns of ads, one
row per ad and day). Expected arms and groups come from pandas on the same CSV; the analysis
of a plan that reads its arms from the data must equal, number for number, the analysis of
the same plan with the arms typed out.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import write_plan
from scipy import stats as sps
from typer.testing import CliRunner

from liftlab.analysis import analyze
from liftlab.cli import app
from liftlab.errors import DataError, PlanError
from liftlab.exports import resolve_plan
from liftlab.plan import MAX_YAML_VALUES, load_plan, parse_plan
from liftlab.stats.creative import cpa_interval
from liftlab.views import creative as creative_views

CAMPAIGNS = {"Spring - Static": 0.011, "Spring - Video": 0.014, "Spring - UGC": 0.017}


def _export(path: Path, *, ads: int = 11, days: int = 6, seed: int = 3) -> pd.DataFrame:
    """Rows per ad and day; ad names sort differently from their order of appearance."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, (campaign, mean) in enumerate(CAMPAIGNS.items()):
        for a in range(ads):
            name = f"{campaign.split(' - ')[1]} {a + 1}"  # "Video 10" sorts before "Video 2"
            ctr = rng.beta(900 * mean, 900 * (1 - mean))
            for d in range(days):
                m = int(rng.poisson(3000))
                clicks = int(rng.binomial(m, ctr))
                buys = int(rng.binomial(clicks, 0.04))
                rows.append(
                    {
                        "Day": f"2026-11-{d + 1:02d}",
                        "Campaign name": campaign,
                        "Ad name": name,
                        "Impressions": m,
                        "Link clicks": clicks,
                        "Amount spent (USD)": round(m * (8 + c) / 1000 * rng.lognormal(0, 0.1), 2),
                        "Purchases": buys,
                        "Purchases conversion value": round(buys * rng.gamma(2, 25), 2),
                    }
                )
    df = pd.DataFrame(rows).sample(frac=1, random_state=seed)  # rows in no particular order
    df.to_csv(path, index=False)
    return df


def _raw(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "ads-from-data",
        "kind": "creative",
        "hypothesis": "One ad earns more clicks per impression than the static one.",
        "randomization": "none",
        "control": "Static 1",
        "variants": "from_data",
        "data": {"aggregates": "ads.csv", "preset": "meta", "columns": {"arm": "ad"}},
        "metrics": [
            {"name": "ctr", "type": "ctr", "role": "primary"},
            {"name": "cpa", "type": "cpa"},
            {"name": "purchases", "type": "mean", "column": "conversions"},
        ],
        "creative": {"ctr": "ctr", "conversion": "purchases", "draws": 2000},
        "analysis": {"correction": "bh"},
    }
    raw.update(extra)
    return raw


@pytest.fixture
def export(tmp_path: Path) -> pd.DataFrame:
    return _export(tmp_path / "ads.csv")


def _load(tmp_path: Path, raw: dict[str, Any], name: str = "plan.yaml") -> Any:
    return load_plan(write_plan(tmp_path / "experiments" / name, raw))


def test_arms_from_the_export_equal_the_typed_list(tmp_path: Path, export: pd.DataFrame) -> None:
    plan = _load(tmp_path, _raw())
    assert plan.arms_from_data and plan.variants == {}
    resolved = resolve_plan(plan)
    others = sorted(set(export["Ad name"]) - {"Static 1"})  # Python's string order
    assert list(resolved.variants) == ["Static 1", *others]
    assert others[:3] == ["Static 10", "Static 11", "Static 2"]
    assert others.index("Video 10") < others.index("Video 2")
    # the plan on disk, read with its data: same path and SHA-256
    digest = hashlib.sha256((tmp_path / "experiments" / "plan.yaml").read_bytes()).hexdigest()
    assert resolved.sha256 == digest and resolved.path == plan.path
    typed = _load(tmp_path, _raw(variants={v: {} for v in resolved.variants}), "typed.yaml")
    got, want = json.loads(analyze(plan).to_json()), json.loads(analyze(typed).to_json())
    assert got["plan_sha256"] == digest
    for key in ("metrics", "creative", "decision"):
        assert got[key] == want[key]
    # omitting variants: is the same as variants: from_data
    raw = _raw()
    del raw["variants"]
    assert list(resolve_plan(_load(tmp_path, raw, "omitted.yaml")).variants) == list(
        resolved.variants
    )
    # the sums per arm are the export's
    sums = export.groupby("Ad name")[["Impressions", "Link clicks"]].sum()
    ctr = json.loads(analyze(plan).to_json())["metrics"][0]["variants"]
    for ad in ("Static 1", "Video 10", "UGC 3"):
        want_ctr = sums.loc[ad, "Link clicks"] / sums.loc[ad, "Impressions"]
        assert ctr[ad]["mean"] == pytest.approx(want_ctr, rel=1e-12)


def test_a_control_missing_from_the_export_is_one_line(tmp_path: Path, export: pd.DataFrame):
    path = write_plan(tmp_path / "experiments" / "plan.yaml", _raw(control="Static 01"))
    with pytest.raises(DataError) as err:
        analyze(load_plan(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: control: 'Static 01' is not an arm of ads.csv")
    assert "'Static 1'" in msg and "33 values" in msg and "\n" not in msg
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 2 and "control: 'Static 01' is not an arm" in done.output


def test_validate_reads_the_arms_and_no_data_checks_the_yaml(tmp_path: Path, export):
    path = write_plan(tmp_path / "experiments" / "plan.yaml", _raw())
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 0, done.output
    assert "33 variants" in done.output
    done = CliRunner().invoke(app, ["validate", "--no-data", str(path)])
    assert done.exit_code == 0, done.output
    assert "variants from the data" in done.output
    done = CliRunner().invoke(app, ["design", str(path)])  # no data read: no arms yet
    assert isinstance(done.exception, PlanError)  # main() prints it in one line, exit 2
    assert str(done.exception).startswith(f"{path}: variants: the arms are read from")
    assert "list them under variants: to design the test" in str(done.exception)


def test_arms_from_data_need_an_export_and_a_control() -> None:
    raw = _raw()
    del raw["control"]
    with pytest.raises(PlanError, match=r"^<plan>: control: name the control arm"):
        parse_plan(raw)
    unit = _raw(data={"units": "ads.parquet"}, kind="general", creative=None)
    unit["metrics"] = [{"name": "ctr", "type": "proportion", "column": "c", "role": "primary"}]
    with pytest.raises(PlanError, match=r"^<plan>: variants: list the arms"):
        parse_plan(unit)


def _groups_by_pandas(export: pd.DataFrame) -> dict[str, list[str]]:
    pairs = export.drop_duplicates("Ad name").sort_values("Ad name")
    return {c: sorted(g["Ad name"]) for c, g in pairs.groupby("Campaign name")}


def test_group_by_a_column_equals_the_named_groups(tmp_path: Path, export: pd.DataFrame):
    by = _load(tmp_path, _raw(creative={"ctr": "ctr", "group_by": "campaign", "draws": 2000}))
    resolved = resolve_plan(by)
    assert resolved.creative is not None and resolved.creative.group_by is None
    named = _groups_by_pandas(export)
    assert {g: sorted(m) for g, m in resolved.creative.groups.items()} == named
    assert list(resolved.creative.groups) == sorted(named)  # groups in string order
    creative = {"ctr": "ctr", "groups": named, "draws": 2000}
    typed = _load(tmp_path, _raw(creative=creative), "named.yaml")
    got = json.loads(analyze(by).to_json())["creative"]["groups"]
    want = json.loads(analyze(typed).to_json())["creative"]["groups"]
    key = {g["name"]: {k: v for k, v in g.items() if k != "creatives"} for g in want}
    assert {g["name"]: {k: v for k, v in g.items() if k != "creatives"} for g in got} == key
    sums = export.groupby("Campaign name")[["Impressions", "Link clicks"]].sum()
    for g in got:
        assert g["impressions"] == sums.loc[g["name"], "Impressions"]
        assert g["clicks"] == sums.loc[g["name"], "Link clicks"]
    # a column by its header works as the role does
    header = _raw(creative={"ctr": "ctr", "group_by": "Campaign name", "draws": 2000})
    again = resolve_plan(_load(tmp_path, header, "header.yaml")).creative
    assert again is not None and again.groups == resolved.creative.groups


def test_an_ad_in_two_groups_is_one_line(tmp_path: Path, export: pd.DataFrame) -> None:
    moved = export.copy()
    first = moved.index[moved["Ad name"] == "Video 3"][0]
    moved.loc[first, "Campaign name"] = "Spring - UGC"
    moved.to_csv(tmp_path / "ads.csv", index=False)
    path = write_plan(
        tmp_path / "experiments" / "plan.yaml",
        _raw(creative={"ctr": "ctr", "group_by": "campaign"}),
    )
    with pytest.raises(DataError) as err:
        analyze(load_plan(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: creative.group_by: 'Video 3' has 2 values of 'campaign'")
    assert "'Spring - UGC', 'Spring - Video'" in msg and "\n" not in msg


def test_group_by_needs_an_export_and_excludes_groups() -> None:
    both = _raw(creative={"ctr": "ctr", "group_by": "campaign", "groups": {"a": ["Static 1"]}})
    with pytest.raises(PlanError, match=r"give groups .* or group_by .*, not both"):
        parse_plan(both)
    unit = _raw(
        data={"units": "ads.parquet"},
        variants={"a": {}, "b": {}},
        control="a",
        metrics=[{"name": "ctr", "type": "ratio", "numerator": "c", "denominator": "i"}],
        creative={"ctr": "ctr", "group_by": "campaign"},
    )
    unit["metrics"][0]["role"] = "primary"
    with pytest.raises(PlanError, match="group_by reads each ad's group from an ad-platform"):
        parse_plan(unit)


def test_an_ad_of_one_day_is_left_out_of_the_tournament(tmp_path: Path) -> None:
    df = _export(tmp_path / "ads.csv")
    extra = df.iloc[[0]].assign(**{"Ad name": "Late 1"})
    pd.concat([df, extra]).to_csv(tmp_path / "ads.csv", index=False)
    res = analyze(_load(tmp_path, _raw()))
    section = res.sections["creative"]
    assert "Late 1" in res.plan.variants
    assert [a.name for a in section.result.arms if a.name == "Late 1"] == []
    assert section.notes["left_out"].startswith("1 creatives with fewer than two rows")
    assert len(section.result.arms) == 33
    one = _load(tmp_path, _raw(control="Late 1"), "late.yaml")
    assert "fewer than two rows" in analyze(one).sections["creative"].reason


def test_the_yaml_bound_fits_the_largest_tournament(tmp_path: Path) -> None:
    """5,000 ads (the tournament's limit), each with a description, in ten groups: about
    25,000 values, within the bound; a file past the bound is refused before it is built."""
    ads = [f"Ad {i:04d}" for i in range(5000)]
    lines = [
        "name: big",
        "kind: creative",
        "hypothesis: h",
        "randomization: none",
        "variants:",
        *(f"  {a}: {{description: the ad called {a}}}" for a in ads),
        "data: {aggregates: ads.csv, columns: {arm: ad}}",
        "metrics: [{name: ctr, type: ctr, role: primary}]",
        "creative:",
        "  ctr: ctr",
        "  groups:",
        *(f"    G{g}: [{', '.join(ads[g::10])}]" for g in range(10)),
    ]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = load_plan(path)
    assert len(plan.variants) == 5000 and plan.creative is not None
    assert sum(len(m) for m in plan.creative.groups.values()) == 5000
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: [" + ", ".join(["1"] * MAX_YAML_VALUES) + "]\n", encoding="utf-8")
    with pytest.raises(PlanError, match=f"more than {MAX_YAML_VALUES:,} values"):
        load_plan(huge)


# ---- the creative section's money, from the export --------------------------------------------
Z = float(sps.norm.ppf(0.975))


def _ratio(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Σy/Σx and its delta-method SE over clusters, written out with numpy:
    ``Var(R) = (s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²)``, sample moments with ``n − 1``."""
    r = y.sum() / x.sum()
    var = (np.var(y, ddof=1) - 2 * r * np.cov(y, x, ddof=1)[0, 1] + r * r * np.var(x, ddof=1)) / (
        len(y) * x.mean() ** 2
    )
    return r, float(np.sqrt(var))


def test_creative_money_comes_from_the_export(tmp_path: Path, export: pd.DataFrame) -> None:
    """Spend, CPA, CPC, ROAS and value per ad and for a group, against the closed form on
    the export's rows (each row, an ad's day, is a cluster); a typed spend is not used."""
    creative = {"ctr": "ctr", "conversion": "purchases", "group_by": "campaign"}
    raw = _raw(creative=creative, currency="USD")
    plan = _load(tmp_path, {k: v for k, v in raw.items() if k != "variants"})
    res = analyze(plan)
    got = {a["name"]: a for a in json.loads(res.to_json())["creative"]["arms"]}
    cols = {"s": "Amount spent (USD)", "v": "Purchases", "c": "Link clicks"}
    for ad in ("Static 1", "Video 10", "UGC 4"):
        rows = export[export["Ad name"] == ad]
        s, v, c = (rows[cols[k]].to_numpy(float) for k in "svc")
        w = rows["Purchases conversion value"].to_numpy(float)
        a = got[ad]
        assert a["spend"] == pytest.approx(s.sum(), rel=1e-12)
        assert a["value"] == pytest.approx(w.sum(), rel=1e-12)
        for key, (y, x) in {"cpa": (s, v), "cpc": (s, c)}.items():
            r, se = _ratio(y, x)
            assert a[key]["estimate"] == pytest.approx(r, rel=1e-12)
            lo, hi = r * np.exp(-Z * se / r), r * np.exp(Z * se / r)
            assert a[key]["ci"] == pytest.approx([lo, hi], rel=1e-9)
        r, se = _ratio(w, s)
        assert a["roas"]["estimate"] == pytest.approx(r, rel=1e-12)
        assert a["roas"]["ci"] == pytest.approx([r - Z * se, r + Z * se], rel=1e-9)
    # a group's money: its ads' rows pooled
    section = res.sections["creative"]
    ugc = export[export["Campaign name"] == "Spring - UGC"]
    pooled = section.pooled(resolve_plan(plan).creative.groups["Spring - UGC"], "UGC")
    r, se = _ratio(ugc[cols["s"]].to_numpy(float), ugc[cols["v"]].to_numpy(float))
    cpa = cpa_interval(pooled)
    assert cpa is not None and cpa.estimate == pytest.approx(r, rel=1e-12)
    assert cpa.se == pytest.approx(se, rel=1e-9)
    group = next(g for g in section.result.groups if g.name == "Spring - UGC")
    assert group.cpa is not None and group.cpa.se == pytest.approx(se, rel=1e-9)
    w, s = ugc["Purchases conversion value"].to_numpy(float), ugc[cols["s"]].to_numpy(float)
    r, se = _ratio(w, s)
    assert group.roas is not None and group.roas.ci == pytest.approx(
        (r - Z * se, r + Z * se), rel=1e-9
    )
    assert group.spend == pytest.approx(s.sum(), rel=1e-12)
    frame = creative_views.group_frame(section, res).set_index("group")
    assert frame.loc["Spring - UGC", "spend"] == f"${s.sum():,.0f}"
    # the report's volume table shows them in the plan's currency
    money = creative_views.money_frame(section, res).set_index("creative")
    assert list(money.columns) == ["spend", "conversion value", "CPA", "CPC", "ROAS"]
    top = section.shown[0].name  # the best-ranked ad, listed first
    assert money.index[0] == top and money.loc[top, "spend"] == f"${got[top]['spend']:,.0f}"
    assert money.loc[top, "CPA"].startswith(f"${got[top]['cpa']['estimate']:,.2f}")


def test_a_typed_spend_is_not_used_on_an_export(tmp_path: Path, export: pd.DataFrame) -> None:
    plan = _load(tmp_path, _raw())
    typed = _raw(variants={v: {"spend": 1.0} for v in resolve_plan(plan).variants})
    got = json.loads(analyze(_load(tmp_path, typed, "typed.yaml")).to_json())["creative"]
    spend = export.groupby("Ad name")["Amount spent (USD)"].sum()
    for a in got["arms"]:
        assert a["spend"] == pytest.approx(spend[a["name"]], rel=1e-12)


def test_many_groups_list_the_best_and_sum_the_rest(tmp_path: Path, export: pd.DataFrame):
    """group_by the ad itself: 33 groups, the report's table lists ``show`` of them (highest
    CTR first) and sums the others' rows, as pandas does."""
    creative = {"ctr": "ctr", "group_by": "Ad name", "show": 5, "draws": 2000}
    res = analyze(_load(tmp_path, _raw(creative=creative, currency="USD")))
    section = res.sections["creative"]
    frame = creative_views.group_frame(section, res).set_index("group")
    assert len(frame) == 6 and frame.index[-1] == "the other 28 groups (summed)"
    sums = export.groupby("Ad name")[["Impressions", "Link clicks", "Amount spent (USD)"]].sum()
    ctr = (sums["Link clicks"] / sums["Impressions"]).sort_values(ascending=False)
    assert list(frame.index[:5]) == list(ctr.index[:5])
    rest = sums.loc[ctr.index[5:]].sum()
    row = frame.iloc[-1]
    assert row["impressions"].replace("\u00a0", "") == f"{rest['Impressions']:,.0f}"
    assert row["clicks"].replace("\u00a0", "") == f"{rest['Link clicks']:,.0f}"
    assert row["spend"].replace("\u00a0", "") == f"${rest['Amount spent (USD)']:,.0f}"


def test_google_ads_ids_are_arms_and_total_rows_are_not(tmp_path: Path) -> None:
    """Ad IDs (numbers in the file) are arms as text; the download's title lines and its
    ``Total: Account`` row give no arm."""
    from test_exports import GOOGLE

    (tmp_path / "google.csv").write_text(GOOGLE)
    raw = _raw(
        kind="general",
        control=101,
        data={"aggregates": "google.csv", "preset": "google_ads", "columns": {"arm": "ad"}},
        metrics=[{"name": "ctr", "type": "ctr", "role": "primary"}],
    )
    del raw["creative"]
    plan = resolve_plan(_load(tmp_path, raw))
    assert list(plan.variants) == ["101", "102", "201", "202"]
    assert plan.control_name == "101"
