"""Design matrix of the Cox model from the patient table."""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tfrsim.analysis.columns import sokal_codes
from tfrsim.analysis.params import COX_COVARIATES
from tfrsim.cohort.params import SOKAL_GROUPS

logger = logging.getLogger(__name__)

#: Covariates the Cox model accepts (defined with the parameters it validates).
VALID_COVARIATES: tuple[str, ...] = COX_COVARIATES
#: Reference level of ``sokal_group``; the other levels become indicators.
SOKAL_REFERENCE: str = SOKAL_GROUPS[0]


@dataclass(frozen=True)
class Design:
    """Numeric covariates ready for fitting.

    Parameters
    ----------
    terms : tuple of str
        Every model term the requested covariates expand to, in order (what the
        coefficient table reports, fitted or not).
    matrix : pandas.DataFrame
        Float columns of the terms kept, shape ``(n_kept_rows, n_kept_terms)``;
        its index selects the rows of the input table used.
    dropped : dict
        Term -> reason it was left out of the fit.
    n_incomplete : int
        Rows left out because a kept covariate was missing.
    """

    terms: tuple[str, ...]
    matrix: pd.DataFrame
    dropped: dict[str, str]
    n_incomplete: int


def expand_terms(covariates: tuple[str, ...]) -> tuple[str, ...]:
    """Model terms of ``covariates`` (``sokal_group`` becomes its indicators).

    Raises
    ------
    ValueError
        If a name is not in :data:`VALID_COVARIATES` or is repeated.
    """
    unknown = [c for c in covariates if c not in VALID_COVARIATES]
    if unknown:
        raise ValueError(
            f"params.cox_covariates contains unknown covariate(s) {unknown}; "
            f"valid covariates are {list(VALID_COVARIATES)}"
        )
    repeated = sorted({c for c in covariates if covariates.count(c) > 1})
    if repeated:
        raise ValueError(f"params.cox_covariates repeats covariate(s) {repeated}")
    terms: list[str] = []
    for name in covariates:
        if name == "sokal_group":
            terms.extend(f"sokal_{g}" for g in SOKAL_GROUPS if g != SOKAL_REFERENCE)
        else:
            terms.append(name)
    return tuple(terms)


def _raw_columns(data: pd.DataFrame, covariates: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Float column of each term (NaN where missing), by term."""
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise ValueError(
            f"data is missing column(s) {missing} named in params.cox_covariates {list(covariates)}"
        )
    columns: dict[str, np.ndarray] = {}
    for name in covariates:
        values = data[name]
        if name == "sokal_group":
            coded = sokal_codes(values)
            if coded is not None:  # categorical: indicators from its codes
                codes, categories = coded
                unknown = codes < 0
                for g in SOKAL_GROUPS:
                    if g != SOKAL_REFERENCE:
                        hit = codes == categories.index(g) if g in categories else codes < -1
                        columns[f"sokal_{g}"] = np.where(unknown, np.nan, hit.astype(float))
                continue
            labels = values.astype("string")
            for g in SOKAL_GROUPS:
                if g != SOKAL_REFERENCE:
                    columns[f"sokal_{g}"] = (labels == g).astype(float).to_numpy(dtype=float)
        else:
            # Booleans become 0/1 indicators; anything else must already be numeric.
            numeric = pd.to_numeric(values, errors="raise").astype(float)
            columns[name] = numeric.to_numpy(dtype=float)
    return columns


def build_design(data: pd.DataFrame, covariates: tuple[str, ...]) -> Design:
    """Build the Cox design matrix, dropping terms that cannot be estimated.

    A term that is entirely missing (e.g. ``sokal_score`` in trial mode) or
    constant over the rows used (an empty Sokal group, nobody with prior IFN) has
    no estimable coefficient and is dropped with its reason. Rows with a missing
    value in a kept term are left out (complete-case analysis).

    Built with numpy and one DataFrame at the end (a frame per step copied the
    10^6 x 3 design four times, 0.34 s on a run's first call, 2 December 2026).
    """
    terms = expand_terms(covariates)
    raw = _raw_columns(data, covariates)
    dropped: dict[str, str] = {}
    for term in terms:
        if np.isnan(raw[term]).all():
            dropped[term] = "all values missing"
    kept = [t for t in terms if t not in dropped]
    complete = np.ones(len(data), dtype=bool)
    for term in kept:
        complete &= ~np.isnan(raw[term])
    n_incomplete = int((~complete).sum())
    every_row = n_incomplete == 0
    used = {t: raw[t] if every_row else raw[t][complete] for t in kept}
    n_rows = len(data) - n_incomplete
    indicators = [t for t in kept if t.startswith("sokal_")]
    in_groups = np.zeros(n_rows)
    for term in indicators:
        in_groups += used[term]
    if indicators and n_rows > 0 and bool((in_groups == 1).all()):
        # Without reference patients the indicators sum to 1, which is collinear
        # with the baseline hazard: no contrast versus the reference is estimable.
        for term in indicators:
            dropped[term] = f"Sokal reference group {SOKAL_REFERENCE!r} is empty"
    for term in kept:
        if term in dropped:
            continue
        values = used[term]
        if values.size == 0 or np.all(values == values[0]):
            reason = f"constant (all {values[0]:g})" if values.size else "no complete rows"
            if term.startswith("sokal_"):
                group = term[len("sokal_") :]
                reason += (
                    f": Sokal group {group!r} is empty"
                    if values.size and values[0] == 0
                    else f": every patient is in Sokal group {group!r}"
                )
            dropped[term] = reason
    fitted = [t for t in kept if t not in dropped]
    # One (n, p) block, column by column (as the frame would consolidate it).
    block = np.empty((len(fitted), n_rows))
    for i, term in enumerate(fitted):
        block[i] = used[term]
    index = data.index if every_row else data.index[complete]
    matrix = pd.DataFrame(block.T, index=index, columns=pd.Index(fitted, dtype=object), copy=False)
    for term, reason in dropped.items():
        logger.info("Cox covariate %s dropped: %s", term, reason)
    return Design(terms=terms, matrix=matrix, dropped=dropped, n_incomplete=n_incomplete)
