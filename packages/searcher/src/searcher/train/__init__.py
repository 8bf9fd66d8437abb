"""Training: cold-start SFT, GRPO through TRL, and the `searcher train` pipeline."""
