"""Train a model: ``accelerate launch scripts/train.py --config configs/X.yaml [dotted.key=value ...]``."""

from mmcontrast.cli import main

if __name__ == "__main__":
    raise SystemExit(main(command="train"))
