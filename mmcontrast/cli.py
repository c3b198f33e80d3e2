"""Command line: ``mmcontrast train|evaluate|export|index --config configs/X.yaml [dotted.key=value ...]``,
``mmcontrast search --index DIR``.

``scripts/train.py`` calls the same entry point, so ``accelerate launch scripts/train.py ...`` and the installed
console script behave alike.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcontrast", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("train", "train a model from a config (then evaluate and export to <output_dir>/final)"),
        ("evaluate", "run a config's evaluators on its model (or on --checkpoint)"),
        ("export", "export <output_dir>'s latest checkpoint (or --checkpoint) to <output_dir>/final"),
    ]:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", required=True, help="YAML config file")
        sub.add_argument("overrides", nargs="*", help="dotted.key=value overrides, e.g. train.lr=1e-4")
        if name != "train":
            sub.add_argument("--checkpoint", default=None, help="checkpoint folder (default: latest in output_dir)")
    text = "embed a BEIR corpus with a config's model and save a FAISS index (needs mmcontrast[ann])"
    sub = commands.add_parser("index", help=text, description=text)
    sub.add_argument("--config", required=True, help="YAML config file of the model")
    sub.add_argument("overrides", nargs="*", help="dotted.key=value overrides")
    sub.add_argument("--checkpoint", default=None, help="checkpoint folder (default: latest in output_dir)")
    sub.add_argument("--corpus", required=True, help="BEIR folder holding corpus.jsonl")
    sub.add_argument("--out", required=True, help="folder to write the index into")
    sub.add_argument("--kind", default="hnsw", help="flat | ivf | hnsw (default hnsw)")
    sub.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="index parameter: ivf nlist, nprobe, seed; hnsw m, ef_construction, ef_search")
    sub.add_argument("--similarity", default="cos", help="cos | dot (default cos)")
    sub.add_argument("--batch-size", type=int, default=128)
    text = "search an index written by 'mmcontrast index' with query texts or a BEIR query set"
    sub = commands.add_parser("search", help=text, description=text)
    sub.add_argument("--index", required=True, help="index folder")
    sub.add_argument("queries", nargs="*", help="query texts")
    sub.add_argument("--beir", default=None, help="BEIR folder: score its queries of --split (nDCG, MRR, Recall)")
    sub.add_argument("--split", default="test")
    sub.add_argument("-k", type=int, default=10, help="hits per query (default 10)")
    sub.add_argument("--compare-exact", action="store_true",
                     help="with --beir: Recall@k against exact search and queries/s of both")
    sub.add_argument("--config", default=None, help="model config (default: the index folder's config.yaml)")
    sub.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="config override")
    sub.add_argument("--checkpoint", default=None, help="checkpoint (default: the one the index was built with)")
    sub.add_argument("--batch-size", type=int, default=128)
    return parser


def metrics_table(before: dict[str, float], after: dict[str, float]) -> str:
    """A before/after table of evaluation metrics."""
    width = max(len(k) for k in after) + 2
    lines = [f"{'metric':<{width}}{'before':>10}{'after':>10}{'change':>10}"]
    for key, value in after.items():
        if key in before:
            lines.append(f"{key:<{width}}{before[key]:>10.4f}{value:>10.4f}{value - before[key]:>+10.4f}")
        else:
            lines.append(f"{key:<{width}}{'':>10}{value:>10.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is not None:
        argv = [command, *argv]
    args = _parser().parse_args(argv)
    if args.command == "search":
        return _search(args)
    try:
        cfg = load_config(args.config, args.overrides)
    except (ConfigError, FileNotFoundError) as err:
        print(f"mmcontrast: error: {err}", file=sys.stderr)
        return 2
    if args.command == "index":
        from .retrieval.commands import index_command, print_json

        try:
            print_json(index_command(cfg, args.corpus, args.out, args.kind, args.param, args.similarity,
                                     args.checkpoint, args.batch_size))
        except (ValueError, FileNotFoundError, ImportError) as err:
            print(f"mmcontrast index: error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "train":
        from .training import train

        result = train(cfg)
        if result.final_metrics:
            print(metrics_table(result.initial_metrics, result.final_metrics))
        if result.export_path is not None:
            print(f"exported to {result.export_path}")
        return 0
    from .training.restore import model_from_checkpoint

    model = model_from_checkpoint(cfg, args.checkpoint)
    if args.command == "evaluate":
        from .evaluation.base import run_evaluators
        from .training.build import build_evaluators

        print(json.dumps(run_evaluators(build_evaluators(cfg), model), indent=2))
        return 0
    from .export import export_final

    path = export_final(model, cfg, {}, Path(cfg.output_dir) / "final")
    print(f"exported to {path}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from .retrieval.commands import print_json, search_command

    if bool(args.queries) == bool(args.beir):
        print("mmcontrast search: error: give query texts or --beir DIR (one of the two)", file=sys.stderr)
        return 2
    try:
        print_json(search_command(args.index, args.queries, args.beir, args.split, args.k, args.compare_exact,
                                  args.config, args.override, args.checkpoint, args.batch_size))
    except (ConfigError, ValueError, FileNotFoundError, ImportError) as err:
        print(f"mmcontrast search: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
