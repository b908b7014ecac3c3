"""Hydra schemas of the calibration apps (``conf/calibrate.yaml``, ``conf/reproduce.yaml``)."""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ProfileConfig:
    enabled: bool = False
    n_per_trial: int = 3000
    inner_evaluations: int = 40
    steps: list[float] = field(default_factory=lambda: [-1.0, -0.5, -0.25, 0.25, 0.5, 1.0])


@dataclass
class ReportConfig:
    n_patients: int = 20_000
    n_replicates: int = 200


@dataclass
class CalibrateConfig:
    start_model: str = "clonal"
    fit: list[str] = field(default_factory=list)
    n_per_trial: int = MISSING
    seed: int = MISSING
    max_evaluations: int = MISSING
    restarts: int = 1
    install: bool = False
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    report: ReportConfig = field(default_factory=ReportConfig)


@dataclass
class ReproduceConfig:
    model: str = "calibrated"
    n_patients: int = 20_000
    n_replicates: int = 200
    seed: int = MISSING


def register_calibration_configs() -> None:
    """Store the calibration schemas in Hydra's ConfigStore."""
    cs = ConfigStore.instance()
    cs.store(name="calibrate_schema", node=CalibrateConfig)
    cs.store(name="reproduce_schema", node=ReproduceConfig)
