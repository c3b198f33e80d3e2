"""The bad inputs of ``../shared/reports/bad-inputs.md`` (B01-B42 and their variants, 47 in all), each run through
``mmcontrast train`` as a user would: every one must end with a non-zero exit and ONE line naming the key, file,
row or folder (no traceback without ``--debug``), or, for the one that is a documented policy (``bad_images:
skip``), succeed with a warning naming the files. Nothing a previous run left in ``output_dir`` may be lost.

Config errors run in a copy of a trained run's folder and must leave every file in it unchanged; errors that can
only show when the data or the model is read run in a fresh folder (a used folder would refuse the changed config
first) and must export nothing.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import MINILM, ROOT, TINY_BERT
from mmcontrast.cli import main

QUICKSTART = ROOT / "configs" / "quickstart.yaml"
QUICK = ["train.progress_bar=false", "train.max_steps=2", "train.batch_size=16", "evaluators=[]", "train.log_with=[]"]


@dataclass
class Case:
    """One bad input: ``make(files)`` returns (config path, overrides); the run must exit ``code`` and its one
    line must contain every string of ``expect``."""

    make: Callable[["Files"], tuple[Path, list[str]]]
    expect: list[str]
    fresh: bool = False  # run in a fresh folder (data / model errors) instead of a copy of a trained run
    code: int = 2
    patch: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    output_dir: Callable[["Files", Path], Path] | None = None


@dataclass
class Files:
    """Fixture files made once per module."""

    root: Path
    made: dict[str, Path] = field(default_factory=dict)

    def text(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def config(self, name: str, tree: dict | list | str) -> Path:
        return self.text(name, tree if isinstance(tree, str) else yaml.safe_dump(tree))


def quick(*overrides: str) -> Callable[[Files], tuple[Path, list[str]]]:
    return lambda files: (QUICKSTART, [*QUICK, *overrides])


TEXT_BASE = {
    "view": {"name": "simcse_unsup"},
    "encoder": {"name": "text", "config": TINY_BERT, "tokenizer": MINILM, "pooling": "cls_before_pooler",
                "max_length": 16},
    "objective": {"name": "info_nce", "temperature": 0.05},
    "train": {"batch_size": 8, "max_steps": 2, "progress_bar": False, "log_with": []},
}


def text_run(data: Callable[[Files], dict], **tree: object) -> Callable[[Files], tuple[Path, list[str]]]:
    def make(files: Files) -> tuple[Path, list[str]]:
        base = {**TEXT_BASE, "data": {"train": data(files)}, **tree}
        return files.config(f"text-{abs(hash(repr(tree)))}.yaml", base), []
    return make


def sentences(files: Files) -> dict:
    return {"name": "text_lines", "path": str(files.made["sentences"])}


def triplets(files: Files) -> dict:
    return {"name": "tsv", "path": str(files.made["triplets"])}


def image_run(folder: str, **extra: object) -> Callable[[Files], tuple[Path, list[str]]]:
    def make(files: Files) -> tuple[Path, list[str]]:
        data = {"name": "hf", "path": "imagefolder", "data_dir": str(files.made[folder]), "image_mode": "L", **extra}
        return QUICKSTART, [*QUICK, f"data.train={yaml.safe_dump(data, default_flow_style=True).strip()}",
                            "train.batch_size=8", "train.max_steps=8", "data.shuffle=false"]
    return make


def read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Writes under ``folder`` fail as on a read-only file system (root ignores chmod, so simulate it)."""
    for name in ("mkdir", "write_text", "touch"):
        original = getattr(Path, name)

        def refuse(self, *args, _original=original, **kwargs):
            if str(self).startswith(str(folder)) and self != folder:
                raise OSError(errno.EROFS, "Read-only file system", str(self))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Path, name, refuse)


def no_tensorboard(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "is_tensorboard_available", lambda: False)


CASES: dict[str, Case] = {
    "B01": Case(lambda f: (ROOT / "configs" / "nope.yaml", []), ["config file not found", "nope.yaml"]),
    "B02": Case(lambda f: (f.config("syntax.yaml", "train: {lr: 1\nseed: 3\n"), []), ["syntax.yaml", "line"]),
    "B03": Case(lambda f: (f.config("lrate.yaml", {"base": str(QUICKSTART), "train": {"lrate": 0.1}}), []),
                ["train.lrate", "did you mean 'lr'"]),
    "B04": Case(quick("train.lrr=0.1"), ["train.lrr", "did you mean 'lr'"]),
    "B05": Case(quick("train.lr=abc"), ["override train.lr=abc", "must be float"]),
    "B06": Case(quick("train.batch_size=-4"), ["train.batch_size must be >= 1"]),
    "B07": Case(text_run(lambda f: {"name": "text_lines", "path": str(f.root / "nope.txt")}), ["nope.txt", "not found"],
                fresh=True),
    "B08": Case(text_run(lambda f: {"name": "tsv", "path": str(f.made["malformed"])}, view={"name": "simcse_sup"}),
                ["malformed.tsv:202", "found 2"], fresh=True),
    "B09": Case(text_run(lambda f: {"name": "text_lines", "path": str(f.made["empty"])}), ["empty.txt", "empty"],
                fresh=True),
    "B10": Case(text_run(lambda f: {"name": "text_lines", "path": str(f.made["nonutf8"])}),
                ["nonutf8.txt:1500", "UTF-8"], fresh=True),
    "B11": Case(image_run("corrupt"), ["017.png", "cannot decode"], fresh=True),
    "B11b": Case(image_run("corrupt", bad_images="skip"), ["017.png", "notes.png"], fresh=True, code=0),
    "B12": Case(image_run("mixed", image_mode=None), ["image_size"], fresh=True),
    "B12b": Case(image_run("mixed", image_mode="RGB"), ["image_size"], fresh=True),
    "B13": Case(text_run(triplets, view={"name": "simcse_sup"}, encoder={"name": "text", "model": MINILM},
                         passage_encoder={"name": "text", "config": TINY_BERT, "tokenizer": MINILM}),
                ["passage_encoder", "same size", "384", "32"], fresh=True),
    "B14": Case(quick("objective.temperature=0"), ["objective", "temperature must be > 0"], fresh=True),
    "B14b": Case(quick("objective.temperature=1e-9"), ["objective", "max_logit_scale"], fresh=True),
    "B15": Case(quick("train.batch_size=1"), ["train.batch_size", "no negative"], fresh=True),
    "B15b": Case(text_run(sentences, train={**TEXT_BASE["train"], "batch_size": 1}),
                 ["train.batch_size", "no negative"], fresh=True),
    "B16": Case(quick("train.max_steps=0"), ["train.max_steps must be >= 1"]),
    "B17": Case(quick(), ["is a file"], output_dir=lambda f, d: f.made["afile"]),
    "B18": Case(quick(), ["cannot write to output_dir", "Read-only"], patch=read_only,
                output_dir=lambda f, d: f.made["readonly"]),
    "B18b": Case(quick(), ["cannot write to output_dir", "Read-only"], patch=read_only,
                 output_dir=lambda f, d: f.made["readonly"] / "sub"),
    "B19": Case(text_run(sentences, encoder={"name": "text", "model": "no-such-org/no-such-model"}),
                ["encoder.model", "no-such-org/no-such-model"], fresh=True),
    "B20": Case(quick("train.log_every=0"), ["train.log_every"]),
    "B21": Case(quick("train.keep_checkpoints=0", "train.checkpoint_every=2"), ["train.keep_checkpoints"]),
    "B22": Case(quick("train.max_steps=-5"), ["train.max_steps"]),
    "B23": Case(quick("train.gradient_accumulation_steps=0"), ["train.gradient_accumulation_steps"]),
    "B24": Case(quick("train.lr=-1"), ["train.lr"]),
    "B25": Case(quick("seed=abc"), ["'seed' must be int"]),
    "B26": Case(quick("objective.temperature=abc"), ["objective.temperature must be float"]),
    "B27": Case(quick("data.num_workers=-1"), ["data.num_workers"]),
    "B28": Case(quick("train.lr"), ["train.lr", "dotted.key=value"]),
    "B29": Case(quick("train.max_steps=null", "train.epochs=-1"), ["train.epochs"]),
    "B30": Case(quick("train.warmup_ratio=5"), ["train.warmup_ratio"]),
    "B31": Case(quick("view.augment.size=0"), ["view.augment.size"]),
    "B32": Case(quick("train.scheduler=cosinee"), ["train.scheduler", "did you mean 'cosine'"]),
    "B33": Case(lambda f: (f.config("dup.yaml", f"base: {QUICKSTART}\ntrain:\n  lr: 0.1\n  lr: 5.0\n"), QUICK),
                ["dup.yaml", "lr"]),
    "B34": Case(lambda f: (f.config("list.yaml", [1, 2]), []), ["list.yaml", "mapping"]),
    "B35": Case(lambda f: (f.made["cycle1"], []), ["cycle"]),
    "B36": Case(quick("train.max_steps=1.5"), ["train.max_steps", "1.5"]),
    "B37": Case(quick("objective.temperature=.inf"), ["objective.temperature", "inf"]),
    "B38": Case(quick("train.lr=.nan"), ["train.lr", "nan"]),
    "B39": Case(quick("train.log_with=[jsonl,tensorboard]"), ["tensorboard", "pip install"], patch=no_tensorboard),
    "B40": Case(quick("train.log_with=[nosuchtracker]"), ["nosuchtracker", "valid"]),
    "B41": Case(quick("head.train_only=false"), ["cannot be exported", "export.enabled=false"], fresh=True),
    "B42": Case(quick("evaluators=[{name: sts, path: nope/sts-dev.csv}]", "train.eval_at_start=false"),
                ["sts-dev.csv"], fresh=True),
}


def test_the_matrix_covers_every_reported_input():
    report = ROOT.parent / "shared" / "reports" / "bad-inputs.md"
    ids = [f"B{i:02d}" for i in range(1, 43)] + ["B11b", "B12b", "B14b", "B15b", "B18b"]
    assert sorted(CASES) == sorted(ids) and len(CASES) == 47
    if report.is_file():  # the report lives beside the project; the table above is self-contained without it
        for case_id in ids:
            assert f"| {case_id} |" in report.read_text()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    from PIL import Image

    root = tmp_path_factory.mktemp("bad-inputs")
    made = Files(root)
    made.made["sentences"] = made.text("sentences.txt", "".join(f"sentence number {i} about topic {i % 7}\n"
                                                                 for i in range(64)))
    rows = ["anchor\tpositive\tnegative"] + [f"a {i}\tp {i}\tn {i}" for i in range(400)]
    made.made["triplets"] = made.text("triplets.tsv", "\n".join(rows) + "\n")
    rows[201] = "a 200\tp 200"  # file line 202 of 401 has 2 fields
    made.made["malformed"] = made.text("malformed.tsv", "\n".join(rows) + "\n")
    made.made["empty"] = made.text("empty.txt", "")
    lines = b"".join(f"line {i}\n".encode() for i in range(1, 1500)) + b"bad \xe9 \xff\xfe here\n"
    made.made["nonutf8"] = made.text("nonutf8.txt", lines)
    made.made["afile"] = made.text("afile", "a file, not a folder")
    made.made["readonly"] = root / "readonly"
    made.made["readonly"].mkdir()
    made.config("cycle2.yaml", {"base": "cycle1.yaml"})
    made.made["cycle1"] = made.config("cycle1.yaml", {"base": "cycle2.yaml"})
    corrupt = root / "corrupt" / "digits"
    corrupt.mkdir(parents=True)
    for i in range(40):
        Image.new("L", (16, 16), color=i * 5).save(corrupt / f"{i:03d}.png")
    (corrupt / "017.png").write_bytes((corrupt / "018.png").read_bytes()[:40])  # truncated
    (corrupt / "notes.png").write_text("not an image")
    made.made["corrupt"] = root / "corrupt"
    mixed = root / "mixed" / "digits"
    mixed.mkdir(parents=True)
    for i in range(24):
        mode, size = [("L", (16, 16)), ("RGB", (24, 20)), ("RGBA", (32, 32))][i % 3]
        Image.new(mode, size).save(mixed / f"{i:03d}.png")
    made.made["mixed"] = root / "mixed"
    return made


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--config", str(QUICKSTART), f"output_dir={out}", *QUICK]) == 0
    assert (out / "final" / "model.safetensors").is_file()
    return out


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_loses_nothing(case_id, files, trained_run, tmp_path, capsys,
                                                          monkeypatch):
    case = CASES[case_id]
    config, overrides = case.make(files)
    out = tmp_path / "run"
    if case.output_dir is not None:
        out = case.output_dir(files, tmp_path)
    elif not case.fresh:
        shutil.copytree(trained_run, out)
    before = snapshot(out)
    if case.patch is not None:
        case.patch(monkeypatch, out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["train", "--config", str(config), f"output_dir={out}", *overrides])
    monkeypatch.undo()
    captured = capsys.readouterr()
    err = captured.err + "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    assert code == case.code, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    if case.code == 0:
        text = err
    else:
        lines = [line for line in captured.err.splitlines() if line.startswith("mmcontrast train: error:")]
        assert len(lines) == 1, captured.err[-3000:]
        text = lines[0]
    for expected in case.expect:
        assert expected in text, (expected, text)
    after = snapshot(out) if out.is_dir() else {}
    lost = {name for name, digest in before.items() if after.get(name) != digest}
    assert not lost, f"{case_id} changed or deleted {sorted(lost)}"
    if case.fresh and case.code != 0:
        assert not (out / "final").exists(), f"{case_id} exported a model"
