"""Evaluation: scoring trajectories and evaluating a model over a question file."""
