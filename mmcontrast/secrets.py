"""Keep access tokens out of what a run writes: a config, a tracker's run config, an export, a model card.

A leaf module (no mmcontrast imports), so every layer may use it. ``looks_like_token`` is deliberately narrow:
it must not flag a run name, a path, a model id or an environment variable's name, only strings that are
almost certainly secrets (a known token prefix, or a long unbroken run of letters and digits).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

# prefixes of common access tokens: Hugging Face (user, organisation), GitHub, GitLab, OpenAI-style, Slack
_PREFIXED = re.compile(
    r"^(?:hf_|api_org_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|sk-|xox[abprs]-)[A-Za-z0-9_\-]{16,}$"
)
# an unbroken run of 32+ letters and digits (hex API keys such as W&B's, base62 tokens): no separator, no path
_OPAQUE = re.compile(r"^[A-Za-z0-9]{32,}$")
# what an environment variable's name looks like (HF_TOKEN, MY_HUB_TOKEN)
ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def looks_like_token(value: str) -> bool:
    """Whether ``value`` looks like an access token rather than a name: a known token prefix (``hf_``, ``ghp_``,
    ``sk-``, ...) followed by 16+ token characters, or 32+ letters and digits with at least one of each and no
    separator (an UPPER_SNAKE environment variable name, a path or a hyphenated id never qualifies)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if _PREFIXED.match(text):
        return True
    if _OPAQUE.match(text):
        return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return False


def redact_secrets(tree: Any) -> Any:
    """A copy of a nested dict / list / tuple tree with every token-like string (keys and values) replaced by
    ``"<redacted>"``; other leaves are kept as they are (not copied)."""
    if isinstance(tree, str):
        return REDACTED if looks_like_token(tree) else tree
    if isinstance(tree, dict):
        return {redact_secrets(k) if isinstance(k, str) else k: redact_secrets(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [redact_secrets(v) for v in tree]
    if isinstance(tree, tuple):
        return tuple(redact_secrets(v) for v in tree)
    return tree
