"""Export a trained run: ``python scripts/export.py --config configs/X.yaml [--checkpoint DIR]``."""

from mmcontrast.cli import main

if __name__ == "__main__":
    raise SystemExit(main(command="export"))
