"""The demo's true models: the numbers every simulated table is drawn from.

:mod:`liftlab.simulate` draws the unit tables and :mod:`liftlab.simulate_events` the event
tables from these same models, so one ``truth.json`` holds for both shapes; tests check the
analysis against them.
"""

from __future__ import annotations

import math

LANDING_ACTIVATION = 0.40  # share of signups who activate, both arms
LANDING_REPEAT = 0.25  # share of buyers who buy again, both arms


PRICES = {"price_19": 19.0, "price_24": 24.0, "price_29": 29.0}
DEMAND_INTERCEPT, DEMAND_SLOPE = -1.8, -0.045


def demand(price: float) -> float:
    """True purchase probability at ``price`` in the pricing scenario (logistic curve)."""
    return 1 / (1 + math.exp(-(DEMAND_INTERCEPT + DEMAND_SLOPE * price)))


CTRS = {"hero": 0.020, "lifestyle": 0.022, "testimonial": 0.020, "discount": 0.026, "ugc": 0.018}
CONVERSION_PER_CLICKING_USER = 0.12
EXTRA_IMPRESSIONS = 8  # impressions per user: 1 + Binomial(8, 1/2)
IMPRESSION_HOURS = 20  # impression j comes j × 20 hours after exposure (the last at 160 h < 7 days)
FATIGUE = {"lifestyle": 0.85}  # click probability × 0.85 per day since first exposure


def impression_day(j: int) -> int:
    """Day since first exposure (0 = its first 24 hours) of a user's impression ``j``."""
    return j * IMPRESSION_HOURS // 24


def _shown(j: int) -> float:
    """P(a user has an impression ``j``) = P(K > j), K = 1 + Binomial(8, ½)."""
    return sum(math.comb(EXTRA_IMPRESSIONS, m) for m in range(j, EXTRA_IMPRESSIONS + 1)) / 2.0**8


def click_probabilities(creative: str) -> list[float]:
    """Click probability of the creative's impressions j = 0, …, 8.

    ``CTRS`` throughout, except for a fatiguing creative: ``c₀·f^day(j)``, with ``c₀`` set so
    that expected clicks over expected impressions (the overall CTR the metric estimates) is
    still exactly ``CTRS[creative]``.
    """
    ctr, f = CTRS[creative], FATIGUE.get(creative)
    js = range(EXTRA_IMPRESSIONS + 1)
    if f is None:
        return [ctr for _ in js]
    decay = [f ** impression_day(j) for j in js]
    weighted = sum(_shown(j) * d for j, d in zip(js, decay, strict=True))
    c0 = ctr * sum(_shown(j) for j in js) / weighted
    return [c0 * d for d in decay]


def p_click(creative: str) -> float:
    """P(a user clicks at least once) = 1 − Σ_k P(K = k)·Π_{j<k}(1 − c_j)."""
    c = click_probabilities(creative)
    return 1 - sum(
        (_shown(k - 1) - _shown(k)) * math.prod(1 - x for x in c[:k])
        for k in range(1, EXTRA_IMPRESSIONS + 2)
    )
