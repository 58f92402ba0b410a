"""Shared fixtures: small unit tables and plans, and one session-wide run of the demo reports."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from rich.console import Console

from liftlab.report import list_runs, run_reports
from liftlab.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
# The demo plans: sequential landing page, Bayesian creative tournament, pricing with a bootstrap.
DEMO_PLANS = ("landing-headline", "creative-tournament", "pricing-three-tiers")


def write_table(path: Path, columns: dict[str, Any]) -> Path:
    """Write a unit table (dict of columns) as Parquet or CSV, by the file's extension."""
    table = pa.table(columns)
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def write_plan(path: Path, plan: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def units(tmp_path: Path) -> dict[str, Any]:
    """A three-arm unit table with a 0/1 metric, a skewed amount with a covariate, a ratio."""
    rng = np.random.default_rng(7)
    n = 3_000
    variant = np.asarray(["control", "b", "c"])[rng.integers(0, 3, n)]
    lift = np.select([variant == "b", variant == "c"], [1.1, 0.95], 1.0)
    pre = rng.gamma(2.0, 10.0, n)
    revenue = np.maximum(0, 0.6 * pre * lift + rng.normal(0, 8, n))
    impressions = 1 + rng.poisson(4, n)
    clicks = rng.binomial(impressions, 0.05 * lift)
    cols = {
        "user_id": np.arange(n),
        "variant": variant,
        "converted": (rng.random(n) < 0.2 * lift).astype(np.int64),
        "revenue": revenue,
        "pre_revenue": pre,
        "clicks": clicks,
        "impressions": impressions,
        "exposed_at": np.datetime64("2026-03-01T00:00:00", "s")
        + np.sort(rng.integers(0, 7 * 86_400, n)).astype("timedelta64[s]"),
    }
    path = write_table(tmp_path / "units.parquet", cols)
    return {"path": path, "cols": cols}


def base_plan(data: str) -> dict[str, Any]:
    return {
        "name": "unit-test",
        "kind": "landing_page",
        "hypothesis": "b lifts conversion",
        "unit": "user_id",
        "variants": {
            "control": {"weight": 0.34},
            "b": {"weight": 0.33},
            "c": {"weight": 0.33},
        },
        "data": {"units": data},
        "metrics": [
            {"name": "conversion", "role": "primary", "type": "proportion", "column": "converted"},
            {"name": "revenue", "role": "primary", "type": "mean", "column": "revenue"},
            {
                "name": "revenue_cuped",
                "role": "secondary",
                "type": "mean",
                "column": "revenue",
                "covariate": "pre_revenue",
            },
            {
                "name": "ctr",
                "role": "guardrail",
                "type": "ratio",
                "numerator": "clicks",
                "denominator": "impressions",
            },
        ],
        "analysis": {"alpha": 0.05, "correction": "holm"},
    }


def console_buffer() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=400, soft_wrap=True, highlight=False), buf


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway project: the three demo plans, the analysis notebook and simulated data."""
    root = tmp_path_factory.mktemp("project")
    (root / "experiments").mkdir()
    for name in DEMO_PLANS:
        shutil.copy(ROOT / "experiments" / f"{name}.yaml", root / "experiments")
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "analyze.ipynb", root / "notebooks")
    simulate(root / "data")
    return root


@pytest.fixture(scope="session")
def good_run(project: Path) -> dict[str, Any]:
    console, buf = console_buffer()
    outcomes = run_reports(
        [project / "experiments" / f"{p}.yaml" for p in DEMO_PLANS], console=console, jobs=2
    )
    ok = all(o.ok for o in outcomes)
    runs = {p: list_runs(project / "reports" / p) for p in DEMO_PLANS}
    return {"ok": ok, "outcomes": outcomes, "log": buf.getvalue(), "runs": runs}
