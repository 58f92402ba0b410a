"""One number per question: every surface shows each comparison's headline, as formatted.

For every demo plan, the expected texts are computed here from results.json alone (the
headline and the metric's display, through liftlab.format). They must appear, character for
character, in the report's scorecard and in the metric's own table, in the verdict (for the
comparison it quotes), in the portfolio index (the primary metric) and in the command line's
table, markdown and CSV output of `liftlab analyze` on the same plan and data.

The verdict's word (``SHIP``, ``KEEP RUNNING``, … and ``LEADS`` for an observational winner:
liftlab.headline.verdict_word, from results.json's recommendation and randomization) is the
same on every surface: the verdict box, the scorecard's tag on the picked treatment, the
index, and the command line's table, markdown and CSV (tests/test_report_scale.py checks the
observational word on a 600-ad export).
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from liftlab.format import Display, percent
from liftlab.headline import Headline, verdict_text, verdict_word
from tests.conftest import DEMO_PLANS

LIFTLAB = [str(Path(sys.executable).parent / "liftlab")]


def _expected(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in results["metrics"]:
        display = Display.from_dict(m, currency=results.get("currency"))
        for c in m["comparisons"]:
            h = Headline.from_dict(c["headline"])
            out.append(
                {
                    "metric": m["name"],
                    "label": display.label,
                    "role": m["role"],
                    "variant": c["variant"],
                    "change": h.effect_text(display),
                    "probability": h.probability_text(),
                    "status": h.status_text,
                    "headline": h,
                }
            )
    return out


def _between(text: str, start: str, end: str) -> str:
    a = text.index(start)
    b = text.index(end, a + len(start))
    return text[a:b]


def _cli(project: Path, plan: str, *args: str) -> str:
    env = dict(os.environ, COLUMNS="200")
    done = subprocess.run(
        [*LIFTLAB, "analyze", f"experiments/{plan}.yaml", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def surfaces(project: Path, good_run: dict) -> dict[str, dict[str, Any]]:
    assert good_run["ok"], good_run["log"]
    index = (project / "reports" / "index.html").read_text(encoding="utf-8")
    out = {}
    for plan in DEMO_PLANS:
        run = good_run["runs"][plan][-1]
        out[plan] = {
            "results": json.loads((run / "results.json").read_text(encoding="utf-8")),
            "html": (run / "report.html").read_text(encoding="utf-8"),
            "index": _between(index, f'<tr id="exp-{plan}">', "</tr>"),
            "markdown": _cli(project, plan, "--format", "markdown"),
            "csv": _cli(project, plan, "--format", "csv"),
            "table": _cli(project, plan),
        }
    return out


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_report_scorecard_and_metric_tables_show_the_headline(
    surfaces: dict[str, dict[str, Any]], plan: str
) -> None:
    s = surfaces[plan]
    page = s["html"]
    card = _between(page, 'id="scorecard"', "liftlab-contents")
    rows = re.findall(r'<tr data-metric="([^"]+)">(.*?)</tr>', card, flags=re.S)
    expected = _expected(s["results"])
    assert len(rows) == len(expected)
    for e in expected:
        group = [r for metric, r in rows if metric == e["metric"]]
        # the metric's label and role once, on its first row
        assert f">{html.escape(e['label'])}</a>" in group[0]
        # the name, alone or followed by the verdict's tag (the pick, the runner-up)
        row = next(r for r in group if re.search(rf">{re.escape(e['variant'])}(</td>| <span)", r))
        assert f">{html.escape(e['change'])}</td>" in row
        assert f">{html.escape(e['probability'])}</td>" in row
        assert f">{e['status']}</span>" in row
        # the metric's own table: the same change, probability and status on its row
        section = _between(page, f'id="metric-{e["metric"]}"', "</table>")
        table_row = next(
            r for r in re.findall(r"<tr>(.*?)</tr>", section, flags=re.S) if f">{e['variant']}" in r
        )
        cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", table_row, flags=re.S)]
        assert html.escape(e["change"]) in cells
        assert html.escape(e["probability"]) in cells
        assert e["status"] in cells


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_verdict_quotes_the_headline_it_decides_by(
    surfaces: dict[str, dict[str, Any]], plan: str
) -> None:
    s = surfaces[plan]
    decision = s["results"]["decision"]
    verdict = _between(s["html"], "liftlab-verdict", 'id="scorecard"')
    assert html.escape(decision["reason"]) in verdict
    if decision["recommendation"] == "ship":
        primary = next(e for e in _expected(s["results"]) if e["role"] == "primary")
        winner = next(
            e
            for e in _expected(s["results"])
            if e["metric"] == primary["metric"] and e["variant"] == decision["variant"]
        )
        assert winner["change"] in decision["reason"]
        assert winner["probability"] in decision["reason"]
    # the command line prints the same reason
    assert decision["reason"] in s["markdown"]


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_the_verdict_word_is_the_same_on_every_surface(
    surfaces: dict[str, dict[str, Any]], plan: str
) -> None:
    s = surfaces[plan]
    decision = s["results"]["decision"]
    randomization = s["results"]["srm"]["randomization"]
    word = verdict_word(decision["recommendation"], randomization)
    text = verdict_text(decision["recommendation"], decision["variant"], randomization)
    # the report's verdict box: the word, and the pick after a colon
    box = _between(s["html"], 'class="liftlab-verdict', 'id="scorecard"')
    heading = re.search(r"font-size: 1.9em;[^>]*>([^<]*)</div>", box)
    assert heading is not None
    pick = f": {decision['variant']}" if decision["recommendation"] == "ship" else ""
    assert html.unescape(heading.group(1)).removeprefix("⚠ ").startswith(word + pick)
    # the scorecard tags the picked treatment with the same word
    card = _between(s["html"], 'id="scorecard"', "liftlab-contents")
    tags = re.findall(r'class="ll-tag ll-verdict-tag"[^>]*>([^<]*)</span>', card)
    if decision["recommendation"] == "ship":
        assert tags and set(tags) == {word}
    else:
        assert not tags
    # the index, and the command line's table, markdown and CSV
    assert f">{html.escape(text)}</span>" in s["index"]
    assert s["table"].splitlines()[0] == f"{s['results']['experiment']}: {word}"
    assert f"**{word}**: " in s["markdown"]
    assert {r["verdict"] for r in csv.DictReader(io.StringIO(s["csv"]))} == {text}


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_index_shows_the_primary_headline(surfaces: dict[str, dict[str, Any]], plan: str) -> None:
    s = surfaces[plan]
    results = s["results"]
    primary = next(m for m in results["metrics"] if m["role"] == "primary")
    for e in _expected(results):
        if e["metric"] != primary["name"]:
            continue
        assert f"{e['variant']} <b>{html.escape(e['change'])}</b>" in s["index"]
        assert html.escape(e["probability"]) in s["index"]


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_command_line_shows_the_headline(surfaces: dict[str, dict[str, Any]], plan: str) -> None:
    s = surfaces[plan]
    expected = _expected(s["results"])
    rows = list(csv.DictReader(io.StringIO(s["csv"])))
    assert len(rows) == len(expected)
    for e in expected:
        row = next(r for r in rows if r["metric"] == e["metric"] and r["variant"] == e["variant"])
        h: Headline = e["headline"]
        assert float(row["effect"]) == pytest.approx(h.effect, rel=1e-12)
        assert row["status"] == h.status
        assert row["change"] == e["change"] and row["probability_text"] == e["probability"]
        # the markdown and the wide table print the same texts
        md_row = next(
            line
            for line in s["markdown"].splitlines()
            if line.startswith(f"| {e['label']} |") and f"| {e['variant']} |" in line
        )
        assert f"| {e['change']} |" in md_row
        assert e["probability"] in md_row and e["status"] in md_row
        assert e["change"] in s["table"]


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_every_in_page_link_has_its_target(surfaces: dict[str, dict[str, Any]], plan: str) -> None:
    """Scorecard, contents and glossary links all land: no dead in-page anchor."""
    page = surfaces[plan]["html"]
    targets = set(re.findall(r'\bid="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert {"scorecard", "health", "metrics", "glossary", "conventions"} <= links
    assert any(link.startswith("glossary-") for link in links)
    assert links <= targets, sorted(links - targets)
    # the report links back to the portfolio index, which exists two folders up
    assert 'href="../../index.html"' in page


def test_a_plan_without_baseline_or_mde_plans_no_size(project: Path, tmp_path: Path) -> None:
    """The demo pricing plan with its baselines and MDE removed: no invented planned size."""
    import yaml

    from liftlab import present
    from liftlab.analysis import analyze
    from liftlab.plan import load_plan

    raw = yaml.safe_load((project / "experiments" / "pricing-three-tiers.yaml").read_text())
    for m in raw["metrics"]:
        m.pop("baseline", None)
        m.pop("baseline_sd", None)
    raw["analysis"].pop("mde")
    path = project / "experiments" / "pricing-unsized.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    try:
        res = analyze(load_plan(path))
    finally:
        path.unlink()
    assert res.progress is not None and res.progress.planned_n is None
    assert res.to_dict()["planned_n_per_variant"] is None
    box = present.verdict_html(res)
    assert "No sample size was planned" in box
    assert "planned units per variant" not in box and "more to go" not in box
    assert res.decision.recommendation == "keep_running"
    detect = res.progress.detectable_effect
    assert detect is not None
    assert f"can detect a lift of about {percent(detect)}" in res.decision.reason


def test_currency_is_shown_in_the_plans_units(surfaces: dict[str, dict[str, Any]]) -> None:
    """pricing-three-tiers sets currency: EUR; its money metric prints in euros everywhere."""
    s = surfaces["pricing-three-tiers"]
    assert s["results"]["currency"] == "EUR"
    card = _between(s["html"], 'id="scorecard"', "liftlab-contents")
    rpv = next(e for e in _expected(s["results"]) if e["metric"] == "revenue_per_visitor")
    assert re.search(r">€\d+\.\d\d</td>", card)
    assert "€" in s["markdown"] and "€" in s["table"]
    assert rpv["change"] in s["table"]
    # prices in the variants table too
    assert "<td>€19.00</td>" in s["html"] and "<td>€29.00</td>" in s["html"]
