"""The teaching notebooks are stored clean and follow the house layout.

``pytest`` executes the notebooks themselves (``--nbmake`` on ``notebooks/``); these
tests check what execution cannot: no stored outputs, a first cell saying what the
reader will learn, one parameter cell, exercises at the end, nothing written into
the repository, and a README line for every notebook.
"""

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = (
    "01_reproduce_stim1.ipynb",
    "02_censoring_and_km.ipynb",
    "03_cox_sokal_duration.ipynb",
    "04_relapse_rules_and_monitoring.ipynb",
    "05_sweeps.ipynb",
    "06_inside_the_model.ipynb",
)
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The parameter cell must be among the first cells (after the title and an intro).
PARAMETER_CELL_MAX_INDEX = 3


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_expected_notebooks_exist() -> None:
    missing = [name for name in EXPECTED if not (NOTEBOOK_DIR / name).is_file()]
    assert not missing, f"missing notebooks: {missing}"
    unnumbered = [p.name for p in NOTEBOOKS if not re.match(r"^\d{2}_", p.name)]
    assert not unnumbered, f"notebooks must be numbered NN_name.ipynb: {unnumbered}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_without_outputs(path: Path) -> None:
    dirty = [
        i
        for i, cell in enumerate(_load(path)["cells"])
        if cell["cell_type"] == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} hold outputs or execution counts; "
        "clear all outputs before saving"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_cell_states_what_the_reader_learns(path: Path) -> None:
    first = _load(path)["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: the first cell must be markdown"
    text = _source(first)
    assert text.lstrip().startswith("#"), f"{path.name}: the first cell must open with a title"
    assert re.search(r"\blearn\b", text, re.IGNORECASE), (
        f"{path.name}: the first cell must say what the reader will learn"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_last_cell_holds_three_to_five_exercises(path: Path) -> None:
    last = _load(path)["cells"][-1]
    assert last["cell_type"] == "markdown", f"{path.name}: the last cell must be markdown"
    text = _source(last)
    heading = re.search(r"^#+\s*Exercises\s*$", text, re.MULTILINE)
    assert heading, f"{path.name}: the last cell must have an 'Exercises' heading"
    items = re.findall(r"^\d+\.\s", text[heading.end() :], re.MULTILINE)
    assert 3 <= len(items) <= 5, f"{path.name}: {len(items)} exercises, expected 3 to 5"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_one_parameter_cell_near_the_top(path: Path) -> None:
    cells = _load(path)["cells"]
    tagged = [
        i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', got {tagged}"
    index = tagged[0]
    assert index <= PARAMETER_CELL_MAX_INDEX, f"{path.name}: parameter cell {index} is too low"
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    assert index == first_code, f"{path.name}: the parameter cell must be the first code cell"
    tree = ast.parse(_source(cells[index]))
    # Only NAME = literal: sizes a reader (or papermill) can change without reading code.
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{path.name}: the parameter cell may only assign"
        names = [t.id if isinstance(t, ast.Name) else "" for t in node.targets]
        assert all(n.isupper() for n in names), f"{path.name}: use UPPER_CASE names, got {names}"
        ast.literal_eval(node.value)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_writes_nothing_into_the_repository(path: Path) -> None:
    code = "\n".join(_source(c) for c in _load(path)["cells"] if c["cell_type"] == "code")
    assert "results/" not in code, f"{path.name}: code must not touch the repository's results/"
    writes = re.search(r"\.(to_csv|to_parquet|savefig|write_text|write_bytes)\(|open\(", code)
    sweeps = "hydra.sweep.dir" in code or "hydra.run.dir" in code
    if writes or sweeps:
        assert "tempfile" in code, (
            f"{path.name}: files must go into a temporary directory (tempfile), "
            "never into the repository"
        )


def test_readme_lists_every_notebook() -> None:
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"notebooks/README.md does not describe {missing}"


def test_plot_km_comparison_overlays_one_group_per_result() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from tfrsim.analysis import fit_km
    from tfrsim.config.compose import load_params
    from tfrsim.plots import close_figure, plot_km_comparison

    params = load_params(["cohort.n_patients=60"])
    data = pd.DataFrame(
        {
            "duration_months": [1.0, 2.0, 3.0, 5.0, 8.0, 12.0],
            "event": [True, False, True, True, False, False],
            "sokal_group": ["low", "low", "high", "high", "low", "high"],
        }
    )
    km = fit_km(data, params.analysis)
    ax = plot_km_comparison({"a": km, "b": km}, group="high", title="t")
    try:
        assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
        assert ax.get_xlabel() == "Months since stopping the TKI"
        assert ax.get_ylabel() == "MRFS (probability)"
        assert ax.get_title() == "t"
        with pytest.raises(ValueError, match="intermediate"):
            plot_km_comparison({"a": km}, group="intermediate")
        with pytest.raises(ValueError, match="at least one"):
            plot_km_comparison({})
    finally:
        close_figure(ax.figure)
