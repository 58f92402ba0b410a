"""Each method reachable from a plan gives the numbers of its stats module, and decides.

References are the stats modules' own functions (themselves checked against scipy and
closed forms in their test files), applied at test time to the raw arrays or to the same
cumulative sufficient statistics, so these tests check the wiring: plan → engine → method.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from liftlab import analyze
from liftlab.plan import load_plan
from liftlab.stats.bayesian import beta_expected_loss, prob_beta_greater
from liftlab.stats.bootstrap import bootstrap_compare
from liftlab.stats.moments import Moments
from liftlab.stats.rank import mann_whitney
from liftlab.stats.sequential import always_valid, boundaries
from tests.conftest import base_plan, write_plan, write_table


def _plan(tmp_path, units, **analysis):
    raw = base_plan(str(units["path"]))
    raw["data"]["timestamp"] = "exposed_at"
    raw["analysis"].update(analysis)
    return raw


def _load(tmp_path, raw):
    return load_plan(write_plan(tmp_path / "plan.yaml", raw))


def test_bayesian_beta_binomial_from_a_plan(tmp_path, units):
    raw = _plan(tmp_path, units, method="bayesian", bayesian={"beta_prior": [2, 8]})
    res = analyze(_load(tmp_path, raw))
    cols = units["cols"]
    y = cols["converted"]
    arm = cols["variant"]
    k_c, n_c = y[arm == "control"].sum(), (arm == "control").sum()
    k_t, n_t = y[arm == "b"].sum(), (arm == "b").sum()
    c = res.metric("conversion").comparison("b")
    exact = prob_beta_greater(2 + k_c, 8 + n_c - k_c, 2 + k_t, 8 + n_t - k_t)
    assert c.prob_beat_control == pytest.approx(exact, rel=1e-12)
    assert c.bayes is not None and c.bayes.method == "beta-binomial"
    # expected loss of shipping b: E[max(0, p_c − p_b)]
    loss = beta_expected_loss(2 + k_c, 8 + n_c - k_c, 2 + k_t, 8 + n_t - k_t)
    assert c.expected_loss == pytest.approx(loss, rel=1e-9)
    # significance follows the ship threshold (0.95 by default)
    assert c.significant == (exact >= 0.95 or exact <= 0.05)
    # the Gaussian model serves the mean metric; three arms get P(best)
    g = res.metric("revenue").comparison("b")
    assert g.bayes is not None and g.bayes.method == "gaussian"
    best = res.metric("conversion").best
    assert best is not None and sum(best.prob_best.values()) == pytest.approx(1.0)
    d = res.to_dict()["metrics"][0]
    assert d["comparisons"][0]["bayesian"]["prob_beat_control"] == pytest.approx(exact)
    assert set(d["prob_best"]["prob_best"]) == {"control", "b", "c"}


def test_sequential_msprt_matches_the_module_on_cumulative_moments(tmp_path, units):
    raw = _plan(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 0.5})
    res = analyze(_load(tmp_path, raw))
    cols = units["cols"]
    day = cols["exposed_at"].astype("datetime64[D]")
    looks = []
    for d in np.unique(day):
        sel = day <= d
        c = Moments.from_arrays(cols["revenue"][sel & (cols["variant"] == "control")])
        t = Moments.from_arrays(cols["revenue"][sel & (cols["variant"] == "b")])
        looks.append((c, t))
    ref = always_valid(looks, tau=0.5, alpha=0.05)
    view = res.metric("revenue").comparison("b").sequential
    assert view is not None and len(view.looks) == len(looks)
    np.testing.assert_allclose(
        [lk.p_value for lk in view.looks], [lk.p_value for lk in ref.looks], rtol=1e-9
    )
    assert view.ci[0] == pytest.approx(ref.ci[0], rel=1e-9)
    ps = [lk.p_value for lk in view.looks]
    assert all(b <= a for a, b in itertools.pairwise(ps))  # never increases
    # the primary family is adjusted on the always-valid p-values
    c = res.metric("conversion").comparison("b")
    assert c.p_value_adjusted >= c.sequential.p_value


def test_group_sequential_uses_planned_looks(tmp_path, units):
    seq = {"kind": "group-sequential", "looks": 4, "planned_n": 1000, "spending": "pocock"}
    raw = _plan(tmp_path, units, method="sequential", sequential=seq)
    view = analyze(_load(tmp_path, raw)).metric("conversion").comparison("b").sequential
    assert view is not None and view.kind == "group-sequential"
    fractions = [lk.information_fraction for lk in view.looks]
    # one look per planned fraction k/4 reached (two fractions reached on one day share it)
    assert 1 <= len(view.looks) <= 4 and fractions[0] >= 0.25
    assert fractions == sorted(fractions)
    assert view.status in {"reject", "continue", "fail-to-reject"}
    expected = boundaries([min(f, 1.0) for f in fractions], 0.05, "pocock")
    np.testing.assert_allclose([lk.boundary for lk in view.looks], expected, rtol=1e-12)


def test_bootstrap_and_rank_test_from_a_plan(tmp_path, units):
    raw = _plan(tmp_path, units)
    raw["metrics"][1]["bootstrap"] = {"statistic": "median", "n_resamples": 500, "seed": 3}
    raw["metrics"][1]["rank_test"] = True
    res = analyze(_load(tmp_path, raw))
    cols = units["cols"]
    y_c = cols["revenue"][cols["variant"] == "control"]
    y_t = cols["revenue"][cols["variant"] == "c"]
    c = res.metric("revenue").comparison("c")
    ref = bootstrap_compare(y_c, y_t, statistic="median", n_resamples=500, seed=3)
    assert c.bootstrap is not None
    assert c.bootstrap.ci == pytest.approx(ref.ci, rel=1e-12)
    assert c.rank is not None
    assert c.rank.p_value == pytest.approx(mann_whitney(y_c, y_t).p_value, rel=1e-12)


def test_guardrail_margin_unproven_means_keep_running(tmp_path, units):
    """b clearly wins the primary metric; its CTR equals control's but the data cannot yet
    show it within a 0.1% margin, so the verdict is keep running, not ship."""
    rng = np.random.default_rng(5)
    cols = dict(units["cols"])
    b = cols["variant"] == "b"
    cols["converted"] = (rng.random(b.size) < np.where(b, 0.3, 0.2)).astype(np.int64)
    cols["clicks"] = rng.binomial(cols["impressions"], 0.05)
    path = write_table(tmp_path / "g.parquet", cols)
    raw = base_plan(str(path))
    raw["metrics"] = [
        {"name": "conversion", "role": "primary", "type": "proportion", "column": "converted"},
        {
            "name": "ctr",
            "role": "guardrail",
            "type": "ratio",
            "numerator": "clicks",
            "denominator": "impressions",
            "margin": -0.001,
        },
    ]
    res = analyze(_load(tmp_path, raw))
    assert res.metric("conversion").comparison("b").better
    ni = res.metric("ctr").comparison("b").non_inferiority
    assert ni is not None and not ni.passed
    assert res.decision.recommendation == "keep_running" and res.decision.variant == "b"
    assert "non-inferiority margin" in res.decision.reason
    # with a generous margin the guardrail passes and b ships
    raw["metrics"][1]["margin"] = -0.5
    res = analyze(_load(tmp_path, raw))
    assert res.metric("ctr").comparison("b").non_inferiority.passed
    assert res.decision.recommendation == "ship" and res.decision.variant == "b"


def test_soft_errors_flag_a_metric_and_keep_the_rest(tmp_path, units):
    cols = dict(units["cols"])
    cols["zeros"] = np.zeros(len(cols["user_id"]))
    path = write_table(tmp_path / "z.parquet", cols)
    raw = base_plan(str(path))
    raw["metrics"].append(
        {"name": "nothing", "role": "secondary", "type": "mean", "column": "zeros"}
    )
    res = analyze(_load(tmp_path, raw))
    bad = res.metric("nothing")
    assert bad.status == "flagged" and "zero variance" in (bad.reason or "")
    assert math.isnan(bad.comparison("b").effect.p_value)
    assert res.metric("conversion").status == "ok"
    out = res.to_dict()["metrics"][-1]
    assert out["status"] == "flagged" and out["comparisons"][0]["p_value"] is None


def test_planned_size_turns_inconclusive_into_do_not_ship(tmp_path, units):
    raw = base_plan(str(units["path"]))
    raw["metrics"] = [
        {
            "name": "ctr",
            "role": "primary",
            "type": "ratio",
            "numerator": "clicks",
            "denominator": "impressions",
            "baseline": 0.05,  # a planned size needs the plan's baseline and MDE
        },
    ]
    raw["analysis"]["mde"] = 2.0  # +200%: a design that needs very few units
    res = analyze(_load(tmp_path, raw))
    assert res.planned_n_per_variant is not None and res.planned_n_per_variant < 1_000
    if not any(c.significant for c in res.metric("ctr").comparisons):
        assert res.decision.recommendation == "do_not_ship"
        assert "planned sample size is reached" in res.decision.reason
    raw["analysis"]["mde"] = 0.001  # a design that needs far more units than the data hold
    res = analyze(_load(tmp_path, raw))
    if not any(c.significant for c in res.metric("ctr").comparisons):
        assert res.decision.recommendation == "keep_running"
        assert "more units per variant to go" in res.decision.reason


def test_cap_sensitivity_table_in_results(tmp_path, units):
    res = analyze(_load(tmp_path, base_plan(str(units["path"]))))
    rows = res.metric("revenue").sensitivity
    assert [r.label for r in rows if r.variant == "b"] == ["no cap", "p99", "p99.9"]
    no_cap = next(r for r in rows if r.variant == "b" and r.label == "no cap")
    assert no_cap.effect.p_value == pytest.approx(
        res.metric("revenue").comparison("b").effect.p_value
    )
    assert res.to_dict()["metrics"][1]["cap_sensitivity"][0]["cap"] == "no cap"
