"""Colours and labels shared by the plots."""

from tfrsim.cohort.params import SOKAL_GROUPS

#: Line colour of each KM group ("all" first, then Sokal groups by risk).
GROUP_COLOURS: dict[str, str] = {
    "all": "black",
    SOKAL_GROUPS[0]: "tab:green",
    SOKAL_GROUPS[1]: "tab:orange",
    SOKAL_GROUPS[2]: "tab:red",
}
#: Colour of published reference points.
PUBLISHED_COLOUR: str = "tab:blue"


def group_label(group: str) -> str:
    """Legend / table label of a KM group."""
    return "All patients" if group == "all" else f"Sokal {group}"


def group_colour(group: str) -> str:
    """Colour of a KM group (grey for an unknown label)."""
    return GROUP_COLOURS.get(group, "tab:gray")


def covariate_label(term: str) -> str:
    """Readable name of a Cox model term."""
    labels = {
        "tki_years": "Imatinib duration (per year)",
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
