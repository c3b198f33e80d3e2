"""Evaluators built from config values (file paths, dataset components) for the ``EVALUATORS`` registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data import build_dataset


def sts(path: str, prefix: str = "sts", batch_size: int = 128) -> Any:
    """Spearman correlation of cosine similarity with gold scores on an STS Benchmark file."""
    from .sts import STSEvaluator, load_sts_csv

    s1, s2, scores = load_sts_csv(path)
    return STSEvaluator(s1, s2, scores, name=prefix, batch_size=batch_size)


def sts_hf(
    path: str = "sentence-transformers/stsb", split: str = "validation", prefix: str = "sts",
    sentence1: str = "sentence1", sentence2: str = "sentence2", score: str = "score", batch_size: int = 128,
) -> Any:
    """STS Spearman on a Hub dataset with sentence-pair and score columns (default: STS-B validation)."""
    from .sts import STSEvaluator

    dataset = build_dataset({"name": "hf", "path": path, "split": split})
    missing = [c for c in (sentence1, sentence2, score) if c not in dataset.column_names]
    if missing:
        raise KeyError(f"sts_hf '{path}': column(s) {missing} not found; columns: {', '.join(dataset.column_names)}")
    return STSEvaluator(list(dataset[sentence1]), list(dataset[sentence2]), [float(x) for x in dataset[score]],
                        name=prefix, batch_size=batch_size)


def labelled_images(component: dict[str, Any], what: str, image_column: str = "image",
                    label_column: str = "label") -> tuple[torch.Tensor, torch.Tensor]:
    """Build a dataset component and return its images (N, C, H, W) uint8 and labels (N,) int64.

    ``ImageDataset`` components (``fashion_mnist``, ``idx_images``, ...) hand over their tensors; other row
    datasets (``hf``) are read in slices of 1,000 rows. Errors name ``what`` (e.g. ``knn evaluator 'train'``),
    the columns that exist, and the row whose label or image size does not fit.
    """
    from ..data import DataError

    dataset = build_dataset(component)
    source = f"{what} data ({component.get('name')})"
    columns = list(getattr(dataset, "column_names", None) or (dataset[0].keys() if len(dataset) else []))
    missing = [c for c in (image_column, label_column) if c not in columns]
    if missing:
        raise DataError(f"{source}: column(s) {missing} not found; columns: {', '.join(map(str, columns))} "
                        f"(set image_column / label_column)")
    if hasattr(dataset, "images") and getattr(dataset, "labels", None) is not None:
        return dataset.images, dataset.labels
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for start in range(0, len(dataset), 1000):
        if hasattr(dataset, "features"):  # a datasets.Dataset: column slices (batched image decoding)
            batch = dataset[start : start + 1000]
        else:  # any other row dataset
            rows = [dataset[i] for i in range(start, min(start + 1000, len(dataset)))]
            batch = {c: [row[c] for row in rows] for c in (image_column, label_column)}
        for offset, (image, label) in enumerate(zip(batch[image_column], batch[label_column])):
            row = start + offset
            if not isinstance(image, torch.Tensor) or image.dim() != 3:
                raise DataError(f"{source}: row {row}, column '{image_column}' is not an image tensor (C, H, W) "
                                f"({type(image).__name__}); is it an image column?")
            if images and image.shape != images[0].shape:
                raise DataError(f"{source}: row {row}, column '{image_column}' has shape {tuple(image.shape)}, "
                                f"row 0 has {tuple(images[0].shape)}; evaluation needs images of one size "
                                f"(resize the files, or use image_mode: RGB / L for mixed channels)")
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
                raise DataError(f"{source}: row {row}, column '{label_column}' must be a class index >= 0, "
                                f"got {label!r}")
            images.append(image)
            labels.append(int(label))
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)


def _images_and_labels(component: dict[str, Any], key: str, image_column: str,
                       label_column: str) -> tuple[torch.Tensor, torch.Tensor]:
    return labelled_images(component, f"knn evaluator '{key}'", image_column, label_column)


def knn(
    train: dict[str, Any],
    test: dict[str, Any],
    k: int = 200,
    temperature: float = 0.1,
    prefix: str = "knn",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """Weighted kNN accuracy on frozen features: ``train`` is the labelled memory, ``test`` the queries
    (both dataset components, e.g. ``{name: sklearn_digits, split: test}``)."""
    from .knn import KNNEvaluator

    train_images, train_labels = _images_and_labels(train, "train", image_column, label_column)
    test_images, test_labels = _images_and_labels(test, "test", image_column, label_column)
    return KNNEvaluator(train_images, train_labels, test_images, test_labels, k=k, temperature=temperature,
                        name=prefix, batch_size=batch_size)


def alignment_uniformity_sts(
    path: str, min_score: float = 4.0, prefix: str = "align_uniform", batch_size: int = 128
) -> Any:
    """Wang & Isola (2020) on text: alignment over STS pairs scored >= ``min_score`` (as in the SimCSE paper),
    uniformity over all sentences of the file."""
    from .alignment import AlignmentUniformityEvaluator
    from .sts import load_sts_csv

    s1, s2, scores = load_sts_csv(path)
    pairs = [(a, b) for a, b, s in zip(s1, s2, scores) if s >= min_score]
    if not pairs:
        raise ValueError(f"{path}: no pair has a score >= {min_score}")
    return AlignmentUniformityEvaluator(
        [a for a, _ in pairs], [b for _, b in pairs], uniform_inputs=sorted(set(s1) | set(s2)),
        name=prefix, batch_size=batch_size,
    )


def alignment_uniformity_views(
    data: dict[str, Any], augment: dict[str, Any] | None = None, limit: int = 2000, seed: int = 0,
    image_column: str = "image", prefix: str = "align_uniform", batch_size: int = 256,
) -> Any:
    """Wang & Isola (2020) on images: alignment between two augmented views of the same image (fixed seed),
    uniformity over the clean images."""
    from .alignment import AlignmentUniformityEvaluator
    from ..views.image import augment_config
    from ..views.augment import ImageAugmentation

    dataset = build_dataset(data)
    images = dataset.images if hasattr(dataset, "images") else torch.stack(
        [dataset[i][image_column] for i in range(min(limit, len(dataset)))]
    )
    images = images[:limit]
    augmentation = ImageAugmentation(augment_config(augment, "evaluators.augment"))
    generator = torch.Generator().manual_seed(seed)
    view1, view2 = augmentation(images, generator), augmentation(images, generator)
    return AlignmentUniformityEvaluator(view1, view2, uniform_inputs=images, name=prefix, batch_size=batch_size)


def linear_probe(
    train: dict[str, Any],
    test: dict[str, Any],
    epochs: int = 100,
    lr: float | None = None,
    weight_decay: float = 1e-3,
    optimizer: str = "lbfgs",
    probe_batch_size: int = 1024,
    seed: int = 0,
    prefix: str = "linear",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """Linear-probe accuracy on frozen features (``fit_linear_probe``): a softmax classifier trained on the
    ``train`` split's standardised features, measured on ``test`` (dataset components). ``batch_size`` is the
    encoding batch; ``probe_batch_size`` the Adam mini-batch (``optimizer: adam``); ``epochs`` caps the
    full-batch L-BFGS evaluations (default) or counts Adam epochs."""
    from .linear_probe import LinearProbeEvaluator, check_probe_args

    check_probe_args(epochs, lr, weight_decay, probe_batch_size, optimizer, f"linear_probe evaluator '{prefix}'")
    train_images, train_labels = labelled_images(train, "linear_probe evaluator 'train'", image_column, label_column)
    test_images, test_labels = labelled_images(test, "linear_probe evaluator 'test'", image_column, label_column)
    return LinearProbeEvaluator(train_images, train_labels, test_images, test_labels, epochs=epochs, lr=lr,
                                weight_decay=weight_decay, probe_batch_size=probe_batch_size, optimizer=optimizer,
                                seed=seed, name=prefix, batch_size=batch_size)


def frozen_features(
    train: dict[str, Any],
    test: dict[str, Any],
    k: int = 200,
    temperature: float = 0.1,
    epochs: int = 100,
    lr: float | None = None,
    weight_decay: float = 1e-3,
    optimizer: str = "lbfgs",
    probe_batch_size: int = 1024,
    seed: int = 0,
    grid_path: str | None = None,
    grid_queries: int = 8,
    grid_k: int = 8,
    prefix: str = "probe",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """Weighted kNN (primary, ``{prefix}/knn_accuracy``) and linear probe (``{prefix}/linear_accuracy``) from
    one encoding of each split; with ``grid_path`` also the neighbour grid PNG and ``{prefix}/precision_at_k``."""
    from .frozen import FrozenFeaturesEvaluator
    from .linear_probe import check_probe_args

    check_probe_args(epochs, lr, weight_decay, probe_batch_size, optimizer, f"frozen_features evaluator '{prefix}'")
    train_images, train_labels = labelled_images(train, "frozen_features evaluator 'train'", image_column,
                                                 label_column)
    test_images, test_labels = labelled_images(test, "frozen_features evaluator 'test'", image_column, label_column)
    return FrozenFeaturesEvaluator(train_images, train_labels, test_images, test_labels, k=k,
                                   temperature=temperature, epochs=epochs, lr=lr, weight_decay=weight_decay,
                                   probe_batch_size=probe_batch_size, optimizer=optimizer, seed=seed,
                                   grid_path=grid_path, grid_queries=grid_queries, grid_k=grid_k, name=prefix,
                                   batch_size=batch_size)


def layer_probe(
    train: dict[str, Any],
    test: dict[str, Any],
    stages: list[str] | None = None,
    pooling: str = "cls",
    k: int = 200,
    temperature: float = 0.1,
    epochs: int = 100,
    lr: float | None = None,
    weight_decay: float = 1e-3,
    optimizer: str = "lbfgs",
    probe_batch_size: int = 1024,
    seed: int = 0,
    filters_path: str | None = None,
    max_filters: int = 64,
    prefix: str = "layer_probe",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """kNN and linear-probe accuracy of every named stage of the vision backbone (``stages``: ResNet ``stem``,
    ``stage1``..; ViT ``embeddings``, ``block1``..; null: all), ``{prefix}/<stage>/knn_accuracy`` and
    ``.../linear_accuracy``; token stages pooled by ``cls`` or ``mean``. ``filters_path``: a PNG grid of the first
    convolution's filters (at most ``max_filters``)."""
    from .layer_probe import LayerProbeEvaluator
    from .linear_probe import check_probe_args

    check_probe_args(epochs, lr, weight_decay, probe_batch_size, optimizer, f"layer_probe evaluator '{prefix}'")
    train_images, train_labels = labelled_images(train, "layer_probe evaluator 'train'", image_column, label_column)
    test_images, test_labels = labelled_images(test, "layer_probe evaluator 'test'", image_column, label_column)
    return LayerProbeEvaluator(train_images, train_labels, test_images, test_labels, stages=stages, pooling=pooling,
                               k=k, temperature=temperature, epochs=epochs, lr=lr, weight_decay=weight_decay,
                               probe_batch_size=probe_batch_size, optimizer=optimizer, seed=seed,
                               filters_path=filters_path, max_filters=max_filters, name=prefix,
                               batch_size=batch_size)


def neighbour_grid(
    train: dict[str, Any],
    test: dict[str, Any],
    path: str,
    num_queries: int = 8,
    k: int = 8,
    seed: int = 0,
    cell_size: int = 64,
    prefix: str = "neighbours",
    image_column: str = "image",
    label_column: str = "label",
    batch_size: int = 256,
) -> Any:
    """A PNG grid (``path``) of ``num_queries`` seeded test images and their ``k`` cosine-nearest training images
    (green frame: same label, red: other), and ``{prefix}/precision_at_k``."""
    from .neighbours import NeighbourGridEvaluator

    train_images, train_labels = labelled_images(train, "neighbour_grid evaluator 'train'", image_column,
                                                 label_column)
    test_images, test_labels = labelled_images(test, "neighbour_grid evaluator 'test'", image_column, label_column)
    return NeighbourGridEvaluator(train_images, train_labels, test_images, test_labels, path=path,
                                  num_queries=num_queries, k=k, seed=seed, name=prefix, batch_size=batch_size,
                                  cell_size=cell_size)


def _document_sentences(data: dict[str, Any], sentences_column: str, what: str) -> list[list[str]]:
    """Sentence lists of a dataset component's rows (``documents``: e.g. ``{name: documents, path: ...,
    split: heldout}``)."""
    from ..data.documents import sentence_lists

    return sentence_lists(build_dataset(data), sentences_column, f"{what} data ({data.get('name')})")


def next_sentence(
    data: dict[str, Any], group_size: int = 64, all_pairs: bool = True, max_pairs: int | None = None, seed: int = 0,
    sentences_column: str = "sentences", prefix: str = "next_sentence", batch_size: int = 128,
) -> Any:
    """Next-sentence Recall@1 (primary) and MRR among ``group_size`` in-batch candidates on the (sentence, next
    sentence) pairs of ``data``'s documents (a dataset component, e.g. the held-out split of ``documents``):
    the pairs starting at even positions, and with ``all_pairs`` also those starting at odd positions, grouped
    apart (each sentence is encoded once). ``max_pairs`` keeps a seeded random subset."""
    from .next_sentence import NextSentenceEvaluator, next_sentence_pairs

    documents = _document_sentences(data, sentences_column, f"next_sentence '{prefix}'")
    anchors: list[str] = []
    nexts: list[str] = []
    sets: list[int] = []
    for start in (0, 1) if all_pairs else (0,):
        a, n = next_sentence_pairs(documents, start)
        anchors, nexts, sets = anchors + a, nexts + n, sets + [start] * len(a)
    if max_pairs is not None and len(anchors) > max_pairs:
        keep = sorted(torch.randperm(len(anchors), generator=torch.Generator().manual_seed(seed))[:max_pairs].tolist())
        anchors, nexts, sets = [anchors[i] for i in keep], [nexts[i] for i in keep], [sets[i] for i in keep]
    return NextSentenceEvaluator(anchors, nexts, group_size=group_size, seed=seed, name=prefix,
                                 batch_size=batch_size, pair_sets=sets)


def order_recovery(
    data: dict[str, Any], passage_sentences: int = 3, num_permutations: int = 3, delete_probability: float = 0.2,
    stride: int | None = None, max_passages: int | None = None, max_chars: int | None = None, seed: int = 0,
    separator: str = " ", sentences_column: str = "sentences", prefix: str = "order_recovery",
    batch_size: int = 128,
) -> Any:
    """Order-recovery accuracy (primary) on the ``passage_sentences``-sentence passages of ``data``'s documents
    (one every ``stride`` sentences, default non-overlapping): a word-deleted anchor against the original order
    and ``num_permutations`` shuffles. ``max_chars`` keeps passages of at most that many characters (so that
    they fit the encoder's ``max_length``: a truncated shuffle differs in content, not only in order);
    ``max_passages`` then keeps a seeded random subset."""
    from .order_recovery import OrderRecoveryEvaluator, passages_of

    passages = passages_of(_document_sentences(data, sentences_column, f"order_recovery '{prefix}'"),
                           passage_sentences, stride)
    if max_chars is not None:
        passages = [p for p in passages if len(separator.join(p)) <= max_chars]
        if not passages:
            raise ValueError(f"order_recovery '{prefix}': no passage of {passage_sentences} sentences within "
                             f"max_chars={max_chars}")
    if max_passages is not None and len(passages) > max_passages:
        keep = torch.randperm(len(passages), generator=torch.Generator().manual_seed(seed))[:max_passages]
        passages = [passages[i] for i in sorted(keep.tolist())]
    return OrderRecoveryEvaluator(passages, num_permutations=num_permutations,
                                  delete_probability=delete_probability, seed=seed, separator=separator,
                                  name=prefix, batch_size=batch_size)


def retrieval(
    path: str,
    split: str = "test",
    k_values: list[int] | tuple[int, ...] = (1, 10, 100),
    query_prefix: str = "",
    passage_prefix: str = "",
    include_title: bool = True,
    skip_empty: bool = False,
    similarity: str = "cos",
    chunk_size: int = 50_000,
    prefix: str = "retrieval",
    batch_size: int = 128,
    index: dict[str, Any] | None = None,
    compare_exact: bool = False,
) -> Any:
    """Dense retrieval on a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``): exact top-k
    search by ``similarity`` (``cos`` or ``dot``); ``{prefix}/ndcg@10`` (primary), ``mrr@k``, ``recall@k`` for
    ``k_values`` and 10, and ``map``. Queries are encoded with ``role="query"``, passages (title + text unless
    ``include_title: false``) with ``role="passage"`` when the model's ``encode`` takes a role. ``skip_empty``
    leaves passages and queries with an empty text out (reported with counts) instead of failing.
    ``index: {kind: flat | ivf | hnsw, ...}`` searches a FAISS index instead (needs ``mmcontrast[ann]``);
    ``compare_exact: true`` adds ``{prefix}/ann_recall@10`` against the exact search."""
    from ..data.beir_files import load_beir
    from ..retrieval import RetrievalEvaluator

    return RetrievalEvaluator(load_beir(path, split, skip_empty=skip_empty), k_values=list(k_values), similarity=similarity,  # type: ignore[arg-type]
                              query_prefix=query_prefix, passage_prefix=passage_prefix, include_title=include_title,
                              chunk_size=chunk_size, name=prefix, batch_size=batch_size, index=index,
                              compare_exact=compare_exact)


def _check_retrieval_params(params: dict[str, Any], key: str) -> None:
    """Config-time check of the ``index`` spec (a ValueError naming ``<key>.index.<x>``)."""
    from ..retrieval.ann import check_index_spec

    if params.get("index") is not None:
        check_index_spec(params["index"], f"{key}.index")
    if params.get("compare_exact") and params.get("index") is None:
        raise ValueError(f"'{key}.compare_exact' needs '{key}.index' (without an index the search is exact)")


retrieval.check_params = _check_retrieval_params  # type: ignore[attr-defined]


def inverse_cloze(
    data: dict[str, Any], window: int = 2, group_size: int = 64, max_pairs: int | None = None, seed: int = 0,
    separator: str = " ", sentences_column: str = "sentences", prefix: str = "inverse_cloze", batch_size: int = 128,
) -> Any:
    """Inverse-cloze Recall@1 (primary) and MRR: each held-out sentence (the middle of a block of
    ``2 * window + 1``) retrieves the passage around it among ``group_size`` in-batch passages."""
    from .next_sentence import NextSentenceEvaluator, inverse_cloze_pairs

    queries, passages = inverse_cloze_pairs(
        _document_sentences(data, sentences_column, f"inverse_cloze '{prefix}'"), window, separator)
    if max_pairs is not None and len(queries) > max_pairs:
        keep = sorted(torch.randperm(len(queries), generator=torch.Generator().manual_seed(seed))[:max_pairs].tolist())
        queries, passages = [queries[i] for i in keep], [passages[i] for i in keep]
    return NextSentenceEvaluator(queries, passages, group_size=group_size, seed=seed, name=prefix,
                                 batch_size=batch_size)
