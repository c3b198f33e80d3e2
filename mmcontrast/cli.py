"""Command line: ``mmcontrast train|evaluate|export --config configs/X.yaml [dotted.key=value ...]``.

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
    try:
        cfg = load_config(args.config, args.overrides)
    except (ConfigError, FileNotFoundError) as err:
        print(f"mmcontrast: error: {err}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    raise SystemExit(main())
