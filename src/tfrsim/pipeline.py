"""The stages in order: cohort -> disease course -> observation -> analysis.

Patients are simulated in blocks of :data:`tfrsim.random.BLOCK_SIZE`, each with its
own named random streams, so memory stays bounded by the block and the result does
not depend on how the blocks are processed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrsim.analysis import AnalysisResult, analyse
from tfrsim.cohort.sample import Cohort, sample_cohort
from tfrsim.config.params import StudyParams
from tfrsim.disease.course import Course
from tfrsim.disease.registry import simulate_course
from tfrsim.monitoring.detection import Observation, detect_loss_of_mmr
from tfrsim.monitoring.follow_up import FollowUp, horizon_months, sample_follow_up
from tfrsim.random import blocks, stream


@dataclass(frozen=True)
class StudyResult:
    """One simulated study and its analysis.

    Attributes
    ----------
    params : StudyParams
    patients : pandas.DataFrame
        One row per patient: covariates, latent course summary (``relapse_month`` is
        NaN if the patient never relapses), follow-up and the survival data
        (``duration_months``, ``event``).
    analysis : AnalysisResult
    """

    params: StudyParams
    patients: pd.DataFrame
    analysis: AnalysisResult


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
    table["n_visits"] = observed.n_visits
    table["duration_months"] = observed.duration_months
    table["event"] = observed.event
    return table


def simulate_block(params: StudyParams, block: int, start: int, stop: int) -> pd.DataFrame:
    """Simulate patients ``start..stop-1`` (random block ``block``)."""

    def rng(name: str) -> np.random.Generator:
        return stream(name, seed=params.seed, replicate=params.replicate, block=block)

    cohort = sample_cohort(params.cohort, stop - start, rng=rng("cohort"), first_id=start)
    course = simulate_course(cohort, params.model_name, params.model, rng=rng("disease"))
    follow_up = sample_follow_up(params.follow_up, len(cohort), rng=rng("follow_up"))
    observed = detect_loss_of_mmr(
        course, follow_up, params.monitoring, horizon_months(params.follow_up)
    )
    return patient_table(cohort, course, follow_up, observed)


def simulate_patients(params: StudyParams, *, progress: bool = False) -> pd.DataFrame:
    """Simulate every patient of the study.

    Parameters
    ----------
    params : StudyParams
    progress : bool, default False
        Show a progress bar (only on a terminal).

    Returns
    -------
    pandas.DataFrame
        One row per patient, see :class:`StudyResult`.
    """
    parts = blocks(params.cohort.n_patients)
    frames = [
        simulate_block(params, b, start, stop)
        # disable=None lets tqdm stay quiet when not on a terminal.
        for b, start, stop in tqdm(
            parts,
            desc="simulating",
            unit="block",
            disable=None if progress and len(parts) > 1 else True,
        )
    ]
    return pd.concat(frames, ignore_index=True)


def run_study(params: StudyParams, *, progress: bool = False) -> StudyResult:
    """Simulate the study and analyse it.

    Parameters
    ----------
    params : StudyParams
        Validated parameters (see :func:`tfrsim.load_params`).
    progress : bool, default False
        Show a progress bar on a terminal.

    Returns
    -------
    StudyResult
    """
    patients = simulate_patients(params, progress=progress)
    return StudyResult(
        params=params, patients=patients, analysis=analyse(patients, params.analysis)
    )
