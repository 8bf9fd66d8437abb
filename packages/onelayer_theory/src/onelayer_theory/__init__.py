"""A testbed for how one-layer transformers store facts (MLP) and extract them (attention), and when extraction fails."""

__version__ = "0.1.0"
