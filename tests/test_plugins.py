"""A new disease model and a new analysis from outside the package, end to end.

Each is one module plus one YAML: the module is found through the ``tfrsim.plugins``
entry-point group (a ``.dist-info`` folder on ``PYTHONPATH``, as ``pip install`` of an
extension would leave), the YAML sits in the user's own ``--config-dir``. No file of
tfrsim changes. These tests fail if a registry, the generic translation, the tables,
``summary.json`` or the sweep table need edits for a new model or analysis.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

TOY_MODULE = '''
"""A toy disease model and a toy analysis (tfrsim plugin)."""
from dataclasses import dataclass

import numpy as np

from tfrsim import checks as c
from tfrsim.analysis import Analysis, estimand, register_analysis
from tfrsim.disease import Course, DiseaseModel, register_model


@dataclass(frozen=True)
class ToyParams:
    """Every patient relapses with probability p_relapse, at an exponential month."""

    p_relapse: float
    mean_month: float
    residual_pct: float = 1e-5

    def __post_init__(self) -> None:
        c.fraction("p_relapse", self.p_relapse)
        c.positive("mean_month", self.mean_month, "months")


def simulate_toy(cohort, params, *, rng):
    n = len(cohort)
    u_relapse, u_month = rng.spawn(2)
    relapse = u_relapse.random(n) < params.p_relapse
    month = -np.log1p(-u_month.random(n)) * params.mean_month
    patient = np.flatnonzero(relapse).astype(np.int64)
    growth = 2.0
    onset = month[patient] - np.log(0.1 / 0.001) / growth
    return Course(
        relapse_month=np.where(relapse, month, np.nan),
        n_clones=relapse.astype(np.int64),
        residual_pct=np.full(n, params.residual_pct),
        clone_patient=patient,
        clone_onset_month=onset,
        clone_rate_per_month=np.full(patient.size, growth),
        initial_pct=0.001,
        plateau_pct=100.0,
    )


register_model(DiseaseModel("toy", ToyParams, simulate_toy))


class ToyOutput:
    def __init__(self, n_events, n):
        self.n_events, self.n = n_events, n

    def tables(self):
        import pandas as pd

        return {"toy_counts": pd.DataFrame({"n": [self.n], "events": [self.n_events]})}

    def summary(self):
        return {"toy": {"share_relapsed": self.n_events / self.n}}

    def estimands(self):
        return [estimand("toy_count", "share_relapsed", value=self.n_events / self.n)]


def toy_count(patients, params):
    return ToyOutput(int(patients["event"].sum()), len(patients))


register_analysis(Analysis("toy_count", toy_count))
'''

TOY_YAML = """
name: toy
# ASSUMPTION: toy values for a plugin test.
p_relapse: 0.5
mean_month: 3.0
"""


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A folder with the toy plugin installed as an entry point, and its config dir."""
    root = tmp_path_factory.mktemp("plugin")
    site = root / "site"
    (site / "toy_tfrsim-0.1.dist-info").mkdir(parents=True)
    (site / "toy_tfrsim.py").write_text(textwrap.dedent(TOY_MODULE), encoding="utf-8")
    info = site / "toy_tfrsim-0.1.dist-info"
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-tfrsim\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text("[tfrsim.plugins]\ntoy = toy_tfrsim\n", encoding="utf-8")
    conf = root / "my_conf" / "model"
    conf.mkdir(parents=True)
    (conf / "toy.yaml").write_text(TOY_YAML, encoding="utf-8")
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    return root, env


def _tfrsim(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfrsim", "--config-dir", str(root / "my_conf"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


METHODS = "analysis.methods=[km,logrank,cox,observation,toy_count]"


def test_toy_model_and_analysis_run_end_to_end(plugin_env: tuple[Path, dict[str, str]]) -> None:
    """A plugin model and analysis run through the CLI; the analysis's numbers land in
    summary.json (its summary and its estimand rows) and its table in a CSV."""
    root, env = plugin_env
    run_dir = root / "run"
    proc = _tfrsim(
        root,
        env,
        "model=toy",
        "cohort.n_patients=2000",
        "output.figures=false",
        METHODS,
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["model"] == "toy"
    share = summary["toy"]["share_relapsed"]
    # p_relapse 0.5, nearly all relapses by month 24 of >= 60 months of follow-up;
    # 4 binomial SEs at n = 2000 is 0.045.
    assert abs(share - 0.5) < 0.045
    rows = [r for r in summary["estimands"] if r["analysis"] == "toy_count"]
    assert rows == [
        {
            "analysis": "toy_count",
            "estimand": "share_relapsed",
            "group": "",
            "covariate": "",
            "month": None,
            "value": share,
            "lower": None,
            "upper": None,
            "p": None,
            "statistic": None,
        }
    ]
    counts = pd.read_csv(run_dir / "toy_counts.csv")
    assert counts["n"].tolist() == [2000]


def test_toy_analysis_reaches_the_sweep_table(plugin_env: tuple[Path, dict[str, str]]) -> None:
    """A plugin analysis appears in the sweep table without any edit to tfrsim."""
    root, env = plugin_env
    proc = _tfrsim(
        root,
        env,
        "-m",
        "model=toy",
        "seed=1,2",
        "cohort.n_patients=300",
        "output.figures=false",
        "output.print_summary=false",
        METHODS,
    )
    assert proc.returncode == 0, proc.stderr
    tables = list((root / "results" / "multirun").glob("*/*/sweep_table.csv"))
    assert len(tables) == 1
    table = pd.read_csv(tables[0])
    toy = table[table["analysis"] == "toy_count"]
    assert sorted(toy["seed"]) == [1, 2]
    assert toy["value"].between(0.3, 0.7).all()


def test_model_parameters_of_the_wrong_model_are_refused(
    plugin_env: tuple[Path, dict[str, str]],
) -> None:
    """model.name=mixture_cure on the toy model's parameters is refused before any work,
    naming the keys that do not belong (no crash mid-simulation)."""
    root, env = plugin_env
    proc = _tfrsim(root, env, "model=toy", "model.name=mixture_cure", "hydra.run.dir=x")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "`model.p_relapse` is not a known setting" in output
    assert "`model.cure_logit0` is required but missing" in output
    assert "Traceback" not in output
