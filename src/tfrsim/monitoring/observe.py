"""The observation stage: tests at visits, the assay, and the relapse rule."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tfrsim.disease.course import Course
from tfrsim.monitoring.assay import Measurements, measure, sensitivity_mr
from tfrsim.monitoring.follow_up import FollowUp
from tfrsim.monitoring.params import MonitoringParams
from tfrsim.monitoring.rules import RuleOutcome, apply_protocol, with_rows
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
    true_pct, tests, head = _test(course, follow_up, params, month, assay_rng)
    packed_month, packed_measured, packed_detected = _packed(month, tests)
    entry = follow_up.entry_month
    if head is None:
        outcome = apply_protocol(packed_measured, packed_detected, params, packed_month, entry)
    else:
        # A relapse among the first slots' tests is the relapse on the whole series
        # (their tests come first in it, so the head's indices hold): the rule runs
        # again only on the series in which it did not fire there.
        rest = np.flatnonzero(~head.fired)
        part = apply_protocol(
            packed_measured[rest], packed_detected[rest], params, packed_month[rest], entry[rest]
        )
        outcome = with_rows(head, rest, part)
    rows = np.arange(n)
    trigger_month = np.where(outcome.fired, packed_month[rows, outcome.trigger], np.nan)
    first_month = np.where(outcome.fired, packed_month[rows, outcome.first], np.nan)
    dated = outcome.first if params.rule.event_at == "first" else outcome.trigger
    before = np.where(dated >= 1, packed_month[rows, np.maximum(dated - 1, 0)], 0.0)

    # Monitoring for TFR ends at relapse: drop tests after the triggering one.
    after = month > trigger_month[:, None]  # NaN trigger compares False
    month[after] = np.nan
    done = ~np.isnan(month)
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


#: Visit slots simulated for every patient; the later ones are not simulated for
#: patients certainly relapsed within them (:func:`_test`).
EARLY_SLOTS = 12


def _packed(
    month: NDArray[np.float64], tests: Measurements
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Test months, results and detections with each row's tests moved to the left."""
    done = ~np.isnan(month)
    if bool((done[:, 1:] <= done[:, :-1]).all()):
        # Every row's tests already come first (no missed visit): left_align is the
        # identity, so the rule reads the arrays as they are.
        return month, tests.measured_pct, tests.detected
    order = left_align(done)
    return (
        np.take_along_axis(month, order, axis=1),
        np.take_along_axis(tests.measured_pct, order, axis=1),
        np.take_along_axis(tests.detected, order, axis=1),
    )


def _test(
    course: Course,
    follow_up: FollowUp,
    params: MonitoringParams,
    month: NDArray[np.float64],
    assay_rng: np.random.Generator,
) -> tuple[NDArray[np.float64], Measurements, RuleOutcome | None]:
    """True levels and results at every planned slot that can matter, and the rule's
    outcome on the first slots' tests (None when there are no later slots).

    Every patient is tested at the first :data:`EARLY_SLOTS` slots and the rule is
    applied to those. The later slots are not simulated for patients it called
    relapsed there whose true level was at least ten times the MMR threshold at two of
    those tests. A relapse found among the first slots is the relapse: a rule fires at
    the earliest test that completes it, on the tests done so far, and the tests in the
    first slots come first in every patient's series. Their later slots are left
    untested (month NaN in ``month``, which is changed in place): monitoring for TFR
    ends at relapse anyway. Most relapses come in the first months and regrow far past
    MMR within them, so the later slots of most relapsers are never simulated
    (benchmarks/README.md).
    """
    slots = month.shape[1]
    early_rng, late_rng = assay_rng.spawn(2)
    if slots <= EARLY_SLOTS:
        true_pct = course.bcr_abl_pct(month)
        return true_pct, measure(true_pct, params.assay, rng=early_rng), None
    head = month[:, :EARLY_SLOTS]
    true_head = course.bcr_abl_pct(head)
    tests_head = measure(true_head, params.assay, rng=early_rng)
    packed = _packed(head, tests_head)
    called = apply_protocol(packed[1], packed[2], params, packed[0], follow_up.entry_month)
    # Stop only where the latent course makes every rule fire: two tests at ten times
    # the MMR threshold or more (hundreds of copies: positive, and above MMR, for sure).
    # The stopped set then depends on the course and the schedule, not on the rule, so
    # the later slots of every other patient get the same draws under every rule
    # (common random numbers); the rule's own verdict keeps the stop exact whatever
    # the rule.
    with np.errstate(invalid="ignore"):
        high = true_head >= 10.0 * params.rule.mmr_threshold_pct
    stop = (high.sum(axis=1) >= 2) & called.fired
    later = np.flatnonzero(~stop & ~np.isnan(month[:, EARLY_SLOTS:]).all(axis=1))
    month[stop, EARLY_SLOTS:] = np.nan
    tail = month[later, EARLY_SLOTS:]
    true_tail = course.take(later).bcr_abl_pct(tail)
    tests_tail = measure(true_tail, params.assay, rng=late_rng)

    true_pct = np.full(month.shape, np.nan)
    true_pct[:, :EARLY_SLOTS] = true_head
    true_pct[later, EARLY_SLOTS:] = true_tail
    abl = np.zeros(month.shape, dtype=tests_head.abl.dtype)
    bcr = np.zeros(month.shape, dtype=np.int64)
    detected = np.zeros(month.shape, dtype=bool)
    measured = np.full(month.shape, np.nan)
    for full, head_part, tail_part in (
        (abl, tests_head.abl, tests_tail.abl),
        (bcr, tests_head.bcr_copies, tests_tail.bcr_copies),
        (detected, tests_head.detected, tests_tail.detected),
        (measured, tests_head.measured_pct, tests_tail.measured_pct),
    ):
        full[:, :EARLY_SLOTS] = head_part
        full[later, EARLY_SLOTS:] = tail_part
    tests = Measurements(
        abl=abl,
        bcr_copies=bcr,
        detected=detected,
        measured_pct=measured,
        min_bcr_copies=tests_head.min_bcr_copies,
    )
    return true_pct, tests, called
