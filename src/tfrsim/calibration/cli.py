"""``tfrsim-calibrate`` and ``tfrsim-reproduce`` (Hydra apps).

tfrsim-calibrate                      # fit, write a fit report under results/calibration/
tfrsim-calibrate install=true         # ... and make the fit the default model
tfrsim-calibrate profile.enabled=true # ... with profile-likelihood intervals
tfrsim-calibrate leave_out=stim2      # fit on the other two trials, predict STIM2 (loo.csv)
tfrsim-calibrate leave_out=stim2 loo.draws=true  # ... and through tfrsim-predict with
                                      # the fit's posterior (loo.draws.json, prediction/)
tfrsim-reproduce                      # the three trials at the default (calibrated) model
"""

import json
import logging
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from tfrsim._version import __version__
from tfrsim.calibration.fit import (
    CalibrationResult,
    calibrate,
    natural_values,
    predict_trial,
    profile,
    profile_intervals,
)
from tfrsim.calibration.loo import (
    LOO_DRAWS,
    PREDICTION_FOLDER,
    loo_objective,
    loo_posterior,
    predict_left_out,
    rerun_command,
)
from tfrsim.calibration.objective import EFFECT_PRIORS, PRIOR_SOURCES, fittable, model_name_of
from tfrsim.calibration.params import CalibrateParams, ReproduceParams
from tfrsim.calibration.posterior import summary_lines
from tfrsim.calibration.report import Reproduction, reproduce
from tfrsim.calibration.targets import Targets, load_targets
from tfrsim.checks import ConfigError
from tfrsim.config.build import build
from tfrsim.config.compose import CALIBRATION_TRIALS, CONFIG_DIR, load_params, trial_designs
from tfrsim.config.translate import model_params, plain
from tfrsim.draws import DrawsError, PosteriorDraws, draws_for
from tfrsim.exits import run_command
from tfrsim.files import atomic_path, write_text
from tfrsim.jsonsafe import json_safe
from tfrsim.output import RunDirNotEmptyError, ensure_fresh
from tfrsim.predict_api import format_prediction, write_prediction

log = logging.getLogger("tfrsim")

#: The calibrated model the package uses by default (written by ``install=true``).
INSTALLED_MODEL = CONFIG_DIR / "model" / "calibrated.yaml"


def _model(option: str) -> Any:
    """The parameters of the ``conf/model`` option ``option`` (any registered model)."""
    return load_params([f"model={option}"]).model


def targets_fitted(result: CalibrationResult, targets: Targets) -> list[str]:
    """The targets a fit was scored on, one line each, with their sources (a left-out
    trial's milestones and timing facts are not among them)."""
    out = result.leave_out
    fitted_to = [
        f"{m.trial} MRFS {m.month:g} mo = {100 * m.survival:g}% (SE {100 * m.se:.1f}, "
        f"{m.se_basis}; {m.source})"
        for m in targets.milestones
        if m.trial != out
    ]
    t = targets.timing
    if out != "stim1":
        fitted_to.append(
            f"stim1 median relapse month {t.stim1_median_relapse_month:g} (SE "
            f"{t.stim1_median_relapse_se:g}; etienne2017_abs)"
        )
    if out != "twister":
        fitted_to += [
            f"twister share of relapses after month {t.twister_late_after_month:g} <= "
            f"{t.twister_max_late_share:g} (ross2013_abs)",
            f"twister share of relapses by month {t.twister_early_by_month:g} >= "
            f"{t.twister_min_early_share:g} (ross2013_abs)",
        ]
    f = targets.fluctuation
    r = targets.restart_mix
    if "fluctuation" in result.extra_targets and f.trial != out:
        fitted_to.append(
            f"{f.trial} non-relapsers with a positive test {f.share:g} (SE {f.se:g}; "
            f"{f.source}, approximate)"
        )
    pooled = [x for x in r.trials if x != out]
    if "restart_mix" in result.extra_targets and pooled:
        fitted_to.append(
            f"restarts without MMR loss {r.without_mmr_loss} of {r.restarts} "
            f"({'binomial lower bound' if r.one_sided else 'binomial'}; {r.source}) vs "
            f"STIM-rule events without latent MMR loss in {', '.join(pooled)}"
        )
    if "duration_gain" in result.extra_targets:
        g = targets.duration_gain
        fitted_to.append(
            f"MRFS gain at {g.month:g} mo per imatinib year from {g.from_years:g} y "
            f"{100 * g.gain:g} points (SE {100 * g.se:g}; {g.source})"
        )
    fitted_to += [
        f"prior on effects.{k}: normal({m:.3f}, {s:.3f}) ({PRIOR_SOURCES[k]})"
        for k, (m, s) in EFFECT_PRIORS.items()
        if f"effects.{k}" in result.names
    ]
    if out:
        fitted_to.append(f"left out of the fit: {out}")
    return fitted_to


def model_yaml(result: CalibrationResult, targets: Targets, n_per_trial: int, seed: int) -> str:
    """The calibrated model as a ``conf/model`` YAML file, with its provenance.

    It extends the fitted model's own ``conf/model/NAME.yaml`` (where every value not
    fitted has its source) and lists only the fitted values.
    """
    base = model_name_of(result.model)
    values: dict[str, Any] = {"defaults": [base, "_self_"]}
    effects: dict[str, float] = {}
    for name in result.names:
        if name.startswith("effects."):
            effects[name.removeprefix("effects.")] = float(
                getattr(result.model.effects, name.removeprefix("effects."))
            )
        else:
            values[name] = float(getattr(result.model, name))
    if effects:
        values["effects"] = effects
    fitted_to = targets_fitted(result, targets)
    values["provenance"] = {
        "written_by": "tfrsim-calibrate",
        "tfrsim_version": __version__,
        "fitted_parameters": list(result.names),
        "fitted_to": fitted_to,
        "extra_targets": list(result.extra_targets),
        "objective": round(result.objective, 4),
        "n_per_trial": n_per_trial,
        "seed": seed,
        "evaluations": result.n_evaluations,
    }
    header = (
        f"# Calibrated {base} model, written by tfrsim-calibrate; do not edit by hand\n"
        "# (re-run `tfrsim-calibrate install=true`). Parameters not listed here are those\n"
        f"# of conf/model/{base}.yaml (with their sources). Objective: -2 log-likelihood of\n"
        "# the published summaries (see tfrsim.calibration.objective).\n"
    )
    return header + OmegaConf.to_yaml(OmegaConf.create(values))


def _write_reproduction(folder: Path, rep: Reproduction, stem: str) -> None:
    from tfrsim.plots import close_figure, plot_reproduction
    from tfrsim.plots.figure import new_axes_row
    from tfrsim.plots.style import DEFAULT_DPI, save_figure, trial_title

    with atomic_path(folder / f"{stem}.csv") as tmp:
        rep.table.to_csv(tmp, index=False)
    axes = new_axes_row(len(rep.trials), 5.0, 4.0)
    for ax, (name, trial) in zip(axes, rep.trials.items(), strict=True):
        plot_reproduction(trial, rep.table, ax=ax, title=f"{trial_title(name)} (rule as published)")
    figure = axes[0].get_figure(root=True)
    assert figure is not None
    save_figure(figure, folder / stem, ("png",), DEFAULT_DPI)
    close_figure(figure)


def _translate(cls: type, cfg: DictConfig) -> Any:
    """The app's whole config, validated (``hydra`` aside) before any work."""
    return build(cls, plain(cfg))


def run_calibration(cfg: DictConfig) -> Path:
    """Run ``tfrsim-calibrate`` from its composed config; returns the run folder."""
    p: CalibrateParams = _translate(CalibrateParams, cfg)
    folder = Path(HydraConfig.get().runtime.output_dir)
    ensure_fresh(folder)
    targets = load_targets()
    start = _model(p.start_model)
    valid = fittable(start)
    for i, name in enumerate(p.fit):
        if name not in valid:
            raise ConfigError(
                f"fit[{i}]", f"must be a parameter of model {model_name_of(start)!r}: {valid}", name
            )
    designs = trial_designs(CALIBRATION_TRIALS, [f"model={p.start_model}"])
    result = calibrate(
        targets,
        start,
        list(p.fit),
        n_per_trial=p.n_per_trial,
        seed=p.seed,
        max_evaluations=p.max_evaluations,
        designs=designs,
        restarts=p.restarts,
        extra_targets=p.extra_targets,
        leave_out=p.leave_out,
    )
    text = model_yaml(result, targets, p.n_per_trial, p.seed)
    write_text(folder / "calibrated_model.yaml", text)
    with atomic_path(folder / "trace.csv") as tmp:
        result.trace.to_csv(tmp, index=False)
    with atomic_path(folder / "terms.csv") as tmp:
        result.evaluation.residuals.to_csv(tmp, index=False)
    if p.leave_out:
        return _leave_one_out(p, result, targets, designs, folder)
    rep = reproduce(
        result.model,
        targets,
        designs,
        n_patients=p.report.n_patients,
        n_replicates=p.report.n_replicates,
        seed=p.seed + 100,
    )
    _write_reproduction(folder, rep, "fit_report")
    summary: dict[str, Any] = {
        "objective": result.objective,
        "converged": result.converged,
        "message": result.message,
        "evaluations": result.n_evaluations,
        "seconds": round(result.seconds, 2),
        "patients_simulated": result.patients_simulated,
        "patients_per_second": round(result.patients_simulated / result.seconds),
        "fitted": natural_values(start, result.names, result.estimate),
        "extra_targets": list(p.extra_targets),
        "accepted_at_report_size": rep.accepted,
    }
    if p.profile.enabled:
        table = profile(
            targets,
            result,
            n_per_trial=p.profile.n_per_trial,
            seed=p.seed,
            designs=designs,
            steps=list(p.profile.steps),
            inner_evaluations=p.profile.inner_evaluations,
        )
        intervals = profile_intervals(table)
        for name, frame in (("profile.csv", table), ("profile_intervals.csv", intervals)):
            with atomic_path(folder / name) as tmp:
                frame.to_csv(tmp, index=False)
        summary["profile_intervals"] = intervals.to_dict("records")
    write_text(folder / "calibration.json", json.dumps(summary, indent=2, default=float) + "\n")
    if p.install:
        write_text(INSTALLED_MODEL, text)
        log.info("installed the calibrated model as %s (now the default)", INSTALLED_MODEL)
    print(rep.table.round(3).to_string(index=False))
    print(
        f"objective {result.objective:.3f} after {result.n_evaluations} evaluations in "
        f"{result.seconds:.0f} s ({summary['patients_per_second']} patients/s); "
        f"acceptance at n = {rep.n_patients}: {'met' if rep.accepted else 'NOT met'}"
    )
    print(f"run folder: {folder}")
    if not rep.accepted:
        # Outputs are written first; a fit whose own acceptance fails is a failure.
        sys.exit(1)
    return folder


def _leave_one_out(
    p: CalibrateParams,
    result: CalibrationResult,
    targets: Targets,
    designs: dict[str, Any],
    folder: Path,
) -> Path:
    """Predict the left-out trial's milestones from the fit on the others (loo.csv);
    with ``loo.draws``, also through ``tfrsim-predict`` with the fit's posterior."""
    assert p.leave_out is not None
    table = predict_trial(
        result.model,
        targets,
        designs[p.leave_out],
        p.leave_out,
        n_patients=p.report.n_patients,
        seed=p.seed + 100,
    )
    with atomic_path(folder / "loo.csv") as tmp:
        table.to_csv(tmp, index=False)
    summary: dict[str, Any] = {
        "leave_out": p.leave_out,
        "objective_on_fitted_trials": result.objective,
        "converged": result.converged,
        "evaluations": result.n_evaluations,
        "fitted": natural_values(result.model, result.names, result.estimate),
        "prediction": table.to_dict("records"),
    }
    print(table.round(3).to_string(index=False))
    print(f"left out {p.leave_out}; objective on the others {result.objective:.3f}")
    if p.loo.draws:
        summary["through_predict"] = _loo_through_predict(p, result, targets, designs, folder)
    write_text(
        folder / "calibration.json",
        json.dumps(json_safe(summary), indent=2, default=float) + "\n",
    )
    print(f"run folder: {folder}")
    return folder


def _loo_through_predict(
    p: CalibrateParams,
    result: CalibrationResult,
    targets: Targets,
    designs: dict[str, Any],
    folder: Path,
) -> dict[str, Any]:
    """Sample the leave-one-out fit's posterior (loo.draws.json), predict the left-out
    trial from it as ``tfrsim-predict`` does (prediction/), print both; returns what
    calibration.json records about them."""
    assert p.leave_out is not None
    objective = loo_objective(
        result, targets, designs, n_per_trial=p.n_per_trial, seed=p.seed, fix=p.loo.fix
    )
    log.info("sampling the posterior of the fit without %s", p.leave_out)
    run = loo_posterior(
        objective,
        p.loo,
        start_model=p.start_model,
        fitted_to=targets_fitted(result, targets),
        fit_yaml=folder / "calibrated_model.yaml",
    )
    draws_file = folder / LOO_DRAWS
    write_text(draws_file, run.draws.to_json())
    print("\n".join(summary_lines(run)))
    print(f"wrote {run.draws.n_draws} draws to {draws_file}")
    began = time.perf_counter()
    # Read back from the file: the prediction uses exactly what tfrsim-predict would.
    prediction = predict_left_out(p.leave_out, p.start_model, draws_file, n_large=p.loo.n_large)
    seconds = time.perf_counter() - began
    out = folder / PREDICTION_FOLDER
    out.mkdir()
    write_prediction(prediction, out)
    print(format_prediction(prediction))
    inside = prediction.all_inside
    print(
        "published points inside the 95% prediction interval: "
        f"{'all' if inside else 'NOT all'}; same prediction: "
        f"{rerun_command(p.leave_out, p.start_model, draws_file, p.loo.n_large)}"
    )
    prov = run.draws.provenance
    diagnostics = ("walkers", "steps", "burn", "acceptance", "autocorr_steps", "effective_samples")
    return {
        "draws_file": LOO_DRAWS,
        "posterior": {
            "method": prov["method"],
            "parameters": list(run.draws.parameters),
            "fixed_at_estimate": prov["fixed_at_estimate"],
            **{k: prov[k] for k in diagnostics if k in prov},
            "seconds": prov.get("seconds"),
        },
        "prediction_folder": PREDICTION_FOLDER,
        "prediction_seconds": round(seconds, 1),
        "all_published_inside": inside,
        "published": prediction.published.to_dict("records")
        if prediction.published is not None
        else [],
    }


def _reproduction_draws(uncertainty: str, model: Any) -> PosteriorDraws | None:
    """The stored posterior draws the bands use (``ReproduceParams.uncertainty``)."""
    if uncertainty == "none":
        return None
    try:
        return draws_for(model_name_of(model), model)
    except DrawsError:
        if uncertainty == "posterior":
            raise
        log.info("no stored parameter draws for this model: bands show sampling only")
        return None


def run_reproduction(cfg: DictConfig) -> Path:
    """Run ``tfrsim-reproduce``; returns the run folder."""
    p: ReproduceParams = _translate(ReproduceParams, cfg)
    folder = Path(HydraConfig.get().runtime.output_dir)
    ensure_fresh(folder)
    if isinstance(p.model, Mapping):
        # The composed conf/model option (model=clonal, plus any model.* overrides).
        label = str(HydraConfig.get().runtime.choices.get("model") or p.model.get("name"))
        _, model = model_params(p.model)
    else:
        label, model = str(p.model), _model(str(p.model))
    rep = reproduce(
        model,
        load_targets(),
        trial_designs(CALIBRATION_TRIALS, [f"model={label}"]),
        n_patients=p.n_patients,
        n_replicates=p.n_replicates,
        seed=p.seed,
        draws=_reproduction_draws(p.uncertainty, model),
    )
    _write_reproduction(folder, rep, "reproduction")
    write_text(
        folder / "reproduction.json",
        json.dumps(
            {
                "model": label,
                "n_patients": rep.n_patients,
                "n_replicates": rep.n_replicates,
                "seed": p.seed,
                "band": rep.band,
                "accepted": rep.accepted,
                "checks": rep.table.replace({np.nan: None}).to_dict("records"),
            },
            indent=2,
            default=float,
        )
        + "\n",
    )
    print(rep.table.round(3).to_string(index=False))
    print(f"bands of trial-sized cohorts: {rep.band}")
    print(f"acceptance: {'met' if rep.accepted else 'NOT met'}; run folder: {folder}")
    if not rep.accepted:
        # A check command: failing acceptance is a failure (outputs are written first).
        sys.exit(1)
    return folder


def _guard(run: Any, cfg: DictConfig) -> None:
    # Errors propagate to the entry point (exit status and one-line message,
    # tfrsim.exits). A run refused or failed before writing anything leaves no folder
    # holding only Hydra's .hydra/ (a failed acceptance keeps its outputs: SystemExit).
    folder = Path(HydraConfig.get().runtime.output_dir)
    try:
        run(cfg)
    except (Exception, KeyboardInterrupt):
        try:
            ensure_fresh(folder)
        except RunDirNotEmptyError:
            pass  # results were written: keep them, and report the original error
        else:
            shutil.rmtree(folder, ignore_errors=True)
        raise


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="calibrate")
def _calibrate_app(cfg: DictConfig) -> None:
    _guard(run_calibration, cfg)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="reproduce")
def _reproduce_app(cfg: DictConfig) -> None:
    _guard(run_reproduction, cfg)


def _command(app: Any) -> None:
    from tfrsim.config.store import register_configs

    register_configs()
    app()


def calibrate_main() -> None:
    """Entry point of ``tfrsim-calibrate`` (exit statuses: :mod:`tfrsim.exits`; 1 when
    the fit's acceptance is not met)."""
    run_command("tfrsim-calibrate", lambda: _command(_calibrate_app))


def reproduce_main() -> None:
    """Entry point of ``tfrsim-reproduce`` (exit statuses: :mod:`tfrsim.exits`; 1 when
    the reproduction's acceptance is not met)."""
    run_command("tfrsim-reproduce", lambda: _command(_reproduce_app))
