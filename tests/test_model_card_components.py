"""The model card comes from the components: every registered component describes itself (``card_summary``,
``citation`` where it implements a paper, Hub ``tags``) and a run's card lists the components it uses."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
import yaml

from mmcontrast.config import Config, load_config
from mmcontrast.encoders import ENCODERS, HEADS, TARGETS, TILE_HEADS
from mmcontrast.export import write_dual_encoder_card, write_model_card
from mmcontrast.export.card_components import CARD_AXES
from mmcontrast.miners import MINERS
from mmcontrast.negatives import NEGATIVES
from mmcontrast.objectives import OBJECTIVES
from mmcontrast.views import VIEWS

from conftest import ROOT

REGISTRIES = {"views": VIEWS, "encoders": ENCODERS, "heads": HEADS, "tile_heads": TILE_HEADS, "targets": TARGETS,
              "negatives": NEGATIVES, "objectives": OBJECTIVES, "miners": MINERS}
AXES = sorted({axis for _, axis in CARD_AXES})
# mmcontrast's own components (a test may have registered an example, e.g. examples/cosine_margin_objective.py)
COMPONENTS = [(axis, name) for axis in AXES for name in REGISTRIES[axis].names()
              if REGISTRIES[axis].get(name).__module__.startswith("mmcontrast.")]
CITES_A_PAPER = re.compile(r"\b(19|20)\d\d\)")  # "(Gao et al., 2021)", "(Sohn, 2016)"


def _entries(citation: str) -> list[str]:
    return [e.strip() for e in re.split(r"\n\s*(?=@)", citation.strip()) if e.strip()]


def test_the_card_covers_every_component_registry() -> None:
    assert set(AXES) == set(REGISTRIES)
    assert all(REGISTRIES[axis].names() for axis in AXES)
    assert {a for a, _ in COMPONENTS} == set(AXES)


@pytest.mark.parametrize(("axis", "name"), COMPONENTS, ids=[f"{a}:{n}" for a, n in COMPONENTS])
def test_every_component_carries_its_card_text(axis: str, name: str) -> None:
    cls = REGISTRIES[axis].get(name)
    own = vars(cls)
    assert "card_summary" in own, f"{axis} '{name}' ({cls.__name__}) has no card_summary of its own"
    summary = own["card_summary"]
    assert isinstance(summary, str) and summary.strip() and "\n" not in summary and not summary.endswith(".")
    assert len(summary) <= 320, "card_summary is one line: the method, its paper, what it does"
    tags = getattr(cls, "tags", ())
    assert isinstance(tags, tuple) and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", t) for t in tags), tags
    citation = getattr(cls, "citation", None)
    if not CITES_A_PAPER.search(summary):
        assert citation is None, f"{axis} '{name}': a citation without naming its paper in the card_summary"
        return
    # a component that implements a paper carries its BibTeX, of the year its summary names
    assert "citation" in own, f"{axis} '{name}' names a paper but has no citation of its own"
    entries = _entries(citation)
    assert entries
    for entry in entries:
        assert re.match(r"@(article|inproceedings|misc|book)\{[a-z0-9]+,\n", entry), entry[:60]
        assert entry.count("{") == entry.count("}") and entry.endswith("}")
        assert re.search(r"^\s+title = \{.+", entry, re.M) and re.search(r"^\s+author = \{.+", entry, re.M)
    years = {m.group(1) for e in entries for m in [re.search(r"year = \{(\d{4})\}", e)] if m}
    assert years & set(re.findall(r"\b((?:19|20)\d\d)\)", summary) + re.findall(r"\b((?:19|20)\d\d),", summary))


def _card(tmp_path: Path, key: str, component: dict, modality: str = "vision") -> str:
    cfg = Config(encoder={"name": "vision", "image_size": 16})
    setattr(cfg, key, component)
    return write_model_card(tmp_path / f"{key}-{component['name']}", cfg, {}, None, modality).read_text()


@pytest.mark.parametrize(("key", "axis"), [(k, a) for k, a in CARD_AXES if k not in ("passage_head", "predictor")])
def test_a_card_lists_the_components_of_its_run(tmp_path: Path, key: str, axis: str) -> None:
    for name in [n for a, n in COMPONENTS if a == axis]:
        cls = REGISTRIES[axis].get(name)
        card = _card(tmp_path, key, {"name": name})
        assert f"(`{name}`" in card and cls.card_summary in card, f"{axis} '{name}' missing from the card"
        for entry in _entries(getattr(cls, "citation", None) or ""):
            assert entry in card.split("## Citation", 1)[1]
        front = yaml.safe_load(card.split("---\n", 2)[1])
        assert set(getattr(cls, "tags", ())) <= set(front["tags"])


def test_card_of_a_config_names_every_component_and_cites_each_paper_once(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "configs" / "vision" / "offline" / "pirl.yaml")
    card = write_model_card(tmp_path / "card", cfg, {}, None, "vision").read_text()
    for line in ("**View** (`jigsaw`", "**Encoder** (`vision`)", "**Objective** (`info_nce`)",
                 "**Negatives** (`memory_bank`)", "**Tile head** (`concat`"):
        assert line in card
    assert "custom `" not in card
    assert card.count("@inproceedings{misra2020pirl,") == 1  # the view and the tile head cite the same paper
    assert "@inproceedings{wu2018unsupervised," in card and "@article{oord2018cpc," in card
    assert card.index("## Citation") < card.index("## Training configuration")


def test_image_text_card_comes_from_the_components_too(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "configs" / "image_text" / "offline" / "siglip.yaml")
    card = write_dual_encoder_card(tmp_path / "card", cfg, {"zero_shot/accuracy": 0.5}, None).read_text()
    front = yaml.safe_load(card.split("---\n", 2)[1])
    assert front["pipeline_tag"] == "zero-shot-image-classification" and "siglip" in front["tags"]
    assert "SigLIP loss (Zhai et al., 2023)" in card and "Image-caption pairs (CLIP" in card
    assert "@inproceedings{zhai2023siglip," in card and "@inproceedings{radford2021clip," in card
    assert "| zero_shot/accuracy | – | 0.5000 |" in card and "```yaml\n" in card


def test_an_extension_describes_itself_on_the_card(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        example = importlib.import_module("cosine_margin_objective")  # registers 'cosine_margin'
    finally:
        sys.path.remove(str(ROOT / "examples"))
    card = _card(tmp_path, "objective", {"name": "cosine_margin", "margin": 0.2})
    assert example.CosineMargin.card_summary in card and "@inproceedings{wang2018cosface," in card
    assert "- **Margin**: 0.2" in card and "cosine-margin" in yaml.safe_load(card.split("---\n", 2)[1])["tags"]
