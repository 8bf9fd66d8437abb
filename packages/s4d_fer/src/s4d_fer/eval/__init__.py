"""Evaluation: test-set metrics (view-averaged probabilities) and single-input prediction."""
