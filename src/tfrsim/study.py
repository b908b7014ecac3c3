"""The parameters of one whole study (above the stages), and of its output.

:class:`StudyParams` gathers each stage's own validated parameters and checks the
rules that span stages (a milestone within follow-up; the model's parameters of the
model's own type). It is built by the one translation point,
:func:`tfrsim.config.translate.to_params`, or by hand from the stage dataclasses.
"""

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from tfrsim import checks as c
from tfrsim.analysis.params import AnalysisParams
from tfrsim.cohort.params import CohortParams
from tfrsim.disease.registry import MODELS
from tfrsim.draws import DrawsError, apply_values, draw_index, draws_for
from tfrsim.monitoring.params import FollowUpParams, MonitoringParams

#: Allowed trial names: they become folder names under ``results/``.
TRIAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Figure file formats ``output.figure_formats`` accepts.
FIGURE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
#: Values of the top-level ``uncertainty`` key: ``none`` (the model as configured) or
#: ``posterior`` (each replicate uses one stored parameter draw of the calibrated
#: model, :mod:`tfrsim.draws`, chosen from (seed, replicate)).
UNCERTAINTY: tuple[str, ...] = ("none", "posterior")


@dataclass(frozen=True)
class OutputParams:
    """What a run writes besides its tables (``output.*``).

    Parameters
    ----------
    figures : bool
        Draw the run's figures.
    print_summary : bool
        Print the summary to the terminal.
    visits : bool
        Write ``visits.parquet`` (one row per test: large).
    trajectory_patients : int
        Patients whose tests are kept for the trajectories figure (the first ones).
    figure_formats : tuple of str
        File formats of every figure (``png``, ``pdf``, ``svg``).
    dpi : int
        Resolution of raster figures (dots per inch).
    """

    figures: bool = True
    print_summary: bool = True
    visits: bool = False
    trajectory_patients: int = 400
    figure_formats: tuple[str, ...] = ("png",)
    dpi: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "trajectory_patients",
            c.non_negative_int("trajectory_patients", self.trajectory_patients),
        )
        if not self.figure_formats:
            raise c.ConfigError("figure_formats", "must name at least one format", [])
        for i, fmt in enumerate(self.figure_formats):
            c.one_of(f"figure_formats[{i}]", fmt, FIGURE_FORMATS)
        dpi = c.positive_int("dpi", self.dpi)
        if dpi > 2400:
            raise c.ConfigError("dpi", "must be <= 2400", dpi, "journals ask for 300–600 dpi")
        object.__setattr__(self, "dpi", dpi)


@dataclass(frozen=True)
class StudyParams:
    """Everything one run needs, validated.

    Parameters
    ----------
    trial_name : str
        Label of the study (e.g. ``"stim1"``): letters, digits, ``_``, ``.``, ``-``.
    seed, replicate : int
        Root seed and replicate number; every random stream derives from them.
    cohort, follow_up, monitoring, analysis
        Stage parameters.
    model_name : str
        Name of the registered disease model.
    model : dataclass
        Parameters of that model (of its registered ``params_type``).
    chunk_size : int
        Patients simulated at once (memory bound; does not change results).
    output : OutputParams
        What a run writes besides its tables.
    uncertainty : str, default "none"
        ``"posterior"``: each replicate simulates one stored parameter draw of the
        model (deterministic from ``(seed, replicate)``; applied by
        :meth:`with_posterior_draw` at the start of
        :func:`tfrsim.execution.run_study`); refused for a model without draws.
    posterior_draw : int or None
        The stored draw applied (set by :meth:`with_posterior_draw`; recorded in
        ``summary.json``).
    """

    trial_name: str
    seed: int
    replicate: int
    cohort: CohortParams
    follow_up: FollowUpParams
    monitoring: MonitoringParams
    analysis: AnalysisParams
    model_name: str
    model: Any
    chunk_size: int = 100_000
    output: OutputParams = field(default_factory=OutputParams)
    uncertainty: str = "none"
    posterior_draw: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.trial_name, str) or not TRIAL_NAME.match(self.trial_name):
            raise c.ConfigError(
                "trial.name",
                "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or "
                "digit (it names a folder under results/)",
                self.trial_name,
            )
        object.__setattr__(self, "seed", c.non_negative_int("seed", self.seed))
        object.__setattr__(self, "replicate", c.non_negative_int("replicate", self.replicate))
        object.__setattr__(self, "chunk_size", c.positive_int("chunk_size", self.chunk_size))
        c.one_of("model.name", self.model_name, MODELS)
        expected = MODELS[self.model_name].params_type
        if not isinstance(self.model, expected):
            raise c.ConfigError(
                "model",
                f"must hold the parameters of model {self.model_name!r} ({expected.__name__})",
                type(self.model).__name__,
                "choose the model with model=NAME rather than overriding model.name",
            )
        c.one_of("uncertainty", self.uncertainty, UNCERTAINTY)
        if self.uncertainty == "posterior" and self.posterior_draw is None:
            try:
                draws_for(self.model_name, self.model)
            except DrawsError as err:
                raise c.ConfigError(
                    "uncertainty",
                    "needs stored parameter draws of the model",
                    "posterior",
                    str(err),
                ) from None
        for i, m in enumerate(self.analysis.milestones_months):
            if m > self.follow_up.followup_months:
                raise c.ConfigError(
                    f"analysis.milestones_months[{i}]",
                    f"must not exceed the follow-up of every patient "
                    f"(follow_up.followup_months = {self.follow_up.followup_months:g})",
                    m,
                    "lengthen follow-up or drop the milestone",
                )

    def with_posterior_draw(self) -> "StudyParams":
        """The study with its replicate's parameter draw applied (``uncertainty=posterior``;
        otherwise, or when already applied, unchanged).

        The draw index comes from the named stream ``posterior`` at ``(seed,
        replicate)`` (:func:`tfrsim.draws.draw_index`): the same replicate always uses
        the same draw, and replicates draw independently.
        """
        if self.uncertainty != "posterior" or self.posterior_draw is not None:
            return self
        draws = draws_for(self.model_name, self.model)
        index = draw_index(draws.n_draws, self.seed, self.replicate)
        model = apply_values(self.model, draws.draw(index))
        return dataclasses.replace(self, model=model, posterior_draw=index)
