"""cox.zph score test, concordance and Cox fit statistics against independent
references: a literal (per-row loop) transcription of R's ``zph1.c``, brute-force pair
counts, and lifelines' log-likelihoods."""

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.stats import chi2

from tfrsim.analysis import concordance
from tfrsim.analysis.concordance import concordance_index
from tfrsim.analysis.cox_stats import cox_fit_statistics
from tfrsim.analysis.efron import fit_efron
from tfrsim.analysis.pvalues import format_p, log10_p_chi2, log10_p_normal
from tfrsim.analysis.zph import cox_zph


def _data(seed: int, n: int, grid: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sokal = rng.integers(0, 3, n)
    x = np.column_stack(
        [sokal == 1, sokal == 2, rng.normal(5, 2, n), rng.integers(0, 2, n) * rng.random(n)]
    ).astype(float)
    # Non-proportional: the effect of column 2 fades with time (shape 1.4 vs 1).
    scale = 20 * np.exp(-x @ np.array([0.3, 0.7, 0.1, -0.3]))
    t = scale * rng.weibull(1.0 + 0.4 * x[:, 0], n)
    c = rng.uniform(0, 40, n)
    durations = np.minimum(t, c)
    if grid:  # visit grid: heavy ties
        durations = np.ceil(durations / 3) * 3
    return x, durations, t <= c


def _zph_loop(
    gt: np.ndarray, t: np.ndarray, e: np.ndarray, x: np.ndarray, eta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Literal transcription of R's ``src/zph1.c`` (Efron, unit weights, one stratum):
    per-row loops backwards in time. Returns ``u`` (2p) and ``imat`` (2p, 2p)."""
    n, p = x.shape
    x = x - x.mean(axis=0)
    order = np.argsort(t, kind="stable")
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    a, cmat, denom = np.zeros(p), np.zeros((p, p)), 0.0
    ip = n - 1
    while ip >= 0:
        person = order[ip]
        dtime, timewt = t[person], gt[person]
        ndead, denom2, a2, cmat2 = 0, 0.0, np.zeros(p), np.zeros((p, p))
        while ip >= 0 and t[order[ip]] == dtime:
            person = order[ip]
            risk = math.exp(eta[person])
            xi = x[person]
            if not e[person]:
                denom += risk
                a += risk * xi
                cmat += risk * np.outer(xi, xi)
            else:
                ndead += 1
                denom2 += risk
                u[:p] += xi
                u[p:] += timewt * xi
                a2 += risk * xi
                cmat2 += risk * np.outer(xi, xi)
            ip -= 1
        for _ in range(ndead):
            denom += denom2 / ndead
            a += a2 / ndead
            cmat += cmat2 / ndead
            mean = a / denom
            u[:p] -= mean
            u[p:] -= timewt * mean
            v = cmat / denom - np.outer(mean, mean)
            imat[:p, :p] += v
            imat[:p, p:] += timewt * v
            imat[p:, p:] += timewt**2 * v
    imat[p:, :p] = imat[:p, p:].T
    return u, imat


def _km_left(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """1 - S(t-) for every row, by brute force over rows."""
    times = np.unique(t[e])
    surv = np.cumprod([1 - np.sum((t == s) & e) / np.sum(t >= s) for s in times])
    return np.array([1 - np.r_[1.0, surv][np.sum(times < ti)] for ti in t])


@pytest.mark.parametrize("transform", ["km", "rank", "identity", "log"])
@pytest.mark.parametrize("grid", [True, False])
def test_zph_equals_literal_r_algorithm(transform: str, grid: bool) -> None:
    """Vectorised cumulative sums == the per-row C algorithm to 1e-8 (relative).

    Catches: wrong Efron weights for tied events, the transform evaluated at the
    wrong side of a step (S(t) instead of S(t-)), ranks over events instead of all
    rows, a missing centring of g, a multi-column term tested column by column.
    """
    x, t, e = _data(7, 600, grid)
    coef = fit_efron(x, t, e).coef
    terms = {"sokal": [0, 1], "score": [2], "other": [3]}
    result = cox_zph(t, e, x, coef, terms, transform=transform)  # type: ignore[arg-type]
    if transform == "km":
        g = _km_left(t, e)
    elif transform == "rank":
        g = pd.Series(t).rank().to_numpy()
    elif transform == "log":
        g = np.log(t)
    else:
        g = t.copy()
    g = g - g[e].mean()
    u, imat = _zph_loop(g, t, e, x, x @ coef)
    p = x.shape[1]
    expected = []
    for cols in [*terms.values(), list(range(p))]:
        kk = np.r_[np.arange(p), np.asarray(cols) + p]
        vec = np.r_[np.zeros(p), u[np.asarray(cols) + p]]
        expected.append(vec @ np.linalg.solve(imat[np.ix_(kk, kk)], vec))
    np.testing.assert_allclose(result.chisq, expected, rtol=1e-8)
    assert result.terms == ("sokal", "score", "other", "GLOBAL")
    assert result.df.tolist() == [2, 1, 1, 4]
    np.testing.assert_allclose(result.p, chi2.sf(expected, [2, 1, 1, 4]), rtol=1e-6)
    assert set(result.summary()["tests"]) == set(result.terms)


def test_zph_detects_non_proportional_hazards() -> None:
    """Power check: column 0's Weibull shape differs (non-PH), so its test must
    reject at n = 20,000 while a null covariate must not be extreme (catches a
    statistic that is identically small, e.g. a score vector taken at beta = 0)."""
    x, t, e = _data(3, 20_000, grid=True)
    coef = fit_efron(x, t, e).coef
    result = cox_zph(t, e, x, coef, {"sokal": [0, 1], "score": [2], "other": [3]})
    table = result.to_frame().set_index("term")
    assert table.loc["sokal", "p"] < 1e-6
    assert table.loc["other", "p"] > 1e-4


def _brute_pairs(t: np.ndarray, e: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    comparable = e[:, None] & ((t[:, None] < t[None, :]) | ((t[:, None] == t[None, :]) & ~e))
    conc = comparable & (s[:, None] > s[None, :])
    disc = comparable & (s[:, None] < s[None, :])
    tied = comparable & (s[:, None] == s[None, :])
    both_events = e[:, None] & e[None, :] & (t[:, None] == t[None, :])
    np.fill_diagonal(both_events, False)
    return conc, disc, tied, both_events


@pytest.mark.parametrize("route", ["time_grid", "merge_sort"])
@pytest.mark.parametrize("seed", [1, 2])
def test_concordance_equals_brute_force(
    seed: int, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts, C and the jackknife SE equal an O(n^2) pair enumeration, by both
    counting routes (time by time on few distinct times; merge sort otherwise).

    Catches: tied event times counted as comparable, censored-at-event-time subjects
    excluded, tied scores not counted as 1/2, an influence that forgets one member
    of a pair, a route that counts the rows before or after the wrong boundary of a
    tied time.
    """
    if route == "merge_sort":
        monkeypatch.setattr(concordance, "GRID_MAX_TIMES", 0)
    rng = np.random.default_rng(seed)
    n = 700
    t = np.ceil(rng.exponential(10, n) / 3) * 3
    e = rng.random(n) < 0.6
    s = rng.integers(0, 6, n).astype(float)  # heavy ties in the score
    conc, disc, tied, both = _brute_pairs(t, e, s)
    result = concordance_index(t, e, s)
    c, d, tx = int(conc.sum()), int(disc.sum()), int(tied.sum())
    assert (result.concordant, result.discordant, result.tied_risk) == (c, d, tx)
    same = s[:, None] == s[None, :]
    assert result.tied_both == int((both & same).sum() // 2)
    assert result.tied_time == int((both & ~same).sum() // 2)
    assert result.concordance == pytest.approx((c + tx / 2) / (c + d + tx), abs=1e-12)
    per = [m.sum(axis=0) + m.sum(axis=1) for m in (conc, disc, tied)]
    somers = (c - d) / (c + d + tx)
    dfbeta = ((per[0] - per[1]) - (per[0] + per[1] + per[2]) * somers) / (2 * (c + d + tx))
    assert result.se == pytest.approx(float(np.sqrt(np.sum(dfbeta**2))), rel=1e-10)


@pytest.mark.parametrize("route", ["time_grid", "merge_sort"])
def test_concordance_is_bit_identical_whatever_the_row_order(
    route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C, its SE and every count are the same bits when the rows are permuted or
    counted in two threads, with heavy ties in the score, by both counting routes.

    Catches: a count or the SE's sum depending on which of two rows with equal time,
    event and score comes first (the scores are ranked by an unstable sort, so their
    input order must not matter), or on the two sweeps of the time-by-time count
    running side by side (``threads=2``).
    """
    if route == "merge_sort":
        monkeypatch.setattr(concordance, "GRID_MAX_TIMES", 0)
    rng = np.random.default_rng(3)
    n = 3000
    t = np.ceil(rng.exponential(10, n) / 3) * 3
    e = rng.random(n) < 0.6
    s = rng.integers(0, 6, n).astype(float)
    first = concordance_index(t, e, s)
    for _ in range(3):
        p = rng.permutation(n)
        assert concordance_index(t[p], e[p], s[p]) == first
    assert concordance_index(t, e, s, threads=2) == first


def test_cox_fit_statistics_equal_lifelines() -> None:
    """Log-likelihood, LR test and AIC equal lifelines' at its own fit (1e-6).

    Catches: the log-likelihood of centred covariates differing from the raw one, an
    LR statistic without the factor 2, AIC with the wrong number of parameters.
    """
    x, t, e = _data(5, 1500, grid=True)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(T=t, E=e.astype(float))
    fitter = CoxPHFitter().fit(
        frame, "T", "E", fit_options={"precision": 1e-12, "r_precision": 1e-14}
    )
    stats = cox_fit_statistics(t, e, x, fitter.params_.to_numpy())
    assert stats.loglik == pytest.approx(fitter.log_likelihood_, abs=1e-6)
    assert stats.aic == pytest.approx(fitter.AIC_partial_, abs=1e-6)
    lr = fitter.log_likelihood_ratio_test()
    assert stats.lr_statistic == pytest.approx(lr.test_statistic, abs=1e-6)
    assert stats.p == pytest.approx(lr.p_value, rel=1e-6)
    assert stats.concordance.concordance == pytest.approx(fitter.concordance_index_, abs=0.02)
    assert stats.summary()["n_events"] == int(e.sum())


def test_log10_p_does_not_underflow() -> None:
    """Against closed forms: chi2 on 2 df has sf = exp(-x/2); the normal tail is
    checked with the Mills-ratio asymptotic. Catches a log of an underflowed p."""
    x = np.array([10.0, 5000.0])
    np.testing.assert_allclose(log10_p_chi2(x, 2), -x / 2 / math.log(10), rtol=1e-12)
    z = 100.0
    asymptotic = (math.log(2) - z**2 / 2 - math.log(z * math.sqrt(2 * math.pi))) / math.log(10)
    assert float(log10_p_normal(z)) == pytest.approx(asymptotic, abs=1e-3)
    assert format_p(float(log10_p_chi2(5000.0, 1))) == "p < 1e-300"
    assert format_p(math.log10(0.0321)) == "p = 0.032"
    assert format_p(math.log10(4.06e-12)) == "p = 4.1e-12"
    assert format_p(math.log10(9.96e-5)) == "p = 1.0e-4"
    assert format_p(float("nan")) == "p = NA"


def test_zph_not_estimable_columns() -> None:
    """A constant column has no information. With a NaN coefficient (R's NA) it is
    dropped like R does and the other terms are tested; with a finite one every test
    is NaN instead of raising (catches an exception that loses the whole analysis)."""
    x, t, e = _data(4, 300, grid=True)
    x = np.column_stack([x[:, 2], np.ones(t.size), x[:, 3]])
    terms = {"score": [0], "constant": [1], "other": [2]}
    result = cox_zph(t, e, x, np.array([0.1, np.nan, -0.2]), terms)
    assert result.terms == ("score", "other", "GLOBAL")
    reference = cox_zph(t, e, x[:, [0, 2]], np.array([0.1, -0.2]), {"score": [0], "other": [1]})
    np.testing.assert_allclose(result.chisq, reference.chisq)
    singular = cox_zph(t, e, x, np.array([0.1, 0.0, -0.2]), terms)
    assert np.isnan(singular.chisq).all()
