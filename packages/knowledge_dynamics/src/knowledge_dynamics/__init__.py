"""Inject fictional facts into LM pretraining and measure acquisition and forgetting."""

__version__ = "0.1.0"
