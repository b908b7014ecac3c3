"""MkDocs hooks of the tfrsim site (``hooks:`` in mkdocs.yml)."""

from pathlib import Path
from typing import Any


def on_config(config: Any) -> Any:
    """Show ``docs/model.md`` as "The model" when it exists (it is written separately);
    until then the nav shows ``docs/disease.md``, which points to the code's docs."""
    if (Path(config["docs_dir"]) / "model.md").is_file():
        config["nav"] = [
            {k: ("model.md" if v == "disease.md" else v) for k, v in item.items()}
            if isinstance(item, dict)
            else item
            for item in config["nav"]
        ]
    return config
