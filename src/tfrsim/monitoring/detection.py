"""Relapse detection at visits (first version: loss of MMR on the true level)."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tfrsim.config.params import MonitoringParams
from tfrsim.disease.course import Course
from tfrsim.monitoring.follow_up import FollowUp
from tfrsim.monitoring.schedule import visit_months


@dataclass(frozen=True)
class Observation:
    """What the trial records for each patient: the survival data.

    Attributes
    ----------
    duration_months : float, shape (n,)
        Month of the detecting visit for an event, else of the last visit attended
        (0 if none).
    event : bool, shape (n,)
        Relapse detected within follow-up.
    n_visits : int64, shape (n,)
        Visits attended up to and including the event (or the end of follow-up).
    """

    duration_months: NDArray[np.float64]
    event: NDArray[np.bool_]
    n_visits: NDArray[np.int64]


def detect_loss_of_mmr(
    course: Course, follow_up: FollowUp, params: MonitoringParams, horizon: float
) -> Observation:
    """Detect relapse at the first visit where the true BCR-ABL exceeds the threshold.

    Parameters
    ----------
    course : Course
        Latent course of ``n`` patients.
    follow_up : FollowUp
        Censoring of the same patients.
    params : MonitoringParams
        Schedule and MMR threshold (% IS).
    horizon : float
        Longest possible follow-up (months); visits are planned up to it.

    Returns
    -------
    Observation
    """
    planned = visit_months(params.schedule, horizon)
    attended = planned[None, :] <= follow_up.censor_month[:, None]  # (n, v)
    months = np.where(attended, planned[None, :], np.nan)
    positive = course.bcr_abl_pct(months) > params.mmr_threshold_pct  # NaN compares False
    event = np.asarray(positive.any(axis=1), dtype=bool)
    first = positive.argmax(axis=1)
    n_attended = attended.sum(axis=1)
    last_attended = np.where(n_attended > 0, planned[np.maximum(n_attended - 1, 0)], 0.0)
    duration = np.where(event, planned[first], last_attended)
    n_visits = np.where(event, first + 1, n_attended).astype(np.int64)
    return Observation(duration_months=duration, event=event, n_visits=n_visits)
