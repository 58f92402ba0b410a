"""The ``liftlab`` command line: validate, analyze, design, report, html, check, simulate.

User mistakes end with one line on stderr naming the file, the field and the fix, and exit
status 2. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from liftlab.errors import LiftlabError

app = typer.Typer(
    name="liftlab",
    help="Design and analyse A/B tests on landing pages, pricing and ad creatives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

PlanArg = Annotated[Path, typer.Argument(help="Plan file (experiments/<slug>.yaml).")]


@app.command()
def validate(
    plans: Annotated[list[Path], typer.Argument(help="Plan files to check.")],
) -> None:
    """Check plan files; print one line per plan, exit 2 if any is invalid."""
    from liftlab.plan import load_plan

    failed = 0
    for path in plans:
        try:
            plan = load_plan(path)
        except LiftlabError as exc:
            err.print(str(exc), markup=False)
            failed += 1
            continue
        out.print(
            f"ok: {path} ({plan.name}, {plan.kind}, {len(plan.variants)} variants, "
            f"{len(plan.metrics)} metrics)",
            markup=False,
        )
    if failed:
        raise typer.Exit(2)


@app.command()
def analyze(
    plan_path: PlanArg,
    data: Annotated[
        Path | None, typer.Option("--data", help="Unit table overriding the plan's data.units.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
) -> None:
    """Analyse a plan on its data and print the results (a table, or JSON with --json)."""
    from liftlab.analysis import analyze as run
    from liftlab.plan import load_plan

    results = run(load_plan(plan_path), data)
    if as_json:
        sys.stdout.write(results.to_json())
        return
    _print_results(results)


def _print_results(results) -> None:  # type: ignore[no-untyped-def]
    d = results.decision
    out.print(f"[bold]{results.plan.name}[/bold]: {d.recommendation.upper()}")
    out.print(d.reason, markup=False)
    srm = results.srm
    out.print(f"SRM: p = {srm.p_value:.3g} ({'MISMATCH' if srm.mismatch else 'ok'})")
    table = Table("metric", "role", "variant", "control", "variant mean", "lift", "95% CI", "p adj")
    for m in results.metrics:
        for c in m.comparisons:
            e = c.effect
            ci = f"{e.rel_ci[0]:+.1%} … {e.rel_ci[1]:+.1%}" if e.rel_ci else "n/a"
            table.add_row(
                m.metric.name,
                m.metric.role,
                c.variant,
                f"{e.control_mean:.4g}",
                f"{e.treatment_mean:.4g}",
                f"{e.rel_effect:+.2%}",
                ci,
                f"{c.p_value_adjusted:.3g}" + (" *" if c.significant else ""),
            )
    out.print(table)


@app.command()
def design(
    plan_path: Annotated[
        Path | None, typer.Argument(help="Plan whose primary metrics to size (optional).")
    ] = None,
    metric_type: Annotated[
        Literal["proportion", "mean", "ratio"],
        typer.Option("--type", help="Metric type (without a plan); mean and ratio need --sd."),
    ] = "proportion",
    baseline: Annotated[
        float | None, typer.Option(help="Control rate or mean (overrides the plan's).")
    ] = None,
    sd: Annotated[float | None, typer.Option(help="Unit-level standard deviation (means).")] = None,
    mde: Annotated[float, typer.Option(help="Minimum detectable effect.")] = 0.05,
    mde_type: Annotated[
        Literal["relative", "absolute"], typer.Option(help="How --mde is expressed.")
    ] = "relative",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Target power.")] = 0.8,
    arms: Annotated[int, typer.Option(help="Number of variants, control included.")] = 2,
    convention: Annotated[
        Literal["unpooled", "pooled", "arcsine"], typer.Option(help="Sample-size formula.")
    ] = "unpooled",
    correction: Annotated[
        Literal["none", "bonferroni", "holm", "hochberg", "bh", "by"],
        typer.Option(help="Multiple-testing correction (sized as Bonferroni)."),
    ] = "none",
    daily_units: Annotated[
        float | None, typer.Option(help="Units entering the test per day (all arms).")
    ] = None,
    alternative: Annotated[
        Literal["two-sided", "one-sided"], typer.Option(help="Test sidedness.")
    ] = "two-sided",
    n_per_variant: Annotated[
        int | None, typer.Option(help="Instead of a sample size, give the MDE reachable with n.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sample size per variant, total and duration; or the MDE reachable with --n-per-variant."""
    import json

    from liftlab.stats import power as pw

    try:
        if plan_path is not None:
            from liftlab.design import design_plan
            from liftlab.plan import load_plan

            result = design_plan(
                load_plan(plan_path), daily_units=daily_units, baseline=baseline, sd=sd
            ).to_dict()
        elif n_per_variant is not None:
            value = pw.mde(
                metric_type=metric_type,
                baseline=_need(baseline, "--baseline"),
                n_per_variant=n_per_variant,
                sd=sd,
                alpha=alpha,
                power=power,
                alternative=alternative,
                arms=arms,
                convention=convention,
                correction=correction,
                mde_type=mde_type,
            )
            result = {"n_per_variant": n_per_variant, "mde": value, "mde_type": mde_type}
        else:
            result = pw.sample_size(
                metric_type=metric_type,
                baseline=_need(baseline, "--baseline"),
                mde=mde,
                mde_type=mde_type,
                sd=sd,
                alpha=alpha,
                power=power,
                alternative=alternative,
                arms=arms,
                convention=convention,
                correction=correction,
                daily_units=daily_units,
            ).to_dict()
    except ValueError as exc:
        raise LiftlabError(f"{exc}", source="liftlab design") from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    table = Table("quantity", "value")
    for key, value in _flatten(result):
        table.add_row(key, f"{value:,.6g}" if isinstance(value, float) else str(value))
    out.print(table)


def _need(value: float | None, flag: str) -> float:
    if value is None:
        raise LiftlabError(
            f"{flag} is required without a plan; give e.g. {flag} 0.1", source="liftlab design"
        )
    return value


def _flatten(d: dict, prefix: str = ""):  # type: ignore[no-untyped-def,type-arg]
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for i, item in enumerate(v):
                yield from _flatten(item, f"{prefix}{k}[{i}].")
        else:
            yield f"{prefix}{k}", v


@app.command()
def report(
    plans: Annotated[list[Path], typer.Argument(help="Plan files to report on.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Unit table overriding data.units (one plan).")
    ] = None,
    reports_dir: Annotated[
        Path | None, typer.Option("--reports", help="Reports folder (default: <project>/reports).")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Plans run at once.")] = 1,
    timeout: Annotated[
        float,
        typer.Option(min=0, help="Seconds one run may take before it is stopped (0: no limit)."),
    ] = 1800.0,
) -> None:
    """Run notebooks/analyze.ipynb for each plan into reports/<slug>/<run-id>/.

    Exits 1 when any plan failed (its executed notebook is kept in <run-id>-failed/ and
    marked in reports/index.html); earlier good runs are never touched. On a terminal a
    progress bar shows; otherwise (a pipe, a log file) stdout gets one line as each plan
    starts and one as it ends, with its status, time and report.
    """
    from liftlab.report import run_reports

    if data is not None and len(plans) > 1:
        raise LiftlabError(
            "--data applies to one plan; give a single plan", source="liftlab report"
        )
    outcomes = run_reports(
        plans,
        data=data,
        reports_dir=reports_dir,
        console=err,
        jobs=jobs,
        timeout=timeout,
        lines=None if sys.stdout.isatty() else out,
    )
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


@app.command()
def html(
    notebook: Annotated[Path, typer.Argument(help="An executed report notebook (.ipynb).")],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: next to the notebook).")
    ] = None,
) -> None:
    """Export an executed notebook (e.g. run by hand with papermill) as an offline HTML report."""
    from liftlab.report import write_html

    if not notebook.is_file():
        raise LiftlabError("file not found; give an executed .ipynb", source=str(notebook))
    target = out_path or notebook.with_suffix(".html")
    write_html(notebook, target)
    out.print(str(target), markup=False)


@app.command()
def check(
    pages: Annotated[list[Path], typer.Argument(help="HTML reports (or reports/index.html).")],
) -> None:
    """Open HTML reports in headless Chromium, offline: every chart drawn, no console error,
    no request off the machine. Exits 1 when a page fails."""
    from liftlab.browser import check_pages

    failed = 0
    for page in check_pages(pages):
        problems = page.problems()
        if problems:
            failed += 1
            for line in problems:
                err.print(line, markup=False)
        else:
            drawn = sum(c.drawn for c in page.charts)
            out.print(f"ok: {page.path} ({drawn} charts drawn, offline)", markup=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo data.")] = Path(
        "data"
    ),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261125,
    scale: Annotated[
        float, typer.Option(help="Multiply the event tables' unit counts (e.g. 100 for 12M).")
    ] = 1.0,
) -> None:
    """Write the demo data (known true effects): unit tables, event tables, truth.json."""
    import time

    from liftlab.simulate import simulate as make

    start = time.perf_counter()
    truths = make(out_dir, seed=seed, events_scale=scale)
    out.print(
        f"wrote {', '.join(f'{k}.parquet' for k in truths)}, shop.duckdb (event tables) and "
        f"truth.json to {out_dir}/ in {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    """Console-script entry point: one line and exit 2 on a user mistake."""
    try:
        app()
    except LiftlabError as exc:
        err.print(str(exc), markup=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
