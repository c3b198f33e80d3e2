"""Dense and sparse retrieval: BEIR data, exact top-k search, FAISS indexes (optional), IR metrics, BM25,
hard-negative mining, the no-duplicates batch sampler and the retrieval evaluator."""

from .ann import AnnIndex, check_index_spec, faiss_available, recall_against_exact
from .beir import BeirData, BeirStats, BeirWarning, load_beir
from .bm25 import BM25Index, bm25_run
from .encoding import accepts_role, encode_texts
from .evaluator import RetrievalEvaluator, dense_run
from .metrics import average_precision, evaluate, mrr_at_k, ndcg_at_k, per_query, recall_at_k
from .mining import mine_bm25_negatives, mine_dense_negatives, negative_rows
from .run import RetrievalResult, Run, run_from_indices
from .sampler import NoDuplicatesBatchSampler
from .search import similarity_scores, top_k, top_k_of_scores

__all__ = [
    "AnnIndex", "BM25Index", "BeirData", "BeirStats", "BeirWarning", "NoDuplicatesBatchSampler",
    "RetrievalEvaluator", "RetrievalResult", "Run", "accepts_role", "average_precision", "bm25_run",
    "check_index_spec", "dense_run", "encode_texts", "evaluate", "faiss_available", "load_beir",
    "mine_bm25_negatives", "mine_dense_negatives", "mrr_at_k", "ndcg_at_k", "negative_rows", "per_query",
    "recall_against_exact", "recall_at_k", "run_from_indices", "similarity_scores", "top_k", "top_k_of_scores",
]
