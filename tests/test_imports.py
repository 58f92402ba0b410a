"""What ``import liftlab``, the command line's help and an analysis load: each waits for use.

``import liftlab`` (a kernel's first cell, every CLI start) and ``liftlab --help`` must not
import Ibis, DuckDB, SciPy, pandas, Altair or pydantic; the public names still resolve on
first use. Analysing a plan (``liftlab.analyze``, ``liftlab analyze``) draws nothing, so it
must not import Altair, vl-convert or IPython, whatever the plan's kind: a kind's views live
in :mod:`liftlab.views`, apart from its analysis. Import *times* are measured by
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
DRAWING = ("altair", "vl_convert", "IPython")

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
    loaded = _loaded_modules("import liftlab.analysis, liftlab.stats.funnel, liftlab.stats.srm")
    assert "scipy.stats" not in loaded
    assert "scipy.special" in loaded


def _loaded_modules(code: str) -> set[str]:
    return _run(code)[0]


def _run(code: str) -> tuple[set[str], str]:
    """``code`` in a fresh interpreter: the modules loaded at the end, and the last line
    ``code`` printed (``""`` when it printed none)."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    *printed, modules = run.stdout.splitlines()
    return set(json.loads(modules)), printed[-1] if printed else ""


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


# Records which module first imports pandas: the innermost frame outside the import system.
_WHO_IMPORTS_PANDAS = """
import sys
class _Who:
    first = None
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" and _Who.first is None:
            f = sys._getframe(1)
            while f is not None and f.f_globals.get("__name__", "").startswith("importlib"):
                f = f.f_back
            _Who.first = f.f_globals.get("__name__") if f is not None else None
        return None
sys.meta_path.insert(0, _Who())
"""


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_analysing_a_plan_draws_nothing(demo_project: Path, plan: str) -> None:
    """``liftlab.analyze`` of each demo plan, in a fresh interpreter, loads no drawing library
    and no report module, and neither the kind's analysis nor ``liftlab.analysis`` imports
    pandas (the engine's own conversions may: Ibis's Arrow reads import it)."""
    path = demo_project / "experiments" / f"{plan}.yaml"
    code = (
        f"{_WHO_IMPORTS_PANDAS}\nimport liftlab\n"
        f"results = liftlab.analyze(liftlab.load_plan({str(path)!r}))\n"
        "assert results.sections, 'the kind added no section'\n"
        "print(json.dumps(_Who.first))"
    )
    loaded, printed = _run(code)
    pandas_importer = json.loads(printed) or ""
    assert "liftlab.kinds" in loaded  # the kind's analysis ran
    assert sorted({m.split(".")[0] for m in loaded} & set(DRAWING)) == []
    report = ("liftlab.views", "liftlab.charts", "liftlab.present", "liftlab.theme")
    assert sorted(m for m in loaded if m.startswith(report)) == []
    assert not pandas_importer.startswith(("liftlab.kinds", "liftlab.analysis", *report))


def test_the_probe_sees_who_imports_pandas() -> None:
    """The import probe of the test above names the module whose code imports pandas."""
    code = f"{_WHO_IMPORTS_PANDAS}\nimport liftlab.charts\nprint(json.dumps(_Who.first))"
    loaded, printed = _run(code)
    assert "altair" in {m.split(".")[0] for m in loaded}
    assert json.loads(printed) == "liftlab.charts"
