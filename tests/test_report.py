"""Reports end to end: notebook → report.ipynb, report.html, results.json and the index.

The notebook runs in a real kernel, which takes seconds, so the module runs it four times in
all: once per demo plan on good demo data (``good_run``: the sequential landing-page plan,
the Bayesian creative tournament and the frequentist pricing plan with a bootstrap) and once
on a broken data file (``failed_run``). The other tests read those runs' files or call the
presentation helpers and chart builders directly, on results of small unit tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import altair as alt
import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest
import vl_convert as vlc

from liftlab import Results, analyze, charts, load_plan, present
from liftlab import format as fmt
from liftlab.analysis import Traffic
from liftlab.decision import Decision
from liftlab.format import Display
from liftlab.headline import STATUS_TEXT, Headline
from liftlab.report import (
    index_html,
    list_runs,
    project_path,
    run_reports,
    update_latest,
    write_index,
)
from tests.conftest import DEMO_PLANS as PLANS
from tests.conftest import base_plan, console_buffer, write_plan, write_table

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analyze.ipynb"
PLAN = "landing-headline"  # sequential (mSPRT), guardrail margin, rank test
BAYES_PLAN = "creative-tournament"  # Bayesian, five arms
BOOT_PLAN = "pricing-three-tiers"  # frequentist, BCa bootstrap
RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
MARK = re.compile(r'aria-roledescription="([a-z]+) mark"')
BROKEN_PLAN = "landing-headline-units.yaml"  # the landing experiment read from a unit table


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _marks(svg: str) -> Counter[str]:
    """How many graphic symbols of each mark type (line, area, rect, …) an SVG draws."""
    return Counter(MARK.findall(svg))


def _svg(chart: alt.TopLevelMixin) -> str:
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.lstrip().startswith("<svg")
    return svg


def _html(good_run: dict[str, Any], plan: str) -> str:
    [run] = good_run["runs"][plan]
    return (run / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def failed_run(project: Path, good_run: dict[str, Any]) -> dict[str, Any]:
    """Run the landing experiment again from a unit table, overridden (``data=``) by one
    whose revenue column is text, plus a missing plan."""
    good = good_run["runs"][PLAN][0]
    before = _tree_digest(good)
    n = 400
    units = pd.DataFrame(
        {
            "user_id": np.arange(n),
            "variant": np.where(np.arange(n) % 2 == 0, "control", "benefit"),
            "signed_up": (np.arange(n) % 7 == 0).astype(np.int64),
            "revenue": np.linspace(0.0, 10.0, n),
        }
    )
    units.to_parquet(project / "data" / "landing-units.parquet")
    units.assign(revenue="n/a").to_parquet(project / "data" / "broken.parquet")
    plan = {
        "name": PLAN,
        "kind": "landing_page",
        "hypothesis": "The benefit-led headline lifts signups.",
        "unit": "user_id",
        "variants": {"control": {"weight": 0.5}, "benefit": {"weight": 0.5}},
        "data": {"units": "data/landing-units.parquet"},
        "metrics": [
            {"name": "signup_rate", "role": "primary", "type": "proportion", "column": "signed_up"},
            {"name": "revenue_per_visitor", "type": "mean", "column": "revenue"},
        ],
    }
    write_plan(project / "experiments" / BROKEN_PLAN, plan)
    console, buf = console_buffer()
    plans = [project / "experiments" / "missing.yaml", project / "experiments" / BROKEN_PLAN]
    outcomes = run_reports(plans, data=project / "data" / "broken.parquet", console=console)
    ok = all(o.ok for o in outcomes)
    return {"ok": ok, "outcomes": outcomes, "log": buf.getvalue(), "good": good, "before": before}


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


def test_notebook_cells_are_calls_into_liftlab() -> None:
    """Past the set-up cells, every code cell is one to three calls into liftlab's modules
    (``charts.show`` of what one or two calls build counts as one of them)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"][3:]
    assert code
    for cell in code:
        assert "def " not in cell.source and "import " not in cell.source
        assert (
            1 <= len(re.findall(r"\b(?:present|charts|provenance|views)\.\w+\(", cell.source)) <= 3
        )


def test_notebook_parameters_are_documented() -> None:
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert list(params) == [
        "plan_path",
        "data_path",
        "results_path",
        "manifest_path",
        "run_id",
    ]
    assert params["plan_path"]["default"] == '"experiments/landing-headline.yaml"'
    assert "relative to the project root" in params["plan_path"]["help"]
    assert "data.units" in params["data_path"]["help"]
    assert "results.json" in params["results_path"]["help"]
    assert "manifest.json" in params["manifest_path"]["help"]
    assert params["run_id"]["inferred_type_name"] == "str|None"
    for p in params.values():
        assert p["help"]


# ---- a good run --------------------------------------------------------------------------------
def test_good_run_writes_notebook_html_and_results(project: Path, good_run: dict) -> None:
    assert good_run["ok"], good_run["log"]
    for plan in PLANS:
        [run] = good_run["runs"][plan]
        assert RUN_ID.match(run.name)
        assert {p.name for p in run.iterdir()} >= {"report.ipynb", "report.html", "results.json"}
        assert not list((project / "reports" / plan).glob(".tmp-*"))
        assert str(run / "report.html") in good_run["log"]
    assert str(project / "reports" / "index.html") in good_run["log"]


@pytest.mark.parametrize("plan", PLANS)
def test_results_json_matches_analyze(project: Path, good_run: dict, plan: str) -> None:
    [run] = good_run["runs"][plan]
    written = json.loads((run / "results.json").read_text(encoding="utf-8"))
    expected = analyze(load_plan(project / "experiments" / f"{plan}.yaml")).to_dict()
    written.pop("generated_at")
    expected.pop("generated_at")
    _assert_same(written, expected)


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON, floats to 1e-9 relative (sums over event rows in parallel may differ in
    their last bits from one run to the next)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_html_reads_as_a_report(good_run: dict) -> None:
    [run] = good_run["runs"][PLAN]
    text = (run / "report.html").read_text(encoding="utf-8")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    reason = results["decision"]["reason"]
    assert html.escape(reason) in text
    assert "SHIP: benefit" in text
    # the verdict comes before the health checks, which come before the metrics
    assert (
        text.index("SHIP: benefit")
        < text.index('id="scorecard"')
        < text.index('id="health"')
        < text.index("Daily units per variant")
        < text.index('id="metric-signup_rate"')
    )
    # an always-valid plan has no planned size: the verdict says so, and what it can detect
    assert results["planned_n_per_variant"] is None
    assert "An always-valid test has no planned size" in text
    assert "planned units per variant" not in text
    # primary, then guardrail, then secondary, then the glossary and the conventions
    assert (
        text.index('id="metric-signup_rate"')
        < text.index('id="metric-bounce_rate"')
        < text.index('id="metric-revenue_per_visitor"')
        < text.index('id="glossary"')
        < text.index('id="conventions"')
    )
    # charts: SRM, traffic, and per metric at least a forest plot, inline SVG, no scripts
    assert text.count("<svg") >= 2 + len(results["metrics"])
    assert "<script src=" not in text
    assert "cdn.jsdelivr" not in text and "cdnjs" not in text
    assert "application/vnd.vegalite" not in text
    # no code, no unit-level table
    assert "load_plan(" not in text and "load_results(" not in text
    assert "import " not in text
    assert not re.search(r"<th[^>]*>\s*user_id\s*</th>", text)
    assert text.count("<tr") < 90


def test_report_shows_data_quality_counts(good_run: dict, project: Path) -> None:
    """The event-table findings appear with their counts (from the engine, checked here
    against a direct DuckDB count) and SRM per segment."""
    import duckdb

    text = _html(good_run, PLAN)
    assert 'id="Data-quality"' in text
    con = duckdb.connect(str(project / "data" / "shop.duckdb"), read_only=True)
    rows, units = con.execute(
        "SELECT count(*), count(DISTINCT user_id) FROM landing_exposures"
    ).fetchall()[0]
    con.close()
    assert "duplicate exposure rows" in text
    assert f"{rows - units:,}" in text and f"{rows:,}" in text
    assert "device = mobile" in text and "channel = paid" in text


def test_sequential_report_shows_the_always_valid_view(good_run: dict) -> None:
    text = _html(good_run, PLAN)
    assert "always-valid" in text
    assert "Always-valid inference" in text
    assert "always-valid p (adjusted)" in text
    # one cumulative chart per metric (titled by its label), with a band and the estimate
    for label in ("signup rate", "bounce rate (1 day)", "revenue per visitor"):
        assert f"{label}: cumulative effect by day" in text
    marks = _marks(text)
    assert marks["area"] >= 3 and marks["line"] >= 3
    assert "first rejection" in text
    # the guardrail's non-inferiority check, the rank test and the cap sensitivity table
    assert "non-inferior: one-sided 95% bound vs margin (+5.0% of control)" in text
    assert "Mann–Whitney" in text
    assert "Cap sensitivity" in text and "p99.9 (as analysed)" in text
    # conventions name the method and its tuning, and nothing this run did not use
    conventions = text[text.index("Conventions") :]
    assert "mSPRT" in conventions and "τ =" in conventions
    assert "Non-inferiority" in conventions and "Rank test" in conventions
    assert "Bayesian" not in conventions and "Bootstrap" not in conventions


def test_bayesian_report_shows_chances_and_posteriors(good_run: dict) -> None:
    text = _html(good_run, BAYES_PLAN)
    assert "SHIP: discount" in text
    assert "chance to beat control" in text
    assert "probability best" in text
    assert "credible interval" in text
    # titled by the metric's label (the plan's, else its name with spaces)
    assert "click-through rate: posterior of the effect" in text
    assert "conversion rate: posterior of the effect" in text
    assert "normal approximation" in text  # the Beta-Binomial posterior's caption
    conventions = text[text.index("Conventions") :]
    assert "Beta-Binomial" in conventions and "Gaussian model" in conventions
    assert "Probability best" in conventions
    assert "mSPRT" not in conventions and "Multiple testing" not in conventions


def test_pricing_report_shows_the_bootstrap(good_run: dict) -> None:
    text = _html(good_run, BOOT_PLAN)
    assert "Bootstrap: revenue" in text  # the section heading
    assert "BCa interval" in text
    assert "bootstrap distribution" in text  # the histogram's title
    # each treatment's histogram: one stepped area over its 40 bins
    assert text.count("resamples in 40 bins") == 2
    conventions = text[text.index("Conventions") :]
    assert "Bootstrap" in conventions and "Efron" in conventions
    assert "Multiple testing" in conventions
    assert "Bayesian" not in conventions and "mSPRT" not in conventions


def test_executed_notebook_holds_svg_charts_and_no_unit_data(good_run: dict) -> None:
    [run] = good_run["runs"][PLAN]
    nb = nbformat.read(run / "report.ipynb", as_version=4)
    mimes = [
        m for c in nb.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})
    ]
    # SRM + daily traffic + (forest plot + cumulative effect) for each of four metrics
    # + the landing-page section's funnel, segment and novelty charts
    assert mimes.count("image/svg+xml") == 2 + 4 * 2 + 3
    # each chart also as its Vega-Lite spec, which JupyterLab draws (charts.notebook_mimebundle)
    assert mimes.count(charts.VEGALITE_MIME) == mimes.count("image/svg+xml")
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []


def test_index_lists_the_run(project: Path, good_run: dict) -> None:
    [run] = good_run["runs"][PLAN]
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert f'href="{PLAN}/{run.name}/report.html"' in index
    assert "SHIP benefit" in index


# ---- a failed run ------------------------------------------------------------------------------
def test_failed_run_keeps_the_good_run(project: Path, failed_run: dict) -> None:
    assert failed_run["ok"] is False
    log = failed_run["log"]
    assert "missing.yaml: file not found" in log
    assert f"{BROKEN_PLAN}: report failed: DataError" in log
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
    row = _index_row(index, PLAN)
    assert f'class="failed" href="{PLAN}/{failed.name}/report.html"' in row
    assert f"{failed.name} (failed)" in row
    assert '<span class="badge failed">failed</span>' in row  # the last run's status
    # the verdict is still the last good run's, and says which run it is
    assert f'SHIP benefit</span> <span class="muted">(run {failed_run["good"].name})' in row


def test_failed_run_says_why_in_its_manifest_and_log(project: Path, failed_run: dict) -> None:
    failed = next(r for r in list_runs(project / "reports" / PLAN) if r.name.endswith("-failed"))
    manifest = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed"
    assert manifest["error"].startswith("DataError")
    assert manifest["run_id"] == failed.name.removesuffix("-failed")
    assert set(manifest["outputs"]) >= {"report.ipynb", "report.html"}
    assert "results.json" not in manifest["outputs"]
    # papermill's error cell is in the executed notebook
    nb = nbformat.read(failed / "report.ipynb", as_version=4)
    assert any(
        o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert (failed / "run.log").is_file()


def test_latest_points_at_the_last_good_run(project: Path, failed_run: dict) -> None:
    latest = project / "reports" / PLAN / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == failed_run["good"].name  # not the newer, failed run
    assert (latest / "report.html").is_file()
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert f'href="{PLAN}/latest/report.html"' in index


def test_update_latest_follows_the_newest_good_run(tmp_path: Path) -> None:
    exp = tmp_path / "demo"
    (exp / "20260101T000000Z-failed").mkdir(parents=True)
    assert update_latest(exp) is None  # no good run: no link
    assert not (exp / "latest").exists()
    for name in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z-failed"]:
        (exp / name).mkdir()
    assert update_latest(exp) == exp / "20260102T000000Z"
    assert os.readlink(exp / "latest") == "20260102T000000Z"
    (exp / "20260104T000000Z").mkdir()
    update_latest(exp)
    assert os.readlink(exp / "latest") == "20260104T000000Z"
    assert list_runs(exp)[0].name == "20260104T000000Z"  # latest is not a run
    assert not list(exp.glob(".latest-*"))


def test_a_run_over_its_time_is_stopped_and_kept_as_failed(project: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    good = reports / PLAN / "20200101T000000Z"
    good.mkdir(parents=True)
    (good / "results.json").write_text('{"decision": {"recommendation": "ship"}}\n')
    update_latest(reports / PLAN)
    before = _tree_digest(reports / PLAN)
    console, buf = console_buffer()
    [outcome] = run_reports(
        [project / "experiments" / f"{PLAN}.yaml"], reports_dir=reports, console=console, timeout=1
    )
    assert not outcome.ok and outcome.status == "timeout"
    assert "report timeout: stopped after 1 s" in buf.getvalue()
    assert outcome.folder is not None and outcome.folder.name.endswith("-failed")
    manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "timeout" and manifest["error"] == "stopped after 1 s"
    assert (outcome.folder / "run.log").is_file()
    # the good run and the latest link are as they were; nothing half-written is left
    assert {k: v for k, v in _tree_digest(reports / PLAN).items() if k in before} == before
    assert os.readlink(reports / PLAN / "latest") == good.name
    assert not list((reports / PLAN).glob(".*"))
    row = _index_row((reports / "index.html").read_text(encoding="utf-8"), PLAN)
    assert f"{outcome.folder.name} (timeout)" in row


def _index_row(index: str, slug: str) -> str:
    m = re.search(rf'<tr id="exp-{re.escape(slug)}">.*?</tr>', index, flags=re.S)
    assert m is not None, f"no row for {slug}"
    return m.group(0)


# ---- provenance, reproducibility, the portfolio index ---------------------------------------
@pytest.mark.parametrize("plan", PLANS)
def test_manifest_records_what_ran_on_which_data(project: Path, good_run: dict, plan: str) -> None:
    run = good_run["runs"][plan][-1]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    plan_file = project / "experiments" / f"{plan}.yaml"
    assert manifest["status"] == "ok" and manifest["run_id"] == run.name
    assert manifest["plan"] == {
        "path": f"experiments/{plan}.yaml",
        "sha256": hashlib.sha256(plan_file.read_bytes()).hexdigest(),
    }
    assert manifest["data"]["fingerprint"] == results["data_sha256"]
    tables = manifest["data"]["tables"]  # the demo plans read event tables from DuckDB
    assert tables["exposures.rows"] == results["data_quality"]["exposures"]["rows"]
    assert tables["events.rows"] == results["data_quality"]["events"]["rows"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", tables["exposures.max_exposed_at"])
    assert manifest["data"]["engine"] == "duckdb://data/shop.duckdb"
    notebook = project / "notebooks" / "analyze.ipynb"
    assert manifest["notebook"] == {
        "path": "notebooks/analyze.ipynb",
        "sha256": hashlib.sha256(notebook.read_bytes()).hexdigest(),
    }
    assert manifest["liftlab"]["version"] == results["liftlab_version"]
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["liftlab"]["git_commit"])  # run from a checkout
    assert {"python", "duckdb", "ibis-framework", "scipy", "statsmodels"} <= set(
        manifest["packages"]
    )
    assert manifest["parameters"] == {
        "plan_path": f"experiments/{plan}.yaml",
        "data_path": None,
        "results_path": "results.json",
        "manifest_path": "manifest.json",
        "run_id": run.name,
    }
    assert manifest["settings"] == {"LIFTLAB_THREADS": "0"}
    started = dt.datetime.fromisoformat(manifest["started_at"])
    finished = dt.datetime.fromisoformat(manifest["finished_at"])
    assert (
        0
        < manifest["duration_seconds"]
        == pytest.approx((finished - started).total_seconds(), abs=1)
    )
    assert manifest["run_seconds"] >= manifest["duration_seconds"]
    for name in ("results.json", "report.html", "report.ipynb"):
        assert manifest["outputs"][name] == hashlib.sha256((run / name).read_bytes()).hexdigest()
    # the footer shows the same facts
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Provenance" in page
    assert manifest["plan"]["sha256"][:12] in page
    assert manifest["data"]["fingerprint"][:12] in page
    assert f"{tables['exposures.rows']:,} rows" in page


def test_rerun_gives_identical_results(project: Path, good_run: dict) -> None:
    """Two runs on the same inputs: results.json identical apart from the timestamp."""
    plans = [PLAN, BOOT_PLAN]  # event tables + sequential; a seeded BCa bootstrap
    console, buf = console_buffer()
    outcomes = run_reports([project / "experiments" / f"{p}.yaml" for p in plans], console=console)
    assert all(o.ok for o in outcomes), buf.getvalue()
    for plan, outcome in zip(plans, outcomes, strict=True):
        first = good_run["runs"][plan][-1] / "results.json"
        second = outcome.folder / "results.json"
        strip = lambda text: re.sub(r'"generated_at": "[^"]*"', "", text)  # noqa: E731
        a, b = first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8")
        assert a != b  # the timestamps differ...
        assert strip(a) == strip(b)  # ...and nothing else


def test_index_is_a_sortable_portfolio(project: Path, good_run: dict) -> None:
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    heads = re.findall(r'<th data-col="\d" scope="col"><button type="button">([^<]+)<', index)
    assert heads == [
        "Experiment",
        "Kind",
        "Last run",
        "Verdict",
        "Primary metric: change",
        "Guardrails",
        "SRM",
        "Runs",
    ]
    for plan in PLANS:
        run = good_run["runs"][plan][-1]
        results = json.loads((run / "results.json").read_text(encoding="utf-8"))
        row = _index_row(index, plan)
        assert f">{html.escape(results['kind'].replace('_', ' '))}<" in row
        primary = next(m for m in results["metrics"] if m["role"] == "primary")
        display = Display.from_dict(primary, currency=results["currency"])
        assert f'<div class="metric">{html.escape(display.label)}</div>' in row
        for c in primary["comparisons"]:
            h = Headline.from_dict(c["headline"])
            change = html.escape(h.effect_text(display))
            prob = html.escape(f"{h.probability_label} {h.probability_text()}")
            assert f'{c["variant"]} <b>{change}</b> <span class="ci">{prob}</span>' in row
            cls = {"better": "better", "worse": "worse"}.get(h.status)
            item = re.search(rf'<div( class="\w+")?>{c["variant"]} <b>', row)
            assert item is not None and item.group(1) == (f' class="{cls}"' if cls else None)
        best = max(c["headline"]["effect"] for c in primary["comparisons"])
        assert f'<td class="change" data-sort="{best:.6f}">' in row
        assert 'badge ok">ok</span> p = ' in row  # no sample-ratio mismatch in the demo data
        guards = [m for m in results["metrics"] if m["role"] == "guardrail"]
        if guards:
            passed = sum(
                c["headline"]["status"] == "guardrail_passed" for c in guards[0]["comparisons"]
            )
            assert f'badge ok">{passed} passed</span>' in row
        else:
            assert '<span class="muted">none</span>' in row
    assert "<script src" not in index and "http" not in index.replace("http-equiv", "")


UNIT_ID = re.compile(r"u\d{8}")


def test_no_unit_id_reaches_any_report_file(project: Path, good_run: dict) -> None:
    """Reports carry aggregates only: no demo unit id in any HTML, notebook or JSON written."""
    import duckdb

    con = duckdb.connect(str(project / "data" / "shop.duckdb"), read_only=True)
    ids = {row[0] for row in con.sql("SELECT user_id FROM landing_exposures LIMIT 1000").fetchall()}
    con.close()
    assert ids and all(UNIT_ID.fullmatch(i) for i in ids)  # the scan below can see them
    files = [p for p in (project / "reports").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files) and any(
        p.name == "index.html" for p in files
    )
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not UNIT_ID.findall(text), f"unit id in {path}"


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
    # an apostrophe stays readable (no entity whose '#' Markdown would then escape)
    assert present.md_text("each arm's rate") == "each arm's rate"


def test_metrics_in_reading_order(results: Results) -> None:
    roles = [m.metric.role for m in present.ordered_metrics(results)]
    assert roles == ["primary", "guardrail", "secondary", "secondary"]


@pytest.mark.parametrize("plan", PLANS)
def test_forest_plot_shows_each_demo_methods_headline(project: Path, plan: str) -> None:
    """The effect chart draws the headline: frequentist confidence interval of the lift,
    sequential always-valid interval of the difference (in pp), Bayesian credible interval;
    coloured by the headline status in the scorecard's colours."""
    from liftlab.decision import display_of
    from liftlab.scorecard import STATUS_COLOURS

    res = analyze(load_plan(project / "experiments" / f"{plan}.yaml"))
    kind = {"frequentist": "confidence", "sequential": "always-valid", "bayesian": "credible"}
    expected_kind = kind[res.plan.analysis.method]
    for m in res.metrics:
        display = display_of(res.plan, m.metric.name)
        data, relative = charts.effects_frame(m, display)
        assert list(data.columns) == charts.EFFECTS_COLUMNS
        assert list(data["variant"]) == [c.variant for c in m.comparisons]
        for row, c in zip(data.itertuples(), m.comparisons, strict=True):
            h = c.headline
            assert h is not None and h.interval_kind == expected_kind
            assert row.effect == pytest.approx(h.effect, rel=1e-12)
            assert (row.ci_low, row.ci_high) == pytest.approx(h.interval, rel=1e-12)
            assert row.status == h.status and row.headline == h.effect_text(display)
            assert relative == (h.effect_type == "relative")
        if res.plan.analysis.method == "sequential":
            # the always-valid interval, not the (narrower) fixed-horizon one
            c = m.comparisons[0]
            assert c.sequential is not None and not relative
            assert (data.loc[0, "ci_low"], data.loc[0, "ci_high"]) == pytest.approx(c.sequential.ci)
            assert data.loc[0, "ci_high"] - data.loc[0, "ci_low"] > (
                c.effect.abs_ci[1] - c.effect.abs_ci[0]
            )
        spec = charts.forest_plot(m, display).to_dict()
        text = json.dumps(spec, ensure_ascii=False)
        level = f"{1 - res.plan.analysis.alpha:.0%}"
        assert f"{level} {expected_kind} interval" in text
        assert f'"{display.label} ({m.metric.role})"' in text
        # one colour per status shown, the scorecard's
        scale = spec["layer"][1]["encoding"]["color"]["scale"]
        shown = [s for s in STATUS_COLOURS if s in set(data["status"])]
        assert sorted(scale["domain"]) == sorted(STATUS_TEXT[s] for s in shown)
        for text_, colour in zip(scale["domain"], scale["range"], strict=True):
            status = next(s for s in shown if STATUS_TEXT[s] == text_)
            assert colour == STATUS_COLOURS[status][0]


def test_forest_plot_axis_names_the_interval(project: Path) -> None:
    from liftlab.decision import display_of

    res = analyze(load_plan(project / "experiments" / "landing-headline.yaml"))
    m = res.metric("signup_rate")
    spec = charts.forest_plot(m, display_of(res.plan, "signup_rate")).to_dict()
    x = spec["layer"][1]["encoding"]["x"]["axis"]
    title = x["title"] if isinstance(x["title"], str) else " ".join(x["title"])
    assert title == "change vs control, percentage points (95% always-valid interval)"
    assert "* 100" in x["labelExpr"]  # fractions drawn as percentage points
    svg = _svg(charts.forest_plot(m, display_of(res.plan, "signup_rate")))
    h = m.comparisons[0].headline
    assert h is not None and h.status == "better"
    # the point's accessible description is the headline as the table prints it
    described = f"benefit: {h.effect_text(display_of(res.plan, 'signup_rate'))}, better"
    assert described in html.unescape(svg)
    assert "#1a7f37" in svg  # better: the scorecard's green


def test_forest_plot_falls_back_to_absolute_when_scales_differ(results: Results) -> None:
    m = results.metric("signup_rate")  # sequential: an absolute headline
    c = m.comparisons[0]
    assert c.headline is not None and c.headline.effect_type == "absolute"
    # a second treatment whose headline is relative: every row shows the absolute difference
    other = dataclasses.replace(
        c,
        variant="other",
        headline=dataclasses.replace(
            c.headline, effect_type="relative", effect=0.05, interval=(0.01, 0.09)
        ),
    )
    mixed = dataclasses.replace(m, comparisons=[c, other])
    data, relative = charts.effects_frame(mixed)
    assert not relative and list(data["effect_type"]) == ["absolute", "absolute"]
    assert (data.loc[0, "ci_low"], data.loc[0, "ci_high"]) == pytest.approx(c.headline.interval)
    assert data.loc[1, "effect"] == pytest.approx(c.effect.abs_effect)
    assert (data.loc[1, "ci_low"], data.loc[1, "ci_high"]) == pytest.approx(c.effect.abs_ci)
    charts.forest_plot(mixed).to_dict()
    # no headline (the comparison could not be computed): a row with no numbers
    none = dataclasses.replace(m, comparisons=[dataclasses.replace(c, headline=None)])
    data, _ = charts.effects_frame(none)
    assert data.loc[0, "status"] == "not_enough_data"
    assert data[["effect", "ci_low", "ci_high"]].isna().all(axis=None)
    charts.forest_plot(none).to_dict()


def test_srm_warning_is_visible(results: Results) -> None:
    from liftlab.stats.srm import srm_test

    srm = srm_test({"control": 21000, "benefit": 19000}, {"control": 0.5, "benefit": 0.5})
    assert srm.mismatch
    md = present.srm_markdown(dataclasses.replace(results, srm=srm))
    assert "Sample-ratio mismatch" in md
    assert "⚠" in md
    charts.srm_chart(srm).to_dict()


def test_static_renderer_emits_svg(results: Results) -> None:
    before = alt.renderers.active
    try:
        charts.use_static_renderer()
        bundle = charts.forest_plot(results.metrics[0])._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        assert bundle is not None
        assert bundle["image/svg+xml"].lstrip().startswith("<svg")
    finally:
        alt.renderers.enable(before)


# ---- synthetic results: the chart builders and the presentation helpers ------------------------
def _analyze(tmp_path: Path, units: dict[str, Any], **analysis: Any) -> Results:
    """``base_plan`` on the ``units`` table (3 arms, 7 days), with ``analysis`` overrides."""
    raw = base_plan(str(units["path"]))
    raw["data"]["timestamp"] = "exposed_at"
    raw["analysis"].update(analysis)
    return analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))


def _unit_values(units: dict[str, Any]) -> set[float]:
    return {float(x) for x in units["cols"]["revenue"]}


def test_traffic_chart_plots_daily_counts(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    data = charts.traffic_frame(res.traffic)
    assert list(data.columns) == ["day", "variant", "units"]
    assert len(data) == len(res.traffic.days) * len(res.plan.variants) == 7 * 3
    # aggregate rows: they add up to the units per variant
    assert data.groupby("variant")["units"].sum().to_dict() == res.srm.counts
    chart = charts.traffic_chart(res.traffic)
    assert chart is not None
    assert _marks(_svg(chart))["line"] == 3
    assert charts.traffic_chart(Traffic([], {})) is None


def test_sequential_chart_plots_looks_and_drops_infinite_bounds(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    res = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    m = res.metric("revenue")
    data = charts.sequential_frame(m)
    assert list(data.columns) == charts.SEQUENTIAL_COLUMNS
    assert len(data) == 7 * len(m.comparisons)  # one row per look and treatment
    view = m.comparison("b").sequential
    assert view is not None
    rows = data[data["variant"] == "b"]
    np.testing.assert_allclose(rows["estimate"], [lk.estimate for lk in view.looks])
    np.testing.assert_allclose(rows["ci_low"], [lk.ci_low for lk in view.looks])
    assert not set(data["estimate"]) & _unit_values(units)
    svg = _svg(charts.sequential_chart(m))
    assert _marks(svg)["area"] >= 2 and _marks(svg)["line"] >= 2

    # an infinite bound and an empty running intersection: that look's band is dropped
    looks = list(view.looks)
    looks[0] = dataclasses.replace(looks[0], ci_low=-math.inf)
    looks[1] = dataclasses.replace(looks[1], ci_low=1.0, ci_high=0.5)
    odd = dataclasses.replace(view, looks=tuple(looks))
    b = m.comparison("b")
    broken = dataclasses.replace(
        m, comparisons=[dataclasses.replace(b, methods={**b.methods, "sequential": odd})]
    )
    data = charts.sequential_frame(broken)
    assert data.loc[:1, ["ci_low", "ci_high"]].isna().all().all()
    band = data[["ci_low", "ci_high"]].dropna()
    assert len(band) == 5 and np.isfinite(band.to_numpy()).all()
    assert _marks(_svg(charts.sequential_chart(broken)))["area"] >= 1
    # no sequential view, no chart
    assert charts.sequential_chart(_analyze(tmp_path, units).metric("revenue")) is None


def test_group_sequential_chart_plots_z_against_boundaries(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    seq = {"kind": "group-sequential", "looks": 4, "planned_n": 1000}
    m = _analyze(tmp_path, units, method="sequential", sequential=seq).metric("conversion")
    data = charts.sequential_frame(m)
    assert data["boundary"].notna().all() and data["z"].notna().all()
    spec = json.dumps(charts.sequential_chart(m).to_dict())
    assert '"bound"' in spec and "z statistic" in spec
    assert _marks(_svg(charts.sequential_chart(m)))["line"] >= 2
    res = _analyze(tmp_path, units, method="sequential", sequential=seq)
    frame = present.diagnostics_frame(res.metric("conversion"), res)
    assert frame is not None and "z / boundary (last look)" in frame.columns
    head = present.metric_frame(res.metric("conversion"), res)
    assert any("repeated confidence interval" in col for col in head.columns)


def test_posterior_chart_plots_normal_densities(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units, method="bayesian")
    for name in ("conversion", "revenue"):  # Beta-Binomial, Gaussian
        m = res.metric(name)
        data, scale = charts.posterior_frame(m)
        assert scale == "relative"
        assert list(data.columns) == ["variant", "effect", "density", "better"]
        assert set(data["variant"]) == {"b", "c"}
        assert 0.0 in set(data["effect"])  # the shading starts at 0
        for c in m.comparisons:
            part = data[data["variant"] == c.variant].sort_values("effect")
            x, y = part["effect"].to_numpy(), part["density"].to_numpy()
            assert np.trapezoid(y, x) == pytest.approx(1.0, abs=1e-3)
            shaded = np.trapezoid(y[x >= 0], x[x >= 0])
            assert c.bayes is not None
            # the shaded area is the chance to beat control (exact for the Gaussian model)
            tol = 5e-3 if c.bayes.method == "gaussian" else 0.05
            assert shaded == pytest.approx(c.bayes.prob_beat_control, abs=tol)
        marks = _marks(_svg(charts.posterior_chart(m)))
        assert marks["line"] == 2 and marks["area"] == 2
    assert charts.posterior_chart(_analyze(tmp_path, units).metric("revenue")) is None


def test_bootstrap_chart_plots_the_histogram(tmp_path: Path, units: dict[str, Any]) -> None:
    raw = base_plan(str(units["path"]))
    raw["metrics"][1]["bootstrap"] = {"statistic": "mean", "method": "bca", "n_resamples": 500}
    m = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw))).metric("revenue")
    data = charts.bootstrap_frame(m)
    assert list(data.columns) == charts.BOOTSTRAP_COLUMNS
    for c in m.comparisons:
        bs = c.bootstrap
        assert bs is not None
        part = data[data["variant"] == c.variant]
        assert len(part) == len(bs.histogram.counts)
        assert part["count"].sum() == bs.n_resamples - bs.n_invalid
        assert part["ci_low"].iloc[0] == pytest.approx(bs.ci[0])
    assert len(data) < 200 and not set(data["bin_start"]) & _unit_values(units)
    # one stepped area per treatment outlines its histogram: a path, not a rect per bin
    svg = _svg(charts.bootstrap_chart(m))
    assert _marks(svg)["area"] == len(m.comparisons) and _marks(svg)["rect"] == 0
    for c in m.comparisons:
        part = data[data["variant"] == c.variant]
        assert f"{int(part['count'].sum()):,} resamples in {len(part)} bins" in svg
    md = present.bootstrap_markdown(m)
    assert "BCa interval from 500 Poisson resamples" in md
    assert md.count("\n| b |") + md.count("\n| c |") == 2
    assert charts.bootstrap_chart(_analyze(tmp_path, units).metric("revenue")) is None


def test_verdict_box_for_every_recommendation(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    assert res.progress is not None and res.progress.planned_n is None  # no baseline, no size
    colours = {"ship": "#1a7f37", "do_not_ship": "#b42318", "keep_running": "#9a6700"}
    for rec, colour in [*colours.items(), ("investigate", "#b42318")]:
        box = present.verdict_html(
            dataclasses.replace(res, decision=Decision(rec, "because <reasons>", "b"))
        )
        assert f"liftlab-{rec}" in box and colour in box
        assert "because &lt;reasons&gt;" in box
        assert ("SHIP: b" in box) == (rec == "ship")
        assert ("Do not act on any effect" in box) == (rec == "investigate")
        assert "No sample size was planned" in box
    # with a planned size: progress against it, rounded down
    planned = dataclasses.replace(res.progress, planned_n=2 * res.progress.smallest, basis="x")
    box = present.verdict_html(dataclasses.replace(res, progress=planned))
    assert f"of {planned.planned_n:,} planned units per variant (50%, smallest variant" in box
    caveat = Decision("ship", "r", "b", "c", ("b is <worse> on revenue.",))
    box = present.verdict_html(dataclasses.replace(res, decision=caveat))
    assert "Before you ship, weigh:" in box and "b is &lt;worse&gt; on revenue." in box


def test_an_observational_winner_leads_and_is_not_shipped(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    """Under randomization: none the rules' "ship" is shown as LEADS (liftlab.headline
    .verdict_word), in blue, its caveats "before you act on it"; results.json keeps "ship"."""
    from liftlab.headline import verdict_text, verdict_word
    from liftlab.scorecard import scorecard_html

    res = _analyze(tmp_path, units)
    decision = Decision("ship", "Observed, not randomised: b beats control.", "b", "c", ("x",))
    obs = dataclasses.replace(res, plan=res.plan.with_(randomization="none"), decision=decision)
    box = present.verdict_html(obs)
    assert "LEADS: b (observed, not randomised)" in box and "SHIP" not in box
    assert present.OBSERVATIONAL_COLOURS[0] in box and "#1a7f37" not in box
    assert "Before you act on it, weigh:" in box
    assert present.verdict_markdown(obs).startswith("## Verdict: LEADS: b (observed, not rand")
    card = scorecard_html(obs)
    assert card.count(">LEADS</span>") == len(res.metrics) and "SHIP" not in card
    assert card.count(">runner-up</span>") == len(res.metrics)
    assert obs.to_dict()["decision"]["recommendation"] == "ship"
    # the words of every recommendation, randomised or not
    assert verdict_word("ship", "unit") == "SHIP" and verdict_word("ship", None) == "SHIP"
    assert verdict_text("ship", "b", "impression") == "SHIP b"
    assert verdict_text("ship", "b", "none") == "LEADS b"
    for rec, word in [("do_not_ship", "DO NOT SHIP"), ("keep_running", "KEEP RUNNING")]:
        assert verdict_word(rec, "none") == verdict_text(rec, "b", "none") == word
    assert verdict_word("investigate", "unit") == "INVESTIGATE"
    # a randomised winner still ships, its runner-up tagged
    shipped = dataclasses.replace(res, decision=dataclasses.replace(decision, reason="r"))
    assert ">SHIP</span>" in scorecard_html(shipped)
    assert "SHIP: b" in present.verdict_html(shipped)


# ---- many arms: the arms every per-arm surface lists ------------------------------------------
MANY = {  # treatment: (conversion rate, complaint rate); control 10%, 2%
    "t01": (0.20, 0.02),
    "t02": (0.17, 0.02),
    "t03": (0.15, 0.02),
    "t04": (0.14, 0.02),
    "t05": (0.10, 0.02),
    "t06": (0.10, 0.02),
    "t07": (0.10, 0.07),  # flat on the primary, fails the guardrail
    "t08": (0.10, 0.02),
    "t09": (0.10, 0.02),
    "t10": (0.10, 0.02),
    "t11": (0.10, 0.02),
    "t12": (0.04, 0.02),  # worse on the primary
}


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """Control and twelve treatments, 3,000 units each over 7 days: t01 to t04 better on the
    primary metric, t12 worse, t07 failing the complaint guardrail, the rest flat (each arm's
    rates exactly as in :data:`MANY`, so the flat ones equal control)."""
    rng = np.random.default_rng(13)
    arms = {"control": (0.10, 0.02), **MANY}
    n = 3_000

    def exactly(rate: float) -> np.ndarray:
        return rng.permutation(np.arange(n) < round(rate * n))

    variant = np.repeat(list(arms), n)
    conv = np.concatenate([exactly(c) for c, _ in arms.values()])
    complaint = np.concatenate([exactly(k) for _, k in arms.values()])
    start = np.datetime64("2026-03-01T00:00:00", "s")
    root = tmp_path_factory.mktemp("many")
    path = write_table(
        root / "many.parquet",
        {
            "user_id": np.arange(variant.size),
            "variant": variant,
            "converted": conv.astype(np.int64),
            "complained": complaint.astype(np.int64),
            "exposed_at": start + rng.integers(0, 7 * 86_400, variant.size).astype("m8[s]"),
        },
    )
    raw = {
        "name": "many-arms",
        "hypothesis": "some arm lifts conversion",
        "unit": "user_id",
        "variants": {v: {} for v in arms},
        "data": {"units": str(path), "timestamp": "exposed_at"},
        "metrics": [
            {"name": "conversion", "role": "primary", "type": "proportion", "column": "converted"},
            {"name": "complaints", "role": "guardrail", "type": "proportion"}
            | {"column": "complained", "direction": "decrease"},
        ],
        "analysis": {"alpha": 0.05, "correction": "bh"},
    }
    return analyze(load_plan(write_plan(root / "plan.yaml", raw)))


def test_listing_of_many_arms_follows_the_rule(many: Results) -> None:
    from liftlab.scorecard import listed_arms

    statuses = {c.variant: c.headline.status for c in many.metric("conversion").comparisons}
    assert [v for v, s in statuses.items() if s == "better"] == ["t01", "t02", "t03", "t04"]
    assert [v for v, s in statuses.items() if s == "worse"] == ["t12"]
    guard = many.metric("complaints").comparison("t07").headline
    assert guard is not None and guard.status == "guardrail_failed"
    d = many.decision
    assert (d.recommendation, d.variant, d.runner_up) == ("ship", "t01", "t02")
    # up to 15 treatments (no creative.show): every arm, in the plan's order
    every = listed_arms(many)
    assert every.complete and every.treatments == tuple(MANY)
    # six: the verdict's two, the better ones, a third (two) for the losers, best first
    six = listed_arms(many, limit=6)
    assert six.treatments == ("t01", "t02", "t03", "t04", "t07", "t12")
    assert six.rest == ("t05", "t06", "t08", "t09", "t10", "t11")
    assert six.arms[0] == "control" and "control" in six and "t05" not in six
    assert six.rest_text(six.rest_statuses(many.metric("conversion"))) == (
        "+ 6 more variants: 6 flat; see results.json"
    )
    # three: the verdict's two and one loser (the worst); one: the verdict's two all the same
    assert listed_arms(many, limit=3).treatments == ("t01", "t02", "t12")
    assert listed_arms(many, limit=1).treatments == ("t01", "t02")
    # four: no better arm left out for a loser's place beyond a third
    four = listed_arms(many, limit=4)
    assert four.treatments == ("t01", "t02", "t03", "t12")


def test_every_per_arm_surface_lists_the_same_arms(many: Results) -> None:
    from liftlab.decision import display_of
    from liftlab.scorecard import listed_arms, scorecard_html

    listing = listed_arms(many, limit=6)
    shown, rest = list(listing.treatments), listing.rest
    conversion = many.metric("conversion")
    # the scorecard: the listed rows, then one row counting the rest
    card = scorecard_html(many, listing)
    rows = re.findall(r'<tr data-metric="conversion">(.*?)</tr>', card, flags=re.S)
    assert [re.search(r">(t\d\d)[< ]", r).group(1) for r in rows] == shown  # type: ignore[union-attr]
    assert "+ 6 more variants: 6 flat; see results.json" in card
    assert "+ 6 more variants: 6 guardrail passed; see results.json" in card
    assert not any(f">{v}<" in card for v in rest)
    # the charts: the listed treatments only, the rest counted in the subtitle
    display = display_of(many.plan, "conversion")
    forest = charts.forest_plot(conversion, display, listing).to_dict()
    [data] = [v for k, v in forest["datasets"].items() if len(v) == len(shown)]
    assert [r["variant"] for r in data] == shown
    assert "6 of 12 variants shown; the other 6: 6 flat in results.json" in " ".join(
        forest["title"]["subtitle"]
    )
    cumulative = charts.cumulative_chart(conversion, listing)
    assert cumulative is not None
    colours = cumulative.to_dict()["layer"][1]["encoding"]["color"]["scale"]
    drawn = shown[: charts.TIME_ARMS]  # over time: the leading five, coloured as elsewhere
    assert colours["domain"] == drawn and len(set(colours["range"])) == len(drawn)
    assert colours["range"] == [charts.LISTED_PALETTE[listing.arms.index(v)] for v in drawn]
    traffic = charts.traffic_frame(many.traffic, listing)
    label = "other 6 variants (mean)"
    assert list(dict.fromkeys(traffic["variant"])) == [*listing.arms, label]
    mean = sum(sum(many.traffic.units[v]) for v in rest) / len(rest)
    assert traffic[traffic["variant"] == label]["units"].sum() == pytest.approx(mean)
    assert charts.traffic_chart(many.traffic, listing) is not None
    # the tables: the metric's, its diagnostics and the sample-ratio check
    frame = present.metric_frame(conversion, dataclasses.replace(many, plan=_show(many, 6)))
    assert list(frame["variant"]) == ["control", *shown, "+ 6 more variants (each in results.json)"]
    assert frame["status"].iloc[-1] == "6 flat"
    assert frame["units"].iloc[-1] == f"{6 * 3_000:,}"
    srm = present.srm_markdown(dataclasses.replace(many, plan=_show(many, 6)))
    assert "| *+ 6 more variants (together; each in results.json)* | 18,000 |" in srm
    assert not any(f"| {v} |" in srm for v in rest)
    chart = charts.srm_chart(many.srm, listing).to_dict()
    assert len(chart["layer"]) == 2  # bars and the planned ticks: the split was randomised


def _show(res: Results, n: int):  # type: ignore[no-untyped-def]
    """The plan with ``creative.show: n`` (how a plan sets the number of arms listed)."""
    from liftlab.plan import CreativeOptions

    ratio = "conversion"  # creative options need a ratio metric only when analysed as creative
    return res.plan.model_copy(update={"creative": CreativeOptions(ctr=ratio, show=n)})


def test_an_untested_split_draws_observed_shares_with_readable_ticks() -> None:
    from liftlab.stats.srm import SRMResult

    names = [f"ad {i:03d}" for i in range(600)]
    srm = SRMResult(
        {n: 14 for n in names}, {n: 1 / 600 for n in names}, math.nan, 599, math.nan, 0.001
    )
    chart = charts.srm_chart(srm).to_dict()
    assert "layer" in chart and len(chart["layer"]) == 1  # no planned ticks
    assert "no sample-ratio test" in " ".join(chart["title"]["subtitle"])
    axis = chart["layer"][0]["encoding"]["x"]["axis"]
    assert axis["format"] == ".2~%"  # 0.17% each, not "0%"


def test_metric_tables_show_the_headline_and_diagnostics_apart(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    freq = _analyze(tmp_path, units)
    m = freq.metric("conversion")
    frame = present.metric_frame(m, freq).set_index("variant")
    assert list(frame.columns) == [
        "units",
        "observed rate",
        "change [95% confidence interval]",
        "p (adjusted)",
        "status",
    ]
    for c in m.comparisons:
        h = c.headline
        assert h is not None
        assert frame.loc[c.variant, "p (adjusted)"] == h.probability_text()
        assert frame.loc[c.variant, "status"] == h.status_text
    diag = present.diagnostics_frame(m, freq)
    assert diag is not None and "p before adjustment" in diag.columns

    bayes = _analyze(tmp_path, units, method="bayesian")
    m = bayes.metric("conversion")
    frame = present.metric_frame(m, bayes).set_index("variant")
    assert "change [95% credible interval]" in frame.columns
    assert "chance to beat control" in frame.columns and "p" not in frame.columns
    assert frame.loc["control", "chance to beat control"] == present.DASH
    b = m.comparison("b").bayes
    assert b is not None and m.best is not None
    assert frame.loc["b", "chance to beat control"] == fmt.probability(b.prob_beat_control)
    diag = present.diagnostics_frame(m, bayes)
    assert diag is not None and "probability best (all arms)" in diag.columns

    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    m = seq.metric("revenue")
    frame = present.metric_frame(m, seq).set_index("variant")
    assert "always-valid p (adjusted)" in frame.columns
    view = m.comparison("b").sequential
    assert view is not None
    cell = frame.loc["b", "change [95% always-valid interval]"]
    lo, hi = (float(x.replace(",", "")) for x in re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", cell)[1:])
    # shown to two significant digits of the interval's half-width
    tol = 10 ** math.floor(math.log10((view.ci[1] - view.ci[0]) / 2)) / 2
    assert lo == pytest.approx(view.ci[0], abs=tol) and hi == pytest.approx(view.ci[1], abs=tol)
    diag = present.diagnostics_frame(m, seq)
    assert diag is not None and "fixed-horizon lift [95% CI]" in diag.columns


def test_non_inferiority_column_for_guardrails_with_a_margin(
    tmp_path: Path, units: dict[str, Any]
) -> None:
    raw = base_plan(str(units["path"]))
    raw["metrics"][3]["margin"] = -0.5  # ctr: no more than 50% below control
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    m = res.metric("ctr")
    frame = present.diagnostics_frame(m, res)
    assert frame is not None
    frame = frame.set_index("variant")
    [col] = [c for c in frame.columns if c.startswith("non-inferior")]
    assert "-50.0% of control" in col
    for c in m.comparisons:
        ni = c.non_inferiority
        assert ni is not None
        assert frame.loc[c.variant, col].startswith("✓" if ni.passed else "✗")
    assert "non-inferiority margin" in present.metric_markdown(m, res)
    other = present.diagnostics_frame(res.metric("revenue"), res)
    assert other is None or not any(c.startswith("non-inferior") for c in other.columns)


def test_status_line_for_flagged_and_failed_metrics(tmp_path: Path, units: dict[str, Any]) -> None:
    res = _analyze(tmp_path, units)
    m = res.metric("revenue")
    assert present.status_html(m) == ""
    flagged = dataclasses.replace(m, status="flagged", reason="b: <zero> variance")
    box = present.status_html(flagged)
    assert "⚠ Flagged" in box and "b: &lt;zero&gt; variance" in box
    failed = dataclasses.replace(m, status="error", reason="cannot be analysed", comparisons=[])
    assert "Not analysed" in present.status_html(failed)
    views = present.metric_views(failed, res)
    assert any(getattr(v, "data", None) == present.status_html(failed) for v in views)
    assert not any(isinstance(v, alt.TopLevelMixin) for v in views)  # no charts without effects


def test_cap_sensitivity_table_marks_the_cap_used(tmp_path: Path, units: dict[str, Any]) -> None:
    raw = base_plan(str(units["path"]))
    raw["metrics"][1]["cap"] = {"quantile": 0.99}
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    m = res.metric("revenue")
    md = present.sensitivity_markdown(m)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "cap values" not in line]
    assert len(rows) == 3 * len(m.comparisons)
    labels = [r.split(" | ")[0] for r in rows if r.split(" | ")[2] == "b"]
    assert labels == ["| no cap", "| p99 (as analysed)", "| p99.9"]
    assert present.sensitivity_markdown(res.metric("conversion")) == ""


def test_caps_of_a_zero_inflated_metric_come_from_its_non_zero_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    variant = np.where(np.arange(n) % 2 == 0, "control", "b")
    spend = np.where(rng.random(n) < 0.005, rng.gamma(2.0, 40.0, n), 0.0)  # 99.5% spend 0
    path = tmp_path / "zero.parquet"
    write_table(path, {"user_id": np.arange(n), "variant": variant, "spend": spend})
    raw = {
        "name": "zero-inflated",
        "kind": "landing_page",
        "hypothesis": "b lifts spend",
        "unit": "user_id",
        "variants": {"control": {}, "b": {}},
        "data": {"units": str(path)},
        "metrics": [
            {
                "name": "spend",
                "type": "mean",
                "column": "spend",
                "role": "primary",
                "cap": {"quantile": 0.99},
            }
        ],
    }
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    m = res.metric("spend")
    nonzero = spend[spend != 0]
    # numpy's default quantile is linear interpolation, as the engine's quantile_cont
    assert m.caps["spend"] == pytest.approx(float(np.quantile(nonzero, 0.99)), rel=1e-9)
    assert m.caps["spend"] > 0  # of all units, the p99 would be 0 and cap every buyer
    p99 = next(r for r in m.sensitivity if r.label == "p99")
    assert p99.caps["spend"] == pytest.approx(m.caps["spend"])
    md = present.sensitivity_markdown(m, res)
    assert "(as analysed)" in md and "0.000 [" not in md
    # among: all keeps the whole-distribution convention (and caps at 0 here)
    raw["metrics"][0]["cap"] = {"quantile": 0.99, "among": "all"}
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    assert res.metric("spend").caps["spend"] == pytest.approx(float(np.quantile(spend, 0.99)))


def test_cap_levels_that_cap_nothing_share_a_row(tmp_path: Path) -> None:
    n = 4_000
    variant = np.where(np.arange(n) % 2 == 0, "control", "b")
    # three distinct prices: every quantile cap at or above the top price caps nothing
    price = np.where(np.arange(n) % 7 == 0, 29.0, np.where(np.arange(n) % 5 == 0, 19.0, 0.0))
    path = write_table(
        tmp_path / "prices.parquet", {"user_id": np.arange(n), "variant": variant, "rev": price}
    )
    raw = {
        "name": "flat-caps",
        "kind": "pricing",
        "hypothesis": "x",
        "unit": "user_id",
        "variants": {"control": {}, "b": {}},
        "data": {"units": str(path)},
        "metrics": [{"name": "rev", "type": "mean", "column": "rev", "role": "primary"}],
    }
    res = analyze(load_plan(write_plan(tmp_path / "plan.yaml", raw)))
    md = present.sensitivity_markdown(res.metric("rev"), res)
    assert "Capping changes nothing here" in md and "| no cap" not in md


def test_metric_views_hold_every_view_of_the_method(tmp_path: Path, units: dict[str, Any]) -> None:
    def titles(res: Results, name: str) -> str:
        views = present.metric_views(res.metric(name), res)
        return json.dumps([v.to_dict() for v in views if isinstance(v, alt.TopLevelMixin)])

    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    assert "cumulative effect by day" in titles(seq, "revenue")
    bayes = _analyze(tmp_path, units, method="bayesian")
    assert "posterior of the effect" in titles(bayes, "conversion")
    assert "cumulative effect by day" not in titles(bayes, "conversion")  # no always-valid view
    assert "cumulative difference by day" in titles(bayes, "conversion")  # the pointwise one


def test_conventions_state_only_what_the_run_used(tmp_path: Path, units: dict[str, Any]) -> None:
    freq = present.conventions_markdown(_analyze(tmp_path, units))
    assert "Multiple testing" in freq and "Holm" in freq
    for absent in ("Bayesian", "mSPRT", "Bootstrap", "Rank test", "Non-inferiority"):
        assert absent not in freq
    bayes = present.conventions_markdown(
        _analyze(tmp_path, units, method="bayesian", bayesian={"beta_prior": [2, 8]})
    )
    assert "Beta-Binomial with prior Beta(2, 8)" in bayes and "Gaussian model" in bayes
    assert "≥ 95%" in bayes and "Multiple testing" not in bayes
    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    text = present.conventions_markdown(seq)
    assert "mSPRT" in text and "τ = 5 (from the plan)" not in text and "from the plan" in text
    assert "adjusted with Holm" in text
    gs = _analyze(
        tmp_path,
        units,
        method="sequential",
        sequential={"kind": "group-sequential", "looks": 3, "planned_n": 900, "spending": "pocock"},
    )
    text = present.conventions_markdown(gs)
    assert "3 planned looks" in text and "Pocock-type" in text and "mSPRT" not in text


def test_sequential_caption_says_always_valid(tmp_path: Path, units: dict[str, Any]) -> None:
    seq = _analyze(tmp_path, units, method="sequential", sequential={"kind": "msprt", "tau": 5})
    m = seq.metric("revenue")
    md = present.sequential_markdown(m)
    assert "Always-valid inference" in md
    for c in m.comparisons:
        assert c.sequential is not None
        first = c.sequential.first_rejection
        assert (f"rejected on {first.isoformat()}" if first else "not rejected yet") in md
