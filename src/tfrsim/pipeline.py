"""The stages in order: cohort -> disease course -> observation -> analysis.

Patients are simulated in blocks of :data:`tfrsim.random.BLOCK_SIZE`, each with its
own named random streams, so memory stays bounded by the block and the result does
not depend on how the blocks are processed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrsim.analysis import AnalysisResult, ObservationSummary, analyse, summarise_observation
from tfrsim.cohort.sample import Cohort, sample_cohort
from tfrsim.config.params import StudyParams
from tfrsim.disease.course import Course
from tfrsim.disease.registry import simulate_course
from tfrsim.monitoring.follow_up import FollowUp, horizon_months, sample_follow_up
from tfrsim.monitoring.observe import Observation, observe
from tfrsim.random import blocks, stream

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
    """

    patients: pd.DataFrame
    visits: pd.DataFrame


@dataclass(frozen=True)
class StudyResult:
    """One simulated study and its analysis (``patients`` and ``visits`` as in
    :class:`Simulation`)."""

    params: StudyParams
    patients: pd.DataFrame
    visits: pd.DataFrame
    analysis: AnalysisResult
    observation: ObservationSummary


def patient_table(
    cohort: Cohort, course: Course, follow_up: FollowUp, observed: Observation
) -> pd.DataFrame:
    """Join the stage outputs of one block into one row per patient."""
    table = cohort.to_frame()
    table["n_clones"] = course.n_clones
    table["relapse_month"] = course.relapse_month
    table["residual_pct"] = course.residual_pct
    table["entry_month"] = follow_up.entry_month
    table["censor_month"] = follow_up.censor_month
    table["dropped_out"] = follow_up.dropped_out
    table["n_tests"] = observed.n_tests
    table["n_positive"] = observed.n_positive
    table["first_positive_month"] = observed.first_positive_month
    table["duration_months"] = observed.duration_months
    table["event"] = observed.event
    return table


def simulate_block(
    params: StudyParams, block: int, start: int, stop: int, keep_visits: int | None = 0
) -> Simulation:
    """Simulate patients ``start..stop-1`` (random block ``block``).

    ``keep_visits``: keep the tests of patients with index below it (None: all).
    """

    def rng(name: str) -> np.random.Generator:
        return stream(name, seed=params.seed, replicate=params.replicate, block=block)

    cohort = sample_cohort(params.cohort, stop - start, rng=rng("cohort"), first_id=start)
    course = simulate_course(cohort, params.model_name, params.model, rng=rng("disease"))
    follow_up = sample_follow_up(params.follow_up, len(cohort), rng=rng("follow_up"))
    observed = observe(
        course,
        follow_up,
        params.monitoring,
        horizon_months(params.follow_up),
        schedule_rng=rng("schedule"),
        assay_rng=rng("assay"),
    )
    n_kept = stop - start if keep_visits is None else max(0, min(stop, keep_visits) - start)
    visits = observed.visits_frame(cohort.patient_id, slice(0, n_kept))
    return Simulation(patient_table(cohort, course, follow_up, observed), visits)


def simulate(
    params: StudyParams, *, keep_visits: int | None = 0, progress: bool = False
) -> Simulation:
    """Simulate every patient of the study.

    Parameters
    ----------
    params : StudyParams
    keep_visits : int or None, default 0
        Keep the tests of the first ``keep_visits`` patients (None: of all patients;
        that table has one row per test and can be large).
    progress : bool, default False
        Show a progress bar (only on a terminal).

    Returns
    -------
    Simulation
    """
    parts = blocks(params.cohort.n_patients)
    sims = [
        simulate_block(params, b, start, stop, keep_visits)
        # disable=None lets tqdm stay quiet when not on a terminal.
        for b, start, stop in tqdm(
            parts,
            desc="simulating",
            unit="block",
            disable=None if progress and len(parts) > 1 else True,
        )
    ]
    return Simulation(
        patients=pd.concat([s.patients for s in sims], ignore_index=True),
        visits=pd.concat([s.visits for s in sims], ignore_index=True),
    )


def simulate_patients(params: StudyParams, *, progress: bool = False) -> pd.DataFrame:
    """Simulate the study and return one row per patient (see :class:`Simulation`)."""
    return simulate(params, progress=progress).patients


def run_study(
    params: StudyParams, *, keep_visits: int | None = 400, progress: bool = False
) -> StudyResult:
    """Simulate the study and analyse it.

    Parameters
    ----------
    params : StudyParams
        Validated parameters (see :func:`tfrsim.load_params`).
    keep_visits : int or None, default 400
        Keep the tests of the first ``keep_visits`` patients (None: all).
    progress : bool, default False
        Show a progress bar on a terminal.

    Returns
    -------
    StudyResult
    """
    sim = simulate(params, keep_visits=keep_visits, progress=progress)
    return StudyResult(
        params=params,
        patients=sim.patients,
        visits=sim.visits,
        analysis=analyse(sim.patients, params.analysis),
        observation=summarise_observation(sim.patients),
    )
