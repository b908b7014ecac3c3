"""Leave-one-trial-out through ``tfrsim-predict``.

``tfrsim-calibrate leave_out=stim2 loo.draws=true`` fits on the other two trials and
then, in the run folder,

1. samples the posterior of that fit with ``tfrsim-posterior``'s machinery
   (:func:`tfrsim.calibration.posterior.sample_objective`: the same sampler, weak priors
   and provenance) on the leave-one-out objective, i.e. the fit's own objective with
   the trial left out (:func:`loo_objective`), and writes it as ``loo.draws.json``;
2. predicts the left-out trial from those draws and scores its published points
   through :func:`tfrsim.predict_api.predict`, exactly as
   ``tfrsim-predict trial=stim2 model=<start_model> --draws <folder>/loo.draws.json``
   does (same default seed, so the files are byte-identical), writing ``prediction/``.

So the left-out trial is predicted with the parameter uncertainty the other two trials
leave, not only at the point estimate (``loo.csv``).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tfrsim.calibration.fit import CalibrationResult
from tfrsim.calibration.objective import Objective
from tfrsim.calibration.params import LooParams
from tfrsim.calibration.posterior import PosteriorRun, SamplerSettings, sample_objective
from tfrsim.calibration.targets import Targets
from tfrsim.draws import MODEL_DIR, model_yaml_hash
from tfrsim.predict_api import Prediction, predict
from tfrsim.study import StudyParams

#: The draws file and the prediction folder, inside the run folder.
LOO_DRAWS = "loo.draws.json"
PREDICTION_FOLDER = "prediction"


def loo_objective(
    result: CalibrationResult,
    targets: Targets,
    designs: Mapping[str, StudyParams],
    *,
    n_per_trial: int,
    seed: int,
    fix: Sequence[str] = (),
) -> Objective:
    """The objective the leave-one-out fit minimised, centred at its estimate.

    Same targets, extra targets, size and seed, and the same trial left out; the
    parameters in ``fix`` stay at the estimate (not drawn).
    """
    names = [n for n in result.names if n not in set(fix)]
    return Objective(
        targets,
        result.model,
        names,
        n_per_trial,
        seed,
        designs,
        result.extra_targets,
        result.leave_out,
    )


def sampler_settings(loo: LooParams) -> SamplerSettings:
    """``loo.*`` as the sampler's settings (Laplace settings at their defaults)."""
    return SamplerSettings(
        n_draws=loo.n_draws,
        seed=loo.seed,
        method=loo.method,
        mcmc_steps=loo.mcmc_steps,
        mcmc_burn=loo.mcmc_burn,
    )


def loo_posterior(
    objective: Objective,
    loo: LooParams,
    *,
    start_model: str,
    fitted_to: Sequence[str],
    fit_yaml: Path,
) -> PosteriorRun:
    """Parameter draws of the leave-one-out fit (``objective`` from :func:`loo_objective`).

    The draws apply to ``model=<start_model>``: the fit changed only the drawn (and
    fixed) parameters of that model. Their provenance holds ``tfrsim-posterior``'s
    fields (the objective's ``leave_out`` among them) and the fit's own YAML by name and
    SHA-256 (``fit_yaml``, beside the draws).
    """
    return sample_objective(
        objective,
        sampler_settings(loo),
        model=start_model,
        model_yaml=MODEL_DIR / f"{start_model}.yaml",
        fitted_to=fitted_to,
        fixed_at_estimate=loo.fix,
        written_by=f"tfrsim-calibrate leave_out={objective.leave_out} loo.draws=true",
        provenance={"fit_yaml": fit_yaml.name, "fit_yaml_sha256": model_yaml_hash(fit_yaml)},
    )


def predict_left_out(
    trial: str, start_model: str, draws_file: Path, *, n_large: int, **kwargs: Any
) -> Prediction:
    """The left-out trial predicted from the draws file, published points scored:
    ``tfrsim-predict trial=<trial> model=<start_model> --draws <draws_file>
    --n-large <n_large>`` (``kwargs`` go to :func:`tfrsim.predict_api.predict`)."""
    return predict(
        [f"trial={trial}", f"model={start_model}"],
        draws=draws_file,
        published=True,
        n_large=n_large,
        **kwargs,
    )


def rerun_command(trial: str, start_model: str, draws_file: Path, n_large: int) -> str:
    """The ``tfrsim-predict`` command that recreates the prediction."""
    return (
        f"tfrsim-predict trial={trial} model={start_model} --draws {draws_file} --n-large {n_large}"
    )
