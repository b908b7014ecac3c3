"""Trial-level statistics of a simulated cohort, as the trials reported them."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.analysis import survival_at
from tfrsim.analysis.descriptive import interpolated_median


@dataclass(frozen=True)
class TrialStatistics:
    """What one simulated trial shows.

    Attributes
    ----------
    months : float array, shape (k,)
        Milestone months.
    survival : float array, shape (k,)
        Kaplan–Meier MRFS at ``months``.
    median_relapse_month : float
        Median month of relapse among relapsers, interpolated on the cumulative
        distribution of relapse months so that it varies continuously with the model
        (a raw median of visit months jumps from one visit to the next).
    median_relapse_se : float
        Its standard error, ``sqrt(1 / (4 m)) / f`` with ``m`` relapses and ``f`` the
        density of relapse months near the median (share within ±1 month, / 2).
    share_relapses_after : dict
        Month -> share of relapses after that month.
    share_relapses_by : dict
        Month -> share of relapses at or before that month.
    n_events : int
    events_without_mmr_loss : int
        Events before latent loss of MMR (:func:`no_mmr_loss_events`), among the
        ``rule_events``.
    rule_events : int
        Events judged by the trial's own rule (those dated after a protocol amendment;
        all events without one).
    nonrelapsers_with_positive : float
        Share of patients without an event who had a positive test.
    """

    months: NDArray[np.float64]
    survival: NDArray[np.float64]
    median_relapse_month: float
    median_relapse_se: float
    share_relapses_after: dict[float, float]
    share_relapses_by: dict[float, float]
    n_events: int
    events_without_mmr_loss: int = 0
    nonrelapsers_with_positive: float = float("nan")
    rule_events: int = 0


def trial_statistics(
    patients: pd.DataFrame,
    months: list[float],
    after: tuple[float, ...] = (),
    by: tuple[float, ...] = (),
    rule_from_calendar_month: float = 0.0,
) -> TrialStatistics:
    """Compute the reported statistics of one simulated trial.

    ``rule_from_calendar_month``: the calendar month of a protocol amendment
    (:class:`~tfrsim.monitoring.params.AmendmentParams`); the events without loss of
    MMR are counted among events whose trigger test (``trigger_month``, the test that
    completed the rule) falls from then on, those of the trial's own rule, however
    the events are dated (``event_at``).
    """
    relapses = patients.loc[patients["event"], "duration_months"].to_numpy(dtype=float)
    # An event belongs to the rule that completed it: the one in force at its
    # trigger test (the confirming test of a pair), whatever month it is dated at.
    # Patients without an event count in neither rule (their trigger month is NaN).
    fired = patients["entry_month"].to_numpy(dtype=float) + _trigger_months(patients)
    own_rule = patients[fired >= rule_from_calendar_month]
    without, rule_events = no_mmr_loss_events(own_rule)
    median = interpolated_median(relapses)
    n = max(relapses.size, 1)
    return TrialStatistics(
        months=np.asarray(months, dtype=float),
        survival=survival_at(
            patients["duration_months"].to_numpy(dtype=float),
            patients["event"].to_numpy(dtype=bool),
            months,
        ),
        median_relapse_month=median,
        median_relapse_se=_median_se(relapses, median),
        share_relapses_after={m: float(np.sum(relapses > m) / n) for m in after},
        share_relapses_by={m: float(np.sum(relapses <= m) / n) for m in by},
        n_events=int(relapses.size),
        events_without_mmr_loss=without,
        nonrelapsers_with_positive=nonrelapsers_with_positive(patients),
        rule_events=rule_events,
    )


def _median_se(values: NDArray[np.float64], median: float) -> float:
    """Asymptotic SE of a median, with the density estimated within ±1 month of it."""
    if values.size == 0:
        return float("nan")
    density = np.mean(np.abs(values - median) <= 1.0) / 2.0
    return float(np.sqrt(0.25 / values.size) / density) if density > 0 else float("inf")


def no_mmr_loss_events(patients: pd.DataFrame) -> tuple[int, int]:
    """(Events without latent loss of MMR by their trigger test, events).

    Under the STIM rule an event can be a confirmed >= 1-log rise while the true level
    is still below MMR; the Spanish series counted such restarts apart (spain2018).
    A restart follows the test that completed the rule (``trigger_month``, the
    confirming test of a pair), so MMR lost by then counts as an MMR loss even when
    the event is dated at the pair's first test (``event_at=first``).
    """
    event = patients["event"].to_numpy(dtype=bool)
    latent = patients["relapse_month"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        no_mmr = event & ~(latent <= _trigger_months(patients))
    return int(no_mmr.sum()), int(event.sum())


def _trigger_months(patients: pd.DataFrame) -> NDArray[np.float64]:
    """The month of each event's trigger test (NaN without an event); a table without
    the column, written before it existed, is taken as dated at the trigger test
    (``duration_months``)."""
    column = "trigger_month" if "trigger_month" in patients else "duration_months"
    return patients[column].to_numpy(dtype=float)


def nonrelapsers_with_positive(patients: pd.DataFrame) -> float:
    """Share of patients without an event who had at least one positive test."""
    quiet = ~patients["event"].to_numpy(dtype=bool)
    if not quiet.any():
        return float("nan")
    return float(np.mean(patients["n_positive"].to_numpy()[quiet] > 0))
