"""The registry of comparison methods (:mod:`liftlab.methods`): every method a plan can ask
for is registered; a method that does not apply is not run and reads no rows; results.json
writes each method's result under its name, in registry order, through the one serialiser,
so a new method needs no edit of the analysis or of results.py."""

from __future__ import annotations

import dataclasses
import json
import pkgutil
import types
from typing import Any, get_args

import pytest

import liftlab.analysis
import liftlab.methods
from liftlab import analyze
from liftlab.methods import METHODS, MetricInput, needs_rows
from liftlab.plan import Method, load_plan, parse_plan
from tests.conftest import base_plan, write_plan

BY_NAME = {m.name: m for m in METHODS}

# Each plan option that asks for an add-on method, and the method it turns on.
OPTIONS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("analysis.method: bayesian", {"method": "bayesian"}, {}, "bayesian"),
    ("analysis.method: sequential", {"method": "sequential"}, {}, "sequential"),
    ("metrics[].margin", {}, {"margin": -0.05, "role": "guardrail"}, "non_inferiority"),
    ("metrics[].bootstrap", {}, {"bootstrap": {"n_resamples": 200}}, "bootstrap"),
    ("metrics[].rank_test", {}, {"rank_test": True}, "mann_whitney"),
]


def _raw(units: dict[str, Any], analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = base_plan(str(units["path"]))
    raw["data"]["timestamp"] = "exposed_at"
    raw["analysis"].update(analysis or {})
    return raw


def test_the_registry_finds_every_method_module_in_its_order() -> None:
    # the order results are computed in and written to results.json (a new method may
    # come anywhere between them)
    builtin = [
        "bayesian",
        "sequential",
        "cumulative",
        "non_inferiority",
        "bootstrap",
        "mann_whitney",
        "cap_sensitivity",
    ]
    assert [m.name for m in METHODS if m.name in builtin] == builtin
    modules = {i.name for i in pkgutil.iter_modules(liftlab.methods.__path__)} - {"base"}
    assert {m.__name__.rsplit(".", 1)[1] for m in METHODS} == modules  # type: ignore[attr-defined]
    assert len(BY_NAME) == len(METHODS)  # names are unique: they key results.json
    assert len({m.order for m in METHODS}) == len(METHODS)  # and so is the order
    for m in METHODS:
        assert m.needs in ("sums", "rows", "daily") and m.scope in ("comparison", "metric")
        assert callable(m.applies) and callable(m.run)


def test_every_plan_option_turns_on_exactly_its_method(units: dict[str, Any]) -> None:
    # every analysis.method the schema offers, besides the fixed-horizon default, is covered
    offered = set(get_args(Method)) - {"frequentist"}
    assert offered == {o[1]["method"] for o in OPTIONS if "method" in o[1]}
    plain = parse_plan(_raw(units))
    revenue = plain.metrics[1]
    default = {m.name for m in METHODS if m.applies(plain, revenue)}
    assert default == {"cumulative", "cap_sensitivity"}
    for option, analysis, metric_options, name in OPTIONS:
        raw = _raw(units, analysis)
        raw["metrics"][1].update(metric_options)
        plan = parse_plan(raw)
        on = {m.name for m in METHODS if m.applies(plan, plan.metrics[1])}
        added = on - default
        assert added == {name}, option
        assert needs_rows(plan, plan.metrics[1]) == (BY_NAME[name].needs == "rows"), option


def test_sequential_plans_replace_the_pointwise_daily_view() -> None:
    plan = types.SimpleNamespace(analysis=types.SimpleNamespace(method="sequential"))
    assert not BY_NAME["cumulative"].applies(plan, None)  # type: ignore[arg-type]


def test_a_method_that_does_not_apply_is_not_run_and_reads_no_rows(
    tmp_path, units: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(inp: MetricInput) -> Any:
        raise AssertionError(f"ran on {inp.metric.name}")

    read: list[str] = []
    values = liftlab.analysis.metric_values

    def recorded(plan: Any, src: Any, metric: Any, caps: Any) -> Any:
        read.append(metric.name)
        return values(plan, src, metric, caps)

    monkeypatch.setattr(liftlab.methods.bootstrap, "run", boom)
    monkeypatch.setattr(liftlab.methods.bayesian, "run", boom)
    monkeypatch.setattr(liftlab.analysis, "metric_values", recorded)
    raw = _raw(units)
    raw["metrics"][1]["rank_test"] = True
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    assert read == ["revenue"]  # the rank test's rows, and no other metric's
    assert all(m.status == "ok" for m in res.metrics)
    assert res.metric("revenue").comparison("b").rank is not None
    assert all(c.bootstrap is None and c.bayes is None for m in res.metrics for c in m.comparisons)
    # where it applies, it runs
    raw["metrics"][1]["bootstrap"] = {"n_resamples": 200}
    with pytest.raises(AssertionError, match="ran on revenue"):
        analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))


def test_results_json_writes_each_result_by_name_in_registry_order(
    tmp_path, units: dict[str, Any]
) -> None:
    raw = _raw(units, {"method": "bayesian"})
    raw["metrics"][1].update(
        role="guardrail", margin=-0.1, rank_test=True, bootstrap={"n_resamples": 200}
    )
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    c = res.metric("revenue").comparison("b")
    order = [m.name for m in METHODS if m.scope == "comparison"]
    assert list(c.methods) == [n for n in order if n in c.methods]
    assert set(c.methods) == {"bayesian", "cumulative", "non_inferiority", "bootstrap"} | {
        "mann_whitney"
    }
    out = json.loads(res.to_json())["metrics"][1]
    keys = list(out["comparisons"][0])
    assert keys[keys.index("note") + 1 :] == list(c.methods)
    assert out["comparisons"][0]["mann_whitney"]["p_value"] == pytest.approx(c.rank.p_value)
    # metric-scope results are written on the metric, null where the method does not apply
    assert (
        out["cap_sensitivity"]
        and json.loads(res.to_json())["metrics"][0]["cap_sensitivity"] is None
    )


@dataclasses.dataclass(frozen=True)
class _Sign:
    sign: int
    effect: float


def test_a_new_method_reaches_results_json_without_other_edits(
    tmp_path, units: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sign = types.SimpleNamespace(
        name="sign",
        needs="sums",
        scope="comparison",
        applies=lambda plan, metric: metric.type == "mean",
        run=lambda inp: {
            v: _Sign(1 if e.abs_effect > 0 else -1, e.abs_effect) for v, e in inp.effects.items()
        },
    )
    monkeypatch.setattr(liftlab.methods, "METHODS", (*METHODS, sign))
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", _raw(units))))
    out = json.loads(res.to_json())
    for m_json, m in zip(out["metrics"], res.metrics, strict=True):
        for c_json, c in zip(m_json["comparisons"], m.comparisons, strict=True):
            if m.metric.type == "mean":
                expected = 1 if c.effect.abs_effect > 0 else -1
                assert c_json["sign"] == {"sign": expected, "effect": c.effect.abs_effect}
            else:
                assert "sign" not in c_json


def test_each_view_shows_its_method_and_nothing_when_it_did_not_run(
    tmp_path, units: dict[str, Any]
) -> None:
    from liftlab.present import (
        METHOD_VIEWS,
        bootstrap_views,
        diagnostics_views,
        posterior_views,
        sensitivity_views,
    )
    from liftlab.scorecard import listed_arms

    raw = _raw(units, {"method": "bayesian"})
    raw["metrics"][1].update(bootstrap={"n_resamples": 200})
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    m, listing = res.metric("revenue"), listed_arms(res)
    for view in (posterior_views, bootstrap_views, sensitivity_views):
        assert view(m, res, listing), view.__name__
    bare = dataclasses.replace(
        m,
        comparisons=[dataclasses.replace(c, methods={}) for c in m.comparisons],
        methods={},
    )
    for view in METHOD_VIEWS:
        if view is not diagnostics_views:  # the fixed-horizon numbers beside the headline
            assert view(bare, res, listing) == [], view.__name__
