"""Training loop, evaluation, checkpoints and log writing."""
