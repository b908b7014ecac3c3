"""The default study at 10^4 patients, analysed by tfrsim's registered analyses and by
R's survival package, must agree to 1e-6: KM under both CI transforms, the current
``cox.zph`` (km and rank transforms, per term and GLOBAL) and RMST by group.

Catches, on the data tfrsim itself produces (visit-grid ties, a 3-level Sokal term):
a Greenwood or transform error in the KM limits, the old per-column PH test creeping
back, the Sokal term tested as two 1-df tests, and an RMST variance error. Skipped
cleanly without Rscript and the survival package.
"""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrsim.analysis.cox import fit_cox
from tfrsim.analysis.km import fit_km
from tfrsim.analysis.restricted import fit_rmst
from tfrsim.config.compose import load_params
from tfrsim.execution import run_study

pytestmark = pytest.mark.reference

TOL = 1e-6
TAU = 60.0  # months, the default study's last milestone

R_SCRIPT = r"""
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); out <- args[2]
d$event <- as.logical(d$event)
d$sokal <- factor(d$sokal_group, levels = c("low", "intermediate", "high"))
S <- Surv(d$duration_months, d$event)
wr <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)
for (ct in c("log", "log-log")) {
  f <- survfit(S ~ 1, conf.type = ct)
  wr(data.frame(time = f$time, surv = f$surv, lower = f$lower, upper = f$upper),
     paste0("km_", ct, ".csv"))
}
fit <- coxph(S ~ sokal + tki_years, data = d, ties = "efron",
             control = coxph.control(eps = 1e-12, iter.max = 100))
for (tr in c("km", "rank")) {
  z <- cox.zph(fit, transform = tr)
  wr(data.frame(term = rownames(z$table), chisq = z$table[, "chisq"], df = z$table[, "df"]),
     paste0("zph_", tr, ".csv"))
}
g <- survfit(S ~ sokal, data = d)
tab <- summary(g, rmean = as.numeric(args[3]))$table
wr(data.frame(group = sub("sokal=", "", rownames(tab)), rmean = tab[, "rmean"],
              se = tab[, "se(rmean)"]), "rmst.csv")
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, object, Path]:
    """The default study at 10^4 patients and R's results on its patient table."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not found (install r-base-core and r-cran-survival)")
    probe = subprocess.run(
        ["Rscript", "-e", "library(survival)"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("R's survival package not found (install r-cran-survival)")
    params = load_params(["cohort.n_patients=10000", "output.figures=false"])
    patients = run_study(params, keep_visits=0).patients
    folder = tmp_path_factory.mktemp("r_default")
    csv = folder / "patients.csv"
    patients[["duration_months", "event", "sokal_group", "tki_years"]].to_csv(csv, index=False)
    script = folder / "ref.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    subprocess.run(
        ["Rscript", str(script), str(csv), str(folder), str(TAU)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return patients, params.analysis, folder


@pytest.mark.parametrize("transform", ["log", "log-log"])
def test_km_equals_r_under_both_transforms(study, transform: str) -> None:  # type: ignore[no-untyped-def]
    """Overall KM survival and its limits at every event time equal R survfit's."""
    patients, analysis, folder = study
    r = pd.read_csv(folder / f"km_{transform}.csv")
    km = fit_km(patients, dataclasses.replace(analysis, ci_transform=transform))
    ours = km.curves[km.curves["group"] == "all"].set_index("month")
    ours = ours[~ours.index.duplicated(keep="last")].reindex(r["time"].to_numpy())
    for col, r_col in (("survival", "surv"), ("lower", "lower"), ("upper", "upper")):
        mask = r[r_col].notna().to_numpy()
        np.testing.assert_allclose(
            ours[col].to_numpy()[mask], r[r_col].to_numpy()[mask], atol=TOL, err_msg=col
        )


@pytest.mark.parametrize("transform", ["km", "rank"])
def test_cox_zph_equals_r(study, transform: str) -> None:  # type: ignore[no-untyped-def]
    """The PH score test per term (Sokal group as one 2-df test) and GLOBAL equals R
    survival >= 3.0's cox.zph."""
    patients, analysis, folder = study
    r = pd.read_csv(folder / f"zph_{transform}.csv").set_index("term")
    cox = fit_cox(
        patients,
        dataclasses.replace(
            analysis, cox_covariates=("sokal_group", "tki_years"), ph_transform=transform
        ),
    )
    ours = cox.ph_test.set_index("covariate")
    names = {"sokal_group": "sokal", "tki_years": "tki_years", "GLOBAL": "GLOBAL"}
    for term, r_term in names.items():
        assert ours.loc[term, "df"] == r.loc[r_term, "df"]
        assert ours.loc[term, "statistic"] == pytest.approx(r.loc[r_term, "chisq"], abs=TOL)


def test_rmst_by_group_equals_r(study) -> None:  # type: ignore[no-untyped-def]
    """RMST to 60 months and its SE by Sokal group equal R's ``print(survfit, rmean=)``."""
    patients, analysis, folder = study
    r = pd.read_csv(folder / "rmst.csv").set_index("group")
    out = fit_rmst(patients, dataclasses.replace(analysis, rmst_months=(TAU,)))
    ours = out.by_group[0].to_frame().set_index("group")
    for group in r.index:
        assert ours.loc[group, "rmst"] == pytest.approx(r.loc[group, "rmean"], abs=TOL)
        assert ours.loc[group, "se"] == pytest.approx(r.loc[group, "se"], abs=TOL)
