"""Bayesian comparison (plans with ``analysis.method: bayesian``): the Beta-Binomial model for
proportions without a covariate, else the Gaussian model on the fixed-horizon effect with the
plan's optional normal prior (:mod:`liftlab.stats.bayesian`). The chance to beat control and
the expected loss in the results come from it."""

from __future__ import annotations

from liftlab.methods.base import MetricInput, Need, Scope
from liftlab.plan import Metric, Plan
from liftlab.stats.bayesian import BayesResult, NormalPrior, beta_binomial_effect, gaussian_effect

name = "bayesian"
order = 10
needs: Need = "sums"
scope: Scope = "comparison"


def applies(plan: Plan, metric: Metric) -> bool:
    return plan.analysis.method == "bayesian"


def run(inp: MetricInput) -> dict[str, BayesResult]:
    return {v: _one(inp, v) for v in inp.treatments}


def _one(inp: MetricInput, variant: str) -> BayesResult:
    a, metric = inp.plan.analysis, inp.metric
    spec = a.bayesian
    control, treatment = inp.moments[inp.control], inp.moments[variant]
    if metric.type == "proportion" and metric.covariate is None:
        return beta_binomial_effect(
            control,
            treatment,
            prior=spec.beta_prior,
            alpha=a.alpha,
            direction=metric.direction,
            relative=spec.effect == "relative",
            draws=spec.draws,
            seed=spec.seed,
        )
    prior = NormalPrior(spec.prior_mean, spec.prior_sd) if spec.prior_sd is not None else None
    return gaussian_effect(
        inp.effects[variant],
        prior=prior,
        effect=spec.effect,
        alpha=a.alpha,
        direction=metric.direction,
    )
