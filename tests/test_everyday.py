"""Everyday tables and plans: variant names YAML reads as numbers, tables without an id
column, yes/no columns, tests of no particular kind, `validate` on the data, `init`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from liftlab import analyze, load_plan
from tests.conftest import ROOT, write_table

PLAN_HEAD = """\
name: gate-test
hypothesis: moving the gate to level 40 keeps more players
"""


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liftlab.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def two_arms(tmp_path: Path, labels: tuple[object, object], n: int = 400) -> dict[str, object]:
    """A unit table with two arms labelled ``labels`` and a 0/1 outcome of known counts."""
    rng = np.random.default_rng(3)
    arm = np.arange(n) % 2
    won = (rng.random(n) < np.where(arm == 0, 0.3, 0.4)).astype(np.int64)
    variant = np.asarray(labels, dtype=object)[arm]
    path = write_table(
        tmp_path / "units.parquet",
        {"player": np.arange(n), "arm": variant.tolist(), "won": won},
    )
    return {"path": path, "arm": arm, "won": won}


# ---- variant names that YAML reads as numbers or booleans --------------------------------------
@pytest.mark.parametrize(
    ("keys", "data_labels"),
    [(("30", "40"), (30, 40)), (("yes", "no"), ("yes", "no")), (("916", "1.5"), ("916", "1.5"))],
)
def test_variant_names_read_as_text(tmp_path, keys, data_labels):
    table = two_arms(tmp_path, data_labels)
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        PLAN_HEAD
        + f"unit: player\ncontrol: {keys[0]}\nvariants:\n  {keys[0]}: {{}}\n  {keys[1]}: {{}}\n"
        + f"data: {{units: {table['path']}, variant_column: arm}}\n"
        + "metrics:\n  - {name: win, role: primary, type: proportion, column: won}\n",
        encoding="utf-8",
    )
    plan = load_plan(plan_path)
    assert list(plan.variants) == list(keys)
    assert plan.control_name == keys[0]
    res = analyze(plan)
    arm, won = table["arm"], table["won"]
    assert res.srm.counts == {keys[0]: int((arm == 0).sum()), keys[1]: int((arm == 1).sum())}
    (comp,) = res.metric("win").comparisons
    assert comp.variant == keys[1]
    expected = won[arm == 1].mean() - won[arm == 0].mean()
    assert comp.effect.abs_effect == pytest.approx(expected, rel=1e-12)


def test_variant_names_given_in_python_become_text():
    from liftlab.plan import parse_plan

    plan = parse_plan(
        {
            "name": "x",
            "hypothesis": "h",
            "control": 30,
            "variants": {30: {}, 40: {}},
            "data": {"units": "u.parquet"},
            "metrics": [{"name": "m", "role": "primary", "type": "proportion", "column": "c"}],
        }
    )
    assert plan.control_name == "30" and list(plan.variants) == ["30", "40"]


# ---- a test of no particular kind ------------------------------------------------------------
def test_kind_is_optional_and_general_adds_no_section(tmp_path):
    table = two_arms(tmp_path, ("a", "b"))
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        PLAN_HEAD
        + "unit: player\nvariants: {a: {}, b: {}}\n"
        + f"data: {{units: {table['path']}, variant_column: arm}}\n"
        + "metrics:\n  - {name: win, role: primary, type: proportion, column: won}\n",
        encoding="utf-8",
    )
    plan = load_plan(plan_path)
    assert plan.kind == "general"
    res = analyze(plan)
    assert res.sections == {}
    assert res.to_dict()["kind"] == "general"
    explicit = plan_path.read_text(encoding="utf-8").replace("unit:", "kind: general\nunit:")
    plan_path.write_text(explicit, encoding="utf-8")
    assert load_plan(plan_path).kind == "general"


# ---- a unit table without an id column -------------------------------------------------------
def email_csv(path: Path, n: int = 3_000, seed: int = 11) -> dict[str, np.ndarray]:
    """A CSV shaped like a public e-mail campaign test: three segments, no id column, a 0/1
    visit, a 0/1 conversion and a spend amount, plus customer attributes."""
    rng = np.random.default_rng(seed)
    segment = np.asarray(["Mens E-Mail", "Womens E-Mail", "No E-Mail"])[np.arange(n) % 3]
    visit = (rng.random(n) < np.select([segment == "No E-Mail"], [0.10], 0.16)).astype(int)
    conversion = visit * (rng.random(n) < 0.08).astype(int)
    spend = np.round(conversion * rng.gamma(2.0, 60.0, n), 2)
    cols = {
        "recency": rng.integers(1, 13, n),
        "history": np.round(rng.gamma(1.5, 150.0, n), 2),
        "mens": rng.integers(0, 2, n),
        "womens": rng.integers(0, 2, n),
        "zip_code": rng.choice(["Urban", "Surburban", "Rural"], n, p=[0.40, 0.45, 0.15]),
        "newbie": rng.integers(0, 2, n),
        "channel": rng.choice(["Phone", "Web", "Multichannel"], n, p=[0.44, 0.44, 0.12]),
        "segment": segment,
        "visit": visit,
        "conversion": conversion,
        "spend": spend,
    }
    write_table(path, {k: v.tolist() for k, v in cols.items()})
    return cols


EMAIL_PLAN = """\
name: email-campaign
hypothesis: an e-mail brings more visits than none
control: No E-Mail
variants: {{No E-Mail: {{}}, Mens E-Mail: {{}}, Womens E-Mail: {{}}}}
data: {{units: {data}, variant_column: segment}}
metrics:
  - {{name: visit_rate, role: primary, type: proportion, column: {visit}}}
  - {{name: spend, type: mean, column: spend}}
"""


def test_table_without_id_column_counts_rows_as_units(tmp_path):
    cols = email_csv(tmp_path / "email.csv")
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(EMAIL_PLAN.format(data=tmp_path / "email.csv", visit="visit"), "utf-8")
    res = analyze(load_plan(plan_path))
    seg = cols["segment"]
    assert res.srm.counts == {v: int((seg == v).sum()) for v in res.plan.variants}
    comp = res.metric("visit_rate").comparison("Mens E-Mail")
    ref = cols["visit"][seg == "Mens E-Mail"].mean() - cols["visit"][seg == "No E-Mail"].mean()
    assert comp.effect.abs_effect == pytest.approx(ref, rel=1e-12)
    notes = res.to_dict()["data_quality"]["notes"]
    assert notes and "duplicate units could not be checked" in notes[0]
    from liftlab.present import data_quality_markdown

    assert "duplicate units could not be checked" in data_quality_markdown(res)


def test_named_unit_column_that_is_missing_is_still_an_error(tmp_path):
    email_csv(tmp_path / "email.csv", n=300)
    plan_path = tmp_path / "plan.yaml"
    text = EMAIL_PLAN.format(data=tmp_path / "email.csv", visit="visit")
    plan_path.write_text("unit: customer_id\n" + text, "utf-8")
    proc = run("analyze", str(plan_path))
    assert proc.returncode == 2
    assert "unit: 'customer_id' is not a column" in proc.stderr


# ---- yes/no columns as proportions -----------------------------------------------------------
@pytest.mark.parametrize(
    "spellings",
    [("True", "False"), ("true", "false"), ("yes", "no"), ("1", "0"), ("YES", " No")],
)
def test_text_flags_read_as_zero_one(tmp_path, spellings):
    cols = email_csv(tmp_path / "email.csv", n=900)
    flag = np.where(cols["visit"] == 1, spellings[0], spellings[1])
    import pyarrow as pa

    write_table(
        tmp_path / "flags.parquet",
        {
            "segment": cols["segment"].tolist(),
            "visited": pa.array(flag.tolist(), pa.string()),
            "spend": cols["spend"].tolist(),
        },
    )
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        EMAIL_PLAN.format(data=tmp_path / "flags.parquet", visit="visited"), "utf-8"
    )
    res = analyze(load_plan(plan_path))
    seg = cols["segment"]
    for v in res.plan.variants:
        assert res.metric("visit_rate").variants[v].mean == pytest.approx(
            cols["visit"][seg == v].mean(), rel=1e-12
        )


def test_text_flag_column_with_another_value_names_it(tmp_path):
    import pyarrow as pa

    values = ["yes", "no", "maybe", "no"] * 50
    write_table(
        tmp_path / "flags.parquet",
        {
            "segment": (["No E-Mail", "Mens E-Mail", "Womens E-Mail", "No E-Mail"] * 50),
            "visited": pa.array(values, pa.string()),
            "spend": [1.0] * 200,
        },
    )
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        EMAIL_PLAN.format(data=tmp_path / "flags.parquet", visit="visited"), "utf-8"
    )
    proc = run("analyze", str(plan_path))
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line
    assert "metrics[0].column" in line and "'visited'" in line and "'maybe'" in line


# ---- validate opens the data -----------------------------------------------------------------
def test_validate_reports_column_problems_from_the_data(tmp_path):
    email_csv(tmp_path / "email.csv", n=300)
    plan_path = tmp_path / "plan.yaml"
    good = EMAIL_PLAN.format(data=tmp_path / "email.csv", visit="visit")
    plan_path.write_text(good, "utf-8")
    assert run("validate", str(plan_path)).returncode == 0

    plan_path.write_text(good.replace("column: visit}", "column: visits}"), "utf-8")
    proc = run("validate", str(plan_path))
    assert proc.returncode == 2
    assert "metrics[0].column: 'visits' is not a column" in proc.stderr
    assert "did you mean 'visit'" in proc.stderr
    assert run("validate", "--no-data", str(plan_path)).returncode == 0

    plan_path.write_text(good.replace("column: spend}", "column: zip_code}"), "utf-8")
    proc = run("validate", str(plan_path))
    assert proc.returncode == 2
    assert "metrics[1].column: 'zip_code'" in proc.stderr and "not numbers" in proc.stderr


def test_validate_does_not_require_every_variant_in_the_first_rows(tmp_path):
    cols = email_csv(tmp_path / "email.csv", n=3_000)
    order = np.argsort(cols["segment"] == "Womens E-Mail", kind="stable")  # last rows only
    write_table(tmp_path / "sorted.csv", {k: v[order].tolist() for k, v in cols.items()})
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(EMAIL_PLAN.format(data=tmp_path / "sorted.csv", visit="visit"), "utf-8")
    proc = run("validate", str(plan_path))
    assert proc.returncode == 0, proc.stderr


def test_validate_reads_only_the_first_rows_of_text_flags(tmp_path):
    import pyarrow as pa

    n = 5_000
    values = ["yes", "no"] * (n // 2)
    values[-1] = "maybe"  # beyond the rows validate reads; analyze reads it
    write_table(
        tmp_path / "flags.parquet",
        {
            "segment": (["No E-Mail", "Mens E-Mail"] * (n // 2)),
            "visited": pa.array(values, pa.string()),
            "spend": [1.0] * n,
        },
    )
    plan_path = tmp_path / "plan.yaml"
    text = EMAIL_PLAN.format(data=tmp_path / "flags.parquet", visit="visited")
    plan_path.write_text(text.replace(", Womens E-Mail: {}", ""), "utf-8")
    assert run("validate", str(plan_path)).returncode == 0
    proc = run("analyze", str(plan_path))
    assert proc.returncode == 2 and "'maybe'" in proc.stderr


# ---- liftlab init drafts a plan from a table -------------------------------------------------
def test_init_drafts_a_plan_for_an_email_campaign_csv(tmp_path):
    (tmp_path / "data").mkdir()
    cols = email_csv(tmp_path / "data" / "email.csv")
    out = tmp_path / "experiments" / "email-test.yaml"
    proc = run("init", str(tmp_path / "data" / "email.csv"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    plan = load_plan(out)
    assert plan.name == "email-test" and plan.kind == "general"
    assert plan.data.variant_column == "segment" and plan.data.units == "data/email.csv"
    assert plan.control_name == "No E-Mail"
    assert set(plan.variants) == {"No E-Mail", "Mens E-Mail", "Womens E-Mail"}
    assert "unit" not in plan.model_fields_set  # no id column: each row is a unit
    kinds = {m.column: m.type for m in plan.metrics}
    assert kinds == {"visit": "proportion", "conversion": "proportion", "spend": "mean"}
    assert plan.primary_metrics[0].column in ("visit", "conversion")
    text = out.read_text(encoding="utf-8")
    assert "#   zip_code: string, 3 distinct" in text  # the column profile
    assert run("validate", str(out)).returncode == 0
    proc = run("analyze", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    import json

    got = json.loads(proc.stdout)
    seg = cols["segment"]
    spend = next(m for m in got["metrics"] if m["name"] == "spend")
    for v in ("No E-Mail", "Mens E-Mail"):
        assert got["srm"]["counts"][v] == int((seg == v).sum())
        assert spend["variants"][v]["mean"] == pytest.approx(cols["spend"][seg == v].mean())
    # refuses to overwrite without --force; prints to stdout by default
    again = run("init", str(tmp_path / "data" / "email.csv"), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    assert (
        run("init", str(tmp_path / "data" / "email.csv"), "--out", str(out), "--force").returncode
        == 0
    )
    printed = run("init", str(tmp_path / "data" / "email.csv"), cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout.startswith("# Drafted by `liftlab init`")


def test_init_game_table_with_ids_booleans_and_no_named_control(tmp_path):
    import pyarrow as pa

    rng = np.random.default_rng(5)
    n = 2_000
    version = np.where(rng.random(n) < 0.5, "gate_30", "gate_40")
    ret1 = rng.random(n) < 0.45
    write_table(
        tmp_path / "cookie_cats.parquet",
        {
            "userid": (1000 + rng.permutation(n * 3)[:n]).tolist(),
            "version": version.tolist(),
            "sum_gamerounds": rng.poisson(50, n).tolist(),
            "retention_1": pa.array(ret1.tolist(), pa.bool_()),
            "retention_7": pa.array(np.where(rng.random(n) < 0.19, "True", "False").tolist()),
        },
    )
    proc = run("init", "cookie_cats.parquet", "--out", "experiments/gates.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    values, counts = np.unique(version, return_counts=True)
    top = str(values[np.argmax(counts)])
    assert "most frequent" in proc.stderr
    plan = load_plan(tmp_path / "experiments" / "gates.yaml")
    assert plan.unit == "userid" and plan.control_name == top
    assert plan.primary_metrics[0].column == "retention_1"
    kinds = {m.column: m.type for m in plan.metrics}
    assert kinds == {
        "sum_gamerounds": "mean",
        "retention_1": "proportion",
        "retention_7": "proportion",
    }
    res = analyze(plan)
    other = next(v for v in plan.variants if v != top)
    effect = res.metric("retention_1").comparison(other).effect.abs_effect
    assert effect == pytest.approx(ret1[version == other].mean() - ret1[version == top].mean())


def test_init_reads_counts_pairs_as_a_ratio(tmp_path):
    rng = np.random.default_rng(8)
    n = 1_500
    impressions = rng.poisson(20, n) + 1
    clicks = rng.binomial(impressions, 0.04)
    write_table(
        tmp_path / "ads.csv",
        {
            "user_id": [f"u{i}" for i in range(n)],
            "group": (["a", "b"] * n)[:n],
            "clicks": clicks.tolist(),
            "impressions": impressions.tolist(),
        },
    )
    proc = run("init", "ads.csv", "--out", "experiments/ads.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = load_plan(tmp_path / "experiments" / "ads.yaml")
    (m,) = plan.metrics
    assert (m.type, m.numerator, m.denominator, m.role) == (
        "ratio",
        "clicks",
        "impressions",
        "primary",
    )
    assert plan.control_name == "a" and plan.unit == "user_id"
    res = analyze(plan)
    b = np.arange(n) % 2 == 1
    assert res.metric(m.name).variants["b"].mean == pytest.approx(
        clicks[b].sum() / impressions[b].sum()
    )


def test_init_without_a_variant_column_says_how_to_name_it(tmp_path):
    write_table(tmp_path / "x.csv", {"amount": [1.5, 2.5, 3.5, 4.5] * 10})
    proc = run("init", str(tmp_path / "x.csv"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--variant COLUMN" in proc.stderr


# ---- precomputed sums: the binomial encoding ------------------------------------------------
def test_statistics_file_binomial_encoding_gives_the_binomial_interval(tmp_path):
    """Counts per arm, encoded as the README says, give the Wald interval of a difference of
    two binomial proportions, p(1-p)/n per arm (the closed form), for a proportion metric and
    for a ratio of counts aggregated per arm alike."""
    arms = {"control": (40_000, 1_200), "new": (41_000, 1_394)}  # trials, successes
    rows = ["metric,variant,n,sum_y,sum_y2,sum_x,sum_x2,sum_xy"]
    for v, (n, k) in arms.items():
        rows.append(f"conversion,{v},{n},{k},{k},,,")
        rows.append(f"ctr,{v},{n},{k},{k},{n},{n},{k}")
    (tmp_path / "sums.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(
        "name: sums\nhypothesis: h\nvariants: {control: {}, new: {}}\n"
        f"data: {{statistics: {tmp_path / 'sums.csv'}}}\n"
        "analysis: {correction: none}\n"
        "metrics:\n  - {name: conversion, role: primary, type: proportion}\n"
        "  - {name: ctr, type: ratio}\n",
        encoding="utf-8",
    )
    res = analyze(load_plan(plan_path))
    (n0, k0), (n1, k1) = arms["control"], arms["new"]
    p0, p1 = k0 / n0, k1 / n1
    se = np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    z = stats.norm.ppf(0.975)
    for name in ("conversion", "ctr"):
        eff = res.metric(name).comparison("new").effect
        assert eff.control_mean == pytest.approx(p0, rel=1e-12)
        assert eff.abs_effect == pytest.approx(p1 - p0, rel=1e-12)
        # n - 1 in the sample variance and a t quantile on ~80,000 df: within 1e-4
        assert eff.abs_se == pytest.approx(se, rel=1e-4)
        assert eff.abs_ci[0] == pytest.approx(p1 - p0 - z * se, rel=1e-4)
        assert eff.abs_ci[1] == pytest.approx(p1 - p0 + z * se, rel=1e-4)
        assert eff.p_value == pytest.approx(2 * stats.norm.sf((p1 - p0) / se), rel=1e-3)


def test_init_does_not_take_an_all_distinct_outcome_for_the_unit_id(tmp_path):
    n = 400
    write_table(
        tmp_path / "t.csv",
        {"group": (["a", "b"] * n)[:n], "rounds": (np.arange(n) * 7 + 3).tolist()},
    )
    proc = run("init", "t.csv", "--out", "experiments/t.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = load_plan(tmp_path / "experiments" / "t.yaml")
    assert "unit" not in plan.model_fields_set
    assert [(m.column, m.type) for m in plan.metrics] == [("rounds", "mean")]
