"""Plan validation: good plans load; bad plans give one line naming file, field and fix."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from liftlab.errors import PlanError
from liftlab.plan import load_plan, parse_plan, project_root
from tests.conftest import ROOT, base_plan, write_plan


def test_demo_plans_are_valid():
    plans = sorted((ROOT / "experiments").glob("*.yaml"))
    assert {p.stem for p in plans} >= {
        "landing-headline",
        "pricing-three-tiers",
        "creative-tournament",
    }
    kinds = {load_plan(p).kind for p in plans}
    assert kinds == {"landing_page", "pricing", "creative"}
    plan = load_plan(ROOT / "experiments" / "landing-headline.yaml")
    assert plan.root == ROOT
    assert plan.control_name == "control" and plan.treatments == ["benefit"]
    assert plan.resolve("data/landing.parquet") == ROOT / "data" / "landing.parquet"
    assert len(plan.sha256 or "") == 64


def _error(tmp_path: Path, mutate) -> str:
    raw = base_plan("units.parquet")
    mutate(raw)
    path = write_plan(tmp_path / "experiments" / "x.yaml", raw)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path) + ": ")
    return msg.removeprefix(str(path) + ": ")


def test_weights_must_sum_to_one(tmp_path):
    def m(raw):
        raw["variants"]["c"]["weight"] = 0.23

    assert _error(tmp_path, m) == "variants: weights sum to 0.9, they must sum to 1"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.pop("name"), "name: is required; add name: to the plan"),
        (
            lambda r: r.update(name="Bad Name"),
            "name: 'Bad Name' must be lowercase letters, digits and dashes (a slug)",
        ),
        (
            lambda r: r.update(kind="pricng"),
            "kind: 'pricng' is not allowed; use 'general', 'landing_page', 'pricing' or 'creative' (did you mean 'pricing'?)",
        ),
        (
            lambda r: r.update(hypotesis="x"),
            "unknown field 'hypotesis' (did you mean 'hypothesis'?)",
        ),
        (
            lambda r: r["metrics"][1].update(colum="x"),
            "metrics[1]: unknown field 'colum' (did you mean 'column'?)",
        ),
        (
            lambda r: r["metrics"][0].update(type="ratio"),
            "metrics[0]: a ratio metric takes numerator and denominator, not column; use type: mean for a per-unit value",
        ),
        (
            lambda r: r["metrics"][1].pop("column"),
            "metrics[1]: a mean metric needs column: the data column to analyse",
        ),
        (
            lambda r: r["metrics"][3].update(covariate="pre"),
            "metrics[3]: covariate (CUPED) is supported for mean and proportion metrics, not ratio metrics; remove it",
        ),
        (
            lambda r: r["metrics"][0].update(cap={"quantile": 0.3}),
            "metrics[0].cap.quantile: input should be greater than 0.5 (got 0.3)",
        ),
        (
            lambda r: r["analysis"].update(correction="fdr"),
            "analysis.correction: 'fdr' is not allowed; use 'none', 'bonferroni', 'holm', 'hochberg', 'bh' or 'by'",
        ),
        (
            lambda r: r["analysis"].update(method="sequential"),
            "data.timestamp: method sequential needs the exposure-time column (data: {timestamp: exposed_at}) for its daily looks",
        ),
        (
            lambda r: r["metrics"][2].update(margin=-0.02),
            "metrics[2]: margin (non-inferiority) applies to guardrail metrics; set role: guardrail",
        ),
        (
            lambda r: r["metrics"][3].update(role="guardrail", margin=0.02),
            "metrics[3]: margin 0.02 must point in the bad direction (negative for a metric whose good direction is increase)",
        ),
        (
            lambda r: r["metrics"][1].update(bootstrap={"statistic": "quantile"}),
            "metrics[1].bootstrap: statistic: quantile needs quantile: q (e.g. 0.9), and only then",
        ),
        (
            lambda r: r["analysis"].update(bayesian={"ship_threshold": 0.4}),
            "analysis.bayesian.ship_threshold: input should be greater than 0.5 (got 0.4)",
        ),
        (
            lambda r: r["analysis"].update(sequential={"kind": "msprtt"}),
            "analysis.sequential.kind: 'msprtt' is not allowed; use 'msprt', 'asymptotic-cs' or 'group-sequential' (did you mean 'msprt'?)",
        ),
        (
            lambda r: r.update(control="ctrl"),
            "control: 'ctrl' is not one of the variants (control, b, c) (did you mean 'control'?)",
        ),
        (
            lambda r: [m.update(role="secondary") for m in r["metrics"]],
            "metrics: no metric has role: primary; mark the decision metric role: primary",
        ),
        (
            lambda r: r["metrics"].append(copy.deepcopy(r["metrics"][0])),
            "metrics: name 'conversion' is used twice; metric names are unique",
        ),
        (
            lambda r: r.update(variants={"control": {"weight": 1.0}}),
            "variants: a test needs at least two variants (a control and a treatment)",
        ),
        (
            lambda r: r["variants"]["b"].update(weigth=0.3),
            "variants.b: unknown field 'weigth' (did you mean 'weight'?)",
        ),
        (
            lambda r: r["data"].update(units="x.xlsx"),
            "data: units: 'x.xlsx' must be a .csv or .parquet file (or a glob of them), or a table name with engine: (e.g. postgres://host/db)",
        ),
    ],
)
def test_error_messages(tmp_path, mutate, expected):
    msg = _error(tmp_path, mutate)
    assert msg.startswith(expected), msg


def test_yaml_and_file_errors(tmp_path):
    with pytest.raises(PlanError, match=r"nope\.yaml: file not found; check the path"):
        load_plan(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvariants: [a, b\n")
    with pytest.raises(PlanError, match=r"bad\.yaml: line \d+: YAML syntax error"):
        load_plan(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(PlanError, match="a plan is a YAML mapping"):
        load_plan(lst)


def test_equal_weights_when_omitted_and_explicit_control():
    raw = base_plan("u.parquet")
    for v in raw["variants"].values():
        v.pop("weight")
    raw["control"] = "b"
    plan = parse_plan(raw)
    assert plan.weights == pytest.approx({"control": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert plan.control_name == "b" and plan.treatments == ["control", "c"]


def test_project_root(tmp_path):
    assert project_root(tmp_path / "experiments" / "a.yaml") == tmp_path.resolve()
    assert project_root(tmp_path / "elsewhere" / "a.yaml") == (tmp_path / "elsewhere").resolve()


def test_with_changes_a_copy_and_revalidates():
    plan = load_plan(ROOT / "experiments" / "landing-headline.yaml")
    bayes = plan.with_(method="bayesian", alpha=0.1, daily_units=1234)
    assert (bayes.analysis.method, bayes.analysis.alpha) == ("bayesian", 0.1)
    assert bayes.design is not None and bayes.design.daily_units == 1234
    # untouched settings carry over; the original is unchanged
    assert bayes.analysis.correction == plan.analysis.correction == "holm"
    assert plan.analysis.method == "sequential"
    # a copy is not the file on disk, but its relative paths still resolve
    assert bayes.sha256 is None and plan.sha256 is not None
    assert bayes.resolve("data/x") == plan.resolve("data/x")
    nested = plan.with_(analysis={"bayesian": {"ship_threshold": 0.9}})
    assert nested.analysis.bayesian.ship_threshold == 0.9
    assert nested.analysis.method == "sequential"  # merged, not replaced


def test_with_metrics_and_primary():
    plan = load_plan(ROOT / "experiments" / "landing-headline.yaml")
    two = plan.with_(metrics=["revenue_per_visitor", "signup_rate"], primary="revenue_per_visitor")
    assert [(m.name, m.role) for m in two.metrics] == [
        ("revenue_per_visitor", "primary"),
        ("signup_rate", "secondary"),
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"alpah": 0.1}, "'alpah' is not a plan setting (did you mean 'alpha'?)"),
        ({"alpha": 0.7}, "analysis.alpha: input should be less than 0.5"),
        ({"metrics": ["signup"]}, "'signup', which is not a metric of the plan"),
        ({"primary": "nope"}, "'nope', which is not a metric of the plan"),
    ],
)
def test_with_rejects_bad_changes(changes, expected):
    plan = load_plan(ROOT / "experiments" / "landing-headline.yaml")
    with pytest.raises(PlanError, match=r"landing-headline\.yaml") as err:
        plan.with_(**changes)
    assert expected in str(err.value)
