"""Compose the packaged Hydra configuration from Python (tests, notebooks, scripts)."""

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from tfrsim.config.paths import CONFIG_DIR
from tfrsim.config.store import register_configs
from tfrsim.config.translate import to_params
from tfrsim.study import StudyParams

__all__ = ["CONFIG_DIR", "compose_config", "load_params", "trial_designs"]


def compose_config(
    overrides: Sequence[str] = (), config_name: str = "config", config_dir: Path | None = None
) -> DictConfig:
    """Compose a configuration exactly as the ``tfrsim`` command would.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["trial=stim1", "cohort.n_patients=500"]``.
    config_name : str, default "config"
        Primary config file (without ``.yaml``).
    config_dir : Path, optional
        Config directory; defaults to the packaged one.

    Returns
    -------
    omegaconf.DictConfig
    """
    register_configs()
    if config_dir is None and GlobalHydra.instance().is_initialized():
        # Called from inside a Hydra app (e.g. tfrsim-calibrate): its search path
        # already holds the packaged config; a second initialisation is not allowed.
        return compose(config_name=config_name, overrides=list(overrides))
    directory = str((config_dir or CONFIG_DIR).resolve())
    with initialize_config_dir(config_dir=directory, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def load_params(overrides: Sequence[str] = (), config_dir: Path | None = None) -> StudyParams:
    """Compose and validate: the parameters of the study the overrides describe.

    Examples
    --------
    >>> params = load_params(["cohort.n_patients=200", "seed=3"])
    >>> params.cohort.n_patients, params.model_name
    (200, 'clonal')
    """
    return to_params(compose_config(overrides, config_dir=config_dir))


#: The trials the model is calibrated to (conf/trial/*.yaml).
CALIBRATION_TRIALS: tuple[str, ...] = ("stim1", "stim2", "twister")


def trial_designs(
    trials: Sequence[str] = CALIBRATION_TRIALS, overrides: Sequence[str] = ()
) -> dict[str, StudyParams]:
    """Each trial's validated design (``trial=NAME`` plus ``overrides``), by name.

    What the calibration and reproduction functions take instead of composing
    configurations themselves.
    """
    return {t: load_params([f"trial={t}", *overrides]) for t in trials}
