"""Schedules, follow-up and loss-of-MMR detection on hand-built courses."""

import numpy as np
import pytest

from tfrsim.config.params import FollowUpParams, MonitoringParams, ScheduleSegment
from tfrsim.disease.course import Course
from tfrsim.monitoring import FollowUp, detect_loss_of_mmr, sample_follow_up, visit_months
from tfrsim.random import stream

STIM = (ScheduleSegment(12, 1), ScheduleSegment(24, 2), ScheduleSegment(10_000, 3))


def test_stim_schedule() -> None:
    months = visit_months(STIM, 36)
    expected = [*range(1, 13), 14, 16, 18, 20, 22, 24, 27, 30, 33, 36]
    assert months.tolist() == [float(m) for m in expected]


def test_schedule_stops_at_horizon_and_handles_fractions() -> None:
    months = visit_months((ScheduleSegment(1, 0.25), ScheduleSegment(3, 0.5)), 2.2)
    assert months.tolist() == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


def _course(onsets: list[float], rate: float = np.log(10)) -> Course:
    """One clone per patient (NaN onset = no clone), starting at 0.001 %, x10 per month."""
    onset = np.asarray(onsets, dtype=float)
    has = ~np.isnan(onset)
    cross = onset + np.log(0.1 / 0.001) / rate
    return Course(
        relapse_month=np.where(has, cross, np.nan),
        n_clones=has.astype(np.int64),
        residual_pct=np.full(onset.size, 1e-4),
        clone_patient=np.flatnonzero(has).astype(np.int64),
        clone_onset_month=onset[has],
        clone_rate_per_month=np.full(int(has.sum()), rate),
        initial_pct=0.001,
        plateau_pct=100.0,
    )


def _follow(censor: list[float]) -> FollowUp:
    c = np.asarray(censor, dtype=float)
    return FollowUp(
        entry_month=np.zeros_like(c), censor_month=c, dropped_out=np.zeros(c.size, bool)
    )


def test_detection_at_first_visit_above_mmr() -> None:
    # Clone x10/month from 0.001 %: crosses 0.1 % two months after onset.
    # onset 0.5 -> crossing 2.5 -> first visit above MMR is month 3.
    # onset 13.2 -> crossing 15.2 -> visits 14, 16 -> detected at 16.
    # onset 30 -> crossing 32 but censored at 31.5 -> censored at last visit (30).
    # no clone -> censored at last visit within 36 months.
    params = MonitoringParams(schedule=STIM, mmr_threshold_pct=0.1)
    obs = detect_loss_of_mmr(
        _course([0.5, 13.2, 30.0, np.nan]), _follow([36, 36, 31.5, 36]), params, horizon=36
    )
    assert obs.event.tolist() == [True, True, False, False]
    assert obs.duration_months.tolist() == [3.0, 16.0, 30.0, 36.0]
    assert obs.n_visits.tolist() == [3, 14, 20, 22]


def test_level_exactly_at_threshold_is_not_loss_of_mmr() -> None:
    # Loss of MMR means BCR-ABL > 0.1 %: a level exactly at 0.1 % does not trigger,
    # the next representable level above does (at the first visit).
    params = MonitoringParams(schedule=STIM, mmr_threshold_pct=0.1)
    course = _course([np.nan, np.nan])
    course = Course(**{**course.__dict__, "residual_pct": np.array([0.1, np.nextafter(0.1, 1.0)])})
    obs = detect_loss_of_mmr(course, _follow([36, 36]), params, horizon=36)
    assert obs.event.tolist() == [False, True]
    assert obs.duration_months.tolist() == [36.0, 1.0]


def test_censored_before_first_visit_has_zero_duration() -> None:
    params = MonitoringParams(schedule=STIM, mmr_threshold_pct=0.1)
    obs = detect_loss_of_mmr(_course([0.1]), _follow([0.5]), params, horizon=36)
    assert obs.event.tolist() == [False]
    assert obs.duration_months.tolist() == [0.0]
    assert obs.n_visits.tolist() == [0]


def test_follow_up_bounds_and_dropout_rate() -> None:
    params = FollowUpParams(followup_months=60, accrual_months=30, dropout_rate_per_month=0.01)
    n = 50_000
    fu = sample_follow_up(params, n, rng=stream("follow_up", seed=1, replicate=0))
    assert fu.entry_month.min() >= 0
    assert fu.entry_month.max() <= 30
    assert np.all(fu.censor_month <= 90 - fu.entry_month + 1e-12)
    # Everyone is followed >= 60 months unless they drop out.
    assert np.all(fu.censor_month[~fu.dropped_out] >= 60)
    # P(dropout before admin censoring) = E[1 - exp(-0.01 (90 - entry))], entry ~ U(0, 30)
    # = 1 - (exp(-0.6) - exp(-0.9)) / (0.01 * 30).
    p = 1 - (np.exp(-0.6) - np.exp(-0.9)) / 0.3
    assert abs(fu.dropped_out.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("rate", [0.0])
def test_no_dropout(rate: float) -> None:
    params = FollowUpParams(followup_months=60, accrual_months=0, dropout_rate_per_month=rate)
    fu = sample_follow_up(params, 100, rng=stream("follow_up", seed=1, replicate=0))
    assert np.all(fu.censor_month == 60)
    assert not fu.dropped_out.any()
