"""A synthetic Meta Ads Manager export with known truths: daily rows per ad, for the demo.

What a growth team downloads from Ads Manager ("Export table data", Day breakdown) is one
row per ad and day. :func:`write_meta_export` writes such a file, ``meta_ads.csv``, with the
``meta`` preset's headers of :data:`liftlab.exports.PRESETS` (``Reporting starts``,
``Campaign name``, ``Ad set name``, ``Ad name``, ``Impressions``, ``Reach``, ``Link clicks``,
``Amount spent (USD)``, ``Purchases``, ``Purchases conversion value``), from this model:

- **Campaigns** (:data:`CAMPAIGNS`): three creative concepts, one campaign and one ad set
  each, with their own mean CTR, CPM, conversions per click and order value; 30 ads in all
  (:data:`ADS`), over 21 days from 2 November 2026. Ads launch on day 0 to 6 (staggered) and
  run to the end; an ad's first day is a ramp-up at 4% of its volume.
- **Between ads**: each ad's base CTR is Beta(κμ, κ(1 − μ)) around its campaign's mean μ,
  κ = :data:`KAPPA`, except the one known best ad (:data:`BEST_AD`), whose CTR is
  :data:`BEST_MARGIN` × the highest other ad's. Each ad's daily volume is lognormal.
- **Between days**: impressions are Poisson(volume × scale); the click probability of a row
  is the ad's CTR × a Gamma(:data:`DAY_SHAPE`, 1/:data:`DAY_SHAPE`) multiplier (mean 1) ×
  ``decay^age``, ``age`` = days since the ad's first impression, ``decay`` = 1 except for the
  fatiguing ads (:data:`FATIGUE`); clicks are Binomial(impressions, that probability).
- **Money and conversions**: spend is impressions × the campaign's CPM / 1000 × a lognormal
  (sd 0.1) auction price, in cents; purchases are Binomial(clicks, the campaign's CVR); each
  purchase's value is Gamma(2, AOV/2) (mean AOV); a handful of rows with no clicks get one
  view-through purchase (:data:`VIEW_THROUGH`), as Meta's default 1-day-view attribution
  reports them. Reach is impressions / frequency, frequency rising with the ad's age.

The truths (``truth.json`` key ``ads``) are conditional on the ads drawn: each ad's expected
CTR ``Σ E[impressions]·ctr·decay^age / Σ E[impressions]`` over its rows (the gamma
multiplier has mean 1), each campaign's the same over its ads' rows, the best ad, and the
fatiguing ads' daily decay. ``scale`` multiplies every ad's daily volume (at least
:data:`MIN_SCALE`); the ads and days stay, since the demo plan names its control ad.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

EXPORT_FILE = "meta_ads.csv"
CURRENCY = "USD"
DAYS = 21
START = np.datetime64("2026-11-02", "D")
HEADERS = (
    "Reporting starts",
    "Reporting ends",
    "Campaign name",
    "Ad set name",
    "Ad name",
    "Impressions",
    "Reach",
    "Link clicks",
    f"Amount spent ({CURRENCY})",
    "Purchases",
    "Purchases conversion value",
)

# campaign -> (ad set, number of ads, mean CTR, CPM in USD, purchases per click, order value)
CAMPAIGNS: dict[str, tuple[str, int, float, float, float, float]] = {
    "Spring - Static": ("Broad 25-54", 10, 0.011, 8.50, 0.040, 52.0),
    "Spring - Video": ("Broad 25-54 video", 10, 0.014, 11.00, 0.032, 58.0),
    "Spring - UGC": ("Lookalike 1%", 10, 0.017, 9.50, 0.036, 49.0),
}
PREFIX = {"Spring - Static": "Static", "Spring - Video": "Video", "Spring - UGC": "UGC"}
ADS: dict[str, list[str]] = {
    c: [f"{PREFIX[c]} {i:02d}" for i in range(1, n + 1)] for c, (_, n, *_) in CAMPAIGNS.items()
}
BEST_AD = "Video 06"  # the best ad sits in a campaign whose mean CTR is not the highest
BEST_MARGIN = 1.35
KAPPA = 900.0  # beta concentration: between-ad sd ≈ sqrt(μ(1 − μ)/(κ + 1)), a quarter of μ
DAY_SHAPE = 8.0  # day-to-day CTR multiplier Gamma(8, 1/8): mean 1, sd 0.35
FATIGUE = {"Static 03": 0.93, "Video 02": 0.92, "Video 09": 0.94, "UGC 04": 0.93, "UGC 08": 0.95}
VOLUME_MEDIAN, VOLUME_SD = 2_500.0, 0.5  # an ad's daily impressions: lognormal
RAMP = 0.04  # an ad's first day (a ramp-up) delivers 4% of its volume
VIEW_THROUGH = 5  # rows with no clicks given one view-through purchase
MIN_SCALE = 0.05


def _ad_ctrs(rng: np.random.Generator) -> dict[str, float]:
    """Each ad's base CTR: Beta around its campaign's mean; the best ad above every other."""
    ctr: dict[str, float] = {}
    for campaign, (_, n, mu, *_) in CAMPAIGNS.items():
        draws = rng.beta(KAPPA * mu, KAPPA * (1 - mu), size=n)
        ctr.update(zip(ADS[campaign], draws.tolist(), strict=True))
    ctr[BEST_AD] = BEST_MARGIN * max(v for k, v in ctr.items() if k != BEST_AD)
    return ctr


def _rows(rng: np.random.Generator, scale: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The ad × day grid (ads from their launch day to the end) with its columns drawn;
    also each row's expected impressions (for the truths)."""
    ctr = _ad_ctrs(rng)
    names = [a for ads in ADS.values() for a in ads]
    campaign_of = {a: c for c, ads in ADS.items() for a in ads}
    launch = rng.integers(0, 7, size=len(names))
    volume = VOLUME_MEDIAN * rng.lognormal(0.0, VOLUME_SD, size=len(names)) * scale
    ad = np.repeat(np.arange(len(names)), DAYS - launch)
    age = np.concatenate([np.arange(DAYS - s) for s in launch])
    day = launch[ad] + age
    expected = volume[ad] * np.where(age == 0, RAMP, 1.0)
    impressions = rng.poisson(expected)
    decay = np.asarray([FATIGUE.get(a, 1.0) for a in names])[ad] ** age
    base = np.asarray([ctr[a] for a in names])[ad]
    p = np.clip(base * decay * rng.gamma(DAY_SHAPE, 1 / DAY_SHAPE, size=len(ad)), 0.0, 1.0)
    clicks = rng.binomial(impressions, p)
    params = np.asarray([CAMPAIGNS[campaign_of[a]][2:] for a in names])[ad]
    spend = impressions * params[:, 1] / 1000 * rng.lognormal(0.0, 0.1, size=len(ad))
    purchases = rng.binomial(clicks, params[:, 2])
    no_clicks = np.flatnonzero((clicks == 0) & (impressions > 0))
    viewed = rng.choice(no_clicks, size=min(VIEW_THROUGH, len(no_clicks)), replace=False)
    purchases[viewed] += 1
    value = np.where(
        purchases > 0, rng.gamma(np.maximum(purchases, 1) * 2.0, params[:, 3] / 2.0), 0.0
    )
    reach = np.minimum(impressions, np.round(impressions / (1.1 + 0.02 * age)))
    cols = {
        "ad": ad,
        "day": day,
        "age": age,
        "ctr": base * decay,
        "impressions": impressions,
        "reach": reach.astype(np.int64),
        "clicks": clicks,
        "spend": np.round(spend, 2),
        "purchases": purchases,
        "value": np.round(value, 2),
    }
    return cols, expected


def _truth(cols: dict[str, np.ndarray], expected: np.ndarray) -> dict[str, Any]:
    """Expected CTR per ad and per campaign over their rows, the best ad, the decays."""
    names = [a for ads in ADS.values() for a in ads]
    clicks = np.bincount(cols["ad"], weights=expected * cols["ctr"], minlength=len(names))
    imps = np.bincount(cols["ad"], weights=expected, minlength=len(names))
    by_ad = dict(zip(names, (clicks / imps).tolist(), strict=True))
    by_campaign = {}
    for campaign, ads in ADS.items():
        idx = [names.index(a) for a in ads]
        by_campaign[campaign] = float(clicks[idx].sum() / imps[idx].sum())
    return {
        "file": EXPORT_FILE,
        "best_ad": max(by_ad, key=by_ad.__getitem__),
        "ctr": by_ad,
        "campaign_ctr": by_campaign,
        "ctr_decay_per_day": dict(FATIGUE),
    }


def write_meta_export(
    out: str | Path, *, seed: int = 20261125, scale: float = 1.0
) -> dict[str, Any]:
    """Write ``out/meta_ads.csv`` (rows sorted by day, campaign, ad) and return its truths."""
    rng = np.random.default_rng([seed, 7301])
    cols, expected = _rows(rng, max(float(scale), MIN_SCALE))
    names = [a for ads in ADS.values() for a in ads]
    campaign_of = {a: c for c, ads in ADS.items() for a in ads}
    order = np.lexsort((cols["ad"], cols["day"]))
    path = Path(out) / EXPORT_FILE
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADERS)
        for i in order.tolist():
            ad = names[int(cols["ad"][i])]
            date = str(START + int(cols["day"][i]))
            w.writerow(
                [
                    date,
                    date,
                    campaign_of[ad],
                    CAMPAIGNS[campaign_of[ad]][0],
                    ad,
                    int(cols["impressions"][i]),
                    int(cols["reach"][i]),
                    int(cols["clicks"][i]),
                    f"{cols['spend'][i]:.2f}",
                    int(cols["purchases"][i]),
                    f"{cols['value'][i]:.2f}",
                ]
            )
    return _truth(cols, expected)
