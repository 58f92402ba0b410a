"""liftlab: design and analyse A/B tests on landing pages, pricing and ad creatives.

Interactive use::

    import liftlab
    plan = liftlab.load_plan("experiments/landing-headline.yaml")
    results = liftlab.analyze(plan)
    results.decision.recommendation
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("liftlab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from typing import TYPE_CHECKING

from liftlab.startup import defer_slow_imports, lazy_names

# jsonschema (under Altair, nbformat, papermill) loads rfc3987_syntax, which compiles a
# grammar for 1-2 s, for a format no liftlab schema checks: it now loads on first real use.
defer_slow_imports()

if TYPE_CHECKING:  # the names below load on first use: ``import liftlab`` stays light
    from liftlab.analysis import Results, analyze, analyze_statistics
    from liftlab.errors import DataError, LiftlabError, PlanError
    from liftlab.plan import Plan, load_plan, parse_plan

# public name -> the module that defines it. ``import liftlab`` imports none of them, so the
# command line (``liftlab --help``) and a kernel start do not pay for Ibis, SciPy or pandas
# until a command or a cell uses them; ``liftlab.analyze`` imports the analysis on first use.
_LAZY = {
    "Results": "liftlab.analysis",
    "analyze": "liftlab.analysis",
    "analyze_statistics": "liftlab.analysis",
    "DataError": "liftlab.errors",
    "LiftlabError": "liftlab.errors",
    "PlanError": "liftlab.errors",
    "Plan": "liftlab.plan",
    "load_plan": "liftlab.plan",
    "parse_plan": "liftlab.plan",
}


# PEP 562: each name's module loads on first use and the name is then cached here
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [
    "DataError",
    "LiftlabError",
    "Plan",
    "PlanError",
    "Results",
    "__version__",
    "analyze",
    "analyze_statistics",
    "load_plan",
    "parse_plan",
]
