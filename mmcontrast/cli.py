"""Command line: ``mmcontrast train|evaluate|export|index --config configs/X.yaml [dotted.key=value ...]``,
``mmcontrast search --index DIR``, ``mmcontrast components [AXIS]``.

``scripts/train.py`` calls the same entry point, so ``accelerate launch scripts/train.py ...`` and the installed
console script behave alike.
"""

from __future__ import annotations

import argparse
import errno
import math
import sys
from pathlib import Path

from .cli_retrieval import index_command, print_json, search_command
from .config import AXES, load_config
from .errors import MmcontrastError, NonFiniteError
from .evaluation.base import run_evaluators
from .export import export_final
from .training import train
from .training.build import build_evaluators
from .training.restore import restore_model
from .training.run_lock import RunLock
from .training.strict_json import dumps


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
            sub.add_argument("--untrained", action="store_true",
                             help="use the model the config starts from, without any checkpoint")
        if name != "evaluate":
            sub.add_argument("--overwrite", action="store_true", help=(
                "delete the run already in output_dir (checkpoints, export, metrics) and start over" if name == "train"
                else "replace an existing <output_dir>/final"))
        sub.add_argument("--allow-config-change", action="store_true",
                         help="use a checkpoint whose config differs in keys that define the weights")
        _add_debug(sub)
    text = "embed a BEIR corpus with a config's model and save a FAISS index (needs mmcontrast[ann])"
    sub = commands.add_parser("index", help=text, description=text)
    sub.add_argument("--config", required=True, help="YAML config file of the model")
    sub.add_argument("overrides", nargs="*", help="dotted.key=value overrides")
    sub.add_argument("--checkpoint", default=None, help="checkpoint folder (default: latest in output_dir)")
    sub.add_argument("--untrained", action="store_true",
                     help="embed with the model the config starts from (e.g. a pretrained model), without a checkpoint")
    _add_debug(sub)
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
    _add_debug(sub)
    text = "list the registered components of every axis (or of one): the names a config's 'name' keys pick from"
    sub = commands.add_parser("components", help=text, description=text)
    sub.add_argument("axis", nargs="?", choices=list(AXES), help="one axis (default: every axis)")
    _add_debug(sub)
    return parser


def components_table(axis: str | None = None) -> str:
    """One line per axis of the config's axis table: ``negatives: in_batch, memory_bank, none, queue``."""
    return "\n".join(f"{name}: {', '.join(AXES[name].names())}" for name in ([axis] if axis else AXES))


def _add_debug(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def before_after_table(before: dict[str, float], after: dict[str, float]) -> str:
    """A before/after table of evaluation metrics."""
    width = max(len(k) for k in after) + 2
    lines = [f"{'metric':<{width}}{'before':>10}{'after':>10}{'change':>10}"]
    for key, value in after.items():
        old = before.get(key)
        change = value - old if _is_number(old) and _is_number(value) else None
        lines.append(f"{key:<{width}}{_cell(old) if key in before else '':>10}{_cell(value):>10}"
                     f"{'' if change is None else format(change, '+.4f'):>10}")
    return "\n".join(lines)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _cell(value: object) -> str:
    """A metric as a table cell: 4 decimals, ``nan`` for a missing or non-finite value (strict JSON stores null)."""
    return f"{value:.4f}" if _is_number(value) else "nan"


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    """Run a command; a user-actionable error is printed as one line (exit 2; a run stopped by a non-finite loss
    exits 3), with the traceback only under ``--debug``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is not None:
        argv = [command, *argv]
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"mmcontrast {args.command}: interrupted (checkpoints already written are kept)", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - user errors become one line; anything else keeps its traceback
        message = user_error(err)
        if message is None or args.debug:
            raise
        print(f"mmcontrast {args.command}: error: {message}", file=sys.stderr)
        return 3 if isinstance(err, NonFiniteError) else 2


def user_error(err: BaseException) -> str | None:
    """The one-line message for an error the user can act on; None for a bug (which keeps its traceback)."""
    if isinstance(err, MmcontrastError):
        text = str(err)
        if "Original Traceback" in text:  # re-raised by a DataLoader worker: the original error is the last line
            last = text.strip().splitlines()[-1]
            text = last.split(": ", 1)[1] if last.startswith(("mmcontrast.", "DataError", "ConfigError")) else last
        return text
    if isinstance(err, OSError) and err.strerror:
        where = f" ({err.filename})" if err.filename else ""
        hint = ": free some space" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        return f"{err.strerror}{where}{hint}"
    if isinstance(err, FileNotFoundError):
        return str(err)
    text = str(err)
    if isinstance(err, RuntimeError) and ("timed out" in text.lower() or "timeout" in text.lower()):
        return ("a process waited longer than train.collective_timeout for the others (one of them failed or "
                "froze; see its message above): " + text.splitlines()[0][:200])
    return None


def _run(args: argparse.Namespace) -> int:
    if args.command == "search":
        return _search(args)
    if args.command == "components":
        print(components_table(args.axis))
        return 0
    cfg = load_config(args.config, args.overrides)
    if args.command == "index":
        try:
            print_json(index_command(cfg, args.corpus, args.out, args.kind, args.param, args.similarity,
                                     args.checkpoint, args.batch_size, args.untrained))
        except (ValueError, FileNotFoundError, ImportError) as err:
            if isinstance(err, MmcontrastError):
                raise
            print(f"mmcontrast index: error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "train":
        result = train(cfg, overwrite=args.overwrite, allow_config_change=args.allow_config_change)
        if result.final_metrics:
            print(before_after_table(result.initial_metrics, result.final_metrics))
        if result.export_path is not None:
            print(f"exported to {result.export_path}")
        return 0
    with RunLock(Path(cfg.output_dir), command=args.command):
        restored = restore_model(cfg, args.checkpoint, args.untrained, args.allow_config_change)
        source = f"checkpoint {restored.checkpoint}" if restored.checkpoint else "the untrained model (--untrained)"
        print(f"mmcontrast {args.command}: using {source}", file=sys.stderr)
        if args.command == "evaluate":
            print(dumps(run_evaluators(build_evaluators(cfg), restored.model), indent=2))
            return 0
        path = export_final(restored.model, cfg, {}, Path(cfg.output_dir) / "final", trained_steps=restored.step,
                            replace=args.overwrite)
    print(f"exported to {path}")
    return 0


def _search(args: argparse.Namespace) -> int:
    if bool(args.queries) == bool(args.beir):
        print("mmcontrast search: error: give query texts or --beir DIR (one of the two)", file=sys.stderr)
        return 2
    try:
        print_json(search_command(args.index, args.queries, args.beir, args.split, args.k, args.compare_exact,
                                  args.config, args.override, args.checkpoint, args.batch_size))
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"mmcontrast search: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
