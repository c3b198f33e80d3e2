"""Datasets: row dicts from local files, shipped data and the Hub. One registry: ``DATASETS``."""

from .beir import beir_corpus, beir_pairs
from .build import DATASETS, build_dataset
from .collate import collate_rows
from .documents import documents
from .errors import DataError
from .hub import hf
from .image_text import image_captions, labelled_captions
from .images import ImageDataset, fashion_mnist, idx_images, mnist, sklearn_digits
from .text import RowsDataset, text_lines, tsv
from .skipgram import skipgram_pairs_dataset

DATASETS.register("text_lines")(text_lines)
DATASETS.register("tsv")(tsv)
DATASETS.register("idx_images")(idx_images)
DATASETS.register("sklearn_digits")(sklearn_digits)
DATASETS.register("fashion_mnist")(fashion_mnist)
DATASETS.register("mnist")(mnist)
DATASETS.register("hf")(hf)
DATASETS.register("documents")(documents)
DATASETS.register("image_captions")(image_captions)
DATASETS.register("labelled_captions")(labelled_captions)
DATASETS.register("beir_corpus")(beir_corpus)
DATASETS.register("beir_pairs")(beir_pairs)
DATASETS.register("skipgram_pairs")(skipgram_pairs_dataset)


__all__ = ["DATASETS", "DataError", "build_dataset", "collate_rows", "ImageDataset", "RowsDataset"]
