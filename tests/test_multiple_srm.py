"""Multiple-testing corrections against statsmodels' multipletests, SRM against scipy's chisquare."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from liftlab.stats.multiple import CORRECTIONS, adjust_pvalues
from liftlab.stats.srm import srm_test

STATSMODELS_NAME = {
    "bonferroni": "bonferroni",
    "holm": "holm",
    "hochberg": "simes-hochberg",
    "bh": "fdr_bh",
    "by": "fdr_by",
}


@pytest.mark.parametrize("method", list(STATSMODELS_NAME))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corrections_match_statsmodels(method, seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.05, 4), rng.uniform(0, 1, 9), [0.02, 0.02]])
    ours = adjust_pvalues(p, method)
    ref = multipletests(p, alpha=0.05, method=STATSMODELS_NAME[method])[1]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-15)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=25), st.sampled_from(list(STATSMODELS_NAME)))
def test_corrections_property_vs_statsmodels(p, method):
    ref = multipletests(np.asarray(p), method=STATSMODELS_NAME[method])[1]
    np.testing.assert_allclose(adjust_pvalues(p, method), ref, rtol=1e-9, atol=1e-12)
    assert all(a >= b - 1e-15 for a, b in zip(adjust_pvalues(p, method), p, strict=True))


def test_none_and_nan_handling():
    assert adjust_pvalues([0.01, 0.2], "none") == [0.01, 0.2]
    out = adjust_pvalues([0.01, math.nan, 0.04], "holm")
    assert math.isnan(out[1])
    assert out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)  # family of two
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_pvalues([0.1], "sidak")
    assert set(CORRECTIONS) == {"none", *STATSMODELS_NAME}


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ({"a": 5_021, "b": 4_979}, {"a": 0.5, "b": 0.5}),
        ({"a": 5_300, "b": 4_700}, {"a": 0.5, "b": 0.5}),
        ({"a": 2_000, "b": 3_950, "c": 4_100}, {"a": 0.2, "b": 0.4, "c": 0.4}),
    ],
)
def test_srm_matches_scipy_chisquare(counts, weights):
    res = srm_test(counts, weights)
    n = sum(counts.values())
    ref = sps.chisquare(list(counts.values()), [n * weights[k] for k in counts])
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert res.df == len(counts) - 1
    assert res.mismatch == (ref.pvalue < 0.001)


def test_srm_flags_a_real_mismatch_only():
    assert srm_test({"a": 5_300, "b": 4_700}, {"a": 0.5, "b": 0.5}).mismatch
    assert not srm_test({"a": 5_030, "b": 4_970}, {"a": 0.5, "b": 0.5}).mismatch
    empty = srm_test({}, {"a": 0.5, "b": 0.5})
    assert math.isnan(empty.p_value) and not empty.mismatch
