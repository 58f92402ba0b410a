"""Golden numbers: every value of every demo ``results.json`` stays what it was.

``tests/golden/<plan>.json`` holds each demo plan's results flattened to ``path -> value``
(``metrics[0].comparisons[1].p_value``): every number, string, boolean and null, apart from
the volatile provenance in :data:`VOLATILE`. The files were written from commit
``24d86a1d235685920b9a3973923574f5281d5c90`` on the demo data of ``liftlab simulate`` (seed
20261125). This test recomputes the flattening from the session's demo runs (the three
report plans, through the notebook) and from an in-process analysis of ``ad-export`` on the
same data, and asserts every stored value equal: floats exactly, as float64, since the
results are reproducible to the last bit (``tests/test_threads.py``).

Keys may be added. A key that is renamed is declared in :data:`RENAMES` (old path -> new
path, ``[*]`` for any index); a key that is removed, or a value that changes, fails.

Regenerating the files is a deliberate, reviewed change (the diff of ``tests/golden/`` is
the list of numbers that moved, and the commit says why)::

    .venv/bin/python -m tests.test_golden

which simulates the demo data into a temporary folder, analyses each plan in process with
the code on ``sys.path`` and rewrites ``tests/golden/``. ``--source DIR`` takes the plans
from another checkout (with ``PYTHONPATH=DIR/lib``, that checkout's code: how the files
were first written, from a worktree of the commit above).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_PLANS, ROOT

GOLDEN = ROOT / "tests" / "golden"
AD_EXPORT = "ad-export"
PLANS = (*DEMO_PLANS, AD_EXPORT)

# Top-level keys that differ between two runs of the same code on the same data, or with the
# installed version: they are not results. (plan_sha256 and data_sha256 are kept: both are
# reproducible fingerprints of the inputs.)
VOLATILE = frozenset({"generated_at", "liftlab_version"})

# Declared renames, old path -> new path; "[*]" stands for any index and is carried over, and
# a rename of a path renames everything under it: {"metrics[*].comparisons[*].mann_whitney":
# "metrics[*].comparisons[*].rank"}.
RENAMES: dict[str, str] = {}

# ad-export (30 ads, 6 metrics) has a daily cumulative view per ad and metric: 44,000 of its
# 55,000 values, 3 MB of golden file. The cumulative views of the first ad of each metric are
# kept (every metric type on the export's clustered rows); the other 28 ads repeat the same
# computation on other arms, and the cumulative view is also kept whole for the creative and
# pricing demos. Every other ad-export value is kept.
_SKIPPED = {AD_EXPORT: re.compile(r"metrics\[\d+\]\.comparisons\[(?!0\])\d+\]\.cumulative[.\[]")}


def flatten(value: Any, path: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every leaf of a JSON value by its path; empty lists and objects are leaves too."""
    out = {} if out is None else out
    if isinstance(value, dict) and value:
        for key, item in value.items():
            if path or key not in VOLATILE:
                flatten(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            flatten(item, f"{path}[{i}]", out)
    else:
        out[path] = value
    return out


def golden_values(plan: str, results: dict[str, Any]) -> dict[str, Any]:
    """The values of ``results`` a golden file holds (see ``_SKIPPED``)."""
    flat = flatten(results)
    skipped = _SKIPPED.get(plan)
    if skipped is None:
        return flat
    return {path: v for path, v in flat.items() if not skipped.match(path)}


def _rename_pattern(old: str) -> re.Pattern[str]:
    return re.compile(re.escape(old).replace(r"\[\*\]", r"\[(\d+)\]") + r"(?=$|[.\[])")


def renamed(path: str, renames: dict[str, str]) -> str:
    """Where an old path lives now, by the first declared rename that matches its start."""
    for old, new in renames.items():
        m = _rename_pattern(old).match(path)
        if m:
            parts = new.split("[*]")
            target = parts[0] + "".join(
                f"[{i}]{p}" for i, p in zip(m.groups(), parts[1:], strict=True)
            )
            return target + path[m.end() :]
    return path


def differences(
    old: dict[str, Any], new: dict[str, Any], renames: dict[str, str]
) -> list[tuple[str, Any, Any]]:
    """``(path, old value, new value)`` for each old value missing or changed in ``new``;
    floats compare exactly (``-0.0 == 0.0``; an int and an equal float are not the same)."""
    missing = object()
    out = []
    for path, was in old.items():
        now = new.get(renamed(path, renames), missing)
        if now is missing or type(now) is not type(was) or now != was:
            out.append((path, was, "(missing)" if now is missing else now))
    return out


def read_golden(plan: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{plan}.json").read_text(encoding="utf-8"))


@functools.cache
def analyse_ad_export(project: Path) -> dict[str, Any]:
    """results.json of experiments/ad-export.yaml on the session project's data, in process
    (the same call the report notebook makes), as JSON would read it back."""
    from liftlab import analyze, load_plan

    plan = load_plan(ROOT / "experiments" / f"{AD_EXPORT}.yaml", root=project)
    return json.loads(analyze(plan).to_json())


def demo_results(project: Path, good_run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every demo plan's results.json: the report runs of the session, and ad-export."""
    out = {}
    for plan in DEMO_PLANS:
        runs = [r for r in good_run["runs"][plan] if not r.name.endswith("-failed")]
        assert runs, good_run["log"]
        out[plan] = json.loads((runs[-1] / "results.json").read_text(encoding="utf-8"))
    out[AD_EXPORT] = analyse_ad_export(project)
    return out


@pytest.fixture(scope="module")
def results(project: Path, good_run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return demo_results(project, good_run)


@pytest.mark.parametrize("plan", PLANS)
def test_every_golden_value_is_unchanged(results: dict[str, dict[str, Any]], plan: str) -> None:
    old = read_golden(plan)
    diff = differences(old, golden_values(plan, results[plan]), RENAMES)
    shown = "\n".join(f"  {p}: {was!r} -> {now!r}" for p, was, now in diff[:8])
    assert not diff, (
        f"{len(diff)} of {len(old)} golden values of {plan} changed or went missing "
        f"(a rename belongs in RENAMES; a deliberate change, in a regenerated "
        f"tests/golden/{plan}.json):\n{shown}"
    )


def test_renames_carry_indices_and_subpaths() -> None:
    renames = {"metrics[*].comparisons[*].mann_whitney": "metrics[*].comparisons[*].rank"}
    assert renamed("metrics[2].comparisons[0].mann_whitney.u", renames) == (
        "metrics[2].comparisons[0].rank.u"
    )
    assert renamed("metrics[2].comparisons[0].mann_whitney_x", renames) == (
        "metrics[2].comparisons[0].mann_whitney_x"
    )


def test_differences_find_changed_missing_and_retyped_values() -> None:
    old = {"a": 0.1, "b": 1, "c": "x", "d": None, "e": True}
    new = {"a": 0.1 + 2**-56, "b": 1.0, "c": "x", "e": True, "f": 3.0}  # "f" is added
    assert [p for p, _, _ in differences(old, new, {})] == ["a", "b", "d"]
    assert differences(old, {**new, "a": 0.1, "b": 1, "d": None}, {}) == []


def test_every_demo_plan_has_a_golden_file() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(PLANS)
    assert sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml")) == sorted(PLANS)


def write_golden(source: Path, out: Path) -> dict[str, int]:
    """Simulate the demo data, analyse each plan of ``source/experiments`` in process and
    write its golden values to ``out/<plan>.json``; returns the number of values per plan."""
    from liftlab import analyze, load_plan
    from liftlab.simulate import simulate

    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "experiments").mkdir()
        simulate(project / "data")
        out.mkdir(parents=True, exist_ok=True)
        for plan in PLANS:
            path = shutil.copy(source / "experiments" / f"{plan}.yaml", project / "experiments")
            values = golden_values(plan, json.loads(analyze(load_plan(path)).to_json()))
            text = json.dumps(values, indent=0, ensure_ascii=False, allow_nan=False) + "\n"
            (out / f"{plan}.json").write_text(text, encoding="utf-8")
            counts[plan] = len(values)
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Rewrite tests/golden/ from the code.")
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout with the plans")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args()
    for plan, n in write_golden(args.source, args.out).items():
        print(f"{plan}: {n} values")
