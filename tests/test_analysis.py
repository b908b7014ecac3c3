"""Tests of tfrsim.analysis against hand-computed and independently computed references."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from tfrsim.analysis import (
    VALID_COVARIATES,
    AnalysisResult,
    analyse,
    fit_cox,
    fit_km,
    logrank_by_group,
)
from tfrsim.analysis.estimands import ESTIMAND_COLUMNS
from tfrsim.analysis.params import AnalysisParams
from tfrsim.cohort.params import SOKAL_GROUPS

PARAMS = AnalysisParams(
    milestones_months=(0.0, 3.0, 6.0, 10.0, 12.0, 20.0),
    at_risk_months=(0.0, 6.0, 12.0, 18.0),
    cox_covariates=("sokal_group", "tki_years", "male"),
    alpha=0.05,
    ph_test=True,
    methods=("km", "logrank", "cox"),
)


def make_patients(durations, events, sokal, **columns) -> pd.DataFrame:
    """Patient table in the ``patients.parquet`` schema; other columns get defaults."""
    n = len(durations)
    table = {
        "duration_months": np.asarray(durations, dtype=float),
        "event": np.asarray(events, dtype=bool),
        "sokal_group": pd.Categorical(sokal, categories=list(SOKAL_GROUPS), ordered=True),
        "tki_years": np.linspace(5.0, 9.0, n),
        "dmr_years": np.linspace(2.0, 4.0, n),
        "prior_ifn": np.zeros(n, dtype=bool),
        "male": np.arange(n) % 2 == 0,
        "age_years": np.linspace(30.0, 70.0, n),
        "depth_log": np.full(n, 4.5),
        "sokal_score": np.full(n, np.nan),
        "elts_score": np.full(n, np.nan),
    }
    table.update(columns)
    return pd.DataFrame(table)


@pytest.fixture
def small() -> pd.DataFrame:
    """Ten patients with ties and censoring; the intermediate Sokal group is empty.

    row   0  1  2  3  4  5  6  7   8   9
    month 3  3  3  6  6  6  9  12  12  15
    event 1  0  1  1  1  0  0  1   0   0
    sokal L  H  L  L  H  H  L  H   L   H
    """
    return make_patients(
        durations=[3, 3, 3, 6, 6, 6, 9, 12, 12, 15],
        events=[1, 0, 1, 1, 1, 0, 0, 1, 0, 0],
        sokal=["low", "high", "low", "low", "high", "high", "low", "high", "low", "high"],
    )


# --- Kaplan–Meier -------------------------------------------------------------------


def _milestone(km, group: str, month: float) -> pd.Series:
    rows = km.milestones[(km.milestones["group"] == group) & (km.milestones["month"] == month)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_km_milestones_match_product_limit_by_hand(small):
    km = fit_km(small, PARAMS)
    # All patients (product limit, n at risk / d events at each event month):
    #   month 3: n=10, d=2 -> S = 1 - 2/10 = 0.8
    #   month 6: n=7,  d=2 -> S = 0.8 * (1 - 2/7)
    #   month 12: n=3, d=1 -> S = 0.8 * (5/7) * (1 - 1/3)
    s3, s6, s12 = 0.8, 0.8 * 5 / 7, 0.8 * 5 / 7 * 2 / 3
    expected_all = {0.0: 1.0, 3.0: s3, 6.0: s6, 10.0: s6, 12.0: s12}
    for month, value in expected_all.items():
        assert _milestone(km, "all", month)["survival"] == pytest.approx(value, abs=1e-12)
    # Sokal low (months 3,3,6,9,12 / events 1,1,1,0,0): 3: 1-2/5; 6: (3/5)(1-1/3).
    assert _milestone(km, "low", 6.0)["survival"] == pytest.approx(3 / 5 * 2 / 3, abs=1e-12)
    assert _milestone(km, "low", 12.0)["survival"] == pytest.approx(0.4, abs=1e-12)
    # Sokal high (3,6,6,12,15 / 0,1,0,1,0): 6: 1-1/4; 12: (3/4)(1-1/2).
    assert _milestone(km, "high", 3.0)["survival"] == pytest.approx(1.0, abs=1e-12)
    assert _milestone(km, "high", 12.0)["survival"] == pytest.approx(0.375, abs=1e-12)
    # Month 20 is beyond the last follow-up (15) and S > 0: not estimable.
    assert math.isnan(_milestone(km, "all", 20.0)["survival"])
    # The empty intermediate group is skipped everywhere.
    assert set(km.curves["group"]) == {"all", "low", "high"}
    assert set(km.milestones["group"]) == {"all", "low", "high"}


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_km_ci_is_exponential_greenwood(small, alpha):
    km = fit_km(small, replace(PARAMS, alpha=alpha))
    row = _milestone(km, "all", 6.0)
    # Exponential Greenwood (log(-log S)) interval at month 6, computed independently:
    #   Greenwood sum = d/(n(n-d)) over months 3 and 6 = 2/(10*8) + 2/(7*5)
    #   var(log(-log S)) = sum / (log S)^2, theta = log(-log S)
    #   lower = exp(-exp(theta + z se)), upper = exp(-exp(theta - z se))
    s = 0.8 * 5 / 7
    greenwood = 2 / (10 * 8) + 2 / (7 * 5)
    se = math.sqrt(greenwood / math.log(s) ** 2)
    theta = math.log(-math.log(s))
    z = stats.norm.ppf(1 - alpha / 2)
    assert row["lower"] == pytest.approx(math.exp(-math.exp(theta + z * se)), rel=1e-9)
    assert row["upper"] == pytest.approx(math.exp(-math.exp(theta - z * se)), rel=1e-9)
    assert row["lower"] < s < row["upper"]
    start = _milestone(km, "all", 0.0)
    assert (start["lower"], start["upper"]) == (1.0, 1.0)


def test_km_curves_are_step_tables_from_month_zero(small):
    curves = fit_km(small, PARAMS).curves
    assert list(curves.columns) == ["group", "month", "survival", "lower", "upper"]
    for _, curve in curves.groupby("group"):
        assert curve["month"].iloc[0] == 0.0
        assert curve["survival"].iloc[0] == 1.0
        assert curve["month"].is_monotonic_increasing
        assert curve["survival"].is_monotonic_decreasing
    high = curves[curves["group"] == "high"]
    # Distinct observed months of the high group (3, 6, 12, 15) after the origin.
    assert high["month"].tolist() == [0.0, 3.0, 6.0, 12.0, 15.0]
    assert high["survival"].tolist() == pytest.approx([1.0, 1.0, 0.75, 0.375, 0.375])


def test_km_at_risk_counts_by_hand(small):
    at_risk = fit_km(small, PARAMS).at_risk
    counts = {(g, m): n for g, m, n in at_risk.itertuples(index=False)}
    # duration >= month; at month 0 every patient of the group.
    assert counts == {
        ("all", 0.0): 10, ("all", 6.0): 7, ("all", 12.0): 3, ("all", 18.0): 0,
        ("low", 0.0): 5, ("low", 6.0): 3, ("low", 12.0): 1, ("low", 18.0): 0,
        ("high", 0.0): 5, ("high", 6.0): 4, ("high", 12.0): 2, ("high", 18.0): 0,
    }  # fmt: skip


def test_km_to_frame_and_relapse_at_month_zero():
    data = make_patients([0, 2, 4], [1, 1, 0], ["low"] * 3)
    km = fit_km(data, PARAMS)
    curve = km.to_frame()
    curve = curve[curve["group"] == "all"]
    # A relapse recorded at month 0 still gives a first row (0, 1), then the drop.
    assert curve["month"].tolist()[:2] == [0.0, 0.0]
    assert curve["survival"].tolist()[:2] == pytest.approx([1.0, 2 / 3])
    # Curve reaches 0 at month 2 (n=2, d=2... no: n=2, d=1 -> 2/3 * 1/2), censored at 4.
    assert _milestone(km, "all", 3.0)["survival"] == pytest.approx(1 / 3)


def test_km_rejects_bad_input(small):
    with pytest.raises(ValueError, match="duration_months"):
        fit_km(small.assign(duration_months=-1.0), PARAMS)
    with pytest.raises(ValueError, match="missing required column"):
        fit_km(small.drop(columns="event"), PARAMS)
    with pytest.raises(ValueError, match="milestones_months"):
        fit_km(small, replace(PARAMS, milestones_months=(-1.0,)))


# --- log-rank -----------------------------------------------------------------------


def logrank_two_groups(durations, events, in_group1):
    """Independent two-sample log-rank: sum of O-E and hypergeometric variance."""
    o_minus_e, variance = 0.0, 0.0
    for t in np.unique(durations[events]):
        at_risk = durations >= t
        n, n1 = at_risk.sum(), (at_risk & in_group1).sum()
        dead = (durations == t) & events
        d, d1 = dead.sum(), (dead & in_group1).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return o_minus_e**2 / variance


def test_logrank_matches_independent_two_group_computation(small):
    result = logrank_by_group(small)
    durations = small["duration_months"].to_numpy()
    events = small["event"].to_numpy()
    low = (small["sokal_group"] == "low").to_numpy()
    # By hand, low group: O = 3; E = 2*5/10 + 2*3/7 + 1*1/3 = 2.190476;
    # V = 2(.5)(.5)(8/9) + 2(3/7)(4/7)(5/6) + 1(1/3)(2/3)(2/2) = 1.074830.
    expected = logrank_two_groups(durations, events, low)
    assert expected == pytest.approx((3 - 2.1904762) ** 2 / 1.0748299, rel=1e-6)
    assert result.statistic == pytest.approx(expected, rel=1e-10)
    assert result.p == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-10)
    assert (result.df, result.n_groups, result.note) == (1, 2, "")


def test_logrank_three_groups_has_two_df(small):
    data = small.copy()
    data.loc[[1, 5], "sokal_group"] = "intermediate"
    result = logrank_by_group(data)
    assert (result.df, result.n_groups) == (2, 3)
    assert math.isfinite(result.statistic)


def test_logrank_single_group_returns_nan_with_note(small):
    result = logrank_by_group(small.assign(sokal_group=pd.Categorical(["low"] * 10, SOKAL_GROUPS)))
    assert math.isnan(result.statistic)
    assert math.isnan(result.p)
    assert result.n_groups == 1
    assert "at least 2" in result.note
    assert result.to_frame().shape == (1, 5)


def test_logrank_no_events_returns_nan_with_note(small):
    result = logrank_by_group(small.assign(event=False))
    assert math.isnan(result.statistic)
    assert "event" in result.note


# --- Cox ----------------------------------------------------------------------------


def efron_negative_log_likelihood(beta, x, durations, events):
    """Efron partial likelihood and its gradient, written from Efron (1977) and
    Therneau & Grambsch (2000) §3.3; independent of lifelines.

    At each event month with d tied relapsers D and risk set R, the log likelihood
    gains sum_D eta - sum_{k<d} log(sum_R r - k/d sum_D r), with r = exp(eta).
    """
    eta = x @ beta
    risk = np.exp(eta)
    loglik, gradient = 0.0, np.zeros_like(beta)
    for t in np.unique(durations[events]):
        dead = (durations == t) & events
        at_risk = durations >= t
        d = dead.sum()
        loglik += eta[dead].sum()
        gradient += x[dead].sum(axis=0)
        for k in range(d):
            denominator = risk[at_risk].sum() - k / d * risk[dead].sum()
            numerator = risk[at_risk] @ x[at_risk] - k / d * (risk[dead] @ x[dead])
            loglik -= math.log(denominator)
            gradient -= numerator / denominator
    return -loglik, -gradient


def reference_coefficients(x, durations, events):
    """Maximise the independent Efron likelihood with scipy BFGS (the reference)."""
    fit = optimize.minimize(
        efron_negative_log_likelihood,
        np.zeros(x.shape[1]),
        args=(x, durations, events),
        jac=True,
        method="BFGS",
        options={"gtol": 1e-10, "maxiter": 1_000},
    )
    assert np.abs(fit.jac).max() < 1e-7, fit.message
    return fit.x


def tied_cohort(n: int, seed: int) -> pd.DataFrame:
    """Cohort on a 3-month visit grid (heavy ties) with all three Sokal groups."""
    rng = np.random.default_rng(seed)
    sokal = rng.choice(list(SOKAL_GROUPS), size=n, p=[0.4, 0.35, 0.25])
    male = rng.random(n) < 0.5
    imatinib = rng.uniform(3.0, 10.0, n)
    eta = 0.4 * (sokal == "intermediate") + 0.9 * (sokal == "high") - 0.15 * imatinib
    latent = rng.exponential(12.0 / np.exp(eta))
    censor = rng.uniform(6.0, 36.0, n)
    visit = 3.0 * np.ceil(np.minimum(latent, censor) / 3.0)
    return make_patients(
        visit,
        latent <= censor,
        sokal,
        male=male,
        tki_years=imatinib,
    )


def _design(data: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [
            (data["sokal_group"] == "intermediate").to_numpy(float),
            (data["sokal_group"] == "high").to_numpy(float),
            data["tki_years"].to_numpy(float),
            data["male"].to_numpy(float),
        ]
    )


@pytest.mark.parametrize("n", [40, 1_200])  # 1 200 rows exercises lifelines' batch mode
def test_cox_coefficients_match_independent_efron_fit(n):
    data = tied_cohort(n, seed=7)
    result = fit_cox(data, replace(PARAMS, ph_test=False))
    reference = reference_coefficients(
        _design(data), data["duration_months"].to_numpy(), data["event"].to_numpy()
    )
    assert result.converged, result.message
    assert result.table["covariate"].tolist() == [
        "sokal_intermediate", "sokal_high", "tki_years", "male",
    ]  # fmt: skip
    np.testing.assert_allclose(result.table["coef"].to_numpy(), reference, atol=1e-5)
    assert (result.n, result.n_events) == (n, int(data["event"].sum()))
    table = result.to_frame()
    np.testing.assert_allclose(table["hr"], np.exp(table["coef"]), rtol=1e-12)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(table["lower"], np.exp(table["coef"] - z * table["se"]), rtol=1e-9)
    np.testing.assert_allclose(table["upper"], np.exp(table["coef"] + z * table["se"]), rtol=1e-9)
    np.testing.assert_allclose(table["p"], 2 * stats.norm.sf(abs(table["coef"] / table["se"])))


def test_cox_drops_empty_sokal_group_and_constant_columns():
    data = tied_cohort(60, seed=3)
    data.loc[data["sokal_group"] == "intermediate", "sokal_group"] = "low"
    params = replace(PARAMS, cox_covariates=("sokal_group", "prior_ifn", "sokal_score", "male"))
    result = fit_cox(data, params)
    assert result.converged, result.message
    assert set(result.dropped) == {"sokal_intermediate", "prior_ifn", "sokal_score"}
    assert "intermediate" in result.dropped["sokal_intermediate"]
    assert "constant" in result.dropped["prior_ifn"]
    assert "missing" in result.dropped["sokal_score"]
    table = result.table.set_index("covariate")
    assert table.loc[["sokal_intermediate", "prior_ifn", "sokal_score"]].isna().all().all()
    assert np.isfinite(table.loc[["sokal_high", "male"], "coef"]).all()
    # The dropped terms do not change the fit: same coefficients as the reduced model.
    x = np.column_stack(
        [(data["sokal_group"] == "high").to_numpy(float), data["male"].to_numpy(float)]
    )
    reference = reference_coefficients(
        x, data["duration_months"].to_numpy(), data["event"].to_numpy()
    )
    np.testing.assert_allclose(table.loc[["sokal_high", "male"], "coef"], reference, atol=1e-5)


def test_cox_unknown_covariate_raises_naming_valid_names():
    """An unknown Cox covariate is refused when the parameters are built (before any
    simulation), naming every valid covariate."""
    with pytest.raises(ValueError, match="cox_covariates") as info:
        replace(PARAMS, cox_covariates=("sokal_group", "bmi"))
    message = str(info.value)
    assert "'bmi'" in message
    assert all(name in message for name in VALID_COVARIATES)


def test_cox_without_events_is_recorded_not_raised(small):
    result = fit_cox(small.assign(event=False), PARAMS)
    assert not result.converged
    assert "no events" in result.message
    assert result.n_events == 0
    assert result.table["coef"].isna().all()
    assert result.table["covariate"].tolist() == ["sokal_intermediate", "sokal_high",
                                                  "tki_years", "male"]  # fmt: skip
    assert list(result.ph_test.columns) == ["covariate", "statistic", "df", "p", "log10_p"]
    assert result.ph_test.empty


def test_cox_separation_is_recorded_not_raised():
    # Every relapser is male and no censored patient is: the male HR is infinite.
    n = 20
    events = np.arange(n) % 2 == 0
    data = make_patients(
        3.0 * np.arange(1, n + 1), events, ["low"] * 10 + ["high"] * 10, male=events
    )
    result = fit_cox(data, replace(PARAMS, cox_covariates=("male", "tki_years")))
    assert not result.converged
    assert result.message
    assert result.table[["coef", "se", "hr", "lower", "upper", "p"]].isna().all().all()


def test_cox_collinearity_failure_is_recorded_not_raised(small):
    data = small.assign(age_years=2.0 * small["tki_years"] + 1.0)
    result = fit_cox(data, replace(PARAMS, cox_covariates=("age_years", "tki_years")))
    assert not result.converged
    assert "failed" in result.message
    assert result.table["coef"].isna().all()


def test_cox_ph_test_reported_or_skipped():
    data = tied_cohort(80, seed=11)
    with_test = fit_cox(data, PARAMS)
    # R survival >= 3.0's cox.zph: one test per term (Sokal group on its 2
    # indicators, 2 df) and a global test on all columns.
    assert with_test.ph_test.set_index("covariate")["df"].to_dict() == {
        "sokal_group": 2.0, "tki_years": 1.0, "male": 1.0, "GLOBAL": 4.0,
    }  # fmt: skip
    assert ((with_test.ph_test["p"] >= 0) & (with_test.ph_test["p"] <= 1)).all()
    assert (with_test.ph_test["statistic"] >= 0).all()
    without = fit_cox(data, replace(PARAMS, ph_test=False))
    assert without.ph_test.empty
    assert list(without.ph_test.columns) == ["covariate", "statistic", "df", "p", "log10_p"]


# --- bundle -------------------------------------------------------------------------


def test_analyse_summary_dict_is_plain_json(small):
    result = analyse(small, PARAMS)
    assert isinstance(result, AnalysisResult)
    summary = result.summary_dict()
    json.dumps(summary, allow_nan=False)  # raises on NaN or numpy scalars
    assert set(summary) == {
        "milestones", "km_ci_transform", "cox", "cox_converged", "cox_message", "cox_fit",
        "logrank", "ph_test", "ph_test_transform", "estimands",
    }  # fmt: skip
    month6 = next(m for m in summary["milestones"] if m["group"] == "all" and m["month"] == 6.0)
    assert month6["survival"] == pytest.approx(0.8 * 5 / 7)
    assert type(month6["survival"]) is float
    beyond = next(m for m in summary["milestones"] if m["month"] == 20.0)
    assert beyond["survival"] is None
    intermediate = next(c for c in summary["cox"] if c["covariate"] == "sokal_intermediate")
    assert intermediate["hr"] is None
    assert set(summary["logrank"]) == {"statistic", "p", "df"}
    assert summary["logrank"]["df"] == 1
    assert summary["logrank"]["statistic"] == pytest.approx(result.logrank.statistic)
    assert summary["cox_converged"] is result.cox.converged


def test_analyse_to_frame_is_long_and_tidy(small):
    """The one tidy schema (catches an analysis whose rows miss a column or mislabel
    the group/month of a milestone)."""
    long = analyse(small, PARAMS).to_frame()
    assert list(long.columns) == list(ESTIMAND_COLUMNS)
    assert {"km", "cox", "logrank"} <= set(long["analysis"])
    pick = long[(long["estimand"] == "mrfs") & (long["group"] == "low") & (long["month"] == 12.0)]
    assert pick["value"].tolist() == pytest.approx([0.4])


@pytest.mark.parametrize(
    "recode",
    [
        lambda c: c.astype(str),  # plain strings: compared as labels
        lambda c: c.cat.reorder_categories(["high", "low", "intermediate"]),  # other order
        lambda c: c.cat.add_categories(["unused"]).cat.remove_unused_categories(),
    ],
)
def test_analyses_on_sokal_codes_equal_analyses_on_labels(recode):
    """Every analysis reads the Sokal groups from the categorical's codes; a table whose
    groups are plain strings, or a categorical with its categories in another order,
    gives identical tables.

    Catches: a code mapped to the wrong group (e.g. assuming the categories are in
    risk order), the reference group taken by position instead of by name.
    """
    data = tied_cohort(3_000, seed=5)
    params = replace(PARAMS, methods=("km", "logrank", "cox", "rmst", "median"))
    expected = analyse(data, params).tables()
    other = analyse(data.assign(sokal_group=recode(data["sokal_group"])), params).tables()
    assert list(other) == list(expected)
    for stem, table in expected.items():
        pd.testing.assert_frame_equal(other[stem], table, check_exact=True)


def test_sokal_check_names_unknown_groups_of_a_categorical(small):
    """A categorical with a label outside the Sokal groups is refused, naming it.

    Catches: the codes path skipping the label check.
    """
    bad = small.assign(
        sokal_group=pd.Categorical(["low"] * (len(small) - 1) + ["medium"], ordered=False)
    )
    with pytest.raises(ValueError, match="medium"):
        fit_km(bad, PARAMS)


def test_km_and_logrank_from_counts_equal_lifelines_per_patient():
    """KM curves, computed from each group's distinct (duration, event) rows weighted
    by their counts, equal lifelines fitted on one row per patient exactly (same event
    tables, same arithmetic); the numpy log-rank statistic equals lifelines' to
    rounding (1e-12: its sums run in another order).

    Catches: a count or an event flag attached to the wrong distinct duration, a
    product-limit step or a log-rank term on the wrong time or group.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    data = tied_cohort(5_000, seed=8)
    # Rows starting with a "high" patient: first appearance differs from risk order.
    data = pd.concat([data[data.sokal_group == "high"].head(1), data], ignore_index=True)
    km = fit_km(data, PARAMS)
    d, e = data["duration_months"].to_numpy(), data["event"].to_numpy()
    for group in ("all", *SOKAL_GROUPS):
        mask = np.ones(len(d), bool) if group == "all" else (data.sokal_group == group).to_numpy()
        ref = KaplanMeierFitter().fit(d[mask], e[mask])
        curve = km.curves[km.curves.group == group]
        ours = curve.set_index("month")["survival"]
        theirs = ref.survival_function_.iloc[:, 0]
        assert np.array_equal(ours.loc[theirs.index].to_numpy(), theirs.to_numpy())
    labels = data["sokal_group"].astype(str).to_numpy(dtype=object)
    expected = multivariate_logrank_test(d, labels, e)
    assert logrank_by_group(data).statistic == pytest.approx(expected.test_statistic, rel=1e-12)


def test_analyses_in_threads_equal_analyses_in_turn():
    """Running the analyses side by side in threads gives the same tables, in the order
    of ``analysis.methods``, as running them one after the other.

    Catches: outputs keyed or ordered by completion instead of by method, an analysis
    that depends on state another one leaves behind, a Cox fit whose concordance and
    PH test (side by side from ``CONCURRENT_MIN_ROWS`` rows) differ from the serial ones
    or lose a note.
    """
    from tfrsim.analysis.cox import CONCURRENT_MIN_ROWS

    data = tied_cohort(CONCURRENT_MIN_ROWS, seed=9)
    params = replace(PARAMS, methods=("km", "logrank", "cox", "rmst", "median", "observation"))
    data = data.assign(n_positive=0, relapse_month=np.nan)  # read by "observation"
    serial = analyse(data, params)
    threaded = analyse(data, params, threads=3)
    assert list(threaded.outputs) == list(params.methods)
    for stem, table in serial.tables().items():
        pd.testing.assert_frame_equal(threaded.tables()[stem], table, check_exact=True)
    assert threaded.summary_dict() == serial.summary_dict()


def test_observation_summary_by_hand() -> None:
    """Catches a positive test counted wrongly (e.g. ``n_positive >= 0``, which counts
    every patient) or a share taken over the wrong patients: six hand-made patients,
    three relapsing (months 3, 6, 30), give every summary by hand."""
    from tfrsim.analysis.descriptive import summarise_observation

    patients = pd.DataFrame(
        {
            "n_positive": [0, 2, 1, 3, 0, 1],
            "event": [False, False, True, True, True, False],
            "duration_months": [36.0, 36.0, 3.0, 6.0, 30.0, 24.0],
        }
    )
    s = summarise_observation(patients)
    assert s.n_with_positive == 4  # patients 2, 3, 4 and 6
    assert s.fluctuation_fraction == pytest.approx(2 / 4)  # 2 and 6 never relapse
    assert s.nonrelapsers_with_positive == pytest.approx(2 / 3)  # of 1, 2 and 6
    assert s.relapses_after_month_27 == pytest.approx(1 / 3)  # month 30 of 3, 6, 30


@pytest.mark.parametrize("case", ["grid", "continuous", "nan_and_signed_zero", "empty"])
def test_unique_inverse_equals_numpy_unique(case: str) -> None:
    """Catches the fast inverse of the visit-grid analyses (KM counts, Efron's sort, the
    concordance) placing a value at the wrong distinct time (an off-by-one search side,
    NaN or -0.0 handled unlike ``np.unique``): the same arrays as numpy's own
    ``np.unique(return_inverse=True)``, which builds them another way (an argsort)."""
    from tfrsim.analysis.grid import unique_inverse

    rng = np.random.default_rng(7)
    values = {
        "grid": rng.integers(1, 43, 50_000).astype(float),
        "continuous": rng.exponential(10.0, 5_000),
        "nan_and_signed_zero": np.array([3.0, np.nan, -0.0, 0.0, np.nan, 1.5, 3.0]),
        "empty": np.array([], dtype=float),
    }[case]
    distinct, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(distinct, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
