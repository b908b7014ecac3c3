"""Cox proportional-hazards model of time to molecular relapse.

Every model is fitted by the package's vectorised Efron fit
(:func:`tfrsim.analysis.efron.fit_efron`), whatever the size, and by lifelines'
``CoxPHFitter`` only when that fit does not converge (separation, collinearity), so
failures keep lifelines' diagnostics. lifelines was the fit below 20 000 rows until
2 December 2026; measured then (cProfile, one ``experiment=power`` job of 40
replicates x 200 patients): ~30 ms of pandas work per lifelines fit (57 ms on a loaded
machine), 1.6 s of the job's 5.8 s, against ~2 ms for the Efron fit, whose estimates
are also at the maximum (Newton step ~1e-16) where lifelines' stopping rule left them
~5e-7 short. The tests compare the two to 1e-6.
"""

import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # lifelines is imported when a model is fitted (fast `tfrsim --help`)
    from lifelines import CoxPHFitter

from tfrsim.analysis.columns import check_survival_columns, durations_events
from tfrsim.analysis.covariates import build_design, expand_terms
from tfrsim.analysis.cox_stats import CoxFitStatistics, cox_fit_statistics
from tfrsim.analysis.efron import fit_efron, prepare
from tfrsim.analysis.estimands import estimand
from tfrsim.analysis.params import AnalysisParams
from tfrsim.analysis.pvalues import log10_p_normal, norm_ppf, norm_sf
from tfrsim.analysis.registry import WARNINGS_LOCK, Analysis, register_analysis
from tfrsim.analysis.zph import cox_zph
from tfrsim.jsonsafe import records

logger = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = (
    "covariate",
    "coef",
    "se",
    "hr",
    "lower",
    "upper",
    "p",
    "log10_p",
)
#: The PH test table: one row per model term (``sokal_group`` is one 2-df test) and
#: ``GLOBAL``; R survival >= 3.0's ``cox.zph`` score test.
PH_COLUMNS: tuple[str, ...] = ("covariate", "statistic", "df", "p", "log10_p")
#: From this many rows lifelines' Efron "batch" algorithm is used; its automatic
#: choice picks the slow per-row algorithm on large, heavily tied visit-grid data.
#: Both algorithms maximise the same likelihood, so results do not depend on it.
BATCH_MODE_MIN_ROWS: int = 1_000
#: Rows below which the fit is left to lifelines: none. Every model is fitted by
#: :func:`tfrsim.analysis.efron.fit_efron` (the same Efron likelihood, vectorised over
#: tied times; lifelines' coefficients to 1e-6 in the tests) and lifelines takes over
#: only when it does not converge, so failures keep lifelines' diagnostics. Measured
#: (2 December 2026): lifelines' per-fit overhead is ~30 ms on 200 patients (57 ms on
#: a loaded machine), 28 % of an ``experiment=power`` job (1.6 s of 5.8 s for 40
#: fits), against ~2 ms for the Efron fit; and lifelines is slower at every size.
EFRON_MIN_ROWS: int = 0
#: Fragments of the lifelines warnings raised *after* Newton–Raphson stops that mean
#: the maximum was not reached (the other ConvergenceWarnings are pre-fit advice).
_NOT_CONVERGED_MARKERS: tuple[str, ...] = (
    "failed to converge",
    "norm(delta) is still high",
    "suspiciously close to 0",
)
_DURATION, _EVENT = "duration_months", "event"
#: From this many rows, given 2 threads, the concordance (with the other fit
#: statistics) runs beside the PH test: the two are the longest steps after the fit
#: (~0.45 and ~0.12 s at 10^6 rows, measured 2 December 2026), and the concordance's
#: two sweeps run side by side (~0.12 s each; they end the analysis stage).
CONCURRENT_MIN_ROWS: int = 100_000
#: Newton–Raphson stopping rule. lifelines' default (relative log-likelihood change
#: < 1e-9, as R's coxph) stops with coefficients ~5e-6 from the maximum; a few more
#: quadratically converging steps make them accurate to ~1e-9 at negligible cost.
_FIT_OPTIONS: dict[str, float] = {"precision": 1e-12, "r_precision": 1e-14}


@dataclass(frozen=True)
class CoxResult:
    """Cox proportional-hazards fit (Efron ties).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model term requested (``sokal_group`` expands to
        ``sokal_intermediate`` and ``sokal_high`` versus low), columns
        ``covariate`` (str), ``coef`` (log hazard ratio per unit, units of the
        covariate: years, log10 depth, 0/1 indicator), ``se``, ``hr``, ``lower``,
        ``upper`` (HR ``1 - alpha`` Wald CI), ``p`` (Wald). NaN for terms that
        were dropped or when the fit failed.
    converged : bool
        False when the fit raised, did not reach the maximum, or gave non-finite
        estimates.
    message : str
        Errors and lifelines warnings met while fitting or testing; empty when fine.
    n : int
        Patients used in the fit.
    n_events : int
        Relapses among them.
    ph_test : pandas.DataFrame
        Proportional-hazards score test of R survival >= 3.0's ``cox.zph`` (time
        transform ``AnalysisParams.ph_transform``, ``km`` by default), one row per
        model term (``sokal_group`` is one test on its 2 indicators) and ``GLOBAL``:
        columns ``covariate`` (the term), ``statistic`` (chi-squared), ``df``, ``p``,
        ``log10_p``; empty with these columns when not run or when it failed.
    dropped : dict
        Term -> reason it was left out of the fit (constant, all missing).
    alpha : float
        1 - confidence level of the HR intervals.
    """

    table: pd.DataFrame
    converged: bool
    message: str
    n: int
    n_events: int
    ph_test: pd.DataFrame
    dropped: dict[str, str] = field(default_factory=dict)
    alpha: float = 0.05
    fit_statistics: CoxFitStatistics | None = None
    ph_transform: str = "km"

    def to_frame(self) -> pd.DataFrame:
        """Return the coefficient table (a copy of :attr:`table`)."""
        return self.table.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """``cox.csv`` and ``ph_test.csv``."""
        return {"cox": self.table, "ph_test": self.ph_test}

    def summary(self) -> dict[str, Any]:
        """``cox`` (list of {covariate, hr, lower, upper, p}), ``cox_converged``,
        ``cox_message`` and ``ph_test`` (list of {covariate, statistic, p})."""
        return {
            "cox": records(self.table, ["covariate", "hr", "lower", "upper", "p", "log10_p"]),
            "cox_converged": bool(self.converged),
            "cox_message": str(self.message),
            "cox_fit": None if self.fit_statistics is None else self.fit_statistics.summary(),
            "ph_test": records(self.ph_test, list(PH_COLUMNS)),
            "ph_test_transform": self.ph_transform,
        }

    def estimands(self) -> list[dict[str, Any]]:
        """One ``hr`` row per term and one ``ph_test`` row per tested term."""
        rows = [
            estimand(
                "cox",
                "hr",
                covariate=c["covariate"],
                value=c["hr"],
                lower=c["lower"],
                upper=c["upper"],
                p=c["p"],
                log10_p=c["log10_p"],
            )
            for c in self.table.to_dict("records")
        ]
        rows += [
            estimand(
                "cox",
                "ph_test",
                covariate=t["covariate"],
                p=t["p"],
                log10_p=t["log10_p"],
                statistic=t["statistic"],
            )
            for t in self.ph_test.to_dict("records")
        ]
        f = self.fit_statistics
        if f is not None:
            c = f.concordance
            rows += [
                estimand("cox", "lr_test", statistic=f.lr_statistic, p=f.p, log10_p=f.log10_p),
                estimand(
                    "cox",
                    "concordance",
                    value=c.concordance,
                    lower=c.concordance - _z(self.alpha) * c.se,
                    upper=c.concordance + _z(self.alpha) * c.se,
                ),
                estimand("cox", "loglik", value=f.loglik),
                estimand("cox", "aic", value=f.aic),
            ]
        return rows


def _z(alpha: float) -> float:
    return float(norm_ppf(1 - alpha / 2))


def _empty_ph() -> pd.DataFrame:
    return _EMPTY_PH.copy()


_EMPTY_PH = pd.DataFrame(
    {
        "covariate": pd.Series(dtype=object),
        "statistic": pd.Series(dtype=float),
        "df": pd.Series(dtype=float),
        "p": pd.Series(dtype=float),
        "log10_p": pd.Series(dtype=float),
    }
)


def _nan_table(terms: tuple[str, ...]) -> pd.DataFrame:
    table = pd.DataFrame({"covariate": list(terms)})
    for column in TABLE_COLUMNS[1:]:
        table[column] = np.nan
    return table


def _warning_text(caught: list[warnings.WarningMessage]) -> list[str]:
    return [" ".join(str(w.message).split()) for w in caught]


def _fit_once(
    matrix: pd.DataFrame, alpha: float, options: dict[str, float] | None
) -> tuple["CoxPHFitter", list[str], bool]:
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning

    batch = True if len(matrix) >= BATCH_MODE_MIN_ROWS else None
    with WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fitter = CoxPHFitter(alpha=alpha).fit(
            matrix,
            duration_col=_DURATION,
            event_col=_EVENT,
            batch_mode=batch,
            fit_options=None if options is None else dict(options),
        )
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    # Re-issue anything that is not about convergence so it is not silently lost.
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    texts = _warning_text(convergence)
    converged = not any(m in t for t in texts for m in _NOT_CONVERGED_MARKERS)
    return fitter, texts, converged


def _fit(matrix: pd.DataFrame, alpha: float) -> tuple["CoxPHFitter", list[str], bool]:
    """Fit lifelines' Cox model; return the fitter, warning texts and convergence.

    The strict stopping rule is tried first; should rounding keep it from being met,
    the fit is repeated with lifelines' default rule rather than reported as failed.
    """
    fitter, texts, converged = _fit_once(matrix, alpha, _FIT_OPTIONS)
    if converged:
        return fitter, texts, converged
    fallback, fallback_texts, fallback_converged = _fit_once(matrix, alpha, None)
    if fallback_converged:
        note = "converged only at lifelines' default tolerance"
        return fallback, [*fallback_texts, note], True
    return fitter, texts, converged


def _table(
    coef: np.ndarray, se: np.ndarray, names: list[str], terms: tuple[str, ...], alpha: float
) -> pd.DataFrame:
    """Coefficient table of the fitted terms ``names``, reindexed to every term."""
    z = float(norm_ppf(1 - alpha / 2))
    # A fit drifting to separation overflows here; its table is then replaced by NaN.
    with np.errstate(over="ignore"):
        fitted = {
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "lower": np.exp(coef - z * se),
            "upper": np.exp(coef + z * se),
            # Wald test, as lifelines: chi-squared on 1 df of (coef / se)^2.
            "p": 2 * norm_sf(np.abs(coef / se)),
            "log10_p": log10_p_normal(coef / se),
        }
    # Reindexed to every term (NaN for the dropped ones) with numpy, not pandas.
    position = {name: i for i, name in enumerate(names)}
    rows = np.array([position.get(term, -1) for term in terms], dtype=np.intp)
    found = rows >= 0
    table: dict[str, np.ndarray] = {"covariate": np.array(list(terms), dtype=object)}
    for column in TABLE_COLUMNS[1:]:
        values = np.full(len(terms), np.nan)
        values[found] = np.asarray(fitted[column], dtype=float)[rows[found]]
        table[column] = values
    return pd.DataFrame(table)


def _ph_test(
    x: np.ndarray,
    durations: np.ndarray,
    events: np.ndarray,
    fit: "_Fitted",
    names: list[str],
    transform: str,
) -> pd.DataFrame:
    """R's ``cox.zph`` score test per term (Sokal indicators together) and globally."""
    terms: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        term = "sokal_group" if name.startswith("sokal_") and name != "sokal_score" else name
        terms.setdefault(term, []).append(i)
    z = cox_zph(
        durations,
        events,
        x,
        fit.coef,
        terms,
        transform=transform,  # type: ignore[arg-type]
        ties=fit.ties,
    )
    return pd.DataFrame(
        {
            "covariate": list(z.terms),
            "statistic": z.chisq,
            "df": z.df.astype(float),
            "p": z.p,
            "log10_p": z.log10_p,
        }
    )


@dataclass(frozen=True)
class _Fitted:
    """Coefficients (p,) and covariance (p, p) of a converged fit; ``ties`` is the
    sorted data when the fast path fitted it (reused by the PH test)."""

    coef: np.ndarray
    variance: np.ndarray
    ties: Any = None
    logliks: tuple[float, float] | None = None  # at coef and at 0, on ``ties``


def _fit_fast(x: np.ndarray, durations: np.ndarray, events: np.ndarray) -> _Fitted | None:
    """Fit by :func:`fit_efron`; None if it did not converge (or raised)."""
    try:
        with np.errstate(all="ignore"):  # overflow while drifting to separation
            ties = prepare(x, durations, events)
            fit = fit_efron(x, durations, events, ties=ties)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        logger.info("fast Efron fit failed (%s); falling back to lifelines", exc)
        return None
    if not fit.converged or not np.isfinite(fit.variance).all():
        logger.info("fast Efron fit did not converge; falling back to lifelines")
        return None
    return _Fitted(fit.coef, fit.variance, ties, (fit.loglik, fit.loglik_null))


def fit_cox(data: pd.DataFrame, params: AnalysisParams, *, threads: int = 1) -> CoxResult:
    """Fit a Cox proportional-hazards model of MRFS on ``params.cox_covariates``.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table, one row per patient, with ``duration_months``, ``event``,
        ``sokal_group`` and every covariate named.
    params : AnalysisParams
        Uses ``cox_covariates``, ``alpha`` and ``ph_test``.
    threads : int, default 1
        With 2 or more and at least :data:`CONCURRENT_MIN_ROWS` rows, the fit
        statistics (concordance) and the PH test run side by side in two threads, and
        the concordance's two sweeps side by side too (results never depend on it).

    Returns
    -------
    CoxResult
        Never raises on a failed fit: ``converged`` is False, the table holds NaN
        and ``message`` says why.

    Raises
    ------
    ValueError
        If a covariate name is unknown (the message lists the valid names) or its
        column is missing from ``data``.
    """
    check_survival_columns(data)
    terms = expand_terms(tuple(params.cox_covariates))
    # Positional index, so design rows map back to durations whatever the caller's index
    # (a copy of the whole table otherwise: skipped when the index is already 0..n-1).
    index = data.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        data = data.reset_index(drop=True)
    design = build_design(data, tuple(params.cox_covariates))
    durations, events = durations_events(data)
    rows = design.matrix.index.to_numpy()
    kept_durations = durations[rows]
    kept_events = events[rows].astype(bool)
    n, n_events = int(rows.size), int(kept_events.sum())
    notes: list[str] = []
    if design.n_incomplete:
        notes.append(f"{design.n_incomplete} row(s) with missing covariates excluded")

    def failed(reason: str) -> CoxResult:
        message = "; ".join([reason, *notes])
        logger.warning("Cox model not estimated: %s", message)
        return CoxResult(
            table=_nan_table(terms),
            converged=False,
            message=message,
            n=n,
            n_events=n_events,
            ph_test=_empty_ph(),
            dropped=design.dropped,
            alpha=params.alpha,
        )

    if design.matrix.shape[1] == 0:
        return failed(f"no estimable covariates (requested {list(params.cox_covariates)})")
    if n_events == 0:
        return failed("no events: the Cox model is not estimable")
    x = design.matrix.to_numpy(dtype=float)
    fitted = _fit_fast(x, kept_durations, kept_events) if n >= EFRON_MIN_ROWS else None
    converged = fitted is not None
    if fitted is None:
        frame = design.matrix.assign(
            **{_DURATION: kept_durations, _EVENT: kept_events.astype(float)}
        )
        try:
            fitter, warning_texts, converged = _fit(frame, params.alpha)
        except Exception as exc:  # lifelines: ConvergenceError, LinAlgError, ValueError, ...
            return failed(f"Cox fit failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
        notes.extend(dict.fromkeys(warning_texts))
        fitted = _Fitted(
            fitter.params_.to_numpy(dtype=float), fitter.variance_matrix_.to_numpy(dtype=float)
        )
    names = [str(c) for c in design.matrix.columns]
    table = _table(fitted.coef, np.sqrt(np.diag(fitted.variance)), names, terms, params.alpha)
    estimated = table[table["covariate"].isin(design.matrix.columns)]
    if converged and not np.isfinite(estimated[["coef", "se"]].to_numpy()).all():
        converged = False
        notes.append("non-finite coefficient or standard error")
    if not converged:
        # Estimates from a fit that stopped short of the maximum (typically
        # separation, drifting to +-infinity) are not interpretable: report none.
        return failed("Cox fit did not converge")

    def fit_statistics() -> tuple[CoxFitStatistics | None, str]:
        try:
            return cox_fit_statistics(
                kept_durations,
                kept_events,
                x,
                fitted.coef,
                ties=fitted.ties,
                logliks=fitted.logliks,
                threads=threads if concurrent else 1,
            ), ""
        except Exception as exc:  # reported, never fatal
            return None, f"fit statistics failed: {type(exc).__name__}: {exc}"

    concurrent = threads >= 2 and n >= CONCURRENT_MIN_ROWS
    side_by_side = concurrent and params.ph_test
    pool = ThreadPoolExecutor(max_workers=1) if side_by_side else None
    pending = pool.submit(fit_statistics) if pool is not None else None
    ph = _empty_ph()
    if params.ph_test:
        try:
            ph = _ph_test(x, kept_durations, kept_events, fitted, names, params.ph_transform)
        except Exception as exc:  # the test re-fits pieces of the model; never fatal
            notes.append(f"PH test failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    if pool is not None and pending is not None:
        statistics, failure = pending.result()
        pool.shutdown()
    else:
        statistics, failure = fit_statistics()
    if failure:
        notes.append(failure)
    return CoxResult(
        table=table,
        converged=converged,
        message="; ".join(notes),
        n=n,
        n_events=n_events,
        ph_test=ph,
        dropped=design.dropped,
        alpha=params.alpha,
        fit_statistics=statistics,
        ph_transform=params.ph_transform,
    )


register_analysis(Analysis("cox", fit_cox, cost=10, threaded=True))
