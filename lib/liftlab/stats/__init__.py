"""Statistics on sufficient statistics: pure functions, no I/O.

- :mod:`~liftlab.stats.moments`: the sums the engine returns per group.
- :mod:`~liftlab.stats.frequentist`: Welch t, delta-method ratios, CUPED, relative intervals.
- :mod:`~liftlab.stats.multiple`: multiple-testing corrections.
- :mod:`~liftlab.stats.srm`: sample-ratio-mismatch test.
- :mod:`~liftlab.stats.power`: sample size, MDE and duration.
- :mod:`~liftlab.stats.bayesian`: Beta-Binomial and Gaussian models, chance to win, P(best).
- :mod:`~liftlab.stats.sequential`: always-valid inference and group-sequential designs.
- :mod:`~liftlab.stats.bootstrap`, :mod:`~liftlab.stats.rank`: resampling and rank tests.
- :mod:`~liftlab.stats.types`: the metric types, shared with the plan and the command line.

The names below load on first use, so importing a light module such as
:mod:`~liftlab.stats.types` does not import NumPy or SciPy.
"""

from typing import TYPE_CHECKING

from liftlab.startup import lazy_names

if TYPE_CHECKING:
    from liftlab.stats.frequentist import Effect, cuped_test, ratio_test, welch_test
    from liftlab.stats.moments import Moments
    from liftlab.stats.multiple import adjust_pvalues
    from liftlab.stats.srm import SRMResult, srm_test

# public name -> the module that defines it
_LAZY = {
    "Effect": "liftlab.stats.frequentist",
    "cuped_test": "liftlab.stats.frequentist",
    "ratio_test": "liftlab.stats.frequentist",
    "welch_test": "liftlab.stats.frequentist",
    "Moments": "liftlab.stats.moments",
    "adjust_pvalues": "liftlab.stats.multiple",
    "SRMResult": "liftlab.stats.srm",
    "srm_test": "liftlab.stats.srm",
}

__all__ = [
    "Effect",
    "Moments",
    "SRMResult",
    "adjust_pvalues",
    "cuped_test",
    "ratio_test",
    "srm_test",
    "welch_test",
]


# PEP 562: each name's module loads on first use and the name is then cached here
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
