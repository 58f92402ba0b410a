"""``kind: creative``: the tournament section, against references computed here.

- Event tables written by the test (four creatives with known CTRs, one whose click
  probability decays ×0.8 per day since exposure): the section in ``results.json`` equals
  :func:`liftlab.stats.creative.analyze_creatives` fed with per-user sums and day counts
  computed independently with pandas (1e-12), and the fatigue slope equals a ``statsmodels``
  binomial GLM (quasi-binomial SE) on the pandas counts (1e-8).
- A unit-table plan: the same arms, no fatigue (with a note). Plan validation in one line.
- ``views``: Markdown and three charts that render to SVG with marks.
- The demo: the creative-tournament report's section, with the fatiguing creative declining.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import vl_convert as vlc
from IPython.display import Markdown

from liftlab import analyze
from liftlab.demo_models import FATIGUE
from liftlab.errors import PlanError
from liftlab.plan import load_plan
from liftlab.stats.creative import CreativeArm, FatigueCurve, analyze_creatives
from liftlab.views import creative as view
from tests.conftest import write_plan

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2026-05-01")
CTRS = {"a": 0.020, "b": 0.030, "c": 0.022, "d": 0.018}  # b is the best creative
DECAY = {"c": 0.8}  # c's click probability × 0.8 per day since exposure
SPEND = {"a": 300.0, "b": 320.0, "c": 280.0, "d": 250.0}
DAYS = 7
ROLE = re.compile(r'aria-roledescription="([a-z ]+)"')


def _items(svg: str) -> Counter[str]:
    """Graphic items of an SVG by role ("rule mark", "line mark", "point", "bar", "circle")."""
    return Counter(ROLE.findall(svg))


@pytest.fixture(scope="module")
def ads(tmp_path_factory):
    """Exposures and events: impressions 20 hours apart, clicks, conversions with values."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("ads")
    n = 24_000
    names = np.asarray(list(CTRS))
    variant = names[rng.integers(0, len(names), n)]
    first = START + pd.to_timedelta(rng.integers(0, 10 * 86_400, n), unit="s")
    exposures = pd.DataFrame({"user_id": np.arange(n), "variant": variant, "exposed_at": first})
    k = 1 + rng.binomial(8, 0.5, n)
    user = np.repeat(np.arange(n), k)
    j = np.arange(user.size) - np.repeat(np.cumsum(k) - k, k)  # 0, 1, …, k − 1 per user
    offset = j * 20 * 3600 + rng.integers(0, 600, j.size)  # seconds after exposure
    ts = first.values[user] + pd.to_timedelta(offset, unit="s").values
    base = np.vectorize(CTRS.get)(variant)[user]
    decay = np.vectorize(lambda v: DECAY.get(v, 1.0))(variant)[user]
    clicked = rng.random(j.size) < base * decay ** (offset // 86_400)
    imp = pd.DataFrame({"user_id": user, "event": "impression", "ts": ts, "value": np.nan})
    clk = imp[clicked].assign(event="click", ts=lambda d: d.ts + pd.Timedelta(seconds=30))
    buyers = clk.groupby("user_id").ts.min()
    buyers = buyers[rng.random(buyers.size) < 0.15]
    conv = pd.DataFrame(
        {
            "user_id": buyers.index,
            "event": "conversion",
            "ts": buyers.values + pd.Timedelta(hours=1),
            "value": np.round(rng.gamma(2.0, 20.0, buyers.size), 2),
        }
    )
    late = imp.drop_duplicates("user_id").sample(500, random_state=3)  # outside the window
    late = late.assign(ts=lambda d: d.ts + pd.Timedelta(days=8))
    events = pd.concat([imp, clk, conv, late], ignore_index=True)
    exposures.to_parquet(root / "exposures.parquet")
    events.to_parquet(root / "events.parquet")
    return root, exposures, events


def _plan(root, on_events: bool, **creative: Any):
    if on_events:
        data: dict[str, Any] = {"exposures": "exposures.parquet", "events": "events.parquet"}
        metrics = [
            {
                "name": "ctr",
                "role": "primary",
                "type": "ratio",
                "numerator": {"event": "click", "aggregate": "count"},
                "denominator": {"event": "impression", "aggregate": "count"},
            },
            {"name": "converted", "type": "proportion", "event": "conversion"},
            {"name": "revenue", "type": "mean", "event": "conversion", "aggregate": "sum"},
        ]
    else:
        data = {"units": "units.parquet"}
        metrics = [
            {
                "name": "ctr",
                "role": "primary",
                "type": "ratio",
                "numerator": "clicks",
                "denominator": "impressions",
            },
            {"name": "converted", "type": "proportion", "column": "converted"},
            {"name": "revenue", "type": "mean", "column": "revenue"},
        ]
    raw = {
        "name": "ads",
        "kind": "creative",
        "hypothesis": "b earns the most clicks per impression",
        "unit": "user_id",
        "variants": {v: {"spend": s} for v, s in SPEND.items()},
        "data": data,
        "metrics": metrics,
        "analysis": {"correction": "bh"},
        "creative": {
            "ctr": "ctr",
            "conversion": "converted",
            "revenue": "revenue",
            "draws": 5000,
            **creative,
        },
    }
    return load_plan(write_plan(root / f"{'ev' if on_events else 'unit'}.yaml", raw))


def per_user(exposures: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Impressions, clicks, converted (0/1) and revenue in the 7 days after exposure."""
    ev = events.merge(exposures, on="user_id")
    since = ev.ts - ev.exposed_at
    ev = ev[(since >= pd.Timedelta(0)) & (since < DAYS * DAY)]
    g = ev.groupby(["user_id", "event"])
    counts = g.size().unstack(fill_value=0)
    out = exposures.set_index("user_id")[["variant"]].copy()
    out["impressions"] = counts["impression"].reindex(out.index, fill_value=0)
    out["clicks"] = counts["click"].reindex(out.index, fill_value=0)
    out["converted"] = (counts["conversion"].reindex(out.index, fill_value=0) > 0).astype(int)
    out["revenue"] = g.value.sum().unstack()["conversion"].reindex(out.index).fillna(0.0)
    return out.reset_index()


def day_counts(exposures: pd.DataFrame, events: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per creative, impressions and clicks by day since first exposure (days 0 … 6)."""
    ev = events.merge(exposures, on="user_id")
    ev = ev[ev.event.isin(["impression", "click"]) & (ev.ts >= ev.exposed_at)]
    ev = ev.assign(day=((ev.ts - ev.exposed_at) // DAY).astype(int))
    ev = ev[ev.day < DAYS]
    table = ev.groupby(["variant", "event", "day"]).size().unstack("event", fill_value=0)
    return {
        v: table.loc[v].reindex(range(DAYS), fill_value=0)[["impression", "click"]] for v in CTRS
    }


def reference(plan, units: pd.DataFrame, counts: dict[str, pd.DataFrame] | None):
    arms = []
    for v in CTRS:
        u = units[units.variant == v]
        arm = CreativeArm.from_units(
            v, u.impressions, u.clicks, u.converted, revenue=u.revenue, spend=SPEND[v]
        )
        arms.append(arm)  # with conversions × clicks and × impressions, as the engine sums them
    curves = None
    if counts is not None:
        curves = [FatigueCurve(v, c.impression, c.click) for v, c in counts.items()]
    o = plan.creative
    return analyze_creatives(
        arms,
        control="a",
        alpha=plan.analysis.alpha,
        correction="bh",
        floor=min(0.01, 0.1 / len(arms)) if o.floor is None else o.floor,  # the plan's default
        prior=o.prior,
        top_k=o.top_k,
        n_next=int(units.impressions.sum()),
        draws=o.draws,
        seed=o.seed,
        fatigue=curves,
    ).to_dict()


def close(got: Any, want: Any, path: str = "") -> None:
    """Nested dicts/lists equal, numbers to 1e-12 relative (None for non-finite)."""
    if isinstance(want, dict):
        assert set(want) <= set(got), path
        for k in want:
            close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            close(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), path
    else:
        assert got == want, path


@pytest.fixture(scope="module")
def event_run(ads):
    plan = _plan(ads[0], True)
    res = analyze(plan)
    return plan, res, json.loads(res.to_json())["creative"]


def test_section_equals_the_stats_module_on_pandas_sums(ads, event_run):
    _, exposures, events = ads
    plan, _, got = event_run
    units = per_user(exposures, events)
    want = reference(plan, units, day_counts(exposures, events))
    keys = "control correction arms shrinkage allocation fatigue prior top_k mc_se campaign"
    for key in keys.split():
        close(got[key], want[key], key)
    ctr = {a["name"]: a["ctr"] for a in got["arms"]}
    for v in CTRS:  # and the CTRs are the pandas ratios
        u = units[units.variant == v]
        assert ctr[v]["estimate"] == pytest.approx(u.clicks.sum() / u.impressions.sum(), 1e-12)
    arms = {a["name"]: a for a in got["arms"]}
    assert all(a["cpa"]["ci"][0] < a["cpa"]["estimate"] < a["cpa"]["ci"][1] for a in got["arms"])
    assert arms["b"]["roas"]["estimate"] == pytest.approx(
        units[units.variant == "b"].revenue.sum() / SPEND["b"], rel=1e-12
    )
    # conversion per click has its delta-method interval (engine cross-products)
    for a in got["arms"]:
        for key in ("cvr", "cvr_impression"):
            lo, hi = a[key]["ci"]
            assert lo < a[key]["estimate"] < hi, (a["name"], key)
    assert "conversion" not in got["notes"]
    # the truly best creative is the likeliest best and gets the largest share
    assert max(arms, key=lambda v: arms[v]["prob_best"]) == "b"
    weights = got["allocation"]["weights"]
    assert max(weights, key=weights.get) == "b" and sum(weights.values()) == pytest.approx(1)
    assert got["fatigue_counts"]["c"]["clicks"] == [
        int(x) for x in day_counts(exposures, events)["c"].click
    ]


def test_fatigue_slope_equals_a_binomial_glm(ads, event_run):
    _, exposures, events = ads
    _, _, got = event_run
    fits = {f["creative"]: f for f in got["fatigue"]}
    for v, c in day_counts(exposures, events).items():
        days = np.arange(DAYS, dtype=float)
        keep = c.impression.to_numpy() > 0
        m, y = c.impression.to_numpy()[keep], c.click.to_numpy()[keep]
        ref = sm.GLM(
            y / m, sm.add_constant(days[keep]), family=sm.families.Binomial(), var_weights=m
        ).fit(tol=1e-14, scale="X2", use_t=True)
        assert fits[v]["slope"] == pytest.approx(ref.params[1], rel=1e-8)
        assert fits[v]["se"] == pytest.approx(ref.bse[1], rel=1e-8)
        assert fits[v]["ci"] == pytest.approx(list(ref.conf_int()[1]), rel=1e-8)
    c = fits["c"]
    assert c["ci"][1] < 0 and c["declining"] and c["p_value_decline_adjusted"] < 0.05
    assert math.exp(c["ci"][0]) < 0.8 < math.exp(c["ci"][1])  # the true decay, as odds
    assert not any(fits[v]["declining"] for v in CTRS if v not in DECAY)


def test_unit_table_plan_has_no_fatigue_but_the_rest(ads, event_run):
    root, exposures, events = ads
    per_user(exposures, events).to_parquet(root / "units.parquet")
    _, _, from_events = event_run
    got = json.loads(analyze(_plan(root, False)).to_json())["creative"]
    assert got["fatigue"] is None and got["fatigue_counts"] is None
    assert "event tables" in got["notes"]["fatigue"]
    close(got["arms"], from_events["arms"], "arms")
    close(got["allocation"], from_events["allocation"], "allocation")


def test_fatigue_can_be_switched_off_and_needs_the_event_source(ads):
    root, *_ = ads
    got = json.loads(analyze(_plan(root, True, fatigue=False)).to_json())["creative"]
    assert got["fatigue"] is None and "off" in got["notes"]["fatigue"]


@pytest.mark.parametrize(
    ("creative", "message"),
    [
        (
            {"ctr": "converted"},
            "creative.ctr: 'converted' is a proportion metric; it must be ratio",
        ),
        (
            {"ctr": "ctrr"},
            "creative.ctr: 'ctrr' is not a metric of this plan (did you mean 'ctr'?)",
        ),
        ({"ctr": "ctr", "revenue": "converted"}, "creative.revenue: 'converted' is a proportion"),
        (
            {"ctr": "ctr", "groups": {"bold": ["a", "z"]}},
            "creative.groups.bold: 'z' is not a variant of the plan",
        ),
        (
            {"ctr": "ctr", "groups": {"bold": ["a"], "calm": ["b", "a"]}},
            "creative.groups: 'a' is in both bold and calm",
        ),
        ({"ctr": "ctr", "groups": {"bold": []}}, "creative.groups.bold: list at least one"),
    ],
)
def test_creative_options_fail_in_one_line(tmp_path, creative, message):
    raw = {
        "name": "ads",
        "kind": "creative",
        "hypothesis": "h",
        "variants": {"a": {}, "b": {}},
        "data": {"units": "u.parquet"},
        "metrics": [
            {"name": "ctr", "role": "primary", "type": "ratio"}
            | {"numerator": "clicks", "denominator": "impressions"},
            {"name": "converted", "type": "proportion", "column": "converted"},
        ],
        "creative": creative,
    }
    path = write_plan(tmp_path / "plan.yaml", raw)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    assert msg.removeprefix(f"{path}: ").startswith(message)


def test_views_show_the_summary_table_and_three_charts(event_run):
    _, res, _ = event_run
    section = res.sections["creative"]
    views = view.views(section, res)
    assert isinstance(views[0], Markdown)
    text = views[0].data
    assert text.startswith('<a id="kind"></a>\n\n## Creative tournament')
    assert "**b** leads" in text and "winner's curse" in text
    assert "CTR declines with days since first exposure for **c**" in text
    assert "equal split" in text
    assert "shrunk lift" in views[1].to_html() and "chance best" in views[1].to_html()
    # the correction in words, the technical name in brackets
    assert "p-values adjusted for testing 3 challengers at once [Benjamini–Hochberg]" in text
    assert "= <" not in text and not re.search(r"\de-\d", text)
    volume, money = views[2].to_html(), views[3].to_html()
    assert "CTR trend per day" in volume and "CPA" not in volume
    assert "CPA" in money and "CPC" in money and "ROAS" in money and "spend" in money
    # no currency in this plan: CPA is a plain amount with cents, ROAS a ratio
    frame = view.money_frame(section, res)
    arm = section.result.arm("b")
    assert arm.cpa is not None and arm.roas is not None
    b = frame.set_index("creative").loc["b"]
    assert b["CPA"].startswith(f"{arm.cpa.estimate:,.2f} [")
    roas = b["ROAS"].split(" [")[0]  # a ratio with three significant digits, no currency
    digits = len(roas.partition(".")[2])
    assert abs(float(roas) - arm.roas.estimate) <= 0.5 * 10**-digits
    assert len(roas.replace(".", "").lstrip("0")) == 3
    charts = [v for v in views if isinstance(v, alt.TopLevelMixin)]
    assert len(charts) == 3
    lift, budget, fatigue = (_items(vlc.vegalite_to_svg(c.to_dict())) for c in charts)
    assert lift["rule mark"] >= 2 * 3 and lift["point"] == 2 * 3  # raw and shrunk, 3 challengers
    assert budget["bar"] == len(CTRS)
    assert fatigue["line mark"] == len(CTRS) and fatigue["circle"] >= 3 * len(CTRS)
    # the charts carry aggregates only: no unit ids, a few rows each
    frames = (view.lift_frame(section), view.allocation_frame(section))
    assert all(len(f) <= 2 * len(CTRS) for f in frames)
    assert len(view.fatigue_frame(section)) <= len(CTRS) * DAYS


def test_demo_tournament_section_and_report(good_run):
    run = good_run["runs"]["creative-tournament"][-1]
    got = json.loads((run / "results.json").read_text())["creative"]
    [tired] = FATIGUE
    fits = {f["creative"]: f for f in got["fatigue"]}
    assert fits[tired]["slope"] < 0 and fits[tired]["declining"]
    assert [v for v, f in fits.items() if f["declining"]] == [tired]
    weights = got["allocation"]["weights"]
    assert max(weights, key=weights.get) == "discount"
    assert all(a["cpa"]["estimate"] > 0 for a in got["arms"])
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Creative tournament" in html and "winner" in html
    assert "Next period" in html and "CTR by day since first exposure" in html


def test_tiny_ctrs_print_distinctly_and_money_is_in_the_plans_currency(tmp_path):
    """CTRs of 0.018% and 0.024% would both print 0.02%; CPA is in the plan's currency."""
    rng = np.random.default_rng(5)
    ctrs = {"a": 0.000183, "b": 0.000241, "c": 0.000205, "d": 0.000198}
    spend = {"a": 900.0, "b": 950.0, "c": 880.0, "d": 910.0}
    n = 40_000
    variant = np.asarray(list(ctrs))[rng.integers(0, len(ctrs), n)]
    impressions = 20 + rng.poisson(30, n)
    clicks = rng.binomial(impressions, np.vectorize(ctrs.get)(variant))
    converted = ((clicks > 0) & (rng.random(n) < 0.4)).astype(np.int64)
    units = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": variant,
            "impressions": impressions,
            "clicks": clicks,
            "converted": converted,
            "revenue": converted * 30.0,
        }
    )
    units.to_parquet(tmp_path / "units.parquet")
    raw = {
        "name": "tiny-ads",
        "kind": "creative",
        "hypothesis": "b earns the most clicks per impression",
        "unit": "user_id",
        "currency": "EUR",
        "variants": {v: {"spend": s} for v, s in spend.items()},
        "data": {"units": "units.parquet"},
        "metrics": [
            {"name": "ctr", "role": "primary", "type": "ratio", "label": "click-through rate"}
            | {"numerator": "clicks", "denominator": "impressions"},
            {"name": "converted", "type": "proportion", "column": "converted"},
            {"name": "revenue", "type": "mean", "column": "revenue"},
        ],
        "creative": {"ctr": "ctr", "conversion": "converted", "revenue": "revenue"},
    }
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    section = res.sections["creative"]
    observed = units.groupby("variant")[["clicks", "impressions"]].sum()
    rate = (observed.clicks / observed.impressions).to_dict()
    assert len({f"{100 * x:.2f}%" for x in rate.values()}) < len(rate)  # two decimals collide

    table = view.creative_frame(section, res).set_index("creative")
    column = "click-through rate (95% CI)"  # the metric's label names the column
    shown = {v.split("\u00a0")[0]: table.loc[v, column].split(" [")[0] for v in table.index}
    assert len(set(shown.values())) == len(ctrs)
    for v, text in shown.items():
        assert text == f"{100 * rate[v]:.4f}%"  # three significant digits of 0.0183%
    summary = view.summary_markdown(section, res)
    assert "on **click-through rate**" in summary

    volume = view.money_frame(section, res).set_index("creative")
    conversions = units.groupby("variant").converted.sum()
    for v in ctrs:
        cpa = volume.loc["a\u00a0(control)" if v == "a" else v, "CPA"]
        assert re.fullmatch(r"€[\d,]+\.\d\d \[€[\d,]+\.\d\d,\u00a0€[\d,]+\.\d\d\]", cpa)
        assert cpa.startswith(f"€{spend[v] / conversions[v]:,.2f} [")
    assert not any("€" in x for x in volume["ROAS"])  # ROAS is a ratio, not money


def test_fatigue_from_an_exports_daily_rows(tmp_path):
    """An ad × day export: CTR by day since each ad's first day with impressions equals the
    pandas counts, the slope a statsmodels GLM on them; the decaying ad declines."""
    rng = np.random.default_rng(21)
    rows = []
    for j, (ad, ctr) in enumerate(CTRS.items()):
        first = START + j * DAY  # staggered launches; a zero-impression day before each
        rows.append({"date": first - DAY, "ad": ad, "impressions": 0, "clicks": 0})
        for d in range(12):
            m = int(rng.integers(3000, 6000))
            p = ctr * DECAY.get(ad, 1.0) ** d
            rows.append({"date": first + d * DAY, "ad": ad, "impressions": m})
            rows[-1]["clicks"] = int(rng.binomial(m, p))
    export = pd.DataFrame(rows).assign(date=lambda x: x.date.dt.strftime("%Y-%m-%d"))
    export.sample(frac=1, random_state=1).to_csv(tmp_path / "ads.csv", index=False)
    raw = {
        "name": "export-ads",
        "kind": "creative",
        "hypothesis": "b earns the most clicks per impression",
        "unit": "ad",
        "variants": {v: {} for v in CTRS},
        "data": {"aggregates": "ads.csv", "columns": {"arm": "ad"}},
        "randomization": "none",
        "metrics": [{"name": "ctr", "type": "ctr", "role": "primary"}],
        "creative": {"ctr": "ctr", "fatigue_days": 10, "draws": 2000},
    }
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    section = res.sections["creative"]
    got = json.loads(res.to_json())["creative"]
    assert "fatigue" not in got["notes"]
    fits = {f["creative"]: f for f in got["fatigue"]}
    live = export[export.impressions > 0].assign(date=lambda x: pd.to_datetime(x.date))
    live["day"] = (live.date - live.groupby("ad").date.transform("min")).dt.days
    for ad, rows_ in live[live.day < 10].groupby("ad"):
        counts = rows_.groupby("day")[["impressions", "clicks"]].sum()
        assert got["fatigue_counts"][ad]["impressions"] == counts.impressions.tolist()
        assert got["fatigue_counts"][ad]["clicks"] == counts.clicks.tolist()
        m, y = counts.impressions.to_numpy(float), counts.clicks.to_numpy(float)
        ref = sm.GLM(
            y / m,
            sm.add_constant(counts.index.to_numpy(float)),
            family=sm.families.Binomial(),
            var_weights=m,
        ).fit(tol=1e-14, scale="X2", use_t=True)
        assert fits[ad]["slope"] == pytest.approx(ref.params[1], rel=1e-8)
        assert fits[ad]["se"] == pytest.approx(ref.bse[1], rel=1e-8)
    assert [v for v, f in fits.items() if f["declining"]] == list(DECAY)
    text = view.summary_markdown(section, res)
    assert "days since the creative's first impression for **c**" in text
    assert "not randomised" in text
    volume = view.volume_frame(section, res).set_index("creative")
    days = export.groupby("ad").size()  # each row a cluster, the zero-impression day too
    assert volume.loc["b", "export rows"] == str(days["b"])


def test_fatigue_chart_draws_the_declining_ads_first_and_at_most_six() -> None:
    """Twelve listed ads would be twelve overlapping dotted curves: the chart draws the
    significantly declining ones (strongest evidence first), then the tables' order."""
    from types import SimpleNamespace as NS

    names = [f"Ad {i:02d}" for i in range(12)]
    # adjusted p for decline and whether it is significant; Ad 05 has no fit
    flags = {n: (0.5, False) for n in names if n != "Ad 05"}
    flags |= {"Ad 09": (0.001, True), "Ad 03": (0.02, True), "Ad 11": (0.0001, True)}
    section = NS(shown=[NS(name=n) for n in names], declining=flags)
    drawn = view.fatigue_drawn(section)  # type: ignore[arg-type]
    assert drawn == ["Ad 11", "Ad 09", "Ad 03", "Ad 00", "Ad 01", "Ad 02"]
    assert len(drawn) == view.FATIGUE_LINES


def test_budget_bars_break_ties_at_the_floor_by_the_tables_order() -> None:
    """Most ads of a big campaign sit at the budget floor with the same share: the bars
    then name the ads the tables list (by chance best, then their order), not plan order."""
    from types import SimpleNamespace as NS

    names = [f"Ad {i:02d}" for i in range(10)]
    weights = dict.fromkeys(names, 0.01) | {"Ad 07": 0.6, "Ad 04": 0.32}
    prob = dict.fromkeys(names, 0.0) | {"Ad 07": 0.9, "Ad 04": 0.1, "Ad 08": 1e-4}
    shown = [NS(name=n) for n in ("Ad 07", "Ad 04", "Ad 09", "Ad 06", "Ad 08")]
    section = NS(result=NS(allocation=NS(weights=weights, prob_best=prob)), shown=shown, show=4)
    frame = view.allocation_frame(section)  # type: ignore[arg-type]
    assert list(frame["creative"]) == ["Ad 07", "Ad 04", "Ad 08", "Ad 09", "the other 6"]
    assert frame["weight"].iloc[-1] == pytest.approx(0.06)
