"""Validated parameters of ``tfrsim-calibrate`` and ``tfrsim-reproduce``.

Built from their composed configs by the generic translation
(:func:`tfrsim.config.build.build`), so every key is checked (unknown keys with the
closest valid one, missing keys all at once) before any work.
"""

from dataclasses import dataclass, field
from typing import Any

from tfrsim import checks as c
from tfrsim.calibration.objective import EXTRA_TARGETS
from tfrsim.calibration.targets import CALIBRATION_TRIALS


@dataclass(frozen=True)
class ProfileParams:
    """Profile likelihood after the fit (``profile.*``)."""

    enabled: bool = False
    n_per_trial: int = 3000
    inner_evaluations: int = 40
    steps: tuple[float, ...] = (-1.0, -0.5, -0.25, 0.25, 0.5, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_per_trial", c.positive_int("n_per_trial", self.n_per_trial))
        object.__setattr__(
            self, "inner_evaluations", c.positive_int("inner_evaluations", self.inner_evaluations)
        )
        steps = tuple(c.finite(f"steps[{i}]", s) for i, s in enumerate(self.steps))
        if 0.0 in steps or not steps:
            raise c.ConfigError("steps", "must be non-empty offsets other than 0", list(steps))
        object.__setattr__(self, "steps", steps)


@dataclass(frozen=True)
class ReportParams:
    """Size of the reproduction that closes a calibration (``report.*``)."""

    n_patients: int = 20_000
    n_replicates: int = 200

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_patients", c.positive_int("n_patients", self.n_patients))
        object.__setattr__(self, "n_replicates", c.positive_int("n_replicates", self.n_replicates))


@dataclass(frozen=True)
class CalibrateParams:
    """``tfrsim-calibrate``: what to fit, from where, with what budget."""

    start_model: str
    fit: tuple[str, ...]
    n_per_trial: int
    seed: int
    max_evaluations: int
    restarts: int = 1
    install: bool = False
    extra_targets: tuple[str, ...] = ()
    leave_out: str | None = None
    profile: ProfileParams = field(default_factory=ProfileParams)
    report: ReportParams = field(default_factory=ReportParams)

    def __post_init__(self) -> None:
        if not self.fit:
            raise c.ConfigError("fit", "must name at least one parameter", [])
        # The names themselves are checked against the start model's fittable
        # parameters (tfrsim.calibration.objective.fittable) once it is loaded.
        for i, name in enumerate(self.extra_targets):
            c.one_of(f"extra_targets[{i}]", name, EXTRA_TARGETS)
        if self.leave_out is not None:
            c.one_of("leave_out", self.leave_out, CALIBRATION_TRIALS)
            if self.install:
                raise c.ConfigError(
                    "install", "must be false with leave_out (a validation fit)", True
                )
        if len(set(self.fit)) != len(self.fit):
            raise c.ConfigError("fit", "must not repeat a parameter", list(self.fit))
        object.__setattr__(self, "n_per_trial", c.positive_int("n_per_trial", self.n_per_trial))
        object.__setattr__(self, "seed", c.non_negative_int("seed", self.seed))
        object.__setattr__(self, "restarts", c.non_negative_int("restarts", self.restarts))
        budget = c.positive_int("max_evaluations", self.max_evaluations)
        # Each Nelder–Mead run needs at least 2k + 2 evaluations for k parameters.
        needed = (self.restarts + 1) * (2 * len(self.fit) + 2)
        if budget < needed:
            raise c.ConfigError(
                "max_evaluations",
                f"must be at least {needed} for {len(self.fit)} parameters and "
                f"{self.restarts} restarts",
                budget,
            )
        object.__setattr__(self, "max_evaluations", budget)


#: ``tfrsim-reproduce uncertainty=``: ``auto`` uses the model's stored posterior draws
#: when it has them (the calibrated default does) and sampling-only bands otherwise;
#: ``posterior`` requires the draws; ``none`` never uses them.
REPRODUCE_UNCERTAINTY = ("auto", "posterior", "none")


@dataclass(frozen=True)
class ReproduceParams:
    """``tfrsim-reproduce``: the model and the sizes.

    ``model`` is the composed ``conf/model`` option (``tfrsim-reproduce model=clonal``,
    a config group as for ``tfrsim``; its settings can be overridden, e.g.
    ``model.theta0=1.2``) or the name of one. ``uncertainty`` is one of
    :data:`REPRODUCE_UNCERTAINTY`: whether the trial-sized bands include parameter
    uncertainty from the model's stored posterior draws.
    """

    model: Any = "calibrated"
    n_patients: int = 20_000
    n_replicates: int = 200
    seed: int = 20070701
    uncertainty: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "uncertainty", c.one_of("uncertainty", self.uncertainty, REPRODUCE_UNCERTAINTY)
        )
        object.__setattr__(self, "n_patients", c.positive_int("n_patients", self.n_patients))
        object.__setattr__(self, "n_replicates", c.positive_int("n_replicates", self.n_replicates))
        object.__setattr__(self, "seed", c.non_negative_int("seed", self.seed))
