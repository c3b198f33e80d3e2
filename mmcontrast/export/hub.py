"""Publishing an exported folder to the Hugging Face Hub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HUB_URL = "https://huggingface.co"


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    private: bool = True,
    token_env: str | None = "HF_TOKEN",
    api: Any = None,
    commit_message: str = "Upload mmcontrast export",
) -> str:
    """Create the model repository ``repo_id`` (if needed) and upload ``folder`` into it; returns the repo URL.

    Args:
        private: visibility of a newly created repository (an existing one keeps its visibility).
        token_env: name of the environment variable holding the token; None, or a variable that is not set,
            uses the cached login (``hf auth login``).
        api: an ``huggingface_hub.HfApi``-like object (injectable for tests); default ``HfApi(token=...)``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"push_to_hub: folder not found: {folder}")
    if not repo_id:
        raise ValueError("push_to_hub: repo_id is required (export.hub_repo_id)")
    token = (os.environ.get(token_env) or None) if token_env else None
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    url = api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        token=token,
        commit_message=commit_message,
    )
    return str(url) if isinstance(url, str) and url else f"{HUB_URL}/{repo_id}"
