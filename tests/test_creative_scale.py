"""Creative tournaments at the scale of real campaigns (600 ads), against references here.

- A simulated campaign: 600 ads, true CTRs ~ Beta (mean 2%, sd 0.5%), one ad at 4.5% (the
  known best), users with 1 + Poisson(4) impressions and their own CTR ~ Beta around the
  ad's; the per-ad sums are computed here with numpy and analysed through
  :func:`liftlab.analysis.analyze_statistics` (the main analysis and the creative section).
- Probability best against numerical integration of the independent-normal model
  (``∫ φ_g Π_{j≠g} Φ_j``, scipy), within 4 Monte Carlo SEs; top k against a brute-force
  partition of every draw with another seed (4.5 SEs, 600 arms); sums exactly 1 and k.
- The campaign shrinkage's between-ad variance against the truth within 3 of its
  asymptotic SEs (``sqrt(2/Σw²)``), its mean over 200 replicate campaigns (binomial sums)
  within 3% of the Beta's variance, and shrunk CTRs with a lower MSE than the raw ones, by
  the ratio the normal–normal Bayes risk predicts (±0.1).
- The report section: the top ``show`` rows plus one row for the rest, no chart with more
  than ``show`` creatives; the time of the analysis at 600 ads is printed.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
import yaml
from IPython.display import Markdown
from scipy import integrate
from scipy import stats as sps

from liftlab.aggregate import UnitStats
from liftlab.analysis import analyze_statistics
from liftlab.errors import PlanError
from liftlab.kinds import creative as kind
from liftlab.plan import load_plan, parse_plan
from liftlab.stats.bayesian import NormalPosterior
from liftlab.stats.creative import (
    CreativeArm,
    analyze_creatives,
    campaign_posteriors,
    estimate_tau2,
    rank_arms,
    rate_interval,
)
from liftlab.stats.moments import Moments
from liftlab.views import creative as view
from tests.conftest import write_plan

K, BEST, BEST_CTR = 600, 137, 0.045
MEAN, SD = 0.02, 0.005  # the ads' true CTRs: Beta with this mean and sd
KAPPA = MEAN * (1 - MEAN) / SD**2 - 1  # Beta concentration a + b
DRAWS, TOP_K, SHOW = 20_000, 10, 15


def true_ctrs(rng: np.random.Generator, k: int = K) -> np.ndarray:
    return rng.beta(MEAN * KAPPA, (1 - MEAN) * KAPPA, k)


def campaign_sums(rng: np.random.Generator, ctr: np.ndarray) -> list[CreativeArm]:
    """Per-ad sums of per-user impressions i and clicks c (c ~ Binomial(i, user CTR))."""
    users = rng.integers(300, 3000, ctr.size)
    ad = np.repeat(np.arange(ctr.size), users)
    imp = 1.0 + rng.poisson(4.0, ad.size)
    p = rng.beta(ctr[ad] * 40, (1 - ctr[ad]) * 40)  # users differ around their ad's CTR
    clk = rng.binomial(imp.astype(int), p).astype(float)

    def per_ad(x: np.ndarray) -> np.ndarray:
        return np.bincount(ad, weights=x, minlength=ctr.size)

    sums = [per_ad(x) for x in (imp, clk, imp * imp, clk * clk, clk * imp)]
    return [
        CreativeArm(f"ad{g}", int(users[g]), *(float(s[g]) for s in sums)) for g in range(ctr.size)
    ]


@pytest.fixture(scope="module")
def campaign():
    rng = np.random.default_rng(2026)
    ctr = true_ctrs(rng)
    ctr[BEST] = BEST_CTR
    return ctr, campaign_sums(rng, ctr)


@pytest.fixture(scope="module")
def run(campaign, tmp_path_factory):
    """The campaign through the plan's analysis (600 variants), timed."""
    _ctr, arms = campaign
    root = tmp_path_factory.mktemp("scale")
    raw = {
        "name": "six-hundred-ads",
        "kind": "creative",
        "hypothesis": "some ads earn more clicks per impression than the others",
        "unit": "user_id",
        "variants": {a.name: {"weight": 1 / K} for a in arms},
        "data": {"units": "units.parquet"},
        "metrics": [
            {"name": "ctr", "role": "primary", "type": "ratio"}
            | {"numerator": "clicks", "denominator": "impressions"}
        ],
        "analysis": {"correction": "bh"},
        "creative": {"ctr": "ctr", "draws": DRAWS, "top_k": TOP_K, "show": SHOW},
    }
    plan = load_plan(write_plan(root / "plan.yaml", raw))
    moments = {
        a.name: Moments(
            a.users,
            a.clicks,
            a.sum_clicks2,
            a.impressions,
            a.sum_impressions2,
            a.sum_clicks_impressions,
        )
        for a in arms
    }
    stats = UnitStats({a.name: a.users for a in arms}, {"ctr": moments})
    start = time.perf_counter()
    res = analyze_statistics(plan, stats)
    took = time.perf_counter() - start
    section = res.sections["creative"]
    assert isinstance(section, kind.CreativeSection), section
    start = time.perf_counter()
    alone = analyze_creatives(
        arms, control="ad0", draws=DRAWS, top_k=TOP_K, floor=0.1 / K, seed=plan.creative.seed
    )
    kind_took = time.perf_counter() - start
    print(
        f"\n{K} ads: analyze_statistics {took:.2f} s (the main analysis and the creative "
        f"section), analyze_creatives alone {kind_took:.2f} s ({DRAWS:,} draws)"
    )
    return plan, res, section, alone, kind_took


def test_plan_limits_fail_in_one_line(run, tmp_path):
    """More than 5,000 creatives, or a floor that cannot fit every creative."""
    plan = run[0]
    raw = yaml.safe_load(Path(plan.source).read_text())
    raw["creative"]["floor"] = 0.01
    path = write_plan(tmp_path / "floor.yaml", raw)
    with pytest.raises(PlanError, match=r"creative.floor: 0.01 × 600 creatives exceeds 1; use at"):
        load_plan(path)
    del raw["creative"]["floor"]
    raw["variants"] = {f"ad{g}": {} for g in range(5001)}  # a plan built in Python
    with pytest.raises(PlanError, match="at most 5000 creatives, got 5001") as info:
        parse_plan(raw)
    assert "\n" not in str(info.value)


def test_known_best_ranks_first_and_probabilities_sum(run):
    _, _, section, alone, took = run
    r = section.result
    assert r.to_dict()["arms"] == alone.to_dict()["arms"]  # the kind runs the stats module
    best = r.arm(f"ad{BEST}")
    assert best.rank <= 3 and best.prob_top_k > 0.9
    assert sum(a.prob_best for a in r.arms) == pytest.approx(1, abs=1e-12)
    assert sum(a.prob_top_k for a in r.arms) == pytest.approx(TOP_K, abs=1e-9)
    assert sorted(a.rank for a in r.arms) == list(range(1, K + 1))
    assert r.mc_se <= 0.5 / math.sqrt(DRAWS) and r.top_k == TOP_K
    assert took < 30  # a few seconds on a laptop; generous for a loaded CI machine


def _prob_best_by_quadrature(means: np.ndarray, sds: np.ndarray, g: int) -> float:
    """``P(θ_g > θ_j for all j)`` for independent normals, by adaptive quadrature."""

    def f(x: float) -> float:
        log_cdf = sps.norm.logcdf(x, means, sds)
        rest = log_cdf.sum() - log_cdf[g]
        return float(sps.norm.pdf(x, means[g], sds[g]) * math.exp(rest))

    lo, hi = means[g] - 9 * sds[g], means[g] + 9 * sds[g]
    return float(integrate.quad(f, lo, hi, epsabs=1e-10, limit=200)[0])


def test_prob_best_and_top_k_against_independent_references(campaign):
    """At 600 arms: P(best) within 4 MC SEs of quadrature; P(top k) within 4.5 SEs of the
    difference from a brute-force sort of all draws with another seed (600 arms compared)."""
    _, arms = campaign
    rates = {a.name: rate_interval(a.moments("ctr")) for a in arms}
    _, posts = campaign_posteriors(arms, rates, "ctr")
    ranking = rank_arms(posts, top_k=TOP_K, draws=DRAWS, seed=5)
    means = np.asarray([p.mean for p in posts.values()])
    sds = np.asarray([p.sd for p in posts.values()])
    pb = np.asarray(ranking.prob_best)
    for g in np.argsort(-pb)[:5]:
        exact = _prob_best_by_quadrature(means, sds, int(g))
        se = math.sqrt(exact * (1 - exact) / DRAWS)
        assert abs(pb[g] - exact) <= 4 * se + 1e-9, (g, pb[g], exact)
    rng = np.random.default_rng(99)
    theta = rng.normal(means, sds, (DRAWS, K))
    top = np.argpartition(-theta, TOP_K - 1, axis=1)[:, :TOP_K]
    brute = np.bincount(top.ravel(), minlength=K) / DRAWS
    pt = np.asarray(ranking.prob_top_k)
    p = (pt + brute) / 2
    var = np.maximum(p * (1 - p), 5 / DRAWS)  # near 0 or 1: as if a few draws differed
    z = np.abs(pt - brute) / np.sqrt(2 * var / DRAWS)
    assert z.max() <= 4.5, (int(z.argmax()), pt[z.argmax()], brute[z.argmax()])
    expected_max = theta.max(axis=1).mean()
    assert ranking.expected_loss[0] == pytest.approx(expected_max - means[0], abs=4e-5)


def test_blocks_give_the_numbers_of_one_matrix(campaign, monkeypatch):
    """Drawing in blocks of arms changes nothing: one block of all arms is the same."""
    import liftlab.stats.creative as mod

    posts = {f"a{j}": NormalPosterior(0.02 + 1e-4 * (j % 7), 1e-3) for j in range(300)}
    small = mod.rank_arms(posts, top_k=5, draws=2000, seed=3)
    monkeypatch.setattr(mod, "BLOCK", 10**9)
    whole = mod.rank_arms(posts, top_k=5, draws=2000, seed=3)
    assert small.prob_best == whole.prob_best and small.prob_top_k == whole.prob_top_k
    assert small.expected_loss == pytest.approx(whole.expected_loss, abs=1e-15)


def test_campaign_shrinkage_recovers_the_between_ad_variance(campaign, run):
    ctr, _arms = campaign
    fit = run[2].result.campaign
    assert fit is not None and fit.method == "reml"
    tau2 = float(np.var(ctr, ddof=1))  # the realised between-ad variance
    w = 1 / (np.asarray(fit.se) ** 2 + tau2)
    se_tau2 = math.sqrt(2 / np.sum(w**2))  # asymptotic SE of the (RE)ML estimate
    print(
        f"\nbetween-ad variance: truth {tau2:.3g}, REML {fit.tau2:.3g} (SE {se_tau2:.2g}); "
        f"campaign mean {fit.mu:.4f} against {ctr.mean():.4f}"
    )
    assert abs(fit.tau2 - tau2) <= 3 * se_tau2
    raw = np.asarray(fit.raw)
    shrunk = np.asarray(fit.estimate)
    mse_raw, mse_shrunk = np.mean((raw - ctr) ** 2), np.mean((shrunk - ctr) ** 2)
    s2 = np.asarray(fit.se) ** 2
    oracle = np.sum(s2 * tau2 / (s2 + tau2)) / np.sum(s2)  # Bayes risk / raw risk, τ² known
    ratio = mse_shrunk / mse_raw
    print(
        f"MSE of the CTRs: raw {mse_raw:.3g}, shrunk {mse_shrunk:.3g} ({ratio:.3f}; {oracle:.3f})"
    )
    assert mse_shrunk < mse_raw and abs(ratio - oracle) < 0.1


def test_between_ad_variance_unbiased_over_replicate_campaigns():
    """200 campaigns of 600 ads with binomial clicks on 2,000–20,000 impressions each: the
    mean REML estimate is within 3% of the Beta's variance (Monte Carlo SE 0.4%). It is
    about 1.5% low: an ad's SE grows with its CTR, which the weights read as noise (with
    SEs at the pooled rate the same estimator is unbiased, checked here too)."""
    rng = np.random.default_rng(8)
    got, flat = [], []
    for _ in range(200):
        ctr = true_ctrs(rng)
        n = rng.integers(2000, 20_000, K).astype(float)
        c = rng.binomial(n.astype(int), ctr).astype(float)
        # one impression per "user": the delta method's SE is the binomial one
        arms = [CreativeArm(f"a{g}", int(n[g]), n[g], c[g], n[g], c[g], c[g]) for g in range(K)]
        rates = {a.name: rate_interval(a.moments("ctr")) for a in arms}
        got.append(campaign_posteriors(arms, rates, "ctr")[0].tau2)
        pooled = c.sum() / n.sum()
        flat.append(estimate_tau2(c / n, np.sqrt(pooled * (1 - pooled) / n)))
    est, se = float(np.mean(got)), float(np.std(got, ddof=1) / math.sqrt(len(got)))
    est0, se0 = float(np.mean(flat)), float(np.std(flat, ddof=1) / math.sqrt(len(flat)))
    print(
        f"\nτ² over 200 campaigns: {est:.4g} ± {se:.2g}, with pooled-rate SEs {est0:.4g} ± "
        f"{se0:.2g} (truth {SD**2:.4g})"
    )
    assert abs(est / SD**2 - 1) < 0.03 and se < 0.01 * SD**2
    assert abs(est0 - SD**2) <= 3 * se0


def test_groups_sum_their_ads(campaign):
    _ctr, arms = campaign
    groups = {f"concept{c}": [f"ad{g}" for g in range(c, K, 4)] for c in range(4)}
    res = analyze_creatives(arms, control="ad0", draws=2000, groups=groups)
    assert res.groups is not None and len(res.groups) == 4
    by_name = {a.name: a for a in arms}
    for grp in res.groups:
        members = [by_name[n] for n in groups[grp.name]]
        clicks = sum(a.clicks for a in members)
        imps = sum(a.impressions for a in members)
        assert grp.clicks == clicks and grp.users == sum(a.users for a in members)
        assert grp.ctr.estimate == pytest.approx(clicks / imps, rel=1e-12)
        # the delta method over all the group's users at once (sums of squares added)
        n = grp.users
        yy, xx = sum(a.sum_clicks2 for a in members), sum(a.sum_impressions2 for a in members)
        xy = sum(a.sum_clicks_impressions for a in members)
        r = clicks / imps
        var_lin = (yy - 2 * r * xy + r * r * xx - (clicks - r * imps) ** 2 / n) / (n - 1)
        assert grp.ctr.se == pytest.approx(math.sqrt(n * var_lin) / imps, rel=1e-6)
    assert sum(g.prob_best for g in res.groups) == pytest.approx(1)


def test_report_lists_the_top_and_counts_the_rest(run):
    _plan, res, section, _, _ = run
    start = time.perf_counter()
    views = view.views(section, res)
    html = [v.to_html() for v in views if hasattr(v, "to_html")]
    took = time.perf_counter() - start
    print(f"\nthe section's views at {K} ads: {took:.2f} s")
    text = views[0].data
    assert isinstance(views[0], Markdown)
    [budget] = [line for line in text.splitlines() if line.startswith("- Next period")]
    listed = re.findall(r"(ad\d+) [\d.]+%", budget)  # the largest shares, the rest summed
    assert 1 <= len(listed) <= SHOW and f"the other {K - len(listed)} " in budget
    assert len(re.findall(r"\*\*ad\d+\*\*", text)) <= 4 * SHOW
    assert len(text) < 6000
    frame = view.creative_frame(section, res)
    assert len(frame) == SHOW + 2  # the top, control (not among them), the rest
    assert frame.creative.iloc[-1] == f"the other {K - SHOW - 1} creatives (summed)"
    ranked = section.result.ranked
    assert list(frame.creative[:SHOW]) == [a.name for a in ranked[:SHOW]]
    assert frame.creative.iloc[SHOW] == "ad0\u00a0(control)"
    assert "ad599" not in html[0] or any(a.name == "ad599" for a in ranked[:SHOW])
    volume = view.volume_frame(section, res)
    rest_users = sum(a.users for a in section.rest)
    assert volume.users.iloc[-1].replace("\u00a0", "") == f"{rest_users:,}"
    charts = [v for v in views if isinstance(v, alt.TopLevelMixin)]
    assert charts
    for frame in (view.lift_frame(section), view.allocation_frame(section)):
        assert frame.creative.nunique() <= SHOW + 1
    alloc = view.allocation_frame(section)
    assert alloc.weight.sum() == pytest.approx(1)
    assert pd.Series(section.result.allocation.weights).sum() == pytest.approx(1)
