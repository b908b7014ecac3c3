"""The stage chain: cohort -> disease course -> follow-up -> observation -> patient table.

:func:`simulate_block` is the whole chain for one block of patients, each stage
drawing from its own named random stream. How blocks are grouped, threaded and
streamed to disk, and where the analysis runs, is :mod:`tfrsim.execution`.
"""

import time
from dataclasses import dataclass, field

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


def patient_table(
    cohort: Cohort, course: Course, follow_up: FollowUp, observed: Observation
) -> pd.DataFrame:
    """Join the stage outputs of one block into one row per patient."""
    return pd.DataFrame(
        {
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
            "duration_months": observed.duration_months,
            "event": observed.event,
        }
    )


def simulate_block(
    params: StudyParams, block: int, start: int, stop: int, keep_visits: int | None = 0
) -> Simulation:
    """Simulate patients ``start..stop-1`` (random block ``block``).

    ``keep_visits``: keep the tests of patients with index below it (None: all).
    """

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
    patients = patient_table(cohort, course, follow_up, observed)
    t3 = time.perf_counter()
    return Simulation(patients, visits, {"simulate": (t1 - t0) + (t3 - t2), "observe": t2 - t1})
