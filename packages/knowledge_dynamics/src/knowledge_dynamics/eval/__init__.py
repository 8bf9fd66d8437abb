"""Evaluation: batched probe scoring, the paper's metrics, per-run analysis and plots."""
