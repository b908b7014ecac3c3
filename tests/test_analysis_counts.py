"""The numpy KM, log-rank and p-value paths against lifelines and scipy.stats.

KM curves, ``survival_at`` and the multivariate log-rank test are computed from the
counts on the distinct-time grid (``analysis/km.py``, ``analysis/logrank.py``), and the
normal and chi-squared functions from ``scipy.special`` (``analysis/pvalues.py``),
because lifelines' per-call overhead and the imports of lifelines and scipy.stats
dominated small analyses (benchmarks/README.md). These tests hold them to the
libraries they replace; R's ``survdiff`` is in test_r_reference.py.
"""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from scipy import stats

from tfrsim.analysis import logrank_by_group, survival_at
from tfrsim.analysis.km import _counts, km_table
from tfrsim.analysis.logrank import multivariate_logrank
from tfrsim.analysis.pvalues import (
    chi2_sf,
    log10_p_chi2,
    log10_p_normal,
    norm_ppf,
    norm_sf,
    t_ppf,
)
from tfrsim.cohort.params import SOKAL_GROUPS


def _tied(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows on 6 integer months (0 included: heavy ties), k groups, ~half events."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 6, n).astype(float),
        rng.random(n) < 0.5,
        rng.integers(0, k, n),
    )


def _first_appearance(groups: np.ndarray) -> np.ndarray:
    order = {g: i for i, g in enumerate(dict.fromkeys(groups.tolist()))}
    return np.array([order[g] for g in groups.tolist()])


def _lifelines_logrank(t, g, e, w=None) -> tuple[float, float, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' "weights are not integers"
        test = multivariate_logrank_test(t, g, e, weights=w)
    return float(test.test_statistic), float(test.p_value), int(test.degrees_of_freedom)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_logrank_equals_lifelines_with_ties_and_weights(k: int, seed: int, weighted: bool) -> None:
    """The numpy log-rank statistic equals lifelines' multivariate_logrank_test (1e-10)
    on heavily tied data, 2 and 3 groups, with integer and non-integer case weights.

    Catches: an at-risk count taken after instead of before a time (ties), the
    hypergeometric factor (n - d) / (n - 1) missing or misplaced, expected events not
    scaled by the group's share at risk, weights applied to only one of the counts, a
    wrong group left out of the quadratic form.
    """
    t, e, g = _tied(seed, 120, k)
    w = np.random.default_rng(seed).uniform(0.5, 3.0, t.size) if weighted else None
    codes = _first_appearance(g)
    statistic, df = multivariate_logrank(t, codes, e, weights=w, n_groups=k)
    ref_statistic, _, ref_df = _lifelines_logrank(t, g, e, w)
    assert df == ref_df == k - 1
    assert statistic == pytest.approx(ref_statistic, rel=1e-10, abs=1e-12)


def test_logrank_with_a_group_without_events_equals_lifelines() -> None:
    """A group with patients at risk but no events (expected events > 0, observed 0)
    gives lifelines' statistic and p-value through logrank_by_group.

    Catches: a group dropped because it has no events (it still has at-risk rows that
    enter the covariance), zero observed events treated as missing.
    """
    t, e, g = _tied(4, 150, 3)
    e = e & (g != 1)
    labels = np.array(SOKAL_GROUPS)[g]
    data = pd.DataFrame(
        {
            "duration_months": t,
            "event": e,
            "sokal_group": pd.Categorical(labels, categories=list(SOKAL_GROUPS)),
        }
    )
    result = logrank_by_group(data)
    ref_statistic, ref_p, ref_df = _lifelines_logrank(t, labels, e)
    assert result.note == ""
    assert (result.df, result.n_groups) == (ref_df, 3)
    assert result.statistic == pytest.approx(ref_statistic, rel=1e-10)
    assert result.p == pytest.approx(ref_p, rel=1e-8)


def test_logrank_group_order_and_frequency_weights() -> None:
    """Which group is left out of the quadratic form does not change the statistic,
    and one row per patient equals distinct rows weighted by their counts.

    Catches: a statistic that depends on the group order (a covariance not of the
    log-rank form), weights not entering as frequencies.
    """
    t, e, g = _tied(5, 200, 3)
    a, _ = multivariate_logrank(t, g, e)
    b, _ = multivariate_logrank(t, (g + 1) % 3, e)
    assert a == pytest.approx(b, rel=1e-10)
    keys, counts = np.unique(np.column_stack([t, e, g]), axis=0, return_counts=True)
    c, _ = multivariate_logrank(
        keys[:, 0], keys[:, 2].astype(int), keys[:, 1].astype(bool), weights=counts
    )
    assert a == pytest.approx(c, rel=1e-10)


def test_logrank_without_difference_is_zero() -> None:
    """Two groups with identical data (each row duplicated into the other group) have
    observed = expected at every time: statistic 0, p = 1.

    Catches: a variance or O - E that does not vanish under exact equality.
    """
    t, e, _ = _tied(6, 60, 2)
    statistic, df = multivariate_logrank(
        np.r_[t, t], np.r_[np.zeros(60, int), np.ones(60, int)], np.r_[e, e]
    )
    assert df == 1
    assert statistic == pytest.approx(0.0, abs=1e-12)
    assert chi2_sf(statistic, df) == pytest.approx(1.0)


@pytest.mark.parametrize("case", ["tied", "zero_month", "ends_at_zero", "weights", "one"])
def test_km_table_is_lifelines_kaplan_meier(case: str) -> None:
    """km_table gives lifelines' KaplanMeierFitter table exactly (timeline from month
    0, survival, exponential Greenwood limits), including a relapse at month 0, a curve
    that reaches 0 (lifelines: variance term 0 there, limits 0), frequency weights,
    a single patient and alpha = 0.1.

    Catches: a missing month-0 row, survival computed from a different at-risk count,
    R's convention (NaN limits at S = 0) instead of lifelines', a wrong z for alpha.
    """
    rng = np.random.default_rng(11)
    t = rng.integers(1, 9, 80).astype(float)
    e = rng.random(80) < 0.6
    w = None
    if case == "zero_month":
        t[:5], e[:5] = 0.0, True
    elif case == "ends_at_zero":
        last = t == t.max()
        e[last] = True
    elif case == "weights":
        w = rng.integers(1, 6, 80).astype(float)
    elif case == "one":
        t, e = np.array([4.0]), np.array([True])
    reference = KaplanMeierFitter(alpha=0.1).fit(t, e, weights=w)
    month, survival, lower, upper = km_table(*_counts(t, e, w), alpha=0.1)
    ci = reference.confidence_interval_survival_function_
    np.testing.assert_array_equal(month, reference.survival_function_.index.to_numpy(float))
    np.testing.assert_array_equal(survival, reference.survival_function_.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(lower, ci.iloc[:, 0].to_numpy())
    np.testing.assert_array_equal(upper, ci.iloc[:, 1].to_numpy())
    if case == "ends_at_zero":
        assert survival[-1] == lower[-1] == upper[-1] == 0.0


def test_survival_at_equals_lifelines() -> None:
    """survival_at equals lifelines' survival_function_at_times: right-continuous at
    the observed times, 1 before the first relapse, the last value carried beyond the
    last time.

    Catches: a left-continuous lookup (value before the step at an exact time), NaN
    or 0 beyond follow-up instead of the carried value.
    """
    rng = np.random.default_rng(12)
    t = 3.0 * rng.integers(1, 12, 300)
    e = rng.random(300) < 0.4
    months = np.array([0.0, 2.9, 3.0, 6.0, 7.5, 33.0, 36.0, 100.0])
    reference = KaplanMeierFitter().fit(t, e).survival_function_at_times(months).to_numpy()
    np.testing.assert_array_equal(survival_at(t, e, months), reference)


def test_p_value_functions_equal_scipy_stats() -> None:
    """norm_ppf, norm_sf, t_ppf, chi2_sf and the log10 p-values equal scipy.stats' results
    exactly, including the edges (0, 1, infinity, NaN, negative chi-squared).

    Catches: a tail taken on the wrong side, chi2 or t arguments swapped (df, x), a
    negative statistic giving NaN instead of scipy's 1.
    """
    q = np.array([0.0, 1e-300, 0.025, 0.5, 0.975, 1.0, np.nan])
    np.testing.assert_array_equal(norm_ppf(q), stats.norm.ppf(q))
    for df in (1, 2, 39, 1e3, np.inf):
        np.testing.assert_array_equal(t_ppf(q, df), stats.t.ppf(q, df))
    z = np.array([-np.inf, -40.0, -1.96, 0.0, 1e-9, 1.96, 40.0, np.inf, np.nan])
    np.testing.assert_array_equal(norm_sf(z), stats.norm.sf(z))
    x = np.array([-1.0, 0.0, 1e-300, 0.5, 3.84, 50.0, 1e3, np.inf, np.nan])
    for df in (1, 2, 3.5, 4):
        np.testing.assert_array_equal(chi2_sf(x, df), stats.chi2.sf(x, df))
        assert chi2_sf(5.0, df) == stats.chi2.sf(5.0, df)
    finite = np.array([0.0, 0.5, 3.84, 50.0, 900.0])
    np.testing.assert_allclose(
        log10_p_chi2(finite, 2), stats.chi2.logsf(finite, 2) / np.log(10), rtol=1e-14
    )
    np.testing.assert_allclose(
        log10_p_normal(z[1:-2]), (np.log(2) + stats.norm.logsf(np.abs(z[1:-2]))) / np.log(10)
    )


def test_a_default_run_imports_neither_lifelines_nor_scipy_stats() -> None:
    """A default study (every default analysis) runs, and the command line, ensemble
    and sweep modules load, without importing lifelines or scipy.stats; importing them
    costs ~0.4-0.9 s of every run and of every sweep process (benchmarks/README.md).

    Catches: a module-level or lazy import of either coming back into the run.
    """
    code = (
        "import sys, tfrsim, tfrsim.cli, tfrsim.ensemble, tfrsim.sweep.experiments\n"
        "p = tfrsim.load_params(['cohort.n_patients=500'])\n"
        "tfrsim.run_study(p, keep_visits=0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lifelines'"
        " or m.startswith('scipy.stats')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
