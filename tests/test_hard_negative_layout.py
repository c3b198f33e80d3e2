"""DPR / supervised-SimCSE candidate layout under cross-process gathering (2 CPU processes, gloo): anchor i's
positive is the column its label names, its own hard negatives are in the pool, and no hard-negative column is
ever another anchor's positive; the pool is the same on every process and equals 1 process over the
concatenated batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_ok, script_command

SCRIPT = Path(__file__).with_name("hard_negative_layout_script.py")
BATCH, K = 3, 2


def run(tmp_path: Path, processes: int) -> list[dict]:
    out = tmp_path / f"layout{processes}"
    rows = BATCH * 2 if processes == 1 else BATCH  # the one process holds the concatenated batch
    run_ok(script_command(SCRIPT, str(out), str(rows), str(K), processes=processes), timeout=300)
    return [json.loads(Path(f"{out}.{r}.json").read_text()) for r in range(processes)]


@pytest.mark.slow
def test_hard_negative_columns_under_two_process_gathering(tmp_path):
    results = run(tmp_path, 2)
    assert [r["world"] for r in results] == [2, 2]
    single = run(tmp_path, 1)[0]
    for result in results:
        r = result["rank"]
        columns = [tuple(c) for c in result["columns"]]
        # the same pool on every process, and the pool of one process over the concatenated batch
        assert columns == [tuple(c) for c in single["columns"]]
        assert len(columns) == 2 * BATCH * (1 + K)
        label_columns = {col for res in results for col in res["positive_index"]}  # every anchor's label
        for i, column in enumerate(result["positive_index"]):
            g = r * BATCH + i  # global anchor
            assert columns[column] == ("pos", g), (r, i, column, columns[column])
            own_negatives = {("neg", g, j) for j in range(K)}
            assert own_negatives <= set(columns)  # its own hard negatives are candidates ...
            # ... and no anchor of any process takes a hard-negative column for its positive
            assert all(columns[col][0] == "pos" for col in label_columns)
            assert sum(1 for c in columns if c == ("pos", g)) == 1
        # each process's labels are offset by the rows of the lower rank
        assert result["positive_index"] == [r * BATCH + i for i in range(BATCH)]
        # the gathered rows carry gradient back to their owner: d(sum of the pool on every process)/d(own row)
        # is 1 per element from each of the 2 processes
        dim = len(columns)
        assert result["positive_grad"] == pytest.approx(2 * BATCH * dim)
        assert result["hard_grad"] == pytest.approx(2 * BATCH * K * dim)
