"""tfrsim: treatment-free remission after stopping a TKI in CML, simulated.

Quick start
-----------
>>> import tfrsim
>>> params = tfrsim.load_params(["cohort.n_patients=500"])
>>> result = tfrsim.run_study(params)
>>> result.summary()  # doctest: +SKIP

The names below are imported on first use (PEP 562), so that ``import tfrsim`` and
``tfrsim --help`` stay fast: the simulation, lifelines and matplotlib load only
when a study runs.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tfrsim._version import __version__

if TYPE_CHECKING:
    from tfrsim.config.compose import compose_config, load_params
    from tfrsim.config.translate import to_params
    from tfrsim.execution import StudyResult, run_study, simulate_patients
    from tfrsim.predict_api import Prediction, predict

#: Public name -> module that defines it.
_LAZY: dict[str, str] = {
    "compose_config": "tfrsim.config.compose",
    "load_params": "tfrsim.config.compose",
    "to_params": "tfrsim.config.translate",
    "StudyResult": "tfrsim.execution",
    "run_study": "tfrsim.execution",
    "simulate_patients": "tfrsim.execution",
    "Prediction": "tfrsim.predict_api",
    "predict": "tfrsim.predict_api",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfrsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
