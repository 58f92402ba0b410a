"""Root finding, with SciPy's optimiser loaded on first use.

Reading results (a report's kernel that is handed them, unpickling them) imports the modules
that define them; those that solve for a root with :func:`brentq` need not load
``scipy.optimize`` (0.2 s) until they solve.
"""

from __future__ import annotations

from typing import Any


def brentq(*args: Any, **kwargs: Any) -> float:
    """``scipy.optimize.brentq(*args, **kwargs)`` as a float (Brent's method on a bracket;
    the arguments and tolerances are SciPy's)."""
    from scipy.optimize import brentq as solve

    return float(solve(*args, **kwargs))
