"""Visit schedules: piecewise-constant intervals between molecular tests."""

import numpy as np
from numpy.typing import NDArray

from tfrsim.config.params import ScheduleSegment


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
    >>> from tfrsim.config.params import ScheduleSegment as S
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
