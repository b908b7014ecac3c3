"""Visit schedules: piecewise-constant intervals between molecular tests."""

import numpy as np
from numpy.typing import NDArray

from tfrsim.monitoring.params import DAYS_PER_MONTH, ScheduleParams, ScheduleSegment


def visit_months(schedule: tuple[ScheduleSegment, ...], horizon: float) -> NDArray[np.float64]:
    """Planned visit months of a piecewise schedule, up to ``horizon``.

    Parameters
    ----------
    schedule : tuple of ScheduleSegment
        Segments in increasing ``until_month``: visits every ``every_months`` until
        ``until_month``; the last segment's interval continues to the horizon.
    horizon : float
        Last month of follow-up.

    Returns
    -------
    numpy.ndarray
        Strictly increasing visit months in ``(0, horizon]``.

    Examples
    --------
    >>> from tfrsim.monitoring.params import ScheduleParams, ScheduleSegment as S
    >>> visit_months((S(3, 1), S(9, 3)), 12).tolist()
    [1.0, 2.0, 3.0, 6.0, 9.0, 12.0]
    """
    months: list[float] = []
    t = 0.0
    for i, seg in enumerate(schedule):
        end = horizon if i == len(schedule) - 1 else min(seg.until_month, horizon)
        # Integer step counts avoid drift from repeated float addition.
        n_steps = int(np.floor((end - t) / seg.every_months + 1e-9))
        months.extend(t + seg.every_months * np.arange(1, n_steps + 1))
        t += seg.every_months * n_steps
    return np.round(np.asarray(months, dtype=float), 9)


def sample_visit_months(
    params: ScheduleParams, n: int, horizon: float, *, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Actual test months of ``n`` patients: planned visits, jittered, some missed.

    Parameters
    ----------
    params : ScheduleParams
    n : int
        Number of patients.
    horizon : float
        Last month of follow-up; visits are planned up to it.
    rng : numpy.random.Generator
        The schedule stream.

    Returns
    -------
    float array, shape (n, v)
        Month of each planned visit ``v`` (columns follow the plan, so months increase
        along a row); NaN where the visit was missed.
    """
    planned = visit_months(params.segments, horizon)
    months = np.broadcast_to(planned, (n, planned.size)).copy()
    if params.jitter_days == 0 and params.missed_visit_prob == 0:
        return months
    # Patient-major draws: patient i's visits do not depend on how many patients follow.
    u = rng.random((n, planned.size, 2))
    months += (2 * u[..., 0] - 1) * params.jitter_days / DAYS_PER_MONTH
    # Validation keeps the jitter below half the shortest interval, so order holds;
    # a first visit cannot fall before the stop.
    np.maximum(months, 0.0, out=months)
    months[u[..., 1] < params.missed_visit_prob] = np.nan
    return months
