"""Statistics on sufficient statistics: pure functions, no I/O.

- :mod:`~liftlab.stats.moments`: the sums the engine returns per group.
- :mod:`~liftlab.stats.frequentist`: Welch t, delta-method ratios, CUPED, relative intervals.
- :mod:`~liftlab.stats.multiple`: multiple-testing corrections.
- :mod:`~liftlab.stats.srm`: sample-ratio-mismatch test.
- :mod:`~liftlab.stats.power`: sample size, MDE and duration.
- :mod:`~liftlab.stats.bayesian`: Beta-Binomial and Gaussian models, chance to win, P(best).
- :mod:`~liftlab.stats.sequential`: always-valid inference and group-sequential designs.
- :mod:`~liftlab.stats.bootstrap`, :mod:`~liftlab.stats.rank`: resampling and rank tests.
"""

from liftlab.stats.frequentist import Effect, cuped_test, ratio_test, welch_test
from liftlab.stats.moments import Moments
from liftlab.stats.multiple import adjust_pvalues
from liftlab.stats.srm import SRMResult, srm_test

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
