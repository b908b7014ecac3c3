"""The vectorised Efron Cox fit and PH test against lifelines (the reference)."""

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from tfrsim import load_params, simulate_patients
from tfrsim.analysis import fit_cox
from tfrsim.analysis.efron import LOOP_MAX_TIMES, fit_efron, schoenfeld_ph_test

SEEDS = [1, 2, 3]


def _data(seed: int, n: int, grid: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [rng.integers(0, 2, n), rng.normal(5, 2, n), rng.integers(0, 2, n) * rng.random(n)]
    ).astype(float)
    t = rng.exponential(20 * np.exp(-x @ np.array([0.5, 0.1, -0.3])))
    c = rng.uniform(0, 40, n)
    durations = np.minimum(t, c)
    if grid:  # a visit grid: heavy ties, as in simulated trials
        durations = np.ceil(durations / 3) * 3
    return x, durations, t <= c


def _lifelines(x: np.ndarray, t: np.ndarray, e: np.ndarray) -> tuple[CoxPHFitter, pd.DataFrame]:
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=t, E=e.astype(float))
    fitter = CoxPHFitter().fit(
        frame, "T", "E", fit_options={"precision": 1e-12, "r_precision": 1e-14}
    )
    return fitter, frame


def _average_event_rank(t: pd.Series, c: pd.Series, w: pd.Series) -> pd.Series:
    """lifelines time transform: the rank of each time among the event times, ties
    averaged (lifelines' own "rank" is cumsum(c), which breaks ties by row order)."""
    times, events = np.asarray(t, dtype=float), np.asarray(c, dtype=float)
    event_times = np.sort(times[events > 0])
    below = np.searchsorted(event_times, times, side="left")
    tied = np.searchsorted(event_times, times, side="right") - below
    return pd.Series(below + (tied + 1) / 2.0, index=getattr(t, "index", None))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grid", [True, False])
def test_fit_and_ph_test_equal_lifelines(seed: int, grid: bool) -> None:
    n = 2 * LOOP_MAX_TIMES if not grid else 1500  # continuous times take the other path
    x, t, e = _data(seed, n, grid)
    fit = fit_efron(x, t, e)
    fitter, frame = _lifelines(x, t, e)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, fitter.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(
        np.sqrt(np.diag(fit.variance)), fitter.standard_errors_.to_numpy(), rtol=1e-6
    )
    statistic, p = schoenfeld_ph_test(x, t, e, fit.coef, fit.variance)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Tied events get their average rank (lifelines' "rank" breaks ties by row
        # order); without ties the two transforms are the same.
        reference = proportional_hazard_test(
            fitter, frame, time_transform=_average_event_rank
        ).summary
    expected = reference.loc[["a", "b", "c"], "test_statistic"].to_numpy()
    np.testing.assert_allclose(statistic, expected, rtol=1e-5)
    np.testing.assert_allclose(p, reference.loc[["a", "b", "c"], "p"].to_numpy(), rtol=1e-4)


def test_separation_is_reported_not_converged() -> None:
    # Every event has x = 1 and every censored patient x = 0: the MLE is at infinity.
    x = np.r_[np.ones(50), np.zeros(50)][:, None]
    t = np.r_[np.arange(1, 51), np.arange(1, 51) + 0.5].astype(float)
    e = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    assert not fit_efron(x, t, e, max_iter=30).converged


def _lifelines_fit_cox(patients: pd.DataFrame, covariates: list[str]) -> CoxPHFitter:
    """lifelines on fit_cox's design (Sokal indicators vs low), its strict tolerance."""
    x = pd.DataFrame(
        {
            "sokal_intermediate": (patients["sokal_group"] == "intermediate").to_numpy(float),
            "sokal_high": (patients["sokal_group"] == "high").to_numpy(float),
            **{c: patients[c].to_numpy(float) for c in covariates},
        }
    )
    x = x.assign(T=patients["duration_months"].to_numpy(), E=patients["event"].to_numpy(float))
    return CoxPHFitter().fit(x, "T", "E", fit_options={"precision": 1e-12, "r_precision": 1e-14})


@pytest.mark.parametrize("n", [40, 200, 800])
def test_fit_cox_small_cohorts_equal_lifelines(n: int) -> None:
    """fit_cox fits every size by the vectorised Efron path (lifelines only as the
    fallback); on the power preset's small visit-grid cohorts (heavy ties, 4 terms) its
    table equals lifelines' CoxPHFitter to 1e-6.

    Catches: the fast path wrong on small or heavily tied data (few distinct times,
    tied events), a covariate column mapped to the wrong name, a Wald p-value, CI or
    SE computed differently from lifelines'.
    """
    covariates = ["tki_years", "dmr_years", "prior_ifn"]
    # The premise is a cohort without separation: the first seed from 3 whose every
    # term varies among relapsers and among the others (a term constant in one of the
    # two has an infinite estimate; that case is the test below).
    for seed in range(3, 40):
        params = load_params(["experiment=power", f"cohort.n_patients={n}", f"seed={seed}"])
        patients = simulate_patients(params)
        terms = pd.get_dummies(patients["sokal_group"]).astype(float)
        terms = terms.join(patients[covariates].astype(float))
        event = patients["event"].to_numpy(bool)
        if all(terms[event][c].var() > 0 and terms[~event][c].var() > 0 for c in terms):
            break
    else:
        pytest.fail(f"no seed in 3-39 gives a {n}-patient cohort without separation")
    result = fit_cox(patients, replace(params.analysis, ph_test=False))
    assert result.converged, result.message
    assert result.message == ""
    fitter = _lifelines_fit_cox(patients, covariates)
    table = result.table.set_index("covariate")
    names = ["sokal_intermediate", "sokal_high", *covariates]
    np.testing.assert_allclose(table.loc[names, "coef"], fitter.params_[names], atol=1e-6)
    np.testing.assert_allclose(table.loc[names, "se"], fitter.standard_errors_[names], rtol=1e-6)
    np.testing.assert_allclose(table.loc[names, "p"], fitter.summary.loc[names, "p"], rtol=1e-5)
    assert result.fit_statistics is not None
    assert result.fit_statistics.loglik == pytest.approx(fitter.log_likelihood_, abs=1e-6)


def test_fit_cox_falls_back_to_lifelines_when_efron_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the Efron fit does not converge, fit_cox fits the model with lifelines
    instead (same table to 1e-6) rather than reporting a failure.

    Catches: a fallback that is never reached, or that reports the failed fast fit.
    """
    import tfrsim.analysis.cox as cox_module
    from tfrsim.analysis.efron import EfronFit

    params = load_params(["cohort.n_patients=300", "seed=5"])
    patients = simulate_patients(params)
    fast = fit_cox(patients, params.analysis)

    def not_converged(x: np.ndarray, *args: object, **kwargs: object) -> EfronFit:
        p = x.shape[1]
        return EfronFit(np.zeros(p), np.full((p, p), np.nan), np.nan, 50, False)

    monkeypatch.setattr(cox_module, "fit_efron", not_converged)
    fallback = fit_cox(patients, params.analysis)
    assert fast.converged
    assert fallback.converged, fallback.message
    np.testing.assert_allclose(fallback.table["coef"], fast.table["coef"], atol=1e-6)
    np.testing.assert_allclose(fallback.table["se"], fast.table["se"], rtol=1e-6)
    pd.testing.assert_frame_equal(fallback.ph_test, fast.ph_test, rtol=1e-5)


def test_fit_cox_separation_keeps_lifelines_failure_report() -> None:
    """Complete separation in a small cohort (every relapser has prior interferon, no
    censored patient has): the Efron fit does not converge, lifelines is tried and
    fails too, and fit_cox reports converged=False with a NaN table and lifelines'
    convergence warning in the message, as when lifelines fitted every small cohort.

    Catches: a drifting fast fit (coefficients at the iteration cap) reported as
    converged, or a failure reported without lifelines' diagnostics.
    """
    params = load_params(["experiment=power", "cohort.n_patients=60", "seed=2"])
    patients = simulate_patients(params).assign(prior_ifn=lambda d: d["event"].astype(float))
    result = fit_cox(patients, params.analysis)
    assert not result.converged
    assert result.message.startswith("Cox fit did not converge")
    assert len(result.message) > len("Cox fit did not converge")  # lifelines' warning text
    assert result.table[["coef", "se", "hr", "lower", "upper", "p"]].isna().all().all()
    assert result.ph_test.empty
    assert result.fit_statistics is None


def test_ph_test_does_not_depend_on_row_order() -> None:
    # Visit-grid data: heavy ties. Shuffling rows must not change the PH test.
    from tfrsim import load_params, simulate_patients
    from tfrsim.analysis import fit_cox

    params = load_params(["cohort.n_patients=3000"])
    data = simulate_patients(params)
    shuffled = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    a = fit_cox(data, params.analysis).ph_test.set_index("covariate")
    b = fit_cox(shuffled, params.analysis).ph_test.set_index("covariate")
    np.testing.assert_allclose(a["statistic"], b.loc[a.index, "statistic"], rtol=1e-9)


def efron_reference(
    x: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Efron log partial likelihood, score and information, written from the textbook
    formula one event time at a time (independent of tfrsim's vectorised sums).

    At an event time with ``m`` tied events, risk-set sums ``R`` and tie sums ``D`` of
    ``phi = exp(x.beta)`` (and of ``phi x``, ``phi x x^T``), the ``l``-th tied event
    (``l = 0..m-1``) sees the denominator ``R0 - (l/m) D0``.
    """
    order = np.argsort(t, kind="stable")
    x, t, e = x[order], t[order], e[order]
    phi = np.exp(x @ beta)
    p = x.shape[1]
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    xx = x[:, :, None] * x[:, None, :]
    # Sums over rows i..n-1 (risk set of a time starting at row i), by reverse cumsums.
    c0 = np.cumsum(phi[::-1])[::-1]
    c1 = np.cumsum((phi[:, None] * x)[::-1], axis=0)[::-1]
    c2 = np.cumsum((phi[:, None, None] * xx)[::-1], axis=0)[::-1]
    for time in np.unique(t[e]):
        first = np.searchsorted(t, time, side="left")  # risk set: rows first..n-1
        last = np.searchsorted(t, time, side="right")
        r0, r1, r2 = c0[first], c1[first], c2[first]
        rows = np.arange(first, last)
        tied = rows[e[first:last]]
        m = tied.size
        d0 = phi[tied].sum()
        d1 = (phi[tied, None] * x[tied]).sum(axis=0)
        d2 = (phi[tied, None, None] * xx[tied]).sum(axis=0)
        loglik += float(np.log(phi[tied]).sum())
        score += x[tied].sum(axis=0)
        for ell in range(m):
            f = ell / m
            den = r0 - f * d0
            mean = (r1 - f * d1) / den
            loglik -= float(np.log(den))
            score -= mean
            info += (r2 - f * d2) / den - np.outer(mean, mean)
    return loglik, score, info


def _newton_reference(x: np.ndarray, t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        _, score, info = efron_reference(x, t, e, beta)
        step = np.linalg.solve(info, score)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    loglik, _, info = efron_reference(x, t, e, beta)
    return beta, np.sqrt(np.diag(np.linalg.inv(info))), np.array(loglik)


def _ties_and_distinct(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heavy ties and many distinct times together: 40 % of the durations on a 3-month
    grid (censored rows tied with events there too), 60 % continuous."""
    x, t, e = _data(seed, n, grid=False)
    on_grid = np.random.default_rng(seed + 100).random(n) < 0.4
    t = np.where(on_grid, np.ceil(t / 3) * 3, t)
    return x, t, e


@pytest.mark.parametrize(
    ("n", "grid_share"),
    [(4000, "mixed"), (1500, "grid")],
    ids=["ties+distinct (pairwise path)", "ties only (per-time path)"],
)
def test_fit_equals_independent_efron_and_lifelines(n: int, grid_share: str) -> None:
    """Catches a wrong Efron tie correction (e.g. l/m off by one, ties counted in the
    wrong risk set, censored rows tied with events left out of the risk set) on the
    fast path used from 20,000 rows, with heavy ties and more than LOOP_MAX_TIMES
    distinct times together: coefficients, SEs and the log-likelihood equal a
    hand-written Efron partial likelihood and lifelines to ~1e-6."""
    if grid_share == "mixed":
        x, t, e = _ties_and_distinct(7, n)
        assert np.unique(t).size > LOOP_MAX_TIMES  # the pairwise-products path
        _, counts = np.unique(t[e], return_counts=True)
        assert counts.max() >= 50  # ...with heavy ties
    else:
        x, t, e = _data(8, n, grid=True)
        assert np.unique(t).size < LOOP_MAX_TIMES
    fit = fit_efron(x, t, e)
    assert fit.converged
    coef, se, loglik = _newton_reference(x, t, e)
    np.testing.assert_allclose(fit.coef, coef, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.variance)), se, rtol=1e-6)
    np.testing.assert_allclose(fit.loglik, loglik, rtol=1e-10)
    fitter, _ = _lifelines(x, t, e)
    np.testing.assert_allclose(fit.coef, fitter.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(
        np.sqrt(np.diag(fit.variance)), fitter.standard_errors_.to_numpy(), rtol=1e-6
    )


def test_reference_efron_reduces_to_breslow_without_ties() -> None:
    """Catches a broken reference: without ties Efron's likelihood is the plain Cox
    partial likelihood sum_i [x_i.b - log sum_{t_j >= t_i} exp(x_j.b)]."""
    x, t, e = _data(9, 300, grid=False)
    beta = np.array([0.3, -0.1, 0.2])
    loglik, _, _ = efron_reference(x, t, e, beta)
    eta = x @ beta
    plain = sum(eta[i] - np.log(np.exp(eta[t >= t[i]]).sum()) for i in np.flatnonzero(e))
    assert loglik == pytest.approx(plain, rel=1e-12)
