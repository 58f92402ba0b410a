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

from liftlab.analysis import Results, analyze, analyze_statistics
from liftlab.errors import DataError, LiftlabError, PlanError
from liftlab.plan import Plan, load_plan, parse_plan

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
