"""The headline, the formatter, honest progress and the verdict that reads them.

Expected numbers come from the comparison's own fields (the headline must be exactly the
number its method decides by), from scipy closed forms computed here, or from the text rules
of liftlab.format written out by hand.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from liftlab import format as fmt
from liftlab import present, scorecard
from liftlab.analysis import analyze
from liftlab.headline import Headline
from liftlab.plan import load_plan
from tests.conftest import base_plan, write_plan, write_table

NBSP = "\u00a0"


def _load(tmp_path: Path, raw: dict[str, Any]):  # type: ignore[no-untyped-def]
    return load_plan(write_plan(tmp_path / "plan.yaml", raw))


# ---- the formatter -----------------------------------------------------------------------------
def test_rates_print_distinctly_with_enough_digits() -> None:
    ctr = fmt.Display("CTR", "percent")
    assert fmt.values(ctr, {"a": 0.000183, "b": 0.000241, "c": 0.000229}) == {
        "a": "0.0183%",
        "b": "0.0241%",
        "c": "0.0229%",
    }
    # an approval rate near zero is not 0.00%
    assert fmt.value(ctr, 0.0000412) == "0.00412%"
    # two arms that differ beyond three digits get a fourth
    shown = fmt.values(ctr, {"a": 0.10111, "b": 0.10114})
    assert shown["a"] != shown["b"]


def test_percentage_point_differences_and_intervals() -> None:
    rate = fmt.Display("signup rate", "percent")
    text = fmt.effect_text(rate, 0.007867, (0.001174, 0.01218), "absolute")
    assert text == f"+0.79 pp [+0.12 pp,{NBSP}+1.22 pp]"
    lift = fmt.effect_text(rate, 0.078, (0.035, 0.122), "relative")
    assert lift == f"+7.8% [+3.5%,{NBSP}+12.2%]"


def test_floating_point_noise_prints_as_zero() -> None:
    number = fmt.Display("shift")
    text = fmt.effect_text(number, -4.44e-16, (-0.25, 0.25), "absolute")
    assert text.startswith("0.") and "e-" not in text and not text.startswith("-")
    assert fmt.number(-4.44e-16, 3, sign=True, scale=1.0) == "0.000"


def test_currency_values_and_differences() -> None:
    eur = fmt.Display("revenue per visitor", "currency", currency="EUR")
    assert fmt.value(eur, 2.289) == "€2.29"
    assert fmt.delta(eur, -0.1234, 2) == "-€0.12"
    assert fmt.delta(eur, 0.004, 2) == "€0.00"
    chf = fmt.Display("revenue", "currency", currency="CHF")
    assert fmt.value(chf, 12.5) == "12.50 CHF"
    assert fmt.money(1234.5, "USD") == "$1,234.50"


def test_p_values_and_probabilities() -> None:
    assert fmt.p_value(0.00878) == "0.009"
    assert fmt.p_value(1e-112) == "< 0.001"
    assert fmt.p_value(None) == fmt.DASH
    assert fmt.probability(0.99995) == "> 99.9%"
    assert fmt.probability(1.0) == "100%"
    assert fmt.probability(0.0004) == "< 0.1%"
    assert fmt.probability(0.973) == "97.3%"


def test_p_values_in_a_sentence_never_read_equals_less_than() -> None:
    assert fmt.p_clause(0.00878) == "p = 0.009"
    assert fmt.p_clause(4.5e-10) == "p < 0.001"
    assert fmt.p_clause(0.0412, "adjusted p") == "adjusted p = 0.041"
    assert fmt.p_clause(None) == f"p = {fmt.DASH}"


def test_monte_carlo_chances_are_never_certain() -> None:
    assert fmt.mc_probability(0.0) == "< 0.1%"
    assert fmt.mc_probability(1.0) == "> 99.9%"
    assert fmt.mc_probability(0.52) == "52.0%"
    assert fmt.mc_probability(None) == fmt.DASH


# ---- the headline by method --------------------------------------------------------------------
def test_frequentist_headline_is_the_lift_and_the_adjusted_p(tmp_path: Path, units) -> None:
    res = analyze(_load(tmp_path, base_plan(str(units["path"]))))
    for m in res.metrics:
        for c in m.comparisons:
            h = c.headline
            assert h is not None
            e = c.effect
            assert h.effect == e.rel_effect and h.interval == e.rel_ci
            assert h.interval_kind == "confidence" and h.effect_type == "relative"
            assert h.probability == c.p_value_adjusted
            assert h.probability_kind == ("p_adjusted" if m.metric.role == "primary" else "p_value")
            if m.metric.role == "guardrail":
                assert h.status.startswith("guardrail_")
            else:
                assert h.status == ("better" if c.better else "worse" if c.worse else "flat")
            # the JSON round trip gives the same headline
            assert Headline.from_dict(res.to_dict()["metrics"][0]["comparisons"][0]["headline"])


def test_bayesian_headline_is_the_posterior(tmp_path: Path, units) -> None:
    raw = base_plan(str(units["path"]))
    raw["analysis"]["method"] = "bayesian"
    res = analyze(_load(tmp_path, raw))
    c = res.metric("conversion").comparison("b")
    assert c.bayes is not None and c.headline is not None
    assert c.headline.effect == c.bayes.rel_effect
    assert c.headline.interval == tuple(c.bayes.rel_ci)
    assert c.headline.interval_kind == "credible"
    assert c.headline.probability == c.bayes.prob_beat_control
    assert c.headline.probability_kind == "chance_to_beat_control"


def test_sequential_headline_is_the_always_valid_interval(tmp_path: Path, units) -> None:
    raw = base_plan(str(units["path"]))
    raw["data"]["timestamp"] = "exposed_at"
    raw["analysis"]["method"] = "sequential"
    res = analyze(_load(tmp_path, raw))
    c = res.metric("conversion").comparison("b")
    assert c.sequential is not None and c.headline is not None
    assert c.headline.effect_type == "absolute" and c.headline.effect == c.effect.abs_effect
    assert c.headline.interval == tuple(c.sequential.ci)
    assert c.headline.interval_kind == "always-valid"
    assert c.headline.probability == c.p_value_adjusted
    assert c.headline.probability_kind == "always_valid_p_adjusted"
    # the always-valid interval is wider than the fixed-horizon one
    lo, hi = c.effect.abs_ci
    assert c.headline.interval[0] < lo and c.headline.interval[1] > hi


# ---- honest progress ---------------------------------------------------------------------------
def _two_arm_mean(tmp_path: Path, n: int = 4_000) -> dict[str, Any]:
    rng = np.random.default_rng(11)
    variant = np.where(np.arange(n) % 2 == 0, "control", "b")
    revenue = rng.gamma(2.0, 5.0, n)
    path = write_table(
        tmp_path / "two.parquet",
        {"user_id": np.arange(n), "variant": variant, "revenue": revenue},
    )
    return {
        "name": "two-arm",
        "kind": "landing_page",
        "hypothesis": "b lifts revenue",
        "unit": "user_id",
        "variants": {"control": {"weight": 0.5}, "b": {"weight": 0.5}},
        "data": {"units": str(path)},
        "metrics": [{"name": "revenue", "role": "primary", "type": "mean", "column": "revenue"}],
        "analysis": {"alpha": 0.05, "power": 0.8},
    }


def test_no_planned_size_without_baseline_and_mde(tmp_path: Path) -> None:
    raw = _two_arm_mean(tmp_path)
    res = analyze(_load(tmp_path, raw))
    p = res.progress
    assert p is not None and p.planned_n is None and res.planned_n_per_variant is None
    # the detectable lift: (z_{1-α/2} + z_power) · sd · sqrt(2/n) / mean, control arm
    c = res.metric("revenue").variants["control"]
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    expected = z * math.sqrt(c.variance) * math.sqrt(2 / p.smallest) / c.mean
    assert p.detectable_effect == pytest.approx(expected, rel=1e-6)
    if res.decision.recommendation == "keep_running":
        assert "No sample size was planned" in res.decision.reason
        assert "planned" not in res.decision.reason.replace("was planned", "")
    box = present.verdict_html(res)
    assert "No sample size was planned" in box and " planned units per variant" not in box
    assert fmt.percent(p.detectable_effect) in box


def test_planned_size_with_baseline_and_mde_and_days_to_go(tmp_path: Path) -> None:
    raw = _two_arm_mean(tmp_path)
    raw["metrics"][0].update(baseline=10.0, baseline_sd=7.0)
    raw["analysis"]["mde"] = 0.02
    raw["design"] = {"daily_units": 1_000}
    res = analyze(_load(tmp_path, raw))
    p = res.progress
    assert p is not None and p.planned_n is not None and p.planned_n > p.smallest
    # closed form: 2 · (z_{1-α/2} + z_power)² · sd² / δ², δ = 2% of 10
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert p.planned_n == math.ceil(2 * z**2 * 7.0**2 / 0.2**2)
    assert p.daily_planned == pytest.approx(500)
    assert p.days_to_go(p.daily_planned) == math.ceil((p.planned_n - p.smallest) / 500)
    text = present.progress_text(res)
    assert f"of {p.planned_n:,} planned units per variant" in text
    # no timestamps, so no observed daily traffic: the days to go at the planned traffic
    assert res.decision.recommendation == "keep_running"
    to_go = p.planned_n - p.smallest
    assert res.decision.reason.endswith(
        f"{to_go:,} more units per variant to go: about {p.days_to_go(500):,} at the planned "
        "500 a day."
    )


def test_design_n_per_variant_is_a_planned_size(tmp_path: Path) -> None:
    raw = _two_arm_mean(tmp_path)
    raw["design"] = {"n_per_variant": 1_500}
    res = analyze(_load(tmp_path, raw))
    assert res.progress is not None and res.progress.planned_n == 1_500
    assert res.progress.reached
    if res.decision.recommendation != "ship":
        assert "planned sample size is reached (2,000 of 1,500" in res.decision.reason


# ---- the verdict -------------------------------------------------------------------------------
def _winning(tmp_path: Path, arms: int, guardrail: bool) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    n = 6_000 * arms
    names = ["control", *(f"v{i}" for i in range(1, arms))]
    variant = np.asarray(names)[np.arange(n) % arms]
    lift = np.select(
        [variant == f"v{i}" for i in range(1, arms)], [1.0 + 0.25 * i for i in range(1, arms)], 1.0
    )
    cols = {
        "user_id": np.arange(n),
        "variant": variant,
        "converted": (rng.random(n) < 0.1 * lift).astype(np.int64),
        "bounced": (rng.random(n) < 0.3).astype(np.int64),
        "revenue": rng.gamma(2.0, 5.0, n) / lift,
    }
    path = write_table(tmp_path / "win.parquet", cols)
    metrics = [
        {"name": "conversion", "role": "primary", "type": "proportion", "column": "converted"},
        {
            "name": "revenue",
            "role": "secondary",
            "type": "mean",
            "column": "revenue",
            "format": "currency",
        },
    ]
    if guardrail:
        metrics.append(
            {
                "name": "bounce",
                "role": "guardrail",
                "type": "proportion",
                "column": "bounced",
                "direction": "decrease",
            }
        )
    return {
        "name": "win",
        "kind": "landing_page",
        "hypothesis": "the variants lift conversion",
        "unit": "user_id",
        "currency": "EUR",
        "variants": {v: {} for v in names},
        "data": {"units": str(path)},
        "metrics": metrics,
        "analysis": {"alpha": 0.05},
    }


def test_verdict_mentions_guardrails_only_when_there_are_some(tmp_path: Path) -> None:
    res = analyze(_load(tmp_path, _winning(tmp_path, 2, guardrail=False)))
    assert res.decision.recommendation == "ship"
    assert "guardrail" not in res.decision.reason.lower()
    res = analyze(_load(tmp_path, _winning(tmp_path, 2, guardrail=True)))
    assert res.decision.recommendation == "ship"
    assert "Guardrail passed: bounce." in res.decision.reason


def test_many_arm_verdict_names_the_runner_up_and_a_worse_secondary(tmp_path: Path) -> None:
    res = analyze(_load(tmp_path, _winning(tmp_path, 3, guardrail=False)))
    d = res.decision
    assert d.recommendation == "ship" and d.variant == "v2" and d.runner_up == "v1"
    h = res.metric("conversion").comparison("v1").headline
    assert h is not None
    assert f"Runner-up: v1, {h.effect_text(fmt.Display('conversion', 'percent'))}" in d.reason
    # revenue falls with the lift: the winner is significantly worse on it, with its headline
    rh = res.metric("revenue").comparison("v2").headline
    assert rh is not None and rh.status == "worse"
    money = fmt.Display("revenue", "currency", currency="EUR")
    assert d.caveats == (
        f"v2 is significantly worse than control on revenue: {rh.effect_text(money)} "
        f"(95% confidence interval; p {rh.probability_text()}).",
    )


def test_verdict_quotes_the_headline_exactly(tmp_path: Path) -> None:
    res = analyze(_load(tmp_path, _winning(tmp_path, 2, guardrail=False)))
    [row] = [r for r in scorecard.scorecard_rows(res) if r.metric == "conversion"]
    assert row.change in res.decision.reason and row.probability in res.decision.reason
    assert row.change in present.verdict_html(res).replace("&#x27;", "'")


def test_tiny_ctr_scorecard_values_differ(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    variant = np.where(np.arange(n) % 2 == 0, "control", "b")
    impressions = rng.poisson(30, n) + 1
    rate = np.where(variant == "b", 0.000241, 0.000183)
    clicks = rng.binomial(impressions, rate)
    path = write_table(
        tmp_path / "ctr.parquet",
        {"user_id": np.arange(n), "variant": variant, "clicks": clicks, "impressions": impressions},
    )
    raw = {
        "name": "tiny-ctr",
        "kind": "creative",
        "hypothesis": "b lifts CTR",
        "unit": "user_id",
        "variants": {"control": {}, "b": {}},
        "data": {"units": str(path)},
        "metrics": [
            {
                "name": "ctr",
                "label": "CTR",
                "format": "percent",
                "role": "primary",
                "type": "ratio",
                "numerator": "clicks",
                "denominator": "impressions",
            }
        ],
    }
    res = analyze(_load(tmp_path, raw))
    [row] = scorecard.scorecard_rows(res)
    c = res.metric("ctr").variants
    assert row.label == "CTR"
    # three significant digits of a rate below 0.1%: 0.0183%, not 0.02%
    assert re.fullmatch(r"0\.0\d{3}%", row.control) and re.fullmatch(r"0\.0\d{3}%", row.treatment)
    assert row.control == f"{100 * c['control'].mean:.4f}%"
    assert row.control != row.treatment
    html = scorecard.scorecard_html(res)
    assert row.control in html and row.treatment in html


def test_always_valid_progress_names_its_own_size_and_the_fixed_one(tmp_path: Path) -> None:
    """An always-valid plan has no planned end; its reference is the fixed-horizon size (the
    closed form), and the size by which it reaches its power looking daily is larger."""
    raw = _two_arm_mean(tmp_path)
    raw["metrics"][0].update(baseline=10.0, baseline_sd=7.0)
    raw["analysis"].update(mde=0.05, method="sequential")
    raw["data"]["timestamp"] = "exposed_at"
    raw["design"] = {"daily_units": 1_000}
    n = 4_000
    path = write_table(
        tmp_path / "two.parquet",
        {
            "user_id": np.arange(n),
            "variant": np.where(np.arange(n) % 2 == 0, "control", "b"),
            "revenue": np.random.default_rng(11).gamma(2.0, 5.0, n),
            "exposed_at": pd.Timestamp("2026-11-02") + pd.to_timedelta(np.arange(n) % 4, "D"),
        },
    )
    raw["data"]["units"] = str(path)
    res = analyze(_load(tmp_path, raw))
    p = res.progress
    assert p is not None and p.always_valid and p.planned_n is None
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert p.reference_n == math.ceil(2 * z**2 * 7.0**2 / 0.5**2)
    assert p.always_valid_n is not None and p.always_valid_n > p.reference_n
    text = present.progress_text(res)
    assert f"by about {p.always_valid_n:,} per variant" in text
    assert f"A fixed-horizon test would need {p.reference_n:,} per variant" in text


@pytest.mark.parametrize("direction", ["increase", "decrease"])
def test_bayesian_status_follows_the_metric_direction_once(tmp_path: Path, direction: str) -> None:
    """The chance to beat control already reads the metric's direction: a treatment clearly
    lower on a lower-is-better metric is better, not worse (and the reverse on increase)."""
    rng = np.random.default_rng(5)
    n = 4_000
    variant = np.where(np.arange(n) % 2 == 0, "control", "b")
    cost = rng.gamma(2.0, 5.0, n) * np.where(variant == "b", 0.8, 1.0)  # b costs 20% less
    raw = _two_arm_mean(tmp_path)
    raw["data"]["units"] = str(
        write_table(
            tmp_path / "cost.parquet",
            {"user_id": np.arange(n), "variant": variant, "revenue": cost},
        )
    )
    raw["metrics"][0]["direction"] = direction
    raw["analysis"]["method"] = "bayesian"
    res = analyze(_load(tmp_path, raw))
    c = res.metric("revenue").comparison("b")
    assert c.bayes is not None and c.effect.abs_effect < 0
    beats = c.bayes.prob_beat_control
    if direction == "decrease":
        assert beats > 0.99 and c.better and not c.worse and c.headline.status == "better"
    else:
        assert beats < 0.01 and c.worse and not c.better and c.headline.status == "worse"
