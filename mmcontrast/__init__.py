"""mmcontrast: contrastive representation learning across text and vision on the Hugging Face stack.

The package import stays light: submodules (objectives, encoders, training, export) import what they need.
"""

__version__ = "0.1.0"
