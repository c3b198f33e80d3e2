"""Evaluate a config's model: ``python scripts/evaluate.py --config configs/X.yaml [--checkpoint DIR]``."""

from mmcontrast.cli import main

if __name__ == "__main__":
    raise SystemExit(main(command="evaluate"))
