"""Reports: run the analysis notebook per plan with papermill, export HTML, keep an index.

``liftlab report experiments/*.yaml`` calls :func:`run_reports`. For each plan it

1. validates the plan (a bad plan is reported in one line; the other plans still run);
2. executes ``notebooks/analyze.ipynb`` with papermill into
   ``reports/<slug>/.tmp-<run-id>/report.ipynb`` (charts as inline SVG, ``results.json``
   written next to it);
3. exports ``report.html`` with nbconvert, code hidden and no script loaded from a CDN, so the
   report opens offline;
4. renames the folder to ``reports/<slug>/<run-id>/`` in one step, so a run folder is either
   complete or absent. A failed run is kept, executed notebook and all, in
   ``reports/<slug>/<run-id>-failed/`` and never touches an earlier good run.

Plans run on at most ``--jobs`` worker processes; each keeps one kernel warm from one plan to
the next (the analysis imported once, the kernel reset before each plan, see
:class:`KernelSession`) and builds nbconvert's exporter once.

The run id is the UTC time ``YYYYMMDDTHHMMSSZ`` (plus ``-2``, ``-3``, … when that folder
exists). After all plans, ``reports/index.html`` lists every experiment and run, newest
first, with the verdict each run wrote to its ``results.json``.

:func:`project_path` and :func:`load_results` are what the notebook calls, so that it runs the
same under papermill (cwd = project root) and in JupyterLab (cwd = ``notebooks/``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from liftlab.errors import LiftlabError
from liftlab.files import StorageError, atomic_write, locked, read_json_object
from liftlab.startup import defer_slow_imports

# liftlab.plan (pydantic) is imported where it is used: a worker starts its kernel first.

if TYPE_CHECKING:
    import nbformat
    from rich.console import Console
    from rich.table import Table

    from liftlab.analysis import Results
    from liftlab.plan import Plan

NOTEBOOK = Path("notebooks") / "analyze.ipynb"
PACKAGE_PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_DIR = re.compile(r"^(?P<ts>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?(?P<failed>-failed)?$")
REMOVED_CELL_TAGS = ("remove-cell", "parameters", "injected-parameters")

# The report's own stylesheet, in place of the JupyterLab theme the "lab" template inlines
# (about 260 KB of CSS variables and widget rules a report never uses): typography, tables
# (pandas Styler tables bring their own <style> on top), output areas, charts, a readable
# width, and print. The verdict and status boxes carry inline styles.
_REPORT_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#fff;color:#1d2939;font:15px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
main{max-width:1100px;margin:0 auto;padding:24px 32px 56px}
h1,h2,h3,h4,h5,h6{color:#101828;line-height:1.25;font-weight:600;margin:1.6em 0 .5em}
h1{font-size:2em;margin-top:.3em}
h2{font-size:1.45em;padding-bottom:.25em;border-bottom:1px solid #eaecf0}
h3{font-size:1.2em}h4{font-size:1.05em}h5,h6{font-size:1em}
p,ul,ol,dl,blockquote,pre{margin:.5em 0 .9em}
ul,ol{padding-left:1.6em}li{margin:.2em 0}
a{color:#175cd3}
.anchor-link{margin-left:.3em;color:#98a2b3;text-decoration:none;visibility:hidden}
:hover>.anchor-link{visibility:visible}
blockquote{padding:.45em 1em;border-left:4px solid #d0d5dd;background:#f9fafb;color:#344054}
blockquote>:first-child{margin-top:0}blockquote>:last-child{margin-bottom:0}
hr{border:0;border-top:1px solid #eaecf0;margin:2em 0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:.88em}
code{background:#f2f4f7;padding:.1em .3em;border-radius:3px}
pre{padding:.7em 1em;background:#f8f9fb;border:1px solid #eaecf0;border-radius:4px;
overflow-x:auto;line-height:1.4}
pre code{background:none;padding:0}
table{display:block;width:max-content;max-width:100%;overflow-x:auto;border-collapse:collapse;
margin:.6em 0 1.1em;font-size:.87em;font-variant-numeric:tabular-nums}
th,td{padding:.3em .65em;text-align:left;vertical-align:top;border-bottom:1px solid #eaecf0}
th{font-weight:600;vertical-align:bottom;border-bottom:2px solid #d0d5dd}
tbody tr:nth-child(even){background:#f9fafb}
img,svg{max-width:100%}
.jp-RenderedSVG{margin:.4em 0 .8em}.jp-RenderedSVG svg{height:auto;display:block}
.jp-RenderedText pre{white-space:pre-wrap;word-break:break-word}
[data-mime-type="application/vnd.jupyter.stderr"] pre{background:#fef3f2;border-color:#fecdca}
.ansi-bold{font-weight:700}.ansi-underline{text-decoration:underline}
.ansi-black-fg{color:#3e424d}.ansi-red-fg{color:#b42318}.ansi-green-fg{color:#027a48}
.ansi-yellow-fg{color:#b54708}.ansi-blue-fg{color:#175cd3}.ansi-magenta-fg{color:#9e1aa3}
.ansi-cyan-fg{color:#0e7090}.ansi-white-fg{color:#667085}
.ansi-red-bg{background:#fee4e2}.ansi-green-bg{background:#d1fadf}
.ansi-yellow-bg{background:#fef0c7}.ansi-cyan-bg{background:#cff9fe}
@media (max-width:640px){main{padding:16px}}
@media print{
body{font-size:11pt}main{max-width:none;padding:0}
.anchor-link{display:none}a{color:inherit}
h1,h2,h3,h4{break-after:avoid}
table,svg,img,blockquote,.liftlab-verdict{break-inside:avoid}
table{display:table;overflow:visible}
}
@page{margin:15mm}
"""

# The nbconvert "lab" template's cells with a <head> of its own: the stylesheet above and no
# JupyterLab theme, code-highlighting CSS or CDN script (require.js, MathJax, Mermaid).
# Cells that show nothing leave no empty wrapper; SVG outputs are inlined as they are (the
# stock template base64-encodes them, or sanitises them away).
_TEMPLATE_NAME = "liftlab-report.html.j2"
_TEMPLATE = (
    """{%- extends 'index.html.j2' -%}
{%- block html_head -%}
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% set nb_title = nb.metadata.get('title', resources['metadata']['name']) -%}
<title>{{ nb_title | escape_html_keep_quotes }}</title>
<style>{% raw %}"""
    + _REPORT_CSS
    + """{% endraw %}</style>
{%- endblock html_head -%}
{%- block body_header -%}
<body>
<main>
{%- endblock body_header -%}
{% block codecell %}{% if cell.outputs %}{{ super() }}{% endif %}{% endblock codecell %}
{% block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
{{ output.data['image/svg+xml'] }}
</div>
{%- endblock data_svg %}
"""
)


# ---- used by the notebook ----------------------------------------------------------------------
def project_path(path: str | Path) -> Path:
    """Resolve ``path`` against the project root; absolute paths are returned as they are.

    The project root is the current folder, or its parent when the current folder is
    ``notebooks/`` (a notebook opened in JupyterLab runs with its own folder as cwd).
    """
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    cwd = Path.cwd()
    root = cwd.parent if cwd.name == "notebooks" else cwd
    return root / p


def load_results(plan_path: str | Path, data_path: str | Path | None = None) -> Results:
    """Load the plan at ``plan_path`` and analyse it (on ``data_path`` when given).

    Both paths go through :func:`project_path`. In a report's kernel, the first call for the
    run's plan and data takes the results the worker computed for them while the kernel
    started (:func:`_analyse_ahead`) instead of analysing again.
    """
    from liftlab.plan import load_plan

    plan_file = project_path(plan_path)
    data_file = project_path(data_path) if data_path else None
    handed = _handed_over(plan_file, data_file)
    if handed is not None:
        return handed
    from liftlab.analysis import analyze

    return analyze(load_plan(plan_file), data_file)


# A report's analysis, computed by its worker while the kernel boots and handed to the kernel
# (see _analyse_ahead): {"plan": path, "data": path or None, "pickle": path, "python": the
# worker's interpreter}, set by the kernel's reset and taken by the first load_results of
# that plan and data in a kernel of the same interpreter.
_HANDOFF: dict[str, Any] = {}


def _handed_over(plan_file: Path, data_file: Path | None) -> Results | None:
    """The results the worker computed for exactly this plan file and data, if it did (once:
    a second call, or another plan, analyses in the kernel; so does a hand-off that cannot
    be read)."""
    import pickle

    handoff = dict(_HANDOFF)
    _HANDOFF.clear()
    if not handoff or handoff["plan"] != str(plan_file.resolve()):
        return None
    if handoff.get("python") != sys.executable:  # another environment computed them
        return None
    if handoff["data"] != (str(data_file.resolve()) if data_file is not None else None):
        return None
    path = Path(handoff["pickle"])
    try:
        with path.open("rb") as f:
            results: Results = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    finally:
        path.unlink(missing_ok=True)
    return results


# ---- running reports ---------------------------------------------------------------------------
DEFAULT_TIMEOUT = 1800.0  # seconds per run; 0 or None: no limit
_NO_OUTCOME = 3  # a worker's exit status when it could not write its outcome file
_GRACE = 10.0  # seconds between SIGTERM and SIGKILL for a run over its time


@dataclass(frozen=True)
class RunOutcome:
    """Where one plan's report went and how it ended.

    ``status`` is ``ok``, ``failed`` (the notebook or the export raised), ``timeout``,
    ``interrupted`` or ``invalid`` (the plan did not load; no folder was made).
    """

    plan: str
    folder: Path | None
    ok: bool
    message: str
    status: str = "ok"
    verdict: str | None = None
    seconds: float = 0.0
    stages: tuple[tuple[str, float], ...] = ()  # seconds per step of the run, in order


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI cancel, a scheduler) while a batch runs; it ends the batch as Ctrl-C does:
    workers stopped, their runs kept as interrupted, the index rebuilt."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While the batch runs, SIGTERM raises :class:`Terminated` (once: a second SIGTERM
    during the clean-up is ignored); the previous handler is restored afterwards. Only the
    main thread can handle signals; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped_by(exc: BaseException) -> str:
    """Why a batch stopped its runs, for their manifests and messages."""
    if isinstance(exc, Terminated):
        return "stopped by SIGTERM"
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by Ctrl-C"
    return f"the batch stopped: {_error_line(exc)}"


@dataclass
class _Job:
    """One plan's run while a batch executes it in a worker process."""

    plan: Plan
    plan_path: Path
    slug_dir: Path
    run_id: str
    tmp: Path
    started: dt.datetime
    log: Path
    outcome_file: Path
    process: subprocess.Popen[bytes] | None = None
    clock: float = 0.0


def run_reports(
    plans: list[Path],
    *,
    data: str | Path | None = None,
    reports_dir: str | Path | None = None,
    console: Console | None = None,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    lines: Console | None = None,
    spare: subprocess.Popen[bytes] | None = None,
) -> list[RunOutcome]:
    """Run the analysis notebook for each plan; write ``reports/index.html``.

    Runs execute on at most ``jobs`` worker processes (``python -m liftlab.report``), each
    running plan after plan in one kernel it resets before each (:class:`KernelSession`). A
    run is stopped after ``timeout`` seconds (SIGTERM, then SIGKILL; the worker kills its
    kernel) and its worker replaced. A run writes into ``reports/<slug>/.tmp-<run-id>/`` and is
    renamed to ``<run-id>/`` when complete, or to ``<run-id>-failed/`` (executed notebook,
    ``run.log`` and a manifest saying why) when it fails, times out or is interrupted; earlier
    runs are never touched. ``reports/<slug>/latest`` then points to the newest good run.

    Args:
        plans: plan files (``experiments/<slug>.yaml``).
        data: a unit table overriding each plan's ``data.units`` (relative to the cwd).
        reports_dir: where reports go; default ``<project root>/reports`` of each plan.
        console: where progress, outcomes and the summary are printed (default: stderr).
        jobs: how many plans run at once.
        timeout: seconds one run may take (None or 0: no limit).
        lines: instead of a progress bar on ``console``, print one line here as each plan
            starts and one as it ends (plan, status, seconds, report path); for logs and
            pipes, where a progress bar shows nothing. A failed run's reason still goes to
            ``console``.
        spare: a worker started ahead (:func:`spare_worker`), whose kernel boots while the
            plans load; it takes the first run, and ends with the batch.

    Returns:
        One outcome per plan, in the order given; the batch succeeded when all are ``ok``.
    """
    from liftlab.plan import load_plan

    if console is None:
        from rich.console import Console

        console = Console(stderr=True, highlight=False, soft_wrap=True)
    data_abs = Path(data).expanduser().resolve() if data is not None else None
    outcomes: dict[int, RunOutcome] = {}
    queue: list[tuple[int, Plan, Path, Path]] = []
    roots: list[Path] = [Path(reports_dir).resolve()] if reports_dir is not None else []
    for i, path in enumerate(plans):
        try:
            plan = load_plan(path)
        except LiftlabError as exc:
            outcomes[i] = RunOutcome(str(path), None, False, str(exc), status="invalid")
            console.print(str(exc), markup=False)
            continue
        root = Path(reports_dir).resolve() if reports_dir is not None else plan.root / "reports"
        if root not in roots:
            roots.append(root)
        if find_notebook(plan) is None:
            message = (
                f"{plan.source}: {NOTEBOOK} not found in {plan.root} or "
                f"{PACKAGE_PROJECT_ROOT}; restore the analysis notebook"
            )
            outcomes[i] = RunOutcome(plan.name, None, False, message, status="failed")
            console.print(message, markup=False)
            continue
        queue.append((i, plan, Path(path), root))
    failure: BaseException | None = None
    retiring: list[subprocess.Popen[bytes]] = []  # workers told to end, waited for last
    with _sigterm_interrupts():
        try:
            for i, outcome in _run_queue(
                queue, data_abs, console, max(1, jobs), timeout or None, lines, retiring, spare
            ):
                outcomes[i] = outcome
        except BaseException as exc:
            failure = exc
            raise
        finally:
            for root in roots:
                if root.is_dir():
                    _index_line(root, console, failure)
            _wait_for(retiring)
    ordered = [outcomes[i] for i in sorted(outcomes)]
    if len(ordered) > 1:
        console.print(summary_table(ordered))
    return ordered


def _index_line(root: Path, console: Console, failure: BaseException | None) -> None:
    """Rebuild ``root/index.html`` and say where it is. When it cannot be written, raise a
    one-line :class:`StorageError`, or, while the batch is already stopping for another
    reason, print that line (once: not when the reason is the same kind of fault)."""
    try:
        path = write_index(root)
    except OSError as exc:
        error = StorageError.from_os_error(exc, root / "index.html")
        if failure is None:
            raise error from None
        if not isinstance(failure, StorageError):
            console.print(str(error), markup=False)
        return
    console.print(f"index: {path}", markup=False)


def _run_queue(
    queue: list[tuple[int, Plan, Path, Path]],
    data: Path | None,
    console: Console,
    jobs: int,
    timeout: float | None,
    lines: Console | None = None,
    retiring: list[subprocess.Popen[bytes]] | None = None,
    spare: subprocess.Popen[bytes] | None = None,
) -> Iterator[tuple[int, RunOutcome]]:
    """Run the queue on at most ``jobs`` workers; yield each outcome as its run ends.

    A worker that finished a run takes the next one, its kernel warm; one that failed to
    report, crashed or was stopped is replaced. Once no run is left to start, idle workers
    are told to end and added to ``retiring`` (the caller waits for them). Progress is a
    transient progress bar on ``console``, or with ``lines`` one line there as each run
    starts and one as it ends. ``spare``, a worker started ahead, takes the first run.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    retiring = [] if retiring is None else retiring
    pending = list(queue)
    running: dict[int, _Job] = {}
    idle: list[subprocess.Popen[bytes]] = [spare] if spare is not None else []  # between runs
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=console, transient=True, disable=lines is not None)
    with bar as progress:
        task = progress.add_task("reports", total=len(queue))
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    i, plan, path, root = pending.pop(0)
                    running[i] = _start(plan, path, root, data, idle)
                    if lines is not None:
                        _line(lines, f"{plan.name}: started")
                time.sleep(0.05)
                for i, job in list(running.items()):
                    outcome = _poll(job, timeout)
                    if outcome is None:
                        continue
                    del running[i]
                    if job.process is not None and job.process.poll() is None:
                        idle.append(job.process)
                    progress.advance(task)
                    if lines is None or not outcome.ok:
                        console.print(outcome.message, markup=False)
                    if lines is not None:
                        _line(lines, _end_line(outcome))
                    yield i, outcome
                if not pending:
                    _retire(idle, retiring)
            _retire(idle, retiring)  # no run at all: the spare, if any
        except BaseException as exc:
            # Ctrl-C, SIGTERM or an error: stop every worker (all at once), keep their runs
            _stop_all(list(running.values()), [*idle, *retiring], _stopped_by(exc), console, lines)
            raise


def _stop_all(
    running: list[_Job],
    others: list[subprocess.Popen[bytes]],
    reason: str,
    console: Console,
    lines: Console | None,
) -> None:
    """Stop every worker at once, and keep the runs they had as interrupted (or as they
    ended, when they ended before they were stopped)."""
    _stop(*others, *(job.process for job in running if job.process is not None))
    for job in running:
        if job.outcome_file.is_file():  # it finished before it was stopped
            outcome = _collect(job)
        else:
            outcome = _finish(job, "interrupted", reason)
        console.print(outcome.message, markup=False)
        if lines is not None:
            _line(lines, _end_line(outcome))


def _poll(job: _Job, timeout: float | None) -> RunOutcome | None:
    """The outcome of ``job`` once it ended (stopped when over its time), else None."""
    assert job.process is not None
    if job.outcome_file.is_file() or job.process.poll() is not None:
        return _collect(job)
    if timeout is not None and time.monotonic() - job.clock > timeout:
        _stop(job.process)
        return _finish(job, "timeout", f"stopped after {timeout:g} s")
    return None


def _retire(idle: list[subprocess.Popen[bytes]], retiring: list[subprocess.Popen[bytes]]) -> None:
    """Tell idle workers there are no more runs (the end of their stdin): each stops its
    kernel and exits. They move from ``idle`` to ``retiring``."""
    for worker in idle:
        with contextlib.suppress(OSError):
            if worker.stdin is not None:
                worker.stdin.close()
    retiring += idle
    idle.clear()


def _wait_for(workers: list[subprocess.Popen[bytes]]) -> None:
    """Wait for retiring workers to exit; stop those still running after the grace period."""
    deadline = time.monotonic() + _GRACE
    for worker in workers:
        try:
            worker.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _stop(worker)


def _line(lines: Console, text: str) -> None:
    """One progress line, never wrapped (a path stays whole at any width)."""
    lines.print(text, markup=False, highlight=False, soft_wrap=True)


def _end_line(outcome: RunOutcome) -> str:
    """``<slug>: ok in 31.2 s, SHIP benefit → reports/<slug>/<run-id>/report.html``."""
    text = f"{outcome.plan}: {outcome.status} in {outcome.seconds:.1f} s"
    if outcome.verdict:
        text += f", {outcome.verdict}"
    if outcome.folder is not None:
        html_file = outcome.folder / "report.html"
        text += f" → {_shown(html_file if html_file.is_file() else outcome.folder)}"
    return text


def _start(
    plan: Plan,
    plan_path: Path,
    reports_dir: Path,
    data: Path | None,
    idle: list[subprocess.Popen[bytes]],
) -> _Job:
    """Start ``plan`` on an idle worker or a new one; a run folder that cannot be made (disk
    full, read-only) raises a one-line :class:`StorageError` and leaves nothing behind."""
    slug_dir = reports_dir / plan.name
    try:
        run_id, tmp = _new_run_folder(slug_dir)
    except OSError as exc:
        raise StorageError.from_os_error(exc, slug_dir) from None
    try:
        return _spawn(plan, plan_path, slug_dir, run_id, tmp, data, idle)
    except OSError as exc:
        (slug_dir / f".{run_id}.log").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            tmp.rmdir()
        raise StorageError.from_os_error(exc, slug_dir) from None


def _spawn(
    plan: Plan,
    plan_path: Path,
    slug_dir: Path,
    run_id: str,
    tmp: Path,
    data: Path | None,
    idle: list[subprocess.Popen[bytes]],
) -> _Job:
    job = _Job(
        plan=plan,
        plan_path=plan_path.resolve(),
        slug_dir=slug_dir,
        run_id=run_id,
        tmp=tmp,
        started=dt.datetime.now(dt.UTC),
        log=slug_dir / f".{run_id}.log",
        outcome_file=slug_dir / f".{run_id}.outcome.json",
    )
    spec = {
        "plan_path": str(job.plan_path),
        "data": str(data) if data is not None else None,
        "run_id": run_id,
        "tmp": str(tmp),
        "started": job.started.isoformat(),
        "outcome_file": str(job.outcome_file),
        "log": str(job.log),
    }
    with job.log.open("wb") as log:
        job.process = _dispatch(spec, log, plan.root, idle)
    job.clock = time.monotonic()
    return job


def spare_worker(cwd: Path) -> subprocess.Popen[bytes]:
    """A report worker (``python -m liftlab.report``) started before the batch knows its
    plans: its kernel boots while the command line loads and checks them. Pass it to
    :func:`run_reports` (``spare``), or end it with :func:`end_spare`.

    Its output goes nowhere until its first run (each run's output goes to that run's log,
    the kernel's too); a spare that ended before then is replaced by a worker started as
    usual, so a fault at start-up is still logged with the run it broke."""
    return subprocess.Popen(
        [sys.executable, "-m", "liftlab.report"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        cwd=str(cwd),
        start_new_session=True,
    )


def end_spare(spare: subprocess.Popen[bytes]) -> None:
    """End a spare worker that will run nothing: it kills its kernel and exits."""
    retiring: list[subprocess.Popen[bytes]] = []
    _retire([spare], retiring)
    _wait_for(retiring)


def _dispatch(
    spec: dict[str, Any], log: IO[bytes], cwd: Path, idle: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """Hand a run to an idle worker (``python -m liftlab.report``, one JSON line on its
    stdin), or to a new one whose output starts in ``log``."""
    line = (json.dumps(spec) + "\n").encode()
    while idle:
        worker = idle.pop()
        try:
            assert worker.stdin is not None
            worker.stdin.write(line)
            worker.stdin.flush()
        except OSError:  # it ended between two runs
            _stop(worker)
        else:
            return worker
    worker = subprocess.Popen(
        [sys.executable, "-m", "liftlab.report"],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(cwd),
        start_new_session=True,
    )
    assert worker.stdin is not None
    worker.stdin.write(line)
    worker.stdin.flush()
    return worker


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM the workers' process groups, then SIGKILL those still running after a grace
    period (one grace period for all of them)."""
    for sig, wait in ((signal.SIGTERM, _GRACE), (signal.SIGKILL, 5.0)):
        running = [p for p in processes if p.poll() is None]
        for process in running:
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        if all(p.poll() is not None for p in processes):
            return


def _collect(job: _Job) -> RunOutcome:
    """The outcome a finished worker wrote; a worker that died without one failed."""
    try:
        data = json.loads(job.outcome_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        code = job.process.returncode if job.process is not None else None
        tail = _log_tail(job.log)
        if code == _NO_OUTCOME and tail:  # the worker's own message: say it as it is
            return _finish(job, "failed", tail.removeprefix(": "), said=True)
        return _finish(job, "failed", f"the worker exited with status {code}{tail}")
    job.outcome_file.unlink(missing_ok=True)
    folder = Path(data["folder"])
    if data["ok"]:
        job.log.unlink(missing_ok=True)
        update_latest(job.slug_dir)
    else:
        _keep_log(job, folder)
    return RunOutcome(
        plan=data["plan"],
        folder=folder,
        ok=bool(data["ok"]),
        message=data["message"],
        status=data["status"],
        verdict=data.get("verdict"),
        seconds=float(data["seconds"]),
        stages=tuple((str(k), float(v)) for k, v in data.get("stages") or ()),
    )


def _finish(job: _Job, status: str, reason: str, *, said: bool = False) -> RunOutcome:
    """Mark a run the worker could not finish (killed, crashed) as failed, in place.

    The manifest is completed when the disk lets it; the folder is renamed either way (a
    rename needs no space). ``said``: ``reason`` is already the whole message."""
    from liftlab.provenance import finish_manifest

    job.outcome_file.unlink(missing_ok=True)
    final = job.slug_dir / job.run_id
    failed = job.slug_dir / f"{job.run_id}-failed"
    folder = failed
    if job.tmp.is_dir():
        with contextlib.suppress(OSError):  # disk full: the folder's name still says it
            finish_manifest(
                job.tmp, run_id=job.run_id, started_at=job.started, status=status, error=reason
            )
        try:
            job.tmp.rename(failed)
        except OSError as exc:
            raise StorageError.from_os_error(exc, job.slug_dir) from None
    elif final.is_dir():  # it finished just as it was stopped
        folder = final
        update_latest(job.slug_dir)
    _keep_log(job, folder)
    seconds = (dt.datetime.now(dt.UTC) - job.started).total_seconds()
    message = reason if said else f"{job.plan.source}: report {status}: {reason} (kept in {folder})"
    return RunOutcome(job.plan.name, folder, False, message, status=status, seconds=seconds)


def _keep_log(job: _Job, folder: Path) -> None:
    if job.log.is_file():
        if folder.is_dir() and folder.name.endswith("-failed"):
            job.log.replace(folder / "run.log")
        else:
            job.log.unlink()


def _log_tail(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return f": {lines[-1].strip()}" if lines else ""


def execute_run(
    plan_path: Path,
    *,
    run_id: str,
    tmp: Path,
    started: dt.datetime,
    data: Path | None = None,
    kernel: KernelSession | None = None,
) -> RunOutcome:
    """Execute the notebook for one plan in ``tmp`` and rename it to its run folder.

    This is what a worker process does for each plan it is given (:func:`run_reports`):
    papermill runs ``notebooks/analyze.ipynb`` into ``tmp/report.ipynb`` (which writes
    ``results.json`` and ``manifest.json``) in ``kernel``, reset first, or in a kernel of its
    own; nbconvert exports ``report.html``, the manifest is completed with the outputs'
    SHA-256, and ``tmp`` becomes ``<run-id>/``, or ``<run-id>-failed/`` when anything raised.
    """
    from liftlab.plan import load_plan

    if kernel is None:
        kernel = KernelSession()
        try:
            return execute_run(
                plan_path, run_id=run_id, tmp=tmp, started=started, data=data, kernel=kernel
            )
        finally:
            kernel.shutdown()
    from liftlab.provenance import finish_manifest

    plan = load_plan(plan_path)
    slug_dir = tmp.parent
    executed = tmp / "report.ipynb"
    stages: dict[str, float] = {}
    try:
        _execute(plan, plan_path, tmp, run_id, data, kernel, stages)
        with _timed(stages, "write"):
            finish_manifest(tmp, run_id=run_id, started_at=started, status="ok")
    except Exception as exc:
        failed = slug_dir / f"{run_id}-failed"
        if executed.is_file() and not (tmp / "report.html").exists():
            try:  # best effort: the error is easier to read in HTML
                write_html(executed, tmp / "report.html", title=f"{plan.name}: failed run")
            except Exception:  # the executed notebook is kept either way
                pass
        reason = _error_line(exc).replace(str(tmp), str(failed))
        with contextlib.suppress(OSError):  # disk full: the folder's name still says it
            finish_manifest(tmp, run_id=run_id, started_at=started, status="failed", error=reason)
        tmp.rename(failed)
        return RunOutcome(
            plan.name,
            failed,
            False,
            f"{plan.source}: report failed: {reason} (notebook kept in {failed / 'report.ipynb'})",
            status="failed",
            seconds=_since(started),
        )
    final = slug_dir / run_id
    with _timed(stages, "write"):
        tmp.rename(final)
    verdict = _verdict(final / "results.json")
    return RunOutcome(
        plan.name,
        final,
        True,
        f"{plan.name}: {verdict or 'done'} → {final / 'report.html'}",
        verdict=verdict,
        seconds=_since(started),
        stages=tuple(stages.items()),
    )


def _execute(
    plan: Plan,
    plan_path: Path,
    tmp: Path,
    run_id: str,
    data: Path | None,
    kernel: KernelSession,
    stages: dict[str, float],
) -> None:
    """The body of :func:`execute_run`: notebook, HTML, notebook's hash; ``stages`` gets the
    seconds each step took (for ``benchmarks/report_speed.py``)."""
    notebook = find_notebook(plan)
    assert notebook is not None, "checked before the run was started"
    executed = tmp / "report.ipynb"
    parameters = {
        "plan_path": str(plan_path.resolve()),
        "data_path": str(data) if data is not None else None,
        "results_path": str(tmp / "results.json"),
        "manifest_path": str(tmp / "manifest.json"),
        "run_id": run_id,
    }
    with _timed(stages, "kernel start"):
        kernel.start(plan.root)  # it boots while this process analyses and prepares the export
    handoff = _private_file(".pickle")  # the results handed to the kernel; never in reports/
    try:
        with _timed(stages, "analysis, beside the kernel's start"):
            ahead = _analyse_ahead(plan_path, data, plan.root, handoff)
        with _timed(stages, "worker imports"):
            pm = _papermill()
        with _timed(stages, "kernel ready"):
            kernel.reset(plan.root, ahead)
        exporter = _in_background(_warm_exporter)  # while the notebook runs
        with _timed(stages, "notebook"):
            pm.execute_notebook(
                str(notebook),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(plan.root),
                progress_bar=False,
                km=kernel.km,
                engine_name=ENGINE,
            )
    finally:
        handoff.unlink(missing_ok=True)
    if not (tmp / "results.json").is_file():
        raise RuntimeError(f"{NOTEBOOK} ran but wrote no results.json")
    with _timed(stages, "html export"):
        exporter.join()
        write_html(executed, tmp / "report.html", title=f"{plan.name}: liftlab report")
    with _timed(stages, "write"):
        _add_notebook(tmp / "manifest.json", notebook, plan.root)


def _private_file(suffix: str) -> Path:
    """A new empty file only this user can read, in the system's temporary folder."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="liftlab-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _analyse_ahead(
    plan_path: Path, data: Path | None, root: Path, handoff: Path
) -> dict[str, Any] | None:
    """Analyse the plan in the worker while its kernel boots, and leave the results in
    ``handoff`` for the notebook's :func:`load_results` (the same call on the same plan file
    and data; the kernel would otherwise analyse only once it has started). None when the
    analysis raised: the notebook then analyses again and fails where a reader sees why."""
    import pickle

    from liftlab.plan import load_plan

    plan_file = plan_path.resolve()
    try:
        from liftlab.analysis import analyze

        with contextlib.chdir(root):  # where the kernel analyses from
            results = analyze(load_plan(plan_file), data)
        with handoff.open("wb") as f:
            pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        handoff.unlink(missing_ok=True)
        return None
    return {
        "plan": str(plan_file),
        "data": str(data) if data else None,
        "pickle": str(handoff),
        "python": sys.executable,  # the kernel takes them only in the same environment
    }


@contextlib.contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


def _papermill() -> Any:
    """papermill, with liftlab's engine (:data:`ENGINE`) registered."""
    defer_slow_imports()
    import papermill
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE, _engine())
    return papermill


@functools.cache  # once per worker: the exporter and its templates are kept
def _warm_exporter() -> None:
    """Build the HTML exporter and compile its templates (an export of an empty notebook)."""
    import nbformat

    export_html(nbformat.v4.new_notebook())


def _in_background(build: Callable[[], object]) -> threading.Thread:
    """Run ``build`` in a thread (a worker waits for its kernel most of a notebook's run);
    ``join()`` it before using what it built. A failure is left for the real use to raise."""

    def run() -> None:
        with contextlib.suppress(Exception):
            build()

    thread = threading.Thread(target=run, name="liftlab-prepare", daemon=True)
    thread.start()
    return thread


# The papermill engine reports run on: papermill's own (nbclient), writing the executed
# notebook once per cell instead of twice.
ENGINE = "liftlab"


def _engine() -> Any:
    """papermill's nbclient engine, except that a finished cell does not write the executed
    notebook, and a starting cell writes it as compact JSON: the next cell's start writes it
    (with the finished cell's outputs), and the notebook's end writes it last, in
    nbformat's own layout, whether it ended well or not. papermill writes (and validates)
    the whole notebook, indented, when each cell starts and again when it ends; the second
    write repeats the first but for one cell's outputs, and a report's notebook carries
    every chart, so each write delays the next cell. A run stopped mid-cell (a timeout)
    still leaves the notebook as that cell started: the outputs before it, and it marked
    running (a notebook any reader opens; only its line breaks differ)."""
    from papermill.engines import NBClientEngine

    class OneWritePerCell(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            nb_man.cell_start = _saving(nb_man, nb_man.cell_start, _write_compact)
            nb_man.cell_complete = _saving(nb_man, nb_man.cell_complete, lambda nb_man: None)
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return OneWritePerCell


def _saving(nb_man: Any, step: Any, save: Callable[[Any], None]) -> Any:
    """papermill's ``step`` (a cell's start or end) with ``save`` instead of its save."""

    def run(cell: Any, cell_index: int | None = None, **more: Any) -> None:
        nb_man.save = lambda **_: save(nb_man)  # this instance only, for this call
        try:
            step(cell, cell_index=cell_index, **more)
        finally:
            del nb_man.save  # papermill's own save again

    return run


def _write_compact(nb_man: Any) -> None:
    """The executed notebook so far, as JSON without indentation or validation."""
    if nb_man.output_path:
        text = json.dumps(nb_man.nb, ensure_ascii=False, separators=(",", ":"))
        Path(nb_man.output_path).write_text(text, encoding="utf-8")
        nb_man.last_save_time = nb_man.now()


def _since(started: dt.datetime) -> float:
    return (dt.datetime.now(dt.UTC) - started).total_seconds()


def _add_notebook(manifest_path: Path, notebook: Path, root: Path) -> None:
    """Record the analysis notebook's path and SHA-256 in the run's manifest."""
    from liftlab.provenance import file_sha256, read_manifest, relative, write_manifest

    manifest = read_manifest(manifest_path)
    if manifest is not None:
        manifest["notebook"] = {"path": relative(notebook, root), "sha256": file_sha256(notebook)}
        write_manifest(manifest, manifest_path)


def _serve() -> int:
    """``python -m liftlab.report``: run the reports whose specs arrive on stdin (one JSON
    line each) in one kernel kept warm (:class:`KernelSession`), writing each run's outcome
    file; return at the end of stdin.

    The runs execute in a thread of their own so that SIGTERM (a timeout, a stopped batch) is
    handled at once by the main thread: the kernel is killed and the worker exits with
    128 + 15, leaving the run's ``.tmp-<run-id>/`` for the batch to keep as failed.
    """
    session = KernelSession()
    status = [0]

    def stop(signum: int, frame: object) -> None:
        session.kill()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)

    def serve() -> None:
        try:
            with contextlib.suppress(Exception):  # else it fails in the run, which says why
                session.start(Path.cwd())  # the kernel boots while the worker analyses
            for line in sys.stdin:
                if line.strip():
                    status[0] = _serve_one(json.loads(line), session)
                    if status[0]:
                        return
        finally:
            session.end()

    thread = threading.Thread(target=serve, name="liftlab-report", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    return status[0]


def _serve_one(spec: dict[str, Any], session: KernelSession) -> int:
    """One run of :func:`_serve`, its output going to the run's log."""
    with _output_to(Path(spec["log"])):
        outcome = execute_run(
            Path(spec["plan_path"]),
            run_id=spec["run_id"],
            tmp=Path(spec["tmp"]),
            started=dt.datetime.fromisoformat(spec["started"]),
            data=Path(spec["data"]) if spec["data"] else None,
            kernel=session,
        )
        record = {
            "plan": outcome.plan,
            "folder": str(outcome.folder),
            "ok": outcome.ok,
            "message": outcome.message,
            "status": outcome.status,
            "verdict": outcome.verdict,
            "seconds": outcome.seconds,
            "stages": outcome.stages,
        }
        try:
            atomic_write(Path(spec["outcome_file"]), json.dumps(record))
        except OSError:  # disk full: the run's log (its last line) tells the batch instead
            print(outcome.message, file=sys.stderr, flush=True)
            return _NO_OUTCOME
    return 0


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (and its kernel's) to ``log`` for one run."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        os.close(fd)


# What a report's kernel runs as it starts (IPython's exec_lines: no history, no output): the
# modules the analysis notebook imports, loaded while the worker prepares the HTML export.
_KERNEL_PRELOAD = "__import__('liftlab.report').report._kernel_preload()"
# What it runs before each report (silent, no history): see KernelSession.reset.
_KERNEL_RESET = (
    "__import__('liftlab.report').report._kernel_reset(get_ipython(), {cwd!r}, {handoff!r})"
)
_KERNEL_STATE: dict[str, Any] = {}


def _kernel_preload() -> None:
    """In a report's kernel: import what the notebook imports and what the results handed
    to it are made of, remember the warning filters a fresh kernel has, and start the chart
    renderer's engine in the background."""
    import importlib
    import warnings

    defer_slow_imports()
    import IPython.display  # noqa: F401

    # What the notebook imports, and what the results the worker hands over are made of
    # (_analyse_ahead): the analysis and its engine are not loaded; the notebook's
    # load_results loads them only if it must analyse.
    from liftlab import charts, findings, kinds, methods, present, provenance, views  # noqa: F401
    from liftlab.stats import srm  # noqa: F401

    for name in kinds.MODULES.values():  # each kind's section class
        importlib.import_module(f"liftlab.kinds.{name}")

    _KERNEL_STATE["warnings"] = list(warnings.filters)
    threading.Thread(target=_warm_chart_renderer, name="liftlab-vl-convert", daemon=True).start()


# The smallest chart vl-convert draws: its first drawing starts the JavaScript engine it runs
# Vega in (about 0.4 s), which a report's first chart would otherwise wait for.
_WARM_UP_SPEC = {"data": {"values": [{"a": 1}]}, "mark": "point"}


def _warm_chart_renderer() -> None:
    """In a report's kernel, beside the notebook's first cells (vl-convert lets go of the
    GIL while it draws): start the chart renderer's engine. A failure is the first real
    chart's to report."""
    with contextlib.suppress(Exception):
        import vl_convert

        vl_convert.vegalite_to_svg(_WARM_UP_SPEC)


def _kernel_reset(shell: Any, cwd: str, handoff: dict[str, Any] | None = None) -> None:
    """In a report's kernel, before a report: a fresh session as a new kernel starts one,
    with the results its worker computed for it (``handoff``, see :func:`_analyse_ahead`)."""
    import warnings

    shell.reset(new_session=True)  # empty namespace, no history, execution count 1
    os.chdir(cwd)
    _HANDOFF.clear()
    _HANDOFF.update(handoff or {})
    if "warnings" in _KERNEL_STATE:
        warnings.filters[:] = _KERNEL_STATE["warnings"]  # type: ignore[index]
    warnings._filters_mutated()  # type: ignore[attr-defined]  # show every warning again


class KernelSession:
    """One IPython kernel that runs report after report (one per worker process).

    Starting a kernel and importing the analysis take longer than a demo report's own cells,
    so a worker keeps its kernel: started with the notebook's imports done
    (:data:`_KERNEL_PRELOAD`) and, before each report, reset as a fresh kernel would be
    (:func:`_kernel_reset`): an empty namespace, execution count 1, the plan's project as
    working folder, every warning shown again. Loaded modules are kept (that is the point);
    the notebook only sets module state that is the same for every plan (the chart
    renderer). A kernel that died is started again for the next report.
    """

    def __init__(self) -> None:
        self.km: Any = None
        self.ready = False  # it answered once: no need to wait for it again

    def start(self, cwd: Path) -> None:
        """Start the kernel unless it runs; return without waiting for it to be ready."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        if self.km is not None:
            if run_sync(self.km.is_alive)():
                return
            self.shutdown()
        self.km = AsyncKernelManager(kernel_name="python3", **kernel_options())
        self.km.client_factory = _ready_client()
        self.ready = False
        arguments = [
            "--HistoryManager.hist_file=:memory:",  # as papermill's own kernels: no history file
            f"--IPKernelApp.exec_lines={json.dumps([_KERNEL_PRELOAD])}",
        ]
        read, write = os.pipe()  # the kernel's own output goes to the current run's log
        try:
            start = run_sync(self.km.start_kernel)
            start(cwd=str(cwd), extra_arguments=arguments, stdout=write, stderr=write)
        finally:
            os.close(write)
        threading.Thread(target=_forward, args=(read,), name="kernel-output", daemon=True).start()

    def reset(
        self, cwd: Path, handoff: dict[str, Any] | None = None, timeout: float = 120.0
    ) -> None:
        """Wait until the kernel is ready, then reset it for a report run from ``cwd``,
        handing it the results its worker computed (:func:`_analyse_ahead`), if any."""
        from jupyter_core.utils import run_sync

        code = _KERNEL_RESET.format(cwd=str(cwd), handoff=handoff)
        run_sync(self._execute)(code, timeout)

    async def _execute(self, code: str, timeout: float) -> None:
        """Run ``code`` silently and wait for its reply (on the shell channel only: the
        output channel needs a handshake of its own, which a started kernel does not)."""
        kc = self.km.client()
        kc.start_channels()
        try:
            if not self.ready:
                await kc.wait_for_ready(timeout=timeout)
            msg_id = kc.execute(code, silent=True, store_history=False)
            deadline = time.monotonic() + timeout
            while True:
                reply = await kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        finally:
            kc.stop_channels()
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"the kernel could not be reset: {content.get('evalue')}")
        self.ready = True

    def shutdown(self) -> None:
        """Stop the kernel (at once) and remove its connection file."""
        from jupyter_core.utils import run_sync

        km, self.km = self.km, None
        if km is not None:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)

    def kill(self) -> None:
        """Kill the kernel from a signal handler (no event loop): SIGKILL its process group
        (a kernel leads its own) and remove its connection file."""
        km = self.km
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
        if km is not None:
            with contextlib.suppress(OSError):
                Path(km.connection_file).unlink(missing_ok=True)

    def end(self) -> None:
        """End the kernel when its worker ends: kill it (:meth:`kill`; a report kernel has
        nothing to save, and an orderly shutdown takes a fifth of a second) and reap it."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        self.kill()
        self.km = None
        if process is not None:
            with contextlib.suppress(Exception):
                process.wait(timeout=5)


@functools.cache
def _ready_client() -> type:
    """jupyter_client's asynchronous kernel client, except that waiting for the kernel to be
    ready ends once the kernel answered on the shell channel and a message came through the
    output channel (IOPub), which proves both connected. jupyter_client then also waits for
    0.2 s of silence on IOPub, to drop the status messages of its own request: papermill
    waits so at the start of every report, and the messages are dropped anyway (a cell's
    outputs are matched to the cell's request)."""
    from queue import Empty

    from jupyter_client.asynchronous.client import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):  # type: ignore[misc]
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (math.inf if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    reply = await self.get_shell_msg(timeout=1)
                    if reply["msg_type"] == "kernel_info_reply":
                        await self.get_iopub_msg(timeout=0.2)  # IOPub is connected
                        self._handle_kernel_info_reply(reply)
                        return
                except Empty:
                    pass
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    return ReadyClient


def _forward(fd: int) -> None:
    """Copy a kernel's own output (not its cells') to this process's stderr until it ends."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            os.write(2, chunk)
    os.close(fd)


def summary_table(outcomes: list[RunOutcome]) -> Table:
    """A rich table: one row per plan with its status, verdict, time and report."""
    from rich.table import Column, Table

    # a narrow terminal folds the report's path over lines rather than cutting it off
    report = Column("report", overflow="fold")
    table = Table("experiment", "status", "verdict", "time", report, title="liftlab report")
    for o in outcomes:
        style = "green" if o.ok else "red"
        target = ""
        if o.folder is not None:
            html_file = o.folder / "report.html"
            target = _shown(html_file if html_file.is_file() else o.folder)
        table.add_row(
            o.plan,
            f"[{style}]{o.status}[/{style}]",
            o.verdict or "",
            f"{o.seconds:.0f} s" if o.seconds else "",
            target,
        )
    return table


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def update_latest(slug_dir: Path) -> Path | None:
    """Point ``slug_dir/latest`` at the newest good run (a relative symlink, swapped atomically).

    Returns the run it points to, or None when there is no good run (``latest`` is then
    left as it was).
    """
    good = [r for r in list_runs(slug_dir) if not _is_failed(r)]
    if not good:
        return None
    link = slug_dir / "latest"
    if link.exists() and not link.is_symlink():
        return None  # a real file or folder someone put there: leave it alone
    tmp = slug_dir / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(good[0].name, target_is_directory=True)
        tmp.replace(link)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StorageError.from_os_error(exc, link) from None
    return good[0]


def _is_failed(run: Path) -> bool:
    m = RUN_DIR.match(run.name)
    return bool(m and m["failed"])


def find_notebook(plan: Plan) -> Path | None:
    """``notebooks/analyze.ipynb`` in the plan's project, else in liftlab's own project."""
    for root in (plan.root, PACKAGE_PROJECT_ROOT):
        candidate = root / NOTEBOOK
        if candidate.is_file():
            return candidate
    return None


def kernel_options() -> dict[str, Any]:
    """Encrypt kernel traffic (CurveZMQ) when pyzmq supports it.

    Besides being safer on shared machines, this keeps ipykernel from printing its
    "running over TCP without encryption" warning into every ``liftlab report``.
    """
    import zmq
    from traitlets.config import Config

    if not zmq.has("curve"):
        return {}
    return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}


def _new_run_folder(slug_dir: Path) -> tuple[str, Path]:
    """A fresh run id and its temporary folder ``.tmp-<run-id>`` (created)."""
    slug_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime(RUN_ID_FORMAT)
    n = 1
    while True:
        run_id = stamp if n == 1 else f"{stamp}-{n}"
        taken = (slug_dir / run_id, slug_dir / f"{run_id}-failed")
        if not any(p.exists() for p in taken):
            tmp = slug_dir / f".tmp-{run_id}"
            try:
                tmp.mkdir()
            except FileExistsError:  # another process is running this plan right now
                pass
            else:
                return run_id, tmp
        n += 1


def _error_line(exc: BaseException) -> str:
    """One line describing a failed run: the notebook's exception, or papermill's own."""
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename is not None:
        text = f"{ename}: {evalue}" if evalue else str(ename)
        cell = getattr(exc, "exec_count", None)
        where = f" in cell [{cell}]" if cell is not None else ""
        return f"{_first_line(text)}{where}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return _first_line(f"{type(exc).__name__}: {exc}")


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


# ---- HTML export -------------------------------------------------------------------------------
@functools.cache
def html_exporter() -> Any:
    """nbconvert's HTML exporter as reports use it: no code, no prompts, no CDN scripts.

    Built once per process (its templates are compiled on first use); an export keeps no
    state in it."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(REMOVED_CELL_TAGS), enabled=True),
        enabled=True,
    )
    return exporter


def export_html(nb: nbformat.NotebookNode, *, title: str = "liftlab report") -> str:
    """The executed notebook ``nb`` as a self-contained HTML page (code hidden), its inline
    SVG charts compacted (:func:`compact_svg`)."""
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    return _SVG_ELEMENT.sub(lambda m: compact_svg(m.group(0)), str(body))


_SVG_ELEMENT = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_EMPTY_ELEMENT = re.compile(
    r"<(path|line|rect|circle|ellipse|polygon|polyline|use|image|stop)\b([^<>]*?)></\1>"
)
_GEOMETRY = re.compile(r' (d|transform|points|x|y|x1|x2|y1|y2|cx|cy|r|width|height)="([^"]*)"')
_LONG_DECIMAL = re.compile(r"-?\d+\.\d{2,}")


def _tenth(m: re.Match[str]) -> str:
    text = f"{float(m.group(0)):.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def compact_svg(svg: str) -> str:
    """``svg`` drawn the same with fewer bytes: coordinates to a tenth of a pixel, empty
    elements self-closed (the HTML serialiser writes ``<path ...></path>``), and the default
    ``opacity="1"`` left out. Text, labels and ARIA descriptions are kept as they are."""
    svg = _GEOMETRY.sub(lambda m: f' {m[1]}="{_LONG_DECIMAL.sub(_tenth, m[2])}"', svg)
    svg = _EMPTY_ELEMENT.sub(r"<\1\2/>", svg)
    return svg.replace(' opacity="1"', "")


def write_html(notebook: Path, target: Path, *, title: str | None = None) -> Path:
    """Export the executed ``notebook`` to ``target`` (atomically) as an offline report.

    The title defaults to ``<experiment>: liftlab report`` from the notebook's injected
    ``plan_path`` parameter, else the notebook's file name.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    if title is None:
        params = nb.metadata.get("papermill", {}).get("parameters", {})
        name = Path(str(params.get("plan_path") or notebook.stem)).stem
        title = f"{name}: liftlab report"
    atomic_write(target, export_html(nb, title=title))
    return target


# ---- index -------------------------------------------------------------------------------------
def _run_key(name: str) -> tuple[str, int]:
    m = RUN_DIR.match(name)
    assert m is not None
    return m["ts"], int(m["n"] or 1)


def list_runs(experiment_dir: Path) -> list[Path]:
    """The run folders of one experiment, newest first (``.tmp-*`` and ``latest`` skipped)."""
    runs = [
        p
        for p in experiment_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and RUN_DIR.match(p.name)
    ]
    return sorted(runs, key=lambda p: _run_key(p.name), reverse=True)


def _verdict(results_json: Path) -> str | None:
    """``SHIP benefit``, ``LEADS Video 06``, ``KEEP RUNNING``, … from a run's results.json
    (None if unreadable)."""
    return _verdict_of(read_json_object(results_json))


def _verdict_of(data: dict[str, Any] | None) -> str | None:
    """The verdict's words as every surface prints them (:func:`liftlab.headline.verdict_text`:
    an observational winner, ``srm.randomization: none``, ``LEADS``)."""
    from liftlab.headline import verdict_text

    decision = (data or {}).get("decision")
    if not isinstance(decision, dict) or not decision.get("recommendation"):
        return None
    srm = (data or {}).get("srm")
    randomization = srm.get("randomization") if isinstance(srm, dict) else None
    variant = decision.get("variant")
    return verdict_text(
        str(decision["recommendation"]), str(variant) if variant else None, randomization
    )


def _href(*parts: str) -> str:
    return "/".join(quote(p) for p in parts)


@dataclass(frozen=True)
class HeadlineCell:
    """One treatment's headline on the first primary metric, as the report prints it."""

    variant: str
    change: str  # Headline.effect_text
    probability: str  # e.g. "chance to beat control > 99.9%"
    status: str  # a key of liftlab.headline.STATUSES
    sort: float  # the headline effect, for sorting


@dataclass(frozen=True)
class IndexRow:
    """One experiment in the portfolio index, from its runs' results.json and manifest.json."""

    slug: str
    kind: str
    hypothesis: str
    last_run: str
    last_status: str  # ok / failed / timeout / interrupted
    verdict: str | None
    recommendation: str | None
    primary: str | None  # the first primary metric's label
    lifts: list[HeadlineCell]  # its headline per treatment
    guardrails: dict[str, int]  # guardrail comparisons by status (passed, failed, …)
    srm_p: float | None
    srm_mismatch: bool | None
    good_run: str | None
    runs: list[tuple[str, str, str]]  # run name, href, status


def _status_of(run: Path) -> str:
    if not _is_failed(run):
        return "ok"
    from liftlab.provenance import read_manifest

    manifest = read_manifest(run / "manifest.json") or {}
    return str(manifest.get("status") or "failed")


def _primary_lifts(data: dict[str, Any]) -> tuple[str | None, list[HeadlineCell]]:
    """The first primary metric's label and its headline per treatment (older results.json
    files without a headline show none)."""
    from liftlab.format import Display
    from liftlab.headline import Headline

    metrics = [m for m in data.get("metrics") or [] if isinstance(m, dict)]
    primary = next((m for m in metrics if m.get("role") == "primary"), None)
    if primary is None:
        return None, []
    display = Display.from_dict(primary, currency=data.get("currency"))
    cells = []
    for c in primary.get("comparisons") or []:
        if not isinstance(c, dict) or not isinstance(c.get("headline"), dict):
            continue
        try:
            h = Headline.from_dict(c["headline"])
        except (KeyError, TypeError, ValueError):
            continue
        prob = (
            ""
            if h.probability_kind == "boundary"
            else f"{h.probability_label} {h.probability_text()}"
        )
        cells.append(
            HeadlineCell(
                variant=str(c.get("variant")),
                change=h.effect_text(display),
                probability=prob,
                status=h.status,
                sort=h.effect if math.isfinite(h.effect) else float("-inf"),
            )
        )
    return display.label, cells


def _guardrails(data: dict[str, Any]) -> dict[str, int]:
    """Guardrail comparisons counted by headline status."""
    out: dict[str, int] = {}
    for m in data.get("metrics") or []:
        if not isinstance(m, dict) or m.get("role") != "guardrail":
            continue
        for c in m.get("comparisons") or []:
            status = ((c or {}).get("headline") or {}).get("status")
            if status:
                out[str(status)] = out.get(str(status), 0) + 1
    return out


def index_rows(reports_dir: Path) -> list[IndexRow]:
    """Every experiment under ``reports_dir`` that has a run, with its latest good results."""
    rows = []
    experiments = sorted(
        p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    for exp in experiments:
        runs = list_runs(exp)
        if not runs:
            continue
        good = [r for r in runs if not _is_failed(r)]
        data = read_json_object(good[0] / "results.json") if good else None
        data = data or {}
        primary, lifts = _primary_lifts(data)
        srm = data.get("srm") if isinstance(data.get("srm"), dict) else {}
        decision = data.get("decision") if isinstance(data.get("decision"), dict) else {}
        run_links = []
        for run in runs:
            target = "report.html" if (run / "report.html").is_file() else "report.ipynb"
            run_links.append((run.name, _href(exp.name, run.name, target), _status_of(run)))
        rows.append(
            IndexRow(
                slug=exp.name,
                kind=str(data.get("kind") or ""),
                hypothesis=str(data.get("hypothesis") or ""),
                last_run=runs[0].name,
                last_status=run_links[0][2],
                verdict=_verdict_of(data),
                recommendation=(decision or {}).get("recommendation"),
                primary=primary,
                lifts=lifts,
                guardrails=_guardrails(data),
                srm_p=(srm or {}).get("p_value"),
                srm_mismatch=(srm or {}).get("mismatch"),
                good_run=good[0].name if good else None,
                runs=run_links,
            )
        )
    return rows


def _run_time(name: str) -> str:
    """``20261125T155446Z`` → ``2026-11-25 15:54 UTC``."""
    m = RUN_DIR.match(name)
    if not m:
        return name
    t = dt.datetime.strptime(m["ts"], RUN_ID_FORMAT)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _lift_cell(row: IndexRow) -> tuple[str, str]:
    """The primary metric's headline per treatment (as in the report's scorecard), and its
    sort value (the largest headline effect, or empty)."""
    if not row.lifts:
        return '<span class="muted">—</span>', ""
    items = []
    for cell in row.lifts:
        cls = {"better": ' class="better"', "worse": ' class="worse"'}.get(cell.status, "")
        prob = (
            f' <span class="ci">{html.escape(cell.probability)}</span>' if cell.probability else ""
        )
        items.append(
            f"<div{cls}>{html.escape(cell.variant)} <b>{html.escape(cell.change)}</b>{prob}</div>"
        )
    head = f'<div class="metric">{html.escape(row.primary or "")}</div>'
    best = max(cell.sort for cell in row.lifts)
    return head + "".join(items), (f"{best:.6f}" if math.isfinite(best) else "")


def _guardrail_cell(row: IndexRow) -> tuple[str, str]:
    """Guardrails: failed ones first (red), then not yet shown safe, then passed."""
    g = row.guardrails
    if not g:
        return '<span class="muted">none</span>', ""
    parts = []
    if g.get("guardrail_failed"):
        parts.append(f'<span class="badge failed">{g["guardrail_failed"]} failed</span>')
    if g.get("guardrail_unproven"):
        parts.append(f'<span class="badge warn">{g["guardrail_unproven"]} not yet safe</span>')
    if g.get("guardrail_passed"):
        parts.append(f'<span class="badge ok">{g["guardrail_passed"]} passed</span>')
    if g.get("not_enough_data"):
        parts.append(f'<span class="muted">{g["not_enough_data"]} not enough data</span>')
    return " ".join(parts), str(g.get("guardrail_failed", 0))


_VERDICT_CLASS = {
    "ship": "ship",
    "do_not_ship": "stop",
    "investigate": "warn",
    "keep_running": "wait",
}

_INDEX_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;line-height:1.45;color:#1d2939}
h1{margin-bottom:.2em}.sub{color:#667085;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:.93em}
th,td{text-align:left;vertical-align:top;padding:.45em .6em;border-bottom:1px solid #eaecf0}
th{background:#f9fafb;position:sticky;top:0}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;
color:inherit}
th button::after{content:" \\2195";color:#98a2b3}
th[aria-sort=ascending] button::after{content:" \\2191";color:#1d2939}
th[aria-sort=descending] button::after{content:" \\2193";color:#1d2939}
.badge{display:inline-block;border-radius:999px;padding:0 .6em;font-weight:600;
font-size:.9em;white-space:nowrap}
.ship{background:#d1fadf;color:#05603a}.stop{background:#fee4e2;color:#912018}
.warn{background:#fef0c7;color:#93370d}.wait{background:#eaecf0;color:#344054}
.failed{background:#fee4e2;color:#912018}.ok{background:#d1fadf;color:#05603a}
.muted,.ci{color:#667085}.better b{color:#05603a}.worse b{color:#b42318}.metric{font-size:.85em;color:#667085}
.runs a{font-family:ui-monospace,monospace;font-size:.85em;margin-right:.5em}
.change b{white-space:nowrap}.change .ci{display:block;margin-bottom:.3em}
.srm{white-space:nowrap}.runs summary{color:#667085;cursor:pointer;font-size:.85em}
.runs a.failed{background:none;color:#b42318}
a{color:#175cd3}
"""

# Sorts the table by a column on a click (again: the other way); cells sort by data-sort,
# numerically when every value is a number. No libraries, nothing fetched.
_INDEX_JS = """
(function () {
  var table = document.getElementById("portfolio");
  if (!table) { return; }
  var heads = table.querySelectorAll("th[data-col]");
  function key(row, col) {
    var cell = row.cells[col];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  function sortBy(th) {
    var col = Number(th.getAttribute("data-col"));
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function (r) { var k = key(r, col); return k !== "" && !isNaN(k); });
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      if (numeric) { return dir * (Number(x) - Number(y)); }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  heads.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () { sortBy(th); });
  });
})();
"""


def index_html(reports_dir: Path) -> str:
    """The portfolio page: every experiment under ``reports_dir``, one sortable row each.

    Columns: experiment (linked to its latest good report, hypothesis on hover), kind, the
    last run's time and status, the latest good run's verdict, its first primary metric's
    relative lift per treatment with the interval, the sample-ratio check, and links to every
    run (failed ones in red). Everything comes from the runs' ``results.json`` and
    ``manifest.json``: aggregates only. Self-contained: inline style and script.
    """
    rows = index_rows(reports_dir)
    heads = [
        "Experiment",
        "Kind",
        "Last run",
        "Verdict",
        "Primary metric: change",
        "Guardrails",
        "SRM",
        "Runs",
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>liftlab reports</title><style>{_INDEX_CSS}</style></head><body>",
        "<h1>liftlab reports</h1>",
    ]
    if not rows:
        parts.append("<p>No reports yet. Run <code>liftlab report experiments/*.yaml</code>.</p>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"
    failing = sum(r.last_status != "ok" for r in rows)
    summary = f"{len(rows)} experiment{'s' if len(rows) != 1 else ''}"
    if failing:
        summary += f", {failing} whose last run failed"
    parts.append(
        f'<p class="sub">{summary}. Each change is the headline its report decides by: the '
        "effect against control with its interval (confidence, always-valid or credible, as "
        "the plan's method), and its p-value or chance to beat control; green: better, red: "
        "worse. Click a column to sort.</p>"
    )
    parts.append('<table id="portfolio"><thead><tr>')
    parts += [
        f'<th data-col="{i}" scope="col"><button type="button">{h}</button></th>'
        for i, h in enumerate(heads)
    ]
    parts.append("</tr></thead><tbody>")
    for row in rows:
        parts.append(_index_row(row))
    parts.append("</tbody></table>")
    parts.append(f"<script>{_INDEX_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def _index_row(row: IndexRow) -> str:
    slug = html.escape(row.slug)
    title = html.escape(row.hypothesis, quote=True)
    if row.good_run:
        name = f'<a href="{_href(row.slug, "latest", "report.html")}" title="{title}">{slug}</a>'
    else:
        name = f'<span title="{title}">{slug}</span>'
    status_cls = "ok" if row.last_status == "ok" else "failed"
    last = (
        f'<td data-sort="{html.escape(row.last_run)}">{_run_time(row.last_run)} '
        f'<span class="badge {status_cls}">{html.escape(row.last_status)}</span></td>'
    )
    if row.verdict:
        cls = _VERDICT_CLASS.get(row.recommendation or "", "wait")
        verdict = f'<span class="badge {cls}">{html.escape(row.verdict)}</span>'
        if row.good_run and row.good_run != row.last_run:
            verdict += f' <span class="muted">(run {html.escape(row.good_run)})</span>'
    else:
        verdict = '<span class="badge failed">no successful run</span>'
    lift_html, lift_key = _lift_cell(row)
    guard_html, guard_key = _guardrail_cell(row)
    if row.srm_p is None:
        srm, srm_key = '<span class="muted">—</span>', ""
    elif row.srm_mismatch:
        srm = f'<span class="badge failed">mismatch {_p_clause(row.srm_p)}</span>'
        srm_key = "0"
    else:
        srm, srm_key = f'<span class="badge ok">ok</span> {_p_clause(row.srm_p)}', "1"
    shown = [_run_link(name, href, status) for name, href, status in row.runs]
    links = " ".join(shown[:3])
    if len(shown) > 3:
        links += (
            f"<details><summary>{len(shown) - 3} older</summary>{' '.join(shown[3:])}</details>"
        )
    return (
        f'<tr id="exp-{slug}"><td data-sort="{slug}">{name}</td>'
        f"<td>{html.escape(row.kind.replace('_', ' '))}</td>{last}"
        f'<td data-sort="{html.escape(row.verdict or "")}">{verdict}</td>'
        f'<td class="change" data-sort="{lift_key}">{lift_html}</td>'
        f'<td data-sort="{guard_key}">{guard_html}</td>'
        f'<td class="srm" data-sort="{srm_key}">{srm}</td>'
        f'<td class="runs" data-sort="{len(row.runs)}">{links}</td></tr>'
    )


def _p_clause(p: float) -> str:
    from liftlab.format import p_clause

    return html.escape(p_clause(p))


def _run_link(name: str, href: str, status: str) -> str:
    if status == "ok":
        return f'<a href="{href}" title="ok">{html.escape(name)}</a>'
    label = html.escape(status)
    return f'<a class="failed" href="{href}" title="{label}">{html.escape(name)} ({label})</a>'


def write_index(reports_dir: Path) -> Path:
    """Write ``reports_dir/index.html`` atomically (temporary file, then rename).

    The index is read and written under an exclusive lock on ``reports_dir/.index.lock``, so
    that two batches finishing at once (schedulers run ``liftlab report`` side by side) write
    one after the other, the later one listing the runs of both.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "index.html"
    with locked(reports_dir / ".index.lock"):
        atomic_write(path, index_html(reports_dir))
    return path


if __name__ == "__main__":
    code = _serve()
    # Every run's files are written and closed, and the kernel reaped: end without tearing
    # the interpreter down (a seventh of a second the batch would wait for).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
