"""Cohort stage: sample the patients who stop imatinib."""

from tfrsim.cohort.sample import Cohort, sample_cohort
from tfrsim.cohort.scores import elts_group, elts_score, sokal_group, sokal_score

__all__ = ["Cohort", "elts_group", "elts_score", "sample_cohort", "sokal_group", "sokal_score"]
