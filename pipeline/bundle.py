"""Where winnow's bundled configs, models, block lists, tokenizers and sample data live.

In a clone they are the repository's `data/` and `configs/`; an installed wheel carries the same two
folders as `pipeline/_bundle/` (see pyproject.toml), so the bundled configs, whose paths are relative
to the config file, run the same from any folder.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def root() -> Path:
    """The folder that holds `data/` and `configs/`: the wheel's bundle, else the source tree."""
    wheel = _PACKAGE / "_bundle"
    return wheel if (wheel / "configs").is_dir() else _PACKAGE.parent


def data_dir() -> Path:
    return root() / "data"


def configs_dir() -> Path:
    return root() / "configs"


def config_names() -> list[str]:
    """Names of the bundled configs (file stems), for help and error messages."""
    return sorted(p.stem for p in configs_dir().glob("*.yaml"))


def find_config(name: str) -> Path | None:
    """A bundled config by name (`sample`, `sample.yaml` or `configs/sample.yaml`), or None."""
    stem = Path(name).name
    candidate = configs_dir() / (stem if stem.endswith((".yaml", ".yml")) else f"{stem}.yaml")
    return candidate if candidate.is_file() else None
