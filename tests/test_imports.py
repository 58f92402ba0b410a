"""What ``import liftlab`` and the command line's help load: the heavy engines wait for use.

``import liftlab`` (a kernel's first cell, every CLI start) and ``liftlab --help`` must not
import Ibis, DuckDB, SciPy, pandas, Altair or pydantic; the public names still resolve on
first use. Import *times* are measured by ``benchmarks/``; here the test checks the cause
(which modules a fresh interpreter has loaded), which does not depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))
