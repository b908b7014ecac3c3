"""How tfrsim names things in folders, summaries and reports (a leaf module)."""


def model_label(choice: str | None, name: str) -> str:
    """The config chosen (``model=...``) and the registered model behind it.

    ``model=calibrated`` runs the installed model with fitted values, e.g.
    ``"calibrated (immune model)"``; ``model=clonal`` gives ``"clonal model"``. Run
    folder names use the config choice (``..._calibrated_seed...``), the first word.

    Parameters
    ----------
    choice : str or None
        Name of the ``conf/model`` config chosen (None: unknown).
    name : str
        Name of the registered disease model (``model.name``).

    Returns
    -------
    str

    Examples
    --------
    >>> model_label("calibrated", "clonal")
    'calibrated (clonal model)'
    >>> model_label(None, "mixture_cure")
    'mixture_cure model'
    """
    if not choice or choice == name:
        return f"{name} model"
    return f"{choice} ({name} model)"
