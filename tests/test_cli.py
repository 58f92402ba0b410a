"""The command line: JSON contract, one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from liftlab import analyze, load_plan
from tests.conftest import ROOT, base_plan, write_plan


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liftlab.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_analyze_json_equals_python(tmp_path, units):
    plan_path = write_plan(tmp_path / "plan.yaml", base_plan(str(units["path"])))
    proc = run("analyze", str(plan_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    ref = analyze(load_plan(plan_path)).to_dict()
    out.pop("generated_at")
    ref.pop("generated_at")
    assert out == ref


def test_analyze_data_override(tmp_path, units):
    plan_path = write_plan(tmp_path / "plan.yaml", base_plan("does-not-exist.parquet"))
    proc = run("analyze", str(plan_path), "--data", str(units["path"]), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["data_source"] == str(units["path"])


def test_bad_plan_one_line_exit_2(tmp_path):
    raw = base_plan("u.parquet")
    raw["variants"]["c"]["weight"] = 0.23
    plan_path = write_plan(tmp_path / "experiments" / "x.yaml", raw)
    for cmd in (["validate", str(plan_path)], ["analyze", str(plan_path)]):
        proc = run(*cmd)
        assert proc.returncode == 2
        assert (
            proc.stderr.strip() == f"{plan_path}: variants: weights sum to 0.9, they must sum to 1"
        )
        assert "Traceback" not in proc.stderr


def test_bad_data_one_line_exit_2(tmp_path, units):
    raw = base_plan(str(units["path"]))
    raw["metrics"][1]["column"] = "revnue"
    plan_path = write_plan(tmp_path / "plan.yaml", raw)
    proc = run("analyze", str(plan_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "metrics[1].column: 'revnue' is not a column" in proc.stderr
    assert "(did you mean 'revenue'?)" in proc.stderr


def test_validate_reports_every_plan(tmp_path):
    good = ROOT / "experiments" / "landing-headline.yaml"
    proc = run("validate", "--no-data", str(good), str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"ok: {good}")
    assert proc.stderr.strip() == f"{tmp_path / 'missing.yaml'}: file not found; check the path"


def test_design_bad_input_exit_2():
    proc = run("design", "--baseline", "1.5")
    assert proc.returncode == 2
    assert proc.stderr.startswith("liftlab design: ")
    assert "Traceback" not in proc.stderr


def test_report_refuses_invalid_plans_before_running(tmp_path):
    """Bad plans in a batch: one line for each naming the file, exit 2, nothing run, the
    reports folder untouched."""
    plan_path = write_plan(tmp_path / "experiments" / "bad.yaml", {"name": "bad"})
    reports = tmp_path / "reports"
    (reports / "old" / "20260101T000000Z").mkdir(parents=True)
    proc = run("report", str(plan_path), str(tmp_path / "missing.yaml"), "--reports", str(reports))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{plan_path}: ")
    assert lines[1].startswith(f"{tmp_path / 'missing.yaml'}: file not found")
    assert "Traceback" not in proc.stderr
    assert (reports / "old" / "20260101T000000Z").is_dir()
    assert sorted(p.name for p in reports.iterdir()) == ["old"]


def test_a_refused_batch_leaves_no_worker(tmp_path):
    """``liftlab report`` starts a worker (and its kernel) while it checks the plans; when
    it refuses them, both are gone by the time it exits."""
    import psutil

    plan_path = write_plan(tmp_path / "experiments" / "bad.yaml", {"name": "bad"})
    proc = run("report", str(plan_path), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith(f"{plan_path}: ")
    left = []
    for p in psutil.process_iter(["cwd", "cmdline"]):
        if p.info["cwd"] == str(tmp_path):
            left.append(" ".join(p.info["cmdline"] or []))
    assert left == []


def test_report_rejects_a_bad_jobs_value(tmp_path):
    proc = run("report", "x.yaml", "--jobs", "0")
    assert proc.returncode == 2
    assert "--jobs" in proc.stderr
