"""tfrsim: treatment-free remission after stopping a TKI in CML, simulated.

Quick start
-----------
>>> import tfrsim
>>> params = tfrsim.load_params(["cohort.n_patients=500"])
>>> result = tfrsim.run_study(params)
>>> result.analysis.km.milestones  # doctest: +SKIP
"""

from tfrsim._version import __version__
from tfrsim.config.compose import compose_config, load_params
from tfrsim.config.translate import to_params
from tfrsim.execution import StudyResult, run_study, simulate_patients
from tfrsim.predict_api import Prediction, predict

__all__ = [
    "Prediction",
    "StudyResult",
    "__version__",
    "compose_config",
    "load_params",
    "predict",
    "run_study",
    "simulate_patients",
    "to_params",
]
