"""Where the packaged configuration lives, and the base config's name (a leaf: importing
it loads nothing else, so ``tfrsim --help`` and ``--version`` stay fast)."""

from pathlib import Path

#: The configuration shipped with the package (``conf/`` at the repository root).
CONFIG_DIR: Path = Path(__file__).resolve().parent.parent / "conf"
#: Name of the base config of every stage's defaults (first in ``conf/config.yaml``'s
#: defaults list; stored by :func:`tfrsim.config.store.register_configs`).
BASE_CONFIG: str = "tfrsim_defaults"
