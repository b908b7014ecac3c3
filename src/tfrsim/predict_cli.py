"""``tfrsim-predict``: predict a stop trial from its design, with parameter uncertainty.

Usage::

    tfrsim-predict trial=stim1                          # a packaged trial
    tfrsim-predict --config-dir my_conf trial=my_trial  # your own trial YAML
    tfrsim-predict trial=stim1 cohort.n_patients=300 --n-draws 100

The trial is composed exactly as ``tfrsim trial=...`` composes it (packaged config,
your folder added to Hydra's search path). Each stored parameter draw of the model
(``conf/model/<model>.draws.json``, :mod:`tfrsim.draws`) is simulated; see
:mod:`tfrsim.prediction` for the two intervals. Published points of the calibration
trials (:func:`tfrsim.reference.published_mrfs`) are scored against the prediction
interval, as are points given with ``--point MONTH:SURVIVAL[:LOWER:UPPER]``. Writes
``prediction.csv``, ``prediction.json`` and ``prediction.png`` into a new folder under
``results/predict/`` and prints a short table.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from tfrsim.checks import ConfigError
from tfrsim.draws import DrawsError
from tfrsim.predict_api import format_prediction, parse_point, predict, write_prediction
from tfrsim.prediction import N_LARGE


def _new_folder(out: Path | None, trial: str) -> Path:
    if out is not None:
        out.mkdir(parents=True, exist_ok=False)
        return out
    base = Path("results") / "predict" / f"{trial}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    for i in range(1000):
        folder = base if i == 0 else base.with_name(f"{base.name}-{i + 1}")
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"could not create a new folder next to {base}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfrsim-predict",
        description="Predict a stop trial from its design, with calibrated parameter "
        "uncertainty (expectation, its 95%% interval, and a 95%% prediction interval).",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. trial=stim1")
    parser.add_argument("--config-dir", type=Path, default=None, help="a folder of your YAMLs")
    parser.add_argument("--draws", type=Path, default=None, help="a draws file (packaged)")
    parser.add_argument(
        "--n-large", type=int, default=N_LARGE, help=f"patients simulated per draw ({N_LARGE})"
    )
    parser.add_argument("--n-draws", type=int, default=None, help="draws used (all stored)")
    parser.add_argument(
        "--n-trial",
        type=int,
        default=None,
        help="trial size for the prediction interval (cohort.n_patients)",
    )
    parser.add_argument("--seed", type=int, default=None, help="root seed (the config's)")
    parser.add_argument(
        "--point",
        action="append",
        default=None,
        help="published point MONTH:SURVIVAL[:LOWER:UPPER] (repeatable)",
    )
    parser.add_argument(
        "--no-published",
        action="store_true",
        help="do not score the reference data of a calibration trial",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (new)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``tfrsim-predict``."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    began = time.perf_counter()
    try:
        for name in ("n_large", "n_draws", "n_trial"):
            value = getattr(args, name)
            if value is not None and value < 2:
                raise ConfigError(f"--{name.replace('_', '-')}", "must be >= 2", value)
        published: pd.DataFrame | bool | None = not args.no_published
        if args.point:
            rows = [parse_point(t) for t in args.point]
            published = pd.DataFrame(rows, columns=["month", "survival", "lower", "upper"])
        result = predict(
            args.overrides,
            config_dir=args.config_dir,
            draws=args.draws,
            published=published,
            n_large=args.n_large,
            n_draws=args.n_draws,
            seed=args.seed,
            n_trial=args.n_trial,
        )
    except (ConfigError, DrawsError) as err:
        print(f"tfrsim-predict: {err}", file=sys.stderr)
        sys.exit(2)
    folder = _new_folder(args.out, result.prediction.design.trial_name)
    write_prediction(result, folder)
    print(format_prediction(result))
    inside = result.all_inside
    if inside is not None:
        print(
            f"published points inside the 95% prediction interval: {'all' if inside else 'NOT all'}"
        )
    print(f"output folder: {folder}  ({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
