"""Training: from-scratch pretraining with stage checkpoints, the injection protocol and runner,
the probe-evaluation schedule, and the README experiment set."""
