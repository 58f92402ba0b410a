"""The whole report at the scale of an ad-platform export: 600 ads, observational.

One module fixture writes a Meta Ads Manager export by day (the ``meta`` preset's headers,
:data:`liftlab.simulate_ads.HEADERS`) of 600 ads in four campaigns over 12 days, with one
known best ad (CTR 1.6 × the highest other), and a ``kind: creative`` plan with
``randomization: none`` that names every ad; it runs the real report once (``liftlab.report``,
the analysis notebook through papermill) and the command line in-process on one analysis.

- ``liftlab check`` passes (every chart drawn, no text cut, overlapping or truncated), also
  in the wider font; the page stays under 600 KB (its size is printed; it was 2.8 MB when
  every surface listed every arm).
- Every per-arm surface lists the same arms (:func:`liftlab.scorecard.listed_arms`): the
  known best ad and the runner-up among them, and each metric's rest row counts the other
  arms exactly, by their status in results.json.
- No unlisted ad's name appears in the page more often than in the creative section (which
  has its own top ``show`` and names the significant ads in its summary): the generic
  surfaces name none of them.
- The observational winner's headline word is ``LEADS`` on every surface (verdict box,
  scorecard, index, command-line table, markdown and CSV); ``results.json`` still says
  ``ship``.
"""

from __future__ import annotations

import csv
import html
import io
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import liftlab.analysis
import liftlab.cli
from liftlab import analyze, load_plan
from liftlab.browser import WIDE_FONT_CSS, check_pages, find_chromium
from liftlab.headline import STATUS_TEXT, verdict_text, verdict_word
from liftlab.report import list_runs, read_json_object, run_reports
from liftlab.scorecard import DEFAULT_SHOW, listed_arms
from liftlab.simulate_ads import HEADERS
from liftlab.views import KIND_ANCHOR
from tests.conftest import ROOT, console_buffer, write_plan

NAME = "six-hundred-ads"
K, DAYS, BEST = 600, 12, 137
ADS = [f"Ad {i:03d}" for i in range(1, K + 1)]  # equal lengths: no name inside another
CAMPAIGNS = ("Spring - Static", "Spring - Video", "Spring - UGC", "Spring - Carousel")
KB = 1024


def write_export(path: Path, seed: int = 600) -> str:
    """A Meta export by day: CTRs Beta around 1.2% (between-ad sd ≈ 0.36 pp), ad ``BEST`` at
    1.6 × the highest other, a Gamma(8) day multiplier, lognormal daily volumes; returns the
    best ad's name."""
    rng = np.random.default_rng(seed)
    mu, kappa = 0.012, 900.0
    ctr = rng.beta(kappa * mu, kappa * (1 - mu), K)
    ctr[BEST] = 1.6 * np.delete(ctr, BEST).max()
    volume = 1500 * rng.lognormal(0.0, 0.5, K)
    rows = []
    for d in range(DAYS):
        day = str(np.datetime64("2026-11-02") + d)
        impressions = rng.poisson(volume)
        clicks = rng.binomial(impressions, np.minimum(1, ctr * rng.gamma(8, 1 / 8, K)))
        spend = impressions * 9.5 / 1000 * rng.lognormal(0.0, 0.1, K)
        purchases = rng.binomial(clicks, 0.035)
        value = np.where(purchases > 0, rng.gamma(np.maximum(purchases, 1) * 2.0, 25.0), 0.0)
        for g in range(K):
            rows.append(
                [
                    day,
                    day,
                    CAMPAIGNS[g % len(CAMPAIGNS)],
                    "Broad 25-54",
                    ADS[g],
                    int(impressions[g]),
                    int(impressions[g] / 1.2),
                    int(clicks[g]),
                    f"{spend[g]:.2f}",
                    int(purchases[g]),
                    f"{value[g]:.2f}",
                ]
            )
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS)
        w.writerows(rows)
    return ADS[BEST]


def plan_dict() -> dict[str, Any]:
    return {
        "name": NAME,
        "kind": "creative",
        "hypothesis": "Some spring ad earns more link clicks per impression than Ad 001.",
        "currency": "USD",
        "randomization": "none",
        "control": ADS[0],
        "variants": {ad: {} for ad in ADS},
        "data": {"aggregates": "data/meta600.csv", "preset": "meta", "columns": {"arm": "ad"}},
        "metrics": [
            {"name": "ctr", "label": "click-through rate", "type": "ctr", "role": "primary"},
            {"name": "cpa", "label": "cost per purchase", "type": "cpa", "format": "currency"},
            {"name": "purchases", "label": "purchases per ad-day", "type": "mean"}
            | {"column": "conversions"},
        ],
        "creative": {"ctr": "ctr", "conversion": "purchases", "top_k": 3, "draws": 4000},
        "analysis": {"alpha": 0.05, "correction": "bh", "method": "frequentist"},
    }


def _cli(path: Path, results: Any, *args: str) -> str:
    """``liftlab analyze PLAN *args`` in-process, on the module's one analysis."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(liftlab.analysis, "analyze", lambda *a, **kw: results)
        mp.setenv("COLUMNS", "200")
        mp.setattr(liftlab.cli, "out", Console(color_system=None))
        done = CliRunner().invoke(liftlab.cli.app, ["analyze", str(path), *args])
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("scale")
    for folder in ("experiments", "data", "notebooks"):
        (root / folder).mkdir()
    (root / "notebooks" / "analyze.ipynb").write_bytes(
        (ROOT / "notebooks" / "analyze.ipynb").read_bytes()
    )
    best = write_export(root / "data" / "meta600.csv")
    path = write_plan(root / "experiments" / f"{NAME}.yaml", plan_dict())
    console, buf = console_buffer()
    start = time.perf_counter()
    [outcome] = run_reports([path], console=console)
    took = time.perf_counter() - start
    assert outcome.ok, buf.getvalue()
    [run] = list_runs(root / "reports" / NAME)
    page = (run / "report.html").read_text(encoding="utf-8")
    print(f"\n{K} ads: report in {took:.1f} s, {len(page.encode()) / KB:.0f} KB")
    results = analyze(load_plan(path))  # the command line's surfaces, in-process
    return {
        "best": best,
        "outcome": outcome,
        "run": run,
        "page": page,
        "json": read_json_object(run / "results.json"),
        "index": (root / "reports" / "index.html").read_text(encoding="utf-8"),
        "results": results,
        "table": _cli(path, results),
        "markdown": _cli(path, results, "--format", "markdown"),
        "csv": _cli(path, results, "--format", "csv"),
    }


def _between(text: str, start: str, end: str) -> str:
    a = text.index(start)
    return text[a : text.index(end, a + len(start))]


def _scorecard(page: str) -> str:
    return _between(page, 'id="scorecard"', "liftlab-contents")


def _listed_in_scorecard(page: str, metric: str) -> list[str]:
    """The treatments of one metric's scorecard rows, in order."""
    rows = re.findall(rf'<tr data-metric="{metric}">(.*?)</tr>', _scorecard(page), flags=re.S)
    return [re.search(r"(Ad \d{3})", r).group(1) for r in rows]  # type: ignore[union-attr]


# ---- the page -----------------------------------------------------------------------------------
def test_the_page_passes_the_check_and_stays_light(scale: dict[str, Any]) -> None:
    size = len(scale["page"].encode())
    assert size < 600 * KB, f"{size / KB:.0f} KB"
    if find_chromium() is None:
        pytest.skip("Chromium not found: the check needs it (apt-get install chromium)")
    path = scale["run"] / "report.html"
    for css in (None, WIDE_FONT_CSS):
        [check] = check_pages([path], css=css)
        assert check.ok, check.problems()
        assert len(check.charts) >= 10 and all(c.drawn and c.legible for c in check.charts)


def test_verdict_first_and_every_ad_counted_in_the_title(scale: dict[str, Any]) -> None:
    page = scale["page"]
    verdict = page.index('class="liftlab-verdict')
    assert verdict < page.index('id="scorecard"') < page.index('id="health"')
    title = page[:verdict]
    assert f"600 variants</strong> (ads), <strong>{ADS[0]}</strong> the control" in title
    assert "Ad 002" not in title  # the names are not listed above the verdict


def test_the_best_ad_and_the_runner_up_are_listed_first(scale: dict[str, Any]) -> None:
    data, best = scale["json"], scale["best"]
    decision = data["decision"]
    assert decision["recommendation"] == "ship" and decision["variant"] == best
    listed = _listed_in_scorecard(scale["page"], "ctr")
    assert listed[:2] == [best, decision["runner_up"]]
    assert len(listed) == DEFAULT_SHOW  # the plan's creative.show, by default 15
    # the same arms, in the same order, on every metric and in every metric table
    for m in data["metrics"]:
        assert _listed_in_scorecard(scale["page"], m["name"]) == listed
        table = _between(scale["page"], f'id="metric-{m["name"]}"', "</table>")
        rows = re.findall(r">(Ad \d{3})(?:\u00a0\(control\))?</td>", table)
        assert rows == [ADS[0], *listed]
    # the listing is liftlab.scorecard.listed_arms's
    assert list(listed_arms(scale["results"]).treatments) == listed


def test_the_rest_rows_count_the_other_arms_by_status(scale: dict[str, Any]) -> None:
    data, page = scale["json"], scale["page"]
    listed = set(_listed_in_scorecard(page, "ctr"))
    rest = K - 1 - len(listed)
    for m in data["metrics"]:
        statuses = Counter(
            c["headline"]["status"] for c in m["comparisons"] if c["variant"] not in listed
        )
        assert sum(statuses.values()) == rest
        counts = ", ".join(
            f"{n:,} {STATUS_TEXT[s]}" for s in STATUS_TEXT if (n := statuses.get(s, 0))
        )
        text = f"+ {rest:,} more ads: {counts}; see results.json"
        row = re.search(rf'<tr class="ll-rest" data-rest="{m["name"]}">(.*?)</tr>', page, re.S)
        assert row is not None and html.escape(text) in row.group(1), m["name"]
        # the metric's own table: the rest's units summed, their statuses counted
        table = _between(page, f'id="metric-{m["name"]}"', "</table>")
        assert f"+ {rest:,} more ads (each in results.json)" in table
        assert f">{counts}</td>" in table
    # the sample-ratio table sums the rest's clusters
    counts = data["srm"]["counts"]
    clusters = sum(n for v, n in counts.items() if v != ADS[0] and v not in listed)
    health = _between(page, 'id="health"', 'id="metrics"')
    assert re.search(rf"more ads \(together; each in results.json\).*?{clusters:,}", health, re.S)


def test_no_unlisted_ad_is_named_outside_the_creative_section(scale: dict[str, Any]) -> None:
    """Every name of an ad the generic surfaces do not list appears in the page only as often
    as in the creative section: tables, charts (their SVG text and labels), captions and
    flags name none of them."""
    page = scale["page"]
    listed = {ADS[0], *_listed_in_scorecard(page, "ctr")}
    start = page.index(KIND_ANCHOR)
    section = page[start : page.index('id="glossary"', start)]
    generic = page[:start] + page[page.index('id="glossary"', start) :]
    named = [ad for ad in ADS if ad not in listed and ad in page]
    assert named, "the creative section names some of its own top ads"
    for ad in ADS:
        if ad not in listed:
            assert page.count(ad) == section.count(ad), ad
            assert ad not in generic, ad
    for ad in listed:  # the listed ones are in the scorecard, the charts and the tables
        assert generic.count(ad) >= 10, ad


# ---- the headline word ---------------------------------------------------------------------------
def test_the_observational_winner_leads_on_every_surface(scale: dict[str, Any]) -> None:
    best, page, data = scale["best"], scale["page"], scale["json"]
    assert data["decision"]["recommendation"] == "ship"  # the contract's value is unchanged
    assert data["srm"]["randomization"] == "none"
    word = verdict_word("ship", "none")
    assert word == "LEADS" and verdict_text("ship", best, "none") == f"LEADS {best}"
    # the report: the verdict box and the scorecard's tag on the winner's rows
    box = _between(page, 'class="liftlab-verdict', 'id="scorecard"')
    assert f"LEADS: {best} (observed, not randomised)" in box
    assert "Before you act on it" in box
    card = _scorecard(page)
    assert card.count(">LEADS</span>") == len(data["metrics"])
    assert card.count(">runner-up</span>") == len(data["metrics"])
    # the index, the end-of-run line, the command line's table, markdown and CSV
    row = _between(scale["index"], f'<tr id="exp-{NAME}">', "</tr>")
    assert f">LEADS {best}</span>" in row
    assert scale["outcome"].verdict == f"LEADS {best}"
    assert scale["table"].splitlines()[0] == f"{NAME}: LEADS"
    assert f"**LEADS**: {data['decision']['reason']}" in scale["markdown"]
    rows = list(csv.DictReader(io.StringIO(scale["csv"])))
    assert len(rows) == len(data["metrics"]) * (K - 1)  # the command line keeps every arm
    assert {r["verdict"] for r in rows} == {f"LEADS {best}"}
    # the notebook's one-line view of the results
    assert f"): LEADS: {best}. Observed, not randomised:" in repr(scale["results"])
    # and the word that would claim an effect is on none of them
    for text in (
        page,
        row,
        scale["table"],
        scale["markdown"],
        scale["csv"],
        repr(scale["results"]),
    ):
        assert not re.search(r"\bSHIP\b", text)


def test_over_time_charts_draw_the_leading_five(scale: dict[str, Any]) -> None:
    """A cumulative chart of 15 lines with bands is unreadable: it draws the first
    ``TIME_ARMS`` of the listing (the pick and the runner-up first) and says so."""
    from liftlab.charts import TIME_ARMS, cumulative_chart

    results = scale["results"]
    listing = listed_arms(results)
    for m in results.metrics:
        chart = cumulative_chart(m, listing)
        assert chart is not None
        spec = chart.to_dict()
        frame = next(d for d in spec["datasets"].values() if d and "variant" in d[0])
        drawn = list(dict.fromkeys(row["variant"] for row in frame))
        assert drawn == list(listing.treatments[:TIME_ARMS])
        assert drawn[:2] == [results.decision.variant, results.decision.runner_up]
        sub = spec["title"]["subtitle"]
        subtitle = " ".join(sub) if isinstance(sub, list) else sub
        assert f"The {TIME_ARMS} leading of 599 ads drawn; the tables list {DEFAULT_SHOW}" in (
            subtitle
        )
