"""``liftlab analyze`` output: the headline table fits 80 columns without cutting a name, and
the markdown, csv and json formats carry the same headlines.

The demo plans are analysed once per module (on the session's simulated project); the command
line is run in-process with that analysis, and once end to end in a subprocess at 80 columns.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import liftlab.analysis
import liftlab.cli
from liftlab import analyze, load_plan
from liftlab import format as fmt
from liftlab.cli import app
from liftlab.decision import display_of
from liftlab.errors import LiftlabError
from tests.conftest import DEMO_PLANS

RULE = "─"


@pytest.fixture(scope="module")
def analysed(project: Path) -> dict[str, Any]:
    """Each demo plan's path, plan and results (analysed once)."""
    out = {}
    for name in DEMO_PLANS:
        path = project / "experiments" / f"{name}.yaml"
        plan = load_plan(path)
        out[name] = (path, plan, analyze(plan))
    return out


def run_cli(
    monkeypatch: pytest.MonkeyPatch, analysed: dict[str, Any], name: str, *args: str, width=80
) -> str:
    """``liftlab analyze <plan> *args`` on the module's analysis, printed ``width`` wide the way
    a pipe is (the console takes its width from COLUMNS)."""
    path, plan, results = analysed[name]

    def cached(p, data=None, *, as_of=None, segment=None):  # type: ignore[no-untyped-def]
        assert p.name == plan.name and data is None
        assert as_of is None and segment is None  # the whole test, no slice
        return results

    monkeypatch.setattr(liftlab.analysis, "analyze", cached)
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(liftlab.cli, "out", Console(color_system=None))
    result = CliRunner().invoke(app, ["analyze", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def comparisons(plan, results):  # type: ignore[no-untyped-def]
    """(label, role, variant, headline, display, control text, treatment text) per comparison,
    in the scorecard's order (primary, guardrail, secondary), the arms' values formatted with
    one number of decimals per metric."""
    roles = ("primary", "guardrail", "secondary")
    for m in sorted(results.metrics, key=lambda m: roles.index(m.metric.role)):
        display = display_of(plan, m.metric.name)
        arms = {plan.control_name: m.comparisons[0].headline.control_value}
        arms.update({c.variant: c.headline.treatment_value for c in m.comparisons})
        shown = fmt.values(display, arms)
        for c in m.comparisons:
            yield (
                display.label,
                m.metric.role,
                c.variant,
                c.headline,
                display,
                shown[plan.control_name],
                shown[c.variant],
            )


def table_parts(text: str) -> tuple[list[str], list[str]]:
    """The table's header lines and body lines (from the rule to the next blank line)."""
    lines = text.splitlines()
    rule = next(i for i, ln in enumerate(lines) if ln and set(ln) == {RULE})
    start = max(i for i in range(rule) if not lines[i].strip()) + 1
    end = next(i for i in range(rule + 1, len(lines)) if not lines[i].strip())
    return lines[start:rule], lines[rule + 1 : end]


def row_blocks(body: list[str], plan) -> dict[tuple[str, str], list[str]]:  # type: ignore[no-untyped-def]
    """Each (metric label, variant) row's lines: its first line and the continuation lines."""
    groups = {f"{display_of(plan, m.name).label} · {m.role}": m for m in plan.metrics}
    blocks: dict[tuple[str, str], list[str]] = {}
    label = ""
    key: tuple[str, str] | None = None
    for line in body:
        if line in groups:
            label, key = display_of(plan, groups[line].name).label, None
        elif line.startswith(" "):
            assert key is not None, line
            blocks[key].append(line)
        else:
            variant = line.split(" ")[0]
            assert variant in plan.treatments, line
            key = (label, variant)
            blocks[key] = [line]
    return blocks


def expected_tokens(h, display, control_text, treatment_text, variant, role, adj):  # type: ignore[no-untyped-def]
    """The words a table row shows: variant, arms, the headline change, probability, status."""
    prob = h.probability_text().split()
    if adj and h.probability_kind.endswith("_adjusted"):
        prob.append("adj.")
    return [
        variant,
        control_text,
        treatment_text,
        *h.effect_text(display).split(),
        *prob,
        *h.status_text.split(),
    ]


@pytest.mark.parametrize("name", DEMO_PLANS)
def test_table_at_80_columns_keeps_every_name(monkeypatch, analysed, name):
    _, plan, results = analysed[name]
    text = run_cli(monkeypatch, analysed, name, width=80)
    header, body = table_parts(text)
    assert all(len(line) <= 80 for line in header + body), text
    blocks = row_blocks(body, plan)
    # Every comparison has its row, named by its full metric label and variant name.
    wanted = {(label, variant) for label, _, variant, *_ in comparisons(plan, results)}
    assert set(blocks) == wanted
    for metric in plan.metrics:
        line = f"{display_of(plan, metric.name).label} · {metric.role}"
        assert line in body
    for variant in plan.treatments:
        assert sum(ln.startswith(f"{variant} ") for ln in body) == len(plan.metrics)


@pytest.mark.parametrize("name", DEMO_PLANS)
@pytest.mark.parametrize("width", [80, 200])
def test_table_shows_exactly_the_headlines(monkeypatch, analysed, name, width):
    _, plan, results = analysed[name]
    text = run_cli(monkeypatch, analysed, name, width=width)
    _, body = table_parts(text)
    blocks = row_blocks(body, plan)
    kinds = {c[3].probability_kind for c in comparisons(plan, results)}
    adj = len(kinds) > 1
    for label, role, variant, h, display, control_text, treatment_text in comparisons(
        plan, results
    ):
        lines = blocks[(label, variant)]
        want = expected_tokens(h, display, control_text, treatment_text, variant, role, adj)
        # A row's words, its continuation lines (an interval stacked under its effect, a
        # wrapped status) read column by column, are the headline's and nothing else.
        words = [w for ln in lines for w in ln.split()]
        assert sorted(words) == sorted(want), lines
        change = h.effect_text(display)
        if width == 200:
            assert len(lines) == 1
            assert lines[0].split() == want
            assert change in lines[0]
        else:
            est, interval = change.split(" [", 1)
            assert change in lines[0] or (est in lines[0] and f"[{interval}" in lines[1])
    legend = text.split("\n\n")[-1]
    interval_labels = {c[3].interval_label for c in comparisons(plan, results)}
    assert all(lab in " ".join(legend.split()) for lab in interval_labels)


def test_table_above_it_the_verdict_srm_and_progress(monkeypatch, analysed):
    _, plan, results = analysed["creative-tournament"]
    text = run_cli(monkeypatch, analysed, "creative-tournament", width=200)
    lines = text.splitlines()
    d = results.decision
    assert lines[0] == f"{plan.name}: {d.recommendation.replace('_', ' ').upper()}"
    assert " ".join(d.reason.split()) in " ".join(text.split())
    for caveat in d.caveats:
        assert f"caveat: {caveat}" in lines
    srm = next(ln for ln in lines if ln.startswith("SRM check: "))
    assert srm.startswith("SRM check: MISMATCH" if results.srm.mismatch else "SRM check: ok")
    assert any(
        ln.startswith("progress: ") and f"{results.progress.smallest:,}" in ln for ln in lines
    )


def test_bayesian_table_shows_the_chance_to_beat_control_and_no_p(monkeypatch, analysed):
    _, plan, results = analysed["creative-tournament"]
    assert plan.analysis.method == "bayesian"
    for width in (80, 200):
        text = run_cli(monkeypatch, analysed, "creative-tournament", width=width)
        header, _ = table_parts(text)
        if width == 200:
            assert header[-1].split()[-5:] == ["chance", "to", "beat", "control", "status"]
        else:  # the header wraps at its words, bottom-aligned
            assert header[0].split() == ["chance", "to", "beat"]
            assert header[-1].split()[-2:] == ["control", "status"]
        assert "adj" not in text and "p-value" not in text
        assert all(w != "p" for w in " ".join(header).split())
        for *_, h, _, _, _ in comparisons(plan, results):
            assert h.probability_kind == "chance_to_beat_control"
            assert h.probability_text().endswith("%")


@pytest.mark.parametrize("name", ["pricing-three-tiers", "landing-headline"])
def test_adjusted_p_values_are_marked(monkeypatch, analysed, name):
    _, plan, results = analysed[name]
    text = run_cli(monkeypatch, analysed, name, width=200)
    _, body = table_parts(text)
    blocks = row_blocks(body, plan)
    for label, role, variant, h, *_ in comparisons(plan, results):
        line = blocks[(label, variant)][0]
        assert (f"{h.probability_text()} adj." in line) == (role == "primary")
    assert f"adjusted for multiple testing ({plan.analysis.correction})" in text
    guard = [c for c in comparisons(plan, results) if c[1] == "guardrail"]
    for label, _, variant, h, *_ in guard:
        assert h.status_text.startswith("guardrail")
        assert h.status_text in blocks[(label, variant)][0]


@pytest.mark.parametrize("name", DEMO_PLANS)
def test_csv_numbers_are_the_headline_numbers(monkeypatch, analysed, name):
    _, plan, results = analysed[name]
    text = run_cli(monkeypatch, analysed, name, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = list(comparisons(plan, results))
    assert len(rows) == len(expected)

    def num(s: str) -> float | None:
        return float(s) if s else None

    for row, (label, role, variant, h, display, *_) in zip(rows, expected, strict=True):
        assert (row["experiment"], row["label"], row["role"], row["variant"]) == (
            plan.name,
            label,
            role,
            variant,
        )
        assert row["control"] == plan.control_name
        assert num(row["effect"]) == h.effect
        assert (num(row["interval_low"]), num(row["interval_high"])) == h.interval
        assert num(row["probability"]) == h.probability
        assert num(row["control_value"]) == h.control_value
        assert num(row["treatment_value"]) == h.treatment_value
        assert num(row["level"]) == h.level
        assert row["effect_type"] == h.effect_type
        assert row["interval_kind"] == h.interval_kind
        assert row["probability_kind"] == h.probability_kind
        assert row["status"] == h.status
        assert row["change"] == h.effect_text(display)
        assert row["probability_text"] == h.probability_text()


@pytest.mark.parametrize("name", DEMO_PLANS)
def test_markdown_has_one_row_per_comparison(monkeypatch, analysed, name):
    _, plan, results = analysed[name]
    text = run_cli(monkeypatch, analysed, name, "--format", "markdown", width=40)
    table = [ln for ln in text.splitlines() if ln.startswith("|")]
    header, sep, *rows = table
    assert header.startswith("| metric | role | variant | control | treatment | change |")
    assert set(sep.replace("|", "").split()) <= {"---", "---:"}
    expected = list(comparisons(plan, results))
    assert len(rows) == len(expected)
    for row, (label, role, variant, h, display, ctrl, treat) in zip(rows, expected, strict=True):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[:6] == [label, role, variant, ctrl, treat, h.effect_text(display)]
        assert cells[6].startswith(h.probability_text())
        assert cells[7] == h.status_text
    assert f"**{results.decision.recommendation.replace('_', ' ').upper()}**" in text


@pytest.mark.parametrize("args", [["--format", "json"], ["--json"], ["--json", "--format", "json"]])
def test_json_is_the_results_json(monkeypatch, analysed, args):
    _, _, results = analysed["pricing-three-tiers"]
    assert run_cli(monkeypatch, analysed, "pricing-three-tiers", *args) == results.to_json()


def test_json_and_another_format_disagree(monkeypatch, analysed):
    path, _, _ = analysed["pricing-three-tiers"]
    result = CliRunner().invoke(app, ["analyze", str(path), "--json", "--format", "csv"])
    assert result.exit_code != 0
    assert isinstance(result.exception, LiftlabError)
    assert "--json" in str(result.exception)


def _subprocess(*args: str, cwd: Path, columns: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "liftlab.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_end_to_end_piped_at_80_columns(project, analysed):
    """The real command, piped with COLUMNS=80: the table fits, names whole, headlines as
    analysed in Python; --format json is analyze(plan).to_json() but for the time stamp."""
    path, plan, results = analysed["pricing-three-tiers"]
    proc = _subprocess("analyze", str(path), cwd=project, columns=80)
    assert proc.returncode == 0, proc.stderr
    header, body = table_parts(proc.stdout)
    assert all(len(ln) <= 80 for ln in header + body), proc.stdout
    blocks = row_blocks(body, plan)
    for label, _, variant, h, display, *_ in comparisons(plan, results):
        block = " ".join(blocks[(label, variant)])
        est, interval = h.effect_text(display).split(" [", 1)
        assert est in block and f"[{interval}" in block
        assert h.probability_text() in block

    proc = _subprocess("analyze", str(path), "--format", "json", cwd=project, columns=80)
    assert proc.returncode == 0, proc.stderr
    got, want = json.loads(proc.stdout), results.to_dict()
    got.pop("generated_at")
    want.pop("generated_at")
    assert got == want


def test_validate_prints_one_line_per_plan_when_piped(project):
    plans = [str(project / "experiments" / f"{n}.yaml") for n in DEMO_PLANS]
    proc = _subprocess("validate", *plans, cwd=project, columns=40)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(plans)
    for line, path in zip(lines, plans, strict=True):
        assert line.startswith(f"ok: {path} (") and line.endswith(" metrics)")
