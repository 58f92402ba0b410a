"""``kind: landing_page``: the section's numbers against independent pandas computations.

References: the funnel counts, the ``repeat`` aggregate, per-segment and per-day Moments are
computed here with pandas from the rows the test wrote (following the semantics pinned in
``liftlab.events`` and ``liftlab.stats.funnel``), then fed to the tested statistics of
:mod:`liftlab.stats.funnel`; the section in ``results.json`` must equal them (rel 1e-9: the
engine's sums and pandas' sums differ only in rounding). Constructed datasets check Simpson's
paradox (exact counts) and novelty (a decaying effect); the demo checks the known truth (only
the signup step changes).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from liftlab import analyze, load_plan
from liftlab import format as fmt
from liftlab.aggregate import unit_statistics
from liftlab.decision import display_of
from liftlab.headline import Headline
from liftlab.jsonsafe import clean
from liftlab.stats.frequentist import welch_test
from liftlab.stats.funnel import funnel_analysis, novelty_analysis, segment_analysis
from liftlab.stats.moments import Moments
from liftlab.units import open_units
from liftlab.views import landing
from tests.conftest import write_plan, write_table

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2026-05-01")
STEPS = ["view", "signup", "activate"]
WINDOW = 5.0  # funnel window (days), not the default 7
REPEAT_WINDOW = 10.0


def _close(got: Any, want: Any, path: str = "") -> None:
    """Recursive equality of JSON-like values, floats to rel 1e-9."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for k in want:
            _close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), path
    else:
        assert got == want, path


def _json(d: Any) -> Any:
    return json.loads(json.dumps(clean(d), allow_nan=False))


def _plan(root, raw_extra: dict[str, Any], name: str = "lp"):
    raw = {
        "name": name,
        "kind": "landing_page",
        "hypothesis": "h",
        "unit": "user_id",
        "variants": {"control": {}, "treat": {}},
        "analysis": {"alpha": 0.05, "correction": "holm"},
        **raw_extra,
    }
    return load_plan(write_plan(root / f"{name}.yaml", raw))


# ----- (a), (e) event tables -------------------------------------------------------------------
@pytest.fixture(scope="module")
def events_root(tmp_path_factory):
    rng = np.random.default_rng(17)
    root = tmp_path_factory.mktemp("landing_events")
    n = 3_000
    exp = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(rng.random(n) < 0.5, "control", "treat"),
            "exposed_at": START + pd.to_timedelta(rng.integers(0, 10 * 86_400, n), unit="s"),
        }
    )
    later = exp.iloc[2:].sample(200, random_state=1).assign(exposed_at=lambda d: d.exposed_at + DAY)
    flip = (
        exp.iloc[2:]
        .sample(30, random_state=2)
        .assign(
            variant=lambda d: np.where(d.variant == "control", "treat", "control"),
            exposed_at=lambda d: d.exposed_at + 2 * DAY,
        )
    )
    exposures = pd.concat([exp, later, flip], ignore_index=True)
    frames = []
    # each step independently (an activate without a signup must not count), some before
    # exposure or after the window, and units never exposed (ids ≥ n)
    for event, p, count in (("view", 0.9, 1), ("signup", 0.35, 1), ("activate", 0.5, 1)):
        for _ in range(count + 1):
            units = rng.integers(0, n + 50, 2 * n)
            units = units[rng.random(units.size) < p / 2]
            frames.append(pd.DataFrame({"user_id": units, "event": event}))
    buys = rng.integers(0, n + 50, 3 * n)
    frames.append(pd.DataFrame({"user_id": buys, "event": "purchase"}))
    ev = pd.concat(frames, ignore_index=True)
    base = exp.set_index("user_id").exposed_at.reindex(ev.user_id, fill_value=START).to_numpy()
    offset = pd.to_timedelta(rng.uniform(-1, 12, len(ev)) * 86_400, unit="s").round("s")
    ev["ts"] = base + offset
    ev["value"] = np.where(ev.event == "purchase", 10.0, np.nan)
    # the window's edges: at exposure counts, at exposure + window does not
    first = exp.set_index("user_id").exposed_at
    edges = pd.DataFrame(
        {
            "user_id": [0, 0, 0, 1, 1, 1],
            "event": ["view", "signup", "activate"] * 2,
            "ts": [first[0]] * 2
            + [first[0] + WINDOW * DAY - pd.Timedelta(seconds=1)]
            + [first[1], first[1] + WINDOW * DAY, first[1]],
            "value": np.nan,
        }
    )
    events = pd.concat([ev[ev.user_id > 1], edges], ignore_index=True)
    exposures.to_parquet(root / "exposures.parquet")
    events.to_parquet(root / "events.parquet")
    return root, exposures, events


def _event_plan(root):
    return _plan(
        root,
        {
            "data": {"exposures": "exposures.parquet", "events": "events.parquet"},
            "landing_page": {"funnel": STEPS, "funnel_window_days": WINDOW},
            "metrics": [
                {"name": "signups", "role": "primary", "type": "proportion", "event": "signup"},
                {
                    "name": "repeat_buyers",
                    "type": "proportion",
                    "event": "purchase",
                    "aggregate": "repeat",
                    "window_days": REPEAT_WINDOW,
                },
            ],
        },
        name="ev",
    )


def _kept(exposures: pd.DataFrame) -> pd.DataFrame:
    g = exposures.groupby("user_id").agg(
        exposed_at=("exposed_at", "min"), n_var=("variant", "nunique"), variant=("variant", "min")
    )
    return g[g.n_var == 1].drop(columns="n_var")


def _in_window(events: pd.DataFrame, kept: pd.DataFrame, event: str, days: float) -> pd.Series:
    """Per kept unit, the number of ``event`` rows with ``exposed_at <= ts < exposed_at + days``."""
    ev = events[events.event == event].merge(kept, left_on="user_id", right_index=True)
    since = ev.ts - ev.exposed_at
    hit = ev[(since >= pd.Timedelta(0)) & (since < days * DAY)]
    return hit.groupby("user_id").size().reindex(kept.index, fill_value=0)


def _nested_counts(flags: pd.DataFrame, variant: pd.Series, steps: list[str]) -> dict:
    reached = pd.Series(True, index=flags.index)
    out = {v: [int((variant == v).sum())] for v in ("control", "treat")}
    for step in steps:
        reached = reached & flags[step].astype(bool)
        for v in out:
            out[v].append(int((reached & (variant == v)).sum()))
    return out


def test_event_funnel_counts_and_section_equal_pandas(events_root):
    root, exposures, events = events_root
    plan = _event_plan(root)
    kept = _kept(exposures)
    flags = pd.DataFrame({s: _in_window(events, kept, s, WINDOW) > 0 for s in STEPS})
    want = _nested_counts(flags, kept.variant, STEPS)
    # the edge units: unit 0 reaches activate at window − 1 s; unit 1 stops at view
    assert flags.loc[0].all() and flags.loc[1].tolist() == [True, False, True]
    stats = unit_statistics(plan, open_units(plan))
    assert stats.funnel_counts == want
    # the nesting matters here: plenty of activations without a signup
    assert int(flags.activate.sum()) > want["control"][3] + want["treat"][3]

    section = analyze(plan).to_dict()["landing_page"]
    ref = funnel_analysis(STEPS, want, "control", alpha=0.05, correction="holm")
    _close(section["funnel"], _json(ref.to_dict()))
    assert section["segments"] is None  # no data.segments


def test_repeat_aggregate_per_unit_equals_pandas(events_root):
    root, exposures, events = events_root
    plan = _event_plan(root)
    kept = _kept(exposures)
    want = (_in_window(events, kept, "purchase", REPEAT_WINDOW) >= 2).astype(float)
    src = open_units(plan)
    col = src.layout.columns["repeat_buyers"][0]
    got = src.table.select("unit", col).to_pandas().set_index("unit")[col]
    got.index = got.index.astype(int)
    pd.testing.assert_series_equal(
        got.sort_index(), want.sort_index(), check_names=False, check_index_type=False
    )
    assert 0 < want.sum() < len(want)

    res = analyze(plan)
    rep = res.to_dict()["landing_page"]["repeat_purchase"]["repeat_buyers"]
    for v in ("control", "treat"):
        units = want[kept.variant == v]
        assert rep["exposed"][v] == len(units) and rep["repeaters"][v] == int(units.sum())
        assert rep["rate"][v] == pytest.approx(units.mean(), rel=1e-12)
    ref = welch_test(
        *(Moments.from_arrays(want[kept.variant == v].to_numpy()) for v in ("control", "treat"))
    )
    eff = rep["effects"]["treat"]
    assert eff["difference"] == pytest.approx(ref.abs_effect, rel=1e-9)
    assert eff["p_value"] == pytest.approx(ref.p_value, rel=1e-9)
    # the metric's own row is the same test
    assert eff["p_value"] == pytest.approx(
        res.metric("repeat_buyers").comparison("treat").effect.p_value, rel=1e-12
    )
    assert rep["among_buyers"] is None  # the plan has no "any purchase" metric of 10 days


# ----- (b) unit table with 0/1 step columns ----------------------------------------------------
def test_unit_table_funnel_columns(tmp_path):
    rng = np.random.default_rng(4)
    n = 6_000
    variant = np.where(rng.random(n) < 0.5, "control", "treat")
    cols = {
        "user_id": np.arange(n),
        "variant": variant,
        "viewed": (rng.random(n) < 0.95).astype(np.int64),
        "signed_up": (rng.random(n) < np.where(variant == "treat", 0.14, 0.1)).astype(np.int64),
        "activated": (rng.random(n) < 0.4).astype(np.int64),  # some without a signup
    }
    write_table(tmp_path / "u.parquet", cols)
    plan = _plan(
        tmp_path,
        {
            "data": {"units": "u.parquet"},
            "funnel": ["viewed", "signed_up", "activated"],  # top-level shorthand
            "metrics": [
                {"name": "signup", "role": "primary", "type": "proportion", "column": "signed_up"}
            ],
        },
    )
    df = pd.DataFrame(cols)
    want = _nested_counts(df, df.variant, ["viewed", "signed_up", "activated"])
    res = analyze(plan)
    section = res.to_dict()["landing_page"]
    ref = funnel_analysis(["viewed", "signed_up", "activated"], want, "control", 0.05, "holm")
    _close(section["funnel"], _json(ref.to_dict()))
    assert section["funnel"]["biggest_change"]["step"] == "signed_up"
    assert section["novelty"] is None and section["segments"] is None  # no days, no segments
    html = _views_html(res)
    assert "Landing page: funnel, segments, novelty" in html and "gained users at" in html
    # the signed_up step and the signup metric ask the same question with different tests:
    # the funnel says so and quotes the metric's headline exactly as the scorecard prints it
    h = res.metric("signup").comparison("treat").headline
    assert h is not None
    display = display_of(plan, "signup")
    quoted = f"{h.effect_text(display)} ({h.interval_label}; p (adjusted) {h.probability_text()})"
    assert "Step tests are fixed-horizon diagnostics" in html
    assert f"the headline of signup above for step signed\\_up: {quoted}" in html
    assert "= <" not in html  # "adjusted p < 0.001", never "adjusted p = < 0.001"


def _views_html(res) -> str:
    out = []
    for v in landing.views(res.sections["landing_page"], res):
        data = getattr(v, "data", None)
        out.append(data if isinstance(data, str) else v.to_json())  # charts: their spec
    return "\n".join(out)


# ----- (c) segments -----------------------------------------------------------------------------
def test_segments_equal_segment_analysis_on_pandas_moments(tmp_path):
    rng = np.random.default_rng(8)
    n = 8_000
    variant = np.where(rng.random(n) < 0.5, "control", "treat")
    pre = rng.gamma(2.0, 10.0, n)
    impressions = 1 + rng.poisson(4, n)
    cols = {
        "user_id": np.arange(n),
        "variant": variant,
        "device": np.where(rng.random(n) < 0.6, "mobile", "desktop"),
        "channel": np.asarray(["paid", "organic", "email"])[rng.integers(0, 3, n)],
        "converted": (rng.random(n) < np.where(variant == "treat", 0.22, 0.2)).astype(np.int64),
        "revenue": np.maximum(0, 0.6 * pre + rng.normal(0, 8, n)),
        "pre_revenue": pre,
        "clicks": rng.binomial(impressions, 0.05),
        "impressions": impressions,
    }
    write_table(tmp_path / "s.parquet", cols)
    metrics = {  # name: (y, x, test)
        "conversion": ("converted", None, "welch"),
        "revenue": ("revenue", "pre_revenue", "cuped"),
        "ctr": ("clicks", "impressions", "ratio"),
    }
    plan = _plan(
        tmp_path,
        {
            "data": {"units": "s.parquet", "segments": ["device", "channel"]},
            "analysis": {"alpha": 0.1, "correction": "bh"},
            "metrics": [
                {
                    "name": "conversion",
                    "role": "primary",
                    "type": "proportion",
                    "column": "converted",
                },
                {
                    "name": "revenue",
                    "role": "primary",
                    "type": "mean",
                    "column": "revenue",
                    "covariate": "pre_revenue",
                },
                {
                    "name": "ctr",
                    "role": "primary",
                    "type": "ratio",
                    "numerator": "clicks",
                    "denominator": "impressions",
                },
            ],
        },
    )
    section = analyze(plan).to_dict()["landing_page"]
    df = pd.DataFrame(cols)
    for name, (y, x, test) in metrics.items():
        moments = {
            dim: {
                str(level): {
                    v: Moments.from_arrays(
                        rows[y][rows.variant == v],
                        None if x is None else rows[x][rows.variant == v],
                    )
                    for v in ("control", "treat")
                }
                for level, rows in df.groupby(dim)
            }
            for dim in ("device", "channel")
        }
        ref = segment_analysis(
            moments, control="control", treatment="treat", test=test, alpha=0.1, correction="bh"
        )
        got = section["segments"][name]["treat"]
        assert got["test"] == test
        _close(got, _json(ref.to_dict()))
    # the tables say what Cochran's Q means in words, the test's name in brackets
    res = analyze(plan)
    html = _views_html(res)
    assert "#### conversion: treat vs control by segment" in html
    for name in metrics:
        for d in section["segments"][name]["treat"]["dimensions"]:
            p = d["heterogeneity"]["p_value"]
            words = (
                "The effect differs across levels"
                if p < 0.1
                else "No evidence that the effect differs across levels"
            )
            assert f"{words} of {d['dimension']} (heterogeneity test [Cochran's Q]: " in html
    assert "Q p =" not in html and "*stratified* (" not in html
    assert "(stratified)" in html and "(pooled)" in html
    # a proportion's differences carry their unit, percentage points, on every number, and
    # wrap only before the interval's bracket
    nb = "\u00a0"
    assert re.search(
        rf"\| [+-]\d+\.\d+{nb}pp \[[+-]\d+\.\d+{nb}pp,{nb}[+-]\d+\.\d+{nb}pp\] \|", html
    )


def test_simpsons_paradox_warns_in_results_and_report(tmp_path):
    # exact counts: +2 pp within each device, but treat sits mostly on low-converting mobile
    cells = [  # device, variant, units, converters
        ("mobile", "treat", 9_000, 1_080),
        ("mobile", "control", 1_000, 100),
        ("desktop", "treat", 1_000, 520),
        ("desktop", "control", 9_000, 4_500),
    ]
    rows = [(device, v, int(k < conv)) for device, v, units, conv in cells for k in range(units)]
    df = pd.DataFrame(rows, columns=["device", "variant", "converted"])
    df["user_id"] = np.arange(len(df))
    write_table(tmp_path / "simpson.parquet", {c: df[c].to_numpy() for c in df.columns})
    plan = _plan(
        tmp_path,
        {
            "data": {"units": "simpson.parquet", "segments": ["device"]},
            "metrics": [
                {
                    "name": "conversion",
                    "role": "primary",
                    "type": "proportion",
                    "column": "converted",
                }
            ],
        },
    )
    res = analyze(plan)
    dim = res.to_dict()["landing_page"]["segments"]["conversion"]["treat"]["dimensions"][0]
    assert dim["pooled"]["effect"] < 0 < dim["stratified"]["effect"]
    assert all(lv["effect"] == pytest.approx(0.02) for lv in dim["levels"])
    assert dim["simpson"] is True and "Simpson's paradox" in dim["message"]
    warnings = [
        v.data
        for v in landing.views(res.sections["landing_page"], res)
        if "liftlab-simpson" in str(getattr(v, "data", ""))
    ]
    assert len(warnings) == 1 and "Simpson&#x27;s paradox" in warnings[0]
    assert "every level of &#x27;device&#x27;" in warnings[0]


# ----- (d) novelty ------------------------------------------------------------------------------
def test_novelty_detects_a_decaying_effect(tmp_path):
    rng = np.random.default_rng(21)
    n, days = 60_000, 14
    variant = np.where(rng.random(n) < 0.5, "control", "treat")
    day = rng.integers(0, days, n)
    lift = 0.08 * np.exp(-day / 3)  # a new headline's pull fades within days
    p = 0.2 + np.where(variant == "treat", lift, 0.0)
    cols = {
        "user_id": np.arange(n),
        "variant": variant,
        "exposed_at": (START + pd.to_timedelta(day * 86_400 + 3_600, unit="s")).to_numpy(),
        "converted": (rng.random(n) < p).astype(np.int64),
    }
    write_table(tmp_path / "nov.parquet", cols)
    plan = _plan(
        tmp_path,
        {
            "data": {"units": "nov.parquet", "timestamp": "exposed_at"},
            "metrics": [
                {
                    "name": "conversion",
                    "label": "signup conversion",
                    "role": "primary",
                    "type": "proportion",
                    "column": "converted",
                }
            ],
        },
    )
    res = analyze(plan)
    got = res.to_dict()["landing_page"]["novelty"]["conversion"]["treat"]
    df = pd.DataFrame(cols)
    df["day"] = df.exposed_at.dt.date
    daily = {
        d: {v: Moments.from_arrays(rows.converted[rows.variant == v]) for v in ("control", "treat")}
        for d, rows in df.groupby("day")
    }
    ref = novelty_analysis(daily, control="control", treatment="treat", alpha=0.05)
    _close(got, _json(ref.to_dict()))
    assert got["verdict"] == "novelty" and got["cut"] == "2026-05-08"
    assert got["early"]["effect"] > got["late"]["effect"] > 0
    html = _views_html(res)
    # the metric's label, and differences of a rate in percentage points, each number
    assert "signup conversion (treat): **novelty: the effect fades" in html
    d = got["difference"]
    want = fmt.effect_text(display_of(plan, "conversion"), d["estimate"], d["ci"], "absolute")
    assert f"difference {want} ({fmt.p_clause(d['p_value'])}, 95% CIs)" in html
    assert want.count(" pp") == 3


def test_a_failing_part_does_not_stop_the_others(tmp_path):
    rng = np.random.default_rng(2)
    n = 2_000
    cols = {
        "user_id": np.arange(n),
        "variant": np.where(rng.random(n) < 0.5, "control", "treat"),
        "exposed_at": (
            START + pd.to_timedelta(rng.integers(0, 4 * 86_400, n), unit="s")
        ).to_numpy(),
        "a": np.ones(n, dtype=np.int64),
        "b": (rng.random(n) < 0.3).astype(np.int64),
    }
    write_table(tmp_path / "f.parquet", cols)
    plan = _plan(
        tmp_path,
        {
            "data": {"units": "f.parquet", "timestamp": "exposed_at"},
            # the cut leaves no late cohort: novelty alone is unavailable
            "landing_page": {"funnel": ["a", "b"], "novelty_cut": "2027-01-01"},
            "metrics": [{"name": "b", "role": "primary", "type": "proportion", "column": "b"}],
        },
    )
    res = analyze(plan)
    section = res.to_dict()["landing_page"]
    assert section["novelty"]["b"]["treat"]["status"] == "unavailable"
    assert "empty cohort" in section["novelty"]["b"]["treat"]["reason"]
    assert section["funnel"]["steps"] == ["a", "b"]
    assert "empty cohort" in _views_html(res)


# ----- (f) the demo -----------------------------------------------------------------------------
def test_demo_landing_section(project, good_run):
    assert good_run["ok"], good_run["log"]
    [run] = good_run["runs"]["landing-headline"]
    section = json.loads((run / "results.json").read_text(encoding="utf-8"))["landing_page"]
    f = section["funnel"]
    assert f["steps"] == ["landing_view", "signup", "activate"]
    assert f["biggest_change"]["step"] == "signup"
    assert f["biggest_change"]["p_value_adjusted"] < 0.05
    by_step = {s["step"]: s for s in f["by_step"]}
    # every exposed unit views the page; activation (40% of signups) is the same in both arms
    assert all(v["rate"] == 1 for v in by_step["landing_view"]["variants"])
    assert by_step["activate"]["comparisons"][0]["p_value_adjusted"] > 0.05
    seg = section["segments"]["signup_rate"]["benefit"]
    assert [d["dimension"] for d in seg["dimensions"]] == ["device", "channel"]
    assert not any(d["simpson"] for d in seg["dimensions"])
    assert section["novelty"]["signup_rate"]["benefit"]["verdict"] in (
        "stable",
        "novelty",
        "primacy",
    )
    rep = section["repeat_purchase"]["repeat_purchase_rate"]
    assert all(abs(r - 0.02) < 0.004 for r in rep["rate"].values())  # truth: 8% × 25%
    assert math.isfinite(rep["effects"]["benefit"]["p_value"])
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Landing page: funnel, segments, novelty" in html
    assert "gained users at <strong>signup</strong>" in html
    # the signup step's fixed-horizon p and the signup_rate headline differ, and the funnel
    # says why, quoting the headline as the scorecard prints it (always-valid, sequential)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    metric = next(m for m in results["metrics"] if m["name"] == "signup_rate")
    h = Headline.from_dict(metric["comparisons"][0]["headline"])
    display = fmt.Display.from_dict(metric, results["currency"])
    assert h.probability_kind == "always_valid_p_adjusted"
    quoted = f"{h.effect_text(display)} ({h.interval_label}; always-valid p (adjusted) "
    quoted += f"{h.probability_text()})"
    assert "Step tests are fixed-horizon diagnostics" in html
    assert f"the headline of signup rate above for step signup: {quoted}" in html
    assert "= &lt;" not in html.split('id="kind"')[1]
