"""``tfrsim.predict``: a trial's design composed as ``tfrsim`` composes it, predicted with
parameter uncertainty (:mod:`tfrsim.prediction`), published points scored; its table
(:func:`format_prediction`) and files (:func:`write_prediction`).

The command-line front end is :mod:`tfrsim.predict_cli` (``tfrsim-predict``).
"""

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.errors import HydraException

from tfrsim.checks import ConfigError
from tfrsim.config.compose import compose_config
from tfrsim.config.translate import to_params
from tfrsim.draws import DrawsError, PosteriorDraws, check_applies, draws_for, load_draws
from tfrsim.files import atomic_path, write_text
from tfrsim.jsonsafe import json_safe
from tfrsim.prediction import (
    N_LARGE,
    TrialPrediction,
    predict_trial,
    prediction_record,
    score_published,
)
from tfrsim.study import StudyParams


def search_path_override(config_dir: Path) -> str:
    """The Hydra override that adds a user's config folder to the packaged search path."""
    folder = Path(config_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError("--config-dir", "must be an existing folder", str(config_dir))
    return f"hydra.searchpath=[file://{folder}]"


def load_design(overrides: Sequence[str] = (), config_dir: Path | None = None) -> StudyParams:
    """A trial's design composed as ``tfrsim [--config-dir DIR] overrides`` would."""
    extra = [search_path_override(config_dir)] if config_dir is not None else []
    return to_params(compose_config([*extra, *overrides]))


def check_given_draws(
    draws: PosteriorDraws, design: StudyParams, config_dir: Path | None = None
) -> None:
    """Refuse draws (given with ``draws=``/``--draws``) that do not belong to the trial's
    model: :func:`tfrsim.draws.check_applies` against ``model=<draws.model>`` composed
    with the same search path."""
    try:
        reference = load_design([f"model={draws.model}"], config_dir).model
    except HydraException:
        raise DrawsError(
            f"posterior draws file {draws.path} was made around model={draws.model}, which "
            "is not a model config here (conf/model or --config-dir)"
        ) from None
    check_applies(draws, design.model_name, design.model, reference)


def reference_points(trial: str) -> pd.DataFrame | None:
    """Published MRFS targets of a calibration trial (month, survival, lower, upper),
    with ±1.96 SE where no CI was published; None for other trials."""
    from tfrsim.reference import published_mrfs

    try:
        table = published_mrfs(trial, targets_only=True)
    except (KeyError, ValueError):
        return None
    if table.empty:
        return None
    table = table.copy()
    no_ci = table["lower"].isna() | table["upper"].isna()
    table.loc[no_ci, "lower"] = table["survival"] - 1.959964 * table["se"]
    table.loc[no_ci, "upper"] = table["survival"] + 1.959964 * table["se"]
    return table[["month", "survival", "lower", "upper"]].reset_index(drop=True)


def parse_point(text: str) -> tuple[float, float, float, float]:
    """``MONTH:SURVIVAL[:LOWER:UPPER]`` (survival as a probability or a percentage)."""
    parts = [float(p) for p in text.split(":")]
    if len(parts) not in (2, 4):
        raise ConfigError("--point", "must be MONTH:SURVIVAL or MONTH:SURVIVAL:LOWER:UPPER", text)
    values = parts[1:]
    if any(v > 1.0 for v in values):
        values = [v / 100.0 for v in values]
    lower, upper = (values[1], values[2]) if len(values) == 3 else (np.nan, np.nan)
    return parts[0], values[0], lower, upper


@dataclass(frozen=True)
class Prediction:
    """:func:`predict`'s result: the prediction and the scored published points."""

    prediction: TrialPrediction
    draws: PosteriorDraws
    published: pd.DataFrame | None

    @property
    def table(self) -> pd.DataFrame:
        """The prediction table with published columns where a point was given."""
        table = self.prediction.table
        if self.published is None or self.published.empty:
            return table
        cols = ["month", "published", "published_lower", "published_upper", "z", "inside"]
        pub = self.published[cols].assign(quantity="mrfs")
        return table.merge(pub, on=["quantity", "month"], how="left")

    @property
    def all_inside(self) -> bool | None:
        """Every published point inside the 95 % prediction interval (None: no points)."""
        if self.published is None or self.published.empty:
            return None
        return bool(self.published["inside"].all())


def predict(
    overrides: Sequence[str] = (),
    *,
    config_dir: Path | str | None = None,
    draws: PosteriorDraws | Path | str | None = None,
    published: pd.DataFrame | bool | None = True,
    n_large: int = N_LARGE,
    n_draws: int | None = None,
    seed: int | None = None,
    n_trial: int | None = None,
) -> Prediction:
    """Predict the trial the overrides describe (``["trial=stim1"]``).

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, as for ``tfrsim``.
    config_dir : path, optional
        A folder of your own YAMLs, added to the search path.
    draws : PosteriorDraws or path, optional
        Parameter draws (default: the packaged draws of the trial's model). Given
        draws must belong to the trial's model (:func:`check_given_draws`), e.g. the
        ``loo.draws.json`` of ``tfrsim-calibrate leave_out=... loo.draws=true`` with
        ``model=<its start_model>``.
    published : DataFrame, True or False/None
        Points to score (columns month, survival, lower, upper); True: the reference
        data of a calibration trial; False/None: none.
    n_large, n_draws, seed, n_trial
        See :func:`tfrsim.prediction.predict_trial`.

    Returns
    -------
    Prediction

    Raises
    ------
    DrawsError
        Draws missing, corrupt, or not of the trial's model (the message names them).
    """
    folder = Path(config_dir) if config_dir is not None else None
    design = load_design(overrides, folder)
    if draws is None:
        stored = draws_for(design.model_name, design.model)
    else:
        stored = draws if isinstance(draws, PosteriorDraws) else load_draws(draws)
        check_given_draws(stored, design, folder)
    points = reference_points(design.trial_name) if published is True else published
    points = None if points is False or points is None or len(points) == 0 else points
    months = list(design.analysis.milestones_months)
    if points is not None:
        months = sorted({*months, *points["month"].astype(float)})
        last = max(months)
        if last > design.follow_up.followup_months:
            # As the calibration does: follow everyone to the last published month.
            design = dataclasses.replace(
                design,
                follow_up=dataclasses.replace(design.follow_up, followup_months=last),
            )
    prediction = predict_trial(
        design,
        stored,
        months=months,
        n_trial=n_trial,
        n_large=n_large,
        n_draws=n_draws,
        seed=seed,
    )
    scored = score_published(prediction, points) if points is not None else None
    return Prediction(prediction=prediction, draws=stored, published=scored)


def format_prediction(result: Prediction) -> str:
    """A short plain-text table (percentages for shares and survival)."""
    p = result.prediction
    lines = [
        f"{p.design.trial_name}: n = {p.n_trial}, {p.n_draws} parameter draws x "
        f"{p.n_large} patients ({p.n_cohorts} trial-sized cohorts each), seed {p.seed}",
        f"{'quantity':>24} {'month':>5} {'expected':>8} {'95% (parameters)':>17} "
        f"{'95% prediction':>16} {'published':>9} {'z':>5}",
    ]
    for r in result.table.to_dict("records"):
        scale = 1.0 if r["quantity"] == "median_relapse_month" else 100.0
        month = "" if not np.isfinite(r["month"]) else f"{r['month']:5.0f}"
        pub = r.get("published", np.nan)
        pub_text = f"{scale * pub:9.1f}" if pd.notna(pub) else f"{'':9}"
        z_text = f"{r['z']:5.2f}" if pd.notna(r.get("z", np.nan)) else ""
        mark = "" if pd.isna(pub) else ("  inside" if r["inside"] else "  OUTSIDE")
        lines.append(
            f"{r['quantity']:>24} {month:>5} {scale * r['expectation']:8.1f} "
            f"[{scale * r['param_lower']:6.1f}, {scale * r['param_upper']:6.1f}] "
            f"[{scale * r['pi_lower']:6.1f}, {scale * r['pi_upper']:6.1f}] {pub_text} "
            f"{z_text:>5}{mark}"
        )
    return "\n".join(lines)


def write_prediction(result: Prediction, folder: Path) -> None:
    """``prediction.csv``, ``prediction.json`` and ``prediction.png`` (same inputs and
    seed ⇒ byte-identical CSV and JSON)."""
    p = result.prediction
    with atomic_path(folder / "prediction.csv") as tmp:
        result.table.to_csv(tmp, index=False, float_format="%.10g")
    record = {
        **prediction_record(p, result.draws),
        "all_published_inside": result.all_inside,
        "table": result.table.to_dict("records"),
        "curve": {"month": p.grid.tolist(), **{k: v.tolist() for k, v in p.curve.items()}},
    }
    write_text(folder / "prediction.json", json.dumps(json_safe(record), indent=1) + "\n")
    from tfrsim.plots import close_figure
    from tfrsim.plots.prediction import plot_prediction
    from tfrsim.plots.style import DEFAULT_DPI, save_figure, trial_title

    ax = plot_prediction(
        p.grid,
        p.curve,
        n_trial=p.n_trial,
        published=result.published,
        title=f"{trial_title(p.design.trial_name)}: predicted with parameter uncertainty",
    )
    figure = ax.get_figure(root=True)
    assert figure is not None
    save_figure(figure, folder / "prediction", ("png",), DEFAULT_DPI)
    close_figure(figure)
