"""Schedules, follow-up and the observation stage on hand-built courses."""

import numpy as np
import pytest

from tfrsim.disease.course import Course
from tfrsim.monitoring import (
    FollowUp,
    observe,
    sample_follow_up,
    sample_visit_months,
    visit_months,
)
from tfrsim.monitoring.observe import left_align
from tfrsim.monitoring.params import (
    AssayParams,
    FollowUpParams,
    MonitoringParams,
    RuleParams,
    ScheduleParams,
    ScheduleSegment,
)
from tfrsim.random import stream

STIM = (ScheduleSegment(12, 1), ScheduleSegment(24, 2), ScheduleSegment(10_000, 3))
#: An assay so sensitive and quiet that measured = true to ~1e-6 relative.
EXACT = AssayParams(abl_median_copies=1e14, abl_sigma_log10=0.0, noise_sd_log10=0.0)


def test_stim_schedule() -> None:
    months = visit_months(STIM, 36)
    expected = [*range(1, 13), 14, 16, 18, 20, 22, 24, 27, 30, 33, 36]
    assert months.tolist() == [float(m) for m in expected]


def test_schedule_stops_at_horizon_and_handles_fractions() -> None:
    months = visit_months((ScheduleSegment(1, 0.25), ScheduleSegment(3, 0.5)), 2.2)
    assert months.tolist() == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


def test_jitter_and_missed_visits() -> None:
    params = ScheduleParams(segments=STIM, jitter_days=7.0, missed_visit_prob=0.2)
    n = 20_000
    months = sample_visit_months(params, n, 36, rng=stream("schedule", seed=1, replicate=0))
    planned = visit_months(STIM, 36)
    offset_days = (months - planned) * 365.25 / 12
    assert np.nanmax(np.abs(offset_days)) <= 7.0 + 1e-9
    # Uniform jitter on [-7, 7] days: mean 0, SD 7 / sqrt(3); 4 SE of the mean.
    se = 7 / np.sqrt(3) / np.sqrt(np.isfinite(offset_days).sum())
    assert abs(np.nanmean(offset_days)) < 4 * se
    missed = np.isnan(months).mean()
    assert abs(missed - 0.2) < 4 * np.sqrt(0.2 * 0.8 / months.size)
    # Visits keep their order within each patient (missed visits skipped).
    for row in months[:500]:
        done = row[~np.isnan(row)]
        assert np.all(np.diff(done) > 0)


def test_left_align_packs_tests_keeping_order() -> None:
    done = np.array([[True, False, True, False, True], [False, False, True, True, False]])
    order = left_align(done)
    values = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    packed = np.take_along_axis(values, order, axis=1)
    assert packed[0, :3].tolist() == [1, 3, 5]
    assert packed[1, :2].tolist() == [8, 9]


def _course(onsets: list[float], rate: float = np.log(10), residual: float = 1e-7) -> Course:
    """One clone per patient (NaN onset = no clone), starting at 0.001 %, x10 per month."""
    onset = np.asarray(onsets, dtype=float)
    has = ~np.isnan(onset)
    cross = onset + np.log(0.1 / 0.001) / rate
    return Course(
        relapse_month=np.where(has, cross, np.nan),
        n_clones=has.astype(np.int64),
        residual_pct=np.full(onset.size, residual),
        clone_patient=np.flatnonzero(has).astype(np.int64),
        clone_onset_month=onset[has],
        clone_rate_per_month=np.full(int(has.sum()), rate),
        initial_pct=0.001,
        plateau_pct=100.0,
    )


def _follow(censor: list[float]) -> FollowUp:
    c = np.asarray(censor, dtype=float)
    none = np.zeros(c.size, dtype=bool)
    return FollowUp(entry_month=np.zeros_like(c), censor_month=c, dropped_out=none)


def _observe(course: Course, censor: list[float], rule: RuleParams, *, missed: float = 0.0):
    params = MonitoringParams(
        schedule=ScheduleParams(segments=STIM, missed_visit_prob=missed),
        assay=EXACT,
        rule=rule,
    )
    return observe(
        course,
        _follow(censor),
        params,
        36.0,
        schedule_rng=stream("schedule", seed=3, replicate=0),
        assay_rng=stream("assay", seed=3, replicate=0),
    )


def test_loss_of_mmr_at_first_visit_above_mmr() -> None:
    # Clone x10/month from 0.001 %: crosses 0.1 % two months after onset.
    # onset 0.5 -> crossing 2.5 -> first test above MMR at month 3.
    # onset 13.2 -> crossing 15.2 -> tests at 14, 16 -> relapse at 16.
    # onset 30 -> crossing 32 but follow-up ends at 31.5 -> censored at last test (30).
    # no clone -> censored at the last test within 36 months.
    obs = _observe(
        _course([0.5, 13.2, 30.0, np.nan]), [36, 36, 31.5, 36], RuleParams("loss_of_mmr")
    )
    assert obs.event.tolist() == [True, True, False, False]
    assert obs.duration_months.tolist() == [3.0, 16.0, 30.0, 36.0]
    assert obs.n_tests.tolist() == [3, 14, 20, 22]
    # Monitoring stops at relapse: no test after the triggering one is kept.
    assert np.nanmax(obs.month[0]) == 3.0


def test_twister_fires_on_two_consecutive_positives_before_mmr() -> None:
    # onset 0.5 -> level 0.001 * 10^(t - 0.5): month 1 ~0.0032 %, month 2 ~0.032 %
    # (both detectable), month 3 ~0.32 % (> MMR). TWISTER fires at month 2 (confirming),
    # or month 1 when dated at the first test; loss of MMR only at month 3.
    course = _course([0.5])
    twister = _observe(course, [36], RuleParams("twister"))
    first = _observe(course, [36], RuleParams("twister", event_at="first"))
    mmr = _observe(course, [36], RuleParams("loss_of_mmr"))
    assert twister.duration_months.tolist() == [2.0]
    assert twister.trigger_month.tolist() == [2.0]
    assert first.duration_months.tolist() == [1.0]
    assert first.trigger_month.tolist() == [2.0]
    assert mmr.duration_months.tolist() == [3.0]


def test_censoring_before_the_first_visit_gives_zero_duration() -> None:
    obs = _observe(_course([0.1]), [0.5], RuleParams("loss_of_mmr"))
    assert obs.event.tolist() == [False]
    assert obs.duration_months.tolist() == [0.0]
    assert obs.n_tests.tolist() == [0]


def test_missed_visits_are_skipped_by_consecutive_rules() -> None:
    # With every planned visit after month 1 missed but one, the confirming test is
    # the next test actually done: the pair still confirms.
    course = _course([np.nan], residual=0.01)  # always detectable, below MMR
    obs = _observe(course, [36], RuleParams("twister"), missed=0.9)
    done = obs.month[0][~np.isnan(obs.month[0])]
    assert obs.event[0]
    # Fired at the second test done, whatever its planned slot.
    assert obs.trigger_month[0] == done[1]


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


def test_no_dropout() -> None:
    params = FollowUpParams(followup_months=60, accrual_months=0, dropout_rate_per_month=0.0)
    fu = sample_follow_up(params, 100, rng=stream("follow_up", seed=1, replicate=0))
    assert np.all(fu.censor_month == 60)
    assert not fu.dropped_out.any()


@pytest.mark.parametrize("rule", ["loss_of_mmr", "stim", "twister", "loss_of_mr4"])
def test_event_months_lie_on_the_visit_grid(rule: str) -> None:
    course = _course([0.5, 5.3, 20.2, np.nan, 2.7])
    obs = _observe(course, [36, 36, 36, 36, 4.0], RuleParams(rule))
    grid = set(visit_months(STIM, 36).tolist()) | {0.0}
    assert set(obs.duration_months.tolist()) <= grid


def test_a_horizon_a_whole_number_of_intervals_away_is_a_visit() -> None:
    """Catches a visit lost to float rounding in the step count (e.g. floor division
    ``//`` instead of ``/`` before the 1e-9 tolerance): 3.3 / 1.1 is 2.9999999999999996
    in binary, yet visits every 1.1 months to month 3.3 are 1.1, 2.2 and 3.3."""
    assert visit_months((ScheduleSegment(10_000, 1.1),), 3.3).tolist() == [1.1, 2.2, 3.3]
    assert visit_months((ScheduleSegment(6.6, 0.6), ScheduleSegment(10_000, 3)), 9.6).size == 12


@pytest.mark.parametrize(
    ("event_at", "dated", "previous"), [("confirming", 2.0, 1.0), ("first", 1.0, 0.0)]
)
def test_previous_test_is_the_one_before_the_dated_test(
    event_at: str, dated: float, previous: float
) -> None:
    """Catches an interval-censoring lower bound taken from the wrong test (the test
    before the first positive when the relapse is dated at the confirming one, or the
    reverse): TWISTER on the clone of ``test_twister_fires...`` (positives at months 1
    and 2) dates the relapse at 2 with the previous test at 1, or at 1 with no earlier
    test (0, the stop)."""
    obs = _observe(_course([0.5, 0.1]), [36, 0.5], RuleParams("twister", event_at=event_at))
    assert obs.duration_months[0] == dated
    assert obs.previous_test_month[0] == previous
    assert np.isnan(obs.previous_test_month[1])  # censored before any test: no event


def test_visits_frame_lists_exactly_the_tests_done() -> None:
    """Catches a visits table built from the wrong mask (missed or post-relapse visits
    listed, tests done left out, a patient's rows given another's id): with missed
    visits, one row per test done, in patient then visit order, each with its own
    month and result."""
    obs = _observe(
        _course([0.5, 13.2, np.nan]), [36, 36, 20], RuleParams("loss_of_mmr"), missed=0.3
    )
    ids = np.array([101, 102, 103], dtype=np.int64)
    frame = obs.visits_frame(ids)
    assert len(frame) == int(obs.n_tests.sum())
    for k, pid in enumerate(ids):
        mine = frame[frame["patient_id"] == pid]
        done = np.flatnonzero(~np.isnan(obs.month[k]))
        assert mine["visit"].tolist() == done.tolist()
        assert mine["month"].tolist() == obs.month[k, done].tolist()
        assert mine["detected"].tolist() == obs.detected[k, done].tolist()
    assert not frame["month"].isna().any()
    part = obs.visits_frame(ids, rows=slice(1, 3))
    assert part["patient_id"].unique().tolist() == [102, 103]


def test_jitter_applies_without_missed_visits() -> None:
    """Catches the jitter skipped when no visit is missed (the shortcut for an exact
    schedule taken too often): with 7 days of jitter and no missed visit, offsets are
    uniform on [-7, 7] days, variance 49 / 3 (closed form), checked within 4 SE of the
    sample variance (SE from the uniform's fourth moment: a^4 sqrt(4 / (45 n)))."""
    params = ScheduleParams(segments=STIM, jitter_days=7.0, missed_visit_prob=0.0)
    months = sample_visit_months(params, 5_000, 36, rng=stream("schedule", seed=2, replicate=0))
    offset_days = ((months - visit_months(STIM, 36)) * 365.25 / 12).ravel()
    assert not np.isnan(offset_days).any()
    a, n = 7.0, offset_days.size
    se_var = a**4 * np.sqrt(4 / (45 * n))
    assert abs(np.var(offset_days) - a**2 / 3) < 4 * se_var
