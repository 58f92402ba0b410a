"""The design report: how many units a plan needs and how long it runs, as one HTML page.

``liftlab design PLAN --report`` calls :func:`write_design_report`: papermill runs
``notebooks/design.ipynb`` with the kernel options of :mod:`liftlab.report`, and the report's
exporter (:func:`liftlab.report.export_html`: code hidden, charts as inline SVG, nothing
fetched from the network) turns it into ``reports/<plan name>/design.html``. The page is
written to a temporary file and renamed over the old one, so a failed run leaves an earlier
``design.html`` as it was.

The notebook is one call into this module per section, in the order a reader wants them:
:func:`design_from_parameters` (the plan with the notebook's overrides, designed by
:func:`liftlab.design.design_plan`), :func:`title_markdown`, the answer first
(:func:`answer_html`), :func:`warnings_html`, the per-metric table (:func:`metrics_html`), the
power curve, the trade-off between weeks and the detectable change (:func:`tradeoff_views`),
where each input came from (:func:`inputs_html`), the conventions
(:func:`conventions_markdown`) and the provenance footer (:func:`footer_markdown`).

Every notebook parameter left at ``None`` means "the plan's". :data:`PLAN_SETTINGS` maps the
others onto :meth:`liftlab.plan.Plan.with_` (``convention`` is ``analysis.sample_size``);
``baseline`` and ``sd`` go to :func:`~liftlab.design.design_plan`, ``history`` (a table path or
name) is read with :func:`liftlab.history.read_history` and wins over the plan's baselines (as
``liftlab design --history``), and ``n_per_variant`` (else the plan's
``design.n_per_variant``) adds the change that many units detect
(:meth:`~liftlab.design.PlanDesign.reach`). The design names each parameter given as the
source of its value (``parameter mde``).
"""

from __future__ import annotations

import datetime as dt
import html
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liftlab import __version__
from liftlab import format as fmt
from liftlab.design import METHOD_WORDS, TRADEOFF_WEEKS, PlanDesign, Reach, design_plan
from liftlab.errors import LiftlabError, did_you_mean
from liftlab.files import StorageError, atomic_write
from liftlab.plan import Plan, load_plan
from liftlab.present import CORRECTION_NAMES, answer_box, md_text, warning_box
from liftlab.report import PACKAGE_PROJECT_ROOT, export_html, kernel_options, project_path

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
FORMULAS = {
    "unpooled": "the normal approximation with each arm's own variance (unpooled), the "
    "formula that matches the Welch test of the analysis",
    "pooled": "the classic two-proportion formula (variance pooled under the null)",
    "arcsine": "Cohen's h, the arcsine-transformed difference of proportions",
}
_ACCENT = "#175cd3"  # the report's link blue: a design is neither a go nor a stop


@dataclass(frozen=True)
class DesignRun:
    """A design as the notebook shows it.

    Attributes:
        plan: the plan designed, the notebook's overrides applied.
        original: the plan as its file says (its path and SHA-256 are the report's).
        design: :func:`~liftlab.design.design_plan` of ``plan``.
        given: the notebook parameters that were not ``None``, by name.
        reach: the change ``n_per_variant`` units detect (the parameter, else the plan's
            ``design.n_per_variant``), or ``None``.
        started_at: when the design was made (UTC).
    """

    plan: Plan
    original: Plan
    design: PlanDesign
    given: dict[str, Any] = field(default_factory=dict)
    reach: Reach | None = None
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
    sources = {
        PLAN_SETTINGS.get(k, k): f"parameter {k}"
        for k in given
        if k not in ("history", "n_per_variant")
    }
    history = None
    if "history" in given:
        from liftlab.history import read_history

        history = read_history(plan, given["history"])
    design = design_plan(
        plan,
        baseline=given.get("baseline"),
        sd=given.get("sd"),
        history=history,
        sources=sources,
        history_first=history is not None,
    )
    n = plan.design.n_per_variant if plan.design is not None else None
    reach = design.reach(n_per_variant=n) if n is not None else None
    return DesignRun(plan=plan, original=original, design=design, given=given, reach=reach)


# ---- sections ----------------------------------------------------------------------------------
def title_markdown(run: DesignRun) -> str:
    """The plan's name, what the page is, and the hypothesis."""
    plan = run.plan
    shares = ", ".join(f"{md_text(k)} {fmt.percent(w, 1)}" for k, w in plan.weights.items())
    facts = [f"{plan.kind.replace('_', ' ')} test", METHOD_WORDS[run.design.method], shares]
    if plan.owner:
        facts.append(f"owner: {md_text(plan.owner)}")
    return (
        f"# {md_text(plan.name)}: sample size and duration\n\n"
        f"*{' · '.join(facts)}*\n\n"
        f"> **Hypothesis.** {md_text(plan.hypothesis)}\n"
    )


def headline(design: PlanDesign) -> str:
    """The answer in a few words: ``14,749 users per variant · 2 weeks`` (with unequal
    arms, the units in total)."""
    noun = design.nouns(2)
    if design.equal_weights:
        text = f"{fmt.count(design.n_per_variant)} {noun} per variant"
    else:  # unequal arms: the total here, each arm's units in the sentence
        text = f"{fmt.count(design.total)} {noun} in total"
    if design.method == "group-sequential":
        text = "at most " + text
    if design.weeks is not None:
        text += f" · {design.weeks}\u00a0{'week' if design.weeks == 1 else 'weeks'}"
    return text[:1].upper() + text[1:]


def answer_html(run: DesignRun) -> str:
    """The answer first, in the report's verdict box: units per variant and weeks, the
    design's sentence, what its method adds, and what the fixed size detects (if any)."""
    d = run.design
    body = html.escape(" ".join(t for t in (d.sentence(), d.method_text()) if t))
    if run.reach is not None:
        body += f'<div style="margin-top: 8px;">{html.escape(run.reach.sentence())}</div>'
    # the report's verdict box, in the design's blue
    return answer_box("design", "Design", headline(d), body, accent=_ACCENT, background="#eff8ff")


def warnings_html(run: DesignRun) -> str:
    """What a reader must know before trusting the number, one line each (empty if none)."""
    if not run.design.warnings:
        return ""
    return warning_box("flagged", "Before you plan on it", items=run.design.warnings)


def html_table(
    header: list[str], rows: list[list[str]], *, bold: int | None = None, numbers: bool = True
) -> str:
    """Display strings as an HTML table, every cell escaped: the first column left and, with
    ``numbers``, the others right-aligned; row ``bold`` (0-based) in bold."""
    right = ' style="text-align: right;"'
    strong = ' style="font-weight: 600;"'

    def cells(tag: str, values: list[str]) -> str:
        return "".join(
            f"<{tag}{right if numbers and i > 0 else ''}>{html.escape(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(
        f"<tr{strong if n == bold else ''}>{cells('td', r)}</tr>" for n, r in enumerate(rows)
    )
    return (
        f'<table class="liftlab-design-table"><thead><tr>{cells("th", header)}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def metrics_html(run: DesignRun) -> str:
    """Each primary metric's design (:meth:`~liftlab.design.PlanDesign.table_text`) in its own
    units, one column per metric; where the baselines came from is in :func:`inputs_html`."""
    d = run.design
    labels = [d.labels.get(k, k) for k in d.metrics]
    rows = [[q, *vals] for q, vals in d.table_text() if not q.endswith(" from")]
    lead = ""
    if len(labels) > 1:
        binding = html.escape(d.labels.get(d.binding_metric, d.binding_metric))
        lead = (
            "<p>Each primary metric sized on its own; the test needs the most any of them "
            f"needs, here <b>{binding}</b>'s.</p>"
        )
    return "<h2>Each primary metric</h2>" + lead + html_table(["", *labels], rows)


def _mde_text(d: PlanDesign, metric: str, abs_mde: float | None, rel: float | None) -> str:
    if abs_mde is None:
        return "out of reach"
    disp = d.displays.get(metric, fmt.Display(metric))
    absolute = fmt.effect_only(disp, abs_mde, "absolute")
    return f"{fmt.percent(rel, 1, sign=True)} ({absolute})" if rel is not None else absolute


def tradeoff_views(run: DesignRun) -> list[Any]:
    """The smallest change each primary metric detects after 1 to 8 weeks of the daily
    traffic: a heading, :meth:`~liftlab.design.PlanDesign.mde_chart` and a table
    (:data:`~liftlab.design.TRADEOFF_WEEKS` and the design's own weeks, in bold). Without
    daily traffic, a line saying what to give."""
    from IPython.display import HTML, Markdown

    d = run.design
    head = "## Duration and the smallest detectable change\n\n"
    if d.daily_units is None:
        return [
            Markdown(
                head + "Give the daily traffic (`daily_units`, or `design.daily_units` "
                "in the plan) to see how the detectable change shrinks week by week."
            )
        ]
    text = (
        f"The change each primary metric detects with {fmt.percent(d.power, 0)} power after "
        f"so many weeks at {fmt.count(d.daily_units)} {d.nouns(2)} a day, by the plan's method."
    )
    shown = {*TRADEOFF_WEEKS, *([d.weeks] if d.weeks is not None else [])}
    rows = d.tradeoff(sorted(shown))
    weeks = list(dict.fromkeys(r["weeks"] for r in rows))
    equal = d.equal_weights
    labels = [d.labels.get(k, k) for k in d.metrics]
    table = []
    for w in weeks:
        here = {r["metric"]: r for r in rows if r["weeks"] == w}
        first = next(iter(here.values()))
        table.append(
            [
                f"{w:g}",
                fmt.count(first["days"]),
                fmt.count(first["n_per_variant" if equal else "total"]),
                *(_mde_text(d, k, here[k]["abs_mde"], here[k]["rel_mde"]) for k in d.metrics),
            ]
        )
    units = f"{d.nouns(2)} {'per variant' if equal else 'in total'}"
    header = ["weeks", "days", units, *(f"{x}: MDE" for x in labels)]
    bold = weeks.index(d.weeks) if d.weeks in weeks else None
    return [Markdown(head + text), d.mde_chart(), HTML(html_table(header, table, bold=bold))]


def inputs_html(run: DesignRun) -> str:
    """Each input with its value and where it came from
    (:meth:`~liftlab.design.PlanDesign.inputs_text`: the settings, then each primary metric's
    baseline, sd and CUPED ρ), with the traffic shares and the fixed size after the settings."""
    d = run.design
    rows = [list(r) for r in d.inputs_text()]
    shares = ", ".join(f"{k} {fmt.percent(w, 1)}" for k, w in d.weights.items())
    extra = [["traffic shares", shares, "plan (variants)"]]
    if run.reach is not None:
        given = "n_per_variant" in run.given
        where = "parameter n_per_variant" if given else "plan (design.n_per_variant)"
        extra.append(
            [f"{d.nouns(2)} per variant, fixed", fmt.count(run.reach.n_per_variant), where]
        )
    at = len(d.inputs)
    rows[at:at] = extra
    return "<h2>Where the inputs came from</h2>" + html_table(
        ["input", "value", "from"], rows, numbers=False
    )


def conventions_markdown(run: DesignRun) -> str:
    """The method and formula behind the numbers, in a short paragraph."""
    d = run.design
    b = d.binding
    mde = (
        f"{fmt.percent(d.mde, 1, sign=True)} relative"
        if d.mde_type == "relative"
        else (f"{d.mde:+g} absolute")
    )
    if d.method in ("frequentist", "group-sequential"):
        formula = FORMULAS.get(d.convention, d.convention)
    else:
        formula = "the analysis's per-unit variances (unpooled normal approximation)"
    text = (
        f"Sized as {_article(METHOD_WORDS[d.method])} on {formula}, for a change of {mde} in the "
        f"direction each metric should move, with {fmt.percent(d.power, 0)} power."
    )
    if d.method == "bayesian":
        text += " The Bayesian analysis decides each comparison alone: no correction."
    else:
        sided = "two-sided" if b.alternative == "two-sided" else "one-sided"
        text += f" α = {d.alpha:g} ({sided})"
        if d.comparisons > 1 and d.correction != "none":
            text += (
                f"; the {d.comparisons} comparisons (primary metrics × treatments) are "
                f"corrected by {CORRECTION_NAMES.get(d.correction, d.correction)} and sized "
                f"at the Bonferroni level α / {d.comparisons} = {b.alpha_per_comparison:.4g}, "
                "which the step-wise corrections only improve on"
            )
        text += "."
    if d.daily_units:
        text += (
            f" Days are the total over {fmt.count(d.daily_units)} a day, rounded up; weeks round "
            "the days up to whole weeks, so every weekday is seen as often."
        )
    return (
        "## Conventions\n\n" + text + " Formulas and references: `liftlab.design` and "
        "`liftlab.stats.power`.\n"
    )


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def footer_markdown(run: DesignRun) -> str:
    """Provenance: the plan file and its SHA-256, liftlab's version, when, the parameters."""
    from liftlab.provenance import relative

    plan = run.original
    path = relative(plan.path, plan.root) if plan.path is not None else "<plan>"
    given = ", ".join(f"{k}={v!r}" for k, v in run.given.items()) or "none (the plan's values)"
    when = run.started_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"- **Plan**: `{md_text(path)}`, sha256 `{plan.sha256 or 'none'}`",
        f"- **Parameters**: {md_text(given)}",
        f"- **Code**: liftlab {md_text(__version__)}",
        f"- **Designed**: {when}",
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
        try:
            page = _export(executed, plan)
        except Exception as exc:  # nbconvert: one line too, the earlier page kept
            raise _failure(exc, plan, "exporting HTML") from None
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
        raise _failure(exc, plan) from None


def _failure(exc: BaseException, plan: Plan, where: str = f"in {NOTEBOOK}") -> LiftlabError:
    """One line for a run that failed. A mistake the notebook reported (a
    :class:`LiftlabError`: a plan field, a history table) is passed on as it reads, naming its
    file; anything else is named with the notebook and the exception's type."""
    ename = getattr(exc, "ename", None)
    evalue = str(getattr(exc, "evalue", "") or "")
    lines = [line.strip() for line in evalue.splitlines() if line.strip()]
    if ename in _error_names(LiftlabError) and lines:
        return LiftlabError(lines[0])
    if ename:
        text = f"{ename}: {lines[0]}" if lines else str(ename)
    else:
        first = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
    return LiftlabError(
        f"design report failed: {text} ({where}); an earlier design.html is unchanged",
        source=plan.source,
    )


def _error_names(cls: type[BaseException]) -> set[str]:
    """The names of ``cls`` and of every subclass (the notebook's exceptions arrive by name)."""
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _error_names(sub)
    return names


def _export(executed: Path, plan: Plan) -> str:
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    return export_html(nb, title=f"{plan.name}: liftlab design")
