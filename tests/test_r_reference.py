"""Agreement with R's survival package (the reference implementation), to 1e-6.

Runs only where ``Rscript`` and R's ``survival`` (>= 3.0) are installed (CI must
install ``r-base-core`` and ``r-cran-survival``); otherwise every test is skipped
with the reason. A simulated cohort of 10^4 patients on a 3-monthly visit grid
(heavy ties), Sokal group with three levels and two continuous covariates is written
to CSV; an R script computes the reference numbers from the same file, so nothing is
hard-coded. Each comparison catches any deviation from R's conventions (Efron ties,
Greenwood variance, CI transforms, the zph transforms and its multi-df terms, tie
handling in the concordance, the survmean variance, the median rule).
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tfrsim.analysis.concordance import concordance_index
from tfrsim.analysis.cox_stats import cox_fit_statistics
from tfrsim.analysis.efron import fit_efron
from tfrsim.analysis.logrank import logrank_by_group
from tfrsim.analysis.survfit import km_estimate, median_survival, rmst
from tfrsim.analysis.zph import cox_zph

pytestmark = pytest.mark.reference

N = 10_000
TAU = 24.0  # RMST horizon, months
GROUPS = ("low", "intermediate", "high")
TOL = 1e-6
COLUMNS = ["sokal_intermediate", "sokal_high", "age", "depth"]
TERMS = {"sokal": [0, 1], "age": [2], "depth": [3]}

R_SCRIPT = r"""
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); out <- args[2]
d$sokal <- factor(d$sokal_group, levels = c("low", "intermediate", "high"))
S <- Surv(d$duration_months, d$event)
wr <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)
for (ct in c("log", "log-log", "plain")) {
  f <- survfit(S ~ 1, conf.type = ct)
  wr(data.frame(time = f$time, surv = f$surv, std_err = f$std.err,
                lower = f$lower, upper = f$upper), paste0("km_", ct, ".csv"))
}
sd <- survdiff(S ~ sokal, data = d)
wr(data.frame(chisq = sd$chisq), "logrank.csv")
two <- d$sokal != "intermediate"
sd2 <- survdiff(Surv(duration_months, event) ~ sokal, data = d[two, ])
no_high <- survdiff(Surv(duration_months, event & sokal != "high") ~ sokal, data = d)
wr(data.frame(chisq = c(sd2$chisq, no_high$chisq)), "logrank_more.csv")
fit <- coxph(S ~ sokal + age + depth, data = d, ties = "efron",
             control = coxph.control(eps = 1e-12, iter.max = 100))
wr(data.frame(coef = unname(coef(fit)), loglik0 = fit$loglik[1], loglik = fit$loglik[2],
              aic = AIC(fit)), "cox.csv")
cc <- fit$concordance
wr(data.frame(concordant = cc[["concordant"]], discordant = cc[["discordant"]],
              tied_x = cc[["tied.x"]], tied_y = cc[["tied.y"]], tied_xy = cc[["tied.xy"]],
              concordance = cc[["concordance"]], std = cc[["std"]]), "concordance.csv")
for (tr in c("km", "rank")) {
  z <- cox.zph(fit, transform = tr)
  wr(data.frame(term = rownames(z$table), chisq = z$table[, "chisq"],
                df = z$table[, "df"]), paste0("zph_", tr, ".csv"))
}
g <- survfit(S ~ sokal, data = d, conf.type = "log")
tab <- summary(g, rmean = as.numeric(args[3]))$table
wr(data.frame(group = sub("sokal=", "", rownames(tab)), rmean = tab[, "rmean"],
              se = tab[, "se(rmean)"], median = tab[, "median"],
              lcl = tab[, "0.95LCL"], ucl = tab[, "0.95UCL"]), "by_group.csv")
"""


def _r_available() -> str | None:
    """None if R and survival (>= 3.0) can run, else the reason to skip."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (install r-base-core and r-cran-survival)"
    probe = subprocess.run(
        ["Rscript", "-e", 'stopifnot(packageVersion("survival") >= "3.0")'],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"R package survival >= 3.0 not available: {probe.stderr.strip()[:200]}"
    return None


def _cohort(seed: int = 20240601) -> pd.DataFrame:
    """Sokal group, age (years), depth (log10 reduction) and MRFS on a 3-month grid.

    ASSUMPTION: effect sizes and the Weibull shape are illustrative (of the order
    of TFR studies); the shape 0.8 for the high group makes hazards non-proportional,
    so cox.zph has something to find.
    """
    rng = np.random.default_rng(seed)
    sokal = rng.choice(np.array(GROUPS), N, p=[0.4, 0.35, 0.25])
    age = rng.normal(55.0, 12.0, N)
    depth = rng.normal(4.5, 0.5, N)
    lp = 0.3 * (sokal == "intermediate") + 0.6 * (sokal == "high") + 0.01 * (age - 55)
    lp -= 0.4 * (depth - 4.5)
    shape = np.where(sokal == "high", 0.8, 1.0)
    latent = 12.0 * (rng.exponential(size=N) * np.exp(-lp)) ** (1 / shape)
    censor = rng.uniform(6.0, 60.0, N)
    duration = np.ceil(np.minimum(latent, censor) / 3.0) * 3.0
    return pd.DataFrame(
        {
            "duration_months": duration,
            "event": latent <= censor,
            "sokal_group": sokal,
            "sokal_intermediate": (sokal == "intermediate").astype(float),
            "sokal_high": (sokal == "high").astype(float),
            "age": np.round(age, 3),
            "depth": np.round(depth, 3),
        }
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    reason = _r_available()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("r_reference")
    data = _cohort()
    data.assign(event=data["event"].astype(int)).to_csv(folder / "cohort.csv", index=False)
    script = folder / "reference.R"
    script.write_text(R_SCRIPT)
    subprocess.run(
        ["Rscript", str(script), str(folder / "cohort.csv"), str(folder), str(TAU)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return data, folder


def _arrays(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        data["duration_months"].to_numpy(float),
        data["event"].to_numpy(bool),
        data[COLUMNS].to_numpy(float),
    )


@pytest.mark.parametrize("transform", ["log", "log-log", "plain"])
def test_km_equals_survfit(reference: tuple[pd.DataFrame, Path], transform: str) -> None:
    data, folder = reference
    t, e, _ = _arrays(data)
    r = pd.read_csv(folder / f"km_{transform}.csv")
    km = km_estimate(t, e, ci_transform=transform)  # type: ignore[arg-type]
    np.testing.assert_allclose(km.time, r["time"], atol=TOL)
    np.testing.assert_allclose(km.survival, r["surv"], atol=TOL)
    np.testing.assert_allclose(km.se_log, r["std_err"], atol=TOL)
    np.testing.assert_allclose(km.lower, r["lower"], atol=TOL)
    np.testing.assert_allclose(km.upper, r["upper"], atol=TOL)


def test_logrank_equals_survdiff(reference: tuple[pd.DataFrame, Path]) -> None:
    data, folder = reference
    r = pd.read_csv(folder / "logrank.csv")
    result = logrank_by_group(data)
    assert result.statistic == pytest.approx(r["chisq"].iloc[0], rel=TOL)


def test_logrank_two_groups_and_a_group_without_events_equal_survdiff(
    reference: tuple[pd.DataFrame, Path],
) -> None:
    """The numpy log-rank test (logrank_by_group) equals R's survdiff on two groups
    (low, high) and on three groups of which one (high) has no events, on the
    3-monthly grid (heavy ties).

    Catches: a wrong 1-df statistic, a group without events dropped or mishandled in
    the covariance (it has patients at risk, hence expected events).
    """
    data, folder = reference
    r = pd.read_csv(folder / "logrank_more.csv")["chisq"].to_numpy()
    two = logrank_by_group(data[data["sokal_group"] != "intermediate"])
    no_high = logrank_by_group(data.assign(event=data["event"] & (data["sokal_group"] != "high")))
    assert (two.df, no_high.df) == (1, 2)
    assert two.statistic == pytest.approx(r[0], rel=TOL)
    assert no_high.statistic == pytest.approx(r[1], rel=TOL)


def test_cox_and_fit_statistics_equal_coxph(reference: tuple[pd.DataFrame, Path]) -> None:
    data, folder = reference
    t, e, x = _arrays(data)
    r = pd.read_csv(folder / "cox.csv")
    fit = fit_efron(x, t, e)
    np.testing.assert_allclose(fit.coef, r["coef"], atol=TOL)
    stats = cox_fit_statistics(t, e, x, fit.coef)
    assert stats.loglik == pytest.approx(r["loglik"].iloc[0], abs=TOL)
    assert stats.loglik_null == pytest.approx(r["loglik0"].iloc[0], abs=TOL)
    assert stats.aic == pytest.approx(r["aic"].iloc[0], abs=TOL)


def test_concordance_equals_coxph(reference: tuple[pd.DataFrame, Path]) -> None:
    data, folder = reference
    t, e, x = _arrays(data)
    r = pd.read_csv(folder / "concordance.csv").iloc[0]
    coef = pd.read_csv(folder / "cox.csv")["coef"].to_numpy()
    c = concordance_index(t, e, x @ coef)
    assert (c.concordant, c.discordant, c.tied_risk, c.tied_time, c.tied_both) == (
        int(r["concordant"]),
        int(r["discordant"]),
        int(r["tied_x"]),
        int(r["tied_y"]),
        int(r["tied_xy"]),
    )
    assert c.concordance == pytest.approx(r["concordance"], abs=TOL)
    assert c.se == pytest.approx(r["std"], abs=TOL)


@pytest.mark.parametrize("transform", ["km", "rank"])
def test_zph_equals_cox_zph(reference: tuple[pd.DataFrame, Path], transform: str) -> None:
    data, folder = reference
    t, e, x = _arrays(data)
    r = pd.read_csv(folder / f"zph_{transform}.csv")
    coef = pd.read_csv(folder / "cox.csv")["coef"].to_numpy()
    result = cox_zph(t, e, x, coef, TERMS, transform=transform)  # type: ignore[arg-type]
    assert list(r["term"]) == ["sokal", "age", "depth", "GLOBAL"]
    np.testing.assert_allclose(result.chisq, r["chisq"], rtol=TOL)
    np.testing.assert_array_equal(result.df, r["df"])


def test_rmst_and_median_equal_survfit(reference: tuple[pd.DataFrame, Path]) -> None:
    data, folder = reference
    t, e, _ = _arrays(data)
    r = pd.read_csv(folder / "by_group.csv").set_index("group").loc[list(GROUPS)]
    groups = data["sokal_group"].to_numpy()
    area = rmst(t, e, TAU, groups=groups, order=GROUPS)
    np.testing.assert_allclose(area.rmst, r["rmean"], atol=TOL)
    np.testing.assert_allclose(area.se, r["se"], atol=TOL)
    med = median_survival(t, e, groups=groups, order=GROUPS, ci_transform="log")
    np.testing.assert_allclose(med.median, r["median"], atol=TOL)
    np.testing.assert_allclose(med.lower, r["lcl"], atol=TOL)
    np.testing.assert_allclose(med.upper, r["ucl"], atol=TOL)
