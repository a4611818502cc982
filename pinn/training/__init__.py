"""How models are trained: the trainer and its phases, optimizers, checkpoints, loggers, threads."""
