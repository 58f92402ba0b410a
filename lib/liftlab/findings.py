"""What an analysis found: the result dataclasses :func:`liftlab.analysis.analyze` returns.

:class:`Results` holds the plan, the SRM check, one :class:`MetricResult` per metric (its
:class:`VariantSummary` per arm and its :class:`Comparison` with control per treatment), the
verdict, the traffic and the kind's section. They are defined apart from the analysis so that
reading results (a report's kernel that is handed them, the views, a pickle) loads none of the
engine, the data layer or the statistics: everything a field holds is imported only to type
it. :mod:`liftlab.analysis` exports the same names.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from liftlab.errors import LiftlabError, did_you_mean

if TYPE_CHECKING:
    from liftlab.decision import Decision
    from liftlab.headline import Headline
    from liftlab.methods.cap_sensitivity import SensitivityRow
    from liftlab.monitor import CumulativeView, SequentialView
    from liftlab.plan import Metric, Plan
    from liftlab.progress import Progress
    from liftlab.sources import Scope
    from liftlab.stats.bayesian import BayesResult, BestArm
    from liftlab.stats.bootstrap import BootstrapResult
    from liftlab.stats.frequentist import Effect, NonInferiority
    from liftlab.stats.rank import RankResult
    from liftlab.stats.srm import SRMResult

__all__ = ["Comparison", "MetricResult", "Results", "Traffic", "VariantSummary"]


@dataclass(frozen=True)
class VariantSummary:
    """One arm of one metric: units, mean (or ratio), unit-level variance, standard error.

    For ratio metrics ``mean`` is ``Σnumerator/Σdenominator`` and ``variance`` is the
    linearised unit-level variance, ``n · Var_delta(R)``.
    """

    n: int
    mean: float
    variance: float
    se: float


@dataclass(frozen=True)
class Comparison:
    """One treatment against control on one metric: the fixed-horizon ``effect`` and the
    results of every method that applies (:mod:`liftlab.methods`), by name in ``methods``.

    ``bayes``, ``sequential``, ``cumulative``, ``non_inferiority``, ``bootstrap`` and
    ``rank`` read those results (``None`` when the method did not run): ``cumulative`` is
    the fixed-horizon test at every daily look (pointwise intervals; plans that are not
    sequential, with two or more days of data); ``sequential`` the always-valid or
    group-sequential view (sequential plans).
    """

    variant: str
    control: str
    effect: Effect
    p_value_adjusted: float
    significant: bool
    direction_sign: int
    cuped: bool
    prob_beat_control: float
    expected_loss: float
    methods: dict[str, Any] = field(default_factory=dict)
    headline: Headline | None = None

    # results.json: the effect's numbers flattened in, next to the plan method's verdict.
    json_fields: ClassVar = (
        "variant",
        "control",
        "headline",
        ("control_mean", "effect.control_mean"),
        ("variant_mean", "effect.treatment_mean"),
        ("abs_effect", "effect.abs_effect"),
        ("abs_se", "effect.abs_se"),
        ("abs_ci", "effect.abs_ci"),
        ("rel_effect", "effect.rel_effect"),
        ("rel_ci", "effect.rel_ci"),
        ("df", "effect.df"),
        ("p_value", "effect.p_value"),
        "p_value_adjusted",
        "significant",
        ("method", "effect.method"),
        "cuped",
        ("theta", "effect.theta"),
        "prob_beat_control",
        "expected_loss",
        ("note", "effect.note"),
        ("*", "methods"),
    )

    @property
    def bayes(self) -> BayesResult | None:
        return self.methods.get("bayesian")

    @property
    def sequential(self) -> SequentialView | None:
        return self.methods.get("sequential")

    @property
    def cumulative(self) -> CumulativeView | None:
        return self.methods.get("cumulative")

    @property
    def non_inferiority(self) -> NonInferiority | None:
        return self.methods.get("non_inferiority")

    @property
    def bootstrap(self) -> BootstrapResult | None:
        return self.methods.get("bootstrap")

    @property
    def rank(self) -> RankResult | None:
        return self.methods.get("mann_whitney")

    @property
    def better(self) -> bool:
        """Significant (by the plan's method), in the metric's good direction."""
        return self.significant and self._signed > 0

    @property
    def worse(self) -> bool:
        """Significant (by the plan's method), in the metric's bad direction."""
        return self.significant and self._signed < 0

    @property
    def _signed(self) -> float:
        if self.bayes is not None:  # the chance to beat control already reads the direction
            return 1 if self.bayes.prob_beat_control > 0.5 else -1
        return self.direction_sign * self.effect.abs_effect


@dataclass(frozen=True)
class MetricResult:
    """A metric's per-variant summaries and its comparisons with control.

    ``status`` is ``ok``, ``flagged`` (some comparison could not be computed; ``reason``
    says why) or ``error`` (the metric could not be analysed at all). ``methods`` holds the
    results of the metric-scope methods (:mod:`liftlab.methods`) by name, ``None`` where one
    did not apply; ``sensitivity`` reads the cap-sensitivity rows.
    """

    metric: Metric
    variants: dict[str, VariantSummary]
    comparisons: list[Comparison]
    caps: dict[str, float]
    methods: dict[str, Any] = field(default_factory=dict)
    best: BestArm | None = None
    status: str = "ok"
    reason: str | None = None

    @property
    def sensitivity(self) -> list[SensitivityRow]:
        return self.methods.get("cap_sensitivity") or []

    def comparison(self, variant: str) -> Comparison:
        """The comparison of ``variant`` with control (``StopIteration`` when there is none)."""
        found = self._by_variant.get(variant)
        if found is None:
            raise StopIteration(variant)
        return found

    @cached_property
    def _by_variant(self) -> dict[str, Comparison]:
        # a lookup by name for surfaces that ask for each of a thousand arms in turn
        return {c.variant: c for c in self.comparisons}


@dataclass(frozen=True)
class Traffic:
    """Units entering the test per day and variant (empty without ``data.timestamp``)."""

    days: list[dt.date]
    units: dict[str, list[int]]


@dataclass(frozen=True)
class Results:
    """Everything an analysis found; serialise with :meth:`to_dict` / :meth:`to_json`."""

    plan: Plan
    srm: SRMResult
    metrics: list[MetricResult]
    decision: Decision
    data_label: str
    data_sha256: str | None
    generated_at: str
    planned_n_per_variant: int | None = None
    traffic: Traffic = field(default_factory=lambda: Traffic([], {}))
    data_quality: dict[str, Any] | None = None
    segment_srm: dict[str, dict[str, SRMResult]] = field(default_factory=dict)
    # What the data fingerprint covers (see UnitSource.describe); for provenance, not results.
    data_identity: dict[str, Any] | None = None
    # The kind's own section (liftlab.kinds), keyed by kind: {"pricing": PricingSection}.
    sections: dict[str, Any] = field(default_factory=dict)
    # Sample-size progress against the plan (liftlab.progress).
    progress: Progress | None = None
    # The slice analysed (analyze's as_of and segment); None: all the data.
    scope: Scope | None = None

    def metric(self, name: str) -> MetricResult:
        return next(m for m in self.metrics if m.metric.name == name)

    @property
    def total_units(self) -> int:
        return sum(self.srm.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """The results contract of DESIGN.md (NaN and infinities become null).

        ``scope`` (``{"as_of": "2026-11-10", "segment": {"device": ["mobile"]}}``) is there
        only for a slice of the data (:func:`analyze`'s ``as_of`` or ``segment``).
        """
        from liftlab.results import results_dict

        out = results_dict(self)
        if self.scope is not None:
            out["scope"] = self.scope.to_dict()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write_json(self, path: str | Path) -> Path:
        """Write ``results.json`` atomically (temporary file, then rename)."""
        from liftlab.files import atomic_write

        return atomic_write(path, self.to_json())

    def table(self):  # type: ignore[no-untyped-def]
        """One row per metric × treatment, as a pandas DataFrame (for notebooks).

        ``label``, ``headline`` (the effect and interval the method decides by, as the
        report prints them) and ``status`` come first; the other columns are the
        fixed-horizon numbers (``rel_*`` are fractions, ``abs_*`` in the metric's units).
        """
        import pandas as pd

        from liftlab.decision import display_of

        rows = []
        for m in self.metrics:
            display = display_of(self.plan, m.metric.name)
            for c in m.comparisons:
                e, h = c.effect, c.headline
                rows.append(
                    {
                        "metric": m.metric.name,
                        "label": display.label,
                        "role": m.metric.role,
                        "variant": c.variant,
                        "headline": h.effect_text(display) if h is not None else "",
                        "status": h.status_text if h is not None else "not enough data",
                        "control_mean": e.control_mean,
                        "variant_mean": e.treatment_mean,
                        "abs_effect": e.abs_effect,
                        "abs_ci_low": e.abs_ci[0],
                        "abs_ci_high": e.abs_ci[1],
                        "rel_effect": e.rel_effect,
                        "rel_ci_low": e.rel_ci[0] if e.rel_ci else math.nan,
                        "rel_ci_high": e.rel_ci[1] if e.rel_ci else math.nan,
                        "p_value": e.p_value,
                        "p_value_adjusted": c.p_value_adjusted,
                        "significant": c.significant,
                        "prob_beat_control": c.prob_beat_control,
                        "method": e.method,
                    }
                )
        return pd.DataFrame(rows)

    def chart(self, metric: str | None = None):  # type: ignore[no-untyped-def]
        """The effects with their intervals as an Altair chart: the report's forest plot
        (:func:`liftlab.charts.forest_plot`) of ``metric``, or of every metric that has
        comparisons (in the report's order: primary, guardrail, secondary) stacked."""
        import altair as alt

        from liftlab import charts, theme
        from liftlab.decision import display_of
        from liftlab.present import ordered_metrics

        if metric is not None:
            names = [m.metric.name for m in self.metrics]
            if metric not in names:
                raise LiftlabError(
                    f"no metric '{metric}' in {self.plan.name}{did_you_mean(metric, names)}; "
                    f"metrics: {', '.join(names)}"
                )
            chosen = [self.metric(metric)]
        else:
            chosen = [m for m in ordered_metrics(self) if m.comparisons]
        plots = [charts.forest_plot(m, display_of(self.plan, m.metric.name)) for m in chosen]
        if len(plots) == 1:
            return plots[0]
        for p in plots:  # Vega-Lite takes a config on the top-level chart only
            p.config = alt.Undefined
        stacked = alt.vconcat(*plots, spacing=24).resolve_scale(color="independent")
        return theme.configure(stacked)

    def _repr_html_(self) -> str:
        """The verdict and the scorecard, as the report opens (JupyterLab's rich display)."""
        import html

        from liftlab.present import verdict_html
        from liftlab.scorecard import scorecard_html

        scope = ""
        if self.scope is not None:
            scope = f"<p><b>Slice:</b> {html.escape(self.scope.text())}</p>"
        return scope + verdict_html(self) + scorecard_html(self)

    def __repr__(self) -> str:
        """One paragraph: the experiment, the method, the units, the slice and the verdict."""
        from liftlab.headline import verdict_word

        d = self.decision
        label = verdict_word(d.recommendation, self.plan.randomization)
        verdict = label + (f": {d.variant}" if d.variant and d.recommendation == "ship" else "")
        scope = f", {self.scope.text()}" if self.scope is not None else ""
        return (
            f"<liftlab Results {self.plan.name} ({self.plan.analysis.method}, "
            f"{self.total_units:,} units{scope}): {verdict}. {d.reason}>"
        )
