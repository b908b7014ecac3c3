"""Extensions from outside the package, found through an entry-point group.

A distribution that adds a disease model, a relapse rule or an analysis declares a
module in the ``tfrsim.plugins`` entry-point group; importing that module registers
its pieces (``register_model``, ``register_rule``, ``register_analysis``). tfrsim
loads the group once, before it composes or validates a configuration::

    # pyproject.toml of the extension
    [project.entry-points."tfrsim.plugins"]
    toy = "toy_tfrsim"
"""

import importlib
import logging
from importlib.metadata import entry_points

log = logging.getLogger(__name__)

#: The entry-point group scanned by :func:`load_plugins`.
GROUP: str = "tfrsim.plugins"
_loaded: set[str] = set()


def load_plugins() -> list[str]:
    """Import every module of the ``tfrsim.plugins`` group (once each).

    Returns
    -------
    list of str
        Names of the entry points loaded by this call.
    """
    # The built-in registrations come first, so a plugin may extend or replace them.
    importlib.import_module("tfrsim.disease")
    importlib.import_module("tfrsim.monitoring")
    importlib.import_module("tfrsim.analysis")
    loaded = []
    for ep in entry_points(group=GROUP):
        if ep.name in _loaded:
            continue
        ep.load()
        _loaded.add(ep.name)
        loaded.append(ep.name)
        log.debug("loaded tfrsim plugin %s (%s)", ep.name, ep.value)
    return loaded
