"""Evaluation: the compared methods, per-question scores, and the eval run folder."""
