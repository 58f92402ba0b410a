"""The ``liftlab`` command line: init, validate, analyze, design, report, html, check, simulate.

User mistakes end with one line on stderr naming the file, the field and the fix, and exit
status 2. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from liftlab import format as fmt
from liftlab.errors import LiftlabError, did_you_mean
from liftlab.stats.types import MetricType

if TYPE_CHECKING:
    from typer._click import exceptions as click

    from liftlab.analysis import Results
    from liftlab.design import PlanDesign, Reach
    from liftlab.headline import Headline
    from liftlab.plan import Plan
    from liftlab.progress import Progress

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
    no_data: Annotated[
        bool, typer.Option("--no-data", help="Check the YAML only, not the data's columns.")
    ] = False,
) -> None:
    """Check plan files and their data's columns and types (its schema and first rows, not a
    full read); print one line per plan, exit 2 if any is invalid."""
    from liftlab.exports import resolve_plan
    from liftlab.plan import load_plan
    from liftlab.units import check_data

    failed = 0
    for path in plans:
        try:
            plan = load_plan(path)
            if not no_data:
                check_data(plan)
                plan = resolve_plan(plan)  # an export's arms and groups, read from it
        except LiftlabError as exc:
            err.print(str(exc), markup=False)
            failed += 1
            continue
        arms = "variants from the data" if plan.arms_from_data else f"{len(plan.variants)} variants"
        out.print(
            f"ok: {path} ({plan.name}, {plan.kind}, {arms}, {len(plan.metrics)} metrics)",
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line per plan, however long: never wrapped at the width
        )
    if failed:
        raise typer.Exit(2)


@app.command()
def init(
    data: Annotated[Path, typer.Argument(help="A unit table: a .csv or .parquet file.")],
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the plan here (experiments/<name>.yaml); default: print it."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="The plan's name (a slug).")] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="The column holding the variants.")
    ] = None,
    control: Annotated[
        str | None, typer.Option("--control", help="The control arm's value.")
    ] = None,
) -> None:
    """Draft a plan from a table: its variant column, control, metrics, unit id and
    timestamp, as commented YAML to review (printed, or written to --out)."""
    from liftlab.init import draft, write_draft
    from liftlab.plan import project_root

    if name is None and out_path is not None:
        name = re.sub(r"[^a-z0-9]+", "-", out_path.stem.lower()).strip("-") or None
    root = project_root(out_path) if out_path is not None else Path.cwd()
    plan = draft(data, name=name, root=root, variant=variant, control=control)
    if out_path is None:
        sys.stdout.write(plan.text)
    else:
        write_draft(plan.text, out_path, force=force)
        out.print(f"wrote {out_path}", markup=False, highlight=False, soft_wrap=True)
    for note in plan.notes:
        err.print(f"liftlab init: {note}", markup=False)


OutputFormat = Literal["table", "markdown", "csv", "json"]


@app.command()
def analyze(
    plan_path: PlanArg,
    data: Annotated[
        Path | None, typer.Option("--data", help="Unit table overriding the plan's data.units.")
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="table (fits the terminal), markdown (a GitHub table), csv (raw numbers, "
            "one row per comparison) or json (results.json).",
        ),
    ] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The analysis as of the end of a day (2026-11-10): units exposed and events "
            "logged by then.",
        ),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option(
            "--segment",
            help="Only units in a segment, COLUMN=VALUE (repeat the option for more columns; "
            "VALUE,VALUE for several values).",
        ),
    ] = None,
) -> None:
    """Analyse a plan on its data and print the verdict and each comparison's headline:
    the change with its interval, the p-value or chance to beat control, and the status."""
    from liftlab.analysis import analyze as run
    from liftlab.plan import load_plan

    if as_json:
        if output_format not in ("table", "json"):
            raise LiftlabError(
                f"--json means --format json; give --json or --format {output_format}, not both",
                source="liftlab analyze",
            )
        output_format = "json"
    results = run(load_plan(plan_path), data, as_of=as_of, segment=_segments(segment or []))
    if output_format == "json":
        sys.stdout.write(results.to_json())
    elif output_format == "csv":
        sys.stdout.write(_csv_text(results))
    elif output_format == "markdown":
        sys.stdout.write(_markdown_text(results))
    else:
        _print_results(results)


def _segments(given: list[str]) -> dict[str, list[str]] | None:
    """``--segment device=mobile --segment channel=ads,email`` as ``analyze``'s mapping."""
    out: dict[str, list[str]] = {}
    for item in given:
        column, sep, values = item.partition("=")
        if not sep or not column.strip() or not values.strip():
            raise LiftlabError(
                f"--segment '{item}' is not COLUMN=VALUE; give e.g. --segment device=mobile",
                source="liftlab analyze",
            )
        out.setdefault(column.strip(), []).extend(v.strip() for v in values.split(","))
    return out or None


# ---- analyze: one row per comparison, its headline and nothing else as evidence --------------
@dataclass(frozen=True)
class _Row:
    """A comparison as the command line shows it: a treatment's headline on one metric."""

    metric: str
    label: str
    role: str
    control: str
    variant: str
    control_text: str
    treatment_text: str
    change: str
    probability: str
    status: str
    status_text: str
    headline: Headline | None


@dataclass(frozen=True)
class _Group:
    """A metric's rows, or why it has none (it could not be analysed)."""

    label: str
    role: str
    rows: list[_Row]
    note: str | None = None


def _groups(results: Results) -> list[_Group]:
    """The scorecard's rows (liftlab.scorecard), grouped by metric in its order; a metric
    that could not be analysed keeps its reason."""
    from liftlab.decision import display_of
    from liftlab.scorecard import ordered, scorecard_rows

    by_metric: dict[str, list[_Row]] = {}
    for r in scorecard_rows(results):
        by_metric.setdefault(r.metric, []).append(
            _Row(
                metric=r.metric,
                label=r.label,
                role=r.role,
                control=results.plan.control_name,
                variant=r.variant,
                control_text=r.control,
                treatment_text=r.treatment,
                change=r.change,
                probability=r.probability,
                status=r.headline.status,
                status_text=r.status,
                headline=r.headline,
            )
        )
    groups = []
    for m in ordered(results):
        label = display_of(results.plan, m.metric.name).label
        rows = by_metric.get(m.metric.name, [])
        why = None if rows else (m.reason or "could not be analysed")
        groups.append(_Group(label, m.metric.role, rows, why))
    return groups


_PROBABILITY_SHORT = {
    "p_adjusted": "p (adj.)",
    "p_value": "p",
    "always_valid_p_adjusted": "always-valid p (adj.)",
    "always_valid_p": "always-valid p",
    "chance_to_beat_control": "chance to beat control",
    "boundary": "boundary",
}
_UNADJUSTED = {"p_adjusted": "p_value", "always_valid_p_adjusted": "always_valid_p"}


def _probability_column(rows: list[_Row]) -> tuple[str, dict[str, str]]:
    """The probability column's header and the suffix each kind's cells carry: the header
    names the kind when every row shares it; adjusted p-values among raw ones say ``adj.``."""
    kinds = list(dict.fromkeys(r.headline.probability_kind for r in rows if r.headline))
    if not kinds:
        return "p", {}
    if len(kinds) == 1:
        return _PROBABILITY_SHORT.get(kinds[0], kinds[0]), {kinds[0]: ""}
    bases = {_UNADJUSTED.get(k, k) for k in kinds}
    if len(bases) == 1:
        base = bases.pop()
        header = _PROBABILITY_SHORT.get(base, base)
        return header, {k: " adj." if k in _UNADJUSTED else "" for k in kinds}
    return "p / chance", {k: f" ({_PROBABILITY_SHORT.get(k, k)})" for k in kinds}


def _probability_cell(row: _Row, suffix: dict[str, str]) -> str:
    if row.headline is None or row.probability == fmt.DASH:
        return row.probability
    return row.probability + suffix.get(row.headline.probability_kind, "")


def _verdict_text(results: Results) -> str:
    """The verdict's word, as every surface prints it (``LEADS`` for an observational winner:
    :func:`liftlab.headline.verdict_word`)."""
    from liftlab.headline import verdict_word

    return verdict_word(results.decision.recommendation, results.plan.randomization)


def _srm_text(results: Results) -> str:
    srm = results.srm
    if results.plan.randomization == "none":
        return "not applicable (randomization: none; observational comparison)"
    p = fmt.p_value(srm.p_value)
    test = f"χ² p {p}" if p.startswith("<") else f"χ² p = {p}"
    if not srm.mismatch:
        return f"ok ({test})"
    shares = ", ".join(f"{k} {fmt.percent(v)}" for k, v in srm.observed_shares.items())
    planned = ", ".join(f"{k} {fmt.percent(v)}" for k, v in srm.expected_weights.items())
    return f"MISMATCH ({test}, below {srm.alpha:g}): observed {shares}; planned {planned}"


def _counted(results: Results) -> str:
    from liftlab.progress import counted

    return counted(results.plan)


def _progress_text(p: Progress, noun: str = "units") -> str:
    if p.always_valid:
        reach = f"; about {p.always_valid_n:,} for its power" if p.always_valid_n else ""
        ref = f"; a fixed-horizon test would need {p.reference_n:,}" if p.reference_n else ""
        ref = reach + ref
        return f"{p.smallest:,} {noun} per variant so far (always-valid: no planned end{ref})"
    if not p.planned_n:
        detect = (
            f"; it can detect a relative change of about {fmt.percent(p.detectable_effect)}"
            if p.detectable_effect is not None
            else ""
        )
        return f"{p.smallest:,} {noun} per variant so far; no sample size planned{detect}"
    if p.reached:
        return f"{p.smallest:,} of the planned {p.planned_n:,} units per variant: reached"
    # Rounded down: a test short of its size never reads 100%.
    share = fmt.percent(math.floor(100 * p.smallest / p.planned_n) / 100, 0)
    return f"{p.smallest:,} of the planned {p.planned_n:,} units per variant ({share})"


def _legend(results: Results, rows: list[_Row]) -> list[str]:
    """What the change, its interval and the probability column are."""
    hs = [r.headline for r in rows if r.headline is not None]
    if not hs:
        return []
    what = {"relative": "treatment / control − 1", "absolute": "treatment − control"}
    types = " or ".join(what.get(t, t) for t in dict.fromkeys(h.effect_type for h in hs))
    intervals = " or ".join(dict.fromkeys(h.interval_label for h in hs))
    control = results.plan.control_name
    lines = [f"change: {types} (control: {control}); in brackets its {intervals}."]
    observed = "control, treatment: observed means (as in the report's scorecard)"
    if any(m.metric.covariate is not None for m in results.metrics):
        observed += "; a CUPED metric's change is adjusted, its means are not"
    lines.append(observed + ".")
    kinds = {h.probability_kind for h in hs}
    a = results.plan.analysis
    if kinds & set(_UNADJUSTED):
        how = (
            f"adjusted for multiple testing ({a.correction})"
            if a.correction != "none"
            else "not adjusted (the plan's correction is none)"
        )
        rest = "; other metrics' p-values are unadjusted" if kinds - set(_UNADJUSTED) else ""
        lines.append(f"adj.: primary metrics' p-values, {how}{rest}.")
    if "chance_to_beat_control" in kinds:
        thr = a.bayesian.ship_threshold
        lines.append(
            "chance to beat control: the posterior probability that the treatment is better; "
            f"decisive from {fmt.percent(thr, 0)} (or down to {fmt.percent(1 - thr, 0)})."
        )
    if "boundary" in kinds:
        lines.append("boundary: whether the group-sequential boundary was crossed.")
    return lines


# ---- the table: fits the console's width, never cuts a name -----------------------------------
_GAP = "  "
_STATUS_STYLE = {
    "better": "green",
    "worse": "red",
    "guardrail_passed": "green",
    "guardrail_failed": "bold red",
    "guardrail_unproven": "yellow",
    "not_enough_data": "yellow",
}
_VERDICT_STYLE = {
    "ship": "bold green",
    "do_not_ship": "bold red",
    "keep_running": "bold yellow",
    "investigate": "bold red",
}


def _split_change(text: str) -> list[str]:
    """``+6.9% [+1.2%, +12.7%]`` → ``["+6.9%", "[+1.2%, +12.7%]"]`` (stacked when narrow)."""
    est, sep, rest = text.partition(" [")
    return [est, "[" + rest] if sep else [text]


def _change_lines(text: str, width: int) -> list[str]:
    """The change at ``width``: on one line, else the interval under the effect, else the
    interval's ends on lines of their own."""
    if cell_len(text) <= width:
        return [text]
    parts = _split_change(text)
    if len(parts) == 1 or all(cell_len(p) <= width for p in parts):
        return parts
    lo, sep, hi = parts[1].partition(",\u00a0")
    return [parts[0], lo + ",", " " + hi] if sep else parts


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _cell_lines(text: str, width: int, how: str) -> list[str]:
    """A cell's lines at ``width``: ``keep`` never breaks (names, numbers), ``words`` wraps
    at spaces, ``change`` stacks the interval under the effect; anything still too wide
    folds, except ``keep``."""
    if cell_len(text) <= width:
        return [text]
    if how == "keep":
        return [text]
    if how == "change":
        lines = _change_lines(text, width)
    else:
        lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    folded: list[str] = []
    for line in lines:
        while cell_len(line) > width:
            folded.append(line[:width])
            line = line[width:]
        folded.append(line)
    return folded


def _fit(
    natural: list[int], floors: list[list[int]], budget: int, order: tuple[int, ...]
) -> list[int]:
    """Column widths within ``budget``: shrink the columns in ``order`` from their natural
    width towards each floor in turn; past the last the table is wider than ``budget``."""
    widths = list(natural)
    excess = sum(widths) - budget
    for floor in floors:
        for i in order:
            if excess <= 0:
                return widths
            cut = max(min(excess, widths[i] - floor[i]), 0)
            widths[i] -= cut
            excess -= cut
    return widths


_COLUMN_WRAP = ("keep", "keep", "keep", "change", "words", "words")  # see _cell_lines
_COLUMN_RIGHT = (False, True, True, False, True, False)  # right-aligned columns


def _table_lines(groups: list[_Group], width: int) -> list[Text]:
    """The comparison table within ``width`` columns: the headers, a rule, then each metric
    group's label and note above its rows."""
    rows = [r for g in groups for r in g.rows]
    prob_header, suffix = _probability_column(rows)
    headers = ["variant", "control", "treatment", "change", prob_header, "status"]
    cells = {
        id(r): [
            r.variant,
            r.control_text,
            r.treatment_text,
            r.change,
            _probability_cell(r, suffix),
            r.status_text,
        ]
        for r in rows
    }
    widths = _column_widths(headers, list(cells.values()), rows, width)
    total = sum(widths) + cell_len(_GAP) * (len(headers) - 1)
    out_lines = _block(headers, ["bold"] * len(headers), widths, bottom=True)
    out_lines.append(Text("─" * total, style="dim"))
    for g in groups:
        out_lines.append(Text.assemble((g.label, "bold"), (f" · {g.role}", "dim")))
        if g.note is not None:
            out_lines.append(Text(f"  {g.note}", style="yellow"))
        for r in g.rows:
            styles: list[str | None] = [None, None, None, "bold", None, None]
            styles[5] = _STATUS_STYLE.get(r.status)
            out_lines.extend(_block(cells[id(r)], styles, widths))
    return out_lines


def _column_widths(
    headers: list[str], cells: list[list[str]], rows: list[_Row], width: int
) -> list[int]:
    """Each column's width: its natural one, shrunk to fit ``width`` first to a floor where
    the change stacks its interval under the effect and the probability and status wrap at
    words, then narrower still (the interval's ends on lines of their own, "adj." under the
    p-value)."""
    natural = [max([cell_len(h)] + [cell_len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    least = list(natural)
    least[3] = max(
        [cell_len(headers[3])] + [cell_len(p) for c in cells for p in _split_change(c[3])]
    )
    least[4] = max([_longest_word(headers[4])] + [cell_len(c[4]) for c in cells])
    least[5] = max([cell_len(headers[5])] + [_longest_word(c[5]) for c in cells])
    narrow = list(least)
    narrow[3] = max(
        [cell_len(headers[3])] + [cell_len(p) for c in cells for p in _change_lines(c[3], 0)]
    )
    narrow[4] = max([_longest_word(headers[4])] + [cell_len(r.probability) for r in rows])
    budget = width - cell_len(_GAP) * (len(headers) - 1)
    return _fit(natural, [least, narrow], budget, order=(4, 5, 3))


def _line(parts: list[str], styles: list[str | None], widths: list[int]) -> Text:
    """One line of the table: each part padded to its column's width (on the left in the
    right-aligned columns), the columns apart by ``_GAP``, trailing spaces dropped."""
    text = Text()
    for i, (part, style, w) in enumerate(zip(parts, styles, widths, strict=True)):
        if i:
            text.append(_GAP)
        pad = " " * max(w - cell_len(part), 0)
        if _COLUMN_RIGHT[i]:
            text.append(pad)
            text.append(part, style=style)
        else:
            text.append(part, style=style)
            text.append(pad)
    text.rstrip()
    return text


def _block(
    texts: list[str], styles: list[str | None], widths: list[int], bottom: bool = False
) -> list[Text]:
    """One row's cells wrapped to their widths (:func:`_cell_lines`) as lines, each cell at
    the top of the block; ``bottom`` for the headers, which wrap at their words and sit on
    the block's last line."""
    if bottom:
        cols = [
            textwrap.wrap(t, w, break_long_words=False) or [""]
            for t, w in zip(texts, widths, strict=True)
        ]
    else:
        cols = [_cell_lines(t, w, h) for t, w, h in zip(texts, widths, _COLUMN_WRAP, strict=True)]
    height = max(len(c) for c in cols)
    cols = [
        ([""] * (height - len(c)) + c) if bottom else c + [""] * (height - len(c)) for c in cols
    ]
    return [_line([c[k] for c in cols], styles, widths) for k in range(height)]


def _print_results(results: Results) -> None:
    """The verdict, the sample-ratio check and progress, then the headline table."""
    d = results.decision
    out.print(
        Text.assemble(
            (results.plan.name, "bold"),
            ": ",
            (_verdict_text(results), _VERDICT_STYLE.get(d.recommendation, "bold")),
        ),
        highlight=False,
    )
    if results.scope is not None:
        out.print(Text.assemble(("slice: ", "bold"), results.scope.text()), highlight=False)
    out.print(d.reason, markup=False, highlight=False)
    for caveat in d.caveats:
        out.print(Text.assemble(("caveat: ", "bold yellow"), caveat), highlight=False)
    srm_style = "bold red" if results.srm.mismatch else ""
    out.print(
        Text.assemble(("SRM check: ", "bold"), (_srm_text(results), srm_style)),
        highlight=False,
    )
    if results.progress is not None:
        out.print(
            Text.assemble(
                ("progress: ", "bold"), _progress_text(results.progress, _counted(results))
            ),
            highlight=False,
        )
    out.print()
    groups = _groups(results)
    for text in _table_lines(groups, out.width):
        out.print(text, soft_wrap=True, highlight=False)
    out.print()
    for note in _legend(results, [r for g in groups for r in g.rows]):
        out.print(note, markup=False, highlight=False, style="dim")


# ---- markdown and csv -------------------------------------------------------------------------
def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown_text(results: Results) -> str:
    """The verdict and a GitHub table of the same headlines as the terminal table."""
    d = results.decision
    groups = _groups(results)
    rows = [r for g in groups for r in g.rows]
    prob_header, suffix = _probability_column(rows)
    lines = [f"## {_md(results.plan.name)}", ""]
    lines += [f"**{_verdict_text(results)}**: {_md(d.reason)}", ""]
    if results.scope is not None:
        lines.append(f"- slice: {_md(results.scope.text())}")
    lines += [f"- caveat: {_md(c)}" for c in d.caveats]
    lines.append(f"- SRM check: {_md(_srm_text(results))}")
    if results.progress is not None:
        lines.append(f"- progress: {_md(_progress_text(results.progress, _counted(results)))}")
    lines.append("")
    headers = ["metric", "role", "variant", "control", "treatment", "change", prob_header]
    lines.append("| " + " | ".join(_md(h) for h in [*headers, "status"]) + " |")
    lines.append("| --- | --- | --- | ---: | ---: | --- | ---: | --- |")
    for r in rows:
        cells = [
            r.label,
            r.role,
            r.variant,
            r.control_text,
            r.treatment_text,
            r.change,
            _probability_cell(r, suffix),
            r.status_text,
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines.append("")
    for g in groups:
        if g.note is not None:
            lines.append(f"- {_md(g.label)} ({g.role}): {_md(g.note)}")
    lines += [_md(note) + "  " for note in _legend(results, rows)]
    return "\n".join(lines).rstrip() + "\n"


CSV_FIELDS = (
    "experiment",
    "metric",
    "label",
    "role",
    "control",
    "variant",
    "control_value",
    "treatment_value",
    "effect",
    "effect_type",
    "interval_low",
    "interval_high",
    "interval_kind",
    "level",
    "probability",
    "probability_kind",
    "status",
    "control_text",
    "treatment_text",
    "change",
    "probability_text",
    "status_text",
    "verdict",  # the experiment's verdict, as the index prints it: SHIP benefit, LEADS Video 06
)


def _csv_number(x: float | None) -> str:
    """A raw number that reads back exactly (``repr``); empty when missing or undefined."""
    return repr(float(x)) if fmt.ok(x) else ""


def _csv_text(results: Results) -> str:
    """One row per comparison: the headline's raw numbers and the texts the table shows, and
    the experiment's verdict (:func:`liftlab.headline.verdict_text`) on each."""
    from liftlab.headline import verdict_text

    d = results.decision
    verdict = verdict_text(d.recommendation, d.variant, results.plan.randomization)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for g in _groups(results):
        for r in g.rows:
            h = r.headline
            raw: list[str] = [""] * 10
            if h is not None:
                raw = [
                    _csv_number(h.control_value),
                    _csv_number(h.treatment_value),
                    _csv_number(h.effect),
                    h.effect_type,
                    _csv_number(h.interval[0]),
                    _csv_number(h.interval[1]),
                    h.interval_kind,
                    _csv_number(h.level),
                    _csv_number(h.probability),
                    h.probability_kind,
                ]
            writer.writerow(
                [
                    results.plan.name,
                    r.metric,
                    r.label,
                    r.role,
                    r.control,
                    r.variant,
                    *raw,
                    r.status,
                    r.control_text,
                    r.treatment_text,
                    r.change,
                    r.probability,
                    r.status_text,
                    verdict,
                ]
            )
    return buf.getvalue()


@app.command()
def design(
    plan_path: Annotated[
        Path | None, typer.Argument(help="Plan whose primary metrics to size (optional).")
    ] = None,
    metric_type: Annotated[
        MetricType | None,
        typer.Option("--type", help="Metric type, without a plan (mean and ratio need --sd)."),
    ] = None,
    baseline: Annotated[
        float | None, typer.Option(help="Control rate or mean (overrides the plan's).")
    ] = None,
    sd: Annotated[
        float | None, typer.Option(help="Unit-level standard deviation (mean and ratio).")
    ] = None,
    mde: Annotated[
        float | None, typer.Option(help="Minimum detectable effect (default: the plan's, 0.05).")
    ] = None,
    mde_type: Annotated[
        Literal["relative", "absolute"] | None, typer.Option(help="How --mde is expressed.")
    ] = None,
    alpha: Annotated[float | None, typer.Option(help="Significance level (0.05).")] = None,
    power: Annotated[float | None, typer.Option(help="Target power (0.8).")] = None,
    arms: Annotated[
        int | None, typer.Option(help="Number of variants, control included, without a plan.")
    ] = None,
    convention: Annotated[
        Literal["unpooled", "pooled", "arcsine"] | None,
        typer.Option(help="Sample-size formula of the fixed-horizon test."),
    ] = None,
    correction: Annotated[
        Literal["none", "bonferroni", "holm", "hochberg", "bh", "by"] | None,
        typer.Option(help="Multiple-testing correction (sized as Bonferroni)."),
    ] = None,
    method: Annotated[
        Literal["frequentist", "sequential", "bayesian"] | None,
        typer.Option(help="Size for this analysis method instead of the plan's."),
    ] = None,
    daily_units: Annotated[
        float | None, typer.Option(help="Units entering the test per day (all arms).")
    ] = None,
    alternative: Annotated[
        Literal["two-sided", "one-sided"] | None,
        typer.Option(help="Test sidedness, without a plan (a plan's analysis is two-sided)."),
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(help="Pre-period table to take baselines, sds and CUPED from (a plan's)."),
    ] = None,
    weeks: Annotated[
        float | None,
        typer.Option(help="Instead of a sample size, the MDE reachable in N weeks of traffic."),
    ] = None,
    n_per_variant: Annotated[
        int | None,
        typer.Option(min=1, help="Instead of a sample size, the MDE reachable with n per variant."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    report: Annotated[
        bool, typer.Option("--report", help="Write reports/<plan>/design.html (with a plan).")
    ] = False,
    reports_dir: Annotated[
        Path | None, typer.Option("--reports", help="Reports folder for --report.")
    ] = None,
) -> None:
    """Units per variant, total and duration by the plan's method, the answer first; or the
    MDE reachable with --n-per-variant or in --weeks."""
    import json

    from liftlab.design import design_plan

    flags = _DesignFlags(
        metric_type, baseline, sd, mde, mde_type, alpha, power, arms, convention, correction,
        method, daily_units, alternative, history, weeks, n_per_variant,
    )  # fmt: skip
    _check_design_flags(flags, plan_path, report)
    if plan_path is not None:
        plan, hist, sources = _design_plan_and_history(plan_path, flags)
    else:
        plan, hist, sources = _flag_plan(flags), None, _flag_sources(flags)
    try:
        result = design_plan(
            plan,
            daily_units=daily_units,
            baseline=baseline,
            sd=sd,
            history=hist,
            alternative=alternative or "two-sided",
            sources=sources,
            history_first=history is not None,
        )
    except LiftlabError as exc:
        if plan_path is not None:
            raise
        raise _as_flag_error(exc, _SETTING_FLAGS, plan_made=True) from None
    reach = None
    if weeks is not None or n_per_variant is not None:
        try:
            reach = result.reach(n_per_variant=n_per_variant, weeks=weeks)
        except LiftlabError as exc:
            flag = "--weeks" if weeks is not None else "--n-per-variant"
            raise LiftlabError(f"{flag}: {exc.detail}", source="liftlab design") from None
    page = None
    if report:
        assert plan_path is not None
        page = _design_report(plan_path, flags, reports_dir)
    if as_json:
        data = reach.to_dict() if reach is not None else result.to_dict()
        if page is not None:
            data["report"] = str(page)
        sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
        return
    _print_reach(reach) if reach is not None else _print_design(result)
    if page is not None:
        out.print(f"Design report: {page}", markup=False, highlight=False)


@dataclass(frozen=True)
class _DesignFlags:
    """The options of ``liftlab design``; ``None`` where not given."""

    metric_type: str | None
    baseline: float | None
    sd: float | None
    mde: float | None
    mde_type: str | None
    alpha: float | None
    power: float | None
    arms: int | None
    convention: str | None
    correction: str | None
    method: str | None
    daily_units: float | None
    alternative: str | None
    history: str | None
    weeks: float | None
    n_per_variant: int | None


# plan setting (Plan.with_) → the option that overrides it
_SETTING_FLAGS = {
    "mde": "--mde",
    "mde_type": "--mde-type",
    "alpha": "--alpha",
    "power": "--power",
    "correction": "--correction",
    "sample_size": "--convention",
    "method": "--method",
}
_SETTING_ATTRS = {"sample_size": "convention"}
# a plan field named in an error → the option that set it (plans built from options)
_FIELD_FLAGS = {
    "analysis.alpha": "--alpha",
    "analysis.power": "--power",
    "analysis.mde": "--mde",
    "design.daily_units": "--daily-units",
    "design": "--daily-units",
    "metrics[0].baseline": "--baseline",
    "metrics[0].baseline_sd": "--sd",
}


def _design_error(text: str) -> LiftlabError:
    return LiftlabError(text, source="liftlab design")


def _check_design_flags(f: _DesignFlags, plan_path: Path | None, report: bool) -> None:
    """Refuse options that would change nothing, in one line each (exit 2)."""
    if f.weeks is not None and f.n_per_variant is not None:
        raise _design_error("give --weeks or --n-per-variant, not both")
    if f.weeks is not None and not (math.isfinite(f.weeks) and f.weeks > 0):
        raise _design_error(f"--weeks must be a positive number of weeks (got {f.weeks:g})")
    for name, value in (("--daily-units", f.daily_units), ("--sd", f.sd)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise _design_error(f"{name} must be positive (got {value:g})")
    reach = "--weeks" if f.weeks is not None else "--n-per-variant"
    if (f.weeks is not None or f.n_per_variant is not None) and f.mde is not None:
        raise _design_error(f"--mde: {reach} asks for the MDE it reaches; drop --mde")
    if (f.weeks is not None or f.n_per_variant is not None) and f.mde_type is not None:
        raise _design_error(
            f"--mde-type: {reach} gives the MDE both relative and absolute; drop --mde-type"
        )
    if plan_path is None:
        if f.history is not None:
            raise _design_error("--history needs a plan (its metrics name the columns to read)")
        if report:
            raise _design_error("--report needs a plan; give experiments/<slug>.yaml")
        return
    if f.metric_type is not None:
        raise _design_error(
            "--type: the plan's metrics set the metric types; drop --type or edit metrics"
        )
    if f.alternative == "one-sided":
        raise _design_error(
            "--alternative: the plan's analysis is two-sided, so is its design; drop --alternative"
        )


def _design_plan_and_history(plan_path: Path, f: _DesignFlags) -> tuple[Plan, Any, dict[str, str]]:
    """The plan with the options applied through ``Plan.with_``, its history, and the
    options as sources."""
    from liftlab.errors import PlanError
    from liftlab.plan import load_plan

    plan = load_plan(plan_path)
    if f.arms is not None:
        raise _design_error(
            f"--arms: the plan's variants set the arms ({len(plan.variants)}); drop --arms or "
            "edit variants"
        )
    changes = {
        k: getattr(f, _SETTING_ATTRS.get(k, k))
        for k in _SETTING_FLAGS
        if getattr(f, _SETTING_ATTRS.get(k, k)) is not None
    }
    try:
        plan = plan.with_(**changes) if changes else plan
    except PlanError as exc:
        raise _as_flag_error(exc, _SETTING_FLAGS) from None
    _check_method_flags(plan, f)
    sources = {k: _SETTING_FLAGS[k] for k in changes}
    given = {"baseline": f.baseline, "sd": f.sd, "daily_units": f.daily_units}
    sources |= {k: f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None}
    history = None
    if f.history is not None:
        from liftlab.history import read_history

        history = read_history(plan, f.history)
    return plan, history, sources


def _check_method_flags(plan: Plan, f: _DesignFlags) -> None:
    """Options the plan's method does not use are refused, naming what it uses instead."""
    from liftlab.design import method_of

    method = method_of(plan)
    family = len(plan.primary_metrics) * len(plan.treatments)
    if method == "bayesian":
        for flag, value in (("--alpha", f.alpha), ("--correction", f.correction)):
            if value is not None:
                raise _design_error(
                    f"{flag}: the Bayesian analysis ships on the chance to beat control "
                    f"(analysis.bayesian.ship_threshold = {plan.analysis.bayesian.ship_threshold:g})"
                    f", uncorrected; drop {flag} or use --method frequentist"
                )
    elif f.correction is not None and family == 1:
        raise _design_error(
            "--correction: the plan makes one comparison (one primary metric, one treatment), "
            "nothing to correct; drop --correction"
        )
    if f.alternative == "one-sided" and method not in ("frequentist", "group-sequential"):
        raise _design_error(
            f"--alternative: the {method} design is sized as its analysis decides; drop "
            "--alternative or use --method frequentist"
        )
    if f.convention is not None and method not in ("frequentist", "group-sequential"):
        raise _design_error(
            f"--convention: the {method} design uses the analysis's unpooled variances; drop "
            "--convention or use --method frequentist"
        )


def _as_flag_error(
    exc: LiftlabError, flags: dict[str, str], *, plan_made: bool = False
) -> LiftlabError:
    """A plan error about a field an option set, as one line naming the option; every error
    of a plan made from the options speaks of the command, not of a plan."""
    field, detail = exc.field or "", exc.detail
    if not field:  # a validation message: "analysis.alpha: input should be less than 0.5"
        head, sep, rest = detail.partition(": ")
        if sep and " " not in head:
            field, detail = head, rest
    flag = flags.get(field.removeprefix("analysis.")) or _FIELD_FLAGS.get(field)
    if flag is None:
        return _design_error(exc.detail) if plan_made else exc
    reason = _reason(re.sub(r"^[Ii]nput should be ", "must be ", detail))
    return _design_error(f"{flag} {reason}")


def _flag_plan(f: _DesignFlags) -> Plan:
    """A plan of one primary metric built from the options, for a design without a plan."""
    from liftlab.errors import PlanError
    from liftlab.plan import parse_plan

    kind = f.metric_type or "proportion"
    if f.baseline is None:
        raise _design_error("--baseline is required without a plan; give e.g. --baseline 0.1")
    if kind != "proportion" and f.sd is None:
        raise _design_error(f"--sd is required for a {kind} metric; give e.g. --sd 4.7")
    arms = 2 if f.arms is None else f.arms
    if arms < 2:
        raise _design_error(f"--arms must be at least 2, control included (got {arms})")
    if f.correction is not None and arms == 2:
        raise _design_error(
            "--correction: two arms make one comparison, nothing to correct; drop --correction "
            "or give --arms"
        )
    names = (
        ["control", "treatment"]
        if arms == 2
        else ["control"] + [f"treatment_{i}" for i in range(1, arms)]
    )
    metric: dict[str, Any] = {"name": kind, "role": "primary", "type": kind}
    if kind == "ratio":
        metric |= {"numerator": "y", "denominator": "x"}
    else:
        metric["column"] = "y"
    analysis = {
        "alpha": 0.05 if f.alpha is None else f.alpha,
        "power": 0.8 if f.power is None else f.power,
        "mde": 0.05 if f.mde is None else f.mde,
        "mde_type": f.mde_type or "relative",
        "correction": f.correction or "none",
        "sample_size": f.convention or "unpooled",
        "method": f.method or "frequentist",
    }
    raw = {
        "name": "design",
        "kind": "landing_page",
        "hypothesis": "sized from the command line",
        "variants": {n: {} for n in names},
        "data": {"units": "none.parquet", "timestamp": "ts"},
        "metrics": [metric],
        "analysis": analysis,
    }
    try:
        plan = parse_plan(raw, source="liftlab design")
    except PlanError as exc:
        raise _as_flag_error(exc, _SETTING_FLAGS, plan_made=True) from None
    _check_method_flags(plan, f)
    return plan


def _flag_sources(f: _DesignFlags) -> dict[str, str]:
    """Where each setting of a plan built from the options came from."""
    sources = {}
    for key, flag in _SETTING_FLAGS.items():
        given = getattr(f, _SETTING_ATTRS.get(key, key)) is not None
        sources[key] = flag if given else f"default ({flag})"
    sources |= {"baseline": "--baseline", "sd": "--sd"}
    return sources | ({} if f.daily_units is None else {"daily_units": "--daily-units"})


def _design_report(plan_path: Path, f: _DesignFlags, reports_dir: Path | None) -> Path:
    """``reports/<plan>/design.html`` by :func:`liftlab.design_report.write_design_report`."""
    from liftlab.design_report import write_design_report

    params = {
        "mde": f.mde,
        "mde_type": f.mde_type,
        "alpha": f.alpha,
        "power": f.power,
        "correction": f.correction,
        "convention": f.convention,
        "method": f.method,
        "daily_units": f.daily_units,
        "baseline": f.baseline,
        "sd": f.sd,
        "history": f.history,
    }
    return write_design_report(plan_path, params, reports_dir)


def _grid(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> Table:
    """A compact table: text columns fold, number columns stay whole, right-aligned."""
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for j, name in enumerate(header):
        if j >= numeric_from:
            table.add_column(Text(name), justify="right", overflow="fold")
        else:
            table.add_column(Text(name), overflow="fold")
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    return table


def _print_design(d: PlanDesign) -> None:
    """The answer first, then the metric table, the trade-off, the inputs and warnings."""
    say = out.print
    say(Text(d.sentence(), style="bold"))
    if d.method_text():
        say(Text(d.method_text()))
    say()
    labels = [d.labels.get(n, n) for n in d.metrics]
    rows = [[name, *values] for name, values in d.table_text()]
    say(_grid(["", *labels], [[r[0], *r[1:]] for r in rows], numeric_from=1))
    say()
    if d.daily_units is None:
        say(Text("Trade-off: give --daily-units (or design.daily_units) for the MDE by week."))
    else:
        say(Text("The smallest change detectable by weeks of traffic (relative):"))
        trade = d.tradeoff()
        table_rows = []
        for w in sorted({r["weeks"] for r in trade}):
            at = [r for r in trade if r["weeks"] == w]
            table_rows.append(
                [
                    f"{w:g}",
                    fmt.count(at[0]["n_per_variant"]),
                    *(fmt.percent(r["rel_mde"], 1, sign=True) for r in at),
                ]
            )
        arm = "per variant" if d.equal_weights else f"in {d.control}"
        say(_grid(["weeks", f"{d.nouns(2)} {arm}", *labels], table_rows, numeric_from=0))
    say()
    say(_grid(["input", "value", "from"], [list(r) for r in d.inputs_text()], numeric_from=9))
    for w in d.warnings:
        say(Text(f"! {w}"))


def _print_reach(r: Reach) -> None:
    """The reachable MDE in one sentence, then one column per primary metric."""
    out.print(Text(r.sentence(), style="bold"))
    out.print()
    labels = [row["label"] for row in r.rows]
    out.print(_grid(["", *labels], [[k, *v] for k, v in r.table_text()]))
    out.print()
    out.print(
        _grid(["input", "value", "from"], [list(x) for x in r.design.inputs_text()], numeric_from=9)
    )
    for w in r.design.warnings:
        out.print(Text(f"! {w}"))


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
    starts and one as it ends, with its status, time and report. Ctrl-C or SIGTERM stop the
    batch's runs, keep them as interrupted in <run-id>-failed/ and exit 130 or 143.
    """
    import signal

    from liftlab.report import Terminated, end_spare, run_reports, spare_worker

    if data is not None and len(plans) > 1:
        raise LiftlabError(
            "--data applies to one plan; give a single plan", source="liftlab report"
        )
    spare = spare_worker(Path.cwd())  # its kernel boots while the plans load
    try:
        _check_plans_and_folders(plans, reports_dir)
    except BaseException:
        end_spare(spare)
        raise
    try:
        outcomes = run_reports(
            plans,
            data=data,
            reports_dir=reports_dir,
            console=err,
            jobs=jobs,
            timeout=timeout,
            lines=None if sys.stdout.isatty() else out,
            spare=spare,
        )
    except Terminated:
        raise typer.Exit(128 + signal.SIGTERM) from None
    except KeyboardInterrupt:
        raise typer.Exit(128 + signal.SIGINT) from None
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


def _check_plans_and_folders(plans: list[Path], reports_dir: Path | None) -> None:
    """Before anything runs: every plan valid (each bad one on its own line, exit 2) and
    every reports folder usable (not a file, nor under one)."""
    from liftlab.plan import load_plan

    loaded, bad = [], 0
    for path in plans:
        try:
            loaded.append(load_plan(path))
        except LiftlabError as exc:
            err.print(str(exc), markup=False)
            bad += 1
    if bad:
        raise typer.Exit(2)
    for plan in loaded:
        target = reports_dir if reports_dir is not None else plan.root / "reports"
        blocker = next((p for p in (target, *target.parents) if p.exists()), None)
        if blocker is None or blocker.is_dir():
            continue
        if reports_dir is None:
            what, fix = f"the reports folder '{target}'", "move the file or give --reports <folder>"
        else:
            what, fix = f"--reports '{target}'", "give --reports a folder"
        if blocker == target:
            where = " is a file, not a folder"
        else:
            where = f" lies under '{blocker}', which is a file"
        raise LiftlabError(f"{what}{where}; {fix}", source="liftlab report")


@app.command()
def html(
    notebook: Annotated[Path, typer.Argument(help="An executed report notebook (.ipynb).")],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: next to the notebook).")
    ] = None,
) -> None:
    """Export an executed notebook (e.g. run by hand with papermill) as an offline HTML report."""
    from liftlab.report import write_html

    if notebook.is_dir():
        raise LiftlabError("is a directory; give an executed .ipynb file", source=str(notebook))
    if not notebook.is_file():
        raise LiftlabError("file not found; give an executed .ipynb", source=str(notebook))
    _check_notebook(notebook)
    target = out_path or notebook.with_suffix(".html")
    if target.is_dir():
        raise LiftlabError(
            f"--out '{target}' is a directory; give an .html file, e.g. {target / 'report.html'}",
            source="liftlab html",
        )
    if not target.parent.is_dir():
        raise LiftlabError(
            f"--out '{target}': the folder '{target.parent}' does not exist; create it first",
            source="liftlab html",
        )
    try:
        write_html(notebook, target)
    except OSError as exc:  # no permission, a full disk
        raise LiftlabError(
            f"--out '{target}' cannot be written ({exc.strerror or exc}); give another path",
            source="liftlab html",
        ) from None
    out.print(str(target), markup=False)


def _check_notebook(path: Path) -> None:
    """Refuse a file that is not a Jupyter notebook, in one line, before exporting it."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # not JSON, not UTF-8, not a notebook's schema
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise LiftlabError(
            f"not a Jupyter notebook ({first}); give an executed .ipynb, e.g. a run's report.ipynb",
            source=str(path),
        ) from None


@app.command()
def check(
    pages: Annotated[list[Path], typer.Argument(help="HTML reports (or reports/index.html).")],
) -> None:
    """Open HTML reports in headless Chromium, offline: every chart drawn, no console error,
    no request off the machine. Exits 1 when a page fails."""
    from liftlab.browser import check_pages

    for page_path in pages:
        if page_path.is_dir():
            hint = page_path / "index.html"
            raise LiftlabError(
                f"is a directory; give an HTML report, e.g. {hint}", source=str(page_path)
            )
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

    if out_dir.exists() and not out_dir.is_dir():
        raise LiftlabError(
            f"--out '{out_dir}' is a file, not a folder; give a folder for the demo data",
            source="liftlab simulate",
        )
    start = time.perf_counter()
    try:
        truths = make(out_dir, seed=seed, events_scale=scale)
    except OSError as exc:  # a parent that is a file, no permission, a full disk
        raise LiftlabError(
            f"cannot write the demo data to '{out_dir}' ({exc.strerror or exc}); "
            "give --out a folder you can write to",
            source="liftlab simulate",
        ) from None
    out.print(
        f"wrote {', '.join(f'{k}.parquet' for k in truths if k != 'ads')}, shop.duckdb "
        f"(event tables), {truths['ads']['file']} (an ad-platform export) and truth.json to "
        f"{out_dir}/ in {time.perf_counter() - start:.1f} s"
    )


def _click_exceptions() -> Any:
    """Click's exception classes as typer raises them: recent typer carries its own copy of
    click (``typer._click``); older releases use the click package."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # typer before its bundled click
        return importlib.import_module("click.exceptions")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one line and exit 2 on a user mistake, a usage error
    (a bad option value, a missing argument, an unknown command or option) included."""
    click = _click_exceptions()

    try:
        code = app(args=argv, prog_name="liftlab", standalone_mode=False)
    except LiftlabError as exc:
        err.print(str(exc), markup=False)
        sys.exit(exc.exit_code)
    except click.NoArgsIsHelpError:  # bare ``liftlab``: the help (already shown), as before
        sys.exit(2)
    except click.UsageError as exc:
        err.print(_usage_line(exc, sys.argv[1:] if argv is None else argv), markup=False)
        sys.exit(2)
    except click.ClickException as exc:
        err.print(f"liftlab: {exc.format_message()}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted!", markup=False)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


# What to give for each command's arguments when one is missing: (what, an example).
_ARGUMENT_HINT = {
    "plan_path": ("a plan file", "experiments/<slug>.yaml"),
    "plans": ("one or more plan files", "experiments/<slug>.yaml"),
    "notebook": ("an executed report notebook (.ipynb)", "reports/<slug>/<run>/report.ipynb"),
    "pages": ("one or more HTML reports", "reports/index.html"),
}


def _given(args: list[str], opts: list[str]) -> str | None:
    """The value given on the command line for an option (its last occurrence)."""
    found = None
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                found = args[i + 1]
            elif opt.startswith("--") and arg.startswith(opt + "="):
                found = arg[len(opt) + 1 :]
    return found


def _reason(message: str) -> str:
    """A click/typer complaint as the end of one sentence: ``must be at least 1``."""
    text = message.split("\n")[0].strip().rstrip(".")
    text = text.removeprefix("Value error, ")
    text = re.sub(r"^Input should be ", "must be ", text)
    text = text.replace("greater than or equal to", "at least")
    text = text.replace("less than or equal to", "at most")
    text = re.sub(r", unable to parse string as an? (\w+)$", "", text)
    text = re.sub(r"^'[^']*' is not one of ", "must be one of ", text)
    return text[:1].lower() + text[1:]


def _usage_line(exc: click.UsageError, args: list[str]) -> str:
    """One line for a usage error: ``liftlab <command>: <what is wrong and the fix>``."""
    click = _click_exceptions()

    ctx = exc.ctx
    where = ctx.command_path if ctx is not None else "liftlab"
    names = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    if where == "liftlab" and args and args[0] in names:
        where = f"liftlab {args[0]}"  # a parser error without the command's context
    help_hint = f"see {where} --help"
    message = exc.format_message().split("\n")[0].strip()
    if isinstance(exc, click.NoSuchOption):
        hint = did_you_mean(exc.option_name, exc.possibilities or [])
        if not hint and ctx is not None:
            opts = [o for p in ctx.command.params for o in (*p.opts, *p.secondary_opts)]
            hint = did_you_mean(exc.option_name, [o for o in opts if o.startswith("-")])
        return f"{where}: no option '{exc.option_name}'{hint}; {help_hint}"
    unknown = re.match(r"No such command '(.+?)'", message)
    if unknown:
        name = unknown.group(1)
        commands = sorted(getattr(ctx.command, "commands", {})) if ctx is not None else []
        return (
            f"{where}: no command '{name}'{did_you_mean(name, commands)}; "
            f"commands: {', '.join(commands)}"
        )
    param = getattr(exc, "param", None)
    if isinstance(exc, click.MissingParameter) and param is not None:
        if param.param_type_name == "argument":
            what, example = _ARGUMENT_HINT.get(str(param.name), (str(param.name), "..."))
            return f"{where}: missing {what}; give it, e.g. {where} {example}"
        return f"{where}: {param.opts[-1]} is required; {help_hint}"
    if isinstance(exc, click.BadParameter) and param is not None:
        opts = [o for o in param.opts if o.startswith("--")] or list(param.opts)
        name = opts[0] if opts else str(param.name)
        value = _given(args, list(param.opts))
        reason = _reason(re.sub(r"^Invalid value for [^:]*: ", "", message))
        got = ""
        if value is not None:
            got = f" (got {value})" if _is_number(value) else f" (got '{value}')"
            if reason.startswith("must be one of"):
                choices = re.findall(r"'([^']*)'", reason)
                starts = [c for c in choices if c.startswith(value)]  # 'rel' for 'relative'
                one = f" (did you mean '{starts[0]}'?)" if len(starts) == 1 else ""
                got += one or did_you_mean(value, choices)
        return f"{where}: {name} {reason}{got}"
    extra = re.match(r"Got unexpected extra argument(?:s|\(s\))? \((.+)\)", message)
    if extra:
        return f"{where}: unexpected extra argument '{extra.group(1)}'; {help_hint}"
    needs = re.match(r"Option '([^']+)' requires an argument", message)
    if needs:
        return f"{where}: {needs.group(1)} needs a value; {help_hint}"
    text = message.rstrip(".")
    return f"{where}: {text[:1].lower()}{text[1:]}; {help_hint}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
