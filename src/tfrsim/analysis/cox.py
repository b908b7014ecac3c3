"""Cox proportional-hazards model of time to molecular relapse."""

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceWarning
from lifelines.statistics import proportional_hazard_test

from tfrsim.analysis.columns import check_survival_columns, durations_events
from tfrsim.analysis.covariates import build_design, expand_terms
from tfrsim.config.params import AnalysisParams

logger = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = ("covariate", "coef", "se", "hr", "lower", "upper", "p")
PH_COLUMNS: tuple[str, ...] = ("covariate", "statistic", "p")
#: From this many rows lifelines' Efron "batch" algorithm is used; its automatic
#: choice picks the slow per-row algorithm on large, heavily tied visit-grid data.
#: Both algorithms maximise the same likelihood, so results do not depend on it.
BATCH_MODE_MIN_ROWS: int = 1_000
#: Fragments of the lifelines warnings raised *after* Newton–Raphson stops that mean
#: the maximum was not reached (the other ConvergenceWarnings are pre-fit advice).
_NOT_CONVERGED_MARKERS: tuple[str, ...] = (
    "failed to converge",
    "norm(delta) is still high",
    "suspiciously close to 0",
)
_DURATION, _EVENT = "duration_months", "event"
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
        Proportional-hazards test on scaled Schoenfeld residuals with rank time
        transform, columns ``covariate``, ``statistic`` (chi-squared, 1 df),
        ``p``; empty with these columns when not run or when it failed.
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

    def to_frame(self) -> pd.DataFrame:
        """Return the coefficient table (a copy of :attr:`table`)."""
        return self.table.copy()


def _empty_ph() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "covariate": pd.Series(dtype=object),
            "statistic": pd.Series(dtype=float),
            "p": pd.Series(dtype=float),
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
) -> tuple[CoxPHFitter, list[str], bool]:
    batch = True if len(matrix) >= BATCH_MODE_MIN_ROWS else None
    with warnings.catch_warnings(record=True) as caught:
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


def _fit(matrix: pd.DataFrame, alpha: float) -> tuple[CoxPHFitter, list[str], bool]:
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


def _table(fitter: CoxPHFitter, terms: tuple[str, ...]) -> pd.DataFrame:
    coef = fitter.params_
    ci = fitter.confidence_intervals_
    fitted = pd.DataFrame(
        {
            "coef": coef,
            "se": fitter.standard_errors_,
            "hr": np.exp(coef),
            "lower": np.exp(ci.iloc[:, 0]),
            "upper": np.exp(ci.iloc[:, 1]),
            "p": fitter.summary["p"],
        }
    )
    fitted.index = fitted.index.astype(str)
    table = fitted.reindex(list(terms))
    table.index.name = "covariate"
    return table.reset_index()[list(TABLE_COLUMNS)].astype({c: float for c in TABLE_COLUMNS[1:]})


def _ph_test(fitter: CoxPHFitter, frame: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        test = proportional_hazard_test(fitter, frame, time_transform="rank")
    summary = test.summary
    return pd.DataFrame(
        {
            "covariate": [str(i) for i in summary.index],
            "statistic": summary["test_statistic"].to_numpy(dtype=float),
            "p": summary["p"].to_numpy(dtype=float),
        }
    )


def fit_cox(data: pd.DataFrame, params: AnalysisParams) -> CoxResult:
    """Fit a Cox proportional-hazards model of MRFS on ``params.cox_covariates``.

    Parameters
    ----------
    data : pandas.DataFrame
        Patient table, one row per patient, with ``duration_months``, ``event``,
        ``sokal_group`` and every covariate named.
    params : AnalysisParams
        Uses ``cox_covariates``, ``alpha`` and ``ph_test``.

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
    # Positional index, so design rows map back to durations whatever the caller's index.
    data = data.reset_index(drop=True)
    design = build_design(data, tuple(params.cox_covariates))
    durations, events = durations_events(data)
    rows = design.matrix.index.to_numpy()
    frame = design.matrix.assign(**{_DURATION: durations[rows], _EVENT: events[rows].astype(float)})
    n, n_events = len(frame), int(frame[_EVENT].sum())
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
    try:
        fitter, warning_texts, converged = _fit(frame, params.alpha)
    except Exception as exc:  # lifelines: ConvergenceError, LinAlgError, ValueError, ...
        return failed(f"Cox fit failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    notes.extend(dict.fromkeys(warning_texts))
    table = _table(fitter, terms)
    fitted = table[table["covariate"].isin(design.matrix.columns)]
    if converged and not np.isfinite(fitted[["coef", "se"]].to_numpy()).all():
        converged = False
        notes.append("non-finite coefficient or standard error")
    if not converged:
        # Estimates from a fit that stopped short of the maximum (typically
        # separation, drifting to +-infinity) are not interpretable: report none.
        return failed("Cox fit did not converge")

    ph = _empty_ph()
    if params.ph_test:
        try:
            ph = _ph_test(fitter, frame)
        except Exception as exc:  # the test re-fits pieces of the model; never fatal
            notes.append(f"PH test failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
    return CoxResult(
        table=table,
        converged=converged,
        message="; ".join(notes),
        n=n,
        n_events=n_events,
        ph_test=ph,
        dropped=design.dropped,
        alpha=params.alpha,
    )
