"""What a report run puts out: the HTML page's weight and stylesheet, and the progress lines.

The page tests read the demo reports the session's ``good_run`` wrote; the command-line test
runs one demo plan through ``liftlab report`` with its stdout piped, as in a log or CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc

from liftlab.report import RunOutcome, _end_line, _verdict, compact_svg
from tests.conftest import DEMO_PLANS

SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
MARK = re.compile(r'aria-roledescription="([a-z]+) mark"')
KB = 1024


def _page(good_run: dict[str, Any], plan: str) -> str:
    [run] = good_run["runs"][plan]
    return (run / "report.html").read_text(encoding="utf-8")


# ---- the page ----------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_report_carries_its_own_small_stylesheet(good_run: dict[str, Any], plan: str) -> None:
    text = _page(good_run, plan)
    head, body = text.split("</head>", 1)
    # one stylesheet of the report's own in the head: no JupyterLab theme, no highlighting
    [css] = STYLE.findall(head)
    assert len(css.encode()) < 6 * KB
    assert "--jp-" not in text and "var(--" not in text
    assert "JupyterLab" not in text and "data-jp-theme" not in text
    assert ".highlight" not in text
    # it styles what a report shows: tables, headings, quotes, code, charts, print
    for rule in ("table{", "th,td{", "th{", "h2{", "blockquote{", "code,pre{", "svg"):
        assert rule in css, rule
    assert "max-width:1100px" in css and "@media print" in css
    # pandas Styler tables keep their own styles in the body
    assert re.search(r"<style[^>]*>\s*#T_liftlab-", body)
    assert '<table id="T_liftlab-' in body
    # self-contained and as before: title, no script, no code, no empty cell wrappers
    assert f"<title>{plan}: liftlab report</title>" in head
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert "jp-mod-noOutputs" not in text and "load_results(" not in text


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_report_weight_is_its_charts(good_run: dict[str, Any], plan: str) -> None:
    """Before the report had its own stylesheet, each page carried about 260 KB of
    JupyterLab CSS; now what is not chart SVG is the report's text and tables."""
    text = _page(good_run, plan)
    outside_charts = SVG.sub("", text)
    assert len(outside_charts.encode()) < 96 * KB
    assert len(text.encode()) < 350 * KB


def test_demo_reports_are_under_250_kb(good_run: dict[str, Any]) -> None:
    """Light charts (no tick marks under a grid, no hidden tick labels, lines without a point
    per day, 60-point posterior curves, histograms as one stepped area) keep every page
    under 250 KB; the charts were 200-240 KB of each page before."""
    sizes = {plan: len(_page(good_run, plan).encode()) for plan in DEMO_PLANS}
    assert max(sizes.values()) < 250 * KB, sizes
    for plan in DEMO_PLANS:
        svg = SVG.findall(_page(good_run, plan))
        assert sum(len(s.encode()) for s in svg) < 170 * KB, plan
        assert max(len(s.encode()) for s in svg) < 25 * KB, plan
        # every tick label the SVG carries is drawn: none hidden for overlapping
        assert not re.search(r'<text[^>]*opacity="0"', "".join(svg)), plan


def test_compact_svg_draws_the_same_marks_and_words() -> None:
    data = pd.DataFrame({"x": [0.123456, 1.987654, 2.5], "y": [3.14159, 2.71828, 1.41421]})
    chart = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(x="x:Q", y="y:Q")
        .properties(title="a line", width=300, height=120)
    )
    svg = vlc.vegalite_to_svg(chart.to_dict())
    # what an HTML serialiser makes of it: empty elements closed with an end tag
    served = re.sub(r"<(path|line|rect)\b([^<>]*?)/>", r"<\1\2></\1>", svg)
    compact = compact_svg(served)
    assert len(compact) < len(served)
    assert Counter(MARK.findall(compact)) == Counter(MARK.findall(svg)) != Counter()
    assert re.findall(r"<text[^>]*>([^<]*)</text>", compact) == re.findall(
        r"<text[^>]*>([^<]*)</text>", svg
    )
    assert re.findall(r'aria-label="([^"]*)"', compact) == re.findall(r'aria-label="([^"]*)"', svg)
    assert "></path>" not in compact and ' opacity="1"' not in compact
    for value in re.findall(r' (?:d|transform|x|y|x1|x2|y1|y2)="([^"]*)"', compact):
        assert not re.search(r"\d\.\d\d", value), value


# ---- progress lines ----------------------------------------------------------------------------
def test_report_prints_a_line_as_each_plan_starts_and_ends(project: Path, tmp_path: Path) -> None:
    """Piped stdout (a log, CI): a start and an end line per plan, whole at 80 columns."""
    liftlab = Path(sys.executable).with_name("liftlab")
    plan = "pricing-three-tiers"
    reports = tmp_path / "a-reports-folder-with-a-long-name-so-the-path-passes-eighty-columns"
    proc = subprocess.run(
        [str(liftlab), "report", f"experiments/{plan}.yaml", "--reports", str(reports)],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{plan}: started"
    [run] = [p for p in (reports / plan).iterdir() if not p.is_symlink()]
    end = re.fullmatch(rf"{plan}: ok in (\d+\.\d) s, (.+) → (.+)", lines[1])
    assert end, lines
    assert 0 < float(end[1]) < 600
    assert end[2] == _verdict(run / "results.json")
    assert Path(end[3]) == run / "report.html" and len(lines[1]) > 80
    assert len(lines) == 2
    # no progress bar anywhere, and the ok message is not said twice
    assert "━" not in proc.stdout + proc.stderr
    assert f"index: {reports / 'index.html'}" in proc.stderr
    assert str(run / "report.html") not in proc.stderr


def test_end_line_points_at_a_failed_run_folder(tmp_path: Path) -> None:
    failed = tmp_path / "20261125T155446Z-failed"
    failed.mkdir()
    outcome = RunOutcome("landing-headline", failed, False, "why", status="timeout", seconds=9.96)
    assert _end_line(outcome) == f"landing-headline: timeout in 10.0 s → {failed}"
    (failed / "report.html").write_text("<html></html>", encoding="utf-8")
    assert _end_line(outcome).endswith(f"→ {failed / 'report.html'}")


def test_a_progress_bar_run_prints_no_progress_lines(good_run: dict[str, Any]) -> None:
    """``run_reports`` without ``lines`` (a terminal) keeps the outcome messages only."""
    assert ": started" not in good_run["log"]
    for outcome in good_run["outcomes"]:
        assert outcome.message in good_run["log"]


def test_the_end_line_and_index_say_leads_for_an_observational_winner(tmp_path: Path) -> None:
    """The verdict's words from results.json (liftlab.headline.verdict_text): the contract's
    ``ship`` reads LEADS under ``srm.randomization: none``, SHIP otherwise or in older files
    without it."""
    import json

    run = tmp_path / "20261125T155446Z"
    run.mkdir()
    decision = {"recommendation": "ship", "variant": "Video 06", "reason": "r"}
    for srm, word in [
        ({"randomization": "none"}, "LEADS Video 06"),
        ({"randomization": "unit"}, "SHIP Video 06"),
        (None, "SHIP Video 06"),
    ]:
        data = {"decision": decision} | ({"srm": srm} if srm else {})
        (run / "results.json").write_text(json.dumps(data), encoding="utf-8")
        assert _verdict(run / "results.json") == word
    keep = {"decision": {"recommendation": "keep_running"}, "srm": {"randomization": "none"}}
    (run / "results.json").write_text(json.dumps(keep), encoding="utf-8")
    assert _verdict(run / "results.json") == "KEEP RUNNING"
    outcome = RunOutcome("ad-export", run, True, "", verdict="LEADS Video 06", seconds=31.2)
    assert _end_line(outcome).startswith("ad-export: ok in 31.2 s, LEADS Video 06")
