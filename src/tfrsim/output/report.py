"""``report.html``: one self-contained page per run and per sweep.

The page holds everything needed to read a result without the other files and
without a network: the summary table (the tidy estimands of
:mod:`tfrsim.analysis.estimands`), every figure embedded as a base64 PNG, the
resolved configuration, the provenance (tfrsim version, the model and where its
values came from, library versions) and the files of the folder. It is rendered
with Jinja2 from ``tfrsim/output/templates/`` and written atomically
(:func:`tfrsim.files.atomic_path`); ``output.report: false`` turns it off.
"""

import base64
import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from tfrsim._version import __version__
from tfrsim.files import write_text
from tfrsim.labels import model_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tfrsim.execution import StudyResult

#: File name of the report in a run or sweep folder.
REPORT_FILE: str = "report.html"
#: Resolution of the embedded figures (dots per inch): sharp on screen, small page.
REPORT_DPI: int = 150
#: Libraries whose versions the provenance lists.
LIBRARIES: tuple[str, ...] = ("numpy", "pandas", "scipy", "lifelines", "matplotlib", "hydra-core")
#: Most rows of a sweep's key-estimand table shown on its page (the CSV has them all).
MAX_SWEEP_ROWS: int = 400


@dataclass(frozen=True)
class Image:
    """A figure embedded in a report (``src`` is a ``data:`` URI)."""

    name: str
    caption: str
    src: str


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of ``data`` (base64), viewable with no file beside the page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def embed_figures(
    figures: Mapping[str, "Figure"],
    dpi: int = REPORT_DPI,
    *,
    saved: Mapping[str, Path] | None = None,
    saved_dpi: int | None = None,
) -> list[Image]:
    """Drawn figures as embeddable PNG images at ``dpi``.

    Parameters
    ----------
    figures : mapping of str to Figure
        Figures by stem.
    dpi : int, default :data:`REPORT_DPI`
    saved : mapping of str to Path, optional
        PNG files of some of these figures (by stem) already written at ``saved_dpi``.
        When ``saved_dpi`` is a multiple of ``dpi`` the file is reduced
        (:func:`tfrsim.plots.style.reduce_png`) instead of drawing the figure again;
        otherwise the figure is rendered (:func:`tfrsim.plots.style.figure_bytes`).
    saved_dpi : int, optional
        Resolution of the ``saved`` files.
    """
    from tfrsim.plots.style import figure_bytes, reduce_png

    def png(stem: str, fig: "Figure") -> bytes:
        path = (saved or {}).get(stem)
        if path is not None and saved_dpi is not None and saved_dpi % dpi == 0:
            return reduce_png(path.read_bytes(), saved_dpi // dpi)
        return figure_bytes(fig, "png", dpi)

    return [
        Image(stem, CAPTIONS.get(stem, stem), data_uri(png(stem, fig)))
        for stem, fig in figures.items()
    ]


#: Captions of the run figures, by file stem.
CAPTIONS: dict[str, str] = {
    "km": "Kaplan–Meier molecular-relapse-free survival (MRFS) by Sokal group, with the "
    "numbers at risk and, for a published trial, its reported points (95 % CI).",
    "forest": "Cox model: hazard ratios with 95 % CIs (n, events and P per term).",
    "trajectories": "Measured BCR-ABL1 (% IS) of a few relapsing and non-relapsing "
    "patients; the MMR line and each sample's detection limit.",
}


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:.{digits}g}"
    return str(value)


def _p_value(p: Any) -> str:
    if p is None or not isinstance(p, int | float) or not math.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def estimand_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Tidy estimand rows (:data:`~tfrsim.analysis.estimands.ESTIMAND_COLUMNS`) as
    display text: MRFS as a percentage, every interval as ``[lower, upper]``."""
    rows = []
    for r in frame.to_dict("records"):
        percent = r["estimand"] == "mrfs"
        scale = 100.0 if percent else 1.0
        value, lower, upper = (r[k] for k in ("value", "lower", "upper"))

        def show(x: Any, scale: float = scale, percent: bool = percent) -> str:
            text = _number(x * scale if isinstance(x, int | float) else x, 3)
            return f"{text} %" if percent and text else text

        interval = ""
        if _number(lower) and _number(upper):
            interval = f"[{show(lower)}, {show(upper)}]"
        month = r["month"]
        rows.append(
            {
                "analysis": str(r["analysis"]),
                "estimand": str(r["estimand"]),
                "term": str(r["group"] or r["covariate"]),
                "month": _number(month) if isinstance(month, float) else str(month),
                "value": show(value),
                "interval": interval,
                "p": _p_value(r["p"]),
                "statistic": _number(r["statistic"]),
            }
        )
    return rows


def library_versions() -> dict[str, str]:
    """Python and the versions of the main libraries installed."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("tfrsim.output", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    """Render one of tfrsim's report templates (HTML-escaped values)."""
    return str(_environment().get_template(template).render(version=__version__, **context))


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return None


def _model_choice(run_dir: Path) -> str | None:
    """The ``model=`` config Hydra chose for a run (from ``.hydra/hydra.yaml``), if any."""
    hydra = _read_yaml(run_dir / ".hydra" / "hydra.yaml") or {}
    choices = (hydra.get("hydra") or {}).get("runtime", {}).get("choices", {}) or {}
    choice = choices.get("model")
    return str(choice) if choice else None


def run_report(
    result: "StudyResult",
    images: Sequence[Image],
    config_yaml: str,
    *,
    model: str | None = None,
    files: Sequence[str] = (),
) -> str:
    """The HTML of a run's report.

    Parameters
    ----------
    result : StudyResult
        The run's results.
    images : sequence of Image
        The figures to embed (see :func:`embed_figures`).
    config_yaml : str
        The resolved configuration (``config.yaml``).
    model : str, optional
        How to name the model (default from the registered model's name).
    files : sequence of str
        Files of the run folder to list.

    Returns
    -------
    str
        A self-contained HTML page (no external resources).
    """
    p = result.params
    config = yaml.safe_load(config_yaml) if config_yaml else {}
    provenance = ((config or {}).get("model") or {}).get("provenance") or {}
    obs = result.observation
    facts = [
        ("trial", p.trial_name),
        ("model", model or model_label(None, p.model_name)),
        ("seed / replicate", f"{p.seed} / {p.replicate}"),
        ("patients", f"{len(result.patients)}"),
        ("relapses observed", f"{int(result.patients['event'].sum())}"),
        (
            "relapse rule",
            f"{p.monitoring.rule.name} (dated at the {p.monitoring.rule.event_at} test)",
        ),
        (
            "median relapse month",
            f"{_number(obs.median_relapse_month)} (interpolated between "
            "visits: grouped-data median of the relapsers)",
        ),
    ]
    return render(
        "run.html.j2",
        title=f"tfrsim — {p.trial_name}, {model or model_label(None, p.model_name)}",
        facts=facts,
        estimands=estimand_rows(result.analysis.to_frame()),
        images=list(images),
        config_yaml=config_yaml,
        provenance=yaml.safe_dump(provenance, sort_keys=False, allow_unicode=True)
        if provenance
        else "",
        libraries=library_versions(),
        files=list(files),
    )


def write_run_report(
    run_dir: Path, result: "StudyResult", images: Sequence[Image], config_yaml: str | None = None
) -> Path:
    """Write ``report.html`` into a run folder (atomically).

    Parameters
    ----------
    run_dir : Path
        The run folder; its ``config.yaml`` is embedded unless ``config_yaml`` is given,
        and Hydra's record of the chosen model config (``.hydra/``) names the model.
    result : StudyResult
        The run's results.
    images : sequence of Image
        The figures to embed.
    config_yaml : str, optional
        The resolved configuration.

    Returns
    -------
    Path
        The report written.
    """
    if config_yaml is None:
        path = run_dir / "config.yaml"
        config_yaml = path.read_text(encoding="utf-8") if path.is_file() else ""
    files = sorted(
        q.relative_to(run_dir).as_posix()
        for q in run_dir.rglob("*")
        if q.is_file() and not q.name.startswith(".") and ".hydra" not in q.parts
    )
    model = model_label(_model_choice(run_dir), result.params.model_name)
    text = run_report(result, images, config_yaml, model=model, files=files)
    write_text(run_dir / REPORT_FILE, text)
    return run_dir / REPORT_FILE


#: Estimands of the sweep table shown on a sweep's page.
SWEEP_KEY_ESTIMANDS: tuple[str, ...] = ("mrfs", "hr", "logrank", "median_relapse_month")


def sweep_key_rows(table: pd.DataFrame, swept: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The key estimands of a sweep table (overall MRFS, hazard ratios, log-rank, median
    relapse month), one row per job and estimand: header and display rows."""
    keep = table[table["estimand"].isin(SWEEP_KEY_ESTIMANDS)]
    if "group" in keep:
        keep = keep[(keep["estimand"] != "mrfs") | (keep["group"] == "all")]
    rows = estimand_rows(keep.head(MAX_SWEEP_ROWS).reset_index(drop=True)) if len(keep) else []
    jobs = keep.head(MAX_SWEEP_ROWS)
    header = ["job", *swept, "estimand", "term", "month", "value", "95 % CI", "p"]
    body = []
    for (_, job), row in zip(jobs.iterrows(), rows, strict=True):
        body.append(
            [
                str(job.get("job", "")),
                *(_number(job.get(k, "")) for k in swept),
                row["estimand"],
                row["term"],
                row["month"],
                row["value"],
                row["interval"],
                row["p"],
            ]
        )
    return header, body


def write_sweep_report(
    sweep_dir: Path,
    table: pd.DataFrame,
    *,
    experiment: str | None,
    swept: Sequence[str],
    counts: Mapping[str, int],
) -> Path:
    """Write ``report.html`` into a sweep folder (atomically): job counts, the
    experiment's summary table and figure (``<experiment>.csv``/``.png``, when written)
    and the sweep table's key estimands per job.

    Parameters
    ----------
    sweep_dir : Path
        The sweep folder.
    table : pandas.DataFrame
        The sweep table.
    experiment : str or None
        The experiment the sweep ran.
    swept : sequence of str
        Columns of the table that hold the swept settings.
    counts : mapping
        Jobs by status.

    Returns
    -------
    Path
        The report written.
    """
    images, summary_header, summary_rows = [], [], []
    if experiment:
        png, csv = sweep_dir / f"{experiment}.png", sweep_dir / f"{experiment}.csv"
        if png.is_file():
            images.append(Image(experiment, f"Experiment {experiment}", data_uri(png.read_bytes())))
        if csv.is_file():
            summary = pd.read_csv(csv)
            summary_header = [str(c) for c in summary.columns]
            summary_rows = [[_number(v) for v in row] for row in summary.itertuples(index=False)]
    header, rows = sweep_key_rows(table, swept)
    text = render(
        "sweep.html.j2",
        title=f"tfrsim sweep — {experiment or sweep_dir.name}",
        sweep_dir=str(sweep_dir),
        experiment=experiment or "",
        counts=dict(counts),
        images=images,
        summary_header=summary_header,
        summary_rows=summary_rows,
        header=header,
        rows=rows,
        truncated=len(table[table["estimand"].isin(SWEEP_KEY_ESTIMANDS)]) > MAX_SWEEP_ROWS,
        libraries=library_versions(),
    )
    write_text(sweep_dir / REPORT_FILE, text)
    return sweep_dir / REPORT_FILE
