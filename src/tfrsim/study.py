"""The parameters of one whole study (above the stages), and of its output.

:class:`StudyParams` gathers each stage's own validated parameters and checks the
rules that span stages (a milestone within follow-up; the model's parameters of the
model's own type). It is built by the one translation point,
:func:`tfrsim.config.translate.to_params`, or by hand from the stage dataclasses.
"""

import dataclasses
import math
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
#: Bytes per patient of ``patients.parquet`` and per test of ``visits.parquet``
#: (uncompressed widths, 8 bytes per numeric column and 1 per boolean or category:
#: patients 20 x 8 + 7 = 167 <= 208, tests 6 x 8 + 1 = 49 <= 56: upper bounds on the
#: written size).
BYTES_PER_PATIENT: int = 26 * 8
BYTES_PER_VISIT: int = 7 * 8
#: Most threads ``limits.threads`` accepts (ASSUMPTION: a sanity bound, well above the
#: cores of one node; a typo such as 10000 is refused).
MAX_THREADS: int = 1024
#: Bytes of the tables, summary and figures of a run besides the patients (a bound).
BYTES_PER_RUN: int = 5_000_000
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
    report : bool
        Write ``report.html``: one self-contained page with the summary, every figure,
        the config and the provenance (see :mod:`tfrsim.output.report`).
    """

    figures: bool = True
    print_summary: bool = True
    visits: bool = False
    trajectory_patients: int = 400
    figure_formats: tuple[str, ...] = ("png",)
    dpi: int = 300
    report: bool = True

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
class LimitsParams:
    """Bounds on the work of one run (``limits.*``), checked before anything starts.

    Parameters
    ----------
    max_patient_visits : int
        Most simulated tests (patients x planned visits up to the end of follow-up).
    max_output_bytes : int
        Most bytes a run may write (``patients.parquet``, ``visits.parquet`` when
        ``output.visits`` is on, tables and figures), estimated from uncompressed sizes.
    threads : int or None
        Most threads the run computes with: blocks simulated side by side, the BLAS
        and OpenMP pools (threadpoolctl) and Arrow's pool
        (:func:`tfrsim.execution.thread_limits`). None: the CPUs available to the
        process divided by the jobs running at once (the command counts a joblib
        multirun's ``n_jobs``; a single run or the Python API counts 1). Never
        changes results.
    """

    max_patient_visits: int = 5_000_000_000
    max_output_bytes: int = 50_000_000_000
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_patient_visits", "max_output_bytes"):
            object.__setattr__(self, name, c.positive_int(name, getattr(self, name)))
        if self.threads is not None:
            threads = c.positive_int("threads", self.threads)
            if threads > MAX_THREADS:
                raise c.ConfigError(
                    "threads",
                    f"must be <= {MAX_THREADS}",
                    threads,
                    "null uses the CPUs available divided by the jobs running at once",
                )
            object.__setattr__(self, "threads", threads)


@dataclass(frozen=True)
class EnsembleParams:
    """Replicates run inside one job (``ensemble.*``; :func:`tfrsim.run_ensemble`).

    Parameters
    ----------
    replicates : int
        Independent replicates simulated and analysed in one run, numbered from the
        config's ``replicate`` (each reseeded from ``(seed, replicate)``). 1: a plain
        run, whose files are those of a single study.
    """

    replicates: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "replicates", c.positive_int("replicates", self.replicates))


@dataclass(frozen=True)
class WorkEstimate:
    """What a run will do: patients, planned tests, bytes written (upper bounds)."""

    patients: int
    visits_per_patient: float
    patient_visits: float
    output_bytes: float


def estimate_work(
    n_patients: int, monitoring: MonitoringParams, follow_up: FollowUpParams, visits: bool
) -> WorkEstimate:
    """Patients x planned visits to the end of the longest follow-up, and bytes written."""
    horizon = follow_up.followup_months + follow_up.accrual_months
    per_patient, start = 0.0, 0.0
    segments = monitoring.schedule.segments
    for i, seg in enumerate(segments):
        end = horizon if i == len(segments) - 1 else min(seg.until_month, horizon)
        if end > start:
            per_patient += math.ceil((end - start) / seg.every_months)
        start = max(start, end)
    patient_visits = float(n_patients) * per_patient
    written = float(n_patients) * BYTES_PER_PATIENT + BYTES_PER_RUN
    if visits:
        written += patient_visits * BYTES_PER_VISIT
    return WorkEstimate(n_patients, per_patient, patient_visits, written)


def check_work(estimate: WorkEstimate, limits: LimitsParams, visits: bool) -> None:
    """Refuse a run whose estimate exceeds ``limits`` (naming the fields and the estimate).

    Raises
    ------
    ConfigError
    """
    what = (
        f"cohort.n_patients = {estimate.patients:,} x {estimate.visits_per_patient:,.0f} "
        "planned visits (monitoring.schedule, follow_up)"
    )
    if estimate.patient_visits > limits.max_patient_visits:
        raise c.ConfigError(
            "limits.max_patient_visits",
            f"is exceeded: {what} = {estimate.patient_visits:.3g} patient-visits",
            limits.max_patient_visits,
            "fewer patients or visits, or raise limits.max_patient_visits if intended",
        )
    if estimate.output_bytes > limits.max_output_bytes:
        source = "patients.parquet" + (" and visits.parquet (output.visits=true)" if visits else "")
        raise c.ConfigError(
            "limits.max_output_bytes",
            f"is exceeded: {source} for {what} ≈ {estimate.output_bytes / 1e9:.3g} GB",
            limits.max_output_bytes,
            "fewer patients, output.visits=false, or raise limits.max_output_bytes if intended",
        )


def check_ensemble_work(estimate: WorkEstimate, replicates: int, limits: LimitsParams) -> None:
    """Refuse ``replicates`` replicates of a run whose total patient-visits exceed
    ``limits.max_patient_visits`` (an ensemble writes no patient table: its bytes are
    those of a few tables).

    Raises
    ------
    ConfigError
    """
    total = replicates * estimate.patient_visits
    if replicates > 1 and total > limits.max_patient_visits:
        raise c.ConfigError(
            "limits.max_patient_visits",
            f"is exceeded: ensemble.replicates = {replicates:,} x cohort.n_patients = "
            f"{estimate.patients:,} x {estimate.visits_per_patient:,.0f} planned visits = "
            f"{total:.3g} patient-visits",
            limits.max_patient_visits,
            "fewer replicates, patients or visits, or raise limits.max_patient_visits",
        )


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
    limits : LimitsParams
        Bounds on the work of the run, checked here (before any work starts).
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
    limits: LimitsParams = field(default_factory=LimitsParams)
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
        check_work(self.work, self.limits, self.output.visits)

    @property
    def work(self) -> WorkEstimate:
        """The run's work estimate (see :func:`estimate_work`)."""
        return estimate_work(
            self.cohort.n_patients, self.monitoring, self.follow_up, self.output.visits
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
