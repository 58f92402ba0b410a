"""Exploring in a notebook: analyze's as_of and segment, the rich display of Results, the
notebook renderer, the explore notebook and ``make lab``.

The slices are checked against DuckDB queries written here from the rules of
:mod:`liftlab.events` (a unit's first exposure, one variant, an event inside the metric's
window after it), run on the simulated demo tables filtered by hand.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import nbformat
import pytest
import vl_convert as vlc

import liftlab
from liftlab import charts
from liftlab.analysis import Results
from liftlab.browser import WIDE_FONT_CSS, check_pages, find_chromium
from liftlab.decision import display_of
from liftlab.errors import DataError, LiftlabError, PlanError
from liftlab.plan import Plan, load_plan
from liftlab.report import export_html, write_html
from tests.conftest import ROOT, write_plan

AS_OF = "2026-11-10"
CUT = "2026-11-11 00:00:00"  # the end of AS_OF: rows strictly before it are kept


@pytest.fixture(scope="module")
def landing(project: Path) -> Plan:
    return load_plan(project / "experiments" / "landing-headline.yaml")


@pytest.fixture(scope="module")
def full(landing: Plan) -> Results:
    return liftlab.analyze(landing)


def _by_hand(
    db: Path, event: str, window_days: int, *, cut: str | None = None, device: str | None = None
) -> dict[str, tuple[int, float]]:
    """Per variant: kept units and the share with ``event`` within ``window_days`` of their
    first exposure, exposures and events before ``cut``, units whose first exposure was on
    ``device``."""
    before = f"< TIMESTAMP '{cut}'" if cut else "IS NOT NULL"
    on_device = f"AND device = '{device}'" if device else ""
    sql = f"""
        WITH e AS (
            SELECT * FROM landing_exposures WHERE user_id IS NOT NULL AND exposed_at {before}
        ), u AS (
            SELECT user_id, min(variant) AS variant, count(DISTINCT variant) AS nv,
                   min(exposed_at) AS t0, arg_min(device, exposed_at) AS device
            FROM e GROUP BY user_id
        ), k AS (
            SELECT * FROM u WHERE nv = 1 AND variant IN ('control', 'benefit') {on_device}
        ), hit AS (
            SELECT DISTINCT k.user_id FROM k JOIN landing_events v ON v.user_id = k.user_id
            WHERE v.event = '{event}' AND v.ts {before}
              AND v.ts >= k.t0 AND v.ts < k.t0 + INTERVAL {window_days} DAY
        )
        SELECT variant, count(*) AS n, avg(CASE WHEN hit.user_id IS NULL THEN 0 ELSE 1 END)
        FROM k LEFT JOIN hit USING (user_id) GROUP BY variant
    """
    with duckdb.connect(str(db), read_only=True) as con:
        return {v: (int(n), float(m)) for v, n, m in con.sql(sql).fetchall()}


def _observed(results: Results, metric: str) -> dict[str, tuple[int, float]]:
    return {v: (s.n, s.mean) for v, s in results.metric(metric).variants.items()}


def _assert_same(got: dict[str, tuple[int, float]], want: dict[str, tuple[int, float]]) -> None:
    assert set(got) == set(want)
    for v, (n, mean) in want.items():
        assert got[v][0] == n
        assert got[v][1] == pytest.approx(mean, rel=1e-12)


# ---- as_of and segment on event tables ---------------------------------------------------------
def test_as_of_keeps_units_and_events_up_to_the_end_of_that_day(
    project: Path, landing: Plan, full: Results
) -> None:
    db = project / "data" / "shop.duckdb"
    r = liftlab.analyze(landing, as_of=AS_OF)
    for metric, event, window in (("signup_rate", "signup", 7), ("bounce_rate", "bounce", 1)):
        _assert_same(_observed(r, metric), _by_hand(db, event, window, cut=CUT))
    assert r.srm.counts == {v: n for v, (n, _) in _by_hand(db, "signup", 7, cut=CUT).items()}
    assert 0 < r.total_units < full.total_units
    assert r.traffic.days[-1] == dt.date(2026, 11, 10)
    assert r.scope is not None and r.to_dict()["scope"] == {"as_of": AS_OF}
    # a date, its ISO string and the last microsecond of the day are the same cut
    same = liftlab.analyze(landing, as_of=dt.datetime(2026, 11, 10, 23, 59, 59, 999999))
    assert _observed(same, "signup_rate") == _observed(r, "signup_rate")
    assert same.to_dict()["scope"] == {"as_of": "2026-11-10T23:59:59.999999"}


def test_as_of_equals_the_analysis_of_tables_cut_by_hand(
    project: Path, landing: Plan, tmp_path: Path
) -> None:
    """Every number (covariates, caps, the sequential test, the verdict) is that of an
    analysis of copies of the tables holding only the rows up to as_of."""
    cut_db = tmp_path / "cut.duckdb"
    with duckdb.connect(str(cut_db)) as con:
        con.sql(f"ATTACH '{project / 'data' / 'shop.duckdb'}' AS src (READ_ONLY)")
        con.sql(
            "CREATE TABLE landing_exposures AS SELECT * FROM src.landing_exposures "
            f"WHERE exposed_at < TIMESTAMP '{CUT}'"
        )
        con.sql(
            "CREATE TABLE landing_events AS SELECT * FROM src.landing_events "
            f"WHERE ts < TIMESTAMP '{CUT}'"
        )
    cut_plan = landing.with_(data={"engine": f"duckdb://{cut_db}"})
    stamp = "2026-11-10T00:00:00Z"
    want = liftlab.analyze(cut_plan, generated_at=stamp).to_dict()
    got = liftlab.analyze(landing, as_of=AS_OF, generated_at=stamp).to_dict()
    for key in ("srm", "metrics", "decision", "traffic", "data_quality", "progress"):
        _assert_close(got[key], want[key], key)


def _assert_close(got: Any, want: Any, where: str) -> None:
    """Equal, floats to 1e-9 relative (sums over rows in another order differ in the last
    digits)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for k in want:
            _assert_close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), where
    else:
        assert got == want, where


def test_segment_keeps_the_units_whose_first_exposure_is_in_it(
    project: Path, landing: Plan, full: Results
) -> None:
    db = project / "data" / "shop.duckdb"
    r = liftlab.analyze(landing, segment={"device": "mobile"})
    for metric, event, window in (("signup_rate", "signup", 7), ("bounce_rate", "bounce", 1)):
        _assert_same(_observed(r, metric), _by_hand(db, event, window, device="mobile"))
    assert r.to_dict()["scope"] == {"segment": {"device": ["mobile"]}}
    # both devices in a list: every unit again
    both = liftlab.analyze(landing, segment={"device": ["mobile", "desktop"]})
    assert both.srm.counts == full.srm.counts
    # as_of and segment together
    r2 = liftlab.analyze(landing, as_of=AS_OF, segment={"device": "desktop"})
    _assert_same(_observed(r2, "signup_rate"), _by_hand(db, "signup", 7, cut=CUT, device="desktop"))
    assert r2.to_dict()["scope"] == {"as_of": AS_OF, "segment": {"device": ["desktop"]}}


def test_without_a_slice_the_results_have_no_scope(full: Results) -> None:
    assert full.scope is None
    assert "scope" not in full.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "error", "expected"),
    [
        ({"as_of": "2026-11-31"}, PlanError, "as_of: '2026-11-31' is not a date; give one as"),
        ({"as_of": "10/11/2026"}, PlanError, "as_of: '10/11/2026' is not a date"),
        ({"as_of": 20261110}, PlanError, "as_of: 20261110 is not a date"),
        (
            {"segment": {"devcie": "mobile"}},
            PlanError,
            "segment: 'devcie' is not one of data.segments (did you mean 'device'?); "
            "segments: device, channel",
        ),
        ({"segment": "mobile"}, PlanError, "segment: 'mobile' is not a mapping"),
        (
            {"segment": {"device": "mobil"}},
            DataError,
            "segment: device 'mobil' does not occur in landing_exposures (did you mean "
            "'mobile'?); values there: desktop, mobile",
        ),
        (
            {"as_of": "2020-01-01"},
            DataError,
            "as_of: no units in the slice as of 2020-01-01",
        ),
    ],
)
def test_slice_mistakes_are_one_line(
    landing: Plan, kwargs: dict[str, Any], error: type[Exception], expected: str
) -> None:
    with pytest.raises(error) as err:
        liftlab.analyze(landing, **kwargs)
    message = str(err.value)
    assert "landing-headline.yaml: " in message and expected in message
    assert "\n" not in message


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liftlab.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_cli_slices_as_python_does(landing: Plan) -> None:
    """``liftlab analyze --as-of --segment`` is ``analyze(plan, as_of=, segment=)``, and the
    terminal says which slice it shows."""
    args = [
        "--as-of",
        "2026-11-10",
        "--segment",
        "device=mobile",
        "--segment",
        "channel=paid,email",
    ]
    proc = _cli("analyze", str(landing.path), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = liftlab.analyze(
        landing, as_of="2026-11-10", segment={"device": "mobile", "channel": ["paid", "email"]}
    ).to_dict()
    got.pop("generated_at"), want.pop("generated_at")
    assert got == want
    assert got["scope"]["segment"] == {"device": ["mobile"], "channel": ["paid", "email"]}
    table = _cli("analyze", str(landing.path), *args)
    assert "slice: as of 2026-11-10, device = mobile, channel in paid, email" in table.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--segment", "device"], "--segment 'device' is not COLUMN=VALUE"),
        (["--segment", "devce=mobile"], "(did you mean 'device'?)"),
        (["--as-of", "2026-13-10"], "as_of: '2026-13-10' is not a date"),
    ],
)
def test_cli_slice_mistakes_are_one_line(landing: Plan, args: list[str], expected: str) -> None:
    proc = _cli("analyze", str(landing.path), *args)
    assert proc.returncode == 2
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ---- unit tables ---------------------------------------------------------------------------
def _unit_plan(project: Path, tmp_path: Path, **data: Any) -> Plan:
    raw = {
        "name": "landing-units",
        "kind": "landing_page",
        "hypothesis": "benefit lifts signups",
        "unit": "user_id",
        "variants": {"control": {"weight": 0.5}, "benefit": {"weight": 0.5}},
        "data": {"units": str(project / "data" / "landing.parquet"), **data},
        "metrics": [
            {"name": "signup_rate", "role": "primary", "type": "proportion", "column": "signed_up"}
        ],
    }
    return load_plan(write_plan(tmp_path / "experiments" / "units.yaml", raw))


def _units_by_hand(project: Path, where: str) -> dict[str, tuple[int, float]]:
    sql = (
        "SELECT variant, count(*), avg(signed_up) FROM read_parquet(?) "
        f"WHERE {where} GROUP BY variant"
    )
    with duckdb.connect() as con:
        rows = con.execute(sql, [str(project / "data" / "landing.parquet")]).fetchall()
    return {v: (int(n), float(m)) for v, n, m in rows}


def test_unit_table_slices_filter_on_data_timestamp_and_columns(
    project: Path, tmp_path: Path
) -> None:
    plan = _unit_plan(project, tmp_path, timestamp="exposed_at")
    got = liftlab.analyze(plan, as_of=AS_OF, segment={"device": "mobile"})
    where = f"exposed_at < TIMESTAMP '{CUT}' AND device = 'mobile'"
    _assert_same(_observed(got, "signup_rate"), _units_by_hand(project, where))
    # a datetime is that moment, inclusive
    noon = liftlab.analyze(plan, as_of=dt.datetime(2026, 11, 10, 12, 0))
    where = "exposed_at <= TIMESTAMP '2026-11-10 12:00:00'"
    _assert_same(_observed(noon, "signup_rate"), _units_by_hand(project, where))
    # an aware datetime is read in UTC: 13:00 in UTC+1 is noon
    plus_one = dt.timezone(dt.timedelta(hours=1))
    same = liftlab.analyze(plan, as_of=dt.datetime(2026, 11, 10, 13, 0, tzinfo=plus_one))
    assert same.srm.counts == noon.srm.counts


def test_unit_table_slice_mistakes_name_the_field(project: Path, tmp_path: Path) -> None:
    plan = _unit_plan(project, tmp_path)  # no data.timestamp
    with pytest.raises(PlanError, match=r"units\.yaml: data\.timestamp: as_of needs") as err:
        liftlab.analyze(plan, as_of=AS_OF)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError) as err2:
        liftlab.analyze(plan, segment={"devcie": "mobile"})
    assert "segment: 'devcie' is not a column of" in str(err2.value)
    assert "(did you mean 'device'?)" in str(err2.value)


def test_precomputed_statistics_cannot_be_sliced(tmp_path: Path) -> None:
    raw = {
        "name": "precomputed",
        "kind": "landing_page",
        "hypothesis": "b lifts conversion",
        "unit": "user_id",
        "variants": {"control": {"weight": 0.5}, "b": {"weight": 0.5}},
        "data": {"statistics": "stats.csv"},
        "metrics": [{"name": "conversion", "role": "primary", "type": "proportion"}],
    }
    plan = load_plan(write_plan(tmp_path / "experiments" / "pre.yaml", raw))
    for kwargs in ({"as_of": AS_OF}, {"segment": {"device": "mobile"}}):
        with pytest.raises(PlanError, match=r"data\.statistics: as_of and segment need rows"):
            liftlab.analyze(plan, **kwargs)


# ---- Results in a notebook -----------------------------------------------------------------
def test_rich_display_shows_the_verdict_and_the_scorecard(landing: Plan, full: Results) -> None:
    page = full._repr_html_()
    assert 'class="liftlab-verdict liftlab-' + full.decision.recommendation in page
    assert html.escape(full.decision.reason) in page
    for m in full.metrics:
        display = display_of(landing, m.metric.name)
        assert html.escape(display.label) in page
        for c in m.comparisons:
            assert c.headline is not None
            assert html.escape(c.headline.effect_text(display)) in page
    assert "Slice:" not in page
    sliced = liftlab.analyze(landing, as_of=AS_OF, segment={"device": "mobile"})
    assert "<b>Slice:</b> as of 2026-11-10, device = mobile" in sliced._repr_html_()
    text = repr(sliced)
    assert "\n" not in text and len(text) < 600
    assert text.startswith("<liftlab Results landing-headline (sequential, ")
    assert f"{sliced.total_units:,} units, as of 2026-11-10, device = mobile" in text
    assert sliced.decision.reason in text


def test_table_leads_with_the_headline(landing: Plan, full: Results) -> None:
    table = full.table()
    assert list(table.columns[:6]) == ["metric", "label", "role", "variant", "headline", "status"]
    row = table[table.metric == "signup_rate"].iloc[0]
    c = full.metric("signup_rate").comparison("benefit")
    assert c.headline is not None
    assert row.headline == c.headline.effect_text(display_of(landing, "signup_rate"))
    assert row.status == c.headline.status_text
    assert row.control_mean == full.metric("signup_rate").variants["control"].mean


def test_chart_is_the_forest_plot(full: Results) -> None:
    one = full.chart("signup_rate").to_dict()
    data = next(d for d in one["datasets"].values() if "effect" in d[0])
    c = full.metric("signup_rate").comparison("benefit")
    assert c.headline is not None
    assert data[0]["effect"] == pytest.approx(c.headline.effect)
    assert (data[0]["ci_low"], data[0]["ci_high"]) == pytest.approx(c.headline.interval)
    stacked = full.chart()
    assert isinstance(stacked, alt.VConcatChart)
    assert len(stacked.vconcat) == sum(1 for m in full.metrics if m.comparisons)
    vlc.vegalite_to_svg(stacked.to_dict())  # a valid spec (config at the top level only)
    with pytest.raises(
        LiftlabError, match=r"no metric 'signup' .*\(did you mean 'signup_rate'\?\)"
    ):
        full.chart("signup")


# ---- the notebook renderer -----------------------------------------------------------------
def test_notebook_renderer_gives_vega_lite_and_svg(full: Results) -> None:
    before = alt.renderers.active
    try:
        charts.use_notebook_renderer()
        chart = full.chart("signup_rate")
        bundle = chart._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    finally:
        alt.renderers.enable(before)
    assert alt.SCHEMA_VERSION.startswith("v6")  # Altair writes Vega-Lite 6; JupyterLab draws 5
    spec = bundle["application/vnd.vegalite.v5+json"]
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"
    assert {k: v for k, v in spec.items() if k != "$schema"} == {
        k: v for k, v in chart.to_dict().items() if k != "$schema"
    }
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<svg")
    # Vega-Lite 5 (JupyterLab's) draws the very same chart
    assert vlc.vegalite_to_svg(spec, vl_version="5.21") == svg


def test_exported_html_holds_the_svg_and_no_vega_lite(full: Results) -> None:
    bundle = charts.notebook_mimebundle(full.chart().to_dict())
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "results.chart()",
                outputs=[nbformat.v4.new_output("display_data", data=bundle)],
            )
        ]
    )
    page = export_html(nb)
    assert page.count("<svg") >= 1
    assert "role-mark" in page  # the chart's marks, drawn
    assert "<script src=" not in page
    assert "vnd.vegalite" not in page and "vega.github.io/schema" not in page
    assert '"encoding"' not in page and "&quot;encoding&quot;" not in page


# ---- the explore notebook ------------------------------------------------------------------
EXPLORE = ROOT / "notebooks" / "explore.ipynb"


def test_explore_notebook_is_committed_clean() -> None:
    nb = nbformat.read(EXPLORE, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    params = next(c for c in code if "parameters" in c.metadata.get("tags", []))
    assert 'plan_path = "experiments/landing-headline.yaml"  # type: str' in params.source
    # every step is introduced by a line of prose
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        if cell.cell_type == "code" and cell is not params:
            assert before.cell_type == "markdown" and before.source.strip()


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        msg = "Chromium not found ($LIFTLAB_CHROMIUM, chromium, chromium-browser, google-chrome)"
        if os.environ.get("CI"):
            pytest.fail(f"{msg}; CI must run the browser tests")
        pytest.skip(f"{msg}; install it with `sudo apt-get install chromium` to run these")
    return found


@pytest.mark.parametrize("cwd", ["", "notebooks"])
def test_explore_notebook_runs_and_exports_offline(
    project: Path, tmp_path: Path, chromium: str, cwd: str
) -> None:
    """papermill from the project root (as `liftlab report` runs) or from notebooks/ (as
    JupyterLab does), then the HTML export, checked in a browser with a wider font."""
    import papermill as pm

    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(project / "experiments", root / "experiments")
    (root / "data").symlink_to(project / "data")
    shutil.copy(EXPLORE, root / "notebooks")
    out = tmp_path / "explore.ipynb"
    pm.execute_notebook(
        str(root / "notebooks" / "explore.ipynb"),
        str(out),
        cwd=str(root / cwd),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    outputs = {c.id: c.outputs for c in nb.cells if c.cell_type == "code"}
    assert not [o for os_ in outputs.values() for o in os_ if o.output_type == "error"]
    results = liftlab.analyze(load_plan(project / "experiments" / "landing-headline.yaml"))
    shown = outputs["display"][0]["data"]["text/html"]
    assert html.escape(results.decision.reason) in shown
    assert set(outputs["chart"][0]["data"]) >= {charts.VEGALITE_MIME, "image/svg+xml"}
    assert "as of 2026-11-10" in outputs["as-of"][0]["data"]["text/html"]
    assert "device = mobile" in outputs["segment"][0]["data"]["text/html"]
    assert "chance to beat control" in outputs["bayesian"][0]["data"]["text/html"]
    if cwd:
        return
    page = write_html(out, tmp_path / "explore.html")
    text = page.read_text(encoding="utf-8")
    assert "<script src=" not in text and "vnd.vegalite" not in text
    [check] = check_pages([page], chromium=chromium, css=WIDE_FONT_CSS)
    assert check.ok, "\n".join(check.problems())
    assert len(check.charts) == 1 and check.charts[0].drawn


# ---- make lab ------------------------------------------------------------------------------
def _fake_tools(root: Path) -> Path:
    """A project with the Makefile and a .venv whose liftlab and jupyter only log their
    arguments (liftlab simulate also creates the DuckDB file)."""
    shutil.copy(ROOT / "Makefile", root)
    shutil.copy(ROOT / "pyproject.toml", root)
    bin_ = root / ".venv" / "bin"
    bin_.mkdir(parents=True)
    log = root / "calls.log"
    scripts = {
        "python": "exit 0",
        "jupyter": f'echo "jupyter $*" >> {log}',
        "liftlab": f'echo "liftlab $*" >> {log}; mkdir -p data; touch data/shop.duckdb',
    }
    for name, body in scripts.items():
        (bin_ / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_ / name).chmod(0o755)
    stamp = root / ".venv" / ".installed"
    stamp.touch()
    os.utime(stamp, (2e9, 2e9))  # newer than pyproject.toml: nothing to install
    return log


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_opens_the_explore_notebook_with_demo_data(tmp_path: Path) -> None:
    log = _fake_tools(tmp_path)
    for _ in range(2):
        done = subprocess.run(["make", "lab"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    calls = log.read_text(encoding="utf-8").splitlines()
    # the data is simulated once, when missing; JupyterLab opens at the root each time
    root = " --allow-root" if os.geteuid() == 0 else ""  # JupyterLab refuses root without it
    lab = f"jupyter lab --ServerApp.root_dir=.{root} notebooks/explore.ipynb"
    assert calls == ["liftlab simulate --out data", lab, lab]
