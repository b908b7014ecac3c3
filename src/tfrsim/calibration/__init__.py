"""Calibration of the clonal model to STIM1, STIM2 and TWISTER, and reproduction."""

from tfrsim.calibration.fit import CalibrationResult, calibrate, profile, profile_intervals
from tfrsim.calibration.objective import EFFECT_PRIORS, FITTABLE, Objective
from tfrsim.calibration.report import Reproduction, reproduce
from tfrsim.calibration.targets import Targets, load_targets

__all__ = [
    "EFFECT_PRIORS",
    "FITTABLE",
    "CalibrationResult",
    "Objective",
    "Reproduction",
    "Targets",
    "calibrate",
    "load_targets",
    "profile",
    "profile_intervals",
    "reproduce",
]
