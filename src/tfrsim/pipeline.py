"""The stage chain: cohort -> disease course -> follow-up -> observation -> patient table.

:func:`simulate_block` is the whole chain for one block of patients, each stage
drawing from its own named random stream. How blocks are grouped, threaded and
streamed to disk, and where the analysis runs, is :mod:`tfrsim.execution`.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tfrsim.cohort.sample import Cohort, sample_cohort
from tfrsim.disease.course import Course
from tfrsim.disease.registry import simulate_course
from tfrsim.monitoring.follow_up import FollowUp, horizon_months, sample_follow_up
from tfrsim.monitoring.observe import Observation, observe
from tfrsim.random import stream
from tfrsim.study import StudyParams

#: Columns of ``patients`` that depend only on the cohort and disease streams: a run
#: that changes only the schedule, the assay or the relapse rule leaves them identical.
LATENT_COLUMNS: tuple[str, ...] = ("n_clones", "relapse_month", "residual_pct")


@dataclass(frozen=True)
class Simulation:
    """Simulated patients and, for some of them, every test.

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient: covariates (see :class:`~tfrsim.cohort.Cohort`), latent
        course (``n_clones``; ``relapse_month``, NaN if the patient never relapses;
        ``residual_pct``), follow-up (``entry_month``, ``censor_month``,
        ``dropped_out``), observation (``n_tests``, ``n_positive``,
        ``first_positive_month``) and the survival data (``duration_months``, ``event``).
    visits : pandas.DataFrame
        One row per test of the kept patients, see
        :meth:`~tfrsim.monitoring.Observation.visits_frame`.
    seconds : dict of str to float
        Thread time of each stage (see :data:`STAGES`); not part of the results.
    """

    patients: pd.DataFrame
    visits: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


#: Stages timed in :attr:`Simulation.seconds`: ``simulate`` (cohort, disease course,
#: follow-up, and the patient and test tables) and ``observe`` (the monitoring:
#: schedule, assay, relapse rule).
STAGES: tuple[str, ...] = ("simulate", "observe")


def patient_columns(
    cohort: Cohort, course: Course, follow_up: FollowUp, observed: Observation
) -> dict[str, Any]:
    """The columns of :func:`patient_table`, by name in its order (arrays, and the
    categoricals of :meth:`~tfrsim.cohort.Cohort.columns`)."""
    return {
        **cohort.columns(),
        "n_clones": course.n_clones,
        "relapse_month": course.relapse_month,
        "residual_pct": course.residual_pct,
        "entry_month": follow_up.entry_month,
        "censor_month": follow_up.censor_month,
        "dropped_out": follow_up.dropped_out,
        "n_tests": observed.n_tests,
        "n_positive": observed.n_positive,
        "first_positive_month": observed.first_positive_month,
        "previous_test_month": observed.previous_test_month,
        "trigger_month": observed.trigger_month,
        "duration_months": observed.duration_months,
        "event": observed.event,
    }


def patient_table(
    cohort: Cohort, course: Course, follow_up: FollowUp, observed: Observation
) -> pd.DataFrame:
    """Join the stage outputs of one block into one row per patient."""
    return pd.DataFrame(patient_columns(cohort, course, follow_up, observed))


@dataclass(frozen=True)
class Block:
    """One simulated block whose patient table is not built yet.

    :func:`tfrsim.execution.simulate` copies the columns straight into the study's
    arrays: a table per block is ~1 ms of pandas work under the GIL, and reading its
    columns back as much again (10^4 patients, measured 2 December 2026).

    Attributes
    ----------
    columns : dict of str to array
        The columns of :func:`patient_table`, in its order (see :func:`patient_columns`).
    visits : pandas.DataFrame
        The kept tests, as in :class:`Simulation`.
    seconds : dict of str to float
        Thread time of each stage, as in :class:`Simulation`.
    """

    columns: dict[str, Any]
    visits: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.columns["patient_id"])

    def simulation(self) -> Simulation:
        """The block with its patient table."""
        return Simulation(pd.DataFrame(self.columns), self.visits, self.seconds)


def simulate_block(
    params: StudyParams, block: int, start: int, stop: int, keep_visits: int | None = 0
) -> Simulation:
    """Simulate patients ``start..stop-1`` (random block ``block``).

    ``keep_visits``: keep the tests of patients with index below it (None: all).
    """
    return simulate_block_columns(params, block, start, stop, keep_visits).simulation()


def simulate_block_columns(
    params: StudyParams, block: int, start: int, stop: int, keep_visits: int | None = 0
) -> Block:
    """:func:`simulate_block` without building the patient table (see :class:`Block`)."""

    def rng(name: str) -> np.random.Generator:
        return stream(name, seed=params.seed, replicate=params.replicate, block=block)

    t0 = time.perf_counter()
    cohort = sample_cohort(params.cohort, stop - start, rng=rng("cohort"), first_id=start)
    course = simulate_course(cohort, params.model_name, params.model, rng=rng("disease"))
    follow_up = sample_follow_up(params.follow_up, len(cohort), rng=rng("follow_up"))
    t1 = time.perf_counter()
    observed = observe(
        course,
        follow_up,
        params.monitoring,
        horizon_months(params.follow_up),
        schedule_rng=rng("schedule"),
        assay_rng=rng("assay"),
    )
    t2 = time.perf_counter()
    n_kept = stop - start if keep_visits is None else max(0, min(stop, keep_visits) - start)
    visits = observed.visits_frame(cohort.patient_id, slice(0, n_kept))
    columns = patient_columns(cohort, course, follow_up, observed)
    t3 = time.perf_counter()
    return Block(columns, visits, {"simulate": (t1 - t0) + (t3 - t2), "observe": t2 - t1})
