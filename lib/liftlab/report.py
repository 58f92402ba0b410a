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

The run id is the UTC time ``YYYYMMDDTHHMMSSZ`` (plus ``-2``, ``-3``, … when that folder
exists). After all plans, ``reports/index.html`` lists every experiment and run, newest
first, with the verdict each run wrote to its ``results.json``.

:func:`project_path` and :func:`load_results` are what the notebook calls, so that it runs the
same under papermill (cwd = project root) and in JupyterLab (cwd = ``notebooks/``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from liftlab.errors import LiftlabError
from liftlab.plan import load_plan

if TYPE_CHECKING:
    import nbformat
    from rich.console import Console

    from liftlab.analysis import Results
    from liftlab.plan import Plan

NOTEBOOK = Path("notebooks") / "analyze.ipynb"
PACKAGE_PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_DIR = re.compile(r"^(?P<ts>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?(?P<failed>-failed)?$")
REMOVED_CELL_TAGS = ("remove-cell", "parameters", "injected-parameters")

# The nbconvert "lab" template without its CDN scripts (require.js, MathJax, Mermaid), with
# SVG outputs inlined as they are (the stock template base64-encodes them, or sanitises them
# away), and a readable page width.
_TEMPLATE_NAME = "liftlab-report.html.j2"
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}
<style type="text/css">
main { max-width: 1080px; margin: 0 auto; padding: 12px 24px 48px 24px; }
.jp-RenderedSVG svg { max-width: 100%; height: auto; }
.jp-RenderedHTMLCommon table { font-size: 0.95em; }
</style>
{% endblock extra_css %}
{% block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
{{ output.data['image/svg+xml'] }}
</div>
{%- endblock data_svg %}
"""


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

    Both paths go through :func:`project_path`.
    """
    from liftlab.analysis import analyze

    plan = load_plan(project_path(plan_path))
    return analyze(plan, project_path(data_path) if data_path else None)


# ---- running reports ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOutcome:
    """Where one plan's report went and whether it succeeded."""

    plan: str
    folder: Path
    ok: bool
    message: str


def run_reports(
    plans: list[Path],
    *,
    data: str | Path | None = None,
    reports_dir: str | Path | None = None,
    console: Console | None = None,
) -> bool:
    """Run the analysis notebook for each plan; write ``reports/index.html``.

    Args:
        plans: plan files (``experiments/<slug>.yaml``).
        data: a unit table overriding each plan's ``data.units`` (relative to the cwd).
        reports_dir: where reports go; default ``<project root>/reports`` of each plan.
        console: where progress and errors are printed (default: stderr).

    Returns:
        True when every plan produced a report.
    """
    if console is None:
        from rich.console import Console

        console = Console(stderr=True, highlight=False, soft_wrap=True)
    data_abs = Path(data).expanduser().resolve() if data is not None else None
    roots: list[Path] = [Path(reports_dir).resolve()] if reports_dir is not None else []
    ok = True
    for path in plans:
        try:
            plan = load_plan(path)
        except LiftlabError as exc:
            console.print(str(exc), markup=False)
            ok = False
            continue
        root = Path(reports_dir).resolve() if reports_dir is not None else plan.root / "reports"
        if root not in roots:
            roots.append(root)
        outcome = run_report(plan, Path(path), data=data_abs, reports_dir=root)
        console.print(outcome.message, markup=False)
        ok = ok and outcome.ok
    for root in roots:
        if root.is_dir():
            console.print(f"index: {write_index(root)}", markup=False)
    return ok


def find_notebook(plan: Plan) -> Path | None:
    """``notebooks/analyze.ipynb`` in the plan's project, else in liftlab's own project."""
    for root in (plan.root, PACKAGE_PROJECT_ROOT):
        candidate = root / NOTEBOOK
        if candidate.is_file():
            return candidate
    return None


def run_report(
    plan: Plan, plan_path: Path, *, data: Path | None = None, reports_dir: Path
) -> RunOutcome:
    """Execute the notebook for one plan into ``reports_dir/<slug>/<run-id>[-failed]/``."""
    import papermill as pm

    notebook = find_notebook(plan)
    if notebook is None:
        return RunOutcome(
            plan.name,
            reports_dir,
            False,
            f"{plan.source}: {NOTEBOOK} not found in {plan.root} or {PACKAGE_PROJECT_ROOT}; "
            "restore the analysis notebook",
        )
    slug_dir = reports_dir / plan.name
    run_id, tmp = _new_run_folder(slug_dir)
    executed = tmp / "report.ipynb"
    results_json = tmp / "results.json"
    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters={
                "plan_path": str(plan_path.resolve()),
                "data_path": str(data) if data is not None else None,
                "results_path": str(results_json),
                "static_charts": True,
            },
            kernel_name="python3",
            cwd=str(plan.root),
            progress_bar=False,
            **_kernel_options(),
        )
        if not results_json.is_file():
            raise RuntimeError(f"{NOTEBOOK} ran but wrote no results.json")
        _write_html(executed, tmp / "report.html", title=f"{plan.name}: liftlab report")
    except Exception as exc:
        failed = slug_dir / f"{run_id}-failed"
        if executed.is_file() and not (tmp / "report.html").exists():
            try:  # best effort: the error is easier to read in HTML
                _write_html(executed, tmp / "report.html", title=f"{plan.name}: failed run")
            except Exception:  # the executed notebook is kept either way
                pass
        tmp.rename(failed)
        return RunOutcome(
            plan.name,
            failed,
            False,
            f"{plan.source}: report failed: {_error_line(exc)} (notebook kept in "
            f"{failed / 'report.ipynb'})",
        )
    except BaseException:  # interrupted: keep what ran, as a failed run
        tmp.rename(slug_dir / f"{run_id}-failed")
        raise
    final = slug_dir / run_id
    tmp.rename(final)
    verdict = _verdict(final / "results.json") or "done"
    return RunOutcome(plan.name, final, True, f"{plan.name}: {verdict} → {final / 'report.html'}")


def _kernel_options() -> dict[str, Any]:
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
    return _first_line(f"{type(exc).__name__}: {exc}")


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


# ---- HTML export -------------------------------------------------------------------------------
def html_exporter() -> Any:
    """nbconvert's HTML exporter as reports use it: no code, no prompts, no CDN scripts."""
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
    """The executed notebook ``nb`` as a self-contained HTML page (code hidden)."""
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    return str(body)


def _write_html(notebook: Path, target: Path, *, title: str) -> None:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    _atomic_write(target, export_html(nb, title=title))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ---- index -------------------------------------------------------------------------------------
def _run_key(name: str) -> tuple[str, int]:
    m = RUN_DIR.match(name)
    assert m is not None
    return m["ts"], int(m["n"] or 1)


def list_runs(experiment_dir: Path) -> list[Path]:
    """The run folders of one experiment, newest first (``.tmp-*`` folders are skipped)."""
    runs = [p for p in experiment_dir.iterdir() if p.is_dir() and RUN_DIR.match(p.name)]
    return sorted(runs, key=lambda p: _run_key(p.name), reverse=True)


def _read_results(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _verdict(results_json: Path) -> str | None:
    """``SHIP benefit``, ``INCONCLUSIVE``, … from a run's results.json (None if unreadable)."""
    data = _read_results(results_json)
    decision = (data or {}).get("decision")
    if not isinstance(decision, dict) or not decision.get("recommendation"):
        return None
    text = str(decision["recommendation"]).replace("_", " ").upper()
    if decision.get("variant") and decision["recommendation"] == "ship":
        text += f" {decision['variant']}"
    return text


def _href(*parts: str) -> str:
    return "/".join(quote(p) for p in parts)


def index_html(reports_dir: Path) -> str:
    """A plain HTML page listing every experiment under ``reports_dir`` and its runs."""
    experiments = sorted(
        p for p in reports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>liftlab reports</title>',
        "<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;"
        "padding:0 1em;line-height:1.5}li{margin:.15em 0}.failed{color:#b42318;"
        "font-weight:600}.latest{font-weight:600}.run{font-family:ui-monospace,monospace}"
        "</style></head><body>",
        "<h1>liftlab reports</h1>",
    ]
    listed = 0
    for exp in experiments:
        runs = list_runs(exp)
        if not runs:
            continue
        listed += 1
        good = [r for r in runs if not RUN_DIR.match(r.name)["failed"]]  # type: ignore[index]
        latest = _verdict(good[0] / "results.json") if good else None
        head = f"<h2>{html.escape(exp.name)}</h2>"
        if good:
            head += (
                f'<p class="latest">Latest verdict: {html.escape(latest or "unknown")} '
                f"(run {html.escape(good[0].name)})</p>"
            )
        else:
            head += '<p class="failed">No successful run yet.</p>'
        parts.append(head)
        parts.append("<ul>")
        for run in runs:
            failed = bool(RUN_DIR.match(run.name)["failed"])  # type: ignore[index]
            target = "report.html" if (run / "report.html").is_file() else "report.ipynb"
            link = f'<a class="run" href="{_href(exp.name, run.name, target)}">{html.escape(run.name)}</a>'
            if failed:
                status = '<span class="failed">failed</span>'
            else:
                status = html.escape(_verdict(run / "results.json") or "no results.json")
            parts.append(f"<li>{link}: {status}</li>")
        parts.append("</ul>")
    if not listed:
        parts.append("<p>No reports yet. Run <code>liftlab report experiments/*.yaml</code>.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_index(reports_dir: Path) -> Path:
    """Write ``reports_dir/index.html`` atomically (temporary file, then rename)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "index.html"
    _atomic_write(path, index_html(reports_dir))
    return path
