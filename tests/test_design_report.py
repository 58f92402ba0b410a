"""The design report: notebooks/design.ipynb under papermill, exported to reports/<plan>/design.html.

Each page is the demo plan of the session's throwaway project (tests/conftest.py: simulated
data) designed with a few of the notebook's parameters; the numbers on the page are checked
against :func:`liftlab.design.design_plan` of the same overrides computed here, and the
fixed-horizon size against the textbook formula for two proportions (computed with scipy).
The pages must open offline in headless Chromium with every chart drawn and legible.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from liftlab.browser import WIDE_FONT_CSS, check_pages, find_chromium
from liftlab.design import design_plan
from liftlab.design_report import PARAMETERS, PLAN_SETTINGS, write_design_report
from liftlab.errors import LiftlabError
from liftlab.history import read_history
from liftlab.plan import load_plan
from liftlab.report import PACKAGE_PROJECT_ROOT, kernel_options

NOTEBOOK = PACKAGE_PROJECT_ROOT / "notebooks" / "design.ipynb"
FREQUENTIST = {"mde": 0.05, "method": "frequentist", "daily_units": 2000, "n_per_variant": 20000}
BAYESIAN = {"mde": 0.05, "method": "bayesian", "power": 0.9}


def _plan_path(project: Path) -> Path:
    return project / "experiments" / "landing-headline.yaml"


def _expected(project: Path, params: dict[str, Any]) -> Any:
    plan = load_plan(_plan_path(project))
    settings = {PLAN_SETTINGS[k]: v for k, v in params.items() if k in PLAN_SETTINGS}
    return design_plan(plan.with_(**settings))


def _text(page: str) -> str:
    """The page's words, tags dropped and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


@pytest.fixture(scope="module")
def pages(project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two design reports of the landing demo: fixed horizon and Bayesian overrides."""
    out = {}
    for name, params in (("frequentist", FREQUENTIST), ("bayesian", BAYESIAN)):
        reports = tmp_path_factory.mktemp(f"design-{name}")
        out[name] = write_design_report(_plan_path(project), params, reports)
    return out


def test_the_page_lands_in_the_plans_reports_folder(pages: dict[str, Path]) -> None:
    for page in pages.values():
        assert page.name == "design.html"
        assert page.parent.name == "landing-headline"
        assert [p.name for p in page.parent.iterdir()] == ["design.html"]  # no temporary left


def test_fixed_horizon_numbers_match_the_design_and_the_textbook_formula(
    project: Path, pages: dict[str, Path]
) -> None:
    page = _text(pages["frequentist"].read_text(encoding="utf-8"))
    expected = _expected(project, FREQUENTIST)
    # two proportions, unpooled normal approximation, equal shares, one comparison
    p1 = 0.10  # the plan's signup_rate baseline
    p2 = p1 * 1.05
    z = norm.ppf(1 - 0.05 / 2) + norm.ppf(0.8)
    n = math.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)
    assert abs(expected.n_per_variant - n) <= 1
    assert f"{expected.n_per_variant:,} {expected.nouns(2)} per variant" in page
    assert f"{expected.total:,}" in page
    days = math.ceil(2 * expected.n_per_variant / 2000)
    assert f"{math.ceil(days / 7)} weeks" in page
    # the trade-off table has the design's own duration, in bold
    raw = pages["frequentist"].read_text(encoding="utf-8")
    assert f'<tr style="font-weight: 600;"><td>{math.ceil(days / 7)}</td>' in raw
    # the reader's units: the baseline rate in percent, the change relative and in pp
    assert "10.0%" in page and "+5.0%" in page and "+0.50 pp" in page


def _detectable(n: float, p1: float = 0.10) -> float:
    """The change δ an unpooled two-proportion test (two-sided α = 0.05, 80% power, equal
    shares) detects with ``n`` units per variant: z²·(p1q1 + p2q2) / δ² = n, by scipy's
    brentq."""
    z = norm.ppf(1 - 0.05 / 2) + norm.ppf(0.8)

    def excess(delta: float) -> float:
        p2 = p1 + delta
        return z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / delta**2 - n

    return float(brentq(excess, 1e-6, 0.5))


def test_the_tradeoff_matches_the_formula_solved_for_the_change(pages: dict[str, Path]) -> None:
    """Four weeks at 2,000 a day: 28,000 per variant."""
    page = _text(pages["frequentist"].read_text(encoding="utf-8"))
    found = re.search(r"\b4 28 28,000 \+(\d+\.\d)% \(\+(\d\.\d+) pp\)", page)
    assert found, page
    delta = _detectable(28_000)
    assert float(found[1]) == pytest.approx(100 * delta / 0.10, abs=0.051)
    assert float(found[2]) == pytest.approx(100 * delta, abs=0.0051)


def test_a_fixed_size_shows_the_change_it_detects(pages: dict[str, Path]) -> None:
    """n_per_variant = 20,000: the answer adds the change those units detect."""
    page = _text(pages["frequentist"].read_text(encoding="utf-8"))
    found = re.search(
        r"With 20,000 users per variant \(40,000 in total\), the fixed-horizon test detects "
        r"\+(\d+\.\d)% on signup rate",
        page,
    )
    assert found, page
    assert float(found[1]) == pytest.approx(100 * _detectable(20_000) / 0.10, abs=0.051)
    assert "users per variant, fixed 20,000 parameter n_per_variant" in page


def test_bayesian_numbers_match_the_design(project: Path, pages: dict[str, Path]) -> None:
    page = _text(pages["bayesian"].read_text(encoding="utf-8"))
    expected = _expected(project, BAYESIAN)
    assert f"{expected.n_per_variant:,} {expected.nouns(2)} per variant" in page
    assert f"{expected.total:,}" in page
    # each override is shown as the notebook's parameter, the rest as the plan's
    assert "parameter mde" in page and "parameter method" in page
    assert "plan (analysis.alpha)" not in page  # the Bayesian design has no alpha
    assert "parameter power" in page


def test_the_answer_comes_before_the_evidence(pages: dict[str, Path]) -> None:
    page = pages["frequentist"].read_text(encoding="utf-8")
    order = [
        page.find("<h1"),
        page.find("liftlab-design"),
        page.find("Each primary metric"),
        page.find("<svg"),
        page.find("smallest detectable change"),
        page.find("Where the inputs came from"),
        page.find("Conventions"),
        page.find("Provenance"),
    ]
    assert -1 not in order and order == sorted(order)


def test_pages_are_self_contained_and_draw_offline(pages: dict[str, Path]) -> None:
    for path in pages.values():
        page = path.read_text(encoding="utf-8")
        assert "<script src=" not in page
        assert "<svg" in page
        assert "cdn.jsdelivr" not in page and "Error loading script" not in page
    if find_chromium() is None:
        pytest.skip("Chromium not found; install it with `apt-get install chromium`")
    checks = check_pages(list(pages.values()), css=WIDE_FONT_CSS)
    for check in checks:
        assert check.ok, check.problems()
        assert len(check.charts) >= 1 and all(c.drawn for c in check.charts)


def test_a_failing_run_leaves_the_earlier_page_untouched(project: Path, tmp_path: Path) -> None:
    good = write_design_report(_plan_path(project), {}, tmp_path)
    before = good.read_bytes()
    # a proportion's baseline above 1 passes the plan's checks and fails in the notebook: the
    # plan error is passed on as it reads, naming the plan and the field
    with pytest.raises(LiftlabError) as failed:
        write_design_report(_plan_path(project), {"baseline": 1.5}, tmp_path)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(str(_plan_path(project))) and "metrics[0]" in message
    assert "Traceback" not in message
    assert good.read_bytes() == before
    assert [p.name for p in good.parent.iterdir()] == ["design.html"]


def _own_project(project: Path, tmp_path: Path) -> Path:
    """A project of its own: the landing plan and notebooks/design.ipynb; its plan's path."""
    root = tmp_path / "proj"
    (root / "experiments").mkdir(parents=True)
    plan = root / "experiments" / "landing-headline.yaml"
    plan.write_bytes(_plan_path(project).read_bytes())
    (root / "notebooks").mkdir()
    (root / "notebooks" / "design.ipynb").write_bytes(NOTEBOOK.read_bytes())
    return plan


def test_the_notebook_runs_from_its_own_folder_as_in_jupyterlab(
    project: Path, tmp_path: Path
) -> None:
    """JupyterLab runs a notebook in its folder: plan_path is still relative to the project."""
    import papermill as pm

    plan = _own_project(project, tmp_path)
    root = plan.parents[1]
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(root / "notebooks" / "design.ipynb"),
        str(out),
        parameters={"plan_path": "experiments/landing-headline.yaml", "mde": 0.2},
        kernel_name="python3",
        cwd=str(root / "notebooks"),
        progress_bar=False,
        **kernel_options(),
    )
    expected = design_plan(load_plan(plan).with_(mde=0.2))
    shown = json.dumps(json.loads(out.read_text(encoding="utf-8"))["cells"])
    assert f"{expected.n_per_variant:,} {expected.nouns(2)} per variant" in shown
    assert "<svg" in shown


def test_a_notebook_that_breaks_is_one_line_naming_it(project: Path, tmp_path: Path) -> None:
    """A project's own notebooks/design.ipynb is the one run; one that raises something other
    than a liftlab error is named with the exception, and the earlier page stays."""
    plan = _own_project(project, tmp_path)
    root = plan.parents[1]
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    good = write_design_report(plan, {}, None)
    assert good == root / "reports" / "landing-headline" / "design.html"
    before = good.read_bytes()
    nb["cells"].append(
        {
            "id": "broken",
            "cell_type": "code",
            "metadata": {},
            "source": "1 / 0",
            "outputs": [],
            "execution_count": None,
        }
    )
    (root / "notebooks" / "design.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(LiftlabError) as failed:
        write_design_report(plan, {}, None)
    message = str(failed.value)
    assert "\n" not in message
    assert "design report failed: ZeroDivisionError: division by zero" in message
    assert "notebooks/design.ipynb" in message and message.startswith(str(plan))
    assert good.read_bytes() == before
    assert [p.name for p in good.parent.iterdir()] == ["design.html"]


def test_a_bad_parameter_is_one_line_before_any_kernel(project: Path, tmp_path: Path) -> None:
    with pytest.raises(LiftlabError, match=r"'mdee' is not a parameter .*did you mean 'mde'"):
        write_design_report(_plan_path(project), {"mdee": 0.05}, tmp_path)
    with pytest.raises(LiftlabError, match=r"alpha"):
        write_design_report(_plan_path(project), {"alpha": 0.9}, tmp_path)
    assert not (tmp_path / "landing-headline" / "design.html").exists()


def test_the_notebook_has_a_typed_parameter_for_every_input_and_no_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    lines = "".join(cells[0]["source"]).splitlines()
    names = [line.split("=")[0].strip() for line in lines]
    assert names == ["plan_path", *PARAMETERS]
    for line in lines[1:]:
        assert re.fullmatch(r"\w+ = None  # type: \w+\|None  \S.*", line), line
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert all("hide-input" in c["metadata"].get("tags", []) for c in code)


HISTORY = "landing_history + landing_history_events"  # the demo's two weeks before the test


def test_history_gives_the_baselines_and_names_itself(project: Path, tmp_path: Path) -> None:
    page_path = write_design_report(_plan_path(project), {"history": HISTORY}, tmp_path)
    page = _text(page_path.read_text(encoding="utf-8"))
    plan = load_plan(_plan_path(project))
    past = read_history(plan, HISTORY)
    expected = design_plan(plan, history=past, history_first=True)
    assert f"{expected.n_per_variant:,} {expected.nouns(2)} per variant" in page
    # the history's signup rate (not the plan's 10.0%) is the baseline, in percent
    rate = past.moments["signup_rate"].mean_y
    assert expected.binding.baseline == pytest.approx(rate)
    shown = re.search(r"signup rate: baseline (\d+\.\d+)% history: ", page)
    assert shown, page
    assert float(shown[1]) == pytest.approx(
        100 * rate, abs=0.5 * 10 ** -len(shown[1].split(".")[1])
    )
    assert HISTORY in page
    with pytest.raises(LiftlabError) as failed:
        write_design_report(_plan_path(project), {"history": "landing_histroy"}, tmp_path)
    message = str(failed.value)
    assert "\n" not in message and "did you mean 'landing_history'" in message
    assert "design report failed" not in message  # the history's own one-line error
