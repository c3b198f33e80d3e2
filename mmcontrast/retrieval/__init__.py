"""Dense and sparse retrieval: exact top-k search, FAISS indexes (optional), IR metrics, BM25 runs, dense
hard-negative mining and the retrieval evaluator. Reading BEIR folders, the BM25 index, BM25 hard negatives and the
no-duplicates batch sampler are data-layer pieces (``data.beir_files``, ``data.bm25``, ``data.hard_negatives``,
``data.no_duplicates``). The evaluator is registered here as evaluator ``retrieval`` (retrieval builds on
``evaluation.base``, so ``evaluation`` cannot import it)."""

from ..evaluation import EVALUATORS
from .ann import AnnIndex, check_index_spec, faiss_available, recall_against_exact
from .bm25 import bm25_run
from .encoding import accepts_role, encode_texts
from .evaluator import RetrievalEvaluator, dense_run
from .metrics import average_precision, evaluate, mrr_at_k, ndcg_at_k, per_query, recall_at_k
from .mining import mine_dense_negatives
from .run import RetrievalResult, Run, run_from_indices
from .search import similarity_scores, top_k

EVALUATORS.register("retrieval")(RetrievalEvaluator)

__all__ = [
    "AnnIndex", "RetrievalEvaluator", "RetrievalResult", "Run", "accepts_role", "average_precision", "bm25_run",
    "check_index_spec", "dense_run", "encode_texts", "evaluate", "faiss_available", "mine_dense_negatives",
    "mrr_at_k", "ndcg_at_k", "per_query", "recall_against_exact", "recall_at_k", "run_from_indices",
    "similarity_scores", "top_k",
]
