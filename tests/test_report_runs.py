"""Workers that keep their kernel warm from one plan to the next.

A batch runs its plans on at most ``--jobs`` workers, each with one kernel that it resets
before every plan. These tests run a probe cell, added to the analysis notebook of a
throwaway project, that records which kernel ran it and what it found there, and they
compare a plan's report from a fresh kernel with its report from a kernel that has already
run other plans.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from liftlab.report import run_reports
from tests.conftest import ROOT, console_buffer

# What a fresh kernel cannot have: a name the probe of an earlier plan left, a history, a
# warning already shown. Written next to the run's results.json.
PROBE = """
import os, sys, warnings
probe = {
    "kernel": os.getpid(),
    "left_over": globals().get("probe_left_by"),
    "execution_count": get_ipython().execution_count,
    "inputs": len(In),
    "cwd": os.getcwd(),
}
warnings.warn("shown in every report", UserWarning)
with open(os.path.join(os.path.dirname(results_path), "probe.json"), "w") as f:
    json_text = __import__("json").dumps(probe)
    f.write(json_text)
probe_left_by = plan_path
"""


@pytest.fixture(scope="module")
def probed(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose analysis notebook ends with :data:`PROBE`."""
    root = tmp_path_factory.mktemp("probed")
    shutil.copytree(project / "experiments", root / "experiments")
    (root / "data").symlink_to(project / "data")
    (root / "notebooks").mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "analyze.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(nb, root / "notebooks" / "analyze.ipynb")
    return root


@pytest.fixture(scope="module")
def warm_batch(probed: Path) -> dict[str, Any]:
    """Three runs on one worker (``jobs=1``): landing, creative, landing again."""
    plans = ["landing-headline", "creative-tournament", "landing-headline"]
    console, buf = console_buffer()
    outcomes = run_reports(
        [probed / "experiments" / f"{p}.yaml" for p in plans], console=console, jobs=1
    )
    assert all(o.ok for o in outcomes), buf.getvalue()
    probes = [
        json.loads((o.folder / "probe.json").read_text(encoding="utf-8"))
        for o in outcomes
        if o.folder is not None
    ]
    return {"outcomes": outcomes, "probes": probes, "root": probed}


def test_plans_of_a_batch_run_in_one_warm_kernel(warm_batch: dict[str, Any]) -> None:
    """One worker, one kernel: the three plans' probe cells ran in the same process."""
    kernels = {p["kernel"] for p in warm_batch["probes"]}
    assert len(warm_batch["probes"]) == 3
    assert len(kernels) == 1


def test_a_plan_finds_the_kernel_as_a_fresh_one(warm_batch: dict[str, Any]) -> None:
    """Nothing of an earlier plan reaches the next: no variable, no history, the execution
    count where a new kernel has it, the plan's project as working folder, and a warning
    that was shown in the first report is shown again in the next."""
    probes = warm_batch["probes"]
    first = probes[0]
    assert first["left_over"] is None
    for probe in probes:
        assert probe["left_over"] is None
        assert probe["execution_count"] == first["execution_count"]
        assert probe["inputs"] == first["inputs"]
        assert Path(probe["cwd"]).resolve() == Path(warm_batch["root"]).resolve()
    for outcome in warm_batch["outcomes"]:
        nb = nbformat.read(outcome.folder / "report.ipynb", as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1))
        streams = [o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream"]
        assert any("shown in every report" in text for text in streams), nb.cells[-1].outputs


def _comparable(folder: Path) -> dict[str, str]:
    """A run's results and report with what changes from run to run (run id, times, run
    folder, seconds) masked."""
    run_id = folder.name
    texts = {}
    for name in ("results.json", "report.html"):
        text = (folder / name).read_text(encoding="utf-8").replace(run_id, "RUN")
        text = re.sub(r'"generated_at": "[^"]*"', "", text)
        text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|\+00:00| UTC)?", "T", text)
        text = re.sub(r"\d+(\.\d+)? s\b", "S", text)
        text = re.sub(r"ipykernel_\d+", "ipykernel", text)  # the kernel's temporary folder
        texts[name] = text
    return texts


def test_a_warm_kernel_writes_the_same_report_as_a_fresh_one(warm_batch: dict[str, Any]) -> None:
    """landing-headline run first (fresh kernel) and third (after two plans): the same
    results.json and report.html, run ids and times aside."""
    first, _, third = warm_batch["outcomes"]
    assert _comparable(first.folder) == _comparable(third.folder)


def test_slow_imports_are_deferred_and_still_work() -> None:
    """After :func:`defer_slow_imports`, importing papermill leaves ``rfc3987_syntax`` (a
    grammar compiled at import) unloaded; jsonschema's ``iri`` check loads it on first use
    and checks as before."""
    script = """
import sys
from liftlab.report import defer_slow_imports
defer_slow_imports()
import jsonschema, papermill
def loaded():
    return getattr(sys.modules.get("rfc3987_syntax"), "__file__", None) is not None
before = loaded()
checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
validator = jsonschema.Draft202012Validator({"format": "iri"}, format_checker=checker)
good, bad = validator.is_valid("https://example.com/caf\u00e9"), validator.is_valid("a b ::")
print(before, good, bad, loaded())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True", "False", "True"]


def test_the_kernel_starts_the_chart_renderer_beside_the_first_cells(monkeypatch) -> None:
    """A report's kernel draws one tiny chart in a background thread as it boots, so that
    the report's first chart does not wait for vl-convert's engine to start; the tiny chart
    is one vl-convert draws (a failure would be silent)."""
    import threading

    import vl_convert

    from liftlab import report

    assert vl_convert.vegalite_to_svg(report._WARM_UP_SPEC).startswith("<svg")
    drawn: list[Any] = []
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", lambda spec, **_: drawn.append(spec))
    report._kernel_preload()
    for thread in threading.enumerate():
        if thread.name == "liftlab-vl-convert":
            thread.join(10)
    assert drawn == [report._WARM_UP_SPEC]


# Before the analysis: one plan fails, one runs past any timeout.
TRAPS = """
if plan_path.endswith("creative-tournament.yaml"):
    raise RuntimeError("a planned failure")
if plan_path.endswith("pricing-three-tiers.yaml"):
    __import__("time").sleep(600)
"""


def test_a_failed_and_a_timed_out_plan_leave_the_next_plan_a_working_kernel(
    project: Path, tmp_path: Path
) -> None:
    """On one worker: a plan whose notebook raises (its kernel is kept and reset), then one
    over its time (worker and kernel stopped, a new worker started), then a good plan: the
    good report is written, the others kept as failed and timed out, no process left."""
    import psutil

    root = tmp_path / "traps"
    shutil.copytree(project / "experiments", root / "experiments")
    (root / "data").symlink_to(project / "data")
    (root / "notebooks").mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "analyze.ipynb", as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(TRAPS))
    nbformat.write(nb, root / "notebooks" / "analyze.ipynb")
    before = set(psutil.Process().children(recursive=True))
    console, buf = console_buffer()
    plans = ["creative-tournament", "pricing-three-tiers", "landing-headline"]
    outcomes = run_reports(
        [root / "experiments" / f"{p}.yaml" for p in plans], console=console, jobs=1, timeout=45
    )
    assert [o.status for o in outcomes] == ["failed", "timeout", "ok"], buf.getvalue()
    assert "a planned failure" in outcomes[0].message
    for outcome in outcomes[:2]:
        assert outcome.folder is not None and outcome.folder.name.endswith("-failed")
        manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["status"] == outcome.status
    assert outcomes[2].folder is not None and (outcomes[2].folder / "report.html").is_file()
    left = set(psutil.Process().children(recursive=True)) - before
    _, alive = psutil.wait_procs(list(left), timeout=15)
    assert alive == []


def test_reports_write_the_executed_notebook_once_per_cell(tmp_path: Path, monkeypatch) -> None:
    """liftlab's papermill engine writes the executed notebook when each cell starts and at
    the end (papermill's own writes it again as each cell ends): the notebook on disk while
    a cell runs (what a timed-out run leaves) has every earlier cell's outputs and that cell
    marked running, and the final notebook has what papermill's own engine gives."""
    import papermill
    import papermill.engines

    from liftlab import report

    report._papermill()
    out = tmp_path / "out.ipynb"
    peek = (
        f"import json\nnb = json.load(open({str(out)!r}))\n"
        "print([c['metadata']['papermill']['status'] for c in nb['cells']])\n"
        "print([len(c.get('outputs', [])) for c in nb['cells']])"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print('one')"), nbformat.v4.new_code_cell(peek)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    source = tmp_path / "in.ipynb"
    nbformat.write(nb, source)
    writes: list[str] = []
    original = papermill.engines.write_ipynb
    monkeypatch.setattr(
        papermill.engines, "write_ipynb", lambda nb, path: writes.append(path) or original(nb, path)
    )
    compact = report._write_compact
    monkeypatch.setattr(
        report, "_write_compact", lambda nb_man: writes.append("compact") or compact(nb_man)
    )
    finals, counts, order = {}, {}, {}
    for engine in (report.ENGINE, None):
        writes.clear()
        target = out if engine else tmp_path / "plain.ipynb"
        papermill.execute_notebook(
            str(source), str(target), kernel_name="python3", progress_bar=False, engine_name=engine
        )
        finals[engine] = nbformat.read(target, as_version=4)
        if engine:
            seen = finals[engine].cells[1].outputs[0]["text"].splitlines()
            assert seen == ["['completed', 'running']", "[1, 0]"]
        counts[engine] = len(writes)
        order[engine] = list(writes)
    assert counts == {report.ENGINE: 1 + 2 + 1, None: 1 + 2 * 2 + 1}  # start, cells, end
    # the cells' starts write compact JSON; the notebook's start and end, nbformat's layout
    assert order[report.ENGINE] == [str(out), "compact", "compact", str(out)]
    assert out.read_text(encoding="utf-8").startswith('{\n "cells": [')
    assert finals[report.ENGINE].cells[0].outputs == finals[None].cells[0].outputs
    assert [c.metadata.papermill["status"] for c in finals[report.ENGINE].cells] == [
        "completed",
        "completed",
    ]


def test_a_worker_ends_with_its_kernel_gone(tmp_path: Path) -> None:
    """A worker whose input ends (the batch has no more plans) kills and reaps the kernel it
    started and exits 0, without tearing its interpreter down: no process is left in the
    worker's folder (a kernel runs where its worker started it)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "liftlab.report"], stdin=subprocess.PIPE, cwd=tmp_path
    )
    assert worker.stdin is not None
    deadline = time.monotonic() + 60
    while not _in_folder(tmp_path, besides=worker.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # until its kernel runs
    assert _in_folder(tmp_path, besides=worker.pid), "the worker started no kernel"
    worker.stdin.close()  # no plans: the worker ends
    assert worker.wait(timeout=120) == 0
    assert _in_folder(tmp_path, besides=worker.pid) == []


def _in_folder(folder: Path, besides: int) -> list[int]:
    """The processes (other than ``besides``) whose working folder is ``folder``."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            here = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if int(pid) != besides and here == folder.resolve():
            found.append(int(pid))
    return found
