"""Follow-up: staggered accrual, analysis cut-off and dropout (censoring)."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tfrsim.monitoring.params import FollowUpParams


@dataclass(frozen=True)
class FollowUp:
    """When each patient stopped and how long they could be followed.

    Attributes
    ----------
    entry_month : float, shape (n,)
        Calendar month of stopping, counted from the first patient's stop.
    censor_month : float, shape (n,)
        Months after the patient's own stop at which follow-up ends (analysis
        cut-off or dropout, whichever comes first).
    dropped_out : bool, shape (n,)
        Follow-up ended by dropout rather than by the cut-off.
    """

    entry_month: NDArray[np.float64]
    censor_month: NDArray[np.float64]
    dropped_out: NDArray[np.bool_]


def horizon_months(params: FollowUpParams) -> float:
    """Longest possible follow-up of a patient (the first one to stop), in months."""
    return params.followup_months + params.accrual_months


def sample_follow_up(params: FollowUpParams, n: int, *, rng: np.random.Generator) -> FollowUp:
    """Sample entry, cut-off and dropout.

    Stops are uniform over ``[0, accrual_months]``; the analysis cut-off is
    ``followup_months`` after the last possible stop, so every patient can be followed
    at least ``followup_months``. Dropout (loss to follow-up, death in remission) is
    exponential at ``dropout_rate_per_month``.

    Parameters
    ----------
    params : FollowUpParams
    n : int
    rng : numpy.random.Generator
        The follow-up stream.

    Returns
    -------
    FollowUp
    """
    u = rng.random((n, 2)).T  # patient-major: patient i's draws do not depend on n
    entry = params.accrual_months * u[0]
    administrative = horizon_months(params) - entry
    if params.dropout_rate_per_month > 0:
        dropout = -np.log1p(-u[1]) / params.dropout_rate_per_month
    else:
        dropout = np.full(n, np.inf)
    return FollowUp(
        entry_month=entry,
        censor_month=np.minimum(administrative, dropout),
        dropped_out=dropout < administrative,
    )
