"""The pricing section of a ``kind: pricing`` plan (:mod:`liftlab.kinds.pricing`) and its views
(:mod:`liftlab.views.pricing`).

Where each expected number comes from:

- the section: :func:`liftlab.stats.pricing.analyze_pricing` (tested against statsmodels and
  scipy in ``tests/test_pricing.py``) fed with per-arm sums computed here with a pandas
  ``groupby`` on the unit rows (capped with numpy when the plan caps revenue);
- the demand curve's coefficients and standard errors: ``statsmodels.api.GLM`` (Binomial,
  logit) on the 0/1 unit rows;
- the demo: the simulation's true demand curve (``liftlab.simulate``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import vl_convert as vlc
from IPython.display import HTML, Markdown

from liftlab import analyze, load_plan, views
from liftlab.demo_models import DEMAND_INTERCEPT, DEMAND_SLOPE
from liftlab.errors import PlanError
from liftlab.plan import parse_plan
from liftlab.stats.pricing import PriceArm, analyze_pricing
from liftlab.views import pricing as view
from tests.conftest import base_plan, write_plan, write_table

PRICES = {"p10": 10.0, "p15": 15.0, "p20": 20.0, "p25": 25.0}
UNIT_COST = 4.0
MARK = re.compile(r'aria-roledescription="([a-z]+)(?: mark)?"')


def _rows(seed: int = 11, n: int = 8_000, buyers: bool = True) -> pd.DataFrame:
    """Unit rows: a 0/1 ``purchased`` from a logistic demand curve, ``revenue`` from buyers
    only (the list price times a spread for add-ons and discounts)."""
    rng = np.random.default_rng(seed)
    variant = np.asarray(list(PRICES))[rng.integers(0, len(PRICES), n)]
    price = np.vectorize(PRICES.get)(variant)
    q = 1 / (1 + np.exp(-(-1.0 - 0.03 * price)))
    purchased = (rng.random(n) < q).astype(np.int64) if buyers else np.zeros(n, np.int64)
    revenue = purchased * price * rng.lognormal(0.0, 0.3, n)
    return pd.DataFrame(
        {"user_id": np.arange(n), "variant": variant, "purchased": purchased, "revenue": revenue}
    )


def _raw(path: Path, **pricing: Any) -> dict[str, Any]:
    raw = base_plan(str(path))
    raw["name"] = "price-test"
    raw["kind"] = "pricing"
    raw["variants"] = {
        v: {"weight": 0.25, "price": p, "unit_cost": UNIT_COST} for v, p in PRICES.items()
    }
    raw["metrics"] = [
        {"name": "revenue", "role": "primary", "type": "mean", "column": "revenue"},
        {"name": "purchase", "type": "proportion", "column": "purchased"},
    ]
    raw["pricing"] = {"conversion": "purchase", "revenue": "revenue", **pricing}
    return raw


def _plan(tmp_path: Path, rows: pd.DataFrame, **pricing: Any):  # type: ignore[no-untyped-def]
    path = write_table(tmp_path / "units.parquet", {c: rows[c].to_numpy() for c in rows})
    return load_plan(write_plan(tmp_path / "plan.yaml", _raw(path, **pricing)))


def _close(got: Any, want: Any, where: str = "pricing") -> None:
    """Equal JSON trees, numbers to 1e-12 (relative, or absolute near zero)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (where, got, want)
    else:
        assert got == want, where


@pytest.mark.parametrize("cap", [None, 40.0])
def test_section_equals_analyze_pricing_on_pandas_sums(tmp_path: Path, cap: float | None) -> None:
    rows = _rows()
    raw_plan = _plan(tmp_path, rows)
    if cap is not None:  # the revenue metric capped: the section uses it as analysed
        raw = _raw(tmp_path / "units.parquet")
        raw["metrics"][0]["cap"] = {"value": cap}
        raw_plan = load_plan(write_plan(tmp_path / "capped.yaml", raw))
    results = analyze(raw_plan)
    got = json.loads(results.to_json())["pricing"]

    df = rows.assign(r=np.minimum(rows.revenue, cap) if cap is not None else rows.revenue)
    sums = (
        df.assign(r2=df.r**2)
        .groupby("variant")
        .agg(n=("user_id", "size"), buyers=("purchased", "sum"), r=("r", "sum"), r2=("r2", "sum"))
    )
    arms = [
        PriceArm(v, p, int(sums.n[v]), int(sums.buyers[v]), float(sums.r[v]), float(sums.r2[v]))
        for v, p in PRICES.items()
    ]
    opts = raw_plan.pricing
    assert opts is not None
    want = analyze_pricing(
        arms, alpha=0.05, unit_cost=UNIT_COST, control="p10", draws=opts.draws, seed=opts.seed
    ).to_dict()
    assert got["status"] == "ok"
    assert got["metrics"] == {"conversion": "purchase", "revenue": "revenue"}
    assert got["revenue_caps"] == ({"revenue": cap} if cap is not None else {})
    _close({k: got[k] for k in want}, json.loads(json.dumps(want)))

    # the contract: per arm, demand with elasticities, the optimum
    for arm in got["arms"]:
        for key in ("conversion", "aov", "rpv", "profit"):
            assert len(arm[key]["ci"]) == 2
        assert 0 <= arm["prob_best_rpv"] <= 1
    assert [e["price"] for e in got["demand"]["elasticity"]] == list(PRICES.values())
    assert set(got["optimal_price"]) >= {"price", "ci", "at_edge"}

    # the demand curve is the unit-level logistic regression
    x = sm.add_constant(df.variant.map(PRICES).to_numpy())
    glm = sm.GLM(df.purchased.to_numpy(), x, family=sm.families.Binomial()).fit()
    coef, se = got["demand"]["coefficients"], got["demand"]["se"]
    assert [coef["intercept"], coef["price"]] == pytest.approx(glm.params, rel=1e-6)
    assert [se["intercept"], se["price"]] == pytest.approx(glm.bse, rel=1e-6)


def test_views_show_the_summary_the_table_and_two_charts(tmp_path: Path) -> None:
    rows = _rows()
    results = analyze(_plan(tmp_path, rows))
    section = results.sections["pricing"]
    shown = view.views(section, results)
    assert [type(v) for v in views.section_views(results)] == [type(v) for v in shown]
    md = "\n".join(v.data for v in shown if isinstance(v, Markdown))
    assert md.startswith('<a id="kind"></a>\n\n## Pricing')
    opt = section.result.optimal_price
    # this curve's revenue still rises at 25: the optimum is the top edge, said plainly
    assert opt.at_edge and opt.price == 25.0
    # no currency in this plan: amounts are plain numbers with cents
    assert "Revenue per visitor is highest at a price of 25.00" in md
    assert "top edge of the tested range" in md
    assert "nothing outside 10.00–25.00 is extrapolated" in md
    assert "Profit per visitor (unit cost 4.00)" in md
    assert "outweighed" in md or "both" in md  # the decomposition, in words
    assert "Price elasticity of conversion" in md and "Cochran–Armitage" in md
    assert len(re.findall(r"^\| p\d", md, flags=re.M)) == len(PRICES)  # a table row per arm
    charts = [v for v in shown if isinstance(v, alt.TopLevelMixin)]
    assert len(charts) >= 2
    marks: Counter[str] = Counter()
    for chart in charts:
        spec = chart.to_dict()
        # aggregates only: no unit ids or unit revenue values in the spec
        data = [row for rows_ in spec.get("datasets", {}).values() for row in rows_]
        assert 0 < len(data) < 400
        assert not any("user_id" in row for row in data)
        numbers = {round(v, 9) for r in data for v in r.values() if isinstance(v, float)}
        assert not numbers & set(rows.revenue[rows.revenue > 0].round(9))
        svg = vlc.vegalite_to_svg(spec)
        assert svg.lstrip().startswith("<svg")
        marks += Counter(MARK.findall(svg))
    assert marks["line"] >= 3 and marks["area"] >= 3  # demand, revenue and profit with bands
    assert marks["point"] >= 3 * len(PRICES)  # observed conversion, revenue, profit per arm
    assert marks["rect"] >= 2 and marks["rule"] >= 2  # each optimum: its CI shaded and a rule
    assert "purchase: demand curve" in json.dumps(charts[0].to_dict())


def test_broken_pricing_option_fails_validation_in_one_line(tmp_path: Path) -> None:
    raw = _raw(tmp_path / "units.parquet", revenue="purchase")
    with pytest.raises(PlanError) as err:
        parse_plan(raw, source="p.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert "pricing.revenue: 'purchase' is a proportion metric; it must be mean" in text


def test_no_buyers_leaves_the_section_unavailable_and_the_rest_analysed(tmp_path: Path) -> None:
    results = analyze(_plan(tmp_path, _rows(buyers=False)))
    out = json.loads(results.to_json())
    assert set(out["pricing"]) == {"status", "reason"}
    assert out["pricing"]["status"] == "unavailable"
    assert "no visitor bought" in out["pricing"]["reason"]
    assert [m["name"] for m in out["metrics"]] == ["revenue", "purchase"]
    assert out["decision"]["recommendation"]
    [box] = views.section_views(results)
    assert isinstance(box, HTML) and "Pricing analysis unavailable:" in box.data
    assert "no visitor bought" in box.data


def test_demo_report_shows_the_pricing_section(good_run: dict[str, Any]) -> None:
    run = good_run["runs"]["pricing-three-tiers"][-1]
    text = (run / "report.html").read_text(encoding="utf-8")
    section = json.loads((run / "results.json").read_text(encoding="utf-8"))["pricing"]
    assert section["status"] == "ok" and section["unit_cost"] == 6
    opt = section["optimal_price"]
    assert opt["range"] == [19.0, 29.0] and opt["ci"][0] <= opt["price"] <= opt["ci"][1]
    assert 'id="Pricing"' in text
    assert text.index('id="metric-revenue_per_visitor"') < text.index('id="Pricing"')
    price = f"€{opt['price']:,.2f}"  # the plan's currency is EUR
    assert f"Revenue per visitor is highest at a price of {price}" in text
    assert "nothing outside €19.00–€29.00 is extrapolated" in text
    # every buyer pays the list price: order value has no interval, and the column says so
    assert "order value (95% CI)" not in text and "Order value has no interval" in text
    assert "p = &lt; 0.001" not in text and "p = < 0.001" not in text
    assert "purchase rate: demand curve" in text
    assert "revenue and profit per visitor by price" in text
    # the fitted slope covers the simulation's true one; the intercept too
    coef, se = section["demand"]["coefficients"], section["demand"]["se"]
    assert abs(coef["price"] - DEMAND_SLOPE) < 1.96 * se["price"]
    assert abs(coef["intercept"] - DEMAND_INTERCEPT) < 1.96 * se["intercept"]


def test_money_is_in_the_plans_currency_and_order_value_has_its_interval(tmp_path: Path) -> None:
    rows = _rows()
    path = write_table(tmp_path / "units.parquet", {c: rows[c].to_numpy() for c in rows})
    raw = _raw(path)
    raw["currency"] = "EUR"
    raw["metrics"][0]["label"] = "revenue per visitor"
    results = analyze(load_plan(write_plan(tmp_path / "eur.yaml", raw)))
    section = results.sections["pricing"]
    summary = view.summary_markdown(section, results)
    table = view.arms_markdown(section, results)
    r = section.result
    # prices, the optimum and the unit cost in euros
    assert f"at a price of €{r.optimal_price.price:,.2f}**" in summary
    assert "nothing outside €10.00–€25.00 is extrapolated" in summary
    assert "(unit cost €4.00)" in summary
    assert "Metrics: purchase (conversion) and revenue per visitor (revenue)" in summary
    # p-values read "p < 0.001", never "p = < 0.001" or an exponent
    assert "= <" not in summary and not re.search(r"\de-\d", summary + table)
    rows_ = {
        line.split(" | ")[0].lstrip("| ").split("\u00a0")[0]: line for line in table.splitlines()
    }
    head = table.splitlines()[0]
    # order values vary among buyers here (add-ons, discounts): the column has its interval
    assert "order value (95% CI)" in head and "Order value has no interval" not in table
    for a in r.arms:
        cells = rows_[a.name].strip("| ").split(" | ")
        assert cells[1] == f"€{a.price:,.2f}"
        assert a.aov.ci is not None
        aov = f"€{a.aov.estimate:,.2f} [€{a.aov.ci[0]:,.2f},\u00a0€{a.aov.ci[1]:,.2f}]"
        assert cells[5] == aov
        assert cells[6].startswith("€") and cells[7].startswith("€")  # revenue, profit
    # revenue per visitor prints as many decimals as it takes for the arms to differ
    shown = [rows_[a.name].strip("| ").split(" | ")[6].split(" [")[0] for a in r.arms]
    assert len(set(shown)) == len({a.rpv.estimate for a in r.arms})
    # the charts' money axes name the currency
    demand = json.dumps(view.demand_chart(section, results).to_dict())
    value = json.dumps(view.value_chart(section, results).to_dict())
    assert '"title": "price (EUR)"' in demand and '"title": "per visitor (EUR)"' in value


def test_identical_order_values_drop_the_interval_from_the_column_name(tmp_path: Path) -> None:
    rows = _rows()
    rows["revenue"] = rows.purchased * rows.variant.map(PRICES)  # every buyer pays the price
    results = analyze(_plan(tmp_path, rows))
    table = view.arms_markdown(results.sections["pricing"], results)
    head, *_ = table.splitlines()
    assert "| order value |" in head and "order value (95% CI)" not in head
    assert "Order value has no interval: every buyer of a variant spent the same amount" in table
    assert "| 10.00 | " in table  # the price as the order value of p10, without an interval
