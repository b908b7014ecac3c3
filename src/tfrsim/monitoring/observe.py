"""The observation stage: tests at visits, the assay, and the relapse rule."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.disease.course import Course
from tfrsim.monitoring.assay import Measurements, measure, sensitivity_mr
from tfrsim.monitoring.follow_up import FollowUp
from tfrsim.monitoring.params import MonitoringParams
from tfrsim.monitoring.rules import apply_protocol
from tfrsim.monitoring.schedule import sample_visit_months


@dataclass(frozen=True)
class Observation:
    """What the study records for ``n`` patients followed over ``v`` planned visits.

    Per-patient arrays have shape (n,); per-test arrays have shape (n, v) with one
    column per planned visit and NaN (or False / 0) where no test was done (missed,
    after follow-up ended, or after the relapse rule fired).

    Attributes
    ----------
    duration_months : float, (n,)
        Month of relapse (the triggering or first test, per ``rule.event_at``) for an
        event; otherwise month of the last test done (0 if none).
    event : bool, (n,)
        The relapse rule fired within follow-up.
    trigger_month : float, (n,)
        Month of the test that completed the rule (NaN if none).
    n_tests, n_positive : int64, (n,)
        Tests done and positive tests, up to the relapse or the end of follow-up.
    first_positive_month : float, (n,)
        Month of the first positive test (NaN if none).
    previous_test_month : float, (n,)
        For an event, the month of the test before the one the relapse is dated at
        (0 if none: the interval starts at the stop), so the relapse is known to lie
        in ``(previous_test_month, duration_months]`` (interval censoring); NaN
        without an event.
    month, true_pct, measured_pct, sensitivity_mr : float, (n, v)
        Test month, true and reported BCR-ABL1 (% IS), and the MR level the sample
        could show (the last three computed when read: a run reads them only for the
        patients whose tests it keeps, see :meth:`visits_frame`).
    detected : bool, (n, v)
        Positive test.
    """

    duration_months: NDArray[np.float64]
    event: NDArray[np.bool_]
    trigger_month: NDArray[np.float64]
    n_tests: NDArray[np.int64]
    n_positive: NDArray[np.int64]
    first_positive_month: NDArray[np.float64]
    previous_test_month: NDArray[np.float64]
    month: NDArray[np.float64]
    detected: NDArray[np.bool_]
    #: True level and assay results at every planned slot (tests after the relapse,
    #: or not done, included): masked to the tests done when read.
    slot_true_pct: NDArray[np.float64] = field(repr=False)
    slot_tests: Measurements = field(repr=False)

    def _done(self, rows: slice) -> NDArray[np.bool_]:
        return ~np.isnan(self.month[rows])

    def _masked(self, values: NDArray[np.float64], rows: slice) -> NDArray[np.float64]:
        return np.where(self._done(rows), values[rows], np.nan)

    @property
    def true_pct(self) -> NDArray[np.float64]:
        """True BCR-ABL1 (% IS) of each test, (n, v); NaN where no test."""
        return self._masked(self.slot_true_pct, slice(None))

    @property
    def measured_pct(self) -> NDArray[np.float64]:
        """Reported BCR-ABL1 (% IS) of each test, (n, v); NaN where no test."""
        return self._masked(self.slot_tests.measured_pct, slice(None))

    @property
    def sensitivity_mr(self) -> NDArray[np.float64]:
        """MR level each sample could show, (n, v); NaN where no test."""
        return self._sensitivity(slice(None))

    def _sensitivity(self, rows: slice) -> NDArray[np.float64]:
        tests = self.slot_tests
        level = sensitivity_mr(
            tests.abl_copies[rows], tests.measured_pct[rows], tests.min_bcr_copies
        )
        return np.where(self._done(rows), level, np.nan)

    def visits_frame(
        self, patient_id: NDArray[np.int64], rows: slice = slice(None)
    ) -> pd.DataFrame:
        """Tidy table of the tests done, one row per test.

        Parameters
        ----------
        patient_id : int64 array, shape (n,)
            Identifier of each row's patient.
        rows : slice, default all
            Patients to include.

        Returns
        -------
        pandas.DataFrame
            Columns patient_id, visit (planned-visit index), month, true_pct,
            measured_pct, detected, sensitivity_mr.
        """
        month = self.month[rows]
        i, j = np.nonzero(~np.isnan(month))
        return pd.DataFrame(
            {
                "patient_id": patient_id[rows][i],
                "visit": j.astype(np.int64),
                "month": month[i, j],
                "true_pct": self._masked(self.slot_true_pct, rows)[i, j],
                "measured_pct": self._masked(self.slot_tests.measured_pct, rows)[i, j],
                "detected": self.detected[rows][i, j],
                "sensitivity_mr": self._sensitivity(rows)[i, j],
            }
        )


def left_align(done: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Column order that moves each row's tests to the left, keeping their order.

    Rules compare *consecutive tests*; a missed visit must not break a pair, so each
    row's tests are packed together before a rule is applied.
    """
    return np.argsort(~done, axis=1, kind="stable")


def observe(
    course: Course,
    follow_up: FollowUp,
    params: MonitoringParams,
    horizon: float,
    *,
    schedule_rng: np.random.Generator,
    assay_rng: np.random.Generator,
) -> Observation:
    """Test every patient at its visits and apply the relapse rule.

    Changing the rule (or its amendment) leaves every test result unchanged (common
    random numbers). Changing the schedule or the missed-visit probability changes
    which samples are tested, and with them the assay draws of later samples in the
    block (:func:`~tfrsim.monitoring.assay.measure`): the patients and their latent
    courses stay the same, the test results do not.

    Parameters
    ----------
    course : Course
        Latent course of ``n`` patients.
    follow_up : FollowUp
        Censoring of the same patients.
    params : MonitoringParams
        Schedule, assay and rule.
    horizon : float
        Longest possible follow-up (months); visits are planned up to it.
    schedule_rng, assay_rng : numpy.random.Generator
        The schedule and assay streams.

    Returns
    -------
    Observation
    """
    n = len(course)
    month = sample_visit_months(params.schedule, n, horizon, rng=schedule_rng)
    month[month > follow_up.censor_month[:, None]] = np.nan
    true_pct = course.bcr_abl_pct(month)
    tests = measure(true_pct, params.assay, rng=assay_rng)

    done = ~np.isnan(month)
    if bool((done[:, 1:] <= done[:, :-1]).all()):
        # Every row's tests already come first (no missed visit): left_align is the
        # identity, so the rule reads the arrays as they are.
        packed_month, packed_measured, packed_detected = month, tests.measured_pct, tests.detected
    else:
        order = left_align(done)
        packed_month = np.take_along_axis(month, order, axis=1)
        packed_measured = np.take_along_axis(tests.measured_pct, order, axis=1)
        packed_detected = np.take_along_axis(tests.detected, order, axis=1)
    outcome = apply_protocol(
        packed_measured, packed_detected, params, packed_month, follow_up.entry_month
    )
    rows = np.arange(n)
    trigger_month = np.where(outcome.fired, packed_month[rows, outcome.trigger], np.nan)
    first_month = np.where(outcome.fired, packed_month[rows, outcome.first], np.nan)
    dated = outcome.first if params.rule.event_at == "first" else outcome.trigger
    before = np.where(dated >= 1, packed_month[rows, np.maximum(dated - 1, 0)], 0.0)

    # Monitoring for TFR ends at relapse: drop tests after the triggering one.
    after = month > trigger_month[:, None]  # NaN trigger compares False
    month[after] = np.nan
    done &= ~after
    detected = tests.detected & done
    n_tests = done.sum(axis=1)
    # month is NaN exactly where no test was done: fmax skips NaN (no -inf fill needed).
    last_month = np.where(n_tests > 0, np.fmax.reduce(month, axis=1), 0.0)
    any_positive = detected.any(axis=1)
    first_positive = np.where(any_positive, month[rows, detected.argmax(axis=1)], np.nan)
    relapse_month = first_month if params.rule.event_at == "first" else trigger_month
    previous_test = np.where(outcome.fired, before, np.nan)
    return Observation(
        duration_months=np.where(outcome.fired, relapse_month, last_month),
        event=outcome.fired,
        trigger_month=trigger_month,
        n_tests=n_tests.astype(np.int64),
        n_positive=detected.sum(axis=1).astype(np.int64),
        first_positive_month=first_positive,
        previous_test_month=previous_test,
        month=month,
        detected=detected,
        slot_true_pct=true_pct,
        slot_tests=tests,
    )
