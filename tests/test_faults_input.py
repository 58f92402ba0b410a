"""Faults in the user's input: every mistake ends with one line on stderr naming the file or
argument and the fix, and exit status 2 (issue 11, items 4, 10, 11 and 12)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, base_plan, write_plan

LIFTLAB = Path(sys.executable).parent / "liftlab"
BOX = ("╭", "│", "╰", "Traceback", "Usage:")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [str(LIFTLAB), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback or usage box, every needle in it."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr[-2000:]
    line = lines[0]
    for mark in BOX:
        assert mark not in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


@pytest.fixture
def proj(tmp_path: Path, project: Path) -> Path:
    """A project folder: experiments/ with the demo plans, data/ pointing at the demo data
    simulated for the session (a fresh clone has no data/ of its own)."""
    (tmp_path / "experiments").mkdir()
    (tmp_path / "data").symlink_to(project / "data")
    for p in (ROOT / "experiments").glob("*.yaml"):
        (tmp_path / "experiments" / p.name).write_text(p.read_text())
    return tmp_path


def demo(proj: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((proj / "experiments" / f"{name}.yaml").read_text())
    return loaded


def save(proj: Path, plan: dict[str, Any], name: str = "x") -> Path:
    return write_plan(proj / "experiments" / f"{name}.yaml", plan)


# ---- item 4: events, columns and tables that are not in the data ------------------------------
def test_event_typo_is_an_error(proj):
    plan = demo(proj, "landing-headline")
    plan["metrics"][0]["event"] = "signpu"
    path = save(proj, plan)
    line = one_line(run("analyze", str(path)), "metrics[0].event 'signpu'", "landing_events")
    assert line.startswith(f"{path}: ")
    assert "does not occur" in line and "(did you mean 'signup'?)" in line


def test_ratio_side_event_typo_is_an_error(proj):
    plan = demo(proj, "creative-tournament")
    ratio = next(i for i, m in enumerate(plan["metrics"]) if m.get("type") == "ratio")
    plan["metrics"][ratio]["numerator"]["event"] = "clikc"
    path = save(proj, plan)
    one_line(
        run("analyze", str(path)),
        str(path),
        f"metrics[{ratio}].numerator.event 'clikc'",
        "(did you mean 'click'?)",
    )


def test_funnel_step_typo_is_an_error(proj):
    plan = demo(proj, "landing-headline")
    plan["funnel"] = ["landing_view", "signup", "activte"]
    path = save(proj, plan)
    one_line(run("analyze", str(path)), str(path), "'activte'", "(did you mean 'activate'?)")


def test_missing_event_table_is_an_error(proj):
    plan = demo(proj, "landing-headline")
    plan["data"]["events"] = "landing_evnts"
    path = save(proj, plan)
    one_line(run("analyze", str(path)), str(path), "data.events", "landing_evnts", "did you mean")


def test_missing_event_column_is_an_error(proj):
    plan = demo(proj, "landing-headline")
    plan["data"]["columns"] = {"ts": "tstamp"}
    path = save(proj, plan)
    one_line(run("analyze", str(path)), str(path), "data.events", "'tstamp'")


def test_missing_metric_column_is_an_error(tmp_path, units):
    plan = base_plan(str(units["path"]))
    plan["metrics"][1]["column"] = "revnue"
    path = write_plan(tmp_path / "plan.yaml", plan)
    one_line(run("analyze", str(path)), str(path), "'revnue'", "(did you mean 'revenue'?)")


def test_precomputed_metric_typo_suggests_the_name_in_the_file(tmp_path):
    csv = tmp_path / "stats.csv"
    csv.write_text(
        "metric,variant,n,sum_y,sum_y2\n"
        + "".join(f"conversoin,{v},100,10,10\n" for v in ("control", "b", "c"))
    )
    plan = base_plan("x.parquet")
    plan["data"] = {"statistics": "stats.csv"}
    plan["metrics"] = [{"name": "conversion", "role": "primary", "type": "proportion"}]
    path = write_plan(tmp_path / "plan.yaml", plan)
    one_line(
        run("analyze", str(path)),
        str(path),
        "data.statistics",
        "'conversion'",
        "(did you mean 'conversoin'?)",
    )


# ---- item 10: tracebacks for files that are not what they should be ---------------------------
def test_engine_file_that_is_not_duckdb(proj):
    (proj / "notduck.duckdb").write_text("this is not a database\n" * 20)
    plan = demo(proj, "landing-headline")
    plan["data"]["engine"] = "duckdb://notduck.duckdb"
    path = save(proj, plan)
    one_line(run("analyze", str(path)), str(path), "data.engine", "notduck.duckdb", "DuckDB")


def test_engine_path_that_is_a_directory(proj):
    (proj / "dir.duckdb").mkdir()
    plan = demo(proj, "landing-headline")
    plan["data"]["engine"] = "duckdb://dir.duckdb"
    path = save(proj, plan)
    line = one_line(run("analyze", str(path)), str(path), "data.engine", "is a directory")
    assert "not found" not in line and ".duckdb" in line


def test_reports_path_that_is_a_file(proj):
    (proj / "reports.txt").write_text("x")
    path = proj / "experiments" / "landing-headline.yaml"
    one_line(
        run("report", str(path), "--reports", str(proj / "reports.txt")),
        "liftlab report",
        "--reports",
        "reports.txt",
        "is a file",
    )


def test_reports_default_folder_that_is_a_file(proj):
    (proj / "reports").write_text("x")
    path = proj / "experiments" / "landing-headline.yaml"
    one_line(run("report", str(path)), "liftlab report", str(proj / "reports"), "is a file")


@pytest.mark.parametrize(
    "content", [b"", b"not json at all", b'{"cells": 3}', b"\x00\x01\x02binary", b"[1, 2]"]
)
def test_html_on_a_file_that_is_not_a_notebook(tmp_path, content):
    nb = tmp_path / "x.ipynb"
    nb.write_bytes(content)
    one_line(run("html", str(nb)), str(nb), "notebook")
    assert not (tmp_path / "x.html").exists()


def test_html_on_a_directory(tmp_path):
    folder = tmp_path / "nb.ipynb"
    folder.mkdir()
    one_line(run("html", str(folder)), str(folder), "is a directory")


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_html_out_that_cannot_be_written(tmp_path, where):
    import nbformat

    nb = tmp_path / "ok.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    target = tmp_path / "no" / "such" / "x.html" if where == "missing-folder" else tmp_path
    one_line(run("html", str(nb), "--out", str(target)), "liftlab html", "--out", str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.ipynb"]


def test_simulate_out_naming_a_file(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("keep me")
    one_line(run("simulate", "--out", str(target)), "--out", str(target), "folder")
    assert target.read_text() == "keep me"


def test_simulate_out_under_a_file(tmp_path):
    blocker = tmp_path / "data.txt"
    blocker.write_text("keep me")
    target = blocker / "demo"
    one_line(run("simulate", "--out", str(target)), "liftlab simulate", str(target), "--out")
    assert blocker.read_text() == "keep me"


def test_check_on_a_directory(tmp_path):
    one_line(run("check", str(tmp_path)), str(tmp_path), "is a directory", "index.html")


# ---- item 11: messages that mislead -------------------------------------------------------------
def test_misspelt_top_level_key(proj):
    text = (proj / "experiments" / "landing-headline.yaml").read_text()
    path = proj / "experiments" / "x.yaml"
    path.write_text(text.replace("\nmetrics:", "\nmetircs:"))
    line = one_line(run("validate", str(path)), str(path), "'metircs'", "did you mean 'metrics'")
    assert "is required" not in line


def test_misspelt_nested_key(proj):
    text = (proj / "experiments" / "landing-headline.yaml").read_text()
    path = proj / "experiments" / "x.yaml"
    path.write_text(
        text.replace("    window_days: 7\n    baseline", "    windw_days: 7\n    baseline")
    )
    one_line(run("validate", str(path)), str(path), "metrics[0]", "'windw_days'", "window_days")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02\xff\xfe binary \x00\x00" * 50, "not a CSV"),
        (b"user_id,variant,converted,revenue,pre_revenue,clicks,impressions\n", "no rows"),
    ],
    ids=["empty", "binary", "header-only"],
)
def test_bad_csv_data(tmp_path, units, content, needle):
    path = write_plan(tmp_path / "plan.yaml", base_plan(str(units["path"])))
    csv = tmp_path / "bad.csv"
    csv.write_bytes(content)
    line = one_line(run("analyze", str(path), "--data", str(csv)), str(csv), needle)
    assert "column" not in line and "timestamp" not in line


def test_header_only_csv_in_plan(tmp_path):
    csv = tmp_path / "units.csv"
    csv.write_text("user_id,variant,converted,revenue,pre_revenue,clicks,impressions,ts\n")
    path = write_plan(tmp_path / "plan.yaml", {**base_plan(str(csv))})
    one_line(run("analyze", str(path)), str(path), "data.units", "no rows")


def test_directory_as_data(tmp_path, units):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    path = write_plan(tmp_path / "plan.yaml", base_plan(str(units["path"])))
    one_line(run("analyze", str(path), "--data", str(folder)), str(folder), "is a directory")


def test_directory_as_data_in_plan(tmp_path):
    folder = tmp_path / "units.parquet"
    folder.mkdir()
    path = write_plan(tmp_path / "plan.yaml", base_plan(str(folder)))
    line = one_line(run("analyze", str(path)), str(path), "data.units", "is a directory")
    assert "not found" not in line


@pytest.mark.parametrize("n", ["0", "-5"])
def test_design_n_per_variant_not_positive(n):
    line = one_line(
        run("design", "--baseline", "0.1", "--n-per-variant", n),
        "liftlab design",
        "--n-per-variant",
    )
    assert "None" not in line and f"(got {n})" in line


@pytest.mark.parametrize("command", ["validate", "analyze", "design"])
def test_directory_as_plan(tmp_path, command):
    line = one_line(run(command, str(tmp_path)), str(tmp_path), "is a directory")
    assert ".yaml" in line  # says what to give


# ---- item 12: usage errors are one line too -------------------------------------------------------
USAGE_CASES = [
    (
        ["report", "--jobs", "0", "experiments/landing-headline.yaml"],
        "liftlab report: --jobs",
        "(got 0)",
    ),
    (
        ["report", "--timeout", "soon", "experiments/landing-headline.yaml"],
        "liftlab report: --timeout",
        "'soon'",
    ),
    (
        ["report", "--timeout", "-1", "experiments/landing-headline.yaml"],
        "liftlab report: --timeout",
        "(got -1)",
    ),
    (["analyze"], "liftlab analyze: ", "plan"),
    (["validate"], "liftlab validate: ", "plan"),
    (["report"], "liftlab report: ", "plan"),
    (["html"], "liftlab html: ", ".ipynb"),
    (
        ["analyse", "experiments/landing-headline.yaml"],
        "liftlab: no command 'analyse'",
        "(did you mean 'analyze'?)",
    ),
    (["reprot"], "liftlab: no command 'reprot'", "(did you mean 'report'?)"),
    (["design", "--baseline", "abc"], "liftlab design: --baseline", "'abc'"),
    (["design", "--type", "rate", "--baseline", "0.1"], "liftlab design: --type", "'rate'"),
    (
        ["analyze", "experiments/landing-headline.yaml", "--format", "xml"],
        "liftlab analyze: --format",
        "'xml'",
    ),
    (
        ["analyze", "experiments/landing-headline.yaml", "--fromat", "csv"],
        "liftlab analyze: no option '--fromat'",
        "(did you mean '--format'?)",
    ),
    (["design", "--arms"], "liftlab design: --arms", "value"),
    (["simulate", "--seed", "x"], "liftlab simulate: --seed", "'x'"),
    (["analyze", "a.yaml", "b.yaml"], "liftlab analyze: ", "'b.yaml'"),
    (["--bogus"], "liftlab: no option '--bogus'", "--help"),
    (
        ["design", "--mde-type", "rel"],
        "liftlab design: --mde-type",
        "(got 'rel') (did you mean 'relative'?)",
    ),
    (["report", "x.yaml", "--jobs"], "liftlab report: --jobs", "needs a value"),
    (["design", "--arms", "2.5"], "liftlab design: --arms", "(got 2.5)"),
    (["check"], "liftlab check: ", "reports/index.html"),
]


@pytest.mark.parametrize(("args", "start", "needle"), USAGE_CASES, ids=lambda v: None)
def test_usage_errors_are_one_line(args, start, needle):
    line = one_line(run(*args), needle)
    assert line.startswith(start), line
    assert not re.search(r"\s{3,}", line), line


def test_help_still_works():
    proc = run("--help")
    assert proc.returncode == 0 and "analyze" in proc.stdout
    proc = run("report", "--help")
    assert proc.returncode == 0 and "--jobs" in proc.stdout


def test_invalid_plans_under_report_exit_2_before_running(proj):
    bad1 = proj / "experiments" / "bad1.yaml"
    bad1.write_text("name: bad1\n")
    bad2 = proj / "experiments" / "bad2.yaml"
    bad2.write_text("- not a mapping\n")
    good = proj / "experiments" / "landing-headline.yaml"
    proc = run("report", str(good), str(bad1), str(bad2))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(str(bad1)) and lines[1].startswith(str(bad2))
    assert not (proj / "reports").exists()  # nothing ran
