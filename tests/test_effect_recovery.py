"""Effect-recovery contract: every registered disease model maps covariates to risk
with the generating effects' signs and sizes.

The closed-form tests of ``test_disease.py`` compare the simulator with curves built on
the same linear predictor, so a sign flipped or an effect applied to the wrong covariate
there goes unseen. Here the covariate columns are taken from the cohort itself and the
effects are *estimated* by independent code (lifelines, or a logistic or complementary
log-log regression written below), then compared with the values the model was given:

* latent relapse months, for each model by the recovery its registry entry declares
  (:attr:`tfrsim.disease.registry.DiseaseModel.recovery`), each estimate within
  4 standard errors of the generating log effect;
* observed relapses (the whole study: schedule, assay, rule, censoring), where effects
  are attenuated but every one must keep its sign, significantly.

A model registered without a ``recovery`` is skipped with the reason; a new model is
picked up automatically (the tests are parametrised over ``tfrsim.disease.MODELS``).
"""

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, WeibullAFTFitter

from tfrsim import load_params, simulate_patients
from tfrsim.cohort.sample import Cohort, sample_cohort
from tfrsim.disease import MODELS, simulate_course
from tfrsim.disease.params import CovariateEffects
from tfrsim.random import stream

N = 10_000
#: Distinct, non-zero generating effects: a sign flip or two effects swapped moves an
#: estimate by >= 0.1, many standard errors at this size (SE ~0.02-0.03).
EFFECTS: dict[str, float] = {
    "sokal_intermediate": 0.35,
    "sokal_high": 0.7,
    "tki_per_year": -0.15,
    "dmr_per_year": -0.25,
    "prior_ifn": -0.5,
    "male": 0.3,
}
#: A cohort in which every covariate varies.
COHORT = [
    f"cohort.n_patients={N}",
    "cohort.sokal_shares={low: 0.34, intermediate: 0.33, high: 0.33}",
    "cohort.male_fraction=0.5",
    "cohort.prior_ifn_fraction=0.4",
]
#: Latent relapse months beyond this are censored (NaN = never relapses).
HORIZON_MONTHS = 600.0
Z = 4.0


def covariates(cohort: Cohort) -> pd.DataFrame:
    """The covariates of :data:`EFFECTS`, built from the cohort's own columns."""
    return pd.DataFrame(
        {
            "sokal_intermediate": (cohort.sokal_group == 1).astype(float),
            "sokal_high": (cohort.sokal_group == 2).astype(float),
            "tki_per_year": cohort.tki_years,
            "dmr_per_year": cohort.dmr_years,
            "prior_ifn": cohort.prior_ifn.astype(float),
            "male": cohort.male.astype(float),
        }
    )


def _model(name: str, seed: int = 0):  # type: ignore[no-untyped-def]
    entry = MODELS[name]
    if entry.recovery is None:
        pytest.skip(f"model {name!r} declares no recovery (DiseaseModel.recovery)")
    params = load_params([f"model={name}", *COHORT])
    if not isinstance(getattr(params.model, "effects", None), CovariateEffects):
        pytest.skip(f"model {name!r} has no CovariateEffects")
    # Effects on covariates the fits below do not use are switched off (model v2 acts
    # per doubling of imatinib duration and per log of depth at stop).
    effects = {**EFFECTS, "tki_per_doubling": 0.0, "depth_per_log": 0.0}
    model = dataclasses.replace(
        params.model, effects=dataclasses.replace(params.model.effects, **effects)
    )
    cohort = sample_cohort(params.cohort, N, rng=stream("cohort", seed=31 + seed, replicate=0))
    course = simulate_course(
        cohort, name, model, rng=stream("disease", seed=31 + seed, replicate=0)
    )
    return entry.recovery, model, cohort, course


def _cox(frame: pd.DataFrame, duration: str, event: str) -> tuple[pd.Series, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(frame, duration, event)
    return fit.params_, fit.standard_errors_


def _within(estimate: pd.Series, se: pd.Series, expected: dict[str, float], what: str) -> None:
    for name, value in expected.items():
        z = (estimate[name] - value) / se[name]
        assert abs(z) < Z, f"{what} {name}: {estimate[name]:.4f} vs {value} ({z:+.1f} SE)"


def _binary_fit(
    x: np.ndarray,
    y: np.ndarray,
    inverse_link: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood binary regression, ``P(y = 1) = mu(b0 + x b)`` (Fisher
    scoring, intercept first): coefficients and standard errors from the inverse
    information. ``inverse_link(eta)`` gives ``mu`` and ``d mu / d eta``."""
    design = np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        mu, dmu = inverse_link(design @ beta)
        mu = np.clip(mu, 1e-12, 1 - 1e-12)
        variance = mu * (1 - mu)
        info = design.T @ (design * (dmu**2 / variance)[:, None])
        step = np.linalg.solve(info, design.T @ (dmu / variance * (y - mu)))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            return beta, np.sqrt(np.diag(np.linalg.inv(info)))
    raise RuntimeError("binary regression did not converge in 100 scoring steps")


def _logistic(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = 1 / (1 + np.exp(-eta))
    return mu, mu * (1 - mu)


def _cloglog(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return -np.expm1(-np.exp(eta)), np.exp(eta - np.exp(eta))


def logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression (:func:`_binary_fit`; Fisher scoring is Newton's method
    for this, the canonical link)."""
    return _binary_fit(x, y, _logistic)


def cloglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complementary log-log regression, ``P(y = 1) = 1 - exp(-exp(b0 + x b))``
    (:func:`_binary_fit`)."""
    return _binary_fit(x, y, _cloglog)


@pytest.mark.parametrize("fit", [logistic_fit, cloglog_fit])
def test_binary_fits_match_an_intercept_only_closed_form(fit) -> None:  # type: ignore[no-untyped-def]
    """Catches wrong standard errors in the shared scoring routine (the recoveries
    judge estimates in units of them): with an intercept only, the estimate is the
    link of the observed share and its SE, by the delta method written here,
    ``sqrt(p (1 - p) / n) / (d mu / d eta)``."""
    rng = np.random.default_rng(2)
    n = 40_000
    y = (rng.random(n) < 0.3).astype(float)
    beta, se = fit(np.empty((n, 0)), y)
    p = y.mean()
    if fit is logistic_fit:
        eta, slope = np.log(p / (1 - p)), p * (1 - p)
    else:
        eta = np.log(-np.log1p(-p))
        slope = np.exp(eta - np.exp(eta))
    assert beta[0] == pytest.approx(eta, abs=1e-9)
    assert se[0] == pytest.approx(np.sqrt(p * (1 - p) / n) / slope, rel=1e-9)


def test_cloglog_fit_recovers_known_coefficients() -> None:
    """Catches a broken helper (the immune model's recovery below relies on it): data
    drawn as Poisson counts (one or more = 1) with log mean ``b0 + x b``."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50_000, 2))
    truth = np.array([0.2, 0.6, -0.4])
    y = (rng.poisson(np.exp(truth[0] + x @ truth[1:])) > 0).astype(float)
    beta, se = cloglog_fit(x, y)
    np.testing.assert_array_less(np.abs(beta - truth), Z * se)
    assert se.max() < 0.02  # the premise: the check is tight


def test_logistic_fit_recovers_known_coefficients() -> None:
    """Catches a broken helper (the mixture-cure recovery below relies on it)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50_000, 2))
    truth = np.array([0.3, -0.8, 0.5])
    y = (rng.random(50_000) < 1 / (1 + np.exp(-(truth[0] + x @ truth[1:])))).astype(float)
    beta, se = logistic_fit(x, y)
    np.testing.assert_array_less(np.abs(beta - truth), Z * se)


@pytest.mark.statistical
@pytest.mark.parametrize("name", sorted(MODELS))
def test_latent_times_recover_every_generating_effect(name: str) -> None:
    """Catches a reversed sign of a covariate effect (e.g. Sokal high lowering risk), an
    effect applied to the wrong covariate, or reversed mixture-cure covariate effects:
    the estimates from latent relapse months sit within 4 SE of the generating values.

    * ``proportional_hazards``: Cox fit (lifelines) on the latent month, censored at
      :data:`HORIZON_MONTHS` (never-relapsers included): coefficients = effects.
    * ``mixture_cure``: logistic regression of cure on the covariates (coefficients =
      -effects, intercept = cure_logit0 + effects at the reference durations) and a
      Weibull AFT fit (lifelines) on the uncured (log-scale coefficients =
      -effect / shape, shape = weibull_shape).
    * ``poisson_clones``: complementary log-log regression (written above) of ever
      relapsing (a finite latent month) on the covariates: intercept = log theta0 +
      effects at the reference durations, coefficients = effects.
    """
    recovery, model, cohort, course = _model(name)
    x = covariates(cohort)
    t = course.relapse_month
    if recovery == "proportional_hazards":
        frame = x.assign(T=np.fmin(t, HORIZON_MONTHS), E=(t <= HORIZON_MONTHS).astype(float))
        coef, se = _cox(frame, "T", "E")
        _within(coef, se, EFFECTS, f"{name} latent Cox")
    elif recovery == "mixture_cure":
        cured = np.isnan(t).astype(float)
        beta, se = logistic_fit(x.to_numpy(), cured)
        e = model.effects
        intercept = model.cure_logit0 + e.tki_per_year * e.tki_ref_years
        intercept += e.dmr_per_year * e.dmr_ref_years
        _within(
            pd.Series(beta, index=["intercept", *x.columns]),
            pd.Series(se, index=["intercept", *x.columns]),
            {"intercept": intercept, **{k: -v for k, v in EFFECTS.items()}},
            f"{name} cure logit",
        )
        uncured = ~np.isnan(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aft = WeibullAFTFitter().fit(x[uncured].assign(T=t[uncured]), "T")
        k = model.weibull_shape
        lam = aft.params_.loc["lambda_"]
        lam_se = aft.standard_errors_.loc["lambda_"]
        _within(lam, lam_se, {c: -v / k for c, v in EFFECTS.items()}, f"{name} Weibull scale")
        rho = aft.params_.loc[("rho_", "Intercept")]
        rho_se = aft.standard_errors_.loc[("rho_", "Intercept")]
        assert abs(rho - np.log(k)) < Z * rho_se, f"Weibull log shape {rho} vs {np.log(k)}"
    elif recovery == "poisson_clones":
        ever = (~np.isnan(t)).astype(float)
        beta, se = cloglog_fit(x.to_numpy(), ever)
        e = model.effects
        intercept = np.log(model.theta0) - e.tki_per_year * e.tki_ref_years
        intercept -= e.dmr_per_year * e.dmr_ref_years
        _within(
            pd.Series(beta, index=["intercept", *x.columns]),
            pd.Series(se, index=["intercept", *x.columns]),
            {"intercept": intercept, **EFFECTS},
            f"{name} ever-relapse cloglog",
        )
    else:
        pytest.fail(f"model {name!r}: unknown recovery {recovery!r}")


@pytest.mark.statistical
@pytest.mark.parametrize("name", sorted(MODELS))
def test_observed_relapses_keep_the_sign_of_every_effect(name: str) -> None:
    """Catches an effect that reverses or vanishes between the latent course and what
    the study observes (e.g. covariates joined to the wrong patients, or a model whose
    observed data carry the wrong sign): a Cox fit on the observed relapses of a whole
    study has every coefficient of the generating sign, at least 2 SE from zero."""
    if getattr(MODELS[name], "recovery", None) is None:
        pytest.skip(f"model {name!r} declares no recovery (DiseaseModel.recovery)")
    params = load_params(
        [f"model={name}", *COHORT, *(f"model.effects.{k}={v}" for k, v in EFFECTS.items())]
    )
    patients = simulate_patients(params)
    frame = pd.DataFrame(
        {
            "sokal_intermediate": (patients["sokal_group"] == "intermediate").astype(float),
            "sokal_high": (patients["sokal_group"] == "high").astype(float),
            "tki_per_year": patients["tki_years"],
            "dmr_per_year": patients["dmr_years"],
            "prior_ifn": patients["prior_ifn"].astype(float),
            "male": patients["male"].astype(float),
            "T": patients["duration_months"],
            "E": patients["event"].astype(float),
        }
    )
    coef, se = _cox(frame, "T", "E")
    for k, v in EFFECTS.items():
        assert np.sign(v) * coef[k] > 2 * se[k], f"{name} observed {k}: {coef[k]:.3f} ± {se[k]:.3f}"


@pytest.mark.statistical
@pytest.mark.parametrize(
    "name",
    sorted(
        n for n, m in MODELS.items() if m.recovery in ("proportional_hazards", "poisson_clones")
    ),
)
def test_latent_times_recover_an_effect_per_doubling_of_tki_duration(name: str) -> None:
    """Catches a per-doubling duration effect with the wrong sign, on the wrong scale
    (natural log or per year instead of log2) or centred wrongly: generated with
    ``tki_per_doubling = -1`` and no per-year term, a Cox fit (lifelines) of the
    latent months on ``log2(tki_years / tki_ref_years)`` (built here from the cohort's
    own column) and the other covariates recovers -1 within 4 SE. The imatinib
    durations are spread wide (log-normal SD 0.8) so that the SE (~0.03) separates -1
    from a natural-log slip (-1 per log2 unit read as -0.69). For a ``poisson_clones``
    model (the default, model v2) the fit is the complementary log-log regression of
    ever relapsing, as in the test above. Depth at stop is constant in this cohort,
    so its effect is switched off."""
    effects = {**EFFECTS, "tki_per_year": 0.0, "tki_per_doubling": -1.0, "depth_per_log": 0.0}
    params = load_params([f"model={name}", *COHORT, "cohort.tki_years={median: 5.0, sigma: 0.8}"])
    model = dataclasses.replace(
        params.model, effects=dataclasses.replace(params.model.effects, **effects)
    )
    cohort = sample_cohort(params.cohort, N, rng=stream("cohort", seed=37, replicate=0))
    course = simulate_course(cohort, name, model, rng=stream("disease", seed=37, replicate=0))
    t = course.relapse_month
    x = covariates(cohort).drop(columns="tki_per_year")
    x["tki_per_doubling"] = np.log2(cohort.tki_years / model.effects.tki_ref_years)
    expected = {k: v for k, v in effects.items() if k not in ("tki_per_year", "depth_per_log")}
    if MODELS[name].recovery == "poisson_clones":
        # log2(tki / ref) is 0 at the reference: no shift of the intercept from it.
        beta, se_ = cloglog_fit(x.to_numpy(), (~np.isnan(t)).astype(float))
        index = ["intercept", *x.columns]
        intercept = np.log(model.theta0) - effects["dmr_per_year"] * model.effects.dmr_ref_years
        _within(
            pd.Series(beta, index=index),
            pd.Series(se_, index=index),
            {"intercept": intercept, **expected},
            f"{name} ever-relapse cloglog (per doubling)",
        )
        return
    frame = x.assign(T=np.fmin(t, HORIZON_MONTHS), E=(t <= HORIZON_MONTHS).astype(float))
    coef, se = _cox(frame, "T", "E")
    _within(coef, se, expected, f"{name} latent Cox (per doubling)")
