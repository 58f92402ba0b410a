"""Everyday tables and plans: variant names YAML reads as numbers, tables without an id
column, yes/no columns, tests of no particular kind, `validate` on the data, `init`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
        "zip_code": np.asarray(["Urban", "Surburban", "Rural"])[rng.integers(0, 3, n)],
        "newbie": rng.integers(0, 2, n),
        "channel": np.asarray(["Phone", "Web", "Multichannel"])[rng.integers(0, 3, n)],
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
