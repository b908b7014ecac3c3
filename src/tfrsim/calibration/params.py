"""Validated parameters of ``tfrsim-calibrate`` and ``tfrsim-reproduce``.

Built from their composed configs by the generic translation
(:func:`tfrsim.config.build.build`), so every key is checked (unknown keys with the
closest valid one, missing keys all at once) before any work.
"""

from dataclasses import dataclass, field
from typing import Any

from tfrsim import checks as c
from tfrsim.calibration.objective import EXTRA_TARGETS
from tfrsim.calibration.posterior import METHODS, N_DRAWS, n_walkers
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
class LooParams:
    """Leave-one-trial-out through ``tfrsim-predict`` (``loo.*``; needs ``leave_out``).

    With ``draws`` the posterior of the fit on the other trials is sampled as
    ``tfrsim-posterior`` samples the installed model's (same method, weak priors and
    provenance; ``fix`` holds fitted parameters at the estimate, as ``--fix``), written
    as ``loo.draws.json``, and the left-out trial is predicted from it with
    ``n_large`` patients per draw (:func:`tfrsim.predict_api.predict`).
    """

    draws: bool = False
    n_draws: int = N_DRAWS
    seed: int = 1
    method: str = "emcee"
    mcmc_steps: int = 500
    mcmc_burn: int = 200
    fix: tuple[str, ...] = ()
    n_large: int = 2000

    def __post_init__(self) -> None:
        c.one_of("method", self.method, METHODS)
        object.__setattr__(self, "seed", c.non_negative_int("seed", self.seed))
        for name in ("n_draws", "n_large"):
            value = c.positive_int(name, getattr(self, name))
            if value < 2:
                raise c.ConfigError(name, "must be at least 2", value)
            object.__setattr__(self, name, value)
        steps = c.positive_int("mcmc_steps", self.mcmc_steps)
        burn = c.non_negative_int("mcmc_burn", self.mcmc_burn)
        if burn >= steps:
            raise c.ConfigError("mcmc_burn", f"must be below mcmc_steps ({steps})", burn)
        object.__setattr__(self, "mcmc_steps", steps)
        object.__setattr__(self, "mcmc_burn", burn)
        if len(set(self.fix)) != len(self.fix):
            raise c.ConfigError("fix", "must not repeat a parameter", list(self.fix))

    def check_against(self, fit: tuple[str, ...], leave_out: str | None) -> None:
        """Cross-checks with the fit: a left-out trial, ``fix`` within ``fit``, and a
        chain long enough for ``n_draws`` (errors name ``loo.*``)."""
        if not self.draws:
            return
        if leave_out is None:
            raise c.ConfigError(
                "loo.draws",
                "needs leave_out=stim1, stim2 or twister (the draws of a leave-one-trial-"
                "out fit; tfrsim-posterior samples an installed model)",
                True,
            )
        for i, name in enumerate(self.fix):
            if name not in fit:
                raise c.ConfigError(f"loo.fix[{i}]", f"must be one of fit {list(fit)}", name)
        k = len(fit) - len(self.fix)
        if k < 1:
            raise c.ConfigError("loo.fix", "leaves no fitted parameter to draw", list(self.fix))
        if self.method == "emcee":
            kept = n_walkers(k) * (self.mcmc_steps - self.mcmc_burn)
            if kept < self.n_draws:
                raise c.ConfigError(
                    "loo.mcmc_steps",
                    f"keeps {kept} samples after burn-in ({n_walkers(k)} walkers x "
                    f"{self.mcmc_steps - self.mcmc_burn} steps); need loo.n_draws = "
                    f"{self.n_draws}",
                    self.mcmc_steps,
                )


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
    loo: LooParams = field(default_factory=LooParams)
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
        self.loo.check_against(self.fit, self.leave_out)


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
