"""What ``import liftlab``, the command line's help and an analysis load: each waits for use.

``import liftlab`` (a kernel's first cell, every CLI start) and ``liftlab --help`` must not
import Ibis, DuckDB, SciPy, pandas, Altair or pydantic; the public names still resolve on
first use. Analysing a plan (``liftlab.analyze``, ``liftlab analyze``) draws nothing, so it
must not import Altair, vl-convert, IPython or pandas, whatever the plan's kind: a kind's
views live in :mod:`liftlab.views`, apart from its analysis, and queries read Arrow straight
from the engine (:func:`liftlab.sources.fetch`). Import *times* are measured by
``benchmarks/``; here the test checks the cause (which modules a fresh interpreter has
loaded), which does not depend on the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_PLANS = ("landing-headline", "creative-tournament", "pricing-three-tiers", "ad-export")
REPORT_ONLY = (  # what the report draws and tabulates with; an analysis needs none
    "altair",
    "vl_convert",
    "IPython",
    "pandas",
)

HEAVY = ("ibis", "duckdb", "scipy", "pandas", "altair", "pydantic", "numpy", "statsmodels")


def _loaded(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after ``code``."""
    return {m.split(".")[0] for m in _loaded_modules(code)}


@pytest.mark.parametrize(
    "code",
    [
        "import liftlab",
        "import liftlab.cli",
        "from liftlab.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "cli-module", "help"],
)
def test_light_entry_points_load_no_engine(code):
    heavy = sorted(set(HEAVY) & _loaded(code))
    assert heavy == [], f"{code!r} loaded {heavy}"


def test_public_names_resolve_on_first_use():
    import liftlab

    assert liftlab.analyze.__module__ == "liftlab.analysis"
    assert liftlab.load_plan.__module__ == "liftlab.plan"
    assert issubclass(liftlab.PlanError, liftlab.LiftlabError)
    assert set(liftlab.__all__) <= set(dir(liftlab))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        liftlab.nope  # noqa: B018


def test_the_analysis_loads_no_scipy_stats() -> None:
    """scipy.stats costs about 0.5 s to import; the analysis's tests take their quantiles and
    tail areas from scipy.special (the functions scipy.stats calls, the same floats)."""
    imported = _loaded_modules("import liftlab.analysis, liftlab.stats.funnel, liftlab.stats.srm")
    assert "scipy" not in imported  # loaded on first use (liftlab.startup.lazy_module)
    used = _loaded_modules(
        "import liftlab.analysis, liftlab.stats.funnel\n"
        "from liftlab.stats.srm import srm_test\n"
        "assert srm_test({'a': 500, 'b': 580}, {'a': 1, 'b': 1}).p_value < 0.02"
    )
    assert "scipy.special" in used
    assert "scipy.stats" not in used


def _loaded_modules(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return set(json.loads(run.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway project: the four demo plans (one per kind, and an ad-platform export)
    and their simulated data."""
    root = tmp_path_factory.mktemp("demo")
    (root / "experiments").mkdir()
    for name in DEMO_PLANS:
        shutil.copy(ROOT / "experiments" / f"{name}.yaml", root / "experiments")
    from liftlab.simulate import simulate

    simulate(root / "data")
    return root


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_analysing_a_plan_draws_nothing(demo_project: Path, plan: str) -> None:
    """``liftlab.analyze`` of each demo plan, in a fresh interpreter, loads no drawing library,
    no pandas and no report module: the kind's section is computed, not drawn."""
    path = demo_project / "experiments" / f"{plan}.yaml"
    loaded = _loaded_modules(
        "import liftlab\n"
        f"results = liftlab.analyze(liftlab.load_plan({str(path)!r}))\n"
        "assert results.sections, 'the kind added no section'"
    )
    assert "liftlab.kinds" in loaded  # the kind's analysis ran
    assert sorted({m.split(".")[0] for m in loaded} & set(REPORT_ONLY)) == []
    report = ("liftlab.views", "liftlab.charts", "liftlab.present", "liftlab.theme")
    assert sorted(m for m in loaded if m.startswith(report)) == []


ENGINE = ("ibis", "duckdb", "sqlglot", "liftlab.analysis", "liftlab.sources", "scipy.optimize")


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_a_report_kernel_reads_handed_results_without_the_engine(
    demo_project: Path, plan: str, tmp_path: Path
) -> None:
    """A report's kernel is handed the results its worker computed (``report._analyse_ahead``)
    and then draws the whole report: its start-up imports (``_kernel_preload``), the
    notebook's ``load_results``, every section's views and the provenance footer load no
    engine, Ibis, data layer, analysis or optimiser (about half a second of every report)."""
    from liftlab.report import _analyse_ahead

    path = demo_project / "experiments" / f"{plan}.yaml"
    handoff = _analyse_ahead(path, None, demo_project, tmp_path / "results.pickle")
    assert handoff is not None
    loaded = _loaded_modules(
        "import os, datetime as dt\n"
        f"os.chdir({str(demo_project)!r})\n"
        "from liftlab import report\n"
        "report._kernel_preload()\n"
        f"report._HANDOFF.update({handoff!r})\n"
        "from liftlab import charts, present, provenance, views\n"
        f"results = report.load_results({str(path)!r})\n"
        "listing = present.listed_arms(results)\n"
        "present.verdict_html(results), present.overview_html(results)\n"
        "charts.srm_chart(results.srm, listing), charts.traffic_chart(results.traffic, listing)\n"
        "present.metrics_section(results), views.section_views(results)\n"
        "provenance.build_manifest(results, parameters={}, started_at=provenance.now())\n"
    )
    assert "liftlab.views" in loaded and "liftlab.findings" in loaded
    assert sorted(m for m in ENGINE if m in loaded) == []
    assert not (tmp_path / "results.pickle").exists()  # taken, and removed


def test_a_lazy_module_loads_on_first_use_and_keeps_what_it_hands_out() -> None:
    code = (
        "import sys\n"
        "from liftlab.startup import lazy_module\n"
        "sc = lazy_module('scipy.special')\n"
        "assert 'scipy' not in sys.modules\n"
        "from statistics import NormalDist\n"  # the reference: the standard library's normal
        "assert sc.ndtr(0.0) == 0.5\n"
        "assert abs(sc.ndtri(0.975) - NormalDist().inv_cdf(0.975)) < 1e-15\n"
        "assert 'ndtr' in vars(sc) and sc.ndtr is sys.modules['scipy.special'].ndtr\n"
        "try:\n"
        "    sc.__path__\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('a stand-in is no package')\n"
    )
    assert "scipy.special" in _loaded_modules(code)
