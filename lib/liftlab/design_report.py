"""The design report: how many units a plan needs and how long it runs, as one HTML page.

``liftlab design PLAN --report`` calls :func:`write_design_report`: papermill runs
``notebooks/design.ipynb`` with the kernel options of :mod:`liftlab.report`, and the report's
exporter (:func:`liftlab.report.export_html`: code hidden, charts as inline SVG, nothing
fetched from the network) turns it into ``reports/<plan name>/design.html``. The page is
written to a temporary file and renamed over the old one, so a failed run leaves an earlier
``design.html`` as it was.

The notebook is one call into this module per section, in the order a reader wants them:
:func:`design_from_parameters` (the plan with the notebook's overrides, and its design by
:func:`liftlab.design.design_plan`), :func:`title_markdown`, the answer first
(:func:`answer_html`), :func:`warnings_html`, the per-metric table (:func:`metrics_html`), the
charts, where each input came from (:func:`sources_markdown`), the conventions
(:func:`conventions_markdown`) and the provenance footer (:func:`footer_markdown`).

Every notebook parameter left at ``None`` means "the plan's": :data:`PLAN_SETTINGS` maps the
others onto :meth:`liftlab.plan.Plan.with_` (``convention`` is ``analysis.sample_size``);
``baseline`` and ``sd`` go to :func:`~liftlab.design.design_plan`, and ``history`` (a table
path or name) is read with :func:`liftlab.history.read_history`.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liftlab import __version__
from liftlab import format as fmt
from liftlab.decision import display_of
from liftlab.design import PlanDesign, design_plan
from liftlab.errors import LiftlabError, did_you_mean
from liftlab.files import StorageError, atomic_write
from liftlab.plan import Plan, load_plan
from liftlab.present import CORRECTION_NAMES, md_text
from liftlab.report import PACKAGE_PROJECT_ROOT, export_html, kernel_options, project_path

if TYPE_CHECKING:
    from liftlab.stats.power import SampleSize

NOTEBOOK = Path("notebooks") / "design.ipynb"
# notebook parameter → the plan setting it overrides through Plan.with_
PLAN_SETTINGS = {
    "mde": "mde",
    "mde_type": "mde_type",
    "alpha": "alpha",
    "power": "power",
    "correction": "correction",
    "convention": "sample_size",
    "method": "method",
    "daily_units": "daily_units",
    "n_per_variant": "n_per_variant",
}
# every parameter of notebooks/design.ipynb besides plan_path, in its order
PARAMETERS = (
    "mde",
    "mde_type",
    "alpha",
    "power",
    "correction",
    "convention",
    "method",
    "daily_units",
    "baseline",
    "sd",
    "n_per_variant",
    "history",
)
_ANALYSIS_DEFAULTS = "liftlab's default"
_BOX = (  # the report's verdict box (liftlab.present.verdict_html), in a neutral blue
    '<div class="liftlab-verdict liftlab-design" style="border-left: 8px solid #175cd3; '
    "background: #eff8ff; color: #1b1b1b; padding: 14px 20px; margin: 8px 0 16px 0; "
    'border-radius: 4px;">'
)


@dataclass(frozen=True)
class DesignRun:
    """A design as the notebook shows it.

    Attributes:
        plan: the plan designed, the notebook's overrides applied.
        original: the plan as its file says (its path and SHA-256 are the report's).
        design: :func:`~liftlab.design.design_plan` of ``plan``.
        given: the notebook parameters that were not ``None``, by name.
        started_at: when the design was made (UTC).
    """

    plan: Plan
    original: Plan
    design: PlanDesign
    given: dict[str, Any] = field(default_factory=dict)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def plan_with_parameters(plan: Plan, parameters: dict[str, Any]) -> Plan:
    """``plan`` with the plan settings among ``parameters`` (those not ``None``) changed.

    Raises :class:`LiftlabError` for a name that is not a design parameter, and the plan's
    :class:`~liftlab.errors.PlanError` naming the field for a value the plan refuses.
    """
    for name in parameters:
        if name not in PARAMETERS:
            raise LiftlabError(
                f"'{name}' is not a parameter of {NOTEBOOK}{did_you_mean(name, PARAMETERS)}; "
                f"give one of {', '.join(PARAMETERS)}",
                source=plan.source,
            )
    settings = {
        PLAN_SETTINGS[k]: v for k, v in parameters.items() if k in PLAN_SETTINGS and v is not None
    }
    return plan.with_(**settings) if settings else plan


def design_from_parameters(plan_path: str | Path, **parameters: Any) -> DesignRun:
    """Load the plan (through :func:`~liftlab.report.project_path`), apply the parameters that
    are not ``None`` (:data:`PARAMETERS`) and design it."""
    original = load_plan(project_path(plan_path))
    plan = plan_with_parameters(original, parameters)
    given = {k: v for k, v in parameters.items() if v is not None}
    history = None
    if given.get("history") is not None:
        from liftlab.history import read_history

        history = read_history(plan, given["history"])
    design = design_plan(plan, baseline=given.get("baseline"), sd=given.get("sd"), history=history)
    return DesignRun(plan=plan, original=original, design=design, given=given)


# ---- sections ----------------------------------------------------------------------------------
def title_markdown(run: DesignRun) -> str:
    """The plan's name, what the page is, and the hypothesis."""
    plan = run.plan
    shares = ", ".join(
        f"{md_text(k)} {fmt.percent(w, 0 if (100 * w).is_integer() else 1)}"
        for k, w in plan.weights.items()
    )
    facts = [f"{plan.kind.replace('_', ' ')} test", f"{plan.analysis.method} analysis", shares]
    if plan.owner:
        facts.append(f"owner: {md_text(plan.owner)}")
    return (
        f"# {md_text(plan.name)}: sample size and duration\n\n"
        f"*{' · '.join(facts)}*\n\n"
        f"> **Hypothesis.** {md_text(plan.hypothesis)}\n"
    )


def headline(design: PlanDesign) -> str:
    """The answer in a few words: ``12,400 units per variant · 4 weeks``."""
    sizes = design.per_variant
    if len(set(sizes.values())) == 1:
        text = f"{design.n_per_variant:,} units per variant"
    else:
        text = " · ".join(f"{k} {v:,}" for k, v in sizes.items()) + " units"
    if design.weeks is not None:
        text += f" · {design.weeks} {'week' if design.weeks == 1 else 'weeks'}"
    return text


def answer_html(run: DesignRun) -> str:
    """The answer first: units per variant and weeks, then the design in one sentence, in the
    report's verdict box."""
    return (
        f"{_BOX}"
        '<div style="font-size: 0.85em; letter-spacing: 0.08em; text-transform: uppercase; '
        'color: #555;">Design</div>'
        '<div style="font-size: 1.9em; font-weight: 700; color: #175cd3; margin: 2px 0 6px 0;">'
        f"{html.escape(headline(run.design))}</div>"
        f'<div style="font-size: 1.1em; line-height: 1.45;">{_sentence_html(run.design)}</div>'
        "</div>"
    )


def _sentence_html(design: PlanDesign) -> str:
    """The design's one-sentence summary as HTML (its Markdown bold and code as tags)."""
    text = html.escape(design.summary_markdown(), quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def warnings_html(run: DesignRun) -> str:
    """What the design assumed or could not do, one line each (empty when nothing)."""
    notes = list(run.design.notes)
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        '<div class="liftlab-status liftlab-flagged" style="border-left: 5px solid #9a6700; '
        "background: #fff8e1; color: #1b1b1b; padding: 8px 14px; margin: 6px 0 10px 0; "
        'border-radius: 3px;"><b style="color: #9a6700;">⚠ Read before you plan:</b>'
        f'<ul style="margin: 4px 0 0 0;">{items}</ul></div>'
    )


def metric_row(plan: Plan, name: str, ss: SampleSize) -> dict[str, str]:
    """One primary metric's design as display strings, in the metric's own units."""
    display = display_of(plan, name)
    shown = fmt.values(display, {"baseline": ss.baseline, "target": ss.treatment})
    d = fmt.value_decimals(display, [abs(ss.abs_mde)]) if display.format != "percent" else 2
    change = fmt.delta(display, ss.abs_mde, d)
    if ss.rel_mde is not None:
        change = f"{fmt.percent(ss.rel_mde, 1, sign=True)} ({change})"
    row = {
        "metric": display.label,
        "baseline": shown["baseline"],
        "target": shown["target"],
        "change to detect": change,
        "sd per unit": fmt.value(display, ss.sd) if ss.sd is not None else fmt.DASH,
        "CUPED ρ": f"{ss.cuped_rho:.2f}" if ss.cuped_rho is not None else fmt.DASH,
    }
    equal = len(set(ss.per_variant.values())) == 1
    if equal:
        row["units per variant"] = fmt.count(ss.n_control)
    else:
        row |= {f"units: {k}": fmt.count(v) for k, v in ss.per_variant.items()}
    row["units in total"] = fmt.count(ss.total)
    row["days"] = fmt.count(ss.days) if ss.days is not None else fmt.DASH
    row["weeks"] = fmt.count(ss.weeks) if ss.weeks is not None else fmt.DASH
    return row


def html_table(rows: list[dict[str, str]], *, bold_first: bool = False) -> str:
    """Rows of display strings as an HTML table: the first column left, the others right
    (numbers), every cell escaped; ``bold_first`` sets the first row in bold."""
    heads = list(dict.fromkeys(k for r in rows for k in r))
    right = 'style="text-align: right; white-space: nowrap;"'
    head = "".join(
        f"<th{'' if i == 0 else ' ' + right}>{html.escape(h)}</th>" for i, h in enumerate(heads)
    )
    body = []
    for n, r in enumerate(rows):
        cells = "".join(
            f"<td{'' if i == 0 else ' ' + right}>{html.escape(r.get(h, fmt.DASH))}</td>"
            for i, h in enumerate(heads)
        )
        weight = ' style="font-weight: 600;"' if bold_first and n == 0 else ""
        body.append(f"<tr{weight}>{cells}</tr>")
    return (
        f'<table class="liftlab-design-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def metrics_html(run: DesignRun) -> str:
    """The per-metric table, the binding metric (the one that sets the size) first in bold."""
    d = run.design
    order = [d.binding_metric, *(k for k in d.metrics if k != d.binding_metric)]
    rows = [metric_row(run.plan, k, d.metrics[k]) for k in order]
    lead = (
        "<p>Each primary metric sized on its own; the test needs the largest, "
        f"<b>{html.escape(display_of(run.plan, d.binding_metric).label)}</b> (first, in bold)."
        "</p>"
        if len(rows) > 1
        else ""
    )
    return "<h2>Each primary metric</h2>" + lead + html_table(rows, bold_first=len(rows) > 1)


def _origin(run: DesignRun, name: str) -> str:
    """Where a plan setting came from: the notebook's parameter, the plan file or a default."""
    if name in run.given:
        return f"parameter `{name}`"
    setting = PLAN_SETTINGS[name]
    if setting in ("daily_units", "n_per_variant"):
        spec = run.original.design
        set_in_plan = spec is not None and getattr(spec, setting) is not None
        return f"plan, `design.{setting}`" if set_in_plan else "not given"
    if setting in run.original.analysis.model_fields_set:
        return f"plan, `analysis.{setting}`"
    return _ANALYSIS_DEFAULTS


def _metric_origins(run: DesignRun, name: str) -> tuple[str, str]:
    """Where a primary metric's baseline and sd came from."""
    i, metric = next((i, m) for i, m in enumerate(run.plan.metrics) if m.name == name)
    history = run.given.get("history")
    past = f"history `{md_text(history)}`" if history is not None else "not given"
    baseline = (
        "parameter `baseline`"
        if "baseline" in run.given
        else f"plan, `metrics[{i}].baseline`"
        if metric.baseline is not None
        else past
    )
    if metric.type == "proportion":
        return baseline, "from the baseline (a proportion)"
    sd = (
        "parameter `sd`"
        if "sd" in run.given
        else f"plan, `metrics[{i}].baseline_sd`"
        if metric.baseline_sd is not None
        else past
    )
    return baseline, sd


def sources_markdown(run: DesignRun) -> str:
    """Each input of the design with its value and where it came from, as a Markdown table."""
    d, a = run.design, run.plan.analysis
    mde = fmt.percent(d.mde, 1) if d.mde_type == "relative" else f"{d.mde:g}"
    spec = run.plan.design
    fixed = spec.n_per_variant if spec is not None else None
    rows = [
        ("change to detect (`mde`)", f"{mde} {d.mde_type}", _origin(run, "mde")),
        ("significance level (`alpha`)", f"{d.alpha:g}", _origin(run, "alpha")),
        ("power", fmt.percent(d.power, 0), _origin(run, "power")),
        (
            "correction",
            CORRECTION_NAMES.get(d.correction, d.correction),
            _origin(run, "correction"),
        ),
        ("sample-size formula", d.convention, _origin(run, "convention")),
        ("method", a.method, _origin(run, "method")),
        (
            "units a day",
            fmt.count(d.daily_units) if d.daily_units else fmt.DASH,
            _origin(run, "daily_units"),
        ),
        (
            "units per variant fixed by the team",
            fmt.count(fixed) if fixed else fmt.DASH,
            _origin(run, "n_per_variant"),
        ),
    ]
    shares = ", ".join(f"{md_text(k)} {fmt.percent(w, 1)}" for k, w in d.weights.items())
    rows.append(("traffic shares", shares, "plan, `variants`"))
    for name, ss in d.metrics.items():
        label = md_text(display_of(run.plan, name).label)
        baseline_from, sd_from = _metric_origins(run, name)
        rows.append(
            (
                f"{label}: baseline",
                fmt.value(display_of(run.plan, name), ss.baseline),
                baseline_from,
            )
        )
        if ss.sd is not None:
            rows.append((f"{label}: sd per unit", f"{ss.sd:,.4g}", sd_from))
    lines = ["## Where the inputs came from", "", "| input | value | from |", "|---|---:|---|"]
    lines += [f"| {k} | {v} | {src} |" for k, v, src in rows]
    return "\n".join(lines) + "\n"


FORMULAS = {
    "unpooled": "the normal approximation with each arm's own variance (unpooled), the "
    "formula that matches the Welch test of the analysis",
    "pooled": "the classic two-proportion formula (variance pooled under the null)",
    "arcsine": "Cohen's h, the arcsine-transformed difference of proportions",
}


def conventions_markdown(run: DesignRun) -> str:
    """The formula and the method behind the numbers, in a short paragraph."""
    d = run.design
    b = d.binding
    sided = "two-sided" if b.alternative == "two-sided" else "one-sided"
    text = (
        f"Units per variant come from {FORMULAS.get(d.convention, d.convention)}, at "
        f"α = {d.alpha:g} ({sided}) and {fmt.percent(d.power, 0)} power, for a change of "
        f"{fmt.percent(d.mde, 1) if d.mde_type == 'relative' else f'{d.mde:g}'} "
        f"({d.mde_type}) in the direction each metric should move."
    )
    if d.comparisons > 1:
        text += (
            f" The {d.comparisons} comparisons (primary metrics × treatments) are corrected "
            f"by {CORRECTION_NAMES.get(d.correction, d.correction)}; the design sizes each at "
            f"the Bonferroni level α / {d.comparisons} = {b.alpha_per_comparison:.4g}, "
            "which the step-wise corrections only improve on."
        )
    if d.sequential is not None:
        text += (
            f" The {d.sequential.get('kind')} group-sequential design with "
            f"{d.sequential.get('looks')} looks needs the fixed design × {b.inflation:.3f}."
        )
    if d.daily_units:
        text += (
            f" Days are the total over {fmt.count(d.daily_units)} units a day, rounded up; "
            "weeks round the days up to whole weeks, so every weekday is seen equally often."
        )
    return (
        "## Conventions\n\n"
        + text
        + " Formulas and references: `liftlab.stats.power`; what each plan field means: "
        "`liftlab.design`.\n"
    )


def footer_markdown(run: DesignRun) -> str:
    """Provenance: the plan file and its SHA-256, liftlab's version, when, the parameters."""
    from liftlab.provenance import relative

    plan = run.original
    path = relative(plan.path, plan.root) if plan.path is not None else "<plan>"
    given = ", ".join(f"{k}={v!r}" for k, v in run.given.items()) or "none (the plan's values)"
    lines = [
        f"- **Plan**: `{md_text(path)}`, sha256 `{plan.sha256 or 'none'}`",
        f"- **Parameters**: {md_text(given)}",
        f"- **Code**: liftlab {md_text(__version__)}",
        f"- **Designed**: {run.started_at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}",
    ]
    return "#### Provenance\n\n" + "\n".join(lines) + "\n"


# ---- the report --------------------------------------------------------------------------------
def find_design_notebook(plan: Plan) -> Path:
    """``notebooks/design.ipynb`` in the plan's project, else in liftlab's own project."""
    for root in (plan.root, PACKAGE_PROJECT_ROOT):
        if (root / NOTEBOOK).is_file():
            return root / NOTEBOOK
    raise LiftlabError(
        f"{NOTEBOOK} not found in {plan.root} or {PACKAGE_PROJECT_ROOT}; restore the notebook",
        source=plan.source,
    )


def write_design_report(
    plan_path: str | Path, params: dict[str, Any], reports_dir: Path | None = None
) -> Path:
    """Run ``notebooks/design.ipynb`` on the plan with ``params`` and write its HTML page.

    ``params`` are the notebook's parameters besides ``plan_path`` (:data:`PARAMETERS`;
    ``None`` means the plan's value). The page goes to ``<reports_dir>/<plan name>/design.html``
    (default ``reports_dir``: the plan's project's ``reports/``), replaced in one step; a run
    that fails leaves an earlier page untouched and raises :class:`LiftlabError` in one line
    (a bad parameter is refused before the notebook starts). Returns the page's path.
    """
    plan_file = Path(plan_path).expanduser().resolve()
    plan = load_plan(plan_file)
    plan_with_parameters(plan, params)  # a bad name or value: one line, no kernel started
    notebook = find_design_notebook(plan)
    folder = (Path(reports_dir) if reports_dir is not None else plan.root / "reports") / plan.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError.from_os_error(exc, folder) from None
    with tempfile.TemporaryDirectory(prefix="liftlab-design-") as tmp:
        executed = Path(tmp) / "design.ipynb"
        _execute(notebook, executed, {"plan_path": str(plan_file), **params}, plan)
        page = _export(executed, plan)
    target = folder / "design.html"
    try:
        atomic_write(target, page)
    except OSError as exc:
        raise StorageError.from_os_error(exc, target) from None
    return target


def _execute(notebook: Path, executed: Path, parameters: dict[str, Any], plan: Plan) -> None:
    """papermill runs ``notebook`` into ``executed``; any failure is one LiftlabError line."""
    import papermill as pm

    try:
        pm.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(plan.root),
            progress_bar=False,
            **kernel_options(),
        )
    except Exception as exc:
        raise LiftlabError(
            f"design report failed: {_one_line(exc)} (in {NOTEBOOK}); the earlier "
            "design.html, if any, is unchanged",
            source=plan.source,
        ) from None


def _export(executed: Path, plan: Plan) -> str:
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    return export_html(nb, title=f"{plan.name}: liftlab design")


def _one_line(exc: BaseException) -> str:
    """The notebook's exception (``ename: evalue``) or papermill's own, in one line."""
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = (
        (f"{ename}: {evalue}" if evalue else str(ename))
        if ename
        else f"{type(exc).__name__}: {exc}"
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
