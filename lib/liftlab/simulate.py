"""Synthetic experiment data with known true effects, for the demo plans and for tests.

Each scenario draws one row per unit (with its first-exposure time ``exposed_at``, spread
evenly over the test's days from 2 November 2026) from a stated generative model, so the true mean of every
metric in every variant is known exactly (``truth``) and the analysis can be checked against
it. Data are written as Parquet unit tables, plus ``truth.json`` with the true values.

Scenarios (one per kind of test):

- ``landing``: a headline test, 40,000 users, 50/50. ``signed_up`` is Bernoulli(10%) in control
  and Bernoulli(11%) with the benefit-led headline (+10% relative). ``revenue`` is
  ``pre_revenue``-correlated, zero-inflated and heavy-tailed (lognormal), +5% in treatment.
  ``bounced`` (a guardrail, lower is better) is Bernoulli(40%) in both arms. The funnel
  ``viewed → signed_up → activated`` changes at the signup step only: every unit views the
  page, and 40% of those who sign up activate in both arms. A quarter of the buyers buy again
  (``repeat_purchased``, in both arms; on the event tables 8 to 13 days after exposure, outside
  the 7-day revenue window), so the repeat-purchase rate is 2% in both arms.
- ``pricing``: three price arms (19, 24, 29), 30,000 users. Purchase probability follows a
  logistic demand curve, ``logit p = −1.8 − 0.045·price`` (about 6.6%, 5.3% and 4.3%), and
  revenue per visitor is ``price × purchased`` (about 1.25, 1.28 and 1.24: the revenue-optimal
  price, near 23.5, lies inside the tested range).
- ``creative``: five ad creatives, 10,000 users each. Impressions per user are
  1 + Binomial(8, ½), 20 hours apart; clicks are Binomial(impressions, CTR) with CTR 2.0%,
  2.2%, 2.0%, 2.6% and 1.8%, except that ``lifestyle`` fatigues: its click probability falls
  ×0.85 per day since first exposure, from 2.69% on day 0, so that its overall CTR is still
  2.2% (``truth.ctr``; ``truth.ctr_decay_per_day``). A user who clicked at least once
  converts with probability 12% (``converted``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from liftlab.demo_models import (
    CONVERSION_PER_CLICKING_USER,
    CTRS,
    DEMAND_INTERCEPT,
    DEMAND_SLOPE,
    EXTRA_IMPRESSIONS,
    FATIGUE,
    LANDING_ACTIVATION,
    LANDING_REPEAT,
    PRICES,
    click_probabilities,
    demand,
    p_click,
)

Truth = dict[str, dict[str, float]]


def _write(table: dict[str, np.ndarray], path: Path) -> None:
    pq.write_table(pa.table(table), path, compression="zstd")


def unit_ids(n: int) -> np.ndarray:
    """Unit ids ``u00000001`` … ``u{n:08d}``: text like real ids, and unlike any number a
    report shows, so a test can scan reports for them."""
    return np.char.mod("u%08d", np.arange(1, n + 1))


def _variants(rng: np.random.Generator, names: list[str], n: int) -> np.ndarray:
    """Complete randomisation: each unit gets a variant with equal probability."""
    return np.asarray(names)[rng.integers(0, len(names), size=n)]


START = np.datetime64("2026-11-02T00:00:00", "s")


def _exposed_at(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """First-exposure times spread evenly over ``days`` days from START (UTC), sorted."""
    seconds = np.sort(rng.integers(0, days * 86_400, size=n))
    return START + seconds.astype("timedelta64[s]")


def landing(rng: np.random.Generator, n: int = 40_000) -> tuple[dict[str, np.ndarray], Truth]:
    names = ["control", "benefit"]
    variant = _variants(rng, names, n)
    treated = variant == "benefit"
    p_signup = np.where(treated, 0.11, 0.10)
    signed_up = (rng.random(n) < p_signup).astype(np.int8)
    bounced = (rng.random(n) < 0.40).astype(np.int8)
    # Revenue: a buyer indicator (8%) times a lognormal basket; pre-period spend is the same
    # customer's earlier basket, so it predicts revenue (the CUPED covariate).
    propensity = rng.lognormal(mean=3.0, sigma=0.8, size=n)
    buyer_pre = rng.random(n) < 0.08
    buyer_now = rng.random(n) < 0.08
    pre_revenue = np.where(buyer_pre, propensity * rng.lognormal(0, 0.3, n), 0.0)
    lift = np.where(treated, 1.05, 1.0)
    revenue = np.where(buyer_now, propensity * rng.lognormal(0, 0.3, n) * lift, 0.0)
    device = np.where(rng.random(n) < 0.62, "mobile", "desktop")
    base_rev = 0.08 * math.exp(3.0 + 0.8**2 / 2) * math.exp(0.3**2 / 2)
    truth = {
        "signup_rate": {"control": 0.10, "benefit": 0.11},
        "revenue_per_visitor": {"control": base_rev, "benefit": base_rev * 1.05},
        "bounce_rate": {"control": 0.40, "benefit": 0.40},
        "repeat_purchase_rate": {v: 0.08 * LANDING_REPEAT for v in names},
        # conditional funnel step rates (keys are not metric names: they hold a dot)
        "funnel.landing_view": {v: 1.0 for v in names},
        "funnel.signup": {"control": 0.10, "benefit": 0.11},
        "funnel.activate": {v: LANDING_ACTIVATION for v in names},
        "funnel.end_to_end": {
            "control": round(0.10 * LANDING_ACTIVATION, 12),
            "benefit": round(0.11 * LANDING_ACTIVATION, 12),
        },
    }
    table = {
        "user_id": unit_ids(n),
        "variant": variant,
        "exposed_at": _exposed_at(rng, n, 14),
        "device": device,
        "signed_up": signed_up,
        "bounced": bounced,
        "revenue": np.round(revenue, 2),
        "pre_revenue": np.round(pre_revenue, 2),
    }
    # drawn after the columns above, which stay as they were
    table["viewed"] = np.ones(n, dtype=np.int8)
    table["activated"] = (signed_up.astype(bool) & (rng.random(n) < LANDING_ACTIVATION)).astype(
        np.int8
    )
    table["repeat_purchased"] = (buyer_now & (rng.random(n) < LANDING_REPEAT)).astype(np.int8)
    return table, truth


def pricing(rng: np.random.Generator, n: int = 30_000) -> tuple[dict[str, np.ndarray], Truth]:
    names = list(PRICES)
    variant = _variants(rng, names, n)
    price = np.vectorize(PRICES.get)(variant).astype(float)
    p = 1 / (1 + np.exp(-(DEMAND_INTERCEPT + DEMAND_SLOPE * price)))
    purchased = (rng.random(n) < p).astype(np.int8)
    truth = {
        "purchase_rate": {v: demand(x) for v, x in PRICES.items()},
        "revenue_per_visitor": {v: x * demand(x) for v, x in PRICES.items()},
    }
    table = {
        "user_id": unit_ids(n),
        "variant": variant,
        "exposed_at": _exposed_at(rng, n, 21),
        "purchased": purchased,
        "revenue": purchased * price,
    }
    return table, truth


def creative(rng: np.random.Generator, n: int = 50_000) -> tuple[dict[str, np.ndarray], Truth]:
    names = list(CTRS)
    variant = _variants(rng, names, n)
    ctr = np.vectorize(CTRS.get)(variant).astype(float)
    impressions = 1 + rng.binomial(EXTRA_IMPRESSIONS, 0.5, size=n)
    clicks = rng.binomial(impressions, ctr)
    # fatiguing creatives: clicks impression by impression, from a spawned stream (the other
    # creatives' draws, and every later draw, are unchanged)
    tired = np.isin(variant, list(FATIGUE))
    if tired.any():
        probs = np.asarray([click_probabilities(v) for v in variant[tired]])
        shown = np.arange(EXTRA_IMPRESSIONS + 1) < impressions[tired, None]
        draws = rng.spawn(1)[0].random(probs.shape)
        clicks[tired] = ((draws < probs) & shown).sum(axis=1)
    converted = ((clicks > 0) & (rng.random(n) < CONVERSION_PER_CLICKING_USER)).astype(np.int8)
    truth = {
        "ctr": dict(CTRS),
        "conversion_rate": {v: CONVERSION_PER_CLICKING_USER * p_click(v) for v in CTRS},
        "ctr_decay_per_day": {v: FATIGUE.get(v, 1.0) for v in CTRS},
    }
    table = {
        "user_id": unit_ids(n),
        "variant": variant,
        "exposed_at": _exposed_at(rng, n, 10),
        "impressions": impressions.astype(np.int64),
        "clicks": clicks.astype(np.int64),
        "converted": converted,
    }
    return table, truth


SCENARIOS: dict[str, Callable[[np.random.Generator], tuple[dict[str, np.ndarray], Truth]]] = {
    "landing": landing,
    "pricing": pricing,
    "creative": creative,
}


def simulate(
    out: str | Path = "data", *, seed: int = 20261125, events_scale: float = 1.0
) -> dict[str, Any]:
    """Write the demo data to ``out/``: each scenario as a unit table ``<scenario>.parquet``,
    all three as exposure and event tables in ``shop.duckdb`` (generated inside DuckDB, see
    :mod:`liftlab.simulate_events`; ``events_scale`` multiplies its unit counts), and the
    true values in ``truth.json`` (the same models for both shapes), and a Meta Ads Manager
    export of daily rows per ad, ``meta_ads.csv`` (:mod:`liftlab.simulate_ads`; truths under
    ``ads``; ``events_scale`` multiplies its ads' daily volume)."""
    from liftlab.simulate_ads import write_meta_export
    from liftlab.simulate_events import write_event_demo

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    truths: dict[str, Any] = {}
    for i, (name, make) in enumerate(SCENARIOS.items()):
        rng = np.random.default_rng([seed, i])
        table, truth = make(rng)
        _write(table, out / f"{name}.parquet")
        truths[name] = truth
    write_event_demo(out / "shop.duckdb", seed=seed, scale=events_scale)
    truths["ads"] = write_meta_export(out, seed=seed, scale=events_scale)
    (out / "truth.json").write_text(json.dumps(truths, indent=2) + "\n", encoding="utf-8")
    return truths
