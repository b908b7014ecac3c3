"""One publication style for every figure: palette, sizes, fonts, labels and saving.

Every ``plot_*`` / ``figure_*`` function of :mod:`tfrsim.plots` draws inside
:func:`publication_style` (via :func:`styled`), so fonts, line widths and colours
are the same in all figures and stay legible when a figure is printed at one
journal column (:data:`COLUMN_MM`). Sizes are given in millimetres and converted
with :func:`mm`.

Conventions
-----------
* Colours come from the Okabe–Ito palette (:data:`OKABE_ITO`), which stays
  distinguishable under the common colour-vision deficiencies; each KM group also
  has its own line style (:data:`GROUP_LINESTYLES`), so curves differ even in
  greyscale.
* Titles are human text passed by the caller; :func:`trial_title` turns a trial's
  code name ("stim1") into its published name ("STIM1").
"""

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import FigureBase

from tfrsim.cohort.params import SOKAL_GROUPS
from tfrsim.files import atomic_path

P = ParamSpec("P")
R = TypeVar("R")

#: Okabe & Ito (2008) "Color Universal Design", https://jfly.uni-koeln.de/color/
#: (hex codes as listed by Wong 2011, Nat Methods 8:441, "Points of view: Color blindness").
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Order used for series without a fixed colour (yellow last: weak on white).
OKABE_ITO_CYCLE: tuple[str, ...] = tuple(
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "reddish_purple",
        "sky_blue",
        "black",
        "yellow",
    )
)

#: Colour of each KM group: "all" black, Sokal low -> high blue, orange, vermillion
#: (ASSUMPTION: risk order read as cool -> warm; all Okabe–Ito colours).
GROUP_COLOURS: dict[str, str] = {
    "all": OKABE_ITO["black"],
    SOKAL_GROUPS[0]: OKABE_ITO["blue"],
    SOKAL_GROUPS[1]: OKABE_ITO["orange"],
    SOKAL_GROUPS[2]: OKABE_ITO["vermillion"],
}
#: Line style of each KM group (a second cue besides colour).
GROUP_LINESTYLES: dict[str, Any] = {
    "all": "-",
    SOKAL_GROUPS[0]: (0, (5, 1.5)),
    SOKAL_GROUPS[1]: (0, (1.5, 1.2)),
    SOKAL_GROUPS[2]: (0, (5, 1.5, 1.5, 1.5)),
}
#: Colour of published reference points (reddish purple: no KM group uses it).
PUBLISHED_COLOUR: str = OKABE_ITO["reddish_purple"]
#: Colour of simulated curves that are not a KM group (calibration, experiments).
SIMULATED_COLOUR: str = OKABE_ITO["blue"]
#: Pass / fail marks of the reproduction figure.
PASS_COLOUR: str = OKABE_ITO["bluish_green"]
FAIL_COLOUR: str = OKABE_ITO["vermillion"]

#: Millimetres per inch (matplotlib sizes are inches).
MM_PER_INCH: float = 25.4
#: Single-column width of Nature-family journals, 89 mm; double column 183 mm
#: (Nature "Formatting guide: figures"; Cell Press and The Lancet use similar widths).
COLUMN_MM: float = 89.0
DOUBLE_COLUMN_MM: float = 183.0
#: Font sizes in points: Nature asks for 5–7 pt at final size; 7 pt text and 8 pt
#: titles (ASSUMPTION within that guidance, one step larger for titles).
FONT_PT: float = 7.0
TITLE_PT: float = 8.0
SMALL_PT: float = 6.0
#: Line widths in points (ASSUMPTION: 0.5 pt axes, 1 pt data lines read well at 7 pt).
AXES_LW: float = 0.5
LINE_LW: float = 1.0
#: Default resolution of raster output; 300 dpi is the common journal minimum for
#: halftones (Nature formatting guide).
DEFAULT_DPI: int = 300
#: Formats :func:`save_figure` writes.
FORMATS: tuple[str, ...] = ("png", "pdf", "svg")

#: rcParams of :func:`publication_style`.
RC: dict[str, Any] = {
    "font.size": FONT_PT,
    "axes.titlesize": TITLE_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": SMALL_PT + 0.5,
    "legend.title_fontsize": SMALL_PT + 0.5,
    "figure.titlesize": TITLE_PT,
    "axes.linewidth": AXES_LW,
    "lines.linewidth": LINE_LW,
    "lines.markersize": 3.5,
    "patch.linewidth": AXES_LW,
    "xtick.major.width": AXES_LW,
    "ytick.major.width": AXES_LW,
    "xtick.minor.width": AXES_LW * 0.8,
    "ytick.minor.width": AXES_LW * 0.8,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "axes.labelpad": 2.0,
    "axes.titlepad": 4.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO_CYCLE)),
    "legend.frameon": False,
    "legend.handlelength": 2.6,
    "legend.borderaxespad": 0.3,
    "legend.labelspacing": 0.3,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "errorbar.capsize": 1.5,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "savefig.bbox": "standard",
    "pdf.fonttype": 42,  # TrueType in PDF: editable text (journal requirement)
    "svg.fonttype": "none",  # text stays text in SVG
}


def mm(value: float) -> float:
    """Millimetres to inches."""
    return value / MM_PER_INCH


@contextlib.contextmanager
def publication_style() -> Iterator[None]:
    """Context with the shared rcParams (:data:`RC`); nests harmlessly."""
    with mpl.rc_context(RC):  # type: ignore[arg-type]
        yield


def styled(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` inside :func:`publication_style` (decorator of plot functions)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with publication_style():
            return function(*args, **kwargs)

    return wrapper


def apply_axes_style(ax: Axes) -> None:
    """Fix tick sizes and widths on ``ax`` itself.

    Ticks are created lazily at draw time, possibly outside :func:`publication_style`
    (e.g. when a caller saves with ``Figure.savefig``); setting them on the axes
    keeps them in the style wherever the figure is drawn.
    """
    for axis in ("x", "y"):
        ax.tick_params(
            axis=axis,
            which="major",
            labelsize=FONT_PT,
            width=AXES_LW,
            length=RC["xtick.major.size"],
            pad=RC["xtick.major.pad"],
        )
        ax.tick_params(axis=axis, which="minor", width=AXES_LW * 0.8, length=1.5)


def save_figure(
    fig: FigureBase,
    path_without_suffix: str | Path,
    formats: Sequence[str] = ("png",),
    dpi: int = DEFAULT_DPI,
) -> list[Path]:
    """Save ``fig`` once per format, ``<path>.<format>``, atomically.

    Parameters
    ----------
    fig : matplotlib Figure (or SubFigure: its root figure is saved)
    path_without_suffix : str or Path
        Target without suffix, e.g. ``run/figures/km``; a suffix that is one of
        :data:`FORMATS` is stripped (``km.png`` -> ``km``). Folders are created.
    formats : sequence of {"png", "pdf", "svg"}, default ("png",)
        E.g. ``output.figure_formats``.
    dpi : int, default 300
        Resolution of raster output (``output.dpi``); vector formats keep text and
        lines as vectors.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Raises
    ------
    ValueError
        If a format is not one of :data:`FORMATS`, ``formats`` is empty or
        ``dpi`` is not positive.
    """
    wanted = [str(f).lower().lstrip(".") for f in formats]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"figure formats must be a non-empty subset of {FORMATS}; got {formats}")
    if dpi <= 0:
        raise ValueError(f"dpi must be > 0; got {dpi}")
    base = Path(path_without_suffix)
    if base.suffix.lstrip(".").lower() in FORMATS:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    root = fig.get_figure(root=True) if isinstance(fig, FigureBase) else fig
    written: list[Path] = []
    with publication_style():
        for fmt in dict.fromkeys(wanted):
            path = base.with_name(f"{base.name}.{fmt}")
            # The temporary name has no known suffix, so the format is explicit.
            with atomic_path(path) as tmp:
                root.savefig(tmp, format=fmt, dpi=dpi)
            written.append(path)
    return written


def figure_bytes(fig: FigureBase, fmt: str = "png", dpi: int = 150) -> bytes:
    """``fig`` rendered in memory (as :func:`save_figure` would write it), e.g. to embed
    it in an HTML report.

    Parameters
    ----------
    fig : matplotlib Figure (or SubFigure: its root figure is rendered)
    fmt : {"png", "pdf", "svg"}, default "png"
    dpi : int, default 150
        Resolution of raster output (dots per inch).

    Returns
    -------
    bytes
        The encoded image.
    """
    import io

    if fmt not in FORMATS:
        raise ValueError(f"figure format must be one of {FORMATS}; got {fmt!r}")
    root = fig.get_figure(root=True) if isinstance(fig, FigureBase) else fig
    buffer = io.BytesIO()
    with publication_style():
        root.savefig(buffer, format=fmt, dpi=dpi)
    return buffer.getvalue()


#: From this count on, a table of counts abbreviates them (:func:`count_text`).
ABBREVIATE_FROM: int = 100_000


def count_text(value: int, abbreviate: bool | None = None) -> str:
    """A count as the table shows it: exact, or (``abbreviate``) three significant
    figures with k, M or B from 1,000 (``82443`` -> ``"82.4k"``, ``1000000`` -> ``"1M"``,
    ``1234567890`` -> ``"1.23B"``).

    ``abbreviate`` None means: when the count itself is :data:`ABBREVIATE_FROM` or
    more. A table abbreviates all its counts once any is (:func:`abbreviates`), so a
    column reads alike (the KM at-risk table, the forest plot's n/events).
    Seven-digit counts are ~30 pt wide at 6.5 pt, more than a KM column of 24 months
    on the 85 mm figure, so neighbours ran together at 10^6 patients; the exact
    numbers are in the CSV files.
    """
    if abbreviate is None:
        abbreviate = value >= ABBREVIATE_FROM
    if not abbreviate or value < 1_000:
        return f"{value}"
    for scale, suffix in ((1e3, "k"), (1e6, "M")):
        # Below 999.5 units, three significant figures do not round up to 1000.
        if value < 999.5 * scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value / 1e9:.3g}B" if value < 999.5e9 else f"{value / 1e9:,.0f}B"


def abbreviates(counts: Iterable[int | None]) -> bool:
    """Whether a table with these counts (None: blank cells) shows them abbreviated
    (:func:`count_text`): once any reaches :data:`ABBREVIATE_FROM`."""
    return any(c is not None and c >= ABBREVIATE_FROM for c in counts)


def text_width_pt(texts: Sequence[str], size_pt: float, *, bold: bool = False) -> float:
    """Width in points of the widest of ``texts`` in the current font (0 if none),
    measured on the glyph outlines, so without a renderer: for placing table columns
    before the figure is drawn."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(weight="bold" if bold else "normal")
    texts = [t for t in texts if t.strip()]  # TextPath fails on blank text, width 0
    widths = [TextPath((0.0, 0.0), t, size=size_pt, prop=prop).get_extents().width for t in texts]
    return max(widths, default=0.0)


def reduce_png(data: bytes, factor: int) -> bytes:
    """A PNG shrunk ``factor`` times in each direction, each pixel the mean of a
    ``factor`` x ``factor`` block (Pillow's ``Image.reduce``).

    Used to embed a figure already rendered at ``factor`` times the wanted dpi
    without drawing it again: at 10^6 patients, the run's three figures at 150 dpi
    cost 0.36 s to render and 0.07 s to reduce from the 300-dpi files (2 December
    2026, benchmarks/README.md), and the embedded image has the file's layout.

    Parameters
    ----------
    data : bytes
        A PNG.
    factor : int
        Shrink factor, >= 1 (1 returns ``data`` unchanged).

    Returns
    -------
    bytes
        The reduced PNG, its stated resolution divided by ``factor``.
    """
    import io

    from PIL import Image

    if factor < 1:
        raise ValueError(f"factor must be >= 1; got {factor}")
    if factor == 1:
        return data
    with Image.open(io.BytesIO(data)) as image:
        dpi = image.info.get("dpi")
        # reduce() takes L, RGB and RGBA (what matplotlib writes); palette, 1-bit or
        # 16-bit images are averaged as RGBA.
        source = image if image.mode in ("L", "LA", "RGB", "RGBA") else image.convert("RGBA")
        reduced = source.reduce(factor)
    buffer = io.BytesIO()
    options = {"dpi": tuple(d / factor for d in dpi)} if dpi else {}
    reduced.save(buffer, format="png", **options)
    return buffer.getvalue()


#: Published names of the trials (code name -> name in the literature).
TRIAL_TITLES: dict[str, str] = {
    "stim1": "STIM1",
    "stim2": "STIM2",
    "twister": "TWISTER",
    "euroski": "EURO-SKI",
    "destiny": "DESTINY",
    "astim": "A-STIM",
    "a_stim": "A-STIM",
    "enestfreedom": "ENESTfreedom",
    "population": "Simulated population",
}


def trial_title(code: str) -> str:
    """Published name of a trial code name (``"stim1"`` -> ``"STIM1"``).

    Unknown names are returned upper-cased with underscores as spaces.
    """
    key = str(code).strip().lower()
    return TRIAL_TITLES.get(key, key.replace("_", " ").upper())


def group_label(group: str) -> str:
    """Legend / table label of a KM group."""
    return "All patients" if group == "all" else f"Sokal {group}"


def group_colour(group: str) -> str:
    """Colour of a KM group (grey for an unknown label)."""
    return GROUP_COLOURS.get(group, "#7f7f7f")


def group_linestyle(group: str) -> Any:
    """Line style of a KM group (solid for an unknown label)."""
    return GROUP_LINESTYLES.get(group, "-")


#: Readable names of the identifiers used in sweeps and models.
CODE_LABELS: dict[str, str] = {
    # relapse rules
    "loss_of_mr4": "Loss of MR4",
    "twister": "TWISTER rule",
    "stim": "STIM rule",
    "loss_of_mmr": "Loss of MMR",
    "loss_of_mmr_confirmed": "Confirmed loss of MMR",
    # visit schedules
    "monthly": "Monthly",
    "every_2_months": "Every 2 months",
    "every_3_months": "Every 3 months",
    # swept keys
    "n_patients": "Patients in the trial",
    "tki_years": "TKI before stopping (years, median)",
    "cohort.tki_years.median": "TKI before stopping (years, median)",
    "monitoring.rule.name": "Relapse rule",
    "experiment/schedule": "Visit schedule",
    "mrfs": "MRFS",
    "detection_delay": "Detection delay",
}
#: Visit schedule names, which differ from rule names of the same code ("stim").
SCHEDULE_LABELS: dict[str, str] = {
    "stim": "STIM schedule",
    "twister": "TWISTER schedule",
}


def code_label(code: str) -> str:
    """Readable words for a code identifier (``"loss_of_mmr"`` -> ``"Loss of MMR"``).

    Unknown identifiers get underscores replaced by spaces and a capital first letter.
    """
    text = str(code)
    if text in CODE_LABELS:
        return CODE_LABELS[text]
    words = text.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:]


def schedule_label(code: str) -> str:
    """Readable name of a visit schedule."""
    return SCHEDULE_LABELS.get(str(code), code_label(code))


def covariate_label(term: str) -> str:
    """Readable name of a Cox model term."""
    labels = {
        "tki_years": "TKI duration (per year)",
        "dmr_years": "DMR duration (per year)",
        "prior_ifn": "Prior interferon",
        "male": "Male sex",
        "age_years": "Age (per year)",
        "depth_log": "Depth at stop (per log10)",
        "sokal_score": "Sokal score (per unit)",
        "elts_score": "ELTS score (per unit)",
    }
    if term.startswith("sokal_") and term[len("sokal_") :] in SOKAL_GROUPS:
        return f"Sokal {term[len('sokal_') :]} vs {SOKAL_GROUPS[0]}"
    return labels.get(term, term)


def format_p(p: float) -> str:
    """P value as printed in tables: ``"<0.001"``, else 2 significant digits."""
    if p != p:  # NaN
        return "–"
    if p < 0.001:
        return "<0.001"
    if p >= 0.1:
        return f"{p:.2f}"
    return f"{p:.2g}" if p >= 0.01 else f"{p:.3f}"


def format_hr(hr: float, lower: float, upper: float) -> str:
    """``"1.85 (1.20–2.85)"``; a non-finite bound prints as "–"."""

    def one(v: float) -> str:
        return f"{v:.2f}" if v == v and abs(v) != float("inf") else "–"

    return f"{one(hr)} ({one(lower)}–{one(upper)})"
