"""S4D: dual-modal MAE pre-training and Mixture-of-Adapter-Experts fine-tuning for facial-expression recognition."""

__version__ = "0.1.0"
