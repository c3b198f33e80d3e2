"""B15 / B15b: a contrastive objective whose queries have no negative at all (one row per global batch, no hard,
queued or memory-bank negatives) gives a loss of exactly 0 and trains nothing: it is a ConfigError naming the fix.
Objectives without negatives (BYOL, SimSiam, ...) and batches with other negatives are left alone."""

from __future__ import annotations

import pytest
import torch

from mmcontrast.batch import EmbeddingBatch
from mmcontrast.errors import ConfigError
from mmcontrast.negatives import Negatives
from mmcontrast.negatives.queue import QueueNegatives
from mmcontrast.objectives import OBJECTIVES

D = 8


def rows(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed))


class TwoProcessGather(Negatives):
    """Stands in for ``gather`` across two processes of one row each: this process is rank 0."""

    def gather(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return torch.cat([x, torch.randn_like(x)]), 0


@pytest.mark.parametrize("name", ["nt_xent", "info_nce", "nce", "n_pair", "supcon", "triplet", "circle",
                                  "lifted_structured", "multi_similarity", "soft_nearest_neighbour"])
def test_one_row_with_in_batch_negatives_is_a_config_error(name):
    objective = OBJECTIVES.get(name)()
    batch = EmbeddingBatch(query=rows(1), positive=rows(1, 1), labels=torch.zeros(1, dtype=torch.long))
    with pytest.raises(ConfigError, match=rf"^objective '{name}': each query has no negative \(in-batch negatives "
                                          r"with 1 row per batch across all processes\): raise train\.batch_size "
                                          r"above 1 or add hard negatives$"):
        objective(batch)


def test_the_exact_message_for_nt_xent():
    with pytest.raises(ConfigError) as err:
        OBJECTIVES.get("nt_xent")()(EmbeddingBatch(query=rows(1), positive=rows(1, 1)))
    assert str(err.value) == ("objective 'nt_xent': each query has no negative (in-batch negatives with 1 row per "
                              "batch across all processes): raise train.batch_size above 1 or add hard negatives")


@pytest.mark.parametrize("name", ["nt_xent", "info_nce", "supcon", "triplet"])
def test_two_rows_or_two_processes_of_one_row_have_negatives(name):
    labels = torch.tensor([0, 1])
    assert torch.isfinite(OBJECTIVES.get(name)()(EmbeddingBatch(query=rows(2), positive=rows(2, 1), labels=labels)))
    one = EmbeddingBatch(query=rows(1), positive=rows(1, 1), labels=torch.zeros(1, dtype=torch.long))
    if name in ("supcon", "triplet"):
        return  # their labels would need gathering too: the shape rule is the same as for the others
    assert torch.isfinite(OBJECTIVES.get(name)(negatives=TwoProcessGather())(one))  # no ConfigError


def test_one_row_with_hard_or_queued_negatives_is_fine():
    batch = EmbeddingBatch(query=rows(1), positive=rows(1, 1), negatives=rows(1, 2)[:, None, :])
    assert OBJECTIVES.get("info_nce")()(batch) > 0
    assert OBJECTIVES.get("info_nce")(symmetric=True)(batch) > 0  # the reverse direction has none: not checked
    assert OBJECTIVES.get("nce")()(batch) != 0
    queued = OBJECTIVES.get("info_nce")(negatives=QueueNegatives(size=4, embedding_dim=D))
    assert queued(EmbeddingBatch(query=rows(1), positive=rows(1, 1))) > 0


@pytest.mark.parametrize("name", ["byol", "simsiam", "barlow_twins", "vicreg"])
def test_objectives_without_negatives_never_raise_it(name):
    try:
        OBJECTIVES.get(name)()(EmbeddingBatch(query=rows(1), positive=rows(1, 1)))
    except ConfigError as err:  # pragma: no cover - the failure this test guards against
        pytest.fail(f"{name} raised {err}")
    except (ValueError, RuntimeError):
        pass  # their own statistics may need more than one row; not this check's business


def test_a_short_last_batch_of_one_row_after_full_batches_is_let_through():
    """``data.drop_last: false`` can end an epoch with one row: the batch size is fine, that batch adds nothing."""
    objective = OBJECTIVES.get("nt_xent")()
    objective(EmbeddingBatch(query=rows(4), positive=rows(4, 1)))
    assert objective(EmbeddingBatch(query=rows(1), positive=rows(1, 1))) == 0
