"""Published calibration facts shipped in the package (tfrsim.reference)."""

import inspect
import math
from importlib import resources

import numpy as np
import pytest
import yaml

import tfrsim.reference
from tfrsim.reference import (
    MRFS_COLUMNS,
    PLOT_COLUMNS,
    TRIALS,
    load_reference,
    loader,
    published_for_plot,
    published_mrfs,
    timing_facts,
    trial_facts,
)

# (trial, month, survival %, ci95 % or None, n or None, se_basis): the calibration
# targets of the project's calibration issue.
TARGETS = [
    ("stim1", 6, 43, (33, 52), None, "ci95"),
    ("stim1", 12, 41, None, 69, "binomial"),  # CI unconfirmed
    ("stim1", 60, 38, (29, 47), None, "ci95"),
    ("stim1", 120, 37, (28, 48), None, "ci95"),
    ("stim1", 156, 35, (26, 46), None, "ci95"),
    ("stim2", 12, 60, None, 124, "binomial"),  # midpoint of the 59 / 61 review values
    ("stim2", 24, 46, None, 124, "binomial"),
    ("twister", 24, 47.1, None, 40, "binomial"),
]
# (trial, month, survival %, ci95 % or None, n or None): recorded, but not fitted.
NON_TARGETS = [
    ("stim1", 9, 46, (32, 59), 60),
    ("stim1", 12, 45, None, 69),
    ("stim1", 24, 38, None, None),
    ("stim1", 55, 39, None, None),
    ("stim1", 77, 39, None, None),
    ("stim2", 12, 59, None, 124),
    ("stim2", 12, 61, None, 124),
    ("twister", 24, 42.7, None, None),
    ("twister", 42, 45, None, None),
]


def _row(trial: str, month: float, survival_pct: float, *, target: bool):
    frame = published_mrfs(trial)
    hit = frame[
        (frame["month"] == month)
        & np.isclose(frame["survival"], survival_pct / 100)
        & (frame["target"] == target)
    ]
    assert len(hit) == 1, f"{trial} {month} mo {survival_pct} % target={target}: {len(hit)} rows"
    return hit.iloc[0]


def _packaged_text() -> str:
    return resources.files("tfrsim.reference").joinpath("published.yaml").read_text("utf-8")


# --- packaging -------------------------------------------------------------------


def test_yaml_is_package_data_and_self_contained(tmp_path, monkeypatch):
    text = _packaged_text()
    # Loading must not depend on the working directory (no repo-relative path).
    loader._cached.cache_clear()
    monkeypatch.chdir(tmp_path)
    assert load_reference() == yaml.safe_load(text)
    assert set(load_reference()) == {"schema_version", "trials", "covariate_effects", "sources"}
    # The file sits inside the installed package, next to the loader.
    assert resources.files("tfrsim.reference").joinpath("published.yaml").is_file()
    assert "resources.files" in inspect.getsource(loader)
    # Neither the data nor the loader point at the external reference directory.
    for content in (text, inspect.getsource(loader)):
        assert "../shared" not in content
        assert "/shared/" not in content


# --- published values ------------------------------------------------------------


@pytest.mark.parametrize(("trial", "month", "pct", "ci", "n", "basis"), TARGETS)
def test_targets_have_published_values(trial, month, pct, ci, n, basis):
    row = _row(trial, month, pct, target=True)
    assert row["se_basis"] == basis
    if ci is None:
        assert math.isnan(row["lower"])
        assert math.isnan(row["upper"])
    else:
        assert row["lower"] == pytest.approx(ci[0] / 100)
        assert row["upper"] == pytest.approx(ci[1] / 100)
    assert math.isnan(row["n"]) if n is None else row["n"] == n
    assert row["se"] > 0


def test_targets_are_exactly_the_listed_ones():
    listed = sorted((t, m, p) for t, m, p, *_ in TARGETS)
    found = sorted(
        (t, int(r["month"]), round(100 * r["survival"], 1))
        for t in TRIALS
        for _, r in published_mrfs(t, targets_only=True).iterrows()
    )
    assert found == listed


@pytest.mark.parametrize(("trial", "month", "pct", "ci", "n"), NON_TARGETS)
def test_non_targets_are_recorded_with_reason(trial, month, pct, ci, n):
    row = _row(trial, month, pct, target=False)
    assert row["note"].strip()
    if ci is not None:
        assert (row["lower"], row["upper"]) == pytest.approx((ci[0] / 100, ci[1] / 100))
    assert math.isnan(row["n"]) if n is None else row["n"] == n


def test_non_target_notes_say_why():
    for trial in TRIALS:
        frame = published_mrfs(trial)
        for note in frame.loc[~frame["target"], "note"]:
            assert note.startswith("Not a target"), note


def test_mrfs_frame_shape_and_order():
    for trial in TRIALS:
        frame = published_mrfs(trial)
        assert tuple(frame.columns) == MRFS_COLUMNS
        assert (frame["trial"] == trial).all()
        assert frame["month"].is_monotonic_increasing
        # Within a month, the target comes first.
        for _, group in frame.groupby("month"):
            flags = group["target"].tolist()
            assert flags == sorted(flags, reverse=True)
        assert frame["survival"].between(0, 1).all()


# --- standard errors ---------------------------------------------------------------


def test_se_from_ci95():
    # STIM1 6 mo, 43 % (33-52): (0.52 - 0.33) / (2 * 1.959964) = 0.19 / 3.919928 = 0.048470...
    row = _row("stim1", 6, 43, target=True)
    assert row["se"] == pytest.approx(0.0484703, abs=1e-6)


def test_se_binomial():
    # STIM2 24 mo, 46 % at n = 124: sqrt(0.46 * 0.54 / 124) = sqrt(0.0020032...) = 0.044757...
    row = _row("stim2", 24, 46, target=True)
    assert row["se"] == pytest.approx(0.0447573, abs=1e-6)
    # STIM1 12 mo, 41 % at n = 69 (recalled CI not used): sqrt(0.41 * 0.59 / 69) = 0.059209...
    row = _row("stim1", 12, 41, target=True)
    assert row["se"] == pytest.approx(0.0592097, abs=1e-6)


# --- citations -----------------------------------------------------------------------


def test_every_point_is_cited():
    sources = load_reference()["sources"]
    for trial in TRIALS:
        for _, row in published_mrfs(trial).iterrows():
            keys = row["source"].split("; ")
            assert keys
            assert all(k in sources for k in keys), row["source"]
            assert row["citation"].strip()
            for k in keys:
                assert sources[k] in row["citation"]


def test_every_source_key_in_the_file_is_defined():
    data = load_reference()
    pairs = loader._walk_sources(data, "")
    assert len(pairs) > 50  # the walk does find the facts' sources
    assert {k for _, k in pairs} <= set(data["sources"])


def test_covariate_effects_cite_sources():
    data = load_reference()
    spain = data["covariate_effects"]["spain2018_univariate_shr"]
    assert spain["source"] == "spain2018"
    tki = next(e for e in spain["effects"] if e["factor"].startswith("TKI duration"))
    assert (tki["shr"], tki["ci95"], tki["p"]) == (2.59, [1.33, 5.01], 0.005)
    for effect in spain["effects"]:
        lo, hi = effect["ci95"]
        assert lo < effect["shr"] < hi
    assert all(e["source"] in data["sources"] for e in data["covariate_effects"]["euro_ski"])


# --- trial and timing facts ------------------------------------------------------------


def test_trial_facts():
    expected = {
        "stim1": ("stim", 100, "MR5", 62, 50, 36),
        "stim2": ("stim", 124, "MR4.5", None, None, None),
        "twister": ("twister", 40, "MR4.5", 61, 70, 36),
    }
    for trial, (rule, n, level, age, imatinib, dmr) in expected.items():
        facts = trial_facts(trial)
        assert facts["trial"] == trial
        assert facts["citation"]
        assert "mrfs" not in facts
        assert facts["relapse_rule"]["rule"] == rule
        assert facts["relapse_rule"]["text"]
        assert facts["n_patients"]["value"] == n
        assert facts["eligibility"]["min_tki_years"]["value"] == 3
        assert facts["eligibility"]["min_deep_response_years"]["value"] == 2
        assert facts["eligibility"]["depth"]["level"] == level
        assert isinstance(facts["monitoring"]["confirmed"], bool)
        base = facts["baseline"]
        assert base["median_age_years"]["value"] == age
        assert base["median_imatinib_duration_months"]["value"] == imatinib
        assert base["median_dmr_duration_months"]["value"] == dmr
    # Only the STIM2 schedule was read in a protocol (nct01343173).
    assert trial_facts("stim2")["monitoring"]["confirmed"] is True
    assert trial_facts("stim1")["monitoring"]["confirmed"] is False


def test_timing_facts():
    stim1 = timing_facts("stim1")
    median = stim1["median_relapse_month"]
    assert (median["value"], median["range"], median["target"]) == (2.5, [1, 22], True)
    assert median["source"] == "etienne2017_abs"
    assert "J Clin Oncol 2017" in median["citation"]
    counts = stim1["interim_monthly_relapse_counts"]
    assert counts["value"] == {2: 3, 3: 8, 4: 4, 5: 3, 8: 1}
    assert counts["target"] is False

    twister = timing_facts("twister")
    last = twister["last_relapse_month"]
    assert (last["value"], last["target"]) == (27, True)
    assert last["acceptance"] == {"max_share_of_relapses_after": 0.12}
    assert twister["most_relapses_within_months"]["value"] == 4
    assert twister["n_relapsed"]["value"] == 22
    assert twister["n_relapsed"]["confirmed"] is False
    assert twister["median_fu_months"]["value"] == 42
    # One approximate fact: low-level positivity of non-relapsers (DESIGN §4).
    assert list(timing_facts("stim2")) == ["nonrelapsers_with_positive_share"]


# --- API contracts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "func", [published_mrfs, published_for_plot, timing_facts, trial_facts, loader.mrfs_points]
)
def test_unknown_trial_raises(func):
    with pytest.raises(ValueError, match=r"trial .*stim1, stim2, twister.*'STIM3'"):
        func("STIM3")


def test_cache_cannot_be_mutated():
    data = load_reference()
    data["trials"]["stim1"]["mrfs"][0]["survival"] = 99
    data["sources"].clear()
    trial_facts("stim1")["n_patients"]["value"] = 0
    timing_facts("twister")["last_relapse_month"]["value"] = 99
    frame = published_mrfs("stim1")
    frame.loc[0, "survival"] = 0.99

    fresh = load_reference()
    assert fresh["trials"]["stim1"]["mrfs"][0]["survival"] == 43
    assert fresh["sources"]
    assert trial_facts("stim1")["n_patients"]["value"] == 100
    assert timing_facts("twister")["last_relapse_month"]["value"] == 27
    assert published_mrfs("stim1").loc[0, "survival"] == pytest.approx(0.43)


def test_points_are_frozen_records():
    point = loader.mrfs_points("stim1")[0]
    with pytest.raises(AttributeError):
        point.survival = 0.99  # type: ignore[misc]


def test_published_for_plot():
    for trial in TRIALS:
        plot = published_for_plot(trial)
        targets = published_mrfs(trial, targets_only=True)
        assert tuple(plot.columns) == PLOT_COLUMNS
        assert len(plot) == len(targets) == targets["target"].sum()
        assert plot["month"].tolist() == targets["month"].tolist()
        values = plot[["survival", "lower", "upper"]].to_numpy()
        assert np.isfinite(values).all()
        assert ((values >= 0) & (values <= 1)).all()
        assert (plot["lower"] <= plot["survival"]).all()
        assert (plot["survival"] <= plot["upper"]).all()
        assert plot["label"].nunique() == 1
        assert plot["label"].iloc[0].startswith(trial_facts(trial)["name"])
    # A target without CI shows its binomial interval: TWISTER 47.1 % at n = 40,
    # se = sqrt(0.471 * 0.529 / 40) = 0.078924, half-width 1.959964 * se = 0.154688.
    twister = published_for_plot("twister").iloc[0]
    assert (twister["lower"], twister["upper"]) == pytest.approx((0.316312, 0.625688), abs=1e-6)
    # A target with a published CI keeps it: STIM1 6 mo 43 % (33-52).
    stim1 = published_for_plot("stim1").iloc[0]
    assert (stim1["lower"], stim1["upper"]) == pytest.approx((0.33, 0.52))


def test_public_api_is_documented():
    for name in tfrsim.reference.__all__:
        obj = getattr(tfrsim.reference, name)
        if callable(obj):
            assert inspect.getdoc(obj), name
