"""A JSON-lines Accelerate tracker that needs no service: ``<output_dir>/metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from accelerate.tracking import GeneralTracker, on_main_process

from .strict_json import dumps


class JSONLTracker(GeneralTracker):
    """Appends ``{"step": s, **metrics}`` per ``accelerator.log`` call."""

    name = "jsonl"
    requires_logging_directory = True

    def __init__(self, run_name: str, logging_dir: str | Path) -> None:
        # no @on_main_process here: it would initialise Accelerate's process state before the Accelerator
        super().__init__()
        self.run_name = run_name
        self.path = Path(logging_dir) / "metrics.jsonl"

    @property
    def tracker(self) -> Any:
        return self.path

    @on_main_process
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        (self.path.parent / "run_config.json").write_text(dumps(values, indent=2, default=str))

    @on_main_process
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(dumps({"step": step, **values}) + "\n")


def read_metrics(output_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of ``<output_dir>/metrics.jsonl``."""
    path = Path(output_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
