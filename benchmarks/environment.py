"""The software a benchmark ran on, written into its JSON result so that numbers from different installs can be told
apart (the package pins torch only; transformers, datasets and accelerate float)."""

from __future__ import annotations

import importlib.metadata
import platform

STACK = ("torch", "transformers", "sentence-transformers", "accelerate", "datasets", "tokenizers", "numpy")


def package_versions(packages: tuple[str, ...] = STACK) -> dict[str, str]:
    """``{"python": "3.x.y", package: version or "not installed", ...}`` for ``packages``."""
    out = {"python": platform.python_version()}
    for dist in packages:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
