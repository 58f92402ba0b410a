"""Test design (liftlab.design.design_plan and ``liftlab design``): every input moves the answer.

Every expected number is computed here, independently of liftlab.stats.power:

- the unpooled normal closed form ``N = (z_a + z_b)²·(σ²_c/w_c + σ²_t/w_t)/δ²`` (Chow, Shao &
  Wang, 2008, §4.2) written out with ``scipy.stats.norm``, for proportions
  (``σ² = p(1−p)`` in each arm) and means (``σ = sd``);
- R's ``power.prop.test`` closed form for the pooled convention (Fleiss, Levin & Paik, 2003,
  §4.2) and statsmodels ``NormalIndPower`` with ``proportion_effectsize`` (Cohen's h) for the
  arcsine convention;
- the family: Bonferroni ``α / (primary metrics × treatments)``;
- group-sequential: the fixed ``N`` times ``liftlab.stats.sequential.sample_size_inflation``;
- Bayesian with a flat prior on the absolute effect: the one-sided fixed design at
  ``α = 1 − ship_threshold``, ``N = (z_t + z_b)²·v/δ²``.

The command line is run in-process through ``liftlab.cli.main`` (its exit status and one-line
errors included), and once as a subprocess piped to a file at 80 columns.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from liftlab.cli import main
from liftlab.design import design_plan, unit_noun
from liftlab.plan import load_plan, parse_plan
from liftlab.stats.moments import Moments
from liftlab.stats.sequential import sample_size_inflation
from tests.conftest import ROOT, write_plan

LANDING = ROOT / "experiments" / "landing-headline.yaml"
PRICING = ROOT / "experiments" / "pricing-three-tiers.yaml"
CREATIVE = ROOT / "experiments" / "creative-tournament.yaml"


def z(q: float) -> float:
    return float(sps.norm.ppf(q))


def unpooled(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8, sides: int = 2):
    """Per-arm units, equal arms, proportions: (z_a + z_b)²·(p1q1 + p2q2)/δ² (unrounded)."""
    za, zb = z(1 - alpha / sides), z(power)
    return (za + zb) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2


def mean_n(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Per-arm units, equal arms, a mean metric: 2·(z_a + z_b)²·sd²/δ² (unrounded)."""
    return 2 * (z(1 - alpha / 2) + z(power)) ** 2 * sd**2 / delta**2


def pooled(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """R's power.prop.test (strict = FALSE), per arm."""
    pbar = (p1 + p2) / 2
    num = z(1 - alpha / 2) * math.sqrt(2 * pbar * (1 - pbar)) + z(power) * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return num**2 / (p2 - p1) ** 2


def ceil(x: float) -> int:
    return math.ceil(x - 1e-9)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``liftlab design ARGS`` in-process: (exit status, stdout, stderr)."""
    try:
        main(["design", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line ``liftlab design ARGS`` ends with, asserting exit status 2."""
    code, out, err = cli(capsys, *args)
    assert code == 2, out
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


def family_plan(tmp_path: Path, **analysis: Any) -> Path:
    """Three arms, two primary proportions (signup 10%, activation 30%): a family of 4."""
    raw = {
        "name": "family",
        "kind": "landing_page",
        "hypothesis": "b or c lifts signups",
        "unit": "visitor_id",
        "variants": {"control": {}, "b": {}, "c": {}},
        "data": {"units": "x.parquet", "timestamp": "ts"},
        "metrics": [
            {
                "name": "signup_rate",
                "role": "primary",
                "type": "proportion",
                "column": "s",
                "baseline": 0.1,
            },
            {
                "name": "activation_rate",
                "role": "primary",
                "type": "proportion",
                "column": "a",
                "baseline": 0.3,
            },
            {"name": "revenue", "role": "secondary", "type": "mean", "column": "r"},
        ],
        "analysis": {"alpha": 0.05, "power": 0.8, "mde": 0.1, "correction": "holm", **analysis},
        "design": {"daily_units": 3000},
    }
    return write_plan(tmp_path / "experiments" / "family.yaml", raw)


def family_n(alpha: float = 0.05, power: float = 0.8, mde: float = 0.1, m: int = 4) -> int:
    """The family plan's need: the larger of its two metrics, each at α/m (per arm)."""
    a = alpha / m
    return max(ceil(unpooled(p, p * (1 + mde), a, power)) for p in (0.1, 0.3))


# ----- without a plan: every option moves the answer ----------------------------------------
BASE = ("--baseline", "0.2", "--mde", "0.05", "--mde-type", "absolute")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ((), unpooled(0.2, 0.25)),
        (("--convention", "pooled"), pooled(0.2, 0.25)),
        (
            ("--convention", "arcsine"),
            NormalIndPower().solve_power(
                effect_size=proportion_effectsize(0.25, 0.2), alpha=0.05, power=0.8
            ),
        ),
        (("--alpha", "0.1"), unpooled(0.2, 0.25, alpha=0.1)),
        (("--power", "0.9"), unpooled(0.2, 0.25, power=0.9)),
        (("--alternative", "one-sided"), unpooled(0.2, 0.25, sides=1)),
        (("--arms", "3", "--correction", "bonferroni"), unpooled(0.2, 0.25, alpha=0.025)),
        (("--arms", "3"), unpooled(0.2, 0.25)),
    ],
)
def test_every_option_without_a_plan(capsys, extra, expected) -> None:
    out = cli_json(capsys, *BASE, *extra)
    n = round(expected) if "arcsine" in extra else ceil(expected)  # statsmodels: 2-sided tail
    assert set(out["per_variant"].values()) == {n}
    assert out["total"] == n * len(out["per_variant"])


def test_relative_mde_mean_metric_and_days_without_a_plan(capsys) -> None:
    rel = cli_json(capsys, "--baseline", "0.2", "--mde", "0.25")  # 20% → 25%, relative
    assert rel["per_variant"]["control"] == ceil(unpooled(0.2, 0.25))
    mean = cli_json(capsys, "--type", "mean", "--baseline", "3", "--sd", "6", "--mde", "0.1")
    assert mean["per_variant"]["control"] == ceil(mean_n(6, 0.3))
    days = cli_json(capsys, *BASE, "--daily-units", "300")
    assert days["days"] == math.ceil(2 * ceil(unpooled(0.2, 0.25)) / 300)
    assert days["weeks"] == math.ceil(days["days"] / 7)
    assert [i["source"] for i in days["inputs"] if i["name"] == "daily traffic"] == [
        "--daily-units"
    ]


def test_n_per_variant_and_weeks_give_the_reachable_mde(capsys) -> None:
    out = cli_json(capsys, "--baseline", "0.1", "--n-per-variant", "5000")
    (row,) = out["rows"]
    assert unpooled(0.1, 0.1 + row["abs_mde"]) == pytest.approx(5000, rel=1e-5)
    assert row["rel_mde"] == pytest.approx(row["abs_mde"] / 0.1)
    assert out["sentence"].startswith("With 5,000 units per variant (10,000 in total)")
    weeks = cli_json(capsys, "--baseline", "0.1", "--weeks", "2", "--daily-units", "3000")
    (row,) = weeks["rows"]
    assert unpooled(0.1, 0.1 + row["abs_mde"]) == pytest.approx(3000 * 14 / 2, rel=1e-5)
    assert weeks["sentence"].startswith("In 2 weeks at 3,000 a day, 21,000 units per variant")


def test_methods_without_a_plan_are_not_the_fixed_answer(capsys) -> None:
    fixed = cli_json(capsys, *BASE)
    bayes = cli_json(capsys, *BASE, "--method", "bayesian")
    assert bayes["method"] == "bayesian"
    assert bayes["total"] != fixed["total"]
    always = cli_json(capsys, *BASE, "--method", "sequential", "--daily-units", "500")
    assert always["method"] == "msprt"
    assert always["total"] > fixed["total"]
    assert always["rows"][0]["fixed_total"] == fixed["total"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--baseline", "1.5"), "liftlab design: baseline 1.5 is a rate"),
        (("--baseline", "0.1", "--alpha", "0.7"), "liftlab design: --alpha must be less than 0.5"),
        (("--baseline", "0.1", "--mde", "0"), "liftlab design: --mde must be greater than 0"),
        (("--baseline", "0.1", "--daily-units", "0"), "liftlab design: --daily-units must be"),
        (("--type", "mean", "--baseline", "3"), "liftlab design: --sd is required"),
        (("--baseline", "0.1", "--correction", "holm"), "liftlab design: --correction: two arms"),
        (("--baseline", "0.1", "--history", "t"), "liftlab design: --history needs a plan"),
        (("--baseline", "0.1", "--weeks", "2"), "liftlab design: --weeks: weeks need"),
        (
            ("--baseline", "0.1", "--weeks", "2", "--n-per-variant", "9"),
            "liftlab design: give --weeks or --n-per-variant, not both",
        ),
        (
            ("--baseline", "0.1", "--n-per-variant", "9", "--mde", "0.1"),
            "liftlab design: --mde: --n-per-variant asks for the MDE",
        ),
        (("--method", "frequentist"), "liftlab design: --baseline is required without a plan"),
        (
            ("--baseline", "0.1", "--method", "bayesian", "--alpha", "0.1"),
            "liftlab design: --alpha: the Bayesian analysis ships on the chance to beat control",
        ),
        (
            ("--baseline", "0.1", "--method", "sequential", "--alternative", "one-sided"),
            "liftlab design: --alternative: the msprt design is sized as its analysis decides",
        ),
    ],
)
def test_bad_options_without_a_plan_are_one_line(capsys, args, expected) -> None:
    assert refused(capsys, *args).startswith(expected)


# ----- with a plan: each option through Plan.with_ ------------------------------------------
def test_plan_defaults_are_the_bonferroni_family(tmp_path, capsys) -> None:
    out = cli_json(capsys, str(family_plan(tmp_path)))
    assert out["comparisons"] == 4
    assert set(out["per_variant"].values()) == {family_n()}
    assert out["binding_metric"] == "signup_rate"  # 10% needs more than 30% at +10%
    assert out["days"] == math.ceil(3 * family_n() / 3000)
    assert out["sentence"].startswith(f"{family_n():,} visitors per variant")
    d = design_plan(load_plan(family_plan(tmp_path)))
    assert d.n_per_variant == family_n()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--mde", "0.05"), lambda: family_n(mde=0.05)),
        (("--alpha", "0.1"), lambda: family_n(alpha=0.1)),
        (("--power", "0.9"), lambda: family_n(power=0.9)),
        (("--correction", "none"), lambda: family_n(m=1)),
        (
            ("--convention", "pooled"),
            lambda: max(ceil(pooled(p, 1.1 * p, 0.05 / 4)) for p in (0.1, 0.3)),
        ),
        (
            ("--convention", "arcsine"),
            lambda: max(
                ceil(
                    NormalIndPower().solve_power(
                        effect_size=proportion_effectsize(1.1 * p, p),
                        alpha=0.05 / 4 / 2,
                        power=0.8,
                        alternative="larger",
                    )
                )
                for p in (0.1, 0.3)
            ),
        ),
        (
            ("--mde", "0.02", "--mde-type", "absolute"),
            lambda: max(ceil(unpooled(p, p + 0.02, 0.05 / 4)) for p in (0.1, 0.3)),
        ),
    ],
)
def test_every_plan_option_moves_the_answer(tmp_path, capsys, args, expected) -> None:
    path = family_plan(tmp_path)
    out = cli_json(capsys, str(path), *args)
    n = expected()
    assert n != family_n() and set(out["per_variant"].values()) == {n}
    flag = args[0]
    sources = {i["source"] for i in out["inputs"]}
    assert flag in sources


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"mde": 0.05}, lambda: family_n(mde=0.05)),
        ({"alpha": 0.1}, lambda: family_n(alpha=0.1)),
        ({"power": 0.9}, lambda: family_n(power=0.9)),
        ({"correction": "none"}, lambda: family_n(m=1)),
        ({"correction": "bonferroni"}, lambda: family_n(m=4)),
        (
            {"sample_size": "pooled"},
            lambda: max(ceil(pooled(p, 1.1 * p, 0.0125)) for p in (0.1, 0.3)),
        ),
        ({"metrics": ["signup_rate"]}, lambda: ceil(unpooled(0.1, 0.11, 0.05 / 2))),
        ({"primary": "activation_rate"}, lambda: ceil(unpooled(0.3, 0.33, 0.05 / 2))),
    ],
)
def test_design_plan_follows_plan_with(tmp_path, changes, expected) -> None:
    """design_plan on ``plan.with_(...)``: one primary metric or one change at a time, the
    family (primaries × 2 treatments) re-counted."""
    plan = load_plan(family_plan(tmp_path)).with_(**changes)
    assert design_plan(plan).n_per_variant == expected()


def test_plan_overrides_of_traffic_baseline_and_sd(tmp_path, capsys) -> None:
    path = family_plan(tmp_path)
    out = cli_json(capsys, str(path), "--daily-units", "1000")
    assert out["days"] == math.ceil(3 * family_n() / 1000)
    pricing = cli_json(capsys, str(PRICING), "--sd", "9.4")
    base = cli_json(capsys, str(PRICING))
    # the pricing plan: 2 treatments × 1 primary → α/2; sd doubled → N × 4
    assert pricing["per_variant"]["price_19"] == ceil(mean_n(9.4, 0.125, 0.025))
    assert base["per_variant"]["price_19"] == ceil(mean_n(4.7, 0.125, 0.025))
    landing = cli_json(capsys, str(LANDING), "--baseline", "0.2", "--method", "frequentist")
    assert landing["per_variant"]["control"] == ceil(unpooled(0.2, 0.22))
    assert landing["rows"][0]["baseline_source"] == "--baseline"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--arms", "2"), "liftlab design: --arms: the plan's variants set the arms (3)"),
        (("--type", "mean"), "liftlab design: --type: the plan's metrics set the metric types"),
        (("--alternative", "one-sided"), "liftlab design: --alternative: the plan's analysis is"),
        (("--alpha", "0.7"), "liftlab design: --alpha must be less than 0.5 (got 0.7)"),
        (("--power", "1.5"), "liftlab design: --power must be less than 1 (got 1.5)"),
        (("--mde", "-0.1"), "liftlab design: --mde must be greater than 0 (got -0.1)"),
        (("--method", "bayesian", "--alpha", "0.1"), "liftlab design: --alpha: the Bayesian"),
        (("--method", "bayesian", "--correction", "none"), "liftlab design: --correction: "),
        (("--method", "sequential", "--convention", "pooled"), "liftlab design: --convention:"),
        (("--baseline", "0.2"), "baseline=/sd= override one primary metric, but the plan has 2"),
        (("--method", "frequentist", "--weeks", "0"), "liftlab design: --weeks must be a positive"),
    ],
)
def test_options_a_plan_does_not_use_are_refused(tmp_path, capsys, args, expected) -> None:
    line = refused(capsys, str(family_plan(tmp_path)), *args)
    assert expected in line


def test_one_comparison_refuses_a_correction_and_proportions_an_sd(capsys) -> None:
    assert refused(capsys, str(LANDING), "--correction", "none").startswith(
        "liftlab design: --correction: the plan makes one comparison"
    )
    assert "--sd applies to mean and ratio metrics" in refused(capsys, str(LANDING), "--sd", "1")


# ----- design by the plan's method ----------------------------------------------------------
def method_plan(tmp_path: Path, **analysis: Any):
    return load_plan(family_plan(tmp_path, **analysis))


def test_group_sequential_is_the_fixed_design_times_the_inflation(tmp_path) -> None:
    seq = {"kind": "group-sequential", "looks": 4, "spending": "pocock"}
    d = design_plan(method_plan(tmp_path, method="sequential", sequential=seq))
    fixed = unpooled(0.1, 0.11, 0.05 / 4) * 3  # total over three equal arms
    factor = sample_size_inflation([0.25, 0.5, 0.75, 1.0], 0.05 / 4, 0.8, "pocock", 2)
    b = d.binding
    assert b.total_exact == pytest.approx(fixed * factor, rel=1e-9)
    assert b.total_exact_fixed == pytest.approx(fixed, rel=1e-9)
    assert d.method == "group-sequential"
    details = d.method_details["signup_rate"]
    assert details["inflation"] == pytest.approx(factor, rel=1e-9)
    assert details["expected_total_at_mde"] < b.total_exact
    assert details["expected_total_at_mde"] < details["expected_total_at_zero"] <= b.total_exact
    assert "Group-sequential (pocock, 4 looks)" in d.summary_markdown()
    assert d.sentence().startswith("At most ")


def test_always_valid_needs_more_than_the_fixed_test(tmp_path) -> None:
    for kind in ("msprt", "asymptotic-cs"):
        seq = {"kind": kind}
        d = design_plan(method_plan(tmp_path, method="sequential", sequential=seq))
        fixed = unpooled(0.1, 0.11, 0.05 / 4) * 3
        b = d.binding
        assert b.total_exact_fixed == pytest.approx(fixed, rel=1e-9)
        assert b.total_exact > fixed
        assert d.method_details["signup_rate"]["price_of_peeking"] > 1
        assert d.method_details["signup_rate"]["daily_looks"]
        assert d.days == d.method_details[d.binding_metric]["looks"]  # whole days of looks
        assert d.binding.total_exact == d.days * 3000
        assert "the fixed-horizon test would need" in d.method_text()


def test_bayesian_flat_prior_is_the_one_sided_fixed_design(tmp_path) -> None:
    raw = {
        "name": "bayes",
        "kind": "pricing",
        "hypothesis": "a higher price raises revenue",
        "variants": {"a": {"weight": 0.6}, "b": {"weight": 0.2}, "c": {"weight": 0.2}},
        "data": {"units": "x.parquet"},
        "metrics": [
            {
                "name": "revenue",
                "role": "primary",
                "type": "mean",
                "column": "r",
                "baseline": 2.0,
                "baseline_sd": 5.0,
            },
            {
                "name": "orders",
                "role": "primary",
                "type": "mean",
                "column": "o",
                "baseline": 1.0,
                "baseline_sd": 1.0,
            },
        ],
        "analysis": {
            "mde": 0.1,
            "power": 0.8,
            "correction": "bonferroni",
            "method": "bayesian",
            "bayesian": {"ship_threshold": 0.9, "effect": "absolute"},
        },
    }
    d = design_plan(parse_plan(raw))
    # v = sd²/w_c + sd²/w_t for the smallest treatment; no correction in the Bayesian rule
    v = 25 / 0.6 + 25 / 0.2
    expected = (z(0.9) + z(0.8)) ** 2 * v / 0.2**2
    assert d.metrics["revenue"].total_exact == pytest.approx(expected, rel=1e-6)
    assert d.binding_metric == "revenue"
    assert d.per_variant["b"] == ceil(expected * 0.2)


def test_the_plan_method_is_honoured_by_default(capsys) -> None:
    landing = cli_json(capsys, str(LANDING))
    assert landing["method"] == "msprt"
    fixed = cli_json(capsys, str(LANDING), "--method", "frequentist")
    assert fixed["per_variant"]["control"] == ceil(unpooled(0.1, 0.11))
    assert landing["total"] > fixed["total"]
    creative = cli_json(capsys, str(CREATIVE))
    assert creative["method"] == "bayesian"
    assert "sequential None" not in json.dumps(landing)


# ----- warnings, sources and history --------------------------------------------------------
def test_hypothesis_lift_that_differs_from_the_mde_is_a_warning(capsys) -> None:
    d = design_plan(load_plan(LANDING))
    assert d.warnings[0] == "hypothesis says 5%, the plan is sized for analysis.mde = 10%"
    flagged = cli_json(capsys, str(LANDING), "--mde", "0.05")
    assert not any(w.startswith("hypothesis") for w in flagged["warnings"])
    other = cli_json(capsys, str(LANDING), "--mde", "0.2")
    assert other["warnings"][0] == "hypothesis says 5%, the plan is sized for --mde = 20%"


def test_cuped_covariate_without_history_is_noted(tmp_path) -> None:
    path = family_plan(tmp_path)
    plan = load_plan(path)
    raw = plan.model_dump(mode="json", exclude_unset=True, by_alias=True)
    raw["metrics"][0]["covariate"] = "pre_s"
    d = design_plan(parse_plan(raw))
    assert any("covariate pre_s but no history" in w for w in d.warnings)


def test_history_moments_are_a_source_and_win_when_asked(tmp_path) -> None:
    plan = load_plan(PRICING)
    past = Moments.from_arrays([0.0, 0.0, 2.0, 10.0, 0.0, 1.0, 0.0, 3.0])
    d = design_plan(plan, history={"revenue_per_visitor": past}, history_first=True)
    row = d.table()[0]
    assert row["baseline"] == pytest.approx(past.mean_y)
    assert row["sd"] == pytest.approx(math.sqrt(past.var_y))
    assert row["baseline_source"] == "history (8 users)"
    kept = design_plan(plan, history={"revenue_per_visitor": past})
    assert kept.table()[0]["baseline_source"] == "plan (metrics[0].baseline)"


# ----- the answer first, the tables, the trade-off -------------------------------------------
def test_tradeoff_rows_are_what_the_traffic_detects(tmp_path) -> None:
    d = design_plan(method_plan(tmp_path))
    rows = d.tradeoff()
    assert [r["weeks"] for r in rows if r["metric"] == "signup_rate"] == [1, 2, 3, 4, 6, 8]
    for r in rows:
        p = 0.1 if r["metric"] == "signup_rate" else 0.3
        per_arm = 3000 * r["days"] / 3
        assert unpooled(p, p + r["abs_mde"], 0.05 / 4) == pytest.approx(per_arm, rel=1e-5)
        assert r["rel_mde"] == pytest.approx(r["abs_mde"] / p)
    rel = [r["rel_mde"] for r in rows if r["metric"] == "signup_rate"]
    assert rel == sorted(rel, reverse=True)
    chart = d.mde_chart().to_dict()
    assert len(chart["layer"]) == 2
    assert json.loads(json.dumps(d.to_dict()))["tradeoff"] == json.loads(json.dumps(rows))


def test_sentence_table_and_frame(tmp_path) -> None:
    d = design_plan(method_plan(tmp_path))
    n = family_n()
    total = 3 * n
    days = math.ceil(total / 3000)
    weeks = math.ceil(days / 7)
    assert d.sentence() == (
        f"{n:,} visitors per variant ({total:,} in total): {days} days at 3,000 a day; "
        f"run {weeks} full weeks."
    )
    rows = dict(d.table_text())
    assert rows["baseline"] == ["10.0%", "30.0%"]
    assert rows["MDE, relative"] == ["+10.0%", "+10.0%"]
    assert rows["MDE, absolute"] == ["+1.0 pp", "+3.0 pp"]
    assert len(rows) <= 10
    frame = d.to_frame()
    assert list(frame.index) == ["signup_rate", "activation_rate"]
    assert unit_noun("user_id") == "users" and unit_noun("company") == "companies"
    assert unit_noun("user_id", 1) == "user"


def test_without_daily_traffic_the_tradeoff_says_so(capsys) -> None:
    code, out, _ = cli(capsys, "--baseline", "0.1")
    assert code == 0
    assert "give the daily traffic" in out and "--daily-units" in out


def test_piped_at_80_columns_nothing_is_cut(tmp_path) -> None:
    for plan in (LANDING, PRICING, CREATIVE):
        target = tmp_path / f"{plan.stem}.txt"
        with target.open("w") as fh:
            proc = subprocess.run(
                [sys.executable, "-m", "liftlab.cli", "design", str(plan)],
                stdout=fh,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env={**os.environ, "COLUMNS": "80"},
            )
        assert proc.returncode == 0, proc.stderr
        text = target.read_text()
        assert all(len(line) <= 80 for line in text.splitlines())
        assert "…" not in text
        d = design_plan(load_plan(plan))
        assert text.startswith(d.sentence()[:40])
        assert d.sentence().split(":")[0] in text.replace("\n", " ")


def test_report_gets_the_options(monkeypatch, capsys, tmp_path) -> None:
    import liftlab.design_report as dr

    seen: dict[str, Any] = {}

    def fake(plan_path, params, reports_dir):
        seen.update(plan_path=plan_path, params=params, reports_dir=reports_dir)
        return tmp_path / "design.html"

    monkeypatch.setattr(dr, "write_design_report", fake)
    out = cli_json(capsys, str(LANDING), "--report", "--mde", "0.05", "--reports", str(tmp_path))
    assert out["report"] == str(tmp_path / "design.html")
    assert seen["params"]["mde"] == 0.05 and seen["params"]["alpha"] is None
    assert set(seen["params"]) <= set(dr.PARAMETERS)
    assert seen["reports_dir"] == tmp_path


def test_power_curve_reaches_the_target_at_the_designed_size(tmp_path) -> None:
    """For every method the curve's power at the designed units is the plan's power (the
    fixed design exactly; the always-valid and Bayesian curves at their sizing points)."""
    for analysis in (
        {},
        {"method": "sequential", "sequential": {"kind": "group-sequential", "looks": 3}},
        {"method": "sequential", "sequential": {"kind": "msprt"}},
        {"method": "bayesian"},
    ):
        d = design_plan(method_plan(tmp_path, **analysis))
        n = d.n_per_variant
        at = {r["metric"]: r["power"] for r in d.power_curve([n])}
        assert at["signup_rate"] == pytest.approx(0.8, abs=2e-3)
        curve = [r["power"] for r in d.power_curve() if r["metric"] == "signup_rate"]
        assert curve == sorted(curve) and 0 <= curve[0] < 0.8 < curve[-1] <= 1


def test_design_from_the_demo_history(project, capsys) -> None:
    """The demo's pre-period (landing_history + landing_history_events): baselines, sds and
    CUPED's ρ from its moments, each named as coming from the history, by CLI and Python."""
    from liftlab.history import read_history

    path = project / "experiments" / "landing-headline.yaml"
    spec = "landing_history + landing_history_events"
    plan = load_plan(path).with_(
        method="frequentist", primary=["signup_rate", "revenue_per_visitor"]
    )
    hist = read_history(plan, spec)
    d = design_plan(plan, history=hist, history_first=True)
    signup, revenue = hist.moments["signup_rate"], hist.moments["revenue_per_visitor"]
    p = signup.mean_y
    assert d.metrics["signup_rate"].n_control == ceil(unpooled(p, 1.1 * p, 0.05 / 2))
    rho = revenue.cov_xy / math.sqrt(revenue.var_x * revenue.var_y)
    sd = math.sqrt(revenue.var_y * (1 - rho**2))
    assert d.metrics["revenue_per_visitor"].n_control == ceil(
        mean_n(sd, 0.1 * revenue.mean_y, 0.05 / 2)
    )
    sources = d.sources["revenue_per_visitor"]
    assert {k: v.split(":")[0] for k, v in sources.items()} == {
        "baseline": "history",
        "sd": "history",
        "cuped_rho": "history",
    }
    assert not any("without CUPED" in w for w in d.warnings)
    out = cli_json(capsys, str(path), "--history", spec, "--method", "frequentist")
    assert out["per_variant"]["control"] == ceil(unpooled(p, 1.1 * p))
    assert out["rows"][0]["baseline_source"].startswith("history")
    assert "landing_history" in out["rows"][0]["baseline_source"]


def test_asymptotic_cs_is_tuned_at_its_own_design(tmp_path) -> None:
    """The analysis tunes an asymptotic CS at the design's units per arm when the plan
    states no planned_n: stating that size as planned_n gives the same design."""
    seq = {"kind": "asymptotic-cs"}
    plan = method_plan(tmp_path, method="sequential", sequential=seq)
    d = design_plan(plan)
    stated = plan.with_(analysis={"sequential": {"planned_n": d.n_per_variant}})
    assert design_plan(stated).n_per_variant == d.n_per_variant
    assert {c.planned_n for c in d.cases.values()} == {d.n_per_variant}  # both metrics


def test_unequal_weights_name_each_arm(capsys) -> None:
    plan = load_plan(LANDING).with_(
        method="frequentist", variants={"control": {"weight": 0.7}, "benefit": {"weight": 0.3}}
    )
    d = design_plan(plan)
    # unpooled, unequal shares: N = (z_a + z_b)²·(p1q1/w_c + p2q2/w_t)/δ²
    big_n = (z(0.975) + z(0.8)) ** 2 * (0.09 / 0.7 + 0.11 * 0.89 / 0.3) / 0.01**2
    assert d.per_variant == {"control": ceil(0.7 * big_n), "benefit": ceil(0.3 * big_n)}
    assert d.sentence().startswith(
        f"Users per variant: control {ceil(0.7 * big_n):,}, benefit {ceil(0.3 * big_n):,} ("
    )
    reach = d.reach(weeks=2).sentence()
    assert reach.startswith("In 2 weeks at 4,000 a day, 56,000 users (control 39,200, benefit")


def test_json_has_the_same_content_as_the_text(capsys) -> None:
    out = cli_json(capsys, str(LANDING))
    d = design_plan(load_plan(LANDING))
    assert out["sentence"] == d.sentence()
    assert out["warnings"] == list(d.warnings)
    assert out["method_text"] == d.method_text()
    assert [r["metric"] for r in out["rows"]] == ["signup_rate"]
    assert {i["name"] for i in out["inputs"]} >= {"method", "MDE", "power", "alpha"}
    assert [r["weeks"] for r in out["tradeoff"]] == [1, 2, 3, 4, 6, 8]
    assert out["method_details"]["signup_rate"]["price_of_peeking"] > 1
    code, text, _ = cli(capsys, str(LANDING))
    assert code == 0 and " ".join(text.split()).startswith(" ".join(d.sentence().split()))
