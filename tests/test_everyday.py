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
