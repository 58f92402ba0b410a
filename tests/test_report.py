"""Reports end to end: notebook → report.ipynb, report.html, results.json and the index.

The notebook runs in a real kernel, which takes seconds, so the module runs it twice in all:
once on good demo data (``good_run``) and once on a broken data file (``failed_run``). The
other tests read those runs' files or call the presentation helpers directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill as pm
import pytest
from rich.console import Console

from liftlab import Results, analyze, charts, load_plan, present
from liftlab.report import index_html, list_runs, project_path, run_reports, write_index
from liftlab.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analyze.ipynb"
PLAN = "landing-headline"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=400, soft_wrap=True, highlight=False), buf


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway project: one plan, the analysis notebook and simulated demo data."""
    root = tmp_path_factory.mktemp("project")
    (root / "experiments").mkdir()
    shutil.copy(REPO / "experiments" / f"{PLAN}.yaml", root / "experiments")
    (root / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, root / "notebooks")
    simulate(root / "data")
    return root


@pytest.fixture(scope="module")
def good_run(project: Path) -> dict[str, Any]:
    console, buf = _console()
    ok = run_reports([project / "experiments" / f"{PLAN}.yaml"], console=console)
    runs = list_runs(project / "reports" / PLAN)
    return {"ok": ok, "log": buf.getvalue(), "runs": runs}


@pytest.fixture(scope="module")
def failed_run(project: Path, good_run: dict[str, Any]) -> dict[str, Any]:
    """Run again with a unit table whose revenue column is text, plus a missing plan."""
    good = good_run["runs"][0]
    before = _tree_digest(good)
    units = pd.read_parquet(project / "data" / "landing.parquet")
    units["revenue"] = "n/a"
    broken = project / "data" / "broken.parquet"
    units.to_parquet(broken)
    console, buf = _console()
    plans = [project / "experiments" / "missing.yaml", project / "experiments" / f"{PLAN}.yaml"]
    ok = run_reports(plans, data=broken, console=console)
    return {"ok": ok, "log": buf.getvalue(), "good": good, "before": before}


# ---- the notebook file -------------------------------------------------------------------------
def test_notebook_in_repo_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for cell in code:
        assert cell.outputs == []
        assert cell.execution_count is None


def test_notebook_parameters_are_documented() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert list(params) == ["plan_path", "data_path", "results_path", "static_charts"]
    assert params["plan_path"]["default"] == '"experiments/landing-headline.yaml"'
    assert "relative to the project root" in params["plan_path"]["help"]
    assert "data.units" in params["data_path"]["help"]
    assert "results.json" in params["results_path"]["help"]
    assert "SVG" in params["static_charts"]["help"]
    assert params["static_charts"]["inferred_type_name"] == "bool"
    for p in params.values():
        assert p["help"]


# ---- a good run --------------------------------------------------------------------------------
def test_good_run_writes_notebook_html_and_results(project: Path, good_run: dict) -> None:
    assert good_run["ok"], good_run["log"]
    [run] = good_run["runs"]
    assert RUN_ID.match(run.name)
    assert {p.name for p in run.iterdir()} >= {"report.ipynb", "report.html", "results.json"}
    assert not list((project / "reports" / PLAN).glob(".tmp-*"))
    assert str(run / "report.html") in good_run["log"]
    assert str(project / "reports" / "index.html") in good_run["log"]


def test_results_json_matches_analyze(project: Path, good_run: dict) -> None:
    [run] = good_run["runs"]
    written = json.loads((run / "results.json").read_text(encoding="utf-8"))
    expected = analyze(load_plan(project / "experiments" / f"{PLAN}.yaml")).to_dict()
    written.pop("generated_at")
    expected.pop("generated_at")
    assert written == expected


def test_html_reads_as_a_report(project: Path, good_run: dict) -> None:
    [run] = good_run["runs"]
    text = (run / "report.html").read_text(encoding="utf-8")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    reason = results["decision"]["reason"]
    assert html.escape(reason) in text
    assert "SHIP: benefit" in text
    # the verdict comes before the health check, which comes before the metrics
    assert (
        text.index("SHIP: benefit")
        < text.index("Health check")
        < text.index("signup_rate · decision")
    )
    # charts: the SRM chart and one forest plot per metric, inline SVG, no scripts or CDN
    assert text.count("<svg") >= 1 + len(results["metrics"])
    assert "<script src=" not in text
    assert "cdn.jsdelivr" not in text and "cdnjs" not in text
    assert "application/vnd.vegalite" not in text
    # no code, no unit-level table
    assert "load_plan(" not in text and "load_results(" not in text
    assert "import " not in text
    assert not re.search(r"<th[^>]*>\s*user_id\s*</th>", text)
    assert text.count("<tr") < 50


def test_executed_notebook_holds_svg_charts_and_no_unit_data(good_run: dict) -> None:
    [run] = good_run["runs"]
    nb = nbformat.read(run / "report.ipynb", as_version=4)
    mimes = [
        m for c in nb.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})
    ]
    assert mimes.count("image/svg+xml") == 4  # SRM + three metrics
    assert not any(m.startswith("application/vnd.vegalite") for m in mimes)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []


def test_index_lists_the_run(project: Path, good_run: dict) -> None:
    [run] = good_run["runs"]
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert f'href="{PLAN}/{run.name}/report.html"' in index
    assert "SHIP benefit" in index


# ---- a failed run ------------------------------------------------------------------------------
def test_failed_run_keeps_the_good_run(project: Path, failed_run: dict) -> None:
    assert failed_run["ok"] is False
    log = failed_run["log"]
    assert "missing.yaml: file not found" in log
    assert f"{PLAN}.yaml: report failed: DataError" in log
    assert "'revenue'" in log and "holds string values" in log
    good = failed_run["good"]
    assert _tree_digest(good) == failed_run["before"]
    runs = list_runs(project / "reports" / PLAN)
    failed = [r for r in runs if r.name.endswith("-failed")]
    assert len(failed) == 1
    assert (failed[0] / "report.ipynb").is_file()
    assert runs[0] == failed[0]  # the newest
    assert not list((project / "reports" / PLAN).glob(".tmp-*"))


def test_index_marks_failed_run(project: Path, failed_run: dict) -> None:
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    failed = next(r for r in list_runs(project / "reports" / PLAN) if r.name.endswith("-failed"))
    item = next(line for line in index.splitlines() if failed.name in line)
    assert ">failed<" in item
    assert f"Latest verdict: SHIP benefit (run {failed_run['good'].name})" in index


# ---- helpers (no kernel) -----------------------------------------------------------------------
def test_project_path_from_notebooks_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert project_path("experiments/x.yaml") == tmp_path / "experiments" / "x.yaml"
    monkeypatch.chdir(tmp_path)
    assert project_path("experiments/x.yaml") == tmp_path / "experiments" / "x.yaml"
    assert project_path("/abs/x.yaml") == Path("/abs/x.yaml")


def test_index_orders_runs_newest_first(tmp_path: Path) -> None:
    exp = tmp_path / "demo"
    for name in [
        "20260101T000000Z",
        "20260101T000000Z-2",
        "20260101T000000Z-10",
        "20260102T000000Z-failed",
        ".tmp-20260103T000000Z",
    ]:
        (exp / name).mkdir(parents=True)
    names = [p.name for p in list_runs(exp)]
    assert names == [
        "20260102T000000Z-failed",
        "20260101T000000Z-10",
        "20260101T000000Z-2",
        "20260101T000000Z",
    ]
    page = index_html(tmp_path)
    assert ".tmp-" not in page
    assert "No successful run" not in page
    assert write_index(tmp_path).read_text(encoding="utf-8") == page


@pytest.fixture(scope="module")
def results(project: Path) -> Results:
    return analyze(load_plan(project / "experiments" / f"{PLAN}.yaml"))


def test_plan_text_is_escaped(results: Results) -> None:
    hostile = results.plan.model_copy(update={"hypothesis": "<script>alert(1)</script> *bold*"})
    hostile.with_source(results.plan.path, results.plan.root, results.plan.sha256)
    md = present.title_markdown(dataclasses.replace(results, plan=hostile))
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert r"\*bold\*" in md


def test_metrics_in_reading_order(results: Results) -> None:
    roles = [m.metric.role for m in present.ordered_metrics(results)]
    assert roles == ["primary", "guardrail", "secondary"]


def test_forest_plot_uses_aggregates_and_falls_back_to_absolute(results: Results) -> None:
    m = results.metric("signup_rate")
    data, relative = charts.effects_frame(m)
    assert relative and len(data) == len(m.comparisons)
    c = m.comparisons[0]
    assert c.effect.rel_ci is not None
    assert data.loc[0, "ci_low"] == pytest.approx(c.effect.rel_ci[0])
    spec = charts.forest_plot(m).to_dict()
    assert "%" in json.dumps(spec)
    no_rel = dataclasses.replace(c, effect=dataclasses.replace(c.effect, rel_ci=None))
    absolute = dataclasses.replace(m, comparisons=[no_rel])
    data, relative = charts.effects_frame(absolute)
    assert not relative
    assert data.loc[0, "effect"] == pytest.approx(c.effect.abs_effect)
    assert data.loc[0, "ci_high"] == pytest.approx(c.effect.abs_ci[1])
    charts.forest_plot(absolute).to_dict()


def test_srm_warning_is_visible(results: Results) -> None:
    from liftlab.stats.srm import srm_test

    srm = srm_test({"control": 21000, "benefit": 19000}, {"control": 0.5, "benefit": 0.5})
    assert srm.mismatch
    md = present.srm_markdown(dataclasses.replace(results, srm=srm))
    assert "Sample-ratio mismatch" in md
    assert "⚠" in md
    charts.srm_chart(srm).to_dict()


def test_static_renderer_emits_svg(results: Results) -> None:
    import altair as alt

    before = alt.renderers.active
    try:
        charts.use_static_renderer()
        bundle = charts.forest_plot(results.metrics[0])._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        assert bundle is not None
        assert bundle["image/svg+xml"].lstrip().startswith("<svg")
    finally:
        alt.renderers.enable(before)
