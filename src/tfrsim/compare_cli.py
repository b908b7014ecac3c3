"""``tfrsim-compare A B``: two scenarios on the same patients, paired.

Usage::

    tfrsim-compare "monitoring.rule.name=stim" "monitoring.rule.name=loss_of_mmr" \\
        trial=stim1 --replicates 100

``A`` and ``B`` are each a quoted, space-separated list of overrides; the remaining
overrides apply to both. The two scenarios share seed and replicates (common random
numbers), so the difference at each milestone is estimated from paired replicates;
the unpaired CI the same replicates would give is shown beside it. Writes
``comparison.csv``, ``comparison.json`` and ``comparison.png`` into a new folder under
``results/compare/`` and prints the table.
"""

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from tfrsim.checks import ConfigError
from tfrsim.config.compose import load_params
from tfrsim.ensemble import Comparison, compare
from tfrsim.exits import DEBUG_FLAG, run_command
from tfrsim.files import atomic_path, write_text
from tfrsim.jsonsafe import json_safe

log = logging.getLogger("tfrsim")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfrsim-compare",
        description="Compare two scenarios of one study on the same patients (paired).",
    )
    parser.add_argument(
        "a", help='overrides of scenario A, quoted (e.g. "monitoring.rule.name=stim")'
    )
    parser.add_argument("b", help="overrides of scenario B, quoted")
    parser.add_argument("overrides", nargs="*", help="overrides shared by both scenarios")
    parser.add_argument("--replicates", type=int, default=50, help="paired replicates (50)")
    parser.add_argument(
        "--estimand", action="append", default=None, help="estimand(s) to compare (mrfs)"
    )
    parser.add_argument("--config-dir", type=Path, default=None, help="a folder of your YAMLs")
    parser.add_argument("--out", type=Path, default=None, help="output folder (new)")
    return parser


def _new_folder(out: Path | None) -> Path:
    """A new, exclusively created output folder."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=False)
        return out
    base = Path("results") / "compare" / time.strftime("%Y-%m-%d_%H-%M-%S")
    for i in range(1000):
        folder = base if i == 0 else base.with_name(f"{base.name}-{i + 1}")
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"could not create a new folder next to {base}")


def format_comparison(comparison: Comparison, label_a: str, label_b: str) -> str:
    """The comparison as a plain-text table (percentage points for survival)."""
    lines = [
        f"B − A, {comparison.table['n'].max()} paired replicates "
        f"({100 * comparison.level:.0f}% CIs)",
        f"  A: {label_a}",
        f"  B: {label_b}",
        f"{'estimand':>10} {'group':>12} {'month':>6} {'A':>7} {'B':>7} {'B − A':>7}"
        f"  {'paired CI':>17}  {'unpaired CI':>17}",
    ]
    for r in comparison.table.to_dict("records"):
        scale = 100.0 if r["estimand"] == "mrfs" else 1.0
        lines.append(
            f"{r['estimand']:>10} {r['group'] or r['covariate']:>12} {r['month']:6.0f} "
            f"{scale * r['mean_a']:7.2f} {scale * r['mean_b']:7.2f} "
            f"{scale * r['difference']:7.2f}  "
            f"[{scale * r['paired_lower']:6.2f}, {scale * r['paired_upper']:6.2f}]  "
            f"[{scale * r['unpaired_lower']:6.2f}, {scale * r['unpaired_upper']:6.2f}]"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``tfrsim-compare`` (exit statuses: :mod:`tfrsim.exits`)."""
    argv = sys.argv[1:] if argv is None else argv
    run_command("tfrsim-compare", lambda: _run([a for a in argv if a != DEBUG_FLAG]), argv)


def _run(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    a = load_params([*args.overrides, *shlex.split(args.a)], config_dir=args.config_dir)
    b = load_params([*args.overrides, *shlex.split(args.b)], config_dir=args.config_dir)
    if args.replicates < 2:
        raise ConfigError("--replicates", "must be >= 2 for a paired CI", args.replicates)
    result = compare(
        a, b, args.replicates, estimands=tuple(args.estimand or ("mrfs",)), progress=True
    )
    folder = _new_folder(args.out)
    with atomic_path(folder / "comparison.csv") as tmp:
        result.table.to_csv(tmp, index=False)
    write_text(
        folder / "comparison.json",
        json.dumps(
            json_safe(
                {
                    "a": args.a,
                    "b": args.b,
                    "common": args.overrides,
                    "replicates": list(result.a.replicates),
                    "seed": a.seed,
                    "level": result.level,
                    "table": result.table.to_dict("records"),
                }
            ),
            indent=2,
        )
        + "\n",
    )
    from tfrsim.plots import close_figure
    from tfrsim.plots.compare import plot_comparison
    from tfrsim.plots.style import DEFAULT_DPI, save_figure

    ax = plot_comparison(result.table, label_a="A", label_b="B", title=f"A: {args.a}\nB: {args.b}")
    figure = ax.get_figure(root=True)
    assert figure is not None
    save_figure(figure, folder / "comparison", ("png",), DEFAULT_DPI)
    close_figure(figure)
    print(format_comparison(result, args.a, args.b))
    print(f"output folder: {folder}")


if __name__ == "__main__":  # pragma: no cover
    main()
