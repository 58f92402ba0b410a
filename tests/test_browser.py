"""Reports render offline in a real browser: headless Chromium via liftlab.browser.

Handcrafted pages pin what the check catches (a chart without marks, a request off the
machine, a console error, an uncaught exception); then the three demo reports and the index
built by the session fixtures of conftest.py are opened in one browser: every chart must draw
marks, with no console error and no request leaving the machine.

Without Chromium the tests skip (``apt-get install chromium``), except under ``CI``, where they
fail: CI must run them (``.ci/run`` installs it).
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liftlab.browser import (
    WIDE_FONT_CSS,
    PageCheck,
    check_page,
    check_pages,
    evaluate,
    find_chromium,
)
from liftlab.errors import LiftlabError
from tests.conftest import DEMO_PLANS

CHART = """<svg class="marks" width="200" height="100" viewBox="0 0 200 100">
<g class="mark-group role-title"><g class="mark-text role-title-text">
<text transform="translate(4,14)">{title}</text></g></g>
<g class="mark-rect role-mark" aria-roledescription="rect mark container">{marks}</g></svg>"""
BAR = '<path aria-roledescription="bar" d="M10,10h40v60h-40Z" fill="steelblue"></path>'


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        msg = "Chromium not found ($LIFTLAB_CHROMIUM, chromium, chromium-browser, google-chrome)"
        if os.environ.get("CI"):
            pytest.fail(f"{msg}; CI must run the browser tests: .ci/run installs `chromium`")
        pytest.skip(f"{msg}; install it with `sudo apt-get install chromium` to run these")
    return found


def _page(tmp_path: Path, body: str, name: str = "page.html", head: str = "") -> Path:
    path = tmp_path / name
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title>{head}</head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> dict[str, PageCheck]:
    """The handcrafted pages, checked in one browser."""
    tmp = tmp_path_factory.mktemp("pages")
    pages = {
        "good": _page(tmp, CHART.format(title="Conversion", marks=BAR * 2), "good.html"),
        "empty": _page(tmp, CHART.format(title="Empty", marks=""), "empty.html"),
        "flat": _page(tmp, CHART.format(title="Flat", marks='<path d=""></path>'), "flat.html"),
        "hidden": _page(
            tmp, f"<div style='display:none'>{CHART.format(title='', marks=BAR)}</div>", "h.html"
        ),
        "console": _page(tmp, "<script>console.error('boom')</script>", "console.html"),
        "throws": _page(tmp, "<script>throw new Error('x')</script>", "throws.html"),
    }
    checks = check_pages(list(pages.values()), chromium=chromium)
    return dict(zip(pages, checks, strict=True))


def test_chart_with_marks_is_ok(handmade: dict[str, PageCheck]) -> None:
    page = handmade["good"]
    assert page.ok, page.problems()
    assert page.title == "good.html" and page.loaded
    [chart] = page.charts
    assert (chart.index, chart.title, chart.marks, chart.drawn_marks) == (0, "Conversion", 2, 2)
    assert chart.visible and chart.drawn
    assert page.console_errors == () and page.requests == () and page.problems() == []


@pytest.mark.parametrize(
    ("name", "marks", "message"),
    [
        ("empty", 0, "chart 1 'Empty' drew no marks"),
        ("flat", 1, "chart 1 'Flat' drew no marks"),
        ("hidden", 1, "chart 1 is not visible"),
    ],
)
def test_chart_without_drawn_marks_is_flagged(
    handmade: dict[str, PageCheck], name: str, marks: int, message: str
) -> None:
    page = handmade[name]
    [chart] = page.charts
    assert chart.marks == marks and not chart.drawn and not page.ok
    [problem] = page.problems()
    assert problem.startswith(f"{page.path}: {message}")


def test_console_error_is_recorded(handmade: dict[str, PageCheck]) -> None:
    page = handmade["console"]
    assert page.console_errors == ("console.error: boom",)
    assert not page.ok and page.charts == ()


def test_uncaught_exception_is_recorded(handmade: dict[str, PageCheck]) -> None:
    page = handmade["throws"]
    [error] = page.console_errors
    assert "Uncaught" in error and "Error: x" in error
    assert not page.ok


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1; yields its port and the paths it was asked for."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_requests_off_the_machine_are_recorded_and_blocked(
    tmp_path: Path, chromium: str, local_server: tuple[int, list[str]]
) -> None:
    port, hits = local_server
    urls = [
        "https://cdn.example.com/x.js",
        "https://fonts.googleapis.com/css2?family=Inter",
        f"http://127.0.0.1:{port}/local.js",
    ]
    head = (
        f"<script src='{urls[0]}'></script><link rel=stylesheet href='{urls[1]}'>"
        f"<script src='{urls[2]}'></script>"
    )
    page = check_page(_page(tmp_path, "<p>hi</p>", head=head), chromium=chromium)
    assert set(page.requests) == set(urls)
    assert not page.ok
    assert any("tried to load https://cdn.example.com/x.js" in p for p in page.problems())
    # offline: the failed loads are logged, and even the server on 127.0.0.1 saw nothing
    assert any("ERR_INTERNET_DISCONNECTED" in e for e in page.console_errors)
    assert hits == []


SORTABLE = """<table id="t"><thead><tr><th>name</th></tr></thead><tbody>
<tr><td>b</td></tr><tr><td>c</td></tr><tr><td>a</td></tr></tbody></table>
<script>
document.querySelector('th').addEventListener('click', () => {
  const body = document.querySelector('#t tbody');
  [...body.rows].sort((x, y) => x.textContent.localeCompare(y.textContent))
    .forEach((row) => body.appendChild(row));
});
</script>"""
CLICK = """(() => { document.querySelector('th').click();
  return [...document.querySelectorAll('#t tbody td')].map((td) => td.textContent); })()"""


def test_script_result_is_returned(tmp_path: Path, chromium: str) -> None:
    path = _page(tmp_path, SORTABLE)
    page = check_page(path, chromium=chromium, script=CLICK)
    assert page.extra == ["a", "b", "c"] and page.ok, page.problems()
    assert evaluate(path, "Promise.resolve(6 * 7)", chromium=chromium) == 42


def test_script_exception_is_a_console_error(tmp_path: Path, chromium: str) -> None:
    page = check_page(_page(tmp_path, "<p>hi</p>"), chromium=chromium, script="nope.nope")
    assert page.extra is None
    [error] = page.console_errors
    assert error.startswith("script: ") and "nope is not defined" in error


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"
    with pytest.raises(LiftlabError, match=f"^{re.escape(str(missing))}: file not found"):
        check_pages([missing])


def test_missing_chromium_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFTLAB_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert find_chromium() is None
    with pytest.raises(LiftlabError, match="apt-get install -y chromium, or set LIFTLAB_CHROMIUM"):
        check_page(_page(tmp_path, "<p>hi</p>"))


# --- legible charts: text cut off, truncated or overlapping ------------------------------

# Two identical texts drawn on one spot (as Vega does for a shared axis), a hidden text under
# a shown one (Vega's labelOverlap sets opacity 0), and rotated labels whose upright boxes
# overlap although the labels do not: none of them is a problem.
STACKED = f"""<svg class="marks" width="300" height="140" viewBox="0 0 300 140">
<g class="mark-rect role-mark">{BAR}</g>
<g font-family="sans-serif" font-size="10px">
<text transform="translate(20,30)">twice</text><text transform="translate(20,30)">twice</text>
<text transform="translate(80,30)" opacity="0">hidden one</text>
<text transform="translate(84,30)">shown two</text><text transform="translate(20,60)"> </text>
<text transform="translate(150,120) rotate(-45)">rotated label one</text>
<text transform="translate(165,120) rotate(-45)">rotated label two</text>
</g></svg>"""


def _svg(chart: Any) -> str:
    """The inline SVG a report embeds for ``chart`` (vl-convert, as in the notebook)."""
    from liftlab.charts import use_static_renderer

    use_static_renderer()
    svg: str = chart._repr_mimebundle_()["image/svg+xml"]
    return svg


def _charts() -> dict[str, Any]:
    """Altair charts: one clean, three with one kind of illegible text each."""
    import altair as alt
    import pandas as pd

    data = pd.DataFrame({"x": [0.0, 0.25, 0.5], "y": ["control", "treatment", "other"]})
    long = "a title far longer than the narrow chart it is written on, so it runs off"
    clean = (
        alt.Chart(data, title="Effect")
        .mark_point()
        .encode(x=alt.X("x:Q", axis=alt.Axis(format="+.0%", title="lift")), y="y:N")
        .properties(width=300)
    )
    # no room kept for titles and axes: the title and the y labels run past the edges
    cut = clean.properties(
        width=120, title=long, autosize=alt.AutoSizeParams(type="none"), padding=0
    )
    truncated = clean.encode(
        y=alt.Y("y:N", axis=alt.Axis(labelLimit=30, title="the variant of the experiment"))
    )
    ticks = alt.Axis(format="+.0%", values=[i / 100 for i in range(51)], labelOverlap=False)
    crowded = clean.encode(x=alt.X("x:Q", axis=ticks))
    return {"clean": clean, "cut": cut, "truncated": truncated, "crowded": crowded}


@pytest.fixture(scope="module")
def legibility(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> dict[str, PageCheck]:
    """A page per chart of :func:`_charts`, and the page of handmade stacked texts."""
    tmp = tmp_path_factory.mktemp("legible")
    pages = {name: _page(tmp, _svg(c), f"{name}.html") for name, c in _charts().items()}
    pages["stacked"] = _page(tmp, STACKED, "stacked.html")
    checks = check_pages(list(pages.values()), chromium=chromium)
    return dict(zip(pages, checks, strict=True))


def test_clean_chart_is_legible(legibility: dict[str, PageCheck]) -> None:
    page = legibility["clean"]
    [chart] = page.charts
    assert chart.title == "Effect" and chart.drawn and chart.legible
    assert page.ok, page.problems()


def test_stacked_hidden_blank_and_rotated_texts_are_not_flagged(
    legibility: dict[str, PageCheck],
) -> None:
    page = legibility["stacked"]
    [chart] = page.charts
    assert chart.text_problems == () and page.ok, page.problems()


def test_text_running_off_the_chart_is_flagged(legibility: dict[str, PageCheck]) -> None:
    page = legibility["cut"]
    [chart] = page.charts
    assert chart.drawn and not chart.legible and not page.ok
    long = "a title far longer than the narrow chart it is written on, so it runs off"
    cut = [p for p in chart.text_problems if "is cut off" in p]
    assert any(p.startswith(f"text '{long}' is cut off") and "right edge" in p for p in cut), cut
    assert any(p.startswith("text 'treatment' is cut off") and "left edge" in p for p in cut), cut
    assert f"{page.path}: chart 1 '{long}': text '{long}' is cut off" in "\n".join(page.problems())


def test_text_truncated_with_an_ellipsis_is_flagged(legibility: dict[str, PageCheck]) -> None:
    page = legibility["truncated"]
    [chart] = page.charts
    truncated = [p for p in chart.text_problems if "truncated with an ellipsis" in p]
    assert truncated and all("\u2026" in p for p in truncated), chart.text_problems
    assert any(re.match("text 'tr[a-z]*\u2026' is truncated", p) for p in truncated), truncated
    assert not page.ok


def test_colliding_tick_labels_are_flagged(legibility: dict[str, PageCheck]) -> None:
    page = legibility["crowded"]
    [chart] = page.charts
    overlaps = [p for p in chart.text_problems if " overlap (" in p]
    assert len(overlaps) > 10, chart.text_problems
    assert "texts '+1%' and '+2%' overlap" in "\n".join(overlaps)
    assert all(re.fullmatch(r"texts '\+\d+%' and '\+\d+%' overlap \(\d+ px\)", p) for p in overlaps)
    assert not page.ok


def test_a_wider_font_than_the_layout_cuts_text(tmp_path: Path, chromium: str) -> None:
    """The same clean chart, drawn in a font wider than vl-convert measured, is flagged."""
    import altair as alt
    import pandas as pd

    chart = (
        alt.Chart(pd.DataFrame({"x": [0, 1]}), title="Effect")
        .mark_point()
        .encode(x=alt.X("x:Q", title="a rather long axis title, as wide as the plot is"))
        .properties(width=220)
        .configure(font="Liberation Sans")
    )
    path = _page(tmp_path, _svg(chart))
    assert check_page(path, chromium=chromium).ok
    wide = check_page(path, chromium=chromium, css=WIDE_FONT_CSS)
    [chart_check] = wide.charts
    assert any("as wide as the plot is' is cut off" in p for p in chart_check.text_problems)


# --- the demo reports -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(project: Path, good_run: dict[str, Any], chromium: str) -> dict[str, Any]:
    """The newest good report of each demo plan and the index, checked in one browser."""
    assert good_run["ok"], good_run["log"]
    pages = {
        plan: next(r for r in good_run["runs"][plan] if not r.name.endswith("-failed"))
        / "report.html"
        for plan in DEMO_PLANS
    }
    pages["index"] = project / "reports" / "index.html"
    checks = check_pages(list(pages.values()), chromium=chromium)
    return {"pages": pages, "checks": dict(zip(pages, checks, strict=True))}


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_demo_report_renders_offline(demo: dict[str, Any], plan: str) -> None:
    page: PageCheck = demo["checks"][plan]
    assert page.ok, "\n".join(page.problems())
    assert len(page.charts) >= 3, page.charts
    assert all(chart.drawn and chart.legible for chart in page.charts)
    assert page.console_errors == () and page.requests == ()


def test_demo_charts_stay_legible_in_a_wider_font(demo: dict[str, Any], chromium: str) -> None:
    """Drawn in DejaVu Sans (what a browser without Arial uses), still nothing is cut off,
    truncated or overlapping: the charts leave room for a wider font than they were laid
    out with."""
    plans = [demo["pages"][plan] for plan in DEMO_PLANS]
    pages = check_pages(plans, chromium=chromium, css=WIDE_FONT_CSS)
    problems = [p for page in pages for p in page.problems()]
    assert problems == [], "\n".join(problems)
    assert sum(len(page.charts) for page in pages) >= 3 * len(DEMO_PLANS)


def test_index_renders_offline(demo: dict[str, Any]) -> None:
    page: PageCheck = demo["checks"]["index"]
    assert page.loaded and page.console_errors == () and page.requests == (), page.problems()
    assert page.ok, "\n".join(page.problems())


@pytest.mark.parametrize("plan", DEMO_PLANS)
def test_demo_report_html_loads_nothing_external(demo: dict[str, Any], plan: str) -> None:
    text = demo["pages"][plan].read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*\bsrc\s*=", text, re.I) == []
    assert re.findall(r"<link[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", text, re.I) == []


SORT_SCRIPT = """(() => {
  const ids = () => Array.from(document.querySelectorAll('#portfolio tbody tr')).map(r => r.id);
  const click = (col) => document.querySelector(`#portfolio th[data-col="${col}"] button`).click();
  const out = {initial: ids()};
  click(4); out.liftAsc = ids(); click(4); out.liftDesc = ids();
  click(0); out.nameAsc = ids(); click(0); out.nameDesc = ids();
  out.ariaSort = document.querySelector('#portfolio th[data-col="0"]').getAttribute('aria-sort');
  return out;
})()"""


def test_index_sorts_by_a_clicked_column(demo: dict[str, Any], chromium: str) -> None:
    index = demo["pages"]["index"]
    text = index.read_text(encoding="utf-8")
    rows = re.findall(r'<tr id="(exp-[^"]+)">(.*?)</tr>', text, re.S)
    lift = {
        rid: float(re.findall(r'<td class="change" data-sort="([^"]*)"', row)[0])
        for rid, row in rows
    }
    assert len(lift) >= len(DEMO_PLANS)
    got = evaluate(index, SORT_SCRIPT, chromium=chromium)
    assert got["initial"] == sorted(lift)  # written in name order
    assert got["liftAsc"] == sorted(lift, key=lift.__getitem__)  # numeric, not text order
    assert got["liftDesc"] == sorted(lift, key=lift.__getitem__, reverse=True)
    assert got["nameAsc"] == sorted(lift)
    assert got["nameDesc"] == sorted(lift, reverse=True)
    assert got["ariaSort"] == "descending"


def test_a_report_run_by_hand_with_papermill_renders_offline(
    project: Path, tmp_path: Path, chromium: str
) -> None:
    """papermill alone (defaults but the plan), then `liftlab html`: the page is offline too."""
    import subprocess
    import sys

    import papermill as pm

    out = tmp_path / "report.ipynb"
    pm.execute_notebook(
        str(project / "notebooks" / "analyze.ipynb"),
        str(out),
        parameters={"plan_path": "experiments/creative-tournament.yaml"},
        cwd=str(project),
        progress_bar=False,
    )
    done = subprocess.run(
        [sys.executable, "-m", "liftlab.cli", "html", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    page = check_page(tmp_path / "report.html", chromium=chromium)
    assert page.ok, "\n".join(page.problems())
    assert len(page.charts) >= 3 and all(c.drawn for c in page.charts)
    assert page.title == "creative-tournament: liftlab report"
