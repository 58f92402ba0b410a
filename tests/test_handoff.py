"""A report's analysis, computed by its worker while the kernel boots and handed over.

``liftlab report`` analyses each plan in its worker process beside the kernel's start
(``report._analyse_ahead``) and hands the results to the kernel with its reset; the
notebook's ``load_results`` takes them only for the same plan file and data, once. The
reference for the numbers is the analysis itself: ``analyze`` of the same plan, in this
process, written to JSON.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from liftlab import analysis, report
from liftlab.plan import load_plan

PLAN = "landing-headline"


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("load_results analysed instead of taking the handed results")


@pytest.fixture
def handed(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(project)
    monkeypatch.setattr(report, "_HANDOFF", {})
    path = project / "experiments" / f"{PLAN}.yaml"
    handoff = report._analyse_ahead(path, None, project, tmp_path / ".run.results.pickle")
    assert handoff is not None
    return handoff


def test_the_notebook_takes_the_handed_results_once(
    project: Path, handed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    want = analysis.analyze(load_plan(project / "experiments" / f"{PLAN}.yaml"))
    report._HANDOFF.update(handed)
    monkeypatch.setattr(analysis, "analyze", _refuse)
    got = report.load_results(f"experiments/{PLAN}.yaml")  # relative, as a notebook says it
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "generated_at"}  # noqa: E731
    assert strip(got) == strip(want)
    assert got.data_sha256 == want.data_sha256 and got.plan.sha256 == want.plan.sha256
    assert not Path(handed["pickle"]).exists()
    with pytest.raises(AssertionError, match="analysed instead"):  # once: then it analyses
        report.load_results(f"experiments/{PLAN}.yaml")


def test_other_data_or_another_plan_is_analysed(
    project: Path, handed: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(analysis, "analyze", lambda plan, data=None: calls.append(data))
    report._HANDOFF.update(handed)
    other = tmp_path / "other.parquet"
    report.load_results(f"experiments/{PLAN}.yaml", str(other))
    assert calls == [other]  # not the results of the plan's own data
    report._HANDOFF.update(handed)
    report.load_results("experiments/creative-tournament.yaml")
    assert len(calls) == 2 and report._HANDOFF == {}
    # a kernel of another Python (a user's own "python3" kernel) analyses for itself
    report._HANDOFF.update(handed, python="/opt/other/bin/python3")
    report.load_results(f"experiments/{PLAN}.yaml")
    assert len(calls) == 3


def test_a_hand_off_that_cannot_be_read_is_analysed_again(
    project: Path, handed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(analysis, "analyze", lambda plan, data=None: calls.append(plan.name))
    Path(handed["pickle"]).write_bytes(b"")  # cut short
    report._HANDOFF.update(handed)
    report.load_results(f"experiments/{PLAN}.yaml")
    Path(handed["pickle"]).unlink(missing_ok=True)
    report._HANDOFF.update(handed)  # gone
    report.load_results(f"experiments/{PLAN}.yaml")
    assert calls == [PLAN, PLAN]


def test_a_failed_analysis_hands_nothing_over(project: Path, tmp_path: Path) -> None:
    """The worker swallows the error: the notebook analyses again and fails where the
    reader of the failed run sees why."""
    plan = tmp_path / "experiments" / "broken.yaml"
    plan.parent.mkdir()
    text = (project / "experiments" / f"{PLAN}.yaml").read_text(encoding="utf-8")
    plan.write_text(text.replace("data/", "missing/"), encoding="utf-8")
    target = tmp_path / ".run.results.pickle"
    assert report._analyse_ahead(plan, None, tmp_path, target) is None
    assert not target.exists()


def test_runs_hand_over_and_leave_no_pickle(project: Path, good_run: dict[str, object]) -> None:
    assert good_run["ok"]
    for outcome in good_run["outcomes"]:  # type: ignore[attr-defined]
        assert "analysis, beside the kernel's start" in dict(outcome.stages)
    assert sorted((project / "reports").rglob("*.pickle")) == []


def test_the_hand_off_file_is_private_and_outside_the_reports() -> None:
    import stat
    import tempfile

    path = report._private_file(".pickle")
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.parent == Path(tempfile.gettempdir()) and path.suffix == ".pickle"
    finally:
        path.unlink()
